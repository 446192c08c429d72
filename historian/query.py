"""The historian's query API: raw ranges, bucketed aggregates, last values, trends, values at
given times, counter totals, the gap ledger and coverage (covered and missing time).

Every function takes an open psycopg connection and points named ``station/point``. Aggregates
and trends read the coarsest rollup fine enough for the request; rollups trail the raw data by
the rollup interval (2 s by default). Counter totals are exact: where rollups of the point are
still pending they are computed from the raw samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg import sql

from historian.rollups import DEFAULT_MAX_HOLD, LEVELS, Level
from historian.schema import BAD, QUALITY_CODES, REASON_CODES, UNCERTAIN
from historian.store import BUCKET_ORIGIN

Connection = psycopg.Connection[tuple[object, ...]]

ORIGIN = datetime.fromisoformat(BUCKET_ORIGIN.replace(" ", "T"))
QUALITY_NAMES = {code: name for name, code in QUALITY_CODES.items()}
REASON_NAMES = {code: name for name, code in REASON_CODES.items()}


class QueryError(ValueError):
    """A query that cannot be answered as asked (unknown point, empty range, …)."""


@dataclass(frozen=True)
class PointRef:
    """A point of a station, written ``station/point``."""

    station: str
    name: str

    @classmethod
    def parse(cls, text: str) -> PointRef:
        """Parse ``station/point``; raise QueryError naming what is wrong."""
        station, slash, name = text.partition("/")
        if not slash or not station or not name:
            raise QueryError(f"point {text!r} must be written station/point")
        return cls(station, name)

    def __str__(self) -> str:
        return f"{self.station}/{self.name}"


@dataclass(frozen=True)
class RawSample:
    """One stored sample."""

    time: datetime
    value: float | None
    quality: str
    reason: str | None


@dataclass(frozen=True)
class Aggregate:
    """Statistics of one bucket; ``source`` is the rollup level (or ``raw``) they came from."""

    bucket: datetime
    samples: int
    bad: int
    uncertain: int
    valued: int
    min: float | None
    max: float | None
    first: float | None
    last: float | None
    mean: float | None
    time_weighted_mean: float | None
    counter_delta: float | None
    source: str


@dataclass(frozen=True)
class TrendPoint:
    """One vertex of a downsampled trend."""

    time: datetime
    value: float


class Interpolation(StrEnum):
    """How values at given times are found."""

    PREVIOUS = "previous"
    LINEAR = "linear"


@dataclass(frozen=True)
class ValueAt:
    """The value of a point at a time, with the quality of the answer and where it came from."""

    time: datetime
    value: float | None
    quality: str
    source_time: datetime | None
    note: str


@dataclass(frozen=True)
class CounterTotal:
    """How much a meter counted over a period, and how much of the period the data covers."""

    point: PointRef
    start: datetime
    end: datetime
    total: float
    from_rollups: bool
    covered_s: float
    """Seconds of the period with a complete record of the meter (see :func:`coverage`)."""
    missing_s: float
    """Seconds of the period the ledger says are missing or bad: the total may lack them."""
    suspect_readings: int
    """Readings in the period below the one before them, counted as increment 0."""


class Period(StrEnum):
    """How a coverage answer is cut, at boundaries in the station's time zone."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True)
class PointCoverage:
    """Covered and missing time of one point in one period (seconds)."""

    point: str
    covered_s: float
    missing_s: float
    bad_s: float
    """Of the missing time, what the station-level record had but the point's quality did not."""


@dataclass(frozen=True)
class Coverage:
    """Covered and missing time of a station in one period, with its points.

    ``missing_s`` is the union of outages (a gateway connection's death until the next birth)
    and sequence gaps not filled yet (between the sample times around them); ``unrecorded_s``
    is the part before the station's first record or after now, which is neither.
    """

    station: str
    timezone: str
    start: datetime
    end: datetime
    covered_s: float
    missing_s: float
    outage_s: float
    seq_gap_s: float
    unrecorded_s: float
    points: tuple[PointCoverage, ...]


@dataclass(frozen=True)
class GapEntry:
    """One entry of the gap ledger."""

    kind: str
    station: str
    session: int | None
    point: str | None
    from_seq: int | None
    to_seq: int | None
    start_time: datetime | None
    end_time: datetime | None
    reason: str | None
    count: int
    filled_at: datetime | None
    bdseq: int | None = None
    """For an outage (``session_death``): the gateway connection it belongs to."""


