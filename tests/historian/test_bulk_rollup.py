"""The bulk rollup of a point's range against the incremental rollup pass on the same samples."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import psycopg
import pytest

from historian import rollups
from historian.store import Inbound, Store
from plant.contract import Topic, topic
from tests.historian.test_rollups import MAX_HOLD, START, STATION, Raw, _birth, _series, _write

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[tuple[object, ...]]
FLOATS = ("sum", "tw_integral", "tw_seconds", "counter_delta")
HAND = START + timedelta(hours=5)
"""Where the hand-computed points have their samples, after the random ones."""


Snapshot = dict[tuple[str, str, object], dict[str, object]]
"""Rollup rows by level, point and bucket, and suspect readings by point and time."""


def snapshot(conn: Conn) -> Snapshot:
    """Every rollup row of every level, and the ledgered suspect counter readings."""
    rows: Snapshot = {}
    for level in rollups.LEVELS:
        found = conn.execute(
            f"SELECT p.name, r.bucket, {', '.join('r.' + c for c in rollups.COLUMNS)}"
            f" FROM {level.table} r JOIN points p ON p.id = r.point_id"
        ).fetchall()
        for row in found:
            rows[(level.name, str(row[0]), row[1])] = dict(
                zip(rollups.COLUMNS, row[2:], strict=True))
    for name, start, end, reason in conn.execute(
        "SELECT p.name, g.start_time, g.end_time, g.reason FROM gap_ledger g"
        " JOIN points p ON p.id = g.point_id WHERE g.kind = 'counter_suspect'"
    ).fetchall():
        rows[("suspect", str(name), end)] = {"start": start, "reason": reason}
    return rows


def assert_same_rollups(got: Snapshot, want: Snapshot) -> None:
    """The same rows, nothing more or less, equal column by column (floating sums to 1e-12)."""
    assert got.keys() == want.keys()
    for key, row in want.items():
        for column, value in row.items():
            if column in FLOATS and value is not None:
                # the same terms, summed in the order each plan reads them
                assert got[key][column] == pytest.approx(value, rel=1e-12, abs=1e-9), (
                    key, column)
            else:
                assert got[key][column] == value, (key, column)


def forget_rollups(conn: Conn) -> None:
    """Forget every rollup and suspect reading and mark every minute that holds a sample."""
    for level in rollups.LEVELS:
        conn.execute(f"TRUNCATE {level.table}")
    conn.execute("DELETE FROM gap_ledger WHERE kind = 'counter_suspect'")
    conn.execute(
        "INSERT INTO rollup_dirty (point_id, bucket) SELECT DISTINCT point_id,"
        " date_bin('1 minute', time, timestamptz '2000-01-01 00:00:00+00') FROM samples"
        " ON CONFLICT DO NOTHING")
    conn.commit()


def _incremental_from_scratch(conn: Conn) -> None:
    """Forget every rollup and suspect reading, mark every minute, run the incremental pass."""
    forget_rollups(conn)
    rollups.prepare(conn)
    rollups.refresh_all(conn, limit=700, max_hold=MAX_HOLD)


def _hand_made() -> list[Raw]:
    """Two points whose first two minutes are worked out by hand in the test."""
    at = [HAND + timedelta(seconds=s) for s in (0, 20, 40, 70, 80)]
    return [
        Raw("H.flow", at[0], 10.0, False), Raw("H.flow", at[1], 20.0, False, uncertain=True),
        Raw("H.flow", at[2], None, True), Raw("H.flow", at[3], 30.0, False),
        Raw("H.flow", at[4], 40.0, False),
        # a declared rollover at 1000 between 950 and 20
        Raw("H.energy", at[0], 900.0, False), Raw("H.energy", at[1], 950.0, False),
        Raw("H.energy", at[3], 20.0, False), Raw("H.energy", at[4], 50.0, False),
    ]


def test_the_bulk_rollup_equals_the_incremental_pass(database: str) -> None:
    rng = random.Random(14)
    counters: dict[str, float | None] = {"M1.energy": None, "M2.energy": 3000.0,
                                         "H.energy": 1000.0}
    analogues = ["P1.flow", "P2.flow", "H.flow"]
    raws = [r for p in ("P1.flow", "P2.flow") for r in _series(rng, p, 900, counter=False)]
    raws += [r for p in ("M1.energy", "M2.energy") for r in _series(rng, p, 900, counter=True)]
    raws += _hand_made()
    end = max(r.t for r in raws) + timedelta(seconds=1)
    middle = START + timedelta(hours=1, minutes=7, seconds=13.5)
    # late: ten minutes of every random point, written after the rest is rolled up
    late_from = START + timedelta(hours=1, minutes=30)
    late_to = late_from + timedelta(minutes=10)
    late = [r for r in raws if late_from <= r.t < late_to]
    early = [r for r in raws if r not in late]
    assert late and any(r.bad for r in raws) and any(r.uncertain for r in raws)
    assert any(r.t - q.t > MAX_HOLD for q, r in itertools.pairwise(raws)
               if q.point == r.point)
    store = Store(database)
    store.connect()
    try:
        store.write([Inbound(topic(STATION, Topic.BIRTH), b"", _birth(counters, analogues))])
        seq = _write(store, sorted(early, key=lambda r: r.t), 0)
        with psycopg.connect(database) as conn:
            ids: dict[str, int] = {str(n): int(str(i)) for n, i in conn.execute(
                "SELECT name, id FROM points").fetchall()}
            conn.commit()
            for point_id in ids.values():
                # two ranges meeting inside a minute, each in chunks of a day
                rollups.rollup_range(conn, point_id, START, middle, max_hold=MAX_HOLD)
                rollups.rollup_range(conn, point_id, middle, end, max_hold=MAX_HOLD)
            _write(store, late, seq)
            for point in {r.point for r in late}:
                rollups.rollup_range(conn, ids[point], late_from, late_to, max_hold=MAX_HOLD)
            assert conn.execute("SELECT count(*) FROM rollup_dirty").fetchone() == (0,)
            bulk = snapshot(conn)
            conn.commit()
            _incremental_from_scratch(conn)
            incremental = snapshot(conn)
    finally:
        store.close()
    assert_same_rollups(bulk, incremental)
    assert sum(1 for key in bulk if key[0] == "suspect") >= 1

    def minute(point: str, offset_s: int) -> dict[str, object]:
        return bulk[("1m", point, HAND + timedelta(seconds=offset_s))]

    first = minute("H.flow", 0)
    assert (first["samples"], first["bad"], first["uncertain"], first["valued"]) == (3, 1, 1, 2)
    assert (first["min"], first["max"], first["first"], first["last"], first["sum"]) == (
        10.0, 20.0, 10.0, 20.0, 30.0)
    # 10 held 20 s, 20 held 20 s until the bad sample
    assert (first["tw_integral"], first["tw_seconds"]) == (600.0, 40.0)
    second = minute("H.flow", 60)
    # the bad sample held nothing; 30 held 10 s
    assert (second["samples"], second["tw_integral"], second["tw_seconds"]) == (2, 300.0, 10.0)
    assert bulk[("1h", "H.flow", HAND)]["tw_integral"] == 900.0
    # 900 → 950, then across the rollover 1000 − 950 + 20, then + 30
    assert (minute("H.energy", 0)["counter_delta"], minute("H.energy", 60)["counter_delta"]) == (
        50.0, 100.0)
