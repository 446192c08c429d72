"""Benchmark: time to first render of a point-year trend, on the server and in the browser.

Writes one point with a year of 1 s data (31,536,000 rows by binary COPY, with a 6-hour outage
and a bad day in the gap ledger; ``historian.bulk``), rolls it up set-based, serves the UI on
loopback and times:

* server: ``GET /api/trend`` of the year at 1,000 px (the first call, then the median), as the
  route measures itself (``Server-Timing``) and as the client waits for it;
* browser: headless Debian Chromium opens ``/trend`` for the year (logged in): milliseconds from
  navigation start to the chart drawn, the first time and the median of reloads.

Every opening is also checked, and the benchmark fails naming what is wrong: the data the page
received spans the whole period, is broken exactly at the outage and the bad day and nowhere
else, and the line is drawn in every pixel column of the plot except within two pixels of
those two spans or of the plot's edges (read back from the chart's canvas).

    .venv/bin/python bench/bench_trend.py [--days 365] [--step 1] [--repeat 5] [--plain]
"""

from __future__ import annotations

import argparse
import itertools
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


def history(days: int, step_s: int) -> bulk.History:
    """The point's year (or ``days``) with a six-hour outage and a bad day."""
    site = load_site(SITE)
    birth = Birth(station=site.station.id, session=1, bdseq=1, t=START, gateway="bench",
                  name=site.station.name, kind=site.station.kind,
                  timezone=site.station.timezone, site_hash="0" * 64,
                  points=(point_info(site, POINT, step_s),))
    middle = START + timedelta(days=days // 2)
    return bulk.History(
        birth, POINT, START, START + timedelta(days=days), timedelta(seconds=step_s),
        temperature, outages=((middle, middle + timedelta(hours=6)),),
        bad=((middle + timedelta(days=days // 4), middle + timedelta(days=days // 4 + 1)),))


class RenderError(AssertionError):
    """The trend page did not draw the period as written."""


# Which pixel columns of the plot hold the line's ink (its pen is dark blue; the outage shade
# is grey and the bad-quality hatch orange).
_INKED_COLUMNS = """() => {
  const box = document.getElementById("trend-chart");
  const canvas = box.querySelector("canvas"), over = box.querySelector(".u-over");
  const c = canvas.getBoundingClientRect(), o = over.getBoundingClientRect();
  const sx = canvas.width / c.width, sy = canvas.height / c.height;
  const left = Math.round((o.left - c.left) * sx), top = Math.round((o.top - c.top) * sy);
  const w = Math.round(o.width * sx), h = Math.round(o.height * sy);
  const px = canvas.getContext("2d").getImageData(left, top, w, h).data;
  const inked = [];
  for (let x = 0; x < w; x++) {
    let hit = false;
    for (let y = 0; y < h && !hit; y++) {
      const i = 4 * (y * w + x);
      hit = px[i + 3] > 0 && px[i + 2] > px[i] + 60 && px[i + 2] > px[i + 1] + 30;
    }
    inked.push(hit);
  }
  return inked;
}"""


def check_render(body: dict[str, Any], inked: list[bool], written: bulk.History) -> str:
    """Raise :class:`RenderError` unless the page drew the whole period broken only where the
    history has its outage and bad run; otherwise say what was checked."""
    start, end = written.start.timestamp(), written.end.timestamp()
    series = body["series"][0]
    times: list[float] = series["times"]
    values: list[float | None] = series["values"]
    slot = (end - start) / max(1, series["vertices"] / 2)
    step = written.step.total_seconds()
    expected = sorted([(a.timestamp(), b.timestamp(), "outage") for a, b in written.outages]
                      + [(a.timestamp(), b.timestamp(), "bad_quality") for a, b in written.bad])
    missing = sorted((m["start"], m["end"], m["kind"]) for m in series["missing"])
    if len(missing) != len(expected) or any(
            kind != want_kind or abs(a - want_a) > step or abs(b - want_b) > step
            for (a, b, kind), (want_a, want_b, want_kind) in zip(missing, expected, strict=False)):
        raise RenderError(f"missing spans {missing}, written {expected}")
    drawn = [t for t, v in zip(times, values, strict=True) if v is not None]
    if not drawn or drawn[0] - start > 2 * slot or end - drawn[-1] > 2 * slot:
        raise RenderError(f"the line spans {drawn[:1]}..{drawn[-1:]}, not {start}..{end}")
    breaks = [t for t, v in zip(times, values, strict=True) if v is None]
    if len(breaks) != len(expected) or any(
            not a <= t <= b for t, (a, b, _) in zip(breaks, expected, strict=False)):
        raise RenderError(f"the line breaks at {breaks}, the history at {expected}")
    for before, after in itertools.pairwise(drawn):
        if after - before > 2 * slot and not any(
                a - 2 * slot <= before and after <= b + 2 * slot for a, b, _ in expected):
            raise RenderError(f"no vertex between {before} and {after} outside any gap")
    width = len(inked)
    if width < 300:
        raise RenderError(f"the plot is {width} px wide")
    near_gap = {x for a, b, _ in expected
                for x in range(int((a - start) / (end - start) * width) - 2,
                               int((b - start) / (end - start) * width) + 3)}
    # the line starts and ends on the plot's edge, where its ink may fall half outside
    edges = {0, 1, width - 2, width - 1}
    blank = [x for x, ink in enumerate(inked) if not ink and x not in near_gap | edges]
    if blank:
        raise RenderError(f"{len(blank)} of {width} pixel columns have no line away from the "
                          f"gaps, first at {blank[:5]}")
    return (f"{series['vertices']:,} vertices over the whole period, broken at the outage and "
            f"the bad day only; the line in all but {width - sum(inked)} of {width} pixel "
            f"columns (all of them within 2 px of the two gaps or the plot's edges)")


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


def browser_times(url: str, password: str, query: dict[str, str], repeat: int,
                  written: bulk.History) -> tuple[list[dict[str, Any]], str]:
    """``window.trendTiming`` of the first opening of the trend page and of each reload, each
    opening checked against the history written (:func:`check_render`)."""
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
        checked = ""
        for _ in range(repeat):
            with page.expect_response(lambda r: "/api/trend" in r.url,
                                      timeout=120_000) as answer:
                page.goto(address)
            page.wait_for_selector('#trend-chart[data-ready="1"]', timeout=120_000)
            timings.append(page.evaluate("window.trendTiming"))
            checked = check_render(answer.value.json(), page.evaluate(_INKED_COLUMNS), written)
        browser.close()
    return timings, checked


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
        written = history(args.days, args.step)
        loaded = bulk.write_history(dsn, written)
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
        pages, checked = browser_times(
            url, password, {k: v for k, v in query.items() if k != "width"}, args.repeat,
            written)
        print(f"browser check, every opening: {checked}")
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