@dataclass(frozen=True)
class Liveness:
    """Whether the historian holds a station's gateway for connected, and since when."""

    station: str
    alive: bool
    since: datetime | None
    """The newest birth's time when alive, else the start of the open outage."""
    bdseq: int | None
    session: int | None
    reason: str | None
    """Why it is down (``lost``: a will; ``clean stop``), None when alive."""


def _check_range(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise QueryError("times must carry a time zone (for example 2026-01-15T00:00:00Z)")
    if end <= start:
        raise QueryError(f"the range {start.isoformat()} .. {end.isoformat()} is empty")


def point_id(conn: Connection, point: PointRef) -> int:
    """Return the database id of a point; raise QueryError if the historian does not know it."""
    row = conn.execute(
        "SELECT id FROM points WHERE station = %s AND name = %s", (point.station, point.name)
    ).fetchone()
    if row is None:
        raise QueryError(f"unknown point {point}")
    return int(str(row[0]))


@dataclass(frozen=True)
class PointMeta:
    """What the historian knows of a point from its station's birth."""

    point: PointRef
    unit: str | None
    measurand: str | None
    equipment: str | None


def describe(conn: Connection, point: PointRef) -> PointMeta:
    """A point's unit, measurand and equipment; QueryError if the historian does not know it."""
    row = conn.execute(
        "SELECT unit, measurand, equipment FROM points WHERE station = %s AND name = %s",
        (point.station, point.name),
    ).fetchone()
    if row is None:
        raise QueryError(f"unknown point {point}")
    unit, measurand, equipment = (str(v) if v is not None else None for v in row)
    return PointMeta(point, unit, measurand, equipment)


def _sample(row: Sequence[object]) -> RawSample:
    quality = int(row[2])  # type: ignore[call-overload]
    reason = row[3]
    return RawSample(
        time=row[0],  # type: ignore[arg-type]
        value=row[1],  # type: ignore[arg-type]
        quality=QUALITY_NAMES.get(quality, str(quality)),
        reason=REASON_NAMES.get(int(reason), str(reason)) if reason is not None else None,  # type: ignore[call-overload]
    )


def raw(
    conn: Connection, point: PointRef, start: datetime, end: datetime, limit: int | None = None
) -> list[RawSample]:
    """Every stored sample of a point in [start, end), oldest first."""
    _check_range(start, end)
    pid = point_id(conn, point)
    rows = conn.execute(
        "SELECT time, value, quality, reason FROM samples"
        " WHERE point_id = %s AND time >= %s AND time < %s ORDER BY time LIMIT %s",
        (pid, start, end, limit),
    ).fetchall()
    return [_sample(row) for row in rows]


def station_points(conn: Connection, station: str) -> list[PointRef]:
    """Every point the historian knows of a station; raise QueryError for an unknown station."""
    rows = conn.execute(
        "SELECT name FROM points WHERE station = %s ORDER BY name", (station,)
    ).fetchall()
    if not rows:
        raise QueryError(f"unknown station {station!r}")
    return [PointRef(station, str(row[0])) for row in rows]


def last_values(conn: Connection, points: Sequence[PointRef]) -> dict[PointRef, RawSample | None]:
    """The newest sample of each point (any quality), None for a point with no data."""
    result: dict[PointRef, RawSample | None] = {point: None for point in points}
    if not points:
        return result
    rows = conn.execute(
        "SELECT w.station, w.name, s.time, s.value, s.quality, s.reason"
        " FROM unnest(%s::text[], %s::text[]) AS w(station, name)"
        " JOIN points p ON p.station = w.station AND p.name = w.name"
        " CROSS JOIN LATERAL (SELECT time, value, quality, reason FROM samples"
        "   WHERE point_id = p.id ORDER BY time DESC LIMIT 1) s",
        ([p.station for p in points], [p.name for p in points]),
    ).fetchall()
    for row in rows:
        result[PointRef(str(row[0]), str(row[1]))] = _sample(row[2:])
    return result


def choose_level(bucket: timedelta) -> Level | None:
    """The coarsest rollup whose buckets tile a bucket of this width, None if none does."""
    seconds = bucket.total_seconds()
    for level in reversed(LEVELS):
        if seconds >= level.seconds and seconds % level.seconds == 0:
            return level
    return None


_COARSE_AGGREGATES = (
    "sum(f.samples)::int, sum(f.bad)::int, sum(f.valued)::int, min(f.min), max(f.max),"
    " (array_agg(f.first ORDER BY f.first_time) FILTER (WHERE f.first_time IS NOT NULL))[1],"
    " (array_agg(f.last ORDER BY f.last_time DESC) FILTER (WHERE f.last_time IS NOT NULL))[1],"
    " sum(f.sum) / nullif(sum(f.valued), 0),"
    " sum(f.tw_integral) / nullif(sum(f.tw_seconds), 0), sum(f.counter_delta),"
    " sum(f.uncertain)::int"
)


def aggregates(
    conn: Connection,
    point: PointRef,
    start: datetime,
    end: datetime,
    bucket: timedelta,
    *,
    max_hold: timedelta = DEFAULT_MAX_HOLD,
) -> list[Aggregate]:
    """Statistics per bucket (aligned to 2000-01-01 UTC) over the buckets that meet [start, end).

    Read from the coarsest rollup that tiles the bucket; from raw samples for buckets shorter
    than a minute or not a whole number of minutes.
    """
    _check_range(start, end)
    if bucket <= timedelta(0):
        raise QueryError("the bucket must be longer than zero")
    if (end - start) / bucket > 100_000:
        raise QueryError("more than 100000 buckets; ask for a wider bucket")
    pid = point_id(conn, point)
    level = choose_level(bucket)
    lo, hi = _floor(start, bucket), _ceil(end, bucket)
    rows: list[tuple[object, ...]] = []
    if level is not None:
        pending = _pending_from(conn, pid, hi)
        split = hi if pending is None else max(lo, min(hi, _floor(pending, bucket)))
        if lo < split:
            rows += _rollup_aggregates(conn, pid, level, lo=lo, hi=split, bucket=bucket)
        if split < hi:
            rows += _raw_aggregates(conn, pid, lo=split, hi=hi, bucket=bucket, max_hold=max_hold)
    else:
        rows = _raw_aggregates(conn, pid, lo=lo, hi=hi, bucket=bucket, max_hold=max_hold)
    return [
        Aggregate(
            bucket=row[0],  # type: ignore[arg-type]
            samples=row[1],  # type: ignore[arg-type]
            bad=row[2],  # type: ignore[arg-type]
            uncertain=row[11],  # type: ignore[arg-type]
            valued=row[3],  # type: ignore[arg-type]
            min=row[4],  # type: ignore[arg-type]
            max=row[5],  # type: ignore[arg-type]
            first=row[6],  # type: ignore[arg-type]
            last=row[7],  # type: ignore[arg-type]
            mean=float(row[8]) if row[8] is not None else None,  # type: ignore[arg-type]
            time_weighted_mean=float(row[9]) if row[9] is not None else None,  # type: ignore[arg-type]
            counter_delta=row[10],  # type: ignore[arg-type]
            source=str(row[12]),
        )
        for row in rows
    ]


def _pending_from(conn: Connection, pid: int, before: datetime) -> datetime | None:
    """The earliest 1-minute bucket of the point whose rollups are not refreshed yet."""
    row = conn.execute(
        "SELECT min(bucket) FROM rollup_dirty WHERE point_id = %s AND bucket < %s", (pid, before)
    ).fetchone()
    return row[0] if row else None  # type: ignore[return-value]


def _rollup_aggregates(
    conn: Connection, pid: int, level: Level, *, lo: datetime, hi: datetime, bucket: timedelta
) -> list[tuple[object, ...]]:
    query = sql.SQL(
        "SELECT date_bin(%(width)s, f.bucket, %(origin)s) AS b, {aggregates}, {source}"
        " FROM {table} f WHERE f.point_id = %(pid)s AND f.bucket >= %(lo)s"
        " AND f.bucket < %(hi)s GROUP BY b ORDER BY b"
    ).format(
        aggregates=sql.SQL(_COARSE_AGGREGATES),
        table=sql.Identifier(level.table),
        source=sql.Literal(level.name),
    )
    params = {"width": bucket, "origin": ORIGIN, "pid": pid, "lo": lo, "hi": hi}
    return conn.execute(query, params).fetchall()


_RAW_AGGREGATES = sql.SQL(
    "WITH w AS ("
    "  SELECT u.*, lag(u.time) OVER o AS prev_time, lag(u.value) OVER o AS prev_value,"
    "   coalesce(lag(u.valued) OVER o AND u.time - lag(u.time) OVER o <= %(hold)s,"
    "            false) AS holds"
    "  FROM ("
    "   (SELECT time, value, quality, quality <> {bad} AND value IS NOT NULL AS valued"
    "    FROM samples WHERE point_id = %(pid)s AND time < %(lo)s"
    "    ORDER BY time DESC LIMIT 1)"
    "   UNION ALL"
    "   (SELECT time, value, quality, quality <> {bad} AND value IS NOT NULL"
    "    FROM samples WHERE point_id = %(pid)s AND time >= %(lo)s AND time < %(hi)s)"
    "  ) u WINDOW o AS (ORDER BY u.time))"
    " SELECT date_bin(%(width)s, time, %(origin)s) AS b, count(*)::int,"
    "  count(*) FILTER (WHERE quality = {bad})::int, count(*) FILTER (WHERE valued)::int,"
    "  min(value) FILTER (WHERE valued), max(value) FILTER (WHERE valued),"
    "  (array_agg(value ORDER BY time) FILTER (WHERE valued))[1],"
    "  (array_agg(value ORDER BY time DESC) FILTER (WHERE valued))[1],"
    "  avg(value) FILTER (WHERE valued),"
    "  sum(prev_value * extract(epoch FROM time - prev_time)) FILTER (WHERE holds)"
    "   / nullif(sum(extract(epoch FROM time - prev_time)) FILTER (WHERE holds), 0),"
    "  NULL::double precision, count(*) FILTER (WHERE quality = {uncertain})::int, 'raw'"
    " FROM w WHERE time >= %(lo)s GROUP BY b ORDER BY b"
).format(bad=sql.Literal(BAD), uncertain=sql.Literal(UNCERTAIN))


def _raw_aggregates(
    conn: Connection,
    pid: int,
    *,
    lo: datetime,
    hi: datetime,
    bucket: timedelta,
    max_hold: timedelta,
) -> list[tuple[object, ...]]:
    params = {
        "width": bucket, "origin": ORIGIN, "pid": pid, "lo": lo, "hi": hi, "hold": max_hold,
    }
    return conn.execute(_RAW_AGGREGATES, params).fetchall()


def _floor(moment: datetime, width: timedelta) -> datetime:
    return ORIGIN + ((moment - ORIGIN) // width) * width


def _ceil(moment: datetime, width: timedelta) -> datetime:
    floor = _floor(moment, width)
    return floor if floor == moment else floor + width


def trend(
    conn: Connection, point: PointRef, start: datetime, end: datetime, max_points: int = 2000
) -> list[TrendPoint]:
    """At most ``max_points`` vertices over [start, end) that keep every pixel's extremes.

    The range is cut into ``max_points // 2`` slots; each contributes its minimum and maximum in
    time order, read from the coarsest rollup finer than a slot (raw samples if none is).
    """
    _check_range(start, end)
    if max_points < 2:
        raise QueryError("a trend needs at least 2 points")
    pid = point_id(conn, point)
    slots = max_points // 2
    level = trend_level(end - start, slots)
    split = start
    extremes: dict[int, list[tuple[datetime, float]]] = {}
    if level is not None:
        pending = _pending_from(conn, pid, end)
        width = timedelta(seconds=level.seconds)
        split = end if pending is None else max(start, min(end, _floor(pending, width)))
        _merge_extremes(extremes, conn.execute(
            sql.SQL(_TREND_ROLLUP).format(table=sql.Identifier(level.table)),
            {"pid": pid, "start": start, "end": end, "hi": split, "slots": slots},
        ).fetchall())
    if split < end:
        _merge_extremes(extremes, conn.execute(
            sql.SQL(_TREND_RAW).format(bad=sql.Literal(BAD)),
            {"pid": pid, "start": start, "end": end, "lo": split, "slots": slots},
        ).fetchall())
    vertices: list[TrendPoint] = []
    for slot_number in sorted(extremes):
        for moment, value in sorted(extremes[slot_number]):
            if vertices and vertices[-1].time == moment:
                continue
            vertices.append(TrendPoint(moment, value))
    return vertices


def trend_level(period: timedelta, slots: int) -> Level | None:
    """The coarsest rollup finer than one of ``slots`` slots of ``period``; None: raw samples."""
    slot = period / slots
    return next((lv for lv in reversed(LEVELS) if timedelta(seconds=lv.seconds) <= slot), None)


_TREND_RAW = (
    "SELECT width_bucket(extract(epoch FROM time - %(start)s),"
    "  0, extract(epoch FROM %(end)s - %(start)s), %(slots)s) AS k,"
    " min(value), (array_agg(time ORDER BY value, time))[1],"
    " max(value), (array_agg(time ORDER BY value DESC, time))[1]"
    " FROM samples WHERE point_id = %(pid)s AND time >= %(lo)s AND time < %(end)s"
    " AND quality <> {bad} AND value IS NOT NULL GROUP BY k"
)
_TREND_ROLLUP = (
    "SELECT width_bucket(extract(epoch FROM bucket - %(start)s),"
    "  0, extract(epoch FROM %(end)s - %(start)s), %(slots)s) AS k,"
    " min(min), (array_agg(min_time ORDER BY min, min_time))[1],"
    " max(max), (array_agg(max_time ORDER BY max DESC, max_time))[1]"
    " FROM {table} WHERE point_id = %(pid)s AND bucket >= %(start)s AND bucket < %(hi)s"
    " AND valued > 0 GROUP BY k"
)


def _merge_extremes(
    extremes: dict[int, list[tuple[datetime, float]]], rows: Sequence[Sequence[object]]
) -> None:
    """Keep, per slot, the lowest and the highest value seen with their times."""
    for slot_number, low, low_time, high, high_time in rows:
        key = int(slot_number)  # type: ignore[call-overload]
        found = extremes.setdefault(key, [])
        candidates = [*found, (low_time, float(low)), (high_time, float(high))]  # type: ignore[arg-type]
        lowest = min(candidates, key=lambda item: (item[1], item[0]))
        highest = max(candidates, key=lambda item: (item[1], -item[0].timestamp()))  # type: ignore[attr-defined]
        extremes[key] = [lowest] if lowest == highest else [lowest, highest]  # type: ignore[list-item]


def values_at(
    conn: Connection,
    point: PointRef,
    times: Sequence[datetime],
    interpolation: Interpolation = Interpolation.PREVIOUS,
    max_hold: timedelta = DEFAULT_MAX_HOLD,
) -> list[ValueAt]:
    """The value at each time: the last known one, or interpolated linearly between neighbours.

    The answer is ``good`` only when it rests on good samples close enough (within
    ``max_hold``); an older last-known value or a neighbour of uncertain quality makes it
    ``uncertain``; no valued sample before the time (or a bad sample as the latest) makes it
    ``bad`` with no value.
    """
    if any(moment.tzinfo is None for moment in times):
        raise QueryError("times must carry a time zone")
    pid = point_id(conn, point)
    rows = conn.execute(
        sql.SQL(
            "SELECT w.t, pa.quality, pv.time, pv.value, pv.quality, nv.time, nv.value, nv.quality"
            " FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS w(t, n)"
            " LEFT JOIN LATERAL (SELECT time, quality FROM samples WHERE point_id = %s"
            "   AND time <= w.t ORDER BY time DESC LIMIT 1) pa ON true"
            " LEFT JOIN LATERAL (SELECT time, value, quality FROM samples WHERE point_id = %s"
            "   AND time <= w.t AND quality <> {bad} AND value IS NOT NULL"
            "   ORDER BY time DESC LIMIT 1) pv ON true"
            " LEFT JOIN LATERAL (SELECT time, value, quality FROM samples WHERE point_id = %s"
            "   AND time > w.t AND quality <> {bad} AND value IS NOT NULL"
            "   ORDER BY time LIMIT 1) nv ON true"
            " ORDER BY w.n"
        ).format(bad=sql.Literal(BAD)),
        (list(times), pid, pid, pid),
    ).fetchall()
    answers: list[ValueAt] = []
    for row in rows:
        answers.append(_answer(_Neighbours(*row), interpolation, max_hold))  # type: ignore[arg-type]
    return answers


class _Neighbours(NamedTuple):
    """What the database knows around one requested time."""

    moment: datetime
    latest_quality: int | None
    p_time: datetime | None
    p_value: float | None
    p_quality: int | None
    n_time: datetime | None
    n_value: float | None
    n_quality: int | None


def _answer(
    around: _Neighbours, interpolation: Interpolation, max_hold: timedelta
) -> ValueAt:
    """Judge one value-at-time answer from its neighbouring samples (pure)."""
    moment, latest_quality, p_time, p_value, p_quality, n_time, n_value, n_quality = around
    if p_time is None or p_value is None:
        return ValueAt(moment, None, "bad", None, "no valued sample at or before this time")
    if latest_quality == BAD:
        return ValueAt(moment, None, "bad", p_time, "the latest sample before this time is bad")
    worst = max(p_quality or 0, 0)
    if p_time == moment:
        return ValueAt(moment, p_value, QUALITY_NAMES[worst], p_time, "exact sample")
    if (
        interpolation is Interpolation.LINEAR
        and n_time is not None
        and n_value is not None
        and n_time - p_time <= max_hold
    ):
        fraction = (moment - p_time) / (n_time - p_time)
        value = p_value + (n_value - p_value) * fraction
        worst = max(worst, n_quality or 0)
        return ValueAt(moment, value, QUALITY_NAMES[worst], p_time, "interpolated")
    if moment - p_time > max_hold:
        return ValueAt(
            moment, p_value, "uncertain", p_time, f"last known value, older than {max_hold}"
        )
    note = "last known value" if interpolation is Interpolation.PREVIOUS else (
        "last known value (no close sample after this time to interpolate to)"
    )
    quality = QUALITY_NAMES[worst] if interpolation is Interpolation.PREVIOUS else "uncertain"
    return ValueAt(moment, p_value, quality, p_time, note)


def cover(start: datetime, end: datetime, levels: Sequence[Level] = LEVELS) -> list[
    tuple[Level, datetime, datetime]
]:
    """Split [start, end) (whole minutes) into aligned ranges of the coarsest possible levels."""
    if start >= end or not levels:
        return []
    coarsest = levels[-1]
    width = timedelta(seconds=coarsest.seconds)
    inner_start, inner_end = _ceil(start, width), _floor(end, width)
    if inner_start >= inner_end:
        return cover(start, end, levels[:-1])
    return [
        *cover(start, inner_start, levels[:-1]),
        (coarsest, inner_start, inner_end),
        *cover(inner_end, end, levels[:-1]),
    ]


_RAW_COUNTER = sql.SQL(
    "SELECT coalesce(sum(counter_step(v2, t2, v1, t1, value, time, %(rollover)s,"
    "  %(reset)s)) FILTER (WHERE time >= %(lo)s), 0)"
    " FROM (SELECT time, value, lag(value) OVER o AS v1, lag(time) OVER o AS t1,"
    "   lag(value, 2) OVER o AS v2, lag(time, 2) OVER o AS t2 FROM ("
    "   (SELECT time, value FROM samples WHERE point_id = %(pid)s AND time < %(lo)s"
    "    AND quality <> {bad} AND value IS NOT NULL ORDER BY time DESC LIMIT 2)"
    "   UNION ALL"
    "   (SELECT time, value FROM samples WHERE point_id = %(pid)s AND time >= %(lo)s"
    "    AND time < %(hi)s AND quality <> {bad} AND value IS NOT NULL)) u"
    "  WINDOW o AS (ORDER BY time)) v"
).format(bad=sql.Literal(BAD))


def counter_total(
    conn: Connection, point: PointRef, start: datetime, end: datetime
) -> CounterTotal:
    """What a meter counted over [start, end): the sum of the increments of the valued readings
    in the period (``counter_step``: suspect readings count 0, declared rollovers and resets are
    followed), with the period's coverage of the meter."""
    _check_range(start, end)
    row = conn.execute(
        "SELECT p.id, p.counter, p.rollover, (SELECT r.id FROM points r"
        "  WHERE r.station = p.station AND r.name = p.reset_point)"
        " FROM points p WHERE p.station = %s AND p.name = %s",
        (point.station, point.name),
    ).fetchone()
    if row is None:
        raise QueryError(f"unknown point {point}")
    pid, is_counter, rollover, reset = row
    if not is_counter:
        raise QueryError(f"{point} is not announced as a counter")
    minute = timedelta(minutes=1)
    lo, hi = _ceil(start, minute), _floor(end, minute)
    pending = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM rollup_dirty WHERE point_id = %s AND bucket < %s)",
        (pid, end),
    ).fetchone()
    use_rollups = lo < hi and pending is not None and not pending[0]
    pieces: list[tuple[datetime, datetime]] = []
    total = 0.0
    if use_rollups:
        pieces = [(start, lo), (hi, end)]
        for level, a, b in cover(lo, hi):
            part = conn.execute(
                sql.SQL(
                    "SELECT coalesce(sum(counter_delta), 0) FROM {table}"
                    " WHERE point_id = %s AND bucket >= %s AND bucket < %s"
                ).format(table=sql.Identifier(level.table)),
                (pid, a, b),
            ).fetchone()
            total += float(part[0]) if part else 0.0  # type: ignore[arg-type]
    else:
        pieces = [(start, end)]
    for a, b in pieces:
        if a >= b:
            continue
        part = conn.execute(
            _RAW_COUNTER,
            {"pid": pid, "lo": a, "hi": b, "rollover": rollover, "reset": reset},
        ).fetchone()
        total += float(part[0]) if part else 0.0  # type: ignore[arg-type]
    covered = coverage(conn, point.station, start, end, points=[point.name])
    suspects = conn.execute(
        "SELECT count(*) FROM gap_ledger WHERE kind = 'counter_suspect' AND point_id = %s"
        " AND end_time >= %s AND end_time < %s",
        (pid, start, end),
    ).fetchone()
    return CounterTotal(
        point, start, end, total, use_rollups,
        covered_s=sum(c.points[0].covered_s for c in covered),
        missing_s=sum(c.points[0].missing_s for c in covered),
        suspect_readings=int(suspects[0]) if suspects else 0,  # type: ignore[call-overload]
    )


