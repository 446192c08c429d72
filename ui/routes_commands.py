"""Commands from the UI: a station's writable points with their limits, a confirmation step,
the command signed and sent through the same path as ``geoscada command``, its acknowledgement
and read-back. Only a role that may command sees any of it; every step is audited."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations at
# definition time.
import hashlib
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from controller.holds import held_units
from plant.site import Site
from ui.auth import User, audit, check_csrf, require, require_station
from ui.command_client import CommandClient, SentCommand
from ui.command_form import (
    CommandRequestError,
    checked_value,
    command_points,
    confirmation,
    confirmed,
    staging_refusal,
)
from ui.context import UiContext, context
from ui.pages import render
from ui.routes_staging import recorded_holds

router = APIRouter()
NAV = [("Commands", "/commands", "command")]
CONFIRM_S = 120
"""How long a confirmation page stays valid."""
_making = threading.Lock()


def command_client(ctx: UiContext) -> CommandClient:
    """The UI's command connection (made and started on first use); raise HTTPException 503
    when no broker or signer key is configured."""
    with _making:
        found = ctx.extras.get("commands")
        if isinstance(found, CommandClient):
            return found
        settings = ctx.settings
        if settings.broker is None or settings.command_pki is None:
            raise HTTPException(503, "commands are not configured (broker and command_pki)")
        def acknowledged(sent: SentCommand) -> None:
            view = sent.view()
            ctx.audit.record(sent.user, "command_ack", str(view["outcome"]),
                             target=f"{sent.station}/{sent.command.point}",
                             command=sent.command.id, readback=view["readback"],
                             reason=view["reason"])

        client = CommandClient(settings.broker.broker_settings(), settings.command_pki,
                               settings.command_signer, on_ack=acknowledged)
        client.start()
        ctx.extras["commands"] = client
        return client


def _key(ctx: UiContext) -> bytes:
    return hashlib.sha256(b"geoscada-ui-confirm\0" + ctx.settings.session_secret.encode()
                          ).digest()


def _current(ctx: UiContext, station: str, point: str) -> Any:
    value = ctx.live.stations[station].values.get(point)
    return value.get("v") if isinstance(value, dict) and value.get("q") == "good" else None


def _site(request: Request, user: User, station: str) -> Site:
    require_station(request, user, station)
    return context(request).sites[station]


def _staged(ctx: UiContext, site: Site, points: list[str]) -> dict[str, str]:
    """The points an operator may not command now because automatic staging owns them, and
    why (with the holds file's problem when it cannot be read)."""
    if site.station.staging is None:
        return {}
    station = site.station.id
    holds, problem = recorded_holds(ctx, station)
    held = held_units({station: holds}, station)
    found = {p: why for p in points if (why := staging_refusal(site, p, held))}
    if problem:
        found = {p: f"{why} (the holds cannot be read: {problem})" for p, why in found.items()}
    return found


@router.get("/stations/{station}/commands")
def command_form(request: Request, station: str,
                 user: Annotated[User, Depends(require("command"))],
                 point: Annotated[str | None, Query(max_length=96)] = None) -> Response:
    """The station's writable points (or one), their limits and current values, each with a
    form."""
    ctx = context(request)
    site = _site(request, user, station)
    points = [p for p in command_points(site) if point is None or p.id == point]
    if not points:
        raise HTTPException(404, f"{station} has no writable point {point!r}")
    current = {p.id: ctx.live.stations[station].values.get(p.id) for p in points}
    return render(request, "commands.html", station=station, site=site, points=points,
                  current=current, one=point is not None,
                  staged=_staged(ctx, site, [p.id for p in points]))


def _checked(request: Request, user: User, station: str, point: str, value: str
             ) -> tuple[Site, bool | int | float]:
    ctx = context(request)
    site = _site(request, user, station)
    staged = _staged(ctx, site, [point]).get(point)
    if staged:
        audit(request, "command_check", "refused", user=user, target=f"{station}/{point}",
              value=value, reason=staged)
        raise HTTPException(409, staged)
    try:
        _, checked = checked_value(site, point, value, _current(ctx, station, point))
    except KeyError:
        audit(request, "command_check", "refused", user=user, target=f"{station}/{point}",
              reason="no such writable point")
        raise HTTPException(404, f"{station} has no writable point {point!r}") from None
    except CommandRequestError as error:
        audit(request, "command_check", "refused", user=user, target=f"{station}/{point}",
              value=value, reason=str(error))
        raise HTTPException(422, str(error)) from None
    return site, checked


@router.post("/stations/{station}/commands/confirm", dependencies=[Depends(check_csrf)])
def command_confirm(request: Request, station: str,
                    user: Annotated[User, Depends(require("command"))],
                    point: Annotated[str, Form(max_length=96)],
                    value: Annotated[str, Form(max_length=32)]) -> Response:
    """The confirmation step: what will be written, from what, within which limits."""
    ctx = context(request)
    site, checked = _checked(request, user, station, point, value)
    expires = int(ctx.clock()) + CONFIRM_S
    token = confirmation(_key(ctx), user=user.name, station=station, point=point,
                         value=checked, expires=expires)
    audit(request, "command_confirm", "asked", user=user, target=f"{station}/{point}",
          value=checked)
    target = next(p for p in command_points(site) if p.id == point)
    return render(request, "command_confirm.html", station=station, point=target,
                  value=checked, token=token,
                  current=ctx.live.stations[station].values.get(point))


@router.post("/stations/{station}/commands/send", dependencies=[Depends(check_csrf)])
def command_send(request: Request, station: str, *,
                 user: Annotated[User, Depends(require("command"))],
                 point: Annotated[str, Form(max_length=96)],
                 value: Annotated[str, Form(max_length=32)],
                 confirmation_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Sign and send a confirmed command; then the page follows its acknowledgement."""
    ctx = context(request)
    _, checked = _checked(request, user, station, point, value)
    target = f"{station}/{point}"
    if not confirmed(_key(ctx), confirmation_token, user=user.name, station=station,
                     point=point, value=checked, now=ctx.clock()):
        audit(request, "command_send", "refused", user=user, target=target, value=checked,
              reason="not confirmed")
        raise HTTPException(400, "the command was not confirmed (or the confirmation "
                                 "expired); confirm it again")
    client = command_client(ctx)
    try:
        sent = client.send(station, point, checked, user.name)
    except (ValueError, ConnectionError) as error:
        audit(request, "command_send", "failed", user=user, target=target, value=checked,
              reason=str(error))
        raise HTTPException(503, f"the command was not sent: {error}") from None
    audit(request, "command_send", "sent", user=user, target=target, value=checked,
          command=sent.command.id)
    return RedirectResponse(f"/stations/{station}/commands/{sent.command.id}", status_code=303)


@router.get("/stations/{station}/commands/{command_id}")
def command_result(request: Request, station: str, command_id: str,
                   user: Annotated[User, Depends(require("command"))]) -> Response:
    """A sent command, its acknowledgement and read-back (a page, or JSON for a script)."""
    ctx = context(request)
    _site(request, user, station)
    found = command_client(ctx).get(command_id)
    if found is None or found.station != station:
        raise HTTPException(404, f"no command {command_id!r} sent from here to {station}")
    view = found.view()
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(view)
    return render(request, "command_result.html", station=station, sent=view)


@router.get("/commands")
def commands_index(request: Request,
                   user: Annotated[User, Depends(require("command"))]) -> Response:
    """The stations to choose from."""
    return render(request, "station_index.html", title="Commands", sub="commands")
