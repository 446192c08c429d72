"""The trend tool: any points of the stations a user may see, over any period from a minute to
decades, downsampled on the server to two vertices per pixel column from the historian's
rollups, with outages and bad quality as breaks in the line and shaded bands.

``GET /trend`` is the page (uPlot, served from ``ui/static``); ``GET /api/trend`` the data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from historian import query
from historian.query import PointRef, QueryError
from runtime.settings import read_secret
from ui.auth import User, require, require_station
from ui.context import context
from ui.downsample import (
    DEFAULT_WIDTH,
    MAX_POINTS,
    Missing,
    TrendRequestError,
    Window,
    line_with_gaps,
    missing_spans,
    parse_points,
    parse_window,
)
from ui.pages import error_response, render, visible_stations

router = APIRouter()
NAV = [("Trend", "/trend", "view")]

Connection = psycopg.Connection[tuple[object, ...]]
Points = Annotated[list[str], Query(alias="point")]
Listed = Annotated[str | None, Query(alias="points", description="station/point,station/point")]
Text = Annotated[str | None, Query()]


def historian_connection(request: Request) -> Iterator[Connection]:
    """A read-only connection to the historian's database for one request."""
    settings = context(request).settings
    if settings.database is None:
        raise HTTPException(503, "this UI has no historian database configured")
    password = (read_secret(settings.database_password_file, "database password file")
                if settings.database_password_file else None)
    # JIT compiles plans over every chunk of a year: slower than running them (docs/historian.md)
    with psycopg.connect(settings.database, password=password, options="-c jit=off",
                         autocommit=True) as conn:
        conn.read_only = True
        yield conn


@router.get("/trend")
def trend_page(
    request: Request,
    *,
    user: Annotated[User, Depends(require("view"))],
    point: Points = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    points: Listed = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    to: Text = None,
    span: Text = None,
) -> Response:
    """The trend tool's page; the points and period in the address are drawn on load."""
    ctx = context(request)
    chosen = named(point, points)
    choices = [
        f"{station}/{p.id}" for station in visible_stations(request, user)
        for p in ctx.sites[station].points
    ]
    return render(request, "trend.html", points=chosen, start=start or "", to=to or "",
                  span=span or ("" if start else "1h"), choices=choices,
                  max_points=MAX_POINTS, width=DEFAULT_WIDTH)


@router.get("/api/trend")
def trend_data(
    request: Request,
    *,
    user: Annotated[User, Depends(require("view"))],
    conn: Annotated[Connection, Depends(historian_connection)],
    point: Points = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    points: Listed = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    to: Text = None,
    span: Text = None,
    width: Text = None,
) -> Response:
    """The downsampled trend of each point, with its missing spans, as JSON."""
    began = time.perf_counter()
    now = datetime.now(UTC)
    try:
        window = parse_window(start, to, span, width, now)
        refs = parse_points(named(point, points))
    except TrendRequestError as error:
        return error_response(request, 400, str(error))
    for ref in refs:
        require_station(request, user, ref.station)
    try:
        series = [point_trend(conn, ref, window, now) for ref in refs]
    except QueryError as error:
        return error_response(request, 404, str(error))
    took_ms = 1000 * (time.perf_counter() - began)
    return JSONResponse(
        {"start": window.start.timestamp(), "end": window.end.timestamp(),
         "width": window.width, "source": window.source, "series": series,
         "server_ms": round(took_ms, 1)},
        headers={"Server-Timing": f"trend;dur={took_ms:.1f}"},
    )


def named(point: list[str], points: str | None) -> list[str]:
    """The points of a request: repeated ``point=`` and a comma-separated ``points=``."""
    listed = points.split(",") if points else []
    return [name.strip() for name in [*point, *listed] if name.strip()]


def point_trend(conn: Connection, ref: PointRef, window: Window, now: datetime) -> dict[str, Any]:
    """One point's line and missing spans over the window, ready for the page."""
    meta = query.describe(conn, ref)
    vertices = query.trend(conn, ref, window.start, window.end, window.max_points)
    horizon = max(window.start, min(window.end, now))
    ledger = query.gaps(conn, ref.station, window.start, window.end)
    # the spans' ends cost a query on the samples: only when the ledger has a span to end
    bad = query.bad_quality_spans(conn, ref.station, [ref.name], start=window.start,
                                  end=window.end, horizon=horizon)[ref.name] if any(
        e.kind == "bad_quality" and e.point == ref.name for e in ledger) else []
    missing = missing_spans(ledger, bad, window, horizon)
    line = line_with_gaps([(v.time, v.value) for v in vertices],
                          [(m.start, m.end) for m in missing])
    return {
        "point": str(ref), "unit": meta.unit, "measurand": meta.measurand,
        "times": line.times, "values": line.values, "vertices": len(vertices),
        "missing": [_missing(m) for m in missing],
    }


def _missing(span: Missing) -> dict[str, Any]:
    return {"start": span.start.timestamp(), "end": span.end.timestamp(), "kind": span.kind,
            "reason": span.reason}
