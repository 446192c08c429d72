"""The deep-borehole school over a heating season, against case 1.32 (003 L3055-3081).

The case measured, over the first four months of 2022-23: the borehole outlet falling from
33.6 °C early in operation to 27.7 °C (inlet 20.4 → 15.9 °C), a unit COP of 5.21, a system
SCOP (unit + source and user pumps) of 4.66 and 182,232 kWh of electricity.

Calibrated from the case (the site file takes them from it, tools/make_sites.py shows the
arithmetic): the unit's rated COP (the measured 5.21), the buildings' demand (four months'
electricity at the measured SCOP) and the loop flow (the measured loop ΔT). The simulated unit
COP, system SCOP and electricity follow from them, so matching the case would be no prediction:
the test prints them, named as calibrated, and asserts nothing on them.

Predicted (nothing is taken from them), and asserted: the borehole outlet and inlet
temperatures month by month, their decline, the inlet and outlet after four months against the
case, and the ground's recovery. The ground is the shared conduction-only model
(plant.models.borehole): it starts where the case starts and falls further than the case; the
bands on the fourth month state that deviation (docs/simulator.md), they were written after the
run and do not claim agreement.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from plant.units import TO_BASE
from simulator.sim import StationSim
from tests.simulator.helpers import SCHOOL, site

pytestmark = pytest.mark.slow

STEP_S = 600.0
DAY_S = 86400.0
# predicted by the model
CASE_EARLY_OUTLET_C, CASE_LATE_OUTLET_C = 33.6, 27.7  # 003 L3057
CASE_EARLY_INLET_C, CASE_LATE_INLET_C = 20.4, 15.9  # 003 L3057
# calibrated: the site file is built from these, so the run only reports them
CALIBRATED_COP, CALIBRATED_SCOP = 5.21, 4.66  # 003 L3072
CALIBRATED_FOUR_MONTH_KWH = 182_232.0  # 003 L3081


def test_deep_borehole_school_season_has_the_shape_of_case_1_32() -> None:
    sim = StationSim(site(SCHOOL), seed=1, start=datetime(2022, 10, 15, tzinfo=UTC),
                     warm_up_s=0.0)
    borehole = sim.model.boreholes["BH1"]
    hp = sim.model.heat_pumps["HP1"]
    highest_cop = 0.0
    daily_outlet: list[float] = []
    daily_inlet: list[float] = []
    for _day in range(120):
        outlet = inlet = 0.0
        steps = int(DAY_S / STEP_S)
        for _ in range(steps):
            heat, used = hp.heat_kwh, hp.energy_kwh
            sim.advance(STEP_S)
            if hp.energy_kwh > used and hp.heat_kwh > heat:
                highest_cop = max(highest_cop, (hp.heat_kwh - heat) / (hp.energy_kwh - used))
            outlet += borehole.outlet_temp_c
            inlet += borehole.inlet_temp_c
        daily_outlet.append(outlet / steps)
        daily_inlet.append(inlet / steps)
    months = [sum(daily_outlet[i:i + 30]) / 30 for i in range(0, 120, 30)]
    months_inlet = [sum(daily_inlet[i:i + 30]) / 30 for i in range(0, 120, 30)]
    # calibrated from the case: reported, not asserted (they follow from the site's calibration)
    delivered = _base(sim, "HM-USR.heat_energy")
    electricity = _base(sim, "EM-SCOP.electric_energy")  # base unit: kWh
    print(f"\npredicted monthly outlet {_c(months)}, inlet {_c(months_inlet)}; highest "
          f"10-minute unit COP {highest_cop:.2f}")
    print(f"calibrated (follow from the site's calibration, not asserted): unit COP "
          f"{hp.heat_kwh / hp.energy_kwh:.2f} (case {CALIBRATED_COP}), system SCOP "
          f"{delivered / electricity:.2f} (case {CALIBRATED_SCOP}), electricity "
          f"{electricity:,.0f} kWh (case {CALIBRATED_FOUR_MONTH_KWH:,.0f})")
    # predicted: early operation (the first month) where the case starts
    assert months[0] == pytest.approx(CASE_EARLY_OUTLET_C, abs=3.0)
    assert months_inlet[0] == pytest.approx(CASE_EARLY_INLET_C, abs=3.0)
    # predicted: drifting down month by month, outlet and inlet
    assert all(later < earlier for earlier, later in itertools.pairwise(months))
    assert all(later < earlier for earlier, later in itertools.pairwise(months_inlet))
    # predicted, with the documented deviation: after four months conduction alone leaves the
    # outlet 5-10 K and the inlet 5-12 K below the case (simulated 20.6 and 6.5 °C)
    assert 5.0 < CASE_LATE_OUTLET_C - months[-1] < 10.0
    assert 5.0 < CASE_LATE_INLET_C - months_inlet[-1] < 12.0
    # the rest of the season, then three months without extraction
    sim.run(sim.site.station.climate.heating_season_days * DAY_S - 120 * DAY_S, STEP_S)
    drop_at_end = borehole.ground.wall_drop_k
    assert drop_at_end > 5.0
    sim.run(90 * DAY_S, 3600.0)
    assert borehole.ground.wall_drop_k < 0.3 * drop_at_end


def _c(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values) + " °C"


def _base(sim: StationSim, point_id: str) -> float:
    value = sim.value(point_id)
    assert isinstance(value, float)
    return value * TO_BASE.get(sim.site.point(point_id).unit, 1.0)
