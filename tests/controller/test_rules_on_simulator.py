"""The default alarms on the simulated school, in process: faults in the physics, not forced values.

The station is the simulator's (real time is not needed: the model is advanced in 10 s steps).
Samples are what the gateway would publish: a dead sensor becomes a bad sample.
"""

from __future__ import annotations

from datetime import UTC, datetime

from controller.alarms import AlarmRecord, AlarmStatus, State, evaluate
from controller.rules import observe, plant_flags, site_alarms
from plant.contract import Quality, Reason, Sample
from plant.site import load_site
from simulator.faults import FaultSpec
from simulator.sim import StationSim
from tests.controller.test_rules import ROOT

SCHOOL = load_site(ROOT / "sites" / "deep-borehole-school.yaml")
STEP_S = 10.0


def _samples(sim: StationSim) -> dict[str, Sample]:
    now = sim.now
    latest = {}
    for point, value in sim.values().items():
        if value is None:
            latest[point] = Sample(p=point, t=now, v=None, q=Quality.BAD, r=Reason.SENSOR_FAULT)
        else:
            latest[point] = Sample(p=point, t=now, v=value)
    return latest


def _run(sim: StationSim, seconds: float) -> tuple[dict[str, AlarmStatus], list[AlarmRecord]]:
    alarms = [a for a in site_alarms(SCHOOL) if not a.rule.windowed]
    specs = [a.spec for a in site_alarms(SCHOOL)]
    statuses: dict[str, AlarmStatus] = {}
    journal: list[AlarmRecord] = []
    for _ in range(int(seconds / STEP_S)):
        sim.advance(STEP_S)
        latest = _samples(sim)
        observations = {a.spec.id: observe(a, latest, sim.now) for a in alarms}
        statuses, rows = evaluate(specs, statuses, observations,
                                  plant_flags(SCHOOL, latest, sim.now), sim.now)
        journal += rows
    return statuses, journal


def test_a_tripped_unit_and_a_dead_sensor_raise_exactly_their_alarms() -> None:
    sim = StationSim(SCHOOL, seed=2, start=datetime(2027, 1, 10, 6, tzinfo=UTC),
                     warm_up_s=3600.0)
    sim.inject(FaultSpec(kind="heat_pump_trip", target="HP1", at_s=300.0, duration_s=600.0))
    sim.inject(FaultSpec(kind="sensor_dead", target="F-S1.differential_pressure", at_s=600.0))
    start = sim.now
    statuses, journal = _run(sim, 1800.0)
    shown = [(r.alarm, r.priority.value, (r.t - start).total_seconds())
             for r in journal if r.annunciated]
    # each after its documented delay: none for a fault, 10 s for an instrument
    assert shown == [("HP1.fault", "high", 300.0), ("F-S1.instrument", "low", 610.0)]
    instrument = next(r for r in journal if r.annunciated and r.alarm == "F-S1.instrument")
    assert instrument.text == "F-S1.differential_pressure: bad, sensor_fault"
    filter_rows = [r.trigger.value for r in journal if r.alarm == "F-S1.filter_dp"]
    assert filter_rows == ["quality_bad"]
    assert statuses["HP1.fault"].state is State.RTN_UNACKNOWLEDGED
    assert statuses["F-S1.instrument"].state is State.UNACKNOWLEDGED
