"""The application factory: settings in, a FastAPI app with every router, assets and the feed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from plant.site import load_site
from ui import (
    routes_alarms,
    routes_commands,
    routes_ledger,
    routes_live,
    routes_overview,
    routes_session,
    routes_staging,
    routes_station,
    routes_trend,
)
from ui.auth import (
    Audit,
    ForbiddenError,
    LoginThrottle,
    NotAuthenticatedError,
    SessionSigner,
    load_users,
)
from ui.context import UiContext
from ui.live import LiveCache, LiveFeed
from ui.pages import error_response
from ui.settings import UiSettings

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
ROUTERS: tuple[ModuleType, ...] = (routes_session, routes_live, routes_overview, routes_station,
                                   routes_alarms, routes_commands, routes_ledger, routes_staging,
                                   routes_trend)
"""Every ``ui/routes_*.py`` module; each exposes ``router`` and may expose ``NAV``, a list of
(label, path, permission) entries for the navigation bar."""


def create_app(settings: UiSettings, *, clock: Callable[[], float] = time.time,
               connect: bool = True) -> FastAPI:
    """The UI application; ``connect`` False leaves the live cache unfed (tests feed it)."""
    sites = {}
    for path in settings.sites:
        site = load_site(path)
        sites[site.station.id] = site
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["format_value"] = format_value
    templates.env.filters["unit"] = display_unit
    ctx = UiContext(
        settings=settings, sites=sites, users=load_users(settings.users_file),
        sessions=SessionSigner(settings.session_secret, settings.session_lifetime_s,
                               settings.ended_sessions_file
                               or settings.audit_log.with_name("ended-sessions.json")),
        throttle=LoginThrottle(settings.login_failures_allowed, settings.login_window_s,
                               settings.login_lockout_s),
        audit=Audit(settings.audit_log, clock), live=LiveCache(sites, settings.live_history),
        templates=templates, clock=clock, extras={})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the cache's wake-up event belongs to the loop that serves the pages
        ctx.live.rebind()
        feed = None
        if connect and settings.broker is not None:
            feed = LiveFeed(ctx.live, settings.broker.broker_settings(),
                            asyncio.get_running_loop())
            feed.start()
        try:
            yield
        finally:
            if feed is not None:
                await asyncio.get_running_loop().run_in_executor(None, feed.stop)
            for extra in list(ctx.extras.values()):
                for name in ("stop", "close"):
                    closing = getattr(extra, name, None)
                    if callable(closing):
                        await asyncio.get_running_loop().run_in_executor(None, closing)

    app = FastAPI(title="GeoSCADA", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.ui = ctx
    app.state.nav = [entry for module in ROUTERS for entry in getattr(module, "NAV", ())]
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in ROUTERS:
        app.include_router(module.router)
    if settings.regulator_database is not None:
        # the regulator API authenticates by its own bearer tokens, not by the UI's sessions
        from report.api import make_router

        app.include_router(make_router(settings.regulator_database, sites.get))

    @app.exception_handler(NotAuthenticatedError)
    async def not_authenticated(request: Request, exc: NotAuthenticatedError) -> Response:
        return error_response(request, 401, exc.reason)

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        return error_response(request, 403, exc.reason)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "malformed request"}
        where = ".".join(str(part) for part in first["loc"] if part not in ("query", "body"))
        return error_response(request, 400, f"{where or 'request'}: {first['msg']}")

    return app


DISPLAY_UNITS = {"degC": "°C", "m3/h": "m³/h", "m3": "m³", "1": ""}
"""How a unit code of the site files is written on a page."""


def display_unit(unit: str) -> str:
    """A unit as a page writes it (``degC`` as °C, dimensionless as nothing)."""
    return DISPLAY_UNITS.get(unit, unit)


def format_value(value: object, unit: str = "") -> str:
    """A value as a page shows it: a few significant digits and its unit."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        magnitude = abs(float(value))
        text = f"{value:.0f}" if magnitude >= 100 else f"{value:.1f}" if magnitude >= 10 \
            else f"{value:.2f}"
        shown = display_unit(unit)
        return f"{text} {shown}" if shown else text
    return str(value)


__all__ = ["HTTPException", "create_app", "display_unit", "format_value"]
