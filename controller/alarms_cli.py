"""``geoscada alarms``: list alarms and their KPIs from the historian; act on an alarm.

``list`` and ``kpi`` read the journal the historian stored (``events``, kind ``alarm``);
``ack``, ``reset``, ``shelve``, ``unshelve``, ``comment``, ``remove`` and ``restore`` hand an
action by a named user to a running controller through its state directory and print its
answer (applied, or refused and why).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from controller.actions import AlarmAction, NoAnswerError, submit
from controller.journal import ATTENTION, read_journal, summaries
from controller.kpi import Thresholds, alarm_kpis
from plant.contract import utc_now

VERBS = ("ack", "reset", "shelve", "unshelve", "comment", "remove", "restore")


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (e.g. Z or +08:00)")
    return moment.astimezone(UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geoscada alarms",
                                     description="Alarms from the historian; operator actions.")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="one JSON object per alarm")
    listing.add_argument("--db", required=True)
    listing.add_argument("--station")
    listing.add_argument("--since", type=_time, help="alarms with a journal row since then")
    listing.add_argument("--active", action="store_true",
                         help="only alarms active or waiting for an operator")
    listing.add_argument("--format", choices=("json",), default="json")
    kpi = sub.add_parser("kpi", help="alarm-system KPIs per operator position, with thresholds")
    kpi.add_argument("--db", required=True)
    kpi.add_argument("--station")
    kpi.add_argument("--since", type=_time, help="start (default: 24 h before --until)")
    kpi.add_argument("--until", type=_time, help="end (default: now)")
    for verb in VERBS:
        act = sub.add_parser(verb, help=f"{verb} an alarm through a running controller")
        act.add_argument("--state-dir", required=True, type=Path)
        act.add_argument("--station", required=True)
        act.add_argument("--alarm", required=True)
        act.add_argument("--user", required=True, help="who does it (named user)")
        act.add_argument("--text", default="", help="comment or reason")
        if verb == "shelve":
            act.add_argument("--duration", type=float, required=True, metavar="SECONDS")
        act.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")
    return parser


def _list(args: argparse.Namespace) -> int:
    with psycopg.connect(args.db, autocommit=True) as conn:
        conn.read_only = True
        rows, refused = read_journal(conn, station=args.station)
    for problem in refused:
        print(f"geoscada alarms: refused journal row {problem}", file=sys.stderr)
    for item in summaries(rows):
        if args.since is not None and item.changed < args.since:
            continue
        if args.active and item.state not in ATTENTION:
            continue
        print(item.model_dump_json())
    return 0


def _kpi(args: argparse.Namespace) -> int:
    until = args.until or utc_now()
    since = args.since or until - timedelta(days=1)
    if since >= until:
        print("geoscada alarms: --since must be before --until", file=sys.stderr)
        return 2
    with psycopg.connect(args.db, autocommit=True) as conn:
        conn.read_only = True
        rows, refused = read_journal(conn, station=args.station, until=until)
    for problem in refused:
        print(f"geoscada alarms: refused journal row {problem}", file=sys.stderr)
    for position, figures in alarm_kpis(rows, since, until, Thresholds()).items():
        print(json.dumps({"position": position, **figures.model_dump(mode="json")}))
    return 0


def _act(args: argparse.Namespace) -> int:
    action = AlarmAction(id=uuid.uuid4().hex, station=args.station, alarm=args.alarm,
                         action=args.command, user=args.user, text=args.text,
                         duration_s=getattr(args, "duration", None))
    try:
        answer = submit(args.state_dir, action, args.timeout)
    except FileNotFoundError as error:
        print(f"geoscada alarms: {error}", file=sys.stderr)
        return 2
    except NoAnswerError as error:
        print(f"geoscada alarms: {error}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0 if answer.get("ok") else 1


def main(argv: Sequence[str]) -> int:
    """Run one ``geoscada alarms`` subcommand."""
    args = _parser().parse_args(list(argv))
    try:
        if args.command == "list":
            return _list(args)
        if args.command == "kpi":
            return _kpi(args)
        return _act(args)
    except psycopg.Error as error:
        print(f"geoscada alarms: database: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"geoscada alarms: {error}", file=sys.stderr)
        return 2
