"""Benchmark: time to first render of a point-year trend, on the server and in the browser.

Writes one point with a year of 1 s data (31,536,000 rows by binary COPY, with a 6-hour outage
and a bad day in the gap ledger; ``historian.bulk``), rolls it up set-based, serves the UI on
loopback and times:

* server: ``GET /api/trend`` of the year at 1,000 px (the first call, then the median), as the
  route measures itself (``Server-Timing``) and as the client waits for it;
* browser: headless Debian Chromium opens ``/trend`` for the year (logged in): milliseconds from
  navigation start to the chart drawn, the first time and the median of reloads.

    .venv/bin/python bench/bench_trend.py [--days 365] [--step 1] [--repeat 5] [--plain]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import tempfile
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import uvicorn
import yaml

from geoscada.services import PostgresCluster, free_port
from historian import bulk
from plant.contract import Birth
from plant.site import load_site
from report.synthetic import point_info
from ui.app import create_app
from ui.auth import Role, User, hash_password, write_users
from ui.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "sites" / "hydrothermal-doublet.yaml"
POINT = "PW1.wellhead_temp"
START = datetime(2025, 1, 1, tzinfo=UTC)
CHROMIUM = "/usr/bin/chromium"


def temperature(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A wellhead temperature with a daily and a ten-minute wave."""
    return np.asarray(55 + 8 * np.sin(t / 86400 * 2 * np.pi) + 3 * np.sin(t / 600),
                      dtype=np.float64)


def load(dsn: str, days: int, step_s: int) -> bulk.Loaded:
    """Write the point's year (or ``days``) with an outage and a bad day, and roll it up."""
    site = load_site(SITE)
    birth = Birth(station=site.station.id, session=1, bdseq=1, t=START, gateway="bench",
                  name=site.station.name, kind=site.station.kind,
                  timezone=site.station.timezone, site_hash="0" * 64,
                  points=(point_info(site, POINT, step_s),))
    middle = START + timedelta(days=days // 2)
    return bulk.write_history(dsn, bulk.History(
        birth, POINT, START, START + timedelta(days=days), timedelta(seconds=step_s),
        temperature, outages=((middle, middle + timedelta(hours=6)),),
        bad=((middle + timedelta(days=days // 4), middle + timedelta(days=days // 4 + 1)),)))


def serve(settings_path: Path) -> tuple[uvicorn.Server, threading.Thread, str]:
    """The UI on a free loopback port in a thread."""
    app = create_app(load_settings(settings_path), connect=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def write_settings(folder: Path, dsn: str, password: str) -> Path:
    """A users file with one operator, a fresh session secret, and the UI's settings."""
    folder.mkdir(parents=True)
    secret = folder / "secret"
    secret.write_text(secrets.token_hex(32))
    secret.chmod(0o600)
    write_users(folder / "users.yaml", [User("operator", Role.OPERATOR, hash_password(password))])
    path = folder / "ui.yaml"
    path.write_text(yaml.safe_dump({
        "sites": [str(SITE)], "users_file": "users.yaml", "audit_log": "audit.jsonl",
        "session_secret_file": "secret", "database": dsn}))
    return path


def server_times(url: str, password: str, query: dict[str, str], repeat: int
                 ) -> list[tuple[float, float, int]]:
    """(route ms, client ms, vertices) of each call of the year's trend."""
    with httpx.Client(base_url=url, timeout=120) as client:
        form = client.get("/login").text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"username": "operator", "password": password,
                                    "csrf_token": token})
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            answer = client.get("/api/trend", params=query)
            waited = 1000 * (time.perf_counter() - began)
            answer.raise_for_status()
            body = answer.json()
            times.append((float(body["server_ms"]), waited, int(body["series"][0]["vertices"])))
        return times


def browser_times(url: str, password: str, query: dict[str, str], repeat: int
                  ) -> list[dict[str, Any]]:
    """``window.trendTiming`` of the first opening of the trend page and of each reload."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(f"{url}/login")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/")
        address = f"{url}/trend?{urllib.parse.urlencode(query)}"
        for _ in range(repeat):
            page.goto(address)
            page.wait_for_selector('#trend-chart[data-ready="1"]', timeout=120_000)
            timings.append(page.evaluate("window.trendTiming"))
        browser.close()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--step", type=int, default=1, help="seconds between raw samples")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--plain", action="store_true", help="plain PostgreSQL, no TimescaleDB")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="geoscada-bench-trend-", dir="/tmp"))
    workdir.chmod(0o755)
    print(f"load average before: {os.getloadavg()}")
    cluster = PostgresCluster(workdir / "pg", timescaledb=not args.plain)
    try:
        cluster.start()
        dsn = cluster.create_database("bench")
        loaded = load(dsn, args.days, args.step)
        print(f"loaded {loaded.rows:,} samples ({args.days} days at {args.step} s) in "
              f"{loaded.load_s:.0f} s; rolled up {loaded.rollup_buckets:,} one-minute buckets "
              f"in {loaded.rollup_s:.0f} s")
        password = secrets.token_urlsafe(16)
        server, thread, url = serve(write_settings(workdir / "ui", dsn, password))
        end = START + timedelta(days=args.days)
        query = {"point": f"{load_site(SITE).station.id}/{POINT}", "from": START.isoformat(),
                 "to": end.isoformat(), "width": "1000"}
        calls = server_times(url, password, query, args.repeat)
        print(f"server, /api/trend of the period at 1,000 px ({calls[0][2]:,} vertices): first "
              f"{calls[0][0]:.0f} ms in the route, {calls[0][1]:.0f} ms at the client; median "
              f"{statistics.median(c[0] for c in calls):.0f} ms / "
              f"{statistics.median(c[1] for c in calls):.0f} ms")
        pages = browser_times(url, password, {k: v for k, v in query.items() if k != "width"},
                              args.repeat)
        first = pages[0]
        print(f"browser, navigation to chart drawn: first {first['since_navigation_ms']:.0f} ms "
              f"(fetch {first['fetch_ms']:.0f} ms, draw {first['draw_ms']:.0f} ms, "
              f"{first['vertices']:,} vertices); median of {len(pages)} "
              f"{statistics.median(p['since_navigation_ms'] for p in pages):.0f} ms "
              f"(fetch {statistics.median(p['fetch_ms'] for p in pages):.0f} ms, "
              f"draw {statistics.median(p['draw_ms'] for p in pages):.0f} ms)")
        print(f"load average after: {os.getloadavg()}")
        server.should_exit = True
        thread.join(10)
    finally:
        cluster.stop("immediate")
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
