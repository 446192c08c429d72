"""Wear faults act through the model: each faulty station is compared with a twin without it.

The twin has the same seed, start and steps, so every difference is the fault's doing.
"""

from __future__ import annotations

import pytest

from plant.models.heat_pump import cop_from_rating
from simulator.faults import FaultSpec
from simulator.sim import FaultTargetError, StationSim
from tests.simulator.helpers import DOUBLET, MIDWINTER, SCHOOL, site


def _twins(path: object = SCHOOL) -> tuple[StationSim, StationSim]:
    station = site(path)  # type: ignore[arg-type]
    return (StationSim(station, seed=4, start=MIDWINTER, warm_up_s=3600.0),
            StationSim(station, seed=4, start=MIDWINTER, warm_up_s=3600.0))


def _true(sim: StationSim, point: str) -> float:
    return float(sim.table.true_value(sim.table.index[point]))


def _run(*sims: StationSim, seconds: float, step: float = 60.0) -> None:
    for sim in sims:
        sim.run(seconds, step)


def test_a_fouling_filter_adds_resistance_at_its_rate_until_cleaned() -> None:
    faulty, clean = _twins()
    fault = faulty.inject(FaultSpec(kind="filter_fouling", target="F-S1", rate=0.5))
    _run(faulty, clean, seconds=2 * 3600.0)
    # ΔP = R·Q²: the same flow through twice the clean resistance after 2 h at 0.5 per hour
    assert _true(faulty, "NET.flow") == pytest.approx(_true(clean, "NET.flow"))
    assert (_true(faulty, "F-S1.differential_pressure")
            / _true(clean, "F-S1.differential_pressure")) == pytest.approx(2.0, rel=1e-3)
    assert _true(faulty, "F-U1.differential_pressure") == pytest.approx(
        _true(clean, "F-U1.differential_pressure"))
    faulty.clear(fault)
    assert _true(faulty, "F-S1.differential_pressure") == pytest.approx(
        _true(clean, "F-S1.differential_pressure"))


def test_a_leak_is_made_up_by_the_make_up_water() -> None:
    faulty, clean = _twins()
    faulty.inject(FaultSpec(kind="makeup_leak", target="WT1", rate=0.8))
    _run(faulty, clean, seconds=3 * 3600.0)
    assert _true(faulty, "WT1.makeup_flow") - _true(clean, "WT1.makeup_flow") == \
        pytest.approx(0.8, rel=1e-6)
    assert _true(faulty, "WT1.makeup_volume") - _true(clean, "WT1.makeup_volume") == \
        pytest.approx(0.8 * 3, rel=1e-3)


def _lifting_efficiency(sim: StationSim) -> float:
    # the share of the rated unit's cycle lifting COP it reaches at its own leaving
    # temperatures and load (docs/models.md; the model itself is checked against Carnot in
    # test_normal_operation), so twins at different temperatures compare fairly. The cycle is
    # what the refrigerant does: heat and electricity less the standing power, a tenth of the
    # rated input (EN 14825's default Cd = 0.9), which a refrigerant charge does not change
    spec = sim.model.heat_pumps["HP1"].spec
    heat = _true(sim, "HP1.load") / 100.0 * spec.rated_heat_kw
    standing = 0.1 * spec.rated_heat_kw / spec.rated_cop
    rated = float(cop_from_rating(spec, _true(sim, "HP1.evaporator_out_temp"),
                                  _true(sim, "HP1.condenser_out_temp"),
                                  _true(sim, "HP1.load") / 100.0))

    def cycle_lifting(cop: float) -> float:
        return (heat - standing) / (heat / cop - standing) - 1.0
    return cycle_lifting(_true(sim, "HP1.cop")) / cycle_lifting(rated)


def test_an_undercharged_heat_pump_loses_efficiency_until_recharged() -> None:
    faulty, clean = _twins()
    fault = faulty.inject(FaultSpec(kind="heat_pump_degradation", target="HP1", value=0.25))
    _run(faulty, clean, seconds=1800.0)
    assert faulty.model.heat_pumps["HP1"].running and clean.model.heat_pumps["HP1"].running
    # a quarter of the cycle's efficiency relative to Carnot lost, at whatever temperatures
    # and load each runs, on what the unit reports
    assert _lifting_efficiency(faulty) / _lifting_efficiency(clean) == pytest.approx(
        0.75, rel=0.01)
    assert _true(faulty, "HP1.cop") < _true(clean, "HP1.cop")
    faulty.clear(fault)
    _run(faulty, clean, seconds=1800.0)
    assert _true(faulty, "HP1.cop") == pytest.approx(_true(clean, "HP1.cop"), rel=0.02)


def test_a_fouled_plate_exchanger_widens_its_approach_and_moves_less_heat() -> None:
    faulty, clean = _twins(DOUBLET)
    faulty.inject(FaultSpec(kind="plate_fouling", target="HX1-1", rate=2.0))
    _run(faulty, clean, seconds=86400.0, step=300.0)
    fouled, fresh = faulty.model.exchangers["HX1-1"], clean.model.exchangers["HX1-1"]
    assert fresh.heat_kw > 0
    assert fouled.heat_kw < fresh.heat_kw
    assert fouled.primary_out_c - fouled.secondary_in_c > \
        fresh.primary_out_c - fresh.secondary_in_c


def test_a_glitching_meter_misreads_its_counter_while_the_glitch_lasts() -> None:
    faulty, clean = _twins()
    _run(faulty, clean, seconds=600.0)
    faulty.inject(FaultSpec(kind="meter_glitch", target="WT1.makeup_volume", duration_s=120.0))
    assert faulty.value("WT1.makeup_volume") == 0.0
    _run(faulty, clean, seconds=180.0)
    assert faulty.value("WT1.makeup_volume") == clean.value("WT1.makeup_volume")


@pytest.mark.parametrize(("kind", "target"), [
    ("filter_fouling", "HP1"), ("plate_fouling", "F-S1"), ("heat_pump_degradation", "WT1"),
    ("makeup_leak", "NET"), ("meter_glitch", "NET.supply_temp"),
])
def test_a_wear_fault_on_the_wrong_equipment_is_refused_by_name(kind: str, target: str) -> None:
    sim, _ = _twins()
    with pytest.raises(FaultTargetError, match=f"{kind} needs .* {target!r} is not one"):
        sim.inject(FaultSpec(kind=kind, target=target))
