"""The alarm screens: the banner's figures, the summary table with acknowledge, shelve,
unshelve, reset and comment, and the alarm-system KPIs of a period."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations at
# definition time.
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from controller.actions import Verb
from controller.journal import read_journal
from controller.kpi import Thresholds, alarm_kpis
from ui.alarm_board import PRIORITIES, AlarmFilter, banner, parse_duration, table
from ui.alarm_feed import AlarmJournal, HistorianUnavailableError, NoAnswerError, act, connect
from ui.auth import User, audit, check_csrf, current_user, require
from ui.context import UiContext, context
from ui.pages import render, visible_stations

router = APIRouter()
NAV = [("Alarms", "/alarms", "view"), ("Alarm KPIs", "/alarms/kpi", "view")]

PERMISSION: dict[str, str] = {"ack": "ack_alarm", "reset": "ack_alarm", "comment": "ack_alarm",
                              "shelve": "shelve_alarm", "unshelve": "shelve_alarm"}
"""Which permission each action on an alarm needs."""
STATES = ("unacknowledged", "acknowledged", "rtn_unacknowledged", "latched", "shelved",
          "suppressed", "out_of_service", "normal")
KPI_LONGEST = timedelta(days=400)


def journal(ctx: UiContext) -> AlarmJournal:
    """The UI's alarm journal (made on first use)."""
    found = ctx.extras.get("alarms")
    if not isinstance(found, AlarmJournal):
        found = ctx.extras.setdefault("alarms", AlarmJournal(ctx.settings))
    assert isinstance(found, AlarmJournal)
    return found


def _summaries(request: Request, user: User) -> tuple[list[Any], int]:
    try:
        return journal(context(request)).summaries(visible_stations(request, user))
    except HistorianUnavailableError as error:
        raise HTTPException(503, str(error)) from None


@router.get("/alarms/banner")
def alarm_banner(request: Request, user: Annotated[User, Depends(require("view"))]
                 ) -> dict[str, Any]:
    """Alarms wanting attention by priority, and the horn's annunciations."""
    return banner(*_summaries(request, user)).model_dump()


def _filter(station: str | None, priority: str | None, state: str | None, q: str | None,
            everything: bool) -> AlarmFilter:
    if priority and priority not in PRIORITIES:
        raise HTTPException(400, f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    if state and state not in STATES:
        raise HTTPException(400, f"state {state!r} is not one of {', '.join(STATES)}")
    return AlarmFilter(station=station or None, priority=priority or None, state=state or None,
                       text=q or None, everything=everything)


@router.get("/alarms")
def alarm_summary(
    request: Request, *, user: Annotated[User, Depends(require("view"))],
    station: Annotated[str | None, Query(max_length=96)] = None,
    priority: Annotated[str | None, Query(max_length=16)] = None,
    state: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=80)] = None,
    everything: bool = False,
) -> Response:
    """The alarm summary: a page for a browser, the rows as JSON for a script."""
    if station and station not in visible_stations(request, user):
        raise HTTPException(404, f"no station {station!r}")
    chosen = _filter(station, priority, state, q, everything)
    summaries, journal_row = _summaries(request, user)
    rows = table(summaries, chosen)
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse([row.model_dump(mode="json") for row in rows])
    return render(request, "alarms.html", rows=rows, chosen=chosen, states=STATES,
                  priorities=PRIORITIES, journal_row=journal_row,
                  may_ack=user.can("ack_alarm"), may_shelve=user.can("shelve_alarm"))


@router.post("/alarms/{station}/{alarm}/{verb}", dependencies=[Depends(check_csrf)])
def alarm_action(
    request: Request, station: str, alarm: str, verb: str, *,
    text: Annotated[str, Form(max_length=200)] = "",
    duration: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Acknowledge, reset, shelve, unshelve or comment an alarm, by the logged-in user."""
    user = current_user(request)
    if verb not in PERMISSION:
        raise HTTPException(404, f"no alarm action {verb!r}")
    require(PERMISSION[verb])(request)
    if station not in visible_stations(request, user):
        raise HTTPException(404, f"no station {station!r}")
    target = f"{station}/{alarm}"
    duration_s: float | None = None
    if verb == "shelve":
        try:
            duration_s = parse_duration(duration)
        except ValueError as error:
            audit(request, f"alarm_{verb}", "refused", user=user, target=target,
                  reason=str(error))
            raise HTTPException(422, str(error)) from None
        if not text.strip():
            audit(request, f"alarm_{verb}", "refused", user=user, target=target,
                  reason="no reason")
            raise HTTPException(422, "shelving needs a reason")
    chosen_verb: Verb = verb  # type: ignore[assignment]
    try:
        answer = act(context(request).settings.controller_state_dir, station, alarm,
                     chosen_verb, user=user.name, text=text.strip(), duration_s=duration_s)
    except (NoAnswerError, FileNotFoundError) as error:
        audit(request, f"alarm_{verb}", "failed", user=user, target=target, reason=str(error))
        raise HTTPException(503, f"the controller did not take it: {error}") from None
    if not answer.get("ok"):
        reason = str(answer.get("error", "refused"))
        audit(request, f"alarm_{verb}", "refused", user=user, target=target, reason=reason)
        raise HTTPException(404 if "has no alarm" in reason else 409, reason)
    audit(request, f"alarm_{verb}", "done", user=user, target=target, text=text.strip(),
          **({"duration_s": duration_s} if duration_s is not None else {}))
    return JSONResponse({"ok": True, "station": station, "alarm": alarm,
                         "state": answer.get("state")})


def _moment(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, f"{name}: {text!r} is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@router.get("/alarms/kpi")
def alarm_kpi(
    request: Request, user: Annotated[User, Depends(require("view"))],
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    station: Annotated[str | None, Query(max_length=96)] = None,
) -> Response:
    """Alarm-system KPIs per operator position over a period (default: the last 24 h)."""
    ctx = context(request)
    stations = visible_stations(request, user)
    if station and station not in stations:
        raise HTTPException(404, f"no station {station!r}")
    end = _moment(until, "until") or datetime.fromtimestamp(ctx.clock(), UTC)
    start = _moment(since, "since") or end - timedelta(days=1)
    if start >= end:
        raise HTTPException(400, "since must be before until")
    if end - start > KPI_LONGEST:
        raise HTTPException(400, f"a KPI period is at most {KPI_LONGEST.days} days")
    try:
        with connect(ctx.settings) as conn:
            rows, _ = read_journal(conn, station=station, until=end)
    except (HistorianUnavailableError, psycopg.Error) as error:
        raise HTTPException(503, str(error)) from None
    shown = set([station] if station else stations)
    rows = [row for row in rows if row.station in shown]
    figures = alarm_kpis(rows, start, end, Thresholds())
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({p: k.model_dump(mode="json") for p, k in figures.items()})
    return render(request, "alarm_kpi.html", figures=figures, start=start, end=end,
                  station=station)
