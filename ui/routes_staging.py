"""The staging view: the station's heat pumps in cascade order with their run state, fault,
load, COP and modes, live; and whatever staging decisions the controller publishes."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations at
# definition time.
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from plant.site import HeatPump, Point, Site
from ui.auth import User, require, require_station
from ui.context import context
from ui.pages import render

router = APIRouter()
NAV = [("Staging", "/staging", "view")]
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


@router.get("/stations/{station}/staging")
def station_staging(request: Request, station: str,
                    user: Annotated[User, Depends(require("view"))]) -> Response:
    """The staging view of a station."""
    require_station(request, user, station)
    site = context(request).sites[station]
    return render(request, "staging.html", station=station, site=site, units=units(site),
                  page_stations=[station])


@router.get("/staging")
def staging_index(request: Request, user: Annotated[User, Depends(require("view"))]) -> Response:
    """The stations to choose from."""
    return render(request, "station_index.html", title="Staging", sub="staging")
