"""Rollups at 1 min, 15 min, 1 h and 1 day, maintained incrementally, and raw-data retention.

Every committed batch marks the 1-minute buckets it touched in ``rollup_dirty``. A rollup pass
(one at a time across all historians, under a transaction-level advisory lock) takes a set of
marks, adds the bucket of the next sample after each (a late sample changes its successor's
hold interval and counter increment), recomputes those 1-minute rollups from the raw samples and
then the 15-minute, hourly and daily buckets that contain them from the level below. Late and
replayed data therefore correct every rollup they fall into.

Definitions (``docs/historian.md``): ``samples`` counts every sample, ``bad`` the bad ones,
``uncertain`` the uncertain ones, ``valued`` those with a value and quality good or uncertain;
min, max, first, last and sum are over valued samples. The time-weighted mean is
``tw_integral / tw_seconds``: sample-and-hold, each valued sample's value held until the next
sample of the point (any quality), for at most ``max_hold``; each such interval belongs to the
bucket of the sample that ends it, so the sums of finer buckets are exactly the coarser
bucket's. Counter deltas use the same attribution over
valued samples, with ``counter_step`` (two readings back) handling suspect readings, declared
rollovers and declared resets; the pass ledgers the suspect readings of the minutes it
recomputes (``counter_suspect``).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from historian.schema import BAD, ROLLUP_LEVELS, UNCERTAIN, Features
from historian.store import BUCKET_ORIGIN

log = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[object, ...]]

ROLLUP_LOCK = 0x6765_6F73_726F_6C6C  # "geosroll"
DEFAULT_MAX_HOLD = timedelta(minutes=15)

COLUMNS = (
    "samples", "bad", "uncertain", "valued", "min", "min_time", "max", "max_time", "first",
    "first_time", "last", "last_time", "sum", "tw_integral", "tw_seconds", "counter_delta",
)

LEVEL_SECONDS = {"1m": 60, "15m": 900, "1h": 3600, "1d": 86400}


@dataclass(frozen=True)
class Level:
    """One rollup level: its name, table and bucket width."""

    name: str
    interval: str

    @property
    def seconds(self) -> int:
        """Bucket width in seconds."""
        return LEVEL_SECONDS[self.name]

    @property
    def table(self) -> str:
        """The level's table."""
        return f"rollup_{self.name}"


LEVELS = tuple(Level(name, interval) for name, interval in ROLLUP_LEVELS)


def _affected_tables() -> str:
    return "".join(
        f"CREATE TEMP TABLE IF NOT EXISTS affected_{level.name} ("
        " point_id integer NOT NULL, bucket timestamptz NOT NULL,"
        " PRIMARY KEY (point_id, bucket)) ON COMMIT DELETE ROWS;"
        for level in LEVELS
    )


_ORIGIN = sql.SQL("timestamptz {}").format(sql.Literal(BUCKET_ORIGIN))
_UPSERT_SET = sql.SQL(", ").join(
    sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in COLUMNS
)
_COLUMN_LIST = sql.SQL(", ").join(sql.Identifier(c) for c in ("point_id", "bucket", *COLUMNS))

_TAKE_MARKS = sql.SQL(
    "WITH taken AS ("
    "  DELETE FROM rollup_dirty WHERE (point_id, bucket) IN ("
    "    SELECT point_id, bucket FROM rollup_dirty WHERE marked_at <= now() - {settle}"
    "    ORDER BY bucket, point_id LIMIT {limit} FOR UPDATE SKIP LOCKED)"
    "  RETURNING point_id, bucket)"
    " INSERT INTO affected_1m SELECT point_id, bucket FROM taken ON CONFLICT DO NOTHING"
)