def gaps(
    conn: Connection, station: str, start: datetime, end: datetime
) -> list[GapEntry]:
    """Gap-ledger entries of a station that touch [start, end), or have no times (seq gaps)."""
    _check_range(start, end)
    rows = conn.execute(
        "SELECT g.kind, g.station, g.session, p.name, g.from_seq, g.to_seq, g.start_time,"
        " g.end_time, g.reason, g.count, g.filled_at, g.bdseq FROM gap_ledger g"
        " LEFT JOIN points p ON p.id = g.point_id"
        " WHERE g.station = %s AND (g.start_time IS NULL OR"
        "  (g.start_time < %s AND coalesce(g.end_time, 'infinity') >= %s))"
        " ORDER BY g.start_time NULLS FIRST, g.id",
        (station, end, start),
    ).fetchall()
    return [GapEntry(*row) for row in rows]  # type: ignore[arg-type]


def liveness(conn: Connection, station: str) -> Liveness:
    """The station's liveness as the ledger has it: down while an outage is open."""
    row = conn.execute(
        "SELECT s.birth_time, s.bdseq, s.session, o.start_time, o.bdseq, o.reason"
        " FROM stations s LEFT JOIN LATERAL (SELECT start_time, bdseq, reason FROM gap_ledger"
        "  WHERE kind = 'session_death' AND station = s.id AND end_time IS NULL"
        "  ORDER BY start_time DESC LIMIT 1) o ON true WHERE s.id = %s",
        (station,),
    ).fetchone()
    if row is None:
        raise QueryError(f"unknown station {station!r}")
    birth_time, bdseq, session, down_since, down_bdseq, reason = row
    if down_since is not None:
        return Liveness(station, False, down_since, down_bdseq, session, reason)  # type: ignore[arg-type]
    return Liveness(station, birth_time is not None, birth_time, bdseq, session, None)  # type: ignore[arg-type]


