"""A reinjection shortfall made by the station simulator (the three reinjection wells of the
doublet clogging) shows in the report's hours below threshold and its decline verdict; a trip of
the reinjection booster pump shows in the hours below threshold and declines nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from historian.store import Inbound, Store
from plant.contract import Birth, DataBatch, Quality, Reason, Sample, Topic, topic
from plant.site import load_site
from report.make import reinjection_report
from report.reinjection import required_points
from report.synthetic import point_info
from simulator.faults import FaultSpec
from simulator.sim import StationSim
from tests.report.conftest import SITE

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("postgres", ["postgres"], indirect=True)]

START = datetime(2026, 1, 9, 16, tzinfo=UTC)  # 10 January, local midnight
DAYS = 9
STEP_S = 300.0


Written = list[tuple[datetime, dict[str, float | None]]]


def simulate(faults: list[FaultSpec], days: float) -> Written:
    """Run the doublet with the faults; return the report's points every STEP_S."""
    site = load_site(SITE)
    names = required_points(site)
    sim = StationSim(site, seed=5, start=START, warm_up_s=3600.0)
    for fault in faults:
        sim.inject(fault)
    written: Written = []
    for _ in range(int(days * 86400 / STEP_S)):
        sim.advance(STEP_S)
        values = sim.values()
        written.append((sim.now, {n: None if values[n] is None else float(values[n])  # type: ignore[arg-type]
                                  for n in names}))
    return written


def store(database: str, written: Written) -> None:
    """Write the simulated samples through the historian's store, as a gateway would."""
    site = load_site(SITE)
    names = required_points(site)
    station = site.station.id
    birth = Birth(station=station, session=1, bdseq=1, t=START, gateway="sim",
                  name=site.station.name, kind=site.station.kind,
                  timezone=site.station.timezone,
                  site_hash=hashlib.sha256(site.model_dump_json().encode()).hexdigest(),
                  points=tuple(point_info(site, n, STEP_S) for n in names))
    writer = Store(database)
    writer.connect()
    writer.write([Inbound(topic(station, Topic.BIRTH), b"", birth)])
    batches = []
    for seq, index in enumerate(range(0, len(written), 12)):
        samples = tuple(
            Sample(p=n, t=moment, v=v) if v is not None
            else Sample(p=n, t=moment, v=None, q=Quality.BAD, r=Reason.SENSOR_FAULT)
            for moment, values in written[index:index + 12] for n, v in values.items())
        batches.append(Inbound(topic(station, Topic.DATA), b"", DataBatch(
            station=station, session=1, seq=seq, samples=samples)))
    writer.write(batches)
    writer.close()


def hours_below(written: Written) -> int:
    """The oracle: hours whose mean reinjected flow is under 95 % of the mean produced."""
    by_hour: dict[datetime, list[dict[str, float | None]]] = {}
    for moment, values in written:
        by_hour.setdefault(moment.replace(minute=0, second=0, microsecond=0), []).append(values)
    below = 0
    for rows in by_hour.values():
        if len(rows) < 12:
            continue  # the last, partial hour
        produced = sum(sum(r[f"PW{i}.flow"] or 0.0 for r in rows) / len(rows) for i in (1, 2))
        reinjected = sum(sum(r[f"RW{i}.flow"] or 0.0 for r in rows) / len(rows)
                         for i in (1, 2, 3))
        below += produced > 1.0 and reinjected < 0.95 * produced
    return below


def test_clogging_in_the_simulator_shows_as_hours_below_threshold_and_decline(
        database: str) -> None:
    site = load_site(SITE)
    # injectivity falls by e each two days from day 1
    written = simulate([FaultSpec(kind="reinjection_clogging", target=well, at_s=86400.0,
                                  rate=0.5) for well in ("RW1", "RW2", "RW3")], DAYS)
    store(database, written)
    with psycopg.connect(database) as conn:
        report = reinjection_report(conn, site, "2026-01")
    below = hours_below(written)
    assert below > 24, "the clogging was meant to cause a shortfall of more than a day"
    row = dict(zip(report.table("station").columns, report.table("station").rows[0],
                   strict=True))
    # hourly means in the historian hold each sample until the next: the hour in which the
    # ratio crosses the threshold may fall either side
    assert abs(int(str(row["hours_below_threshold_measured"])) - below) <= 1
    trend = {r[0]: r for r in report.table("injectivity").rows}
    for well in ("RW1", "RW2", "RW3"):
        assert trend[well][-1] == "declining", trend[well]
        assert float(str(trend[well][4])) < -50.0
    assert any("decline" in s.lower() for s in report.statements)
    assert timedelta(days=DAYS) == written[-1][0] - START


def test_a_reinjection_pump_trip_in_the_simulator_shows_as_hours_below_threshold_only(
        database: str) -> None:
    site = load_site(SITE)
    # the booster carrying the reinjection line fails for a day: production goes on
    written = simulate([FaultSpec(kind="well_pump_failure", target="P-RJ1", at_s=43200.0,
                                  duration_s=86400.0)], 2)
    store(database, written)
    with psycopg.connect(database) as conn:
        report = reinjection_report(conn, site, "2026-01")
    below = hours_below(written)
    assert 23 <= below <= 25, "the trip was meant to stop reinjection for a day"
    row = dict(zip(report.table("station").columns, report.table("station").rows[0],
                   strict=True))
    assert abs(int(str(row["hours_below_threshold_measured"])) - below) <= 1
    # the wells take water as before once the pump runs again: no injectivity decline
    trend = {r[0]: r for r in report.table("injectivity").rows}
    for well in ("RW1", "RW2", "RW3"):
        assert trend[well][-1] != "declining", trend[well]