# A late sample changes the hold interval of the sample after it and the increments of the two
# valued samples after it; inside a run of marked minutes those are marked already, so only
# each run's last minute needs a look.
_ADD_SUCCESSORS = sql.SQL(
    "INSERT INTO affected_1m"
    " SELECT DISTINCT e.point_id, date_bin('1 minute', n.time, {origin})"
    " FROM (SELECT point_id, max(bucket) AS bucket"
    "       FROM (SELECT point_id, bucket,"
    "               bucket - row_number() OVER (PARTITION BY point_id ORDER BY bucket)"
    "                 * interval '1 minute' AS grp"
    "             FROM affected_1m) numbered"
    "       GROUP BY point_id, grp) e"
    " CROSS JOIN LATERAL ("
    "   (SELECT s.time FROM samples s WHERE s.point_id = e.point_id"
    "     AND s.time >= e.bucket + interval '1 minute' ORDER BY s.time LIMIT 1)"
    "   UNION ALL"
    "   (SELECT s.time FROM samples s WHERE s.point_id = e.point_id"
    "     AND s.time >= e.bucket + interval '1 minute' AND s.quality <> {bad}"
    "     AND s.value IS NOT NULL ORDER BY s.time LIMIT 2)) n"
    " ON CONFLICT DO NOTHING"
)

