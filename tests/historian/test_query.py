"""The query API and ``geoscada query`` against a database filled through the store."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from historian import query, query_cli, rollups
from historian.query import Interpolation, PointRef, QueryError
from historian.store import Inbound, Store
from plant.contract import (
    Birth,
    DataBatch,
    Death,
    PointInfo,
    Quality,
    Reason,
    Sample,
    Topic,
    topic,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 2, 1, tzinfo=UTC)
ST = "st-q"
FLOW = PointRef(ST, "P1.flow")
METER = PointRef(ST, "M1.energy")


def _flow(i: int) -> float:
    return float((i * 37) % 101)


@pytest.fixture
def filled(database: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Two hours of a flow every 5 s and a meter every 60 s that resets at 01:00."""
    store = Store(database)
    store.connect()
    birth = Birth(
        station=ST, session=1, bdseq=1, t=T0, gateway="t", name=ST, kind="hydrothermal",
        timezone="Asia/Shanghai", site_hash="0" * 64,
        points=(
            PointInfo(id="P1.flow", equipment="P1", equipment_kind="pump", measurand="flow",
                      unit="m3/h", dtype="float", range=(0, 200)),
            PointInfo(id="M1.energy", equipment="M1", equipment_kind="heat_meter",
                      measurand="heat_energy", unit="kWh", dtype="float", range=(0, 1e9),
                      counter=True),
        ),
    )
    # every seventh flow reading is uncertain (slightly out of range): valued, and counted
    samples = [Sample(p="P1.flow", t=T0 + timedelta(seconds=5 * i), v=_flow(i),
                      q=Quality.UNCERTAIN if i % 7 == 0 else Quality.GOOD,
                      r=Reason.OUT_OF_RANGE if i % 7 == 0 else None)
               for i in range(1440)]
    # 10 kWh per minute; at 01:00 the meter is replaced and restarts from 0
    samples += [
        Sample(p="M1.energy", t=T0 + timedelta(minutes=m), v=float(10 * m if m < 60 else 10 * (m - 60)))
        for m in range(120)
    ]
    store.write([Inbound(topic(ST, Topic.BIRTH), b"", birth)])
    for seq, index in enumerate(range(0, len(samples), 100)):
        batch = DataBatch(station=ST, session=1, seq=seq, samples=tuple(samples[index:index + 100]))
        store.write([Inbound(topic(ST, Topic.DATA), b"", batch)])
    store.close()
    with psycopg.connect(database) as conn:
        yield conn


def test_raw_returns_the_range_oldest_first(filled: psycopg.Connection[tuple[object, ...]]) -> None:
    rows = query.raw(filled, FLOW, T0 + timedelta(seconds=10), T0 + timedelta(seconds=30))
    assert [r.time for r in rows] == [T0 + timedelta(seconds=s) for s in (10, 15, 20, 25)]
    assert [r.value for r in rows] == [_flow(i) for i in (2, 3, 4, 5)]
    assert all(r.quality == "good" and r.reason is None for r in rows)


def test_unknown_point_and_empty_range_are_refused(filled: psycopg.Connection[tuple[object, ...]]) -> None:
    with pytest.raises(QueryError, match="unknown point st-q/nope"):
        query.raw(filled, PointRef(ST, "nope"), T0, T0 + timedelta(hours=1))
    with pytest.raises(QueryError, match="is empty"):
        query.raw(filled, FLOW, T0, T0)
    with pytest.raises(QueryError, match="station/point"):
        PointRef.parse("no-slash")


def test_choose_level_picks_the_coarsest_rollup_that_tiles_the_bucket() -> None:
    assert query.choose_level(timedelta(seconds=30)) is None
    assert query.choose_level(timedelta(minutes=5)).name == "1m"  # type: ignore[union-attr]
    assert query.choose_level(timedelta(minutes=30)).name == "15m"  # type: ignore[union-attr]
    assert query.choose_level(timedelta(hours=2)).name == "1h"  # type: ignore[union-attr]
    assert query.choose_level(timedelta(days=7)).name == "1d"  # type: ignore[union-attr]
    assert query.choose_level(timedelta(minutes=90)).name == "15m"  # type: ignore[union-attr]