Span = tuple[datetime, datetime]


def union_seconds(spans: Iterable[Span], lo: datetime, hi: datetime) -> float:
    """Seconds of [lo, hi) inside the union of ``spans`` (pure)."""
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in spans if a < hi and b > lo)
    total = 0.0
    current: Span | None = None
    for a, b in clipped:
        if a >= b:
            continue
        if current is None or a > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = (a, b)
        else:
            current = (current[0], max(current[1], b))
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


def bad_quality_spans(conn: Connection, station: str, names: Sequence[str], *, start: datetime,
                      end: datetime, horizon: datetime) -> dict[str, list[Span]]:
    """Each point's bad spans in [start, end); an open one ends at its next sample not bad."""
    bad: dict[str, list[Span]] = {name: [] for name in names}
    rows = conn.execute(
        "SELECT p.name, g.start_time, g.end_time, g.point_id"
        " FROM gap_ledger g JOIN points p ON p.id = g.point_id"
        " WHERE g.kind = 'bad_quality' AND g.station = %(s)s AND p.name = ANY(%(names)s)"
        " AND g.start_time < %(hi)s AND coalesce(g.end_time, 'infinity') > %(lo)s",
        {"s": station, "lo": start, "hi": end, "names": list(names)},
    ).fetchall()
    for name, a, closed, pid in rows:
        b = closed
        if b is None:
            # one lookup per open span, bounded below by its start: as a subquery correlated
            # to the ledger rows it cost 0.2-0.5 s per call over a year of hypertable chunks,
            # even with no span to look up
            row = conn.execute(
                sql.SQL("SELECT min(time) FROM samples WHERE point_id = %s AND time > %s"
                        " AND quality <> {bad}").format(bad=sql.Literal(BAD)),
                (pid, a),
            ).fetchone()
            b = row[0] if row is not None and row[0] is not None else horizon
        bad[str(name)].append((a, b))  # type: ignore[arg-type]
    return bad


