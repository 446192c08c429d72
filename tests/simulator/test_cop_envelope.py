"""COP below 8 at every lift and load the demo stations can put on their heat pumps.

The sweep takes its ranges from the site files, not from a simulation: for every outdoor
temperature of the heating season (from the design temperature to the warmest afternoon, a
daily mean of 5 °C plus half the daily swing) the sink is the heating curve's supply, the load
any from the unit's minimum to the station's demand over the unit's rating, and the source any
temperature from the freezing guard up to the warmest water the station's source can give while
the unit runs:

* a borehole loop: the outlet of fresh, undisturbed ground at the loop's rated flow, delivering
  the heat a COP of 8 would draw (7/8 of the unit's heat): a higher COP draws more and leaves
  the loop colder, so a COP of 8 or more can only come from water no warmer than this;
* a borehole loop that has stood (the summer, a weekend): its water has come to the rock around
  it, so a start sees up to the rock's warmest, at the bottom of a coaxial borehole (the
  school's 58 °C), or the undisturbed ground of a field;
* heat pumps behind direct exchangers (the doublet): the local logic runs them only when the
  direct stage cannot carry the demand, and then the geothermal water leaves the direct stage
  no warmer than its counterflow effectiveness (the exchangers' rated heat over their design
  approach) allows above the network return.

The school's season starts on a loop that stood all summer into a network that stood too, so
its first load-up sees a lift the heating curve does not: the simulator runs that start at
10-minute and 1-minute steps.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from plant.heating import climate_curve_c
from plant.models.borehole import fluid_temps_for_extraction, initial_ground_state, step_ground
from plant.models.heat_pump import cop_from_rating
from plant.models.water import density_kg_m3, specific_heat_kj_per_kgk
from plant.site import (
    BoreholeField,
    CoaxialBorehole,
    HeatPump,
    PlateExchanger,
    ProductionWell,
    Site,
)
from simulator.sim import StationSim
from tests.simulator.helpers import DOUBLET, FIELD, SCHOOL, site

COP_BOUND = 8.0
DAY_S = 86400.0
FREEZE_GUARD_K = 4.0
"""An evaporator leaves at least 4 K above the freezing point of its fluid (docs/simulator.md)."""


def capacity_rate_kw_per_k(flow_m3h: float, temp_c: float) -> float:
    """Water's heat capacity rate at a volume flow."""
    return flow_m3h / 3600.0 * float(density_kg_m3(temp_c)) * float(specific_heat_kj_per_kgk(temp_c))


def counterflow_effectiveness(ua: float, c_min: float, c_max: float) -> float:
    """ε of a counterflow exchanger (ε-NTU)."""
    ntu, ratio = ua / c_min, c_min / c_max
    if abs(1.0 - ratio) < 1e-9:
        return ntu / (1.0 + ntu)
    e = math.exp(-ntu * (1.0 - ratio))
    return (1.0 - e) / (1.0 - ratio * e)


def standing_loop_c(loop: CoaxialBorehole | BoreholeField) -> float:
    """Warmest water a loop that has stood holds: the rock at its bottom, or the field's ground."""
    if isinstance(loop, CoaxialBorehole):
        return loop.surface_ground_temp_c + loop.geothermal_gradient_k_per_100m * loop.depth_m / 100.0
    return loop.undisturbed_ground_temp_c


def warmest_source_c(plant: Site, hp: HeatPump, heat_kw: float, return_c: float,
                     demand_kw: float, *, standstill: bool = False) -> float | None:
    """Warmest water the unit's evaporator can leave at, or None when the unit does not run."""
    extraction = heat_kw * (1.0 - 1.0 / COP_BOUND)
    loops = [e for e in plant.equipment if isinstance(e, CoaxialBorehole | BoreholeField)]
    if loops and standstill:
        entering = max(standing_loop_c(b) for b in loops)
    elif loops:
        total_flow = sum(x.rated_flow_m3h for x in loops)
        outlets = []
        for b in loops:
            share = extraction * b.rated_flow_m3h / total_flow
            ground = step_ground(b, initial_ground_state(b), share, DAY_S)
            outlets.append(fluid_temps_for_extraction(b, ground, share, b.rated_flow_m3h)[1])
        entering = max(outlets)
    else:
        after_direct = _after_direct_stage(plant, return_c, demand_kw)
        if after_direct is None:
            return None
        entering = after_direct
    # the evaporator takes at most its design flow and gives up the heat a COP of 8 would draw
    return entering - extraction / capacity_rate_kw_per_k(hp.design_evaporator_flow_m3h, entering)


def _after_direct_stage(plant: Site, return_c: float, demand_kw: float) -> float | None:
    """Geothermal water leaving the direct stage at full duty; None when it carries the demand."""
    wells = [e for e in plant.equipment if isinstance(e, ProductionWell)]
    hp_stages = {e.stage for e in plant.equipment if isinstance(e, HeatPump)}
    direct = [x for x in plant.equipment
              if isinstance(x, PlateExchanger) and x.stage not in hp_stages]
    produced_c = min(w.reservoir_temp_c for w in wells)
    c_geo = capacity_rate_kw_per_k(sum(w.rated_flow_m3h for w in wells), produced_c)
    station = plant.station
    c_net = station.design_heat_load_kw / (station.design_supply_temp_c
                                           - station.design_return_temp_c)
    ua = sum(x.rated_heat_kw / x.design_approach_k for x in direct)
    effectiveness = counterflow_effectiveness(ua, min(c_geo, c_net), max(c_geo, c_net))
    direct_kw = effectiveness * min(c_geo, c_net) * (produced_c - return_c)
    if direct_kw >= demand_kw:
        return None  # direct supply has priority: the units stage down
    return produced_c - direct_kw / c_geo


