"""The default alarms on the simulated school, in process: faults in the physics, not forced values.

The station is the simulator's (real time is not needed: the model is advanced in 10 s steps).
Samples are what the gateway would publish: a dead sensor becomes a bad sample.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from controller.alarms import AlarmRecord, AlarmStatus, Observation, State, evaluate
from controller.rules import (
    AlarmSettings,
    Window,
    configure,
    observe,
    observe_window,
    plant_flags,
    site_alarms,
)
from plant.contract import Quality, Reason, Sample
from plant.site import load_site
from simulator.faults import FaultSpec
from simulator.sim import StationSim
from tests.controller.season import season_start, window_of
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


def _makeup_observation(leak_m3h: float) -> tuple[float | None, bool]:
    """Run the school for an hour and a half (with a leak from the start) and judge the last
    hour of make-up against circulation, from the readings sampled each minute."""
    rule = next(a for a in site_alarms(SCHOOL) if a.spec.rule == "makeup_share")
    sim = StationSim(SCHOOL, seed=3, start=datetime(2027, 1, 10, 6, tzinfo=UTC),
                     warm_up_s=3600.0)
    if leak_m3h:
        sim.inject(FaultSpec(kind="makeup_leak", target="WT1", rate=leak_m3h))
    history: dict[str, list[float]] = {p: [] for p in rule.points()}
    for _ in range(90):
        sim.advance(60.0)
        for point in rule.points():
            value = sim.value(point)
            assert isinstance(value, float)
            history[point].append(value)
    windows = {p: Window(np.array(v[-60:]), np.ones(60, dtype=np.bool_), 60.0)
               for p, v in history.items()}
    observation = observe_window(rule, windows, SCHOOL.station)
    return observation.value, observation.value is not None and observation.value > 0.01


def test_a_leak_raises_the_make_up_share_and_a_tight_loop_does_not() -> None:
    tight, tight_alarm = _makeup_observation(0.0)
    leaking, leak_alarm = _makeup_observation(0.5)
    assert tight is not None and leaking is not None
    assert not tight_alarm and leak_alarm
    # the leak's own share of circulation comes on top of the loop's normal losses
    assert leaking - tight == pytest.approx(0.5 / _mean_network_flow(), rel=0.05)


def _mean_network_flow() -> float:
    sim = StationSim(SCHOOL, seed=3, start=datetime(2027, 1, 10, 6, tzinfo=UTC),
                     warm_up_s=3600.0)
    flows = []
    for _ in range(90):
        sim.advance(60.0)
        flows.append(float(sim.model.network_flow_m3h))
    return float(np.mean(flows[-60:]))


def test_a_fouling_strainer_raises_its_filter_alarm_after_the_delay() -> None:
    sim = StationSim(SCHOOL, seed=2, start=datetime(2027, 1, 10, 6, tzinfo=UTC),
                     warm_up_s=3600.0)
    sim.inject(FaultSpec(kind="filter_fouling", target="F-S1", rate=3.0))
    alarms = site_alarms(SCHOOL)
    specs = [a.spec for a in alarms]
    statuses: dict[str, AlarmStatus] = {}
    journal: list[AlarmRecord] = []
    above_since: dict[datetime, datetime | None] = {}
    crossed: datetime | None = None
    for _ in range(int(3600 / STEP_S)):
        sim.advance(STEP_S)
        latest = _samples(sim)
        dp = latest["F-S1.differential_pressure"].v
        assert isinstance(dp, float)
        # the site's alarm value for F-S1 is 30 kPa; noise takes it back and forth at first
        crossed = (crossed or sim.now) if dp > 30.0 else None
        above_since[sim.now] = crossed
        observations = {a.spec.id: observe(a, latest, sim.now)
                        for a in alarms if not a.rule.windowed}
        statuses, rows = evaluate(specs, statuses, observations,
                                  plant_flags(SCHOOL, latest, sim.now), sim.now)
        journal += rows
    shown = [r for r in journal if r.annunciated]
    assert [r.alarm for r in shown] == ["F-S1.filter_dp"]
    since = above_since[shown[0].t]
    assert since is not None
    # one on-delay (60 s) after the ΔP went above its alarm value to stay, at a 10 s step
    assert (shown[0].t - since).total_seconds() == pytest.approx(60.0, abs=STEP_S)


def test_the_deep_borehole_outlet_follows_the_ground_model_until_it_does_not() -> None:
    """Sixteen days of the school's season: the outlet within 2 K of the ground model for the
    load it carried; an outlet reading 0.5 K colder each hour from day 14 falls out of it."""
    window_s = 16 * 86400.0
    rule = configure([a for a in site_alarms(SCHOOL) if a.spec.id == "BH1.outlet_decline"],
                     {"borehole_outlet": AlarmSettings(params={"window_s": window_s})})[0]
    step = 900.0
    count = int(window_s / step)
    sim = StationSim(SCHOOL, seed=1, start=season_start(SCHOOL), warm_up_s=0.0)
    sim.inject(FaultSpec(kind="sensor_drift", target="BH1.outlet_temp", at_s=14 * 86400.0,
                         rate=-0.5))
    history = np.zeros((count, 3))
    for i in range(count):
        sim.advance(step)
        values = sim.values()
        history[i] = [math.nan if values[p] is None else float(values[p])  # type: ignore[arg-type]
                      for p in rule.points()]

    def judged(days: float) -> Observation:
        upto = int(days * 86400.0 / step)
        windows = {p: window_of(history[:, j], np.isfinite(history[:, j]), upto, step, window_s)
                   for j, p in enumerate(rule.points())}
        return observe_window(rule, windows, SCHOOL.station)

    healthy = judged(14.0)
    # within the rule's tolerance either way: the model is neither too hopeful nor too gloomy
    assert healthy.good and healthy.value is not None
    assert abs(healthy.value) < rule.params["tolerance_k"]
    drifting = judged(16.0)
    assert drifting.value is not None and drifting.value < drifting.limit
    assert "against the model's" in drifting.detail
