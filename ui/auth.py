"""Who may use the UI and what they may do: users, roles, sessions, CSRF, throttling, audit.

Users live in a YAML file with argon2 hashes (``geoscada ui user`` writes it). A session is a
signed cookie (HMAC-SHA256 with the settings' secret) carrying the user, a random session id
and its expiry; logging out revokes the id. Every state-changing request carries the
session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``), derived from the
session id with the secret. Failed logins are counted per user name and per client address;
past the allowance the login is refused for the lockout period. Every action is appended to
the audit log, one JSON object per line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request

from ui.context import UiContext, context

log = logging.getLogger(__name__)

COOKIE = "geoscada_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Role(StrEnum):
    """What a person does at the plant."""

    OPERATOR = "operator"
    ENGINEER = "engineer"
    REGULATOR = "regulator"
    ADMIN = "admin"


PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.REGULATOR: frozenset({"view"}),
    Role.OPERATOR: frozenset({"view", "ack_alarm", "shelve_alarm", "command"}),
    Role.ENGINEER: frozenset({"view", "ack_alarm", "shelve_alarm", "command", "hold_unit"}),
    Role.ADMIN: frozenset({"view", "ack_alarm", "shelve_alarm", "command", "hold_unit",
                           "admin"}),
}
"""Permission names every route checks: view, ack_alarm, shelve_alarm, command, hold_unit (a
heat pump out of automatic staging and back), admin."""
ALL_PERMISSIONS = frozenset().union(*PERMISSIONS.values())


class UsersFileError(ValueError):
    """A users file that cannot be used; the message names the file and entry."""


class NotAuthenticatedError(Exception):
    """No valid session: not logged in, expired, revoked or forged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ForbiddenError(Exception):
    """Logged in, but not allowed to do this (permission, station scope or CSRF)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class User:
    """A person with a role; ``stations`` None means every station."""

    name: str
    role: Role
    password_hash: str = field(repr=False)
    stations: frozenset[str] | None = None

    def can(self, permission: str) -> bool:
        """Say whether the user's role grants this permission."""
        return permission in PERMISSIONS[self.role]


_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Check a password; an unknown user costs the same time as a wrong password."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and (
            user is not None)
    except (VerificationError, InvalidHashError):
        return False


def load_users(path: Path) -> dict[str, User]:
    """Read the users file: ``users: [{name, role, password_hash, stations?}]``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsersFileError(f"{path}: {exc}") from None
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UsersFileError(f"{path}: expected a mapping with a list `users`")
    users: dict[str, User] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: users[{index}]"
        if not isinstance(entry, dict):
            raise UsersFileError(f"{where}: expected a mapping")
        name, role, digest = entry.get("name"), entry.get("role"), entry.get("password_hash")
        if not isinstance(name, str) or not name or name in users:
            raise UsersFileError(f"{where}: name missing or repeated")
        try:
            role = Role(str(role))
        except ValueError:
            raise UsersFileError(f"{where}: role {role!r} is not one of "
                                 f"{', '.join(Role)}") from None
        if not isinstance(digest, str) or not digest.startswith("$argon2"):
            raise UsersFileError(f"{where}: password_hash must be an argon2 hash")
        stations = entry.get("stations")
        if stations is not None and (not isinstance(stations, list)
                                     or not all(isinstance(s, str) for s in stations)):
            raise UsersFileError(f"{where}: stations must be a list of station ids")
        if role is Role.REGULATOR and not stations:
            raise UsersFileError(f"{where}: a regulator is scoped to named stations")
        users[name] = User(name, role, digest, frozenset(stations) if stations else None)
    return users


def write_users(path: Path, users: Iterable[User]) -> None:
    """Write a users file (0600): names, roles, hashes and station scopes."""
    entries: list[dict[str, Any]] = []
    for user in users:
        entry: dict[str, Any] = {"name": user.name, "role": user.role.value,
                                 "password_hash": user.password_hash}
        if user.stations is not None:
            entry["stations"] = sorted(user.stations)
        entries.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        yaml.safe_dump({"users": entries}, out, sort_keys=False)
    path.chmod(0o600)


def may_see(user: User, station: str) -> bool:
    """Say whether the user's station scope includes this station."""
    return user.stations is None or station in user.stations


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class Session:
    """A logged-in session as its cookie carries it."""

    user: str
    session_id: str
    expires: float


