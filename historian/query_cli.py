"""``geoscada query``: ask the historian from the command line (tab-separated or JSON lines)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg

from historian import query
from historian.query import Interpolation, Period, PointRef, QueryError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|min|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``15m``, ``1h`` or ``1d``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m, 1h or 1d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time with a zone (``Z`` allowed) or ``now``."""
    if text == "now":
        return query.now()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z or +08:00")
    return moment


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geoscada query", description="Query the historian.")
    parser.add_argument("--db", required=True, help="postgresql://user@host:port/database")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    commands = parser.add_subparsers(dest="command", required=True)

    def ranged(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("point", help="station/point")
        sub.add_argument("--from", dest="start", type=parse_time, required=True)
        sub.add_argument("--to", dest="end", type=parse_time, default=query.now())
        return sub

    ranged("raw", "every sample in a range").add_argument("--limit", type=int)
    ranged("agg", "statistics per bucket").add_argument(
        "--bucket", type=parse_duration, required=True
    )
    ranged("trend", "a downsampled trend that keeps extremes").add_argument(
        "--points", type=int, default=2000
    )
    ranged("total", "what a meter counted")
    last = commands.add_parser("last", help="the newest sample of points")
    last.add_argument("points", nargs="+", help="station/point, or a station for all its points")
    at = commands.add_parser("at", help="values at given times")
    at.add_argument("point")
    at.add_argument("times", nargs="+", type=parse_time)
    at.add_argument("--linear", action="store_true", help="interpolate instead of last known")
    gap = commands.add_parser("gaps", help="the gap ledger of a station")
    gap.add_argument("station")
    gap.add_argument("--from", dest="start", type=parse_time, required=True)
    gap.add_argument("--to", dest="end", type=parse_time, default=query.now())
    status = commands.add_parser("alive", help="whether a station is alive, and since when")
    status.add_argument("stations", nargs="+")
    cover = commands.add_parser(
        "coverage", help="covered and missing time of a station and its points"
    )
    cover.add_argument("station")
    cover.add_argument("--from", dest="start", type=parse_time, required=True)
    cover.add_argument("--to", dest="end", type=parse_time, default=query.now())
    cover.add_argument("--by", choices=[p.value for p in Period],
                       help="one answer per day, month or year in the station's time zone")
    cover.add_argument("--point", dest="points", action="append",
                       help="only this point (repeatable); every point by default")
    return parser


def _rows(args: argparse.Namespace, conn: psycopg.Connection[tuple[object, ...]]) -> list[object]:
    if args.command == "raw":
        return list(query.raw(conn, PointRef.parse(args.point), args.start, args.end, args.limit))
    if args.command == "agg":
        return list(
            query.aggregates(conn, PointRef.parse(args.point), args.start, args.end, args.bucket)
        )
    if args.command == "trend":
        return list(
            query.trend(conn, PointRef.parse(args.point), args.start, args.end, args.points)
        )
    if args.command == "total":
        return [query.counter_total(conn, PointRef.parse(args.point), args.start, args.end)]
    if args.command == "last":
        refs: list[PointRef] = []
        for text in args.points:
            refs += [PointRef.parse(text)] if "/" in text else query.station_points(conn, text)
        found = query.last_values(conn, refs)
        return [{"point": str(ref), "sample": found[ref]} for ref in refs]
    if args.command == "at":
        mode = Interpolation.LINEAR if args.linear else Interpolation.PREVIOUS
        return list(query.values_at(conn, PointRef.parse(args.point), args.times, mode))
    if args.command == "gaps":
        return list(query.gaps(conn, args.station, args.start, args.end))
    if args.command == "alive":
        return [query.liveness(conn, station) for station in args.stations]
    if args.command == "coverage":
        by = Period(args.by) if args.by else None
        answers = query.coverage(conn, args.station, args.start, args.end, by=by,
                                 points=args.points)
        if args.json:
            return list(answers)
        rows: list[object] = []
        for answer in answers:
            rows.append({"scope": args.station, "start": answer.start, "end": answer.end,
                         "covered_s": answer.covered_s, "missing_s": answer.missing_s,
                         "outage_s": answer.outage_s, "seq_gap_s": answer.seq_gap_s,
                         "unrecorded_s": answer.unrecorded_s})
            rows += [
                {"scope": f"{args.station}/{p.point}", "start": answer.start, "end": answer.end,
                 "covered_s": p.covered_s, "missing_s": p.missing_s, "bad_s": p.bad_s}
                for p in answer.points
            ]
        return rows
    raise QueryError(f"unknown command {args.command}")


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, PointRef):
        return str(value)
    return value


def _flat(document: object) -> list[str]:
    if isinstance(document, dict):
        cells: list[str] = []
        for value in document.values():
            cells += _flat(value)
        return cells
    return ["" if document is None else str(document)]


def main(argv: Sequence[str]) -> int:
    """Run one query and print the answer."""
    args = _parser().parse_args(list(argv))
    try:
        # JIT compilation of plans over many hypertable chunks costs more than short queries.
        with psycopg.connect(args.db, connect_timeout=10, options="-c jit=off") as conn:
            rows = _rows(args, conn)
    except QueryError as error:
        print(f"geoscada query: {error}", file=sys.stderr)
        return 1
    except psycopg.Error as error:
        print(f"geoscada query: database: {str(error).strip()}", file=sys.stderr)
        return 1
    for row in rows:
        document = _plain(row)
        if args.json:
            print(json.dumps(document, default=str))
        else:
            print("\t".join(_flat(document)))
    return 0
