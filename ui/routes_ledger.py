"""The gap ledger and coverage of a station: what the historian is missing, when and why."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations at
# definition time.
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from historian.query import Period, QueryError, coverage, gaps, station_zone
from ui.alarm_feed import HistorianUnavailableError, connect
from ui.auth import User, require, require_station
from ui.context import context
from ui.pages import render

router = APIRouter()
NAV = [("Gap ledger", "/ledger", "view")]
LONGEST_DAYS = 366
"""The longest period the ledger page answers (a year of days)."""
SHOWN_POINTS = 8
"""Points listed under a period, the worst covered first."""


@router.get("/stations/{station}/ledger")
def station_ledger(request: Request, station: str,
                   user: Annotated[User, Depends(require("view"))],
                   days: Annotated[int, Query(ge=1, le=LONGEST_DAYS)] = 7) -> Response:
    """The last ``days`` days of a station: coverage per day and every ledger entry."""
    require_station(request, user, station)
    ctx = context(request)
    end = datetime.fromtimestamp(ctx.clock(), UTC)
    start = end - timedelta(days=days)
    try:
        with connect(ctx.settings) as conn:
            entries = gaps(conn, station, start, end)
            try:
                periods = coverage(conn, station, start, end, by=Period.DAY, at=end)
                zone_name, zone = station_zone(conn, station)
            except QueryError:  # the historian has not heard of the station yet
                periods, zone_name, zone = [], "UTC", ZoneInfo("UTC")
    except (HistorianUnavailableError, psycopg.Error) as error:
        raise HTTPException(503, str(error)) from None
    rows = [{
        "start": p.start, "end": p.end, "covered_s": p.covered_s, "missing_s": p.missing_s,
        "outage_s": p.outage_s, "seq_gap_s": p.seq_gap_s, "unrecorded_s": p.unrecorded_s,
        "share": p.covered_s / (p.covered_s + p.missing_s) if p.covered_s + p.missing_s
        else None,
        "worst": sorted((pc for pc in p.points if pc.missing_s > p.missing_s),
                        key=lambda pc: -pc.missing_s),
    } for p in reversed(periods)]
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(_json({"station": station, "coverage": rows,
                                   "ledger": [e.__dict__ for e in entries]}))
    return render(request, "ledger.html", station=station, site=ctx.sites[station],
                  days=days, periods=rows, entries=entries, timezone=zone_name,
                  local=lambda moment: moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                  shown_points=SHOWN_POINTS)


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return _json(value.__dict__)
    return value


@router.get("/ledger")
def ledger_index(request: Request, user: Annotated[User, Depends(require("view"))]) -> Response:
    """The stations to choose from."""
    return render(request, "station_index.html", title="Gap ledger and coverage", sub="ledger")
