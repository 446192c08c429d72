"""The staging view: the station's heat pumps in cascade order with their run state, fault,
load, COP and every other point, live, and whether each is held out of automatic staging; the
staging decisions the controller published (events of kind ``decision``: the condition that
fired, the stages, the units started and stopped, the values behind it), newest first; an
engineer's hold of a unit out of automatic staging (and its release), handed to the controller
through its inbox; and the what-if preview of the next hours (:mod:`controller.whatif`) from the
live values, which acts on nothing."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations at
# definition time.
import math
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from controller.actions import NoAnswerError, submit
from controller.holds import Hold, HoldAction, HoldsFileError, apply_holds, held_units, load_holds
from controller.supervisor import supervisor_for
from controller.whatif import Preview, Proposal, preview
from plant.site import HeatPump, Point, Site
from plant.supervision import PlantView, Reading
from ui.alarm_feed import ANSWER_WAIT_S, HistorianUnavailableError, connect
from ui.auth import User, audit, check_csrf, require, require_station
from ui.context import UiContext, context
from ui.pages import render, wants_html

router = APIRouter()
NAV = [("Staging", "/staging", "view")]
DECISIONS_SHOWN = 20
SHOWN_FIRST = ("run_state", "run_command", "fault", "load", "heat_power", "electric_power",
               "cop", "supply_temp_setpoint")
"""Measurands shown first for every unit, in this order; its other points follow."""
PREVIEW_HOURS = (1, 24)
"""Shortest and longest what-if preview, in hours."""
SHIFT_K = 10.0
"""Largest supply setpoint change a preview takes, either way, in kelvin."""


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


def recorded_holds(ctx: UiContext, station: str) -> tuple[dict[str, Hold], str]:
    """The station's holds as the controller recorded them, and a problem reading them."""
    if ctx.settings.controller_state_dir is None:
        return {}, "no controller state folder is configured: holds cannot be read"
    try:
        return load_holds(ctx.settings.controller_state_dir).get(station, {}), ""
    except HoldsFileError as error:
        return {}, str(error)


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
    holds, holds_problem = recorded_holds(ctx, station)
    return render(request, "staging.html", station=station, site=site, units=units(site),
                  decisions=made, problem=problem, holds=holds, holds_problem=holds_problem,
                  may_hold=user.can("hold_unit"), page_stations=[station],
                  preview_hours=PREVIEW_HOURS, shift_k=SHIFT_K)


