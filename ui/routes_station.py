"""The station mimic (ISA-101 level 2) and the equipment faceplate (level 3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import Response

from ui.auth import User, require, require_station
from ui.context import context
from ui.mimic import drawn_pipes, layout
from ui.pages import render
from ui.routes_overview import seed_alarms

router = APIRouter()

IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}$"
StationId = Annotated[str, Path(pattern=IDENT)]
EquipmentId = Annotated[str, Path(pattern=IDENT)]


@router.get("/stations/{station}")
def station(request: Request, station: StationId,
            user: Annotated[User, Depends(require("view"))]) -> Response:
    """The station's mimic with live values."""
    require_station(request, user, station)
    seed_alarms(context(request))
    site = context(request).sites[station]
    snapshot = context(request).live.snapshot([station])["stations"][station]
    mimic = layout(site)
    return render(request, "station.html", site=site, mimic=mimic,
                  pipes=drawn_pipes(site, mimic), snapshot=snapshot, page_stations=[station])


@router.get("/stations/{station}/equipment/{equipment}")
def faceplate(request: Request, station: StationId, equipment: EquipmentId,
              user: Annotated[User, Depends(require("view"))]) -> Response:
    """One piece of equipment: every point with its live value, setpoints and limits."""
    require_station(request, user, station)
    site = context(request).sites[station]
    try:
        item = site.equipment_by_id(equipment)
    except KeyError:
        raise HTTPException(404, f"no equipment {equipment!r} at {station}") from None
    snapshot = context(request).live.snapshot([station])["stations"][station]
    points = site.points_of(item.id)
    return render(request, "faceplate.html", site=site, item=item, snapshot=snapshot,
                  measured=[p for p in points if not p.writable],
                  setpoints=[p for p in points if p.writable], page_stations=[station],
                  may_command=user.can("command"))
