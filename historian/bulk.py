"""Bulk loading of long regular series into the samples table, for benchmarks and tests that
need months or years of data: binary COPY of rows built with numpy, one transaction per chunk,
then the set-based rollup of each point's range (:func:`historian.rollups.rollup_range`, the
same rollups the historian's incremental pass makes), points side by side on a few connections.

The series themselves bypass the ledgers (sessions, received batches, gaps): they are good
samples of points that already exist; births, deaths and bad samples go through the store.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import psycopg

from historian import rollups
from historian.store import BUCKET_ORIGIN, Inbound, Store
from plant.contract import Birth, DataBatch, Death, Quality, Reason, Sample, Topic, topic

Connection = psycopg.Connection[tuple[object, ...]]
Values = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
"""The values of a series as a function of the samples' epoch seconds."""

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
_ROW = np.dtype([
    ("fields", ">i2"),
    ("id_len", ">i4"), ("point_id", ">i4"),
    ("time_len", ">i4"), ("time", ">i8"),
    ("value_len", ">i4"), ("value", ">f8"),
    ("quality_len", ">i4"), ("quality", ">i2"),
])
_MINUTE = 60


def copy_rows(point_id: int, start: datetime, count: int, step_s: int, values: Values) -> bytes:
    """The binary COPY stream of ``count`` good samples every ``step_s`` seconds (pure)."""
    offsets = np.arange(count, dtype=np.int64) * step_s
    start_us = round((start - _PG_EPOCH).total_seconds() * 1_000_000)
    rows = np.empty(count, dtype=_ROW)
    rows["fields"] = 4
    rows["id_len"], rows["point_id"] = 4, point_id
    rows["time_len"], rows["time"] = 8, start_us + offsets * 1_000_000
    rows["value_len"] = 8
    rows["value"] = values(start.timestamp() + offsets.astype(np.float64))
    rows["quality_len"], rows["quality"] = 2, 0
    return _HEADER + rows.tobytes() + _TRAILER


