"""History windows for the windowed rules, read from the historian's database (read-only).

Each point's window is a regular grid of buckets ending at the last whole bucket before now;
a bucket is good when it holds valued samples and none of them is bad. Gateways report by
exception, so a bucket without samples holds the last value before it (good if that was good),
for at most ``hold_s`` after it: the site's full refresh with a margin, as the live feed
judges it. The grid, and so the coverage, is the same for every point of a rule, as
:func:`controller.rules.observe_window` requires.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from controller.feed import grid_step_s, window_from_buckets
from controller.rules import AlarmRule, Window
from historian.query import ORIGIN, Interpolation, PointRef, QueryError, aggregates, values_at

Connection = psycopg.Connection[tuple[object, ...]]


def grid(window_s: float, now: datetime) -> tuple[datetime, int, float]:
    """First bucket, number of buckets and bucket width of a window ending before ``now``."""
    step = grid_step_s(window_s)
    elapsed = (now - ORIGIN).total_seconds()
    end = ORIGIN + timedelta(seconds=step * (elapsed // step))
    count = max(1, round(window_s / step))
    return end - timedelta(seconds=step * count), count, step


def windows(conn: Connection, station: str, rule: AlarmRule, now: datetime,
            hold_s: float = 360.0) -> dict[str, Window]:
    """The history window of every point the rule reads; a point unknown to the historian is
    left out (the rule then says which history is missing)."""
    start, count, step = grid(rule.params["window_s"], now)
    width, hold = timedelta(seconds=step), timedelta(seconds=hold_s)
    result: dict[str, Window] = {}
    for point in rule.points():
        ref = PointRef(station, point)
        try:
            rows = aggregates(conn, ref, start, start + width * count, width)
            before = values_at(conn, ref, [start], Interpolation.PREVIOUS, max_hold=hold)[0]
        except QueryError:
            continue
        by_bucket = {row.bucket: row for row in rows if row.samples > 0}
        held = before.value if before.quality == "good" else None
        held_since = before.source_time
        means: list[float | None] = []
        good: list[bool] = []
        for n in range(count):
            bucket = start + width * n
            row = by_bucket.get(bucket)
            if row is None:
                fresh = held_since is not None and bucket - held_since <= hold
                means.append(held if fresh else None)
                good.append(fresh and held is not None)
                continue
            ok = row.valued > 0 and row.bad == 0
            mean = row.time_weighted_mean if row.time_weighted_mean is not None else row.mean
            means.append(mean)
            good.append(ok and mean is not None)
            held, held_since = (row.last if ok else None), bucket
        result[point] = window_from_buckets(means, good, step)
    return result