# Set-based: the marked buckets of a point are cut into islands of consecutive minutes. Each
# island's samples are read with one index range scan (LATERAL with OFFSET 0, so the planner
# cannot turn it into a join that scans every chunk of the table), plus the latest sample before
# it (and the latest valued one, for counters); window functions partitioned by island give
# every sample its predecessor. Statistics and time-weighted integrals are taken over all
# samples, counter increments over valued samples only.
_RECOMPUTE_1M = sql.SQL(
    "WITH islands AS ("
    "  SELECT point_id, grp AS island, min(bucket) AS lo,"
    "         max(bucket) + interval '1 minute' AS hi"
    "  FROM (SELECT point_id, bucket,"
    "          bucket - row_number() OVER (PARTITION BY point_id ORDER BY bucket)"
    "            * interval '1 minute' AS grp"
    "        FROM affected_1m) numbered"
    "  GROUP BY point_id, grp),"
    " rows_all AS ("
    "  SELECT i.point_id, i.island, s.time, s.value, s.quality, true AS inside,"
    "   date_bin('1 minute', s.time, {origin}) AS bucket"
    "  FROM islands i CROSS JOIN LATERAL (SELECT time, value, quality FROM samples"
    "   WHERE point_id = i.point_id AND time >= i.lo AND time < i.hi OFFSET 0) s"
    "  UNION ALL"
    "  SELECT i.point_id, i.island, b.time, b.value, b.quality, false,"
    "   date_bin('1 minute', b.time, {origin})"
    "  FROM islands i CROSS JOIN LATERAL (SELECT time, value, quality FROM samples"
    "   WHERE point_id = i.point_id AND time < i.lo ORDER BY time DESC LIMIT 1) b),"
    " w AS ("
    "  SELECT r.*, r.quality <> {bad} AND r.value IS NOT NULL AS valued,"
    "   lag(r.time) OVER o AS prev_time, lag(r.value) OVER o AS prev_value,"
    "   lag(r.quality <> {bad} AND r.value IS NOT NULL) OVER o AS prev_valued"
    "  FROM rows_all r"
    "  WINDOW o AS (PARTITION BY r.point_id, r.island ORDER BY r.bucket, r.time)),"
    " stats AS ("
    "  SELECT point_id, island, bucket, count(*)::int AS samples,"
    "   count(*) FILTER (WHERE quality = {bad})::int AS bad,"
    "   count(*) FILTER (WHERE quality = {uncertain})::int AS uncertain,"
    "   count(*) FILTER (WHERE valued)::int AS valued,"
    "   min(value) FILTER (WHERE valued) AS min,"
    "   (array_agg(time ORDER BY value, time) FILTER (WHERE valued))[1] AS min_time,"
    "   max(value) FILTER (WHERE valued) AS max,"
    "   (array_agg(time ORDER BY value DESC, time) FILTER (WHERE valued))[1] AS max_time,"
    "   (array_agg(value ORDER BY time) FILTER (WHERE valued))[1] AS first,"
    "   min(time) FILTER (WHERE valued) AS first_time,"
    "   (array_agg(value ORDER BY time DESC) FILTER (WHERE valued))[1] AS last,"
    "   max(time) FILTER (WHERE valued) AS last_time,"
    "   sum(value) FILTER (WHERE valued) AS sum,"
    "   coalesce(sum(prev_value * extract(epoch FROM time - prev_time))"
    "    FILTER (WHERE prev_valued AND time - prev_time <= {max_hold}), 0) AS tw_integral,"
    "   coalesce(sum(extract(epoch FROM time - prev_time))"
    "    FILTER (WHERE prev_valued AND time - prev_time <= {max_hold}), 0) AS tw_seconds"
    "  FROM w WHERE inside GROUP BY point_id, island, bucket),"
    " counter_islands AS ("
    "  SELECT i.* FROM islands i JOIN points p ON p.id = i.point_id WHERE p.counter),"
    " rows_valued AS ("
    "  SELECT i.point_id, i.island, s.time, s.value, true AS inside"
    "  FROM counter_islands i CROSS JOIN LATERAL (SELECT time, value FROM samples"
    "   WHERE point_id = i.point_id AND time >= i.lo AND time < i.hi AND quality <> {bad}"
    "   AND value IS NOT NULL OFFSET 0) s"
    "  UNION ALL"
    "  SELECT i.point_id, i.island, b.time, b.value, false"
    "  FROM counter_islands i CROSS JOIN LATERAL (SELECT time, value FROM samples"
    "   WHERE point_id = i.point_id AND time < i.lo AND quality <> {bad}"
    "   AND value IS NOT NULL ORDER BY time DESC LIMIT 2) b),"
    " deltas AS ("
    "  SELECT point_id, date_bin('1 minute', time, {origin}) AS bucket,"
    "   sum(counter_step(v2, t2, v1, t1, value, time, rollover, reset_id)) AS counter_delta"
    "  FROM (SELECT v.*, p.rollover,"
    "         (SELECT r.id FROM points r WHERE r.station = p.station"
    "          AND r.name = p.reset_point) AS reset_id,"
    "         lag(v.value) OVER o AS v1, lag(v.time) OVER o AS t1,"
    "         lag(v.value, 2) OVER o AS v2, lag(v.time, 2) OVER o AS t2"
    "        FROM rows_valued v JOIN points p ON p.id = v.point_id"
    "        WINDOW o AS (PARTITION BY v.point_id, v.island ORDER BY v.time)) x"
    "  WHERE inside GROUP BY 1, 2)"
    " INSERT INTO rollup_1m AS r ({columns})"
    " SELECT st.point_id, st.bucket, st.samples, st.bad, st.uncertain, st.valued, st.min,"
    "  st.min_time,"
    "  st.max, st.max_time, st.first, st.first_time, st.last, st.last_time, st.sum,"
    "  st.tw_integral, st.tw_seconds,"
    "  CASE WHEN p.counter THEN coalesce(d.counter_delta, 0) END"
    " FROM stats st JOIN points p ON p.id = st.point_id"
    " LEFT JOIN deltas d ON d.point_id = st.point_id AND d.bucket = st.bucket"
    " ON CONFLICT (point_id, bucket) DO UPDATE SET {upsert}"
)

# The counter islands of a pass, with what the counter rule needs of each point.
_COUNTER_ISLANDS = (
    "WITH islands AS ("
    "  SELECT point_id, min(bucket) AS lo, max(bucket) + interval '1 minute' AS hi"
    "  FROM (SELECT point_id, bucket,"
    "          bucket - row_number() OVER (PARTITION BY point_id ORDER BY bucket)"
    "            * interval '1 minute' AS grp"
    "        FROM affected_1m) numbered"
    "  GROUP BY point_id, grp),"
    " counter_islands AS ("
    "  SELECT i.*, p.station, p.rollover,"
    "   (SELECT r.id FROM points r WHERE r.station = p.station AND r.name = p.reset_point)"
    "     AS reset_id"
    "  FROM islands i JOIN points p ON p.id = i.point_id WHERE p.counter)"
)

