"""Database reads of the reports: hourly means and missing time per meter, meter totals, the
data watermark. Only plain SQL and the historian's public query functions."""

from __future__ import annotations

import hashlib
import importlib.metadata
import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg import Connection

from historian import query
from historian.query import PointRef, Span, union_seconds
from report.inputs import MeterHours, MeterTotal

HOUR = timedelta(hours=1)


def point_units(conn: Connection[Any], station: str, names: Sequence[str]) -> dict[str, str]:
    """The unit of each named point the historian knows (points it does not know are left out)."""
    rows = conn.execute("SELECT name, unit FROM points WHERE station = %s AND name = ANY(%s)",
                        (station, list(names))).fetchall()
    return {str(name): str(unit or "") for name, unit in rows}


def missing_spans(conn: Connection[Any], station: str, names: Sequence[str], start: datetime,
                  end: datetime, *, as_of: datetime) -> dict[str, list[Span]]:
    """Per point, the spans of [start, end) without complete data: station outages, unfilled
    sequence gaps, the point's bad-quality spans, and time not recorded (before the station's
    first record or after ``as_of``)."""
    horizon = max(min(end, as_of), start)
    first = conn.execute(
        "SELECT least((SELECT min(birth_time) FROM station_sessions WHERE station = %(s)s),"
        " (SELECT min(first_time) FROM received_batches WHERE station = %(s)s))",
        {"s": station},
    ).fetchone()
    recorded_from = first[0] if first and first[0] else horizon
    station_spans: list[Span] = [(start, max(start, min(recorded_from, end))), (horizon, end)]
    station_spans += [
        (a, b) for a, b in conn.execute(
            "SELECT coalesce(start_time, end_time), coalesce(end_time, %(h)s) FROM gap_ledger"
            " WHERE station = %(s)s AND (kind = 'session_death' OR (kind = 'seq_gap'"
            "  AND filled_at IS NULL)) AND coalesce(start_time, end_time) < %(hi)s"
            " AND coalesce(end_time, 'infinity') > %(lo)s",
            {"s": station, "lo": start, "hi": end, "h": horizon},
        ).fetchall() if a is not None and b is not None
    ]
    bad = query.bad_quality_spans(conn, station, names, start=start, end=end, horizon=horizon)
    return {name: station_spans + bad[name] for name in names}


def meter_hours(conn: Connection[Any], station: str, names: Sequence[str], hours: list[datetime],
                as_of: datetime) -> dict[str, MeterHours]:
    """Hourly time-weighted means and missing seconds of each point the historian knows.

    An hour with any second missing by the ledger has no value (it is for substitution to
    fill); so has an hour in which the point has no sample at all (a gateway reports every
    point at least every full refresh, minutes apart): its whole hour counts as missing.
    """
    if not hours:
        return {}
    start, end = hours[0], hours[-1] + HOUR
    units = point_units(conn, station, names)
    known = [name for name in names if name in units]
    spans = missing_spans(conn, station, known, start, end, as_of=as_of)
    out: dict[str, MeterHours] = {}
    for name in known:
        means: dict[datetime, float] = {}
        for row in query.aggregates(conn, PointRef(station, name), start, end, HOUR):
            value = row.time_weighted_mean if row.time_weighted_mean is not None else row.mean
            if value is not None and row.samples > 0:
                means[row.bucket] = value
        missing = _hourly_missing(spans[name], hours)
        values: list[float | None] = []
        for index, moment in enumerate(hours):
            value = means.get(moment)
            if missing[index] > 0 or value is None:
                values.append(None)
                missing[index] = 3600.0 if value is None else missing[index]
                continue
            values.append(value)
        out[name] = MeterHours(name, units[name], tuple(values), tuple(missing))
    return out


def _hourly_missing(spans: list[Span], hours: list[datetime]) -> list[float]:
    """Seconds of each hour inside the union of the spans (spans sorted once)."""
    ordered = sorted((a, b) for a, b in spans if a < b)
    out: list[float] = []
    first = 0
    for moment in hours:
        upper = moment + HOUR
        while first < len(ordered) and ordered[first][1] <= moment:
            first += 1  # spans are sorted by start: one that ended is done with for good
        relevant: list[Span] = []
        for span in itertools.islice(ordered, first, None):
            if span[0] >= upper:
                break  # sorted by start: none after this one begins in the hour
            relevant.append(span)
        out.append(union_seconds(relevant, moment, upper))
    return out


def meter_totals(conn: Connection[Any], station: str, names: Sequence[str],
                 blocks: Sequence[tuple[str, datetime, datetime]], as_of: datetime
                 ) -> dict[str, dict[str, MeterTotal]]:
    """What each cumulative meter counted in each block, with the block's missing time
    (not recorded time counts as missing). A meter the historian does not know is refused."""
    units = point_units(conn, station, names)
    unknown = [name for name in names if name not in units]
    if unknown:
        raise query.QueryError(f"the historian knows no meter {', '.join(unknown)} of {station}")
    out: dict[str, dict[str, MeterTotal]] = {}
    for label, lo, hi in blocks:
        out[label] = {}
        for name in names:
            length = (hi - lo).total_seconds()
            horizon = min(hi, max(lo, as_of))
            if horizon <= lo:
                out[label][name] = MeterTotal(name, units[name], 0.0, length, length)
                continue
            total = query.counter_total(conn, PointRef(station, name), lo, horizon)
            out[label][name] = MeterTotal(name, units[name], total.total,
                                          length - total.covered_s, length,
                                          total.suspect_readings)
    return out


def data_watermark(conn: Connection[Any], station: str, end: datetime) -> dict[str, Any]:
    """What the historian held for the station when the report was made: per gateway session
    the batches stored with data before the period's end and the highest seq, and the number of
    gap-ledger entries."""
    sessions = [
        {"session": int(s), "batches": int(n), "max_seq": int(m)}
        for s, n, m in conn.execute(
            "SELECT session, count(*), max(seq) FROM received_batches WHERE station = %s"
            " AND (first_time IS NULL OR first_time < %s) GROUP BY session ORDER BY session",
            (station, end),
        ).fetchall()
    ]
    ledger = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE filled_at IS NOT NULL) FROM gap_ledger"
        " WHERE station = %s AND coalesce(start_time, end_time, %s) < %s",
        (station, end, end),
    ).fetchone()
    return {"sessions": sessions, "gap_ledger_entries": int(ledger[0]) if ledger else 0,
            "gap_ledger_filled": int(ledger[1]) if ledger else 0}


def station_record(conn: Connection[Any], station: str) -> tuple[str, str]:
    """The station's time zone and site-file hash from its birth; QueryError if unknown."""
    row = conn.execute("SELECT timezone, site_hash FROM stations WHERE id = %s",
                       (station,)).fetchone()
    if row is None:
        raise query.QueryError(f"the historian knows no station {station!r}")
    return str(row[0] or "UTC"), str(row[1] or "")


def code_version() -> dict[str, str]:
    """The package version and a SHA-256 over the report package's sources."""
    try:
        version = importlib.metadata.version("geoscada")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return {"geoscada": version, "report_sources_sha256": digest.hexdigest()}
