"""History windows for the windowed rules, read from the historian's database (read-only).

Each point's window is a regular grid of buckets ending at the last whole bucket before now;
a bucket is good when it holds valued samples and none of them is bad. The grid, and so the
coverage, is the same for every point of a rule, as :func:`controller.rules.observe_window`
requires.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from controller.feed import grid_step_s, window_from_buckets
from controller.rules import AlarmRule, Window
from historian.query import ORIGIN, PointRef, QueryError, aggregates

Connection = psycopg.Connection[tuple[object, ...]]


def grid(window_s: float, now: datetime) -> tuple[datetime, int, float]:
    """First bucket, number of buckets and bucket width of a window ending before ``now``."""
    step = grid_step_s(window_s)
    elapsed = (now - ORIGIN).total_seconds()
    end = ORIGIN + timedelta(seconds=step * (elapsed // step))
    count = max(1, round(window_s / step))
    return end - timedelta(seconds=step * count), count, step


def windows(conn: Connection, station: str, rule: AlarmRule, now: datetime
            ) -> dict[str, Window]:
    """The history window of every point the rule reads; a point unknown to the historian is
    left out (the rule then says which history is missing)."""
    start, count, step = grid(rule.params["window_s"], now)
    width = timedelta(seconds=step)
    result: dict[str, Window] = {}
    for point in rule.points():
        try:
            rows = aggregates(conn, PointRef(station, point), start, start + width * count, width)
        except QueryError:
            continue
        by_bucket = {row.bucket: row for row in rows}
        means: list[float | None] = []
        good: list[bool] = []
        for n in range(count):
            row = by_bucket.get(start + width * n)
            mean = None if row is None else (
                row.time_weighted_mean if row.time_weighted_mean is not None else row.mean)
            means.append(mean)
            good.append(row is not None and row.valued > 0 and row.bad == 0
                        and mean is not None)
        result[point] = window_from_buckets(means, good, step)
    return result