class SessionSigner:
    """Makes and checks session cookies; keeps the ids revoked by logging out, in ``ended``
    (a JSON file, 0600) when given, so a restarted UI still refuses them."""

    def __init__(self, secret: str, lifetime_s: float, ended: Path | None = None) -> None:
        self._key = hashlib.sha256(b"geoscada-ui-session\0" + secret.encode()).digest()
        self.lifetime_s = lifetime_s
        self._ended = ended
        self._revoked: dict[str, float] = {}
        if ended is not None and ended.exists():
            try:
                data = json.loads(ended.read_text(encoding="utf-8"))
                self._revoked = {str(sid): float(end) for sid, end in data.items()}
            except (ValueError, TypeError, AttributeError, OSError) as error:
                raise ValueError(f"{ended}: not a file of ended sessions ({error}); "
                                 "remove it to start afresh") from None

    def _mac(self, body: bytes) -> str:
        digest = hmac.new(self._key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, user: str, now: float) -> tuple[str, Session]:
        """A new session for the user: (cookie value, session)."""
        session = Session(user, secrets.token_urlsafe(18), now + self.lifetime_s)
        body = base64.urlsafe_b64encode(json.dumps(
            {"u": session.user, "s": session.session_id, "e": session.expires},
            separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._mac(body.encode())}", session

    def read(self, cookie: str, now: float) -> Session:
        """The session a cookie carries; raise NotAuthenticatedError saying why not."""
        body, dot, mac = cookie.partition(".")
        if not dot or not hmac.compare_digest(mac, self._mac(body.encode())):
            raise NotAuthenticatedError("the session cookie is not valid; log in")
        try:
            fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(str(fields["u"]), str(fields["s"]), float(fields["e"]))
        except (ValueError, KeyError, TypeError):
            raise NotAuthenticatedError("the session cookie is not valid; log in") from None
        if now >= session.expires:
            raise NotAuthenticatedError("the session has expired; log in again")
        if session.session_id in self._revoked:
            raise NotAuthenticatedError("the session has ended; log in again")
        return session

    def revoke(self, session: Session, now: float) -> None:
        """End a session before its expiry (logout); forget revocations that expired."""
        self._revoked = {sid: end for sid, end in self._revoked.items() if end > now}
        self._revoked[session.session_id] = session.expires
        if self._ended is not None:
            temporary = self._ended.with_name(f".{self._ended.name}.tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                json.dump(self._revoked, out)
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(self._ended)

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token of a session (or of a login form's nonce)."""
        return self._mac(b"csrf\0" + session_id.encode())


# --------------------------------------------------------------------------- throttling


class LoginThrottle:
    """Refuses logins for a while after too many failures for one user name or address."""

    def __init__(self, allowed: int, window_s: float, lockout_s: float) -> None:
        self.allowed = allowed
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def wait_s(self, keys: Iterable[str], now: float) -> float:
        """Seconds until a login for these keys is tried again (0: go ahead)."""
        return max([0.0, *(self._locked_until.get(key, 0.0) - now for key in keys)])

    def failed(self, keys: Iterable[str], now: float) -> None:
        """Count a failed login against each key; lock a key past its allowance."""
        for key in keys:
            times = self._failures.setdefault(key, deque())
            times.append(now)
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) >= self.allowed:
                self._locked_until[key] = now + self.lockout_s
                times.clear()

    def succeeded(self, keys: Iterable[str]) -> None:
        """Forget the failures of these keys."""
        for key in keys:
            self._failures.pop(key, None)


def throttle_keys(name: str, address: str) -> list[str]:
    """What failed logins are counted against: the user name and the client address."""
    return [f"user:{name.lower()}", f"address:{address}"]


# --------------------------------------------------------------------------- audit


class Audit:
    """The append-only audit log: one JSON object per action, written and synced at once."""

    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, user: str | None, action: str, outcome: str, *, address: str = "",
               target: str = "", **detail: Any) -> None:
        """Append one action: who, what, on what, with which outcome."""
        entry = {"t": datetime.fromtimestamp(self._clock(), UTC).isoformat(), "user": user,
                 "address": address, "action": action, "target": target, "outcome": outcome,
                 **({"detail": detail} if detail else {})}
        line = json.dumps(entry, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line.encode())
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        log.info("audit: %s %s %s %s", user, action, target, outcome)

    def entries(self) -> list[dict[str, Any]]:
        """Every recorded action, oldest first."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line]


def client_address(request: Request) -> str:
    """The peer's address as the server sees it."""
    return request.client.host if request.client else ""


def audit(request: Request, action: str, outcome: str, *, user: User | None = None,
          target: str = "", **detail: Any) -> None:
    """Record an action of this request's user in the audit log."""
    ctx = context(request)
    name = user.name if user else getattr(request.state, "user_name", None)
    ctx.audit.record(name, action, outcome, address=client_address(request), target=target,
                     **detail)


# --------------------------------------------------------------------------- dependencies


def session_of(request: Request) -> tuple[Session, User]:
    """The request's session and user; raise NotAuthenticatedError."""
    ctx: UiContext = context(request)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise NotAuthenticatedError("not logged in")
    session = ctx.sessions.read(cookie, ctx.clock())
    user = ctx.users.get(session.user)
    if user is None:
        raise NotAuthenticatedError("the account no longer exists")
    request.state.user_name = user.name
    request.state.session = session
    return session, user


def current_user(request: Request) -> User:
    """FastAPI dependency: the logged-in user (401 when there is none)."""
    return session_of(request)[1]


def csrf_token(request: Request) -> str:
    """The CSRF token forms and scripts of this request's session must send back."""
    session, _ = session_of(request)
    return context(request).sessions.csrf_token(session.session_id)


async def check_csrf(request: Request) -> None:
    """FastAPI dependency: a state-changing request must carry its session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    expected = csrf_token(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, expected):
        audit(request, "csrf_check", "refused", target=request.url.path)
        raise ForbiddenError("the request lacks this session's CSRF token; reload the page")


def require(permission: str) -> Callable[[Request], User]:
    """FastAPI dependency factory: the logged-in user, who must hold this permission."""
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def dependency(request: Request) -> User:
        user = current_user(request)
        if not user.can(permission):
            audit(request, f"denied:{permission}", "refused", user=user,
                  target=request.url.path)
            raise ForbiddenError(f"the {user.role.value} role may not {permission}")
        return user

    return dependency


def require_station(request: Request, user: User, station: str) -> None:
    """Refuse a station outside the user's scope as if it did not exist (no leak)."""
    from fastapi import HTTPException

    if station not in context(request).sites or not may_see(user, station):
        raise HTTPException(404, f"no station {station!r}")
