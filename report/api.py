"""Regulator HTTP API: reports and platform indicators of the stations a token names.

A FastAPI router, to be mounted by the operator's web application. Regulators hold bearer
tokens that name their stations and expire; a token can be revoked. Tokens are stored as a
SHA-256 of their secret part only. Every request, granted or refused, is written to an
append-only audit table. Nothing here reads raw samples or reaches any control path.
"""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations, which
# name the router's own connection dependency, at definition time.
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from psycopg import Connection

from plant.site import Site
from report.export import ADAPTERS, indicators
from report.make import energy_report, reinjection_report
from report.periods import PeriodError
from report.render import FORMATS, render

SCHEMA = """
CREATE TABLE IF NOT EXISTS report_tokens (
    id          text PRIMARY KEY,
    secret_hash bytea NOT NULL,
    regulator   text NOT NULL,
    stations    text[] NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE TABLE IF NOT EXISTS report_audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    token_id  text,
    regulator text,
    path      text NOT NULL,
    station   text,
    status    integer NOT NULL,
    detail    text NOT NULL
);
CREATE OR REPLACE FUNCTION report_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'report_audit is append-only';
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS report_audit_append_only ON report_audit;
CREATE TRIGGER report_audit_append_only BEFORE UPDATE OR DELETE ON report_audit
    FOR EACH ROW EXECUTE FUNCTION report_audit_append_only();
"""

TOKEN_PREFIX = "gsr_"
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf"}


def ensure_schema(conn: Connection[Any]) -> None:
    """Create the token and audit tables unless they exist."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('report_api_schema'))")
        conn.execute(SCHEMA.encode())


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def issue_token(conn: Connection[Any], regulator: str, stations: Sequence[str],
                lifetime: timedelta, now: datetime | None = None) -> str:
    """Make a token for a regulator and stations; the returned text is shown once, never
    stored (only its secret's hash is)."""
    if not stations:
        raise ValueError("a token must name at least one station")
    if lifetime <= timedelta(0):
        raise ValueError("a token's lifetime must be positive")
    moment = now or datetime.now(UTC)
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with conn.transaction():
        conn.execute(
            "INSERT INTO report_tokens (id, secret_hash, regulator, stations, created_at,"
            " expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (token_id, _hash(secret), regulator, list(stations), moment, moment + lifetime))
    return f"{TOKEN_PREFIX}{token_id}.{secret}"


def revoke_token(conn: Connection[Any], token_id: str, now: datetime | None = None) -> bool:
    """Revoke a token by id; False if no such live token."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE report_tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL"
            " RETURNING id", (now or datetime.now(UTC), token_id)).fetchone()
    return row is not None


@dataclass(frozen=True)
class Grant:
    """Who a valid token belongs to and which stations it may read."""

    token_id: str
    regulator: str
    stations: tuple[str, ...]


class RefusedError(Exception):
    """A request refused, with its HTTP status and the reason audited."""

    def __init__(self, status: int, reason: str, grant: Grant | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.grant = grant


def check_token(conn: Connection[Any], authorization: str | None, now: datetime) -> Grant:
    """The grant of a bearer token; RefusedError (401) naming why it is not valid."""
    if not authorization or not authorization.startswith("Bearer "):
        raise RefusedError(401, "no bearer token")
    text = authorization.removeprefix("Bearer ").strip()
    if not text.startswith(TOKEN_PREFIX) or "." not in text:
        raise RefusedError(401, "malformed token")
    token_id, secret = text.removeprefix(TOKEN_PREFIX).split(".", 1)
    row = conn.execute(
        "SELECT secret_hash, regulator, stations, expires_at, revoked_at FROM report_tokens"
        " WHERE id = %s", (token_id,)).fetchone()
    if row is None or not hmac.compare_digest(bytes(row[0]), _hash(secret)):
        raise RefusedError(401, "unknown token")
    grant = Grant(token_id, str(row[1]), tuple(row[2]))
    if row[4] is not None:
        raise RefusedError(401, "token revoked", grant)
    if row[3] <= now:
        raise RefusedError(401, "token expired", grant)
    return grant


def audit(conn: Connection[Any], *, at: datetime, grant: Grant | None, path: str,
          station: str | None, status: int, detail: str) -> None:
    """Append one row to the audit table, in its own transaction."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO report_audit (at, token_id, regulator, path, station, status, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (at, grant.token_id if grant else None, grant.regulator if grant else None, path,
             station, status, detail))