def period_bounds(start: datetime, end: datetime, zone: ZoneInfo, by: Period | None) -> list[Span]:
    """Cut [start, end) at the day, month or year boundaries of a time zone (pure)."""
    if by is None:
        return [(start, end)]
    local = start.astimezone(zone)
    if by is Period.DAY:
        first = local.date()
    elif by is Period.MONTH:
        first = local.date().replace(day=1)
    else:
        first = local.date().replace(month=1, day=1)
    bounds: list[Span] = []
    lower = start
    day = first
    while lower < end:
        if by is Period.DAY:
            day = day + timedelta(days=1)
        elif by is Period.MONTH:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            day = day.replace(year=day.year + 1)
        upper = min(end, datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC))
        if upper > lower:
            bounds.append((lower, upper))
        lower = upper
    return bounds


def station_zone(conn: Connection, station: str) -> tuple[str, ZoneInfo]:
    """The station's time zone from its birth (UTC when it announced none or an unknown one)."""
    row = conn.execute("SELECT timezone FROM stations WHERE id = %s", (station,)).fetchone()
    if row is None:
        raise QueryError(f"unknown station {station!r}")
    name = str(row[0]) if row[0] else "UTC"
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"UTC (announced {name!r} is unknown)", ZoneInfo("UTC")


