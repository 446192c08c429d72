"""Rollups against aggregates computed directly from the raw rows, including after late data."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from historian import rollups
from historian.store import Inbound, Store
from plant.contract import Birth, DataBatch, PointInfo, Quality, Reason, Sample, Topic, topic

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)  # spans a day boundary
MAX_HOLD = timedelta(minutes=15)
STATION = "st-roll"


@dataclass(frozen=True)
class Raw:
    point: str
    t: datetime
    v: float | None
    bad: bool
    uncertain: bool = False


def _decrease(before: float, reading: float, rollover: float | None) -> str | None:
    """How the documented counter rule reads a pair of readings (no reset point here)."""
    if reading >= before:
        return None
    if rollover and before >= 0.9 * rollover and reading <= 0.1 * rollover:
        return "rollover"
    return "suspect"


def _increment(
    before_previous: float | None, previous: float, current: float, rollover: float | None
) -> float:
    kind = _decrease(previous, current, rollover)
    if kind == "rollover":
        assert rollover is not None
        return rollover - previous + current
    if kind == "suspect":
        return 0.0
    if (
        before_previous is not None
        and current >= before_previous
        and _decrease(before_previous, previous, rollover) == "suspect"
    ):
        return current - before_previous
    return current - previous


def _expected(
    raws: Sequence[Raw], width: timedelta, counter_modulus: dict[str, float | None]
) -> dict[tuple[str, datetime], dict[str, float | None]]:
    """The documented rollup definitions, computed straight from raw samples (no hierarchy)."""
    origin = datetime(2000, 1, 1, tzinfo=UTC)
    result: dict[tuple[str, datetime], dict[str, float | None]] = {}
    by_point: dict[str, list[Raw]] = {}
    for raw in sorted(raws, key=lambda r: (r.point, r.t)):
        by_point.setdefault(raw.point, []).append(raw)
    for point, series in by_point.items():
        previous_any: Raw | None = None
        previous_valued: Raw | None = None
        before_previous_valued: Raw | None = None
        for raw in series:
            bucket = origin + ((raw.t - origin) // width) * width
            row = result.setdefault(
                (point, bucket),
                {"samples": 0, "bad": 0, "uncertain": 0, "valued": 0, "min": None, "max": None, "first": None,
                 "last": None, "sum": None, "tw_integral": 0.0, "tw_seconds": 0.0,
                 "counter_delta": 0.0 if point in counter_modulus else None},
            )
            row["samples"] = (row["samples"] or 0) + 1
            valued = not raw.bad and raw.v is not None
            if raw.bad:
                row["bad"] = (row["bad"] or 0) + 1
            if raw.uncertain:
                row["uncertain"] = (row["uncertain"] or 0) + 1
            if previous_any is not None and previous_any.v is not None and not previous_any.bad:
                held = raw.t - previous_any.t
                if held <= MAX_HOLD:
                    seconds = held.total_seconds()
                    row["tw_integral"] = (row["tw_integral"] or 0) + previous_any.v * seconds
                    row["tw_seconds"] = (row["tw_seconds"] or 0) + seconds
            if valued:
                assert raw.v is not None
                row["valued"] = (row["valued"] or 0) + 1
                row["min"] = raw.v if row["min"] is None else min(row["min"], raw.v)
                row["max"] = raw.v if row["max"] is None else max(row["max"], raw.v)
                row["first"] = raw.v if row["first"] is None else row["first"]
                row["last"] = raw.v
                row["sum"] = raw.v + (row["sum"] or 0.0)
                if point in counter_modulus and previous_valued is not None:
                    assert previous_valued.v is not None
                    row["counter_delta"] = (row["counter_delta"] or 0.0) + _increment(
                        before_previous_valued.v if before_previous_valued else None,
                        previous_valued.v, raw.v, counter_modulus[point],
                    )
                before_previous_valued = previous_valued
                previous_valued = raw
            previous_any = raw
    return result


def _birth(counters: dict[str, float | None], analogues: list[str]) -> Birth:
    points = [
        PointInfo(id=p, equipment=p.split(".")[0], equipment_kind="pump", measurand="flow",
                  unit="m3/h", dtype="float", range=(0, 200))
        for p in analogues
    ] + [
        PointInfo(id=p, equipment=p.split(".")[0], equipment_kind="heat_meter",
                  measurand="heat_energy", unit="kWh", dtype="float",
                  range=(0, modulus or 1e12), counter=True, rollover=modulus)
        for p, modulus in counters.items()
    ]
    return Birth(station=STATION, session=1, bdseq=1, t=START, gateway="test", name=STATION,
                 kind="hydrothermal", timezone="Asia/Shanghai", site_hash="0" * 64,
                 points=tuple(points))


def _write(store: Store, raws: Sequence[Raw], seq_start: int, chunk: int = 97) -> int:
    seq = seq_start
    for index in range(0, len(raws), chunk):
        part = raws[index : index + chunk]
        batch = DataBatch(
            station=STATION, session=1, seq=seq, historical=seq_start > 0,
            samples=tuple(
                Sample(p=r.point, t=r.t, v=r.v,
                       q=Quality.BAD if r.bad else Quality.UNCERTAIN if r.uncertain else
                       Quality.GOOD,
                       r=Reason.TIMEOUT if r.bad else Reason.OUT_OF_RANGE if r.uncertain else
                       None)
                for r in part
            ),
        )
        store.write([Inbound(topic(STATION, Topic.DATA), b"", batch)])
        seq += 1
    return seq


def _series(rng: random.Random, point: str, count: int, counter: bool) -> list[Raw]:
    raws: list[Raw] = []
    moment = START
    reading = 1000.0
    for _ in range(count):
        # mostly a few seconds apart, sometimes a long silence beyond the hold limit
        step = rng.choice([1, 2, 5, 7, 30]) if rng.random() > 0.01 else rng.randint(900, 2400)
        moment += timedelta(seconds=step, microseconds=rng.randint(0, 999_999))
        bad = rng.random() < 0.05
        uncertain = not bad and rng.random() < 0.05
        if counter:
            reading = 0.0 if rng.random() < 0.003 else reading + rng.uniform(0, 5)
            value: float | None = round(reading, 3)
        else:
            value = round(50 + 20 * math.sin(moment.timestamp() / 600) + rng.gauss(0, 1), 3)
        raws.append(Raw(point, moment, None if bad else value, bad, uncertain))
    return raws


def _stored(conn: psycopg.Connection[tuple[object, ...]], level: str) -> dict[tuple[str, datetime], dict[str, object]]:
    columns = ("samples", "bad", "uncertain", "valued", "min", "max", "first", "last", "sum", "tw_integral",
               "tw_seconds", "counter_delta")
    rows = conn.execute(
        f"SELECT p.name, r.bucket, {', '.join('r.' + c for c in columns)}"
        f" FROM rollup_{level} r JOIN points p ON p.id = r.point_id"
    ).fetchall()
    return {(str(row[0]), row[1]): dict(zip(columns, row[2:], strict=True)) for row in rows}  # type: ignore[misc]


def _assert_levels_match(
    conn: psycopg.Connection[tuple[object, ...]], raws: Sequence[Raw],
    counters: dict[str, float | None],
) -> None:
    for level in rollups.LEVELS:
        expected = _expected(raws, timedelta(seconds=level.seconds), counters)
        stored = _stored(conn, level.name)
        assert stored.keys() == expected.keys(), level.name
        for key, want in expected.items():
            got = stored[key]
            for column, value in want.items():
                if value is None:
                    assert got[column] is None, (level.name, key, column)
                else:
                    assert got[column] == pytest.approx(value, rel=1e-9, abs=1e-6), (
                        level.name, key, column, got[column], value
                    )


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_match_raw_aggregates_before_and_after_late_data(
    database: str, seed: int
) -> None:
    rng = random.Random(seed)
    counters: dict[str, float | None] = {"M1.energy": None, "M2.energy": 5000.0}
    analogues = ["P1.flow", "P2.flow"]
    raws = [r for p in analogues for r in _series(rng, p, 1500, counter=False)]
    raws += [r for p in counters for r in _series(rng, p, 1500, counter=True)]
    # the late part: every fifth sample of each point, withheld and sent afterwards
    late = raws[::5]
    early = [r for r in raws if r not in set(late)]
    store = Store(database)
    store.connect()
    try:
        store.write([Inbound(topic(STATION, Topic.BIRTH), b"", _birth(counters, analogues))])
        rng.shuffle(early)
        seq = _write(store, sorted(early, key=lambda r: r.t), 0)
        with psycopg.connect(database) as conn:
            rollups.prepare(conn)
            assert rollups.refresh_all(conn, limit=500, max_hold=MAX_HOLD) > 0
            _assert_levels_match(conn, early, counters)
            rng.shuffle(late)
            _write(store, late, seq, chunk=53)
            rollups.refresh_all(conn, limit=500, max_hold=MAX_HOLD)
            _assert_levels_match(conn, raws, counters)
            assert conn.execute("SELECT count(*) FROM rollup_dirty").fetchone() == (0,)
    finally:
        store.close()


def test_counter_glitches_rollovers_and_resets_give_the_right_delta(database: str) -> None:
    counters: dict[str, float | None] = {
        "M1.energy": None, "M2.energy": 1000.0, "M3.energy": None, "M4.energy": None,
    }
    readings = {
        # 50 + 50, an undeclared drop to 0 (suspect: 0), then 30 and 50 from there: 180
        "M1.energy": [100.0, 150.0, 200.0, 0.0, 30.0, 80.0],
        # 50, a declared rollover at 1000 (50 + 20), then 30: 150
        "M2.energy": [900.0, 950.0, 20.0, 50.0],
        # one glitch reading of 0 between 150 and 160 adds nothing: 50 + 0 + 10 + 10 = 70
        "M3.energy": [100.0, 150.0, 0.0, 160.0, 170.0],
        # reset to 0 announced by M4.resets between 600 and 10: 100 + 10 + 30 = 140
        "M4.energy": [500.0, 600.0, 10.0, 40.0],
    }
    resets = [Raw("M4.resets", START, 4.0, False),
              Raw("M4.resets", START + timedelta(seconds=15), 5.0, False)]
    birth = _birth(counters, ["M4.resets"])
    birth = birth.model_copy(update={"points": tuple(
        p.model_copy(update={"reset_point": "M4.resets"}) if p.id == "M4.energy" else p
        for p in birth.points
    )})
    store = Store(database)
    store.connect()
    try:
        store.write([Inbound(topic(STATION, Topic.BIRTH), b"", birth)])
        raws = [
            Raw(point, START + timedelta(seconds=10 * i), value, False)
            for point, values in readings.items()
            for i, value in enumerate(values)
        ]
        _write(store, [*resets, *raws], 0)
        with psycopg.connect(database) as conn:
            rollups.prepare(conn)
            rollups.refresh_all(conn)
            totals: dict[object, object] = dict(
                conn.execute(
                    "SELECT p.name, sum(r.counter_delta) FROM rollup_1d r"
                    " JOIN points p ON p.id = r.point_id WHERE p.counter GROUP BY p.name"
                ).fetchall()
            )
            suspects = conn.execute(
                "SELECT p.name, g.end_time FROM gap_ledger g JOIN points p ON p.id = g.point_id"
                " WHERE g.kind = 'counter_suspect' ORDER BY p.name"
            ).fetchall()
    finally:
        store.close()
    assert totals == {
        "M1.energy": pytest.approx(180.0), "M2.energy": pytest.approx(150.0),
        "M3.energy": pytest.approx(70.0), "M4.energy": pytest.approx(140.0),
    }
    assert suspects == [("M1.energy", START + timedelta(seconds=30)),
                        ("M3.energy", START + timedelta(seconds=20))]


def test_retention_drops_old_raw_samples_and_keeps_rollups(database: str) -> None:
    store = Store(database)
    store.connect()
    try:
        raws = [Raw("P1.flow", START + timedelta(days=d, seconds=s), float(s), False)
                for d in range(3) for s in (0, 30)]
        _write(store, raws, 0)
        features = store.features
        assert features is not None
        with psycopg.connect(database) as conn:
            rollups.prepare(conn)
            rollups.refresh_all(conn)
            rollups.drop_raw_before(conn, features, START + timedelta(days=2))
            left = conn.execute("SELECT min(time), count(*) FROM samples").fetchone()
            days = conn.execute("SELECT count(*), sum(samples) FROM rollup_1d").fetchone()
    finally:
        store.close()
    # samples at 23:00 on three days; TimescaleDB drops the whole 1-day chunks ending before the
    # cutoff, plain PostgreSQL the rows: either way the third day's two samples stay
    assert left == (START + timedelta(days=2), 2)
    assert days == (3, 6)