# Suspect counter readings of the recomputed minutes are ledgered afresh, so late data that
# explains a decrease (or makes one) corrects the ledger as it corrects the totals.
_FORGET_SUSPECTS = sql.SQL(
    _COUNTER_ISLANDS
    + " DELETE FROM gap_ledger g USING counter_islands c"
    " WHERE g.kind = 'counter_suspect' AND g.point_id = c.point_id"
    " AND g.end_time >= c.lo AND g.end_time < c.hi"
)
_LEDGER_SUSPECTS = sql.SQL(
    _COUNTER_ISLANDS
    + ", readings AS ("
    "  SELECT c.*, s.time, s.value, true AS inside FROM counter_islands c"
    "  CROSS JOIN LATERAL (SELECT time, value FROM samples WHERE point_id = c.point_id"
    "   AND time >= c.lo AND time < c.hi AND quality <> {bad} AND value IS NOT NULL"
    "   OFFSET 0) s"
    "  UNION ALL"
    "  SELECT c.*, b.time, b.value, false FROM counter_islands c"
    "  CROSS JOIN LATERAL (SELECT time, value FROM samples WHERE point_id = c.point_id"
    "   AND time < c.lo AND quality <> {bad} AND value IS NOT NULL"
    "   ORDER BY time DESC LIMIT 1) b),"
    " pairs AS ("
    "  SELECT r.*, lag(r.value) OVER o AS v1, lag(r.time) OVER o AS t1 FROM readings r"
    "  WINDOW o AS (PARTITION BY r.point_id, r.lo ORDER BY r.time))"
    " INSERT INTO gap_ledger (kind, station, point_id, start_time, end_time, reason, count)"
    " SELECT 'counter_suspect', station, point_id, t1, time,"
    "  format('reading %s below the previous %s', value, v1), 1"
    " FROM pairs WHERE inside AND value < v1"
    " AND counter_decrease(v1, t1, value, time, rollover, reset_id) = 'suspect'"
    " ORDER BY point_id, time"
    " ON CONFLICT (point_id, end_time) WHERE kind = 'counter_suspect' DO NOTHING"
)

_AFFECT_COARSER = sql.SQL(
    "INSERT INTO {affected} SELECT DISTINCT point_id, date_bin({interval}, bucket, {origin})"
    " FROM {finer_affected} ON CONFLICT DO NOTHING"
)

# How a coarser bucket is made of the finer ones below it (both passes use this).
_COARSER_AGGREGATES = sql.SQL(
    " sum(f.samples)::int, sum(f.bad)::int,"
    "  sum(f.uncertain)::int, sum(f.valued)::int,"
    "  min(f.min), (array_agg(f.min_time ORDER BY f.min, f.min_time)"
    "   FILTER (WHERE f.min IS NOT NULL))[1],"
    "  max(f.max), (array_agg(f.max_time ORDER BY f.max DESC, f.max_time)"
    "   FILTER (WHERE f.max IS NOT NULL))[1],"
    "  (array_agg(f.first ORDER BY f.first_time) FILTER (WHERE f.first_time IS NOT NULL))[1],"
    "  min(f.first_time),"
    "  (array_agg(f.last ORDER BY f.last_time DESC) FILTER (WHERE f.last_time IS NOT NULL))[1],"
    "  max(f.last_time), sum(f.sum), sum(f.tw_integral), sum(f.tw_seconds),"
    "  sum(f.counter_delta)"
)

