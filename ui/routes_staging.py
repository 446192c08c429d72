"""The staging view: the station's heat pumps in cascade order with their run state, fault,
load, COP and every other point, live; and the staging decisions the controller published
(events of kind ``decision``: the condition that fired, the stages, the units started and
stopped, the values behind it), newest first."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations at
# definition time.
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from plant.site import HeatPump, Point, Site
from ui.alarm_feed import HistorianUnavailableError, connect
from ui.auth import User, require, require_station
from ui.context import context
from ui.pages import render

router = APIRouter()
NAV = [("Staging", "/staging", "view")]
DECISIONS_SHOWN = 20
SHOWN_FIRST = ("run_state", "run_command", "fault", "load", "heat_power", "electric_power",
               "cop", "supply_temp_setpoint")
"""Measurands shown first for every unit, in this order; its other points follow."""


def units(site: Site) -> list[tuple[HeatPump, list[Point]]]:
    """The heat pumps in cascade order (stage, then id), each with its points."""
    pumps = sorted((e for e in site.equipment if isinstance(e, HeatPump)),
                   key=lambda e: (e.stage, e.id))
    order = {m: i for i, m in enumerate(SHOWN_FIRST)}
    return [(unit, sorted(site.points_of(unit.id),
                          key=lambda p: (order.get(p.measurand, len(order)), p.id)))
            for unit in pumps]


def decisions(conn: psycopg.Connection[tuple[object, ...]], station: str,
              limit: int = DECISIONS_SHOWN) -> list[dict[str, Any]]:
    """The station's latest staging decisions as the historian stored them, newest first."""
    found = conn.execute(
        "SELECT time, data FROM events WHERE station = %s AND kind = 'decision'"
        " ORDER BY time DESC, id DESC LIMIT %s", (station, limit)).fetchall()
    shown: list[dict[str, Any]] = []
    for moment, data in found:
        if isinstance(moment, datetime) and isinstance(data, dict):
            shown.append({"t": moment, **data})
    return shown


@router.get("/stations/{station}/staging")
def station_staging(request: Request, station: str,
                    user: Annotated[User, Depends(require("view"))]) -> Response:
    """The staging view of a station."""
    require_station(request, user, station)
    ctx = context(request)
    site = ctx.sites[station]
    problem = ""
    try:
        with connect(ctx.settings) as conn:
            made = decisions(conn, station)
    except (HistorianUnavailableError, psycopg.Error) as error:
        made, problem = [], str(error)
    return render(request, "staging.html", station=station, site=site, units=units(site),
                  decisions=made, problem=problem, page_stations=[station])


@router.get("/staging")
def staging_index(request: Request, user: Annotated[User, Depends(require("view"))]) -> Response:
    """The stations to choose from."""
    return render(request, "station_index.html", title="Staging", sub="staging")