def coverage(
    conn: Connection,
    station: str,
    start: datetime,
    end: datetime,
    *,
    by: Period | None = None,
    points: Sequence[str] | None = None,
    at: datetime | None = None,
) -> list[Coverage]:
    """Covered and missing time of a station and its points in [start, end), per period.

    Station-level missing time is the union of outages and unfilled sequence gaps; a point also
    misses its bad-quality spans (each until the point's next sample that is not bad). Time
    before the station's first record or after ``at`` (now) is unrecorded.
    """
    _check_range(start, end)
    zone_name, zone = station_zone(conn, station)
    horizon = min(end, at or now())
    first = conn.execute(
        "SELECT least((SELECT min(birth_time) FROM station_sessions WHERE station = %(s)s),"
        " (SELECT first_time FROM received_batches WHERE station = %(s)s"
        "  AND first_time IS NOT NULL ORDER BY session, seq LIMIT 1))",
        {"s": station},
    ).fetchone()
    recorded_from: datetime = first[0] if first and first[0] else horizon  # type: ignore[assignment]
    outages = _spans(conn.execute(
        "SELECT start_time, coalesce(end_time, %(h)s) FROM gap_ledger"
        " WHERE kind = 'session_death' AND station = %(s)s AND start_time < %(hi)s"
        " AND coalesce(end_time, 'infinity') > %(lo)s",
        {"s": station, "lo": start, "hi": end, "h": max(horizon, start)},
    ).fetchall())
    gaps = _spans(conn.execute(
        "SELECT coalesce(start_time, end_time), coalesce(end_time, %(h)s) FROM gap_ledger"
        " WHERE kind = 'seq_gap' AND station = %(s)s AND filled_at IS NULL"
        " AND coalesce(start_time, end_time) < %(hi)s AND coalesce(end_time, 'infinity') > %(lo)s",
        {"s": station, "lo": start, "hi": end, "h": max(horizon, start)},
    ).fetchall())
    names = [
        str(r[0]) for r in conn.execute(
            "SELECT name FROM points WHERE station = %s AND (%s::text[] IS NULL OR name = ANY(%s))"
            " ORDER BY name",
            (station, list(points) if points is not None else None,
             list(points) if points is not None else None),
        ).fetchall()
    ]
    if points is not None and len(names) < len(set(points)):
        unknown = sorted(set(points) - set(names))
        raise QueryError(f"unknown point(s) of {station}: {', '.join(unknown)}")
    bad = bad_quality_spans(conn, station, names, start=start, end=end,
                            horizon=max(horizon, start))
    answers: list[Coverage] = []
    for lo, hi in period_bounds(start, end, zone, by):
        assessed = (max(lo, recorded_from), min(hi, horizon))
        length = (hi - lo).total_seconds()
        known = max((assessed[1] - assessed[0]).total_seconds(), 0.0)
        station_missing = [*outages, *gaps]
        missing = union_seconds(station_missing, *assessed) if known else 0.0
        point_rows = []
        for name in names:
            spans = [*station_missing, *bad[name]]
            point_missing = union_seconds(spans, *assessed) if known else 0.0
            point_rows.append(PointCoverage(
                point=name, covered_s=known - point_missing, missing_s=point_missing,
                bad_s=point_missing - missing,
            ))
        answers.append(Coverage(
            station=station, timezone=zone_name, start=lo.astimezone(zone), end=hi.astimezone(zone),
            covered_s=known - missing, missing_s=missing,
            outage_s=union_seconds(outages, *assessed) if known else 0.0,
            seq_gap_s=union_seconds(gaps, *assessed) if known else 0.0,
            unrecorded_s=length - known, points=tuple(point_rows),
        ))
    return answers


def _spans(rows: Sequence[Sequence[object]]) -> list[Span]:
    return [(a, b) for a, b in rows if a is not None and b is not None]  # type: ignore[misc]


def now() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)