_RECOMPUTE_COARSER = sql.SQL(
    "INSERT INTO {table} AS r ({columns})"
    " SELECT a.point_id, a.bucket,{aggregates}"
    " FROM {affected} a JOIN {finer} f ON f.point_id = a.point_id AND f.bucket >= a.bucket"
    "  AND f.bucket < a.bucket + {interval}"
    " GROUP BY a.point_id, a.bucket"
    " ON CONFLICT (point_id, bucket) DO UPDATE SET {upsert}"
)


# The bulk path: one point over a range of whole minutes [lo, hi), every sample of it read by
# one index range scan. One sort by time serves both the predecessor of every sample and each
# minute's extremes, first and last (taken as "the earliest valued sample at the minute's
# minimum" and so on, the same as the incremental pass's ordered array_agg).
_BULK_1M = sql.SQL(
    "WITH rows_all AS ("
    "  (SELECT time, value, quality, true AS inside FROM samples"
    "   WHERE point_id = {point} AND time >= {lo} AND time < {hi})"
    "  UNION ALL"
    "  (SELECT time, value, quality, false FROM samples"
    "   WHERE point_id = {point} AND time < {lo} ORDER BY time DESC LIMIT 1)),"
    " w AS ("
    "  SELECT r.*, date_bin('1 minute', r.time, {origin}) AS bucket,"
    "   r.quality <> {bad} AND r.value IS NOT NULL AS valued"
    "  FROM rows_all r),"
    " ordered AS ("
    "  SELECT w.*,"
    "   lag(time) OVER o AS prev_time, lag(value) OVER o AS prev_value,"
    "   lag(valued) OVER o AS prev_valued,"
    "   min(value) FILTER (WHERE valued) OVER b AS b_min,"
    "   max(value) FILTER (WHERE valued) OVER b AS b_max,"
    "   min(time) FILTER (WHERE valued) OVER b AS b_first,"
    "   max(time) FILTER (WHERE valued) OVER b AS b_last"
    "  FROM w WINDOW b AS (PARTITION BY bucket), o AS (ORDER BY bucket, time)),"
    " stats AS ("
    "  SELECT bucket, count(*)::int AS samples,"
    "   count(*) FILTER (WHERE quality = {bad})::int AS bad,"
    "   count(*) FILTER (WHERE quality = {uncertain})::int AS uncertain,"
    "   count(*) FILTER (WHERE valued)::int AS valued,"
    "   min(value) FILTER (WHERE valued) AS min,"
    "   min(time) FILTER (WHERE valued AND value = b_min) AS min_time,"
    "   max(value) FILTER (WHERE valued) AS max,"
    "   min(time) FILTER (WHERE valued AND value = b_max) AS max_time,"
    "   min(value) FILTER (WHERE valued AND time = b_first) AS first,"
    "   min(time) FILTER (WHERE valued) AS first_time,"
    "   min(value) FILTER (WHERE valued AND time = b_last) AS last,"
    "   max(time) FILTER (WHERE valued) AS last_time,"
    "   sum(value) FILTER (WHERE valued) AS sum,"
    "   coalesce(sum(prev_value * extract(epoch FROM time - prev_time))"
    "    FILTER (WHERE prev_valued AND time - prev_time <= {max_hold}), 0) AS tw_integral,"
    "   coalesce(sum(extract(epoch FROM time - prev_time))"
    "    FILTER (WHERE prev_valued AND time - prev_time <= {max_hold}), 0) AS tw_seconds"
    "  FROM ordered WHERE inside GROUP BY bucket){counter_ctes}"
    " INSERT INTO rollup_1m AS r ({columns})"
    " SELECT {point}, st.bucket, st.samples, st.bad, st.uncertain, st.valued, st.min,"
    "  st.min_time, st.max, st.max_time, st.first, st.first_time, st.last, st.last_time,"
    "  st.sum, st.tw_integral, st.tw_seconds, {counter_delta}"
    " FROM stats st{counter_join}"
    " ON CONFLICT (point_id, bucket) DO UPDATE SET {upsert}"
)

