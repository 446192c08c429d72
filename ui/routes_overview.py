"""The multi-station overview (ISA-101 level 1): state, alarms and figures of each station."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from plant.site import Site
from ui.auth import User, require
from ui.context import UiContext, context
from ui.figures import StationFigures, local_midnight, station_figures
from ui.pages import render, visible_stations

log = logging.getLogger(__name__)

router = APIRouter()
NAV = [("Overview", "/", "view")]
TODAY_TTL_S = 60.0
"""Today's figures move slowly: each station's is read from the historian at most once a
minute, however many pages ask."""


@dataclass(frozen=True)
class StationCard:
    """One station as the overview shows it."""

    site: Site
    figures: StationFigures
    reinjection_today: float | None
    alarms: dict[str, int]


def reinjection_today(ctx: UiContext, site: Site, figures: StationFigures) -> float | None:
    """Today's reinjection ratio, read again when older than :data:`TODAY_TTL_S`."""
    if ctx.settings.database is None or not figures.has_reinjection:
        return None
    cache: dict[str, tuple[float, float | None]] = ctx.extras.setdefault("reinjection_today", {})
    now = ctx.clock()
    kept = cache.get(site.station.id)
    if kept is not None and now - kept[0] < TODAY_TTL_S:
        return kept[1]
    value = _read_reinjection_today(ctx, site, figures)
    cache[site.station.id] = (now, value)
    return value


def _read_reinjection_today(ctx: UiContext, site: Site, figures: StationFigures
                            ) -> float | None:
    """Σ reinjection ÷ Σ production flow since local midnight, from the hourly rollups;
    None without data."""
    import psycopg

    from historian import query
    from ui.alarm_feed import HistorianUnavailableError, connect

    now = datetime.fromtimestamp(ctx.clock(), UTC)
    start = local_midnight(now, ZoneInfo(site.station.timezone))
    if now - start < timedelta(minutes=1):
        return None
    try:
        with connect(ctx.settings) as conn:
            means: dict[str, dict[datetime, float]] = {}
            for name in (*figures.production_flow, *figures.reinjection_flow):
                rows = query.aggregates(conn, query.PointRef(site.station.id, name), start, now,
                                        timedelta(hours=1))
                means[name] = {row.bucket: row.time_weighted_mean for row in rows
                               if row.time_weighted_mean is not None}
    except (HistorianUnavailableError, query.QueryError, psycopg.Error) as exc:
        log.info("no reinjection figure for %s today: %s", site.station.id, exc)
        return None
    buckets = set.intersection(*(set(m) for m in means.values())) if means else set()
    produced = sum(means[n][b] for n in figures.production_flow for b in buckets)
    reinjected = sum(means[n][b] for n in figures.reinjection_flow for b in buckets)
    return reinjected / produced if produced > 0 else None


def seed_alarms(ctx: UiContext) -> None:
    """Put the alarms the historian's journal holds into the live cache, once it can be read:
    alarms raised before the UI started count from the first page on."""
    if ctx.settings.database is None or ctx.extras.get("alarms_seeded"):
        return
    now = ctx.clock()
    if now - ctx.extras.get("alarms_seed_tried", -TODAY_TTL_S) < TODAY_TTL_S:
        return
    ctx.extras["alarms_seed_tried"] = now
    from ui.alarm_feed import HistorianUnavailableError
    from ui.routes_alarms import journal

    try:
        summaries, _ = journal(ctx).summaries(list(ctx.sites), fresh=True)
    except HistorianUnavailableError as exc:
        log.info("alarms not yet seeded from the journal: %s", exc)
        return
    for item in summaries:
        ctx.live.seed_alarm(item.station, {
            "alarm": item.alarm, "state": item.state.value, "priority": item.priority,
            "equipment": item.equipment, "message": item.message,
            "t": item.changed.isoformat(), "active": item.active})
    ctx.extras["alarms_seeded"] = True


def alarm_counts(ctx: UiContext, station: str) -> dict[str, int]:
    """Active alarms of the station by priority."""
    counts = {"high": 0, "medium": 0, "low": 0}
    for alarm in ctx.live.active_alarms(station):
        priority = str(alarm.get("priority", "low"))
        counts[priority] = counts.get(priority, 0) + 1
    return counts


@router.get("/")
def overview(request: Request, user: Annotated[User, Depends(require("view"))]) -> Response:
    """Every station the user may see, live."""
    ctx = context(request)
    seed_alarms(ctx)
    cards = []
    for sid in visible_stations(request, user):
        site = ctx.sites[sid]
        figures = station_figures(site)
        cards.append(StationCard(site, figures, reinjection_today(ctx, site, figures),
                                 alarm_counts(ctx, sid)))
    snapshot: dict[str, Any] = ctx.live.snapshot([card.site.station.id for card in cards])
    return render(request, "overview.html", cards=cards, snapshot=snapshot["stations"])