@pytest.mark.parametrize("bucket", [timedelta(seconds=20), timedelta(minutes=30), timedelta(hours=1)])
def test_aggregates_from_rollups_or_raw_match_the_samples(
    filled: psycopg.Connection[tuple[object, ...]], bucket: timedelta
) -> None:
    rollups.prepare(filled)
    rollups.refresh_all(filled)
    got = query.aggregates(filled, FLOW, T0, T0 + timedelta(hours=2), bucket)
    per_bucket = int(bucket.total_seconds() // 5)
    assert len(got) == 1440 // per_bucket
    for k, agg in enumerate(got):
        values = [_flow(i) for i in range(k * per_bucket, (k + 1) * per_bucket)]
        assert agg.bucket == T0 + k * bucket
        assert (agg.samples, agg.min, agg.max) == (len(values), min(values), max(values))
        indices = range(k * per_bucket, (k + 1) * per_bucket)
        assert (agg.uncertain, agg.bad) == (sum(1 for i in indices if i % 7 == 0), 0)
        assert (agg.first, agg.last) == (values[0], values[-1])
        assert agg.mean == pytest.approx(sum(values) / len(values))
        assert agg.source == ("raw" if bucket < timedelta(minutes=1) else query.choose_level(bucket).name)  # type: ignore[union-attr]
    # every 5 s interval holds the earlier value; the first bucket's first sample has no predecessor
    held = [_flow(i) for i in range(per_bucket - 1)]
    assert got[0].time_weighted_mean == pytest.approx(sum(held) / len(held))


def test_last_values_of_many_points(filled: psycopg.Connection[tuple[object, ...]]) -> None:
    found = query.last_values(filled, [FLOW, METER, PointRef(ST, "missing")])
    flow, meter = found[FLOW], found[METER]
    assert flow is not None and flow.time == T0 + timedelta(seconds=5 * 1439)
    assert meter is not None and meter.value == 590.0
    assert found[PointRef(ST, "missing")] is None


@pytest.mark.parametrize("refresh", [False, True])
def test_trend_keeps_the_extremes_within_n_points(
    filled: psycopg.Connection[tuple[object, ...]], refresh: bool
) -> None:
    if refresh:
        rollups.prepare(filled)
        rollups.refresh_all(filled)
    start, end = T0, T0 + timedelta(hours=2)
    vertices = query.trend(filled, FLOW, start, end, max_points=100)
    assert 2 <= len(vertices) <= 100
    assert [v.time for v in vertices] == sorted(v.time for v in vertices)
    assert min(v.value for v in vertices) == 0.0
    assert max(v.value for v in vertices) == 100.0
    # a slot of 144 s is finer than any rollup wider than a minute, so the 1 m rollup is used
    # after refreshing and raw samples before: both keep every slot's extremes
    slot = (end - start) / 50
    for k in range(50):
        values = [_flow(i) for i in range(1440) if start + k * slot <= T0 + timedelta(seconds=5 * i) < start + (k + 1) * slot]
        in_slot = [v.value for v in vertices if start + k * slot <= v.time < start + (k + 1) * slot]
        if not refresh:
            assert max(in_slot) == max(values) and min(in_slot) == min(values)


def test_values_at_given_times_with_quality(database: str) -> None:
    store = Store(database)
    store.connect()
    samples = (
        Sample(p="x", t=T0, v=10.0),
        Sample(p="x", t=T0 + timedelta(seconds=10), v=20.0, q=Quality.UNCERTAIN, r=Reason.OUT_OF_RANGE),
        Sample(p="x", t=T0 + timedelta(hours=1), v=30.0),
        Sample(p="x", t=T0 + timedelta(hours=2), v=None, q=Quality.BAD, r=Reason.TIMEOUT),
    )
    store.write([Inbound(topic(ST, Topic.DATA), b"", DataBatch(station=ST, session=1, seq=0, samples=samples))])
    store.close()
    x = PointRef(ST, "x")
    times = [T0 - timedelta(seconds=1), T0, T0 + timedelta(seconds=5), T0 + timedelta(seconds=12),
             T0 + timedelta(minutes=30), T0 + timedelta(hours=2, seconds=1)]
    with psycopg.connect(database) as conn:
        previous = query.values_at(conn, x, times)
        linear = query.values_at(conn, x, times, Interpolation.LINEAR)
    assert [(a.value, a.quality) for a in previous] == [
        (None, "bad"), (10.0, "good"), (10.0, "good"), (20.0, "uncertain"), (20.0, "uncertain"),
        (None, "bad"),
    ]
    assert "older than" in previous[4].note
    assert linear[2].value == pytest.approx(15.0)
    assert linear[2].quality == "uncertain"
    # 12 s: the next sample is an hour away, beyond the hold limit: no interpolation
    assert (linear[3].value, linear[3].quality) == (20.0, "uncertain")


def test_cover_uses_the_coarsest_aligned_levels() -> None:
    start = datetime(2026, 1, 1, 22, 59, tzinfo=UTC)
    end = datetime(2026, 1, 3, 1, 16, tzinfo=UTC)
    pieces = [(level.name, a, b) for level, a, b in query.cover(start, end)]
    assert pieces == [
        ("1m", start, datetime(2026, 1, 1, 23, 0, tzinfo=UTC)),
        ("1h", datetime(2026, 1, 1, 23, 0, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)),
        ("1d", datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)),
        ("1h", datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 1, 3, 1, tzinfo=UTC)),
        ("15m", datetime(2026, 1, 3, 1, tzinfo=UTC), datetime(2026, 1, 3, 1, 15, tzinfo=UTC)),
        ("1m", datetime(2026, 1, 3, 1, 15, tzinfo=UTC), end),
    ]