@router.post("/stations/{station}/staging/hold", dependencies=[Depends(check_csrf)])
def hold_unit(request: Request, station: str,
              user: Annotated[User, Depends(require("hold_unit"))], *,
              unit: Annotated[str, Form(max_length=64)] = "",
              held: Annotated[str, Form(max_length=8)] = "",
              text: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Hold a heat pump out of automatic staging (``held=true``) or release it, through the
    controller, by the logged-in engineer."""
    require_station(request, user, station)
    ctx = context(request)
    target = f"{station}/{unit}"
    action = "staging_hold" if held == "true" else "staging_release"
    pumps = {u.id for u, _ in units(ctx.sites[station])}
    if unit not in pumps:
        raise HTTPException(404, f"station {station} has no heat pump {unit!r}")
    if held not in ("true", "false"):
        raise HTTPException(400, f"held must be true or false, not {held!r}")
    if held == "true" and not text.strip():
        audit(request, action, "refused", user=user, target=target, reason="no reason")
        raise HTTPException(422, "holding a unit out needs a reason")
    state_dir = ctx.settings.controller_state_dir
    try:
        if state_dir is None:
            raise FileNotFoundError("no controller state folder is configured")
        answer = submit(state_dir, HoldAction(
            id=uuid.uuid4().hex, station=station, unit=unit, held=held == "true",
            user=user.name, role=user.role.value, text=text.strip()), ANSWER_WAIT_S)
    except (NoAnswerError, FileNotFoundError) as error:
        audit(request, action, "failed", user=user, target=target, reason=str(error))
        raise HTTPException(503, f"the controller did not take it: {error}") from None
    if not answer.get("ok"):
        reason = str(answer.get("error", "refused"))
        audit(request, action, "refused", user=user, target=target, reason=reason)
        raise HTTPException(409, reason)
    audit(request, action, "done", user=user, target=target, text=text.strip())
    if "text/html" in request.headers.get("accept", ""):  # the page's own form
        return RedirectResponse(f"/stations/{station}/staging#hold-{unit}", status_code=303)
    return JSONResponse({"ok": True, "station": station, "unit": unit,
                         "held": bool(answer.get("held"))})


def live_view(ctx: UiContext, station: str) -> PlantView:
    """The station now as the live cache holds it: a value that is not good reads as none."""
    values = ctx.live.stations[station].values
    if not values:
        raise HTTPException(503, f"no live values of station {station} yet")
    readings: dict[str, Reading | None] = {}
    for point, value in values.items():
        v = value.get("v")
        good = value.get("q") == "good" and isinstance(v, int | float | bool)
        readings[point] = v if good else None
    return PlantView(station, datetime.fromtimestamp(ctx.clock(), UTC), readings)


def proposal(site: Site, hours: str, out: list[str], shift: str) -> Proposal:
    """The what-if the form asks for; HTTPException 400 names what is wrong."""
    try:
        count = int(hours)
    except ValueError:
        raise HTTPException(400, f"hours: {hours!r} is not a whole number") from None
    if not PREVIEW_HOURS[0] <= count <= PREVIEW_HOURS[1]:
        raise HTTPException(400, f"hours: a preview is {PREVIEW_HOURS[0]} to "
                                 f"{PREVIEW_HOURS[1]} hours, not {count}")
    try:
        shift_k = float(shift or "0")
    except ValueError:
        raise HTTPException(400, f"supply change: {shift!r} is not a number") from None
    if not math.isfinite(shift_k) or abs(shift_k) > SHIFT_K:
        raise HTTPException(400, f"supply change: at most {SHIFT_K:g} K either way, "
                                 f"not {shift}")
    pumps = [u.id for u, _ in units(site)]
    for unit in out:
        if unit not in pumps:
            raise HTTPException(400, f"unit out of service: station {site.station.id} has no "
                                     f"heat pump {unit!r}")
    return Proposal(hours=count, units_out=tuple(sorted(set(out))), supply_shift_k=shift_k)


def run_preview(ctx: UiContext, station: str, asked: Proposal) -> Preview:
    """The preview from the live values: staging takes the units over as they run now, with
    the units held out as the controller recorded them; nothing is sent anywhere."""
    site = ctx.sites[station]
    view = live_view(ctx, station)
    supervisor = supervisor_for(site)
    supervisor.step(view)  # its writes are dropped: a preview commands nothing
    holds, _ = recorded_holds(ctx, station)
    apply_holds(supervisor.state, held_units({station: holds}, station))
    return preview(supervisor, view, asked)


@router.get("/stations/{station}/staging/preview")
def staging_preview(
    request: Request, station: str, user: Annotated[User, Depends(require("view"))], *,
    hours: Annotated[str, Query(max_length=8)] = "6",
    out: Annotated[list[str] | None, Query(max_length=64)] = None,
    shift: Annotated[str, Query(max_length=16)] = "0",
) -> Response:
    """What-if: the next hours with units out of service and the supply setpoint changed."""
    require_station(request, user, station)
    ctx = context(request)
    site = ctx.sites[station]
    if not units(site):
        raise HTTPException(404, f"station {station} has no heat pumps to stage")
    asked = proposal(site, hours, out or [], shift)
    ahead = run_preview(ctx, station, asked)
    if not wants_html(request):
        return JSONResponse({
            "hours": [vars(h) for h in ahead.hours], "electricity_kwh": ahead.electricity_kwh,
            "heat_pump_kwh": ahead.heat_pump_kwh, "heat_kwh": ahead.heat_kwh,
            "unmet_kwh": ahead.unmet_kwh, "starts": ahead.starts, "cop": ahead.cop,
            "reinjection_margin_m3h": ahead.reinjection_margin_m3h,
            "units_out": list(asked.units_out), "supply_shift_k": asked.supply_shift_k})
    return render(request, "staging_preview.html", station=station, site=site, asked=asked,
                  ahead=ahead, units=units(site), page_stations=[station],
                  preview_hours=PREVIEW_HOURS, shift_k=SHIFT_K)


@router.get("/staging")
def staging_index(request: Request, user: Annotated[User, Depends(require("view"))]) -> Response:
    """The stations to choose from."""
    return render(request, "station_index.html", title="Staging", sub="staging")
