"""Web UI benchmark: the overview's first render, and live pages one UI process serves.

``render``: runs ``geoscada demo`` (the three demo stations, every service, the UI) and times
the overview: the server's answer to ``GET /`` (30 requests), and in headless Chromium the
navigation to the first paint of the page and to every station's live figures filled from the
page's stream (10 fresh pages).

``pages``: one ``geoscada ui`` process on a private broker, fed by a publisher that changes
every point of the three demo stations every second (all 3 stations' points, ~630 values/s);
K overview pages (one SSE stream each, all three stations) are opened from this process and
held for a measuring window. Reported per K: the UI process's CPU, the lag from a value's
publication to its arrival at a page (median and p95) and the share of the 1 s updates each
page received. A page is served when its p95 lag stays under 1 s. The load generator shares
the machine's cores with the UI.

    .venv/bin/python bench/bench_ui.py render
    .venv/bin/python bench/bench_ui.py pages [--pages 25,50,100,200,400] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geoscada.services import Mosquitto, free_port  # noqa: E402
from plant.contract import Birth, DataBatch, PointInfo, Sample, Topic, topic  # noqa: E402
from plant.site import Site, load_site  # noqa: E402
from ui.auth import Role, User, hash_password, write_users  # noqa: E402

SITES = [ROOT / "sites" / name for name in
         ("hydrothermal-doublet.yaml", "deep-borehole-school.yaml", "shallow-field.yaml")]
TICKS = os.sysconf("SC_CLK_TCK")


def log_in(client: httpx.Client, user: str, password: str) -> None:
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "no login form"
    answer = client.post("/login", data={"username": user, "password": password,
                                         "csrf_token": token.group(1)})
    assert answer.status_code in (200, 303), answer.text


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --------------------------------------------------------------------------- render


def bench_render(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="bench-ui-", dir="/tmp"))
    workdir.chmod(0o755)
    ui_port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "geoscada.cli", "demo", "--workdir", str(workdir / "demo"),
         "--broker-port", str(free_port()), "--db-port", str(free_port()),
         "--control-port", str(free_port()), "--modbus-port", "0", "--opcua-port", "0",
         "--ui-port", str(ui_port), "--duration", "900"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{ui_port}"
    try:
        credentials = workdir / "demo" / "ui" / "credentials"
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"{url}/login", timeout=2).close()
                if credentials.exists():
                    break
            except OSError:
                pass
            if demo.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the demo's UI did not come up")
            time.sleep(0.5)
        password = dict(line.split(" ", 1) for line in
                        credentials.read_text().splitlines())["operator"]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 headless=True, args=["--no-sandbox"])
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{url}/login")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            # the stations' gateways are up and every figure has a value before timing
            page.wait_for_function(FIGURES_FILLED, timeout=180_000)
            time.sleep(args.settle)
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            with httpx.Client(base_url=url, cookies=cookies) as client:
                server = []
                for _ in range(30):
                    started = time.perf_counter()
                    answer = client.get("/", headers={"accept": "text/html"})
                    server.append(time.perf_counter() - started)
                    assert answer.status_code == 200
            painted, filled = [], []
            for _ in range(10):
                fresh = context.new_page()
                fresh.goto(f"{url}/", wait_until="commit")
                fresh.wait_for_function(FIGURES_FILLED, timeout=30_000)
                timing = fresh.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " const p = performance.getEntriesByName('first-contentful-paint')[0];"
                    " return [p ? p.startTime : n.domContentLoadedEventEnd,"
                    " window.__filledAt]; }")
                painted.append(timing[0] / 1000)
                filled.append(timing[1] / 1000)
                fresh.close()
            browser.close()
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"overview, 3 demo stations, server answer to GET / (30 requests): median "
              f"{statistics.median(server) * 1000:.0f} ms, p95 {pct(server, 0.95) * 1000:.0f} ms")
        print(f"browser (10 fresh pages, from navigation start): first paint median "
              f"{statistics.median(painted) * 1000:.0f} ms; every live figure filled median "
              f"{statistics.median(filled) * 1000:.0f} ms, max {max(filled) * 1000:.0f} ms")
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(90)
        shutil.rmtree(workdir, ignore_errors=True)


FIGURES_FILLED = """() => {
  const cells = [...document.querySelectorAll('[data-sum], [data-ratio]')];
  const states = [...document.querySelectorAll('[data-station-state]')];
  const done = cells.length > 0 && cells.every(c => c.textContent.trim() !== '—')
    && states.every(s => s.classList.contains('alive'));
  if (done && window.__filledAt === undefined) window.__filledAt = performance.now();
  return done;
}"""


# --------------------------------------------------------------------------- pages


def birth_of(site: Site, at: datetime) -> bytes:
    kinds = {e.id: e.kind for e in site.equipment}
    points = tuple(PointInfo(id=p.id, equipment=p.equipment, equipment_kind=kinds[p.equipment],
                             measurand=p.measurand.value, unit=p.unit, dtype=p.dtype,
                             range=p.range) for p in site.points)
    return Birth(station=site.station.id, session=1, bdseq=1, t=at, gateway="bench",
                 name=site.station.name, kind="bench", timezone=site.station.timezone,
                 site_hash="bench", points=points).model_dump_json().encode()


class Publisher(threading.Thread):
    """Every second, a new value of every numeric point of every station."""

    def __init__(self, port: int, sites: list[Site]) -> None:
        super().__init__(daemon=True)
        self.sites = sites
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-plant",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.stop = threading.Event()
        self.values = 0

    def run(self) -> None:
        now = datetime.now(UTC)
        for site in self.sites:
            self.client.publish(topic(site.station.id, Topic.BIRTH), birth_of(site, now), qos=1,
                                retain=True)
        seq = 0
        next_tick = time.monotonic()
        while not self.stop.is_set():
            now = datetime.now(UTC)
            for site in self.sites:
                samples = tuple(Sample(p=p.id, t=now, v=random.uniform(*p.range))
                                for p in site.points if p.dtype != "bool")
                batch = DataBatch(station=site.station.id, session=1, seq=seq, samples=samples)
                self.client.publish(topic(site.station.id, Topic.DATA),
                                    batch.model_dump_json().encode(), qos=1)
                self.values += len(samples)
            seq += 1
            next_tick += 1.0
            self.stop.wait(max(0.0, next_tick - time.monotonic()))
        self.client.loop_stop()
        self.client.disconnect()


TIME_RE = re.compile(rb'"t":"([0-9T:.+\-]+)"')


class Page:
    """One overview page's stream: counts the station changes it gets and their lag."""

    def __init__(self) -> None:
        self.snapshot = asyncio.Event()
        self.lags: list[float] = []
        self.changes = 0
        self.measuring = False

    async def run(self, port: int, cookie: str, stations: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        writer.write((f"GET /live?stations={stations} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Cookie: geoscada_session={cookie}\r\nAccept: text/event-stream\r\n\r\n")
                     .encode())
        await writer.drain()
        try:
            while True:
                message = await reader.readuntil(b"\n\n")
                if b"event: snapshot" in message:
                    self.snapshot.set()
                elif b"event: changes" in message and self.measuring:
                    arrived = time.time()
                    # one change per station batch; the publisher stamps each with its time
                    self.changes += message.count(b'"station":')
                    found = TIME_RE.search(message)
                    if found:
                        sent = datetime.fromisoformat(found.group(1).decode()).timestamp()
                        self.lags.append(arrived - sent)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


async def measure(port: int, cookie: str, count: int, seconds: float, pid: int,
                  stations: str) -> dict[str, Any]:
    pages = [Page() for _ in range(count)]
    tasks = [asyncio.create_task(page.run(port, cookie, stations)) for page in pages]
    try:
        await asyncio.wait_for(asyncio.gather(*(p.snapshot.wait() for p in pages)), 120)
        await asyncio.sleep(3)
        for page in pages:
            page.measuring = True
        cpu0, wall0, own0 = cpu_seconds(pid), time.monotonic(), cpu_seconds(os.getpid())
        await asyncio.sleep(seconds)
        cpu1, wall1, own1 = cpu_seconds(pid), time.monotonic(), cpu_seconds(os.getpid())
        for page in pages:
            page.measuring = False
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    lags = [lag for page in pages for lag in page.lags]
    # three stations publish once a second each: a page gets 3 station changes a second
    received = [page.changes / (3 * seconds) for page in pages]
    return {"pages": count, "cpu": (cpu1 - cpu0) / (wall1 - wall0),
            "client_cpu": (own1 - own0) / (wall1 - wall0),
            "lag_p50": statistics.median(lags) if lags else float("nan"),
            "lag_p95": pct(lags, 0.95), "min_share": min(received)}


def bench_pages(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-ui-pages-"))
    broker = Mosquitto(work / "mosquitto", persistence=False)
    broker.start()
    sites = [load_site(path) for path in SITES]
    secret = work / "secret"
    secret.write_text(secrets.token_hex(32))
    secret.chmod(0o600)
    password = secrets.token_urlsafe(16)
    write_users(work / "users.yaml", [User("operator", Role.OPERATOR, hash_password(password))])
    port = free_port()
    (work / "ui.yaml").write_text(yaml.safe_dump({
        "sites": [str(p) for p in SITES], "users_file": "users.yaml", "audit_log": "audit.jsonl",
        "session_secret_file": "secret", "broker": {"url": broker.url},
        "listen_port": port}))
    ui = subprocess.Popen([sys.executable, "-m", "geoscada.cli", "ui", "serve", "--config",
                           str(work / "ui.yaml"), "--log-level", "WARNING"], cwd=ROOT,
                          start_new_session=True)
    publisher = Publisher(broker.port, sites)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or ui.poll() is not None:
                    raise SystemExit("the UI did not start") from None
                time.sleep(0.3)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            log_in(client, "operator", password)
            cookie = client.cookies["geoscada_session"]
        publisher.start()
        time.sleep(3)
        stations = ",".join(site.station.id for site in sites)
        values = sum(1 for site in sites for p in site.points if p.dtype != "bool")
        print(f"publisher: {values} values/s over 3 stations; window {args.seconds:g} s; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("pages  UI CPU  pages' CPU  lag p50  lag p95  least share of updates")
        for count in [int(n) for n in args.pages.split(",")]:
            row = asyncio.run(measure(port, cookie, count, args.seconds, ui.pid, stations))
            print(f"{row['pages']:>5}  {row['cpu'] * 100:5.0f} %  {row['client_cpu'] * 100:9.0f} %"
                  f"  {row['lag_p50'] * 1000:5.0f} ms"
                  f"  {row['lag_p95'] * 1000:5.0f} ms  {row['min_share'] * 100:5.0f} %",
                  flush=True)
            if row["lag_p95"] > 1.0:
                break
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        publisher.stop.set()
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(30)
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    render = sub.add_parser("render")
    render.add_argument("--settle", type=float, default=5.0)
    pages = sub.add_parser("pages")
    pages.add_argument("--pages", default="25,50,100,200,400")
    pages.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    bench_render(args) if args.part == "render" else bench_pages(args)


if __name__ == "__main__":
    main()