def test_counter_that_resets_mid_period_gives_the_right_total(
    filled: psycopg.Connection[tuple[object, ...]],
) -> None:
    # readings every minute: 0, 10, … 590 until 00:59, then 0, 10, … from 01:00 (a new meter)
    start, end = T0 + timedelta(minutes=30, seconds=30), T0 + timedelta(minutes=100, seconds=30)
    # increments whose later reading lies in [00:30:30, 01:40:30): 00:31 .. 00:59 (29 x 10),
    # 01:00 (an undeclared drop: a suspect reading, 0), 01:01 .. 01:40 (40 x 10; 01:01 from
    # the 0 reading, since it is still below the 590 before it)
    expected = 290.0 + 0.0 + 400.0
    from_raw = query.counter_total(filled, METER, start, end)
    rollups.prepare(filled)
    rollups.refresh_all(filled)
    from_rollups = query.counter_total(filled, METER, start, end)
    assert (from_raw.from_rollups, from_rollups.from_rollups) == (False, True)
    assert from_raw.total == pytest.approx(expected)
    assert from_rollups.total == pytest.approx(expected)
    assert from_rollups.suspect_readings == 1  # ledgered by the rollup pass
    with pytest.raises(QueryError, match="not announced as a counter"):
        query.counter_total(filled, FLOW, start, end)