def load_series(
    conn: Connection,
    point_id: int,
    *,
    start: datetime,
    end: datetime,
    step: timedelta,
    values: Values,
    chunk: timedelta = timedelta(days=1),
    mark: bool = True,
) -> int:
    """Write good samples every ``step`` in [start, end) and mark their minutes for rollup.

    One transaction per ``chunk``; returns the number of rows written. ``mark=False`` leaves
    the minutes unmarked, for a caller that rolls the range up itself (:func:`roll_up`).
    """
    step_s = int(step.total_seconds())
    if step_s < 1 or step_s != step.total_seconds():
        raise ValueError("the step must be a whole number of seconds")
    written = 0
    lower = start
    while lower < end:
        upper = min(end, lower + chunk)
        count = -(-int((upper - lower).total_seconds()) // step_s)
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(
                "COPY samples (point_id, time, value, quality) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(copy_rows(point_id, lower, count, step_s, values))
            if mark:
                _mark(cur, point_id, lower, upper, step_s)
        written += count
        lower = lower + count * step
    return written


def _mark(cur: psycopg.Cursor[tuple[object, ...]], point_id: int, lower: datetime,
          upper: datetime, step_s: int) -> None:
    # every minute holds a sample when the step is under a minute
    mark_step = step_s if step_s >= _MINUTE else _MINUTE
    cur.execute(
        "INSERT INTO rollup_dirty (point_id, bucket)"
        " SELECT %(p)s, date_bin(interval '1 minute', t, %(origin)s)"
        " FROM generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz,"
        "  %(step)s::interval) t WHERE t < %(hi)s"
        " ON CONFLICT DO NOTHING",
        {"p": point_id, "lo": lower if step_s >= _MINUTE else _floor_minute(lower),
         "hi": upper, "origin": BUCKET_ORIGIN, "step": timedelta(seconds=mark_step)},
    )


Span = tuple[int, datetime, datetime]
"""A point's id and a time range [start, end)."""

WORKERS = 2
"""Connections that load or roll up points side by side (this machine has two cores)."""


def roll_up(dsn: str, spans: Sequence[Span], workers: int = WORKERS) -> int:
    """Roll up each span set-based, ``workers`` points at a time, then any marks left over.

    Returns the number of 1-minute buckets written.
    """

    def one(span: Span) -> int:
        point_id, start, end = span
        with psycopg.connect(dsn) as conn:
            return rollups.rollup_range(conn, point_id, start, end)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        written = sum(pool.map(one, spans))
    with psycopg.connect(dsn) as conn:
        rollups.prepare(conn)
        return written + rollups.refresh_all(conn)


def write_points(
    dsn: str,
    birth: Birth,
    series: Mapping[str, Values],
    *,
    start: datetime,
    end: datetime,
    step: timedelta,
    workers: int = WORKERS,
) -> Loaded:
    """Store a station's birth, then a regular good series of each named point, rolled up."""
    began = time.perf_counter()
    store = Store(dsn)
    store.connect()
    try:
        store.write([Inbound(topic(birth.station, Topic.BIRTH), b"", birth)])
    finally:
        store.close()
    with psycopg.connect(dsn) as conn:
        ids: dict[str, int] = {str(name): int(str(pid)) for name, pid in conn.execute(
            "SELECT name, id FROM points WHERE station = %s", (birth.station,)).fetchall()}
    missing = sorted(set(series) - set(ids))
    if missing:
        raise ValueError(f"the birth does not announce {', '.join(missing)}")

    def load(name: str) -> int:
        with psycopg.connect(dsn, autocommit=True) as conn:
            return load_series(conn, ids[name], start=start, end=end, step=step,
                               values=series[name], mark=False)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        rows = sum(pool.map(load, series))
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    buckets = roll_up(dsn, [(ids[name], start, end) for name in series], workers)
    return Loaded(rows, loaded, time.perf_counter() - began, buckets)


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


Period = tuple[datetime, datetime]


@dataclass(frozen=True)
class History:
    """A point's record over a long period: a regular good series, outages of its station's
    gateway and bad-quality runs of the point, as the historian would have stored them."""

    birth: Birth
    """The station's birth (the first session); it must announce the point."""
    point: str
    start: datetime
    end: datetime
    step: timedelta
    values: Values
    outages: tuple[Period, ...] = ()
    bad: tuple[Period, ...] = ()


@dataclass(frozen=True)
class Loaded:
    """What loading a history took."""

    rows: int
    load_s: float
    rollup_s: float
    rollup_buckets: int


def write_history(dsn: str, history: History) -> Loaded:
    """Store a history: births, deaths and bad samples through the historian's store (so the
    gap ledger holds the outages and bad runs), the good series by binary COPY, then roll the
    point's whole period up set-based."""
    began = time.perf_counter()
    birth = history.birth
    station = birth.station
    step_s = int(history.step.total_seconds())
    events: list[tuple[datetime, Inbound]] = []
    session = birth.session
    for lost, back in sorted(history.outages):
        events.append((lost, Inbound(topic(station, Topic.DEATH), b"", Death(
            station=station, session=session, bdseq=session, t=lost))))
        session += 1
        events.append((back, Inbound(topic(station, Topic.BIRTH), b"", birth.model_copy(
            update={"session": session, "bdseq": session, "t": back}))))
    for first, last in history.bad:
        grid = _on_grid(history.start, first, step_s)
        samples = tuple(
            Sample(p=history.point, t=grid + timedelta(seconds=k * step_s), v=None,
                   q=Quality.BAD, r=Reason.COMM_LOST)
            for k in range(-(-int((last - grid).total_seconds()) // step_s)))
        if samples:
            events.append((first, _batch(station, samples)))
    store = Store(dsn)
    store.connect()
    try:
        store.write([Inbound(topic(station, Topic.BIRTH), b"", birth)])
        seq: dict[int, int] = {}
        session = birth.session
        for _, event in sorted(events, key=lambda e: e[0]):
            message = event.decoded
            if isinstance(message, Birth):
                session = message.session
            if isinstance(message, DataBatch):
                message = message.model_copy(update={
                    "session": session, "seq": seq.setdefault(session, 0)})
                seq[session] += 1
                event = Inbound(event.topic, b"", message)  # noqa: PLW2901
            store.write([event])
    finally:
        store.close()
    holes = sorted([*history.outages, *history.bad])
    rows = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        pid = conn.execute("SELECT id FROM points WHERE station = %s AND name = %s",
                           (station, history.point)).fetchone()
        if pid is None:
            raise ValueError(f"the birth does not announce {history.point}")
        lower = history.start
        for first, last in [*holes, (history.end, history.end)]:
            begin, stop = _on_grid(history.start, lower, step_s), min(first, history.end)
            if begin < stop:
                rows += load_series(conn, int(str(pid[0])), start=begin, end=stop,
                                    step=history.step, values=history.values, mark=False)
            lower = max(lower, last)
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    buckets = roll_up(dsn, [(int(str(pid[0])), history.start, history.end)])
    return Loaded(rows, loaded, time.perf_counter() - began, buckets)


def _on_grid(origin: datetime, moment: datetime, step_s: int) -> datetime:
    """The first time of the grid origin + k·step at or after a moment."""
    offset = -(-(moment - origin).total_seconds() // step_s) * step_s
    return origin + timedelta(seconds=max(0.0, offset))


def _batch(station: str, samples: tuple[Sample, ...]) -> Inbound:
    return Inbound(topic(station, Topic.DATA), b"", DataBatch(
        station=station, session=0, seq=0, samples=samples))
