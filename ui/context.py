"""What every route of the UI reaches through the request: settings, sites, users, live data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from plant.site import Site
from ui.settings import UiSettings

if TYPE_CHECKING:
    from ui.auth import Audit, LoginThrottle, SessionSigner, User
    from ui.live import LiveCache


@dataclass
class UiContext:
    """The application's shared state, kept on ``app.state.ui``."""

    settings: UiSettings
    sites: dict[str, Site]
    """Station id -> its site file, in the order of the settings."""
    users: dict[str, User]
    sessions: SessionSigner
    throttle: LoginThrottle
    audit: Audit
    live: LiveCache
    templates: Jinja2Templates
    clock: Callable[[], float]
    """Wall-clock seconds; tests pass their own."""
    extras: dict[str, Any]
    """Per-feature state a router keeps (its name as key), e.g. a command client."""


def context(request: Request) -> UiContext:
    """The UI's shared state from a request."""
    ctx: UiContext = request.app.state.ui
    return ctx
