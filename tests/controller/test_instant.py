"""Observing only the rules whose inputs changed gives the journal of observing all of them.

One recorded stream of the simulated school, as its gateway publishes it (report by
exception), with a heat-pump trip, a silent device, a dead sensor, the gateway silent for
80 s (everything goes stale), and its connection dying and coming back (the dating of
unrestated values changes), is replayed second by second through two evaluators: every
instantaneous rule observed on every evaluation and every alarm stepped (the service's
earlier way), and :class:`controller.instant.InstantRules` with the alarm engine skipping the
alarms given the same observation again. The journal rows and the final statuses must be
equal, field by field.
"""

from __future__ import annotations

from datetime import timedelta

from controller.alarms import (
    AlarmRecord,
    AlarmStatus,
    Observation,
    evaluate,
    evaluation_order,
)
from controller.feed import StationFeed
from controller.instant import instant_rules
from controller.rules import AlarmRule, flag_points, observe, plant_flags, site_alarms
from plant.contract import Birth, DataBatch, Death
from plant.site import Site, load_site
from simulator.faults import FaultSpec
from simulator.sim import StationSim
from simulator.stream import gateway_batches
from tests.controller.season import season_start
from tests.controller.test_rules import ROOT

SCHOOL = load_site(ROOT / "sites" / "deep-borehole-school.yaml")
SECONDS = 420
GAP = range(220, 300)
"""Seconds whose batches never arrive: the gateway silent, every input going stale."""
DEATH, REBIRTH = 330, 370


def _birth(bdseq: int, site: Site) -> Birth:
    return Birth(station=site.station.id, session=bdseq, bdseq=bdseq,
                 t=season_start(site), gateway="gw", name="S", kind="k", timezone="UTC",
                 site_hash="0", points=())


def _recorded(site: Site) -> list[DataBatch]:
    sim = StationSim(site, seed=3, start=season_start(site) + timedelta(days=90),
                     warm_up_s=3600.0)
    for kind, target, at_s, duration_s in (("heat_pump_trip", "HP1", 30, 60),
                                           ("device_silent", "hpc", 120, 40),
                                           ("sensor_dead", "F-U1.differential_pressure", 180,
                                            160)):
        sim.inject(FaultSpec(kind=kind, target=target, at_s=at_s,
                             duration_s=duration_s))
    return list(gateway_batches(sim, SECONDS))


def _replay(site: Site, rules: tuple[AlarmRule, ...], batches: list[DataBatch],
            incremental: bool) -> tuple[list[AlarmRecord], dict[str, AlarmStatus], int]:
    feed = StationFeed(site.station.id, site.full_refresh_s)
    feed.take_birth(_birth(1, site))
    instant = instant_rules(rules, site.full_refresh_s)
    every = [r for r in rules if not r.rule.windowed]
    order = evaluation_order([r.spec for r in rules])
    points = flag_points(site)
    journal: list[AlarmRecord] = []
    statuses: dict[str, AlarmStatus] = {}
    observed = 0
    previous: dict[str, Observation] = {}
    for second, batch in enumerate(batches):
        if second not in GAP:
            feed.take(batch)
        if second == DEATH:
            feed.take_death(Death(station=site.station.id, session=1, bdseq=1))
        if second == REBIRTH:
            feed.take_birth(_birth(2, site))
        now = batch.samples[0].t + timedelta(milliseconds=200) if batch.samples else None
        now = (batches[0].samples[0].t + timedelta(seconds=second, milliseconds=200)
               if now is None else now)
        if incremental:
            observations = instant.observe(feed, now)
            observed = instant.observed
            flags = plant_flags(site, feed.view(now, instant.fresh_s), now, points=points)
        else:
            latest = feed.current()
            observations = {r.spec.id: observe(r, latest, now) for r in every}
            observed += len(every)
            flags = plant_flags(site, latest, now)
        statuses, rows = evaluate(order, statuses, observations, flags, now, ordered=True,
                                  previous=previous if incremental else None)
        previous = observations
        journal += rows
    return journal, statuses, observed


def test_observing_only_changed_inputs_raises_the_same_alarms_as_observing_all() -> None:
    rules = site_alarms(SCHOOL)
    batches = _recorded(SCHOOL)
    full, full_statuses, full_count = _replay(SCHOOL, rules, batches, incremental=False)
    fewer, fewer_statuses, fewer_count = _replay(SCHOOL, rules, batches, incremental=True)
    assert fewer == full
    assert fewer_statuses == full_statuses
    shown = {r.alarm for r in full if r.annunciated}
    # the stream is not a quiet one: the trip, the silent device, the dead sensor, the silence
    assert {"HP1.fault", "hpc.comm", "F-U1.instrument"} <= shown, shown
    assert any(r.text.endswith("s old)") for r in full if r.alarm.endswith(".instrument")
               or r.alarm.endswith(".comm")), "the gap must make inputs stale"
    assert len([r for r in full if r.trigger.value == "quality_bad"]) > 5
    # and many observations were reused, although a third of the stream has stale inputs
    assert fewer_count < 0.6 * full_count, (fewer_count, full_count)
