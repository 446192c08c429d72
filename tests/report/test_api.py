"""The regulator API served by uvicorn on loopback: scoped, expiring, revocable tokens, every
read audited."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI

from plant.site import Site, load_site
from report.api import ensure_schema, issue_token, make_router, revoke_token
from report.synthetic import Season, SeasonWriter
from tests.report.conftest import SITE, local

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("postgres", ["postgres"], indirect=True)]

NOW = local(2026, 2, 1, 12)


class Clock:
    """The API's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def api(database: str) -> Iterator[tuple[str, str, Clock]]:
    """Two days of the doublet in a database and the regulator API serving it."""
    site = load_site(SITE)
    SeasonWriter(site, Season(local(2026, 1, 5), local(2026, 1, 7))).write(database)
    with psycopg.connect(database, autocommit=True) as conn:
        ensure_schema(conn)
        ensure_schema(conn)  # idempotent
    clock = Clock()

    def site_of(station: str) -> Site | None:
        return site if station == site.station.id else None

    app = FastAPI()
    app.include_router(make_router(database, site_of, clock))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="regulator-api")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    yield database, f"http://127.0.0.1:{port}", clock
    server.should_exit = True
    thread.join(10)


def _get(url: str, token: str | None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_tokens_read_only_their_stations_until_expired_or_revoked_and_every_read_is_audited(
        api: tuple[str, str, Clock]) -> None:
    dsn, base, clock = api
    with psycopg.connect(dsn, autocommit=True) as conn:
        ours = issue_token(conn, "water authority", ["hydrothermal-doublet"], timedelta(days=30),
                           now=NOW)
        theirs = issue_token(conn, "other district", ["deep-borehole-school"],
                             timedelta(days=30), now=NOW)
        short = issue_token(conn, "water authority", ["hydrothermal-doublet"],
                            timedelta(hours=1), now=NOW)
        revoked = issue_token(conn, "water authority", ["hydrothermal-doublet"],
                              timedelta(days=30), now=NOW)
        assert revoke_token(conn, revoked.split(".")[0].removeprefix("gsr_"))
        stored = conn.execute("SELECT count(*) FROM report_tokens WHERE secret_hash = %s",
                              (ours.encode(),)).fetchone()
        assert stored == (0,)  # only the hash of the secret is kept
    station = f"{base}/regulator/stations/hydrothermal-doublet"
    report_url = f"{station}/reports/reinjection?period=2026-01&format=json"
    expected: list[int] = []

    status, body, headers = _get(report_url, ours)
    expected.append(status)
    assert status == 200
    data = json.loads(body)
    assert data["digest"] == headers["x-report-digest"]
    assert data["inputs"]["station"] == "hydrothermal-doublet"

    status, body, _ = _get(f"{station}/indicators?period=2026-01", ours)
    expected.append(status)
    assert status == 200
    assert {i["name"] for i in json.loads(body)["indicators"]} >= {"electricity",
                                                                    "water_reinjected"}
    status, body, _ = _get(f"{base}/regulator/stations", ours)
    expected.append(status)
    assert json.loads(body)["stations"] == ["hydrothermal-doublet"]

    # another district's token cannot read this station, nor this one another
    status, body, _ = _get(report_url, theirs)
    expected.append(status)
    assert status == 403 and b"not in the token's scope" in body
    status, _, _ = _get(f"{base}/regulator/stations/deep-borehole-school/reports/energy"
                        "?period=2026-01", ours)
    expected.append(status)
    assert status == 403
    # revoked, expired, missing, forged
    status, body, _ = _get(report_url, revoked)
    expected.append(status)
    assert status == 401 and b"revoked" in body
    clock.now = NOW + timedelta(hours=2)
    status, body, _ = _get(report_url, short)
    expected.append(status)
    assert status == 401 and b"expired" in body
    status, _, _ = _get(report_url, None)
    expected.append(status)
    assert status == 401
    forged = ours[:-4] + ("AAAA" if not ours.endswith("AAAA") else "BBBB")
    status, body, _ = _get(report_url, forged)
    expected.append(status)
    assert status == 401 and b"unknown token" in body
    status, body, _ = _get(report_url.replace("2026-01", "January"), ours)
    expected.append(status)
    assert status == 400 and b"not a month" in body
    # there is no path to raw data or control
    assert _get(f"{station}/raw", ours)[0] == 404

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT status, regulator, station, detail FROM report_audit"
                            " ORDER BY id").fetchall()
        assert [r[0] for r in rows] == expected
        assert rows[0][1] == "water authority" and rows[0][3] == "read"
        assert rows[3][1] == "other district"
        assert rows[5][3] == "token revoked"
        assert rows[6][3] == "token expired"
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM report_audit")


def test_tokens_are_issued_and_revoked_from_the_command_line(database: str) -> None:
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "geoscada.cli", "report", "token", *args],
                              capture_output=True, text=True, check=False, timeout=60)

    made = cli("issue", "--db", database, "--regulator", "water authority",
               "--station", "hydrothermal-doublet", "--days", "7")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("gsr_")
    token_id = token.removeprefix("gsr_").split(".")[0]
    assert cli("revoke", "--db", database, token_id).returncode == 0
    again = cli("revoke", "--db", database, token_id)
    assert again.returncode == 1 and "no live token" in again.stderr
    refused = cli("issue", "--db", database, "--regulator", "x", "--station", "s",
                  "--days", "0")
    assert refused.returncode == 1 and "lifetime" in refused.stderr
