"""Physics over simulated days: energy balance on the meters, reinjection, COP, clogging."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plant.measurands import Measurand
from plant.models.heat_pump import carnot_cop
from plant.site import CoaxialBorehole, ReinjectionWell, Site
from plant.units import TO_BASE
from simulator.faults import FaultSpec
from simulator.sim import StationSim
from simulator.station import HEAT_PUMP_START_S
from tests.simulator.helpers import DOUBLET, FIELD, MIDWINTER, SCHOOL, site

DAY_S = 86400.0


def in_base(sim: StationSim, point_id: str) -> float:
    """A point's reading in the first unit of its quantity (kWh, kW, m³ ...)."""
    value = sim.value(point_id)
    assert isinstance(value, float), point_id
    return value * TO_BASE.get(sim.site.point(point_id).unit, 1.0)


@pytest.fixture(scope="module")
def doublet_day() -> tuple[StationSim, list[dict[str, float]]]:
    """The hydrothermal doublet over one midwinter day, with hourly heat-pump samples."""
    sim = StationSim(site(DOUBLET), seed=7, start=MIDWINTER)
    samples: list[dict[str, float]] = []
    for _hour in range(24):
        sim.run(3600.0, 60.0)
        for hp in sim.model.heat_pumps.values():
            if hp.running and hp.heat_kw > 0:
                samples.append({"cop": hp.cop, "source": hp.evaporator_out_c,
                                "sink": hp.condenser_out_c})
    return sim, samples


def test_day_at_design_like_load_closes_the_energy_balance_on_the_meters(
        doublet_day: tuple[StationSim, list[dict[str, float]]]) -> None:
    sim, _ = doublet_day
    station = sim.site.station
    balance = sim.model.energy_balance()
    # design-like: the day's mean load is most of the design load
    assert balance.delivered_kwh / 24.0 > 0.7 * station.design_heat_load_kw
    # the model's own balance is exact
    assert abs(balance.residual_kwh) < 1e-6 * balance.delivered_kwh
    # and the meters, with their own noise, close it within 2 %
    source = in_base(sim, "HM-GEO.heat_energy")
    compressors = in_base(sim, "EM-HP.electric_energy")
    delivered = in_base(sim, "HM-USR.heat_energy")
    error = (source + compressors - delivered - balance.loss_kwh) / delivered
    assert abs(error) < 0.02, f"meters miss the balance by {error:.2%}"
    assert balance.loss_kwh > 0  # losses are explicit, not hidden in the residual


def test_reinjected_volume_equals_produced_volume(
        doublet_day: tuple[StationSim, list[dict[str, float]]]) -> None:
    sim, _ = doublet_day
    produced = sum(in_base(sim, f"{w}.volume") for w in ("PW1", "PW2"))
    reinjected = sum(in_base(sim, f"{w}.volume") for w in ("RW1", "RW2", "RW3"))
    assert produced > 4000.0  # two wells near 110 m³/h for a day
    assert reinjected == pytest.approx(produced, rel=1e-9)
    assert sim.model.energy_balance().overflow_m3 == 0.0
    flows_in = sum(in_base(sim, f"{w}.flow") for w in ("PW1", "PW2"))
    flows_out = sum(in_base(sim, f"{w}.flow") for w in ("RW1", "RW2", "RW3"))
    assert flows_out == pytest.approx(flows_in, rel=0.02)


def test_cop_stays_physically_sensible(
        doublet_day: tuple[StationSim, list[dict[str, float]]]) -> None:
    sim, samples = doublet_day
    assert len(samples) >= 24
    for sample in samples:
        ideal = float(carnot_cop(sample["source"], sample["sink"]))
        assert 1.0 < sample["cop"] < ideal
    # over the day, each unit that ran delivered several times its electricity
    for hp in sim.model.heat_pumps.values():
        if hp.energy_kwh > 0:
            assert 4.0 < hp.heat_kwh / hp.energy_kwh < 8.0, hp.spec.id


def _with_ground(base: Site, surface_c: float) -> Site:
    equipment = tuple(
        item.model_copy(update={"surface_ground_temp_c": surface_c})
        if isinstance(item, CoaxialBorehole) else item
        for item in base.equipment)
    return base.model_copy(update={"equipment": equipment})


def test_cop_rises_with_source_temperature() -> None:
    base = site(SCHOOL)
    results = []
    for surface in (4.0, 12.0):
        sim = StationSim(_with_ground(base, surface), seed=3, start=MIDWINTER)
        sim.write("NET.supply_temp_setpoint", 55.0)
        heat = electricity = source = 0.0
        for _ in range(24):
            sim.run(3600.0, 60.0)
            hp = sim.model.heat_pumps["HP1"]
            source += hp.evaporator_out_c / 24
        heat = sim.model.heat_pumps["HP1"].heat_kwh
        electricity = sim.model.heat_pumps["HP1"].energy_kwh
        results.append((source, heat / electricity))
    (cold_source, cold_cop), (warm_source, warm_cop) = results
    assert warm_source > cold_source + 3.0
    assert warm_cop > cold_cop