def sweep(path: Path, *, standstill: bool = False) -> list[tuple[float, str]]:
    """Highest model COP of each heat pump over the site's envelope, with where it lies
    (``standstill``: a borehole loop starting from the rock's temperature)."""
    plant = site(path)
    station = plant.station
    climate = station.climate
    span = station.indoor_design_temp_c - climate.design_outdoor_temp_c
    found = []
    for hp in (e for e in plant.equipment if isinstance(e, HeatPump)):
        guard = hp.source_freezing_point_c + FREEZE_GUARD_K
        best = (0.0, "")
        for outdoor in np.arange(climate.design_outdoor_temp_c, 5.0 + 0.5 * climate.daily_swing_k
                                 + 0.01, 1.0):
            ratio = (station.indoor_design_temp_c - outdoor) / span
            supply = climate_curve_c(station, float(outdoor))
            return_c = supply - (station.design_supply_temp_c - station.design_return_temp_c) * ratio
            demand = station.design_heat_load_kw * ratio
            floor = hp.min_load_pct / 100.0
            for load in np.linspace(floor, max(floor, min(1.0, demand / hp.rated_heat_kw)), 6):
                top = warmest_source_c(plant, hp, load * hp.rated_heat_kw, return_c, demand,
                                       standstill=standstill)
                if top is None:
                    continue
                # the condenser takes at most its design flow of water no colder than the return
                sink = return_c + load * hp.rated_condenser_dt_k
                for source in np.arange(guard, max(guard, top) + 0.01, 1.0):
                    cop = float(cop_from_rating(hp, float(source), sink, float(load)))
                    if cop > best[0]:
                        best = (cop, f"{hp.id} {source:.1f} -> {sink:.1f} °C at {load:.0%}, "
                                     f"outdoor {outdoor:.0f} °C")
        found.append(best)
    return found


@pytest.mark.parametrize("path", [SCHOOL, DOUBLET, FIELD], ids=lambda p: p.stem)
def test_cop_stays_below_8_at_every_lift_and_load_the_station_sees(path: Path) -> None:
    for cop, where in sweep(path):
        assert cop < COP_BOUND, f"COP {cop:.2f} at {where}"


@pytest.mark.parametrize("path", [SCHOOL, FIELD], ids=lambda p: p.stem)
def test_cop_stays_below_8_on_a_loop_that_has_stood(path: Path) -> None:
    # the heating curve's lifts with the loop's water at the rock's temperature: above the
    # expansion valve's limit the refrigerant evaporates at the limit, however warm the water
    for cop, where in sweep(path, standstill=True):
        assert cop < COP_BOUND, f"COP {cop:.2f} at {where}"


@pytest.mark.parametrize("step_s", [600.0, 60.0], ids=["10-min", "1-min"])
def test_the_school_starting_its_season_on_a_loop_that_stood_all_summer_stays_below_8(
        step_s: float) -> None:
    # the season's first hours: the loop gives water near the rock's bottom temperature into a
    # network that is cold, and the unit loads up. Every step with the unit running, its heat
    # over its electricity in that step
    sim = StationSim(site(SCHOOL), seed=1, start=datetime(2022, 10, 15, tzinfo=UTC),
                     warm_up_s=0.0)
    hp = sim.model.heat_pumps["HP1"]
    loop = sim.model.boreholes["BH1"]
    ratios, warmest = [], 0.0
    for _ in range(int(6 * 3600.0 / step_s)):
        heat, electricity = hp.heat_kwh, hp.energy_kwh
        sim.advance(step_s)
        warmest = max(warmest, hp.evaporator_in_c if hp.running else 0.0)
        if hp.energy_kwh - electricity > 0.0 and hp.heat_kwh - heat > 0.0:
            ratios.append((hp.heat_kwh - heat) / (hp.energy_kwh - electricity))
    assert loop.spec.depth_m > 2000.0 and warmest > 50.0  # the state this test is about
    assert len(ratios) > 0.5 * 6 * 3600.0 / step_s
    assert max(ratios) < COP_BOUND


@pytest.mark.parametrize("start", [datetime(2025, 10, 15, tzinfo=UTC),
                                   datetime(2026, 4, 9, tzinfo=UTC)],
                         ids=["season-start", "season-end"])
def test_the_school_in_its_mildest_weather_stays_below_8(start: datetime) -> None:
    # the first days of the season give the warmest source (a fresh borehole) and the lowest
    # supply; the last days the lowest supply again. Every 5 minutes with the unit running, its
    # heat over its electricity in those 5 minutes
    sim = StationSim(site(SCHOOL), seed=3, start=start)
    hp = sim.model.heat_pumps["HP1"]
    ratios = []
    for _ in range(int(2 * DAY_S / 300.0)):
        heat, electricity = hp.heat_kwh, hp.energy_kwh
        sim.advance(300.0)
        if hp.energy_kwh - electricity > 0.0 and hp.heat_kwh - heat > 0.0:
            ratios.append((hp.heat_kwh - heat) / (hp.energy_kwh - electricity))
    assert len(ratios) > 60  # the unit runs in this weather
    assert max(ratios) < COP_BOUND