_BULK_DELTAS = sql.SQL(
    ", valued_rows AS ("
    "  (SELECT time, value, true AS inside FROM samples WHERE point_id = {point}"
    "   AND time >= {lo} AND time < {hi} AND quality <> {bad} AND value IS NOT NULL)"
    "  UNION ALL"
    "  (SELECT time, value, false FROM samples WHERE point_id = {point}"
    "   AND time < {lo} AND quality <> {bad} AND value IS NOT NULL"
    "   ORDER BY time DESC LIMIT 2)),"
    " deltas AS ("
    "  SELECT date_bin('1 minute', time, {origin}) AS bucket,"
    "   sum(counter_step(v2, t2, v1, t1, value, time, {rollover}, {reset_id}))"
    "    AS counter_delta"
    "  FROM (SELECT v.*, lag(v.value) OVER o AS v1, lag(v.time) OVER o AS t1,"
    "         lag(v.value, 2) OVER o AS v2, lag(v.time, 2) OVER o AS t2"
    "        FROM valued_rows v WINDOW o AS (ORDER BY v.time)) x"
    "  WHERE inside GROUP BY 1)"
)

_BULK_COARSER = sql.SQL(
    "INSERT INTO {table} AS r ({columns})"
    " SELECT f.point_id, date_bin({interval}, f.bucket, {origin}) AS coarse,{aggregates}"
    " FROM {finer} f WHERE f.point_id = {point} AND f.bucket >= {lo} AND f.bucket < {hi}"
    " GROUP BY f.point_id, coarse"
    " ON CONFLICT (point_id, bucket) DO UPDATE SET {upsert}"
)

_BULK_AFFECT = sql.SQL(
    "INSERT INTO affected_1m SELECT {point}, m"
    " FROM generate_series({lo}, {hi} - interval '1 minute', interval '1 minute') m"
    " ON CONFLICT DO NOTHING"
)

_POINT = (
    "SELECT p.counter, p.rollover,"
    " (SELECT r.id FROM points r WHERE r.station = p.station AND r.name = p.reset_point)"
    " FROM points p WHERE p.id = %s"
)

_ORIGIN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
BULK_CHUNK = timedelta(days=1)


def prepare(conn: Connection) -> None:
    """Create the connection's temporary work tables (once per connection)."""
    # JIT compilation of a pass's plan over hundreds of chunks took ten times the pass itself.
    conn.execute("SET jit = off")
    conn.execute(_affected_tables().encode())
    conn.commit()


def refresh_once(
    conn: Connection,
    limit: int = 20000,
    max_hold: timedelta = DEFAULT_MAX_HOLD,
    settle: timedelta = timedelta(0),
) -> int:
    """Recompute up to ``limit`` marked 1-minute buckets and everything above; return how many.

    Only marks untouched for ``settle`` are taken: the minute being written is re-marked by
    every batch, and taking its mark would make those batches wait for this pass (queries read
    pending minutes from the raw samples meanwhile). Returns 0 when nothing was due or another
    historian holds the rollup lock.
    """
    with conn.transaction():
        locked = conn.execute(
            "SELECT pg_try_advisory_xact_lock(%s)", (ROLLUP_LOCK,)
        ).fetchone()
        if not locked or not locked[0]:
            return 0
        taken = conn.execute(
            _TAKE_MARKS.format(limit=sql.Literal(limit), settle=sql.Literal(settle))
        ).rowcount
        if taken <= 0:
            return 0
        _recompute_affected(conn, max_hold)
        return taken