def make_router(dsn: str, site_of: Callable[[str], Site | None],
                clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    """The regulator API; ``site_of`` finds a station's site file (None if unknown)."""
    router = APIRouter(prefix="/regulator")

    def connection() -> Any:
        with psycopg.connect(dsn, autocommit=True, options="-c jit=off") as conn:
            yield conn

    Conn = Annotated[Connection[Any], Depends(connection)]  # noqa: N806

    def guarded(conn: Connection[Any], request: Request, authorization: str | None,
                station: str | None, work: Callable[[Grant], Response]) -> Response:
        at = clock()
        grant: Grant | None = None
        try:
            grant = check_token(conn, authorization, at)
            if station is not None and station not in grant.stations:
                raise RefusedError(403, f"station {station} is not in the token's scope", grant)
            response = work(grant)
        except RefusedError as exc:
            audit(conn, at=at, grant=exc.grant or grant, path=request.url.path,
                  station=station, status=exc.status, detail=exc.reason)
            raise HTTPException(exc.status, exc.reason) from None
        except (PeriodError, ValueError) as exc:
            audit(conn, at=at, grant=grant, path=request.url.path, station=station,
                  status=400, detail=str(exc))
            raise HTTPException(400, str(exc)) from None
        audit(conn, at=at, grant=grant, path=f"{request.url.path}?{request.url.query}",
              station=station, status=response.status_code, detail="read")
        return response

    def site(station: str) -> Site:
        found = site_of(station)
        if found is None:
            raise RefusedError(404, f"no site file for station {station}")
        return found

    @router.get("/stations")
    def stations(conn: Conn, request: Request,
                 authorization: Annotated[str | None, Header()] = None) -> Response:
        """The stations the token may read."""
        return guarded(conn, request, authorization, None, lambda grant: Response(
            json.dumps({"regulator": grant.regulator, "stations": sorted(grant.stations)},
                       sort_keys=True).encode(), media_type=MEDIA["json"]))

    @router.get("/stations/{station}/reports/{kind}")
    def report(conn: Conn, request: Request, *, station: str, kind: str,
               period: Annotated[str, Query()],
               fmt: Annotated[str, Query(alias="format")] = "json",
               authorization: Annotated[str | None, Header()] = None) -> Response:
        """A station's reinjection or energy report for a period, in one of the formats."""
        def work(_: Grant) -> Response:
            if kind not in ("reinjection", "energy"):
                raise RefusedError(404, f"no report kind {kind!r} (reinjection, energy)")
            if fmt not in FORMATS:
                raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
            make = reinjection_report if kind == "reinjection" else energy_report
            made = make(conn, site(station), period)
            return Response(render(made, fmt), media_type=MEDIA[fmt],
                            headers={"X-Report-Digest": made.digest})
        return guarded(conn, request, authorization, station, work)

    @router.get("/stations/{station}/indicators")
    def platform(conn: Conn, request: Request, *, station: str, period: Annotated[str, Query()],
                 authorization: Annotated[str | None, Header()] = None) -> Response:
        """The platform indicators (electricity, water, efficiency, carbon) for a period."""
        def work(_: Grant) -> Response:
            where = site(station)
            items = indicators(reinjection_report(conn, where, period),
                               energy_report(conn, where, period))
            return Response(ADAPTERS["json"].render(items), media_type=MEDIA["json"])
        return guarded(conn, request, authorization, station, work)

    return router