def test_query_command_line(
    filled: psycopg.Connection[tuple[object, ...]], database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = query_cli.main(["--db", database, "--json", "raw", "st-q/P1.flow", "--from",
                           "2026-02-01T00:00:00Z", "--to", "2026-02-01T00:00:10Z"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [json.loads(line)["value"] for line in lines] == [_flow(0), _flow(1)]
    code = query_cli.main(["--db", database, "total", "st-q/M1.energy", "--from",
                           "2026-02-01T00:00:00Z", "--to", "2026-02-01T02:00:00Z"])
    out = capsys.readouterr().out
    assert code == 0 and "\t1180.0\t" in out  # 590 before the reset, 590 after
    code = query_cli.main(["--db", database, "last", "st-q"])
    out = capsys.readouterr().out
    assert code == 0 and out.count("st-q/") == 2 and "\t590.0\t" in out
    code = query_cli.main(["--db", database, "raw", "st-q/none", "--from", "2026-02-01T00:00:00Z"])
    assert code == 1 and "unknown point st-q/none" in capsys.readouterr().err
    # days cut at midnight in the station's zone (Asia/Shanghai, +08:00); nothing is missing
    code = query_cli.main(["--db", database, "coverage", "st-q", "--from",
                           "2026-01-31T12:00:00Z", "--to", "2026-02-01T02:00:00Z", "--by", "day",
                           "--point", "P1.flow"])
    captured = capsys.readouterr()
    rows = [line.split("\t") for line in captured.out.splitlines()]
    assert code == 0, captured.err
    assert [(r[0], r[1], r[2], float(r[3]), float(r[4])) for r in rows] == [
        ("st-q", "2026-01-31T20:00:00+08:00", "2026-02-01T00:00:00+08:00", 0.0, 0.0),
        ("st-q/P1.flow", "2026-01-31T20:00:00+08:00", "2026-02-01T00:00:00+08:00", 0.0, 0.0),
        ("st-q", "2026-02-01T00:00:00+08:00", "2026-02-01T10:00:00+08:00", 7200.0, 0.0),
        ("st-q/P1.flow", "2026-02-01T00:00:00+08:00", "2026-02-01T10:00:00+08:00", 7200.0, 0.0),
    ]


def _meter_birth(station: str) -> Birth:
    return Birth(
        station=station, session=1, bdseq=1, t=T0, gateway="t", name=station,
        kind="hydrothermal", timezone="Asia/Shanghai", site_hash="0" * 64,
        points=(PointInfo(id="M1.energy", equipment="M1", equipment_kind="heat_meter",
                          measurand="heat_energy", unit="kWh", dtype="float", range=(0, 1e9),
                          counter=True),),
    )


def test_a_glitch_to_zero_changes_a_total_by_no_more_than_the_true_increment(
    database: str,
) -> None:
    """A meter counting 10 kWh a minute reads 0 once, at 00:50: every period's total stays
    within one true increment (10) of the true one, and whole periods around it are exact."""
    station = "st-glitch"
    meter = PointRef(station, "M1.energy")

    def true_reading(minute: int) -> float:
        return 1000.0 + 10.0 * minute

    store = Store(database)
    store.connect()
    store.write([Inbound(topic(station, Topic.BIRTH), b"", _meter_birth(station))])
    samples = tuple(
        Sample(p="M1.energy", t=T0 + timedelta(minutes=m), v=0.0 if m == 50 else true_reading(m))
        for m in range(121)
    )
    store.write([Inbound(topic(station, Topic.DATA), b"",
                         DataBatch(station=station, session=1, seq=0, samples=samples))])
    store.close()
    periods = [(a, b) for a in (0, 30, 49, 50, 51) for b in (50, 51, 52, 90, 121) if a < b]
    with psycopg.connect(database) as conn:
        answers = [
            query.counter_total(conn, meter, T0 + timedelta(minutes=a, seconds=30),
                                T0 + timedelta(minutes=b, seconds=30))
            for a, b in periods
        ]
        rollups.prepare(conn)
        rollups.refresh_all(conn)
        whole = query.counter_total(conn, meter, T0, T0 + timedelta(hours=3))
        answers += [
            query.counter_total(conn, meter, T0 + timedelta(minutes=a), T0 + timedelta(minutes=b))
            for a, b in periods
        ]
    assert whole.from_rollups
    assert whole.total == pytest.approx(true_reading(120) - true_reading(0))
    assert whole.suspect_readings == 1
    for answer in answers:
        # the true total: what the meter really counted between the last reading before the
        # period and the last reading in it
        first = math.ceil((answer.start - T0).total_seconds() / 60)
        last = math.ceil((answer.end - T0).total_seconds() / 60) - 1
        truth = true_reading(min(last, 120)) - true_reading(max(first - 1, 0))
        assert abs(answer.total - truth) <= 10.0 + 1e-9, (answer.start, answer.end, answer.total)
        if (first <= 50 <= last) == (first <= 51 <= last):
            # the glitch's increment is counted at the next reading: exact unless a period
            # boundary falls between the two
            assert answer.total == pytest.approx(truth), (answer.start, answer.end)
        # the total reports its coverage: the station is alive with nothing missing
        length = (answer.end - answer.start).total_seconds()
        assert answer.covered_s == pytest.approx(length)
        assert answer.missing_s == 0.0


def test_coverage_per_station_and_point_in_the_station_time_zone(database: str) -> None:
    """A seq gap (00:99..01:50), an outage (16:30..18:00) and a bad span of one point
    (12:00 until its next good sample at 13:00), cut at the station's local midnight."""
    station = "st-cover"
    shanghai = ZoneInfo("Asia/Shanghai")
    minute = timedelta(minutes=1)
    birth = _meter_birth(station).model_copy(update={"points": (
        PointInfo(id="P.flow", equipment="P", equipment_kind="pump", measurand="flow",
                  unit="m3/h", dtype="float", range=(0, 200)),
        PointInfo(id="Q.flow", equipment="Q", equipment_kind="pump", measurand="flow",
                  unit="m3/h", dtype="float", range=(0, 200)),
    )})

    def batch(session: int, seq: int, at: datetime) -> Inbound:
        samples = [Sample(p="P.flow", t=at, v=1.0)]
        if at in (T0, T0 + 12 * 60 * minute, T0 + 13 * 60 * minute):
            bad = at == T0 + 12 * 60 * minute
            samples.append(Sample(p="Q.flow", t=at, v=None if bad else 2.0,
                                  q=Quality.BAD if bad else Quality.GOOD,
                                  r=Reason.COMM_LOST if bad else None))
        data = DataBatch(station=station, session=session, seq=seq, samples=tuple(samples))
        return Inbound(topic(station, Topic.DATA), b"", data)

    store = Store(database)
    store.connect()
    store.write([Inbound(topic(station, Topic.BIRTH), b"", birth)])
    store.write([batch(1, i, T0 + i * minute) for i in range(960) if not 100 <= i <= 109])
    death = Death(station=station, session=1, bdseq=1, t=T0 + timedelta(hours=16, minutes=30))
    store.write([Inbound(topic(station, Topic.DEATH), b"", death)])
    reborn = birth.model_copy(update={"session": 2, "bdseq": 2, "t": T0 + timedelta(hours=18)})
    store.write([Inbound(topic(station, Topic.BIRTH), b"", reborn)])
    store.write([batch(2, i, T0 + timedelta(hours=18) + i * minute) for i in range(120)])
    store.close()
    with psycopg.connect(database) as conn:
        days = query.coverage(conn, station, T0 - timedelta(hours=1), T0 + timedelta(hours=24),
                              by=query.Period.DAY, at=T0 + timedelta(days=2))
        only_q = query.coverage(conn, station, T0, T0 + timedelta(hours=24), points=["Q.flow"],
                                at=T0 + timedelta(days=2))
        with pytest.raises(QueryError, match="unknown point"):
            query.coverage(conn, station, T0, T0 + timedelta(hours=1), points=["nope"])
    assert [(d.start, d.end) for d in days] == [
        (datetime(2026, 2, 1, 7, tzinfo=shanghai), datetime(2026, 2, 2, tzinfo=shanghai)),
        (datetime(2026, 2, 2, tzinfo=shanghai), datetime(2026, 2, 2, 8, tzinfo=shanghai)),
    ]
    first, second = days
    assert first.timezone == "Asia/Shanghai"
    assert (first.unrecorded_s, first.seq_gap_s, first.outage_s, first.missing_s) == (
        3600, 660, 0, 660)
    assert first.covered_s == 16 * 3600 - 660
    assert {p.point: (p.missing_s, p.bad_s) for p in first.points} == {
        "P.flow": (660, 0), "Q.flow": (660 + 3600, 3600)}
    assert (second.unrecorded_s, second.outage_s, second.missing_s, second.covered_s) == (
        0, 5400, 5400, 8 * 3600 - 5400)
    assert [(p.point, p.covered_s, p.missing_s) for p in only_q[0].points] == [
        ("Q.flow", 24 * 3600 - 660 - 3600 - 5400, 660 + 3600 + 5400)]


def test_union_seconds_counts_overlaps_once_and_clips() -> None:
    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    spans = [(at(0), at(10)), (at(5), at(15)), (at(30), at(40)), (at(50), at(45))]
    assert query.union_seconds(spans, at(0), at(60)) == 25 * 60
    assert query.union_seconds(spans, at(12), at(35)) == 8 * 60
    assert query.union_seconds([], at(0), at(60)) == 0


def test_period_bounds_follow_the_station_zone_through_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 28, 12, tzinfo=berlin)
    days = query.period_bounds(start, datetime(2026, 3, 30, 12, tzinfo=berlin), berlin,
                               query.Period.DAY)
    assert [(b - a).total_seconds() / 3600 for a, b in days] == [12, 23, 12]
    assert days[1][0] == datetime(2026, 3, 29, tzinfo=berlin)
    months = query.period_bounds(datetime(2026, 1, 20, tzinfo=UTC),
                                 datetime(2026, 3, 1, tzinfo=UTC), ZoneInfo("Asia/Shanghai"),
                                 query.Period.MONTH)
    assert [a.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat() for a, _ in months] == [
        "2026-01-20", "2026-02-01", "2026-03-01"]
    assert months[-1][1] == datetime(2026, 3, 1, tzinfo=UTC)