def _recompute_affected(conn: Connection, max_hold: timedelta) -> None:
    """Recompute the minutes in ``affected_1m``, their successors' and everything above them."""
    # A pass sorts up to ~1 M samples; keep that in memory rather than in temp files.
    conn.execute("SET LOCAL work_mem = '256MB'")
    conn.execute("ANALYZE affected_1m")
    conn.execute(_ADD_SUCCESSORS.format(origin=_ORIGIN, bad=sql.Literal(BAD)))
    conn.execute(
        _RECOMPUTE_1M.format(
            columns=_COLUMN_LIST,
            origin=_ORIGIN,
            bad=sql.Literal(BAD),
            uncertain=sql.Literal(UNCERTAIN),
            max_hold=sql.SQL("{}::interval").format(sql.Literal(max_hold)),
            upsert=_UPSERT_SET,
        )
    )
    conn.execute(_FORGET_SUSPECTS)
    conn.execute(_LEDGER_SUSPECTS.format(bad=sql.Literal(BAD)))
    for finer, level in itertools.pairwise(LEVELS):
        interval = sql.SQL("interval {}").format(sql.Literal(level.interval))
        conn.execute(
            _AFFECT_COARSER.format(
                affected=sql.Identifier(f"affected_{level.name}"),
                interval=interval,
                origin=_ORIGIN,
                finer_affected=sql.Identifier(f"affected_{finer.name}"),
            )
        )
        conn.execute(
            _RECOMPUTE_COARSER.format(
                table=sql.Identifier(level.table),
                columns=_COLUMN_LIST,
                affected=sql.Identifier(f"affected_{level.name}"),
                finer=sql.Identifier(finer.table),
                interval=interval,
                upsert=_UPSERT_SET,
                aggregates=_COARSER_AGGREGATES,
            )
        )


def refresh_all(
    conn: Connection, limit: int = 20000, max_hold: timedelta = DEFAULT_MAX_HOLD
) -> int:
    """Refresh until no marks are left; return the number of 1-minute buckets recomputed."""
    total = 0
    while True:
        done = refresh_once(conn, limit, max_hold)
        if done == 0:
            pending = conn.execute("SELECT count(*) FROM rollup_dirty").fetchone()
            conn.commit()
            if not pending or pending[0] == 0:
                return total
            # another historian holds the lock; wait for it instead of spinning
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROLLUP_LOCK,))
            conn.commit()
            continue
        total += done


def floor_bucket(moment: datetime, width: timedelta) -> datetime:
    """The start of the bucket of ``width`` that holds ``moment`` (buckets from the origin)."""
    return _ORIGIN_TIME + ((moment - _ORIGIN_TIME) // width) * width


def rollup_range(
    conn: Connection,
    point_id: int,
    start: datetime,
    end: datetime,
    *,
    max_hold: timedelta = DEFAULT_MAX_HOLD,
    chunk: timedelta = BULK_CHUNK,
) -> int:
    """Recompute every rollup of one point over [start, end) set-based; return the minutes written.

    For bulk loads: the minutes from ``start``'s to ``end``'s are rolled up ``chunk`` by chunk
    (one transaction each, whole days by default), each with one statement per level, to the
    same definitions as the incremental pass; the minutes after the range that its samples
    change (the next sample's, the next two valued ones') are recomputed by the incremental
    pass itself, and the range's rollup marks are cleared. ``conn`` must be idle. A run that
    dies keeps the days it committed; running the same range again completes it.
    """
    if end <= start:
        raise ValueError(f"the range to roll up is empty: {start} to {end}")
    if chunk < timedelta(days=1) or chunk % timedelta(days=1):
        raise ValueError("the bulk rollup's chunk must be a whole number of days")
    prepare(conn)
    row = conn.execute(_POINT, (point_id,)).fetchone()
    conn.commit()
    if row is None:
        raise ValueError(f"no point with id {point_id}")
    counter, rollover, reset_id = bool(row[0]), row[1], row[2]
    minute = timedelta(minutes=1)
    first, last = floor_bucket(start, minute), floor_bucket(end - timedelta(microseconds=1), minute)
    written = 0
    lower = first
    while lower <= last:
        upper = min(floor_bucket(lower, chunk) + chunk, last + minute)
        with conn.transaction():
            # shared: bulk chunks of different points run side by side, never beside a pass
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (ROLLUP_LOCK,))
            written += _bulk_chunk(conn, point_id, lower, upper, max_hold=max_hold,
                                   counter=counter, rollover=rollover, reset_id=reset_id)
        lower = upper
    # the minutes after the range whose hold interval or increment its samples decide
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROLLUP_LOCK,))
        conn.execute("INSERT INTO affected_1m VALUES (%s, %s)", (point_id, last))
        _recompute_affected(conn, max_hold)
    return written


