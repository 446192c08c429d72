"""The page's one live stream: ``GET /live?stations=a,b`` as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from ui.auth import User, may_see, require
from ui.context import context
from ui.live import stream

router = APIRouter()


def stations_param(request: Request, user: User, stations: str | None) -> list[str]:
    """The stations a comma-separated parameter names, all visible ones when empty; an unknown
    station, or one outside the user's scope, is refused with 404 as if it did not exist."""
    ctx = context(request)
    if not stations:
        return [sid for sid in ctx.sites if may_see(user, sid)]
    chosen: list[str] = []
    for sid in stations.split(","):
        if sid not in ctx.sites or not may_see(user, sid):
            raise HTTPException(404, f"no station {sid!r}")
        if sid not in chosen:
            chosen.append(sid)
    return chosen


@router.get("/live")
async def live(request: Request, user: Annotated[User, Depends(require("view"))],
               stations: Annotated[str | None, Query(max_length=2000)] = None,
               last_event_id: Annotated[str | None, Header(max_length=100)] = None,
               ) -> StreamingResponse:
    """Snapshot first (or the changes missed since ``Last-Event-ID``), then every change."""
    chosen = stations_param(request, user, stations)
    return StreamingResponse(stream(context(request).live, chosen, last_event_id),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