def test_clogging_raises_reinjection_level_and_lowers_capacity() -> None:
    sim = StationSim(site(DOUBLET), seed=5, start=MIDWINTER)
    well = sim.model.reinjection["RW1"]
    sim.run(3600.0, 60.0)
    level_before = in_base(sim, "RW1.water_level")
    capacity_before = well.capacity_m3h()
    sim.inject(FaultSpec(kind="reinjection_clogging", target="RW1", rate=0.5))
    sim.run(3 * DAY_S, 300.0)
    # injectivity lost 1 − e^(−0.5·3) ≈ 78 %: the well takes less and the water stands higher
    assert well.capacity_m3h() < 0.3 * capacity_before
    assert in_base(sim, "RW1.water_level") < level_before - 2.0
    assert in_base(sim, "RW1.flow") < in_base(sim, "RW2.flow")
    # clog every well hard: they can no longer take what is produced
    for ident in ("RW1", "RW2", "RW3"):
        sim.inject(FaultSpec(kind="reinjection_clogging", target=ident, rate=1.0))
    sim.run(3 * DAY_S, 300.0)
    produced = sum(in_base(sim, f"{w}.flow") for w in ("PW1", "PW2"))
    reinjected = sum(in_base(sim, f"{w}.flow") for w in ("RW1", "RW2", "RW3"))
    assert reinjected < 0.9 * produced
    assert sim.model.energy_balance().overflow_m3 > 0
    assert in_base(sim, "RW1.water_level") == pytest.approx(0.0, abs=0.1)  # up to the wellhead


def test_clogging_a_pressurised_well_raises_its_wellhead_pressure() -> None:
    base = site(DOUBLET)
    equipment = tuple(
        item.model_copy(update={"pressurised": True, "injectivity_m3h_per_m": 2.0})
        if isinstance(item, ReinjectionWell) else item
        for item in base.equipment)
    sim = StationSim(base.model_copy(update={"equipment": equipment}), seed=5, start=MIDWINTER)
    sim.run(3600.0, 60.0)
    # 220 m³/h into three wells of 2 m³/h per metre: the water stands 37 m above static,
    # still below the wellhead
    pressure_before = in_base(sim, "RW1.wellhead_pressure")
    for ident in ("RW1", "RW2", "RW3"):
        sim.inject(FaultSpec(kind="reinjection_clogging", target=ident, rate=0.5))
    sim.run(2 * DAY_S, 300.0)
    assert in_base(sim, "RW1.water_level") == pytest.approx(0.0, abs=0.1)
    assert in_base(sim, "RW1.wellhead_pressure") > pressure_before + 0.1
    assert sim.model.energy_balance().overflow_m3 == 0.0  # the pressure still pushes it all in


def test_equipment_faults_stop_machines_and_the_plc_stages_around_them() -> None:
    sim = StationSim(site(DOUBLET), seed=2, start=MIDWINTER)
    running = [h for h in sim.model.heat_pumps.values() if h.running]
    assert running
    tripped = running[0].spec.id
    trip = sim.inject(FaultSpec(kind="heat_pump_trip", target=tripped))
    sim.inject(FaultSpec(kind="well_pump_failure", target="PW1", duration_s=1800.0))
    sim.run(600.0, 10.0)
    assert sim.value(f"{tripped}.fault") is True
    assert sim.value(f"{tripped}.run_state") is False
    assert sim.value("PW1.fault") is True
    assert sim.value("PW1.flow") == 0.0
    sim.run(3600.0, 10.0)
    assert sim.value("PW1.fault") is False  # the failure lasted 30 minutes
    assert in_base(sim, "PW1.flow") > 90.0
    sim.clear(trip)
    sim.run(60.0, 10.0)
    assert sim.value(f"{tripped}.fault") is False


def test_local_logic_yields_to_written_commands() -> None:
    sim = StationSim(site(DOUBLET), seed=4, start=MIDWINTER)
    running = [h.spec.id for h in sim.model.heat_pumps.values() if h.running]
    sim.write(f"{running[0]}.run_command", False)
    sim.write("NET.supply_temp_setpoint", 40.0)
    sim.run(4 * 3600.0, 60.0)
    assert sim.value(f"{running[0]}.run_command") is False
    assert sim.value(f"{running[0]}.run_state") is False
    assert sim.model.supply_target_c == pytest.approx(40.0)
    assert in_base(sim, "NET.supply_temp") == pytest.approx(40.0, abs=1.5)