def _bulk_chunk(
    conn: Connection, point_id: int, lo: datetime, hi: datetime, *, max_hold: timedelta,
    counter: bool, rollover: object, reset_id: object,
) -> int:
    """Roll up one point's minutes [lo, hi) and the coarser buckets that hold them."""
    point, lo_, hi_ = sql.Literal(point_id), sql.Literal(lo), sql.Literal(hi)
    bad = sql.Literal(BAD)
    # marks cleared first: a sample written meanwhile leaves a mark the worker will take
    conn.execute(
        "DELETE FROM rollup_dirty WHERE point_id = %s AND bucket >= %s AND bucket < %s",
        (point_id, lo, hi),
    )
    conn.execute("SET LOCAL work_mem = '256MB'")
    parts = {"point": point, "lo": lo_, "hi": hi_, "origin": _ORIGIN, "bad": bad}
    written = conn.execute(
        _BULK_1M.format(
            **parts,
            uncertain=sql.Literal(UNCERTAIN),
            max_hold=sql.SQL("{}::interval").format(sql.Literal(max_hold)),
            columns=_COLUMN_LIST,
            upsert=_UPSERT_SET,
            counter_ctes=_BULK_DELTAS.format(
                **parts, rollover=sql.SQL("{}::float8").format(sql.Literal(rollover)),
                reset_id=sql.SQL("{}::int").format(sql.Literal(reset_id)))
            if counter else sql.SQL(""),
            counter_delta=sql.SQL("coalesce(d.counter_delta, 0)" if counter else "NULL"),
            counter_join=sql.SQL(" LEFT JOIN deltas d ON d.bucket = st.bucket" if counter
                                 else ""),
        )
    ).rowcount
    if counter:
        conn.execute(_BULK_AFFECT.format(point=point, lo=lo_, hi=hi_))
        conn.execute(_FORGET_SUSPECTS)
        conn.execute(_LEDGER_SUSPECTS.format(bad=bad))
        conn.execute("DELETE FROM affected_1m")
    for finer, level in itertools.pairwise(LEVELS):
        width = timedelta(seconds=level.seconds)
        conn.execute(
            _BULK_COARSER.format(
                table=sql.Identifier(level.table),
                columns=_COLUMN_LIST,
                interval=sql.SQL("interval {}").format(sql.Literal(level.interval)),
                origin=_ORIGIN,
                aggregates=_COARSER_AGGREGATES,
                finer=sql.Identifier(finer.table),
                point=point,
                lo=sql.Literal(floor_bucket(lo, width)),
                hi=sql.Literal(floor_bucket(hi - timedelta(microseconds=1), width) + width),
                upsert=_UPSERT_SET,
            )
        )
    return max(written, 0)


def drop_raw_before(conn: Connection, features: Features, cutoff: datetime) -> int:
    """Drop raw samples older than ``cutoff`` (whole chunks on TimescaleDB); rollups stay."""
    with conn.transaction():
        if features.timescaledb:
            rows = conn.execute(
                "SELECT count(*) FROM drop_chunks('samples', older_than => %s)", (cutoff,)
            ).fetchone()
            dropped = int(rows[0]) if rows else 0  # type: ignore[call-overload]
            log.info("retention: dropped %d chunk(s) of samples before %s", dropped, cutoff)
            return dropped
        deleted = conn.execute("DELETE FROM samples WHERE time < %s", (cutoff,)).rowcount
        log.info("retention: deleted %d sample(s) before %s", deleted, cutoff)
        return deleted
