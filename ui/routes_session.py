"""Logging in and out: the login form, its throttling, the session cookie."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from ui.auth import (
    COOKIE,
    audit,
    check_csrf,
    client_address,
    session_of,
    throttle_keys,
    verify_password,
)
from ui.context import context
from ui.pages import error_response, render

router = APIRouter()

LOGIN_NONCE = "geoscada_login"
"""Cookie holding the login form's nonce: the form's token is tied to it (no login CSRF)."""
MAX_FIELD = 200


def _safe_next(path: str | None) -> str:
    """Only a path of this site: never an absolute URL to somewhere else."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _login_form(request: Request, *, status: int = 200, error: str = "",
                next_path: str = "/") -> Response:
    ctx = context(request)
    nonce = secrets.token_urlsafe(18)
    response = render(request, "login.html", status=status, error=error,
                      next_path=_safe_next(next_path),
                      login_csrf=ctx.sessions.csrf_token(f"login\0{nonce}"), page_stations=[])
    response.set_cookie(LOGIN_NONCE, nonce, httponly=True, samesite="strict",
                        secure=ctx.settings.cookie_secure, path="/login")
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    """The login form."""
    return _login_form(request, next_path=next)


@router.post("/login")
def login(request: Request, username: Annotated[str, Form(max_length=MAX_FIELD)],
          password: Annotated[str, Form(max_length=MAX_FIELD)],
          csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          next: Annotated[str, Form(max_length=MAX_FIELD)] = "/") -> Response:
    """Check the credentials; on success set the session cookie and go where asked."""
    ctx = context(request)
    now = ctx.clock()
    nonce = request.cookies.get(LOGIN_NONCE, "")
    expected = ctx.sessions.csrf_token(f"login\0{nonce}")
    if not nonce or not hmac.compare_digest(csrf_token, expected):
        audit(request, "login", "refused", target=username, reason="csrf")
        return error_response(request, 403, "the login form has expired; reload it")
    keys = throttle_keys(username, client_address(request))
    wait = ctx.throttle.wait_s(keys, now)
    if wait > 0:
        audit(request, "login", "throttled", target=username)
        return _login_form(request, status=429, next_path=next,
                           error=f"too many failed logins; try again in {wait:.0f} s")
    user = ctx.users.get(username)
    if not verify_password(user, password) or user is None:
        ctx.throttle.failed(keys, now)
        audit(request, "login", "failed", target=username)
        return _login_form(request, status=401, next_path=next,
                           error="unknown user name or wrong password")
    ctx.throttle.succeeded(keys)
    cookie, _session = ctx.sessions.issue(user.name, now)
    audit(request, "login", "ok", user=user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=int(ctx.settings.session_lifetime_s),
                        httponly=True, samesite="strict", secure=ctx.settings.cookie_secure)
    response.delete_cookie(LOGIN_NONCE, path="/login")
    return response


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    """End the session."""
    ctx = context(request)
    session, user = session_of(request)
    ctx.sessions.revoke(session, ctx.clock())
    audit(request, "logout", "ok", user=user)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