def test_same_seed_same_readings_other_seed_other_readings() -> None:
    start = datetime(2026, 2, 1, tzinfo=UTC)
    runs = []
    for seed in (11, 11, 12):
        sim = StationSim(site(DOUBLET), seed=seed, start=start, warm_up_s=7200.0)
        sim.run(1800.0, 1.0)
        runs.append(sim.values())
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_summer_cooling_rejects_heat_into_the_borehole_field() -> None:
    field = site(FIELD)
    sim = StationSim(field, seed=6, start=datetime(2026, 7, 25, tzinfo=UTC))
    sim.run(2 * DAY_S, 60.0)
    model = sim.model
    assert model.cooling_on and not model.heating_on
    balance = model.energy_balance()
    assert balance.delivered_kwh < 0  # heat taken out of the buildings
    assert balance.source_kwh < balance.delivered_kwh  # the ground takes that plus the work
    assert abs(balance.residual_kwh) < 1e-6 * abs(balance.delivered_kwh)
    rejected = sum(in_base(sim, f"{zone}.heat_rejected_energy") for zone in ("BF-A", "BF-B",
                                                                               "BF-C"))
    assert rejected == pytest.approx(-balance.source_kwh, rel=0.01)
    for zone in model.zones.values():
        assert 22.0 < zone.indoor_temp_c < 28.0
    # heat meters register heat only: chilled water adds nothing to them
    assert sim.value("HM-USR.heat_energy") == 0.0
    assert all(hp.heat_kwh == 0.0 for hp in model.heat_pumps.values())


def _with_depth(base: Site, depth_m: float) -> Site:
    equipment = tuple(
        item.model_copy(update={"depth_m": depth_m}) if isinstance(item, CoaxialBorehole)
        else item for item in base.equipment)
    return base.model_copy(update={"equipment": equipment})


def _two_days(station: Site) -> tuple[StationSim, float, float]:
    """The station over two midwinter days: (sim, mean supply shortfall K, coldest room °C)."""
    sim = StationSim(station, seed=2, start=MIDWINTER)
    shortfall = 0.0
    steps = int(2 * DAY_S / 300.0)
    for _ in range(steps):
        sim.run(300.0, 300.0)
        shortfall += sim.model.supply_target_c - sim.model.station_supply_c
    coldest = min(float(sim.value(f"{z}.indoor_temp") or 0.0) for z in sim.model.zones)
    return sim, shortfall / steps, coldest


def test_a_source_that_cannot_carry_the_load_shows_it() -> None:
    # the school's borehole at 1200 m instead of 2500 m: the rock is too cold for the load
    healthy, healthy_short, healthy_room = _two_days(site(SCHOOL))
    weak, weak_short, weak_room = _two_days(_with_depth(site(SCHOOL), 1200.0))
    # the supply falls short of its target, the rooms cool, the unit trips on its low
    # evaporator temperature again and again, and its fault point says so while locked out
    assert healthy_short < 0.5 < 5.0 < weak_short
    assert healthy_room > 17.0 > 12.0 > weak_room
    unit = weak.model.heat_pumps["HP1"]
    assert healthy.model.heat_pumps["HP1"].protection_trips == 0
    assert unit.protection_trips >= 10
    assert unit.last_protection == "low evaporator temperature"
    # and its COP falls, not rises: its evaporator sits at the freezing guard, so the lift it
    # works against grows even though the rooms and the supply it reaches are colder
    sound = healthy.model.heat_pumps["HP1"]
    assert unit.heat_kwh / unit.energy_kwh < sound.heat_kwh / sound.energy_kwh


def test_a_start_costs_its_minimum_load_power_without_heat_and_the_balance_holds() -> None:
    sim = StationSim(site(SCHOOL), seed=3, start=MIDWINTER, warm_up_s=3600.0)
    unit = sim.model.heat_pumps["HP1"]
    assert unit.running
    sim.model.command("HP1", Measurand.RUN_COMMAND, False)
    sim.run(600.0, 10.0)
    before = sim.model.energy_balance().loss_kwh
    sim.model.command("HP1", Measurand.RUN_COMMAND, True)
    sim.run(10.0, 10.0)
    spec = unit.spec
    # starting: the minimum-load power drawn, no heat given, the cost counted as a loss
    assert unit.running and unit.heat_kw == 0.0
    assert unit.power_kw == pytest.approx(spec.min_load_pct / 100 * spec.rated_heat_kw
                                          / spec.rated_cop)
    start_kw = unit.power_kw
    sim.run(200.0, 10.0)
    assert unit.heat_kw > 0.0 and unit.starts >= 2
    balance = sim.model.energy_balance()
    # the losses grew by at least the start's cost (the pipework loses its share too)
    assert balance.loss_kwh - before >= start_kw * HEAT_PUMP_START_S / 3600.0 - 1e-9
    assert abs(balance.residual_kwh) < 1e-6 * max(balance.delivered_kwh, 1.0)
