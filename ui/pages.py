"""Rendering pages and errors the same way everywhere: the user, CSRF token, nav, stations."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ui.auth import NotAuthenticatedError, User, csrf_token, may_see, session_of
from ui.context import context


def wants_html(request: Request) -> bool:
    """True for a browser navigating to a page, False for a script or an API client."""
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def visible_stations(request: Request, user: User) -> list[str]:
    """The stations this user may see, in the settings' order."""
    return [sid for sid in context(request).sites if may_see(user, sid)]


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> Response:
    """A page from ``ui/templates`` with the logged-in user, CSRF token and nav."""
    ctx = context(request)
    user: User | None = None
    token = ""
    try:
        session, user = session_of(request)
        token = ctx.sessions.csrf_token(session.session_id)
    except NotAuthenticatedError:
        pass
    nav = [entry for entry in request.app.state.nav
           if user is not None and user.can(entry[2])]
    page_stations = values.pop("page_stations", None)
    if page_stations is None and user is not None:
        page_stations = visible_stations(request, user)
    response: Response = ctx.templates.TemplateResponse(request, template, {
        "user": user, "csrf_token": token, "nav": nav, "sites": ctx.sites,
        "page_stations": page_stations or [], **values}, status_code=status)
    return response


def error_response(request: Request, status: int, message: str) -> Response:
    """A refusal: a small page for a browser, ``{"error": message}`` for anything else."""
    if wants_html(request):
        return render(request, "error.html", status=status, status_code=status,
                      message=message, login_next=request.url.path if status == 401 else None)
    return JSONResponse({"error": message}, status_code=status)


def page_csrf(request: Request) -> str:
    """The CSRF token of the request's session, for a page's forms and scripts."""
    return csrf_token(request)


__all__ = ["HTMLResponse", "error_response", "page_csrf", "render", "visible_stations",
           "wants_html"]
