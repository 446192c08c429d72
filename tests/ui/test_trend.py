"""The trend tool over a point-year in a private historian database: levels, extremes, breaks at
every outage and bad run, refusals, and the page drawn in Debian's Chromium.

The year is raw data every two hours, written by binary COPY and rolled up by the historian's own worker
(``historian.bulk``): a year trend reads the hourly rollup whatever the raw rate, so the page
draws the same 2,000 vertices as from a year of 1 s data; ``bench/bench_trend.py`` times the
same path over a true year of 1 s data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient

from geoscada.services import PostgresCluster, free_port
from historian import bulk
from plant.contract import Birth
from plant.site import load_site
from report.synthetic import point_info
from tests.ui.apphelpers import PASSWORDS, SITES, UiHarness, log_in
from tests.ui.screenshots import Screenshot
from tests.ui.test_downsample import _crosses
from ui.app import create_app
from ui.settings import load_settings

# Plain PostgreSQL: rolling up a year of sparse samples marks 4,380 separate minutes,
# and on a hypertable each one's successor lookup visits the year's chunks (minutes of CPU);
# the trend's queries are the same on both flavours (tests/historian/test_query.py runs both).
pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("postgres", ["postgres"], indirect=True)]

STATION = "hydrothermal-doublet"
POINT = f"{STATION}/PW1.flow"
YEAR = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
OUTAGE = (datetime(2025, 4, 11, tzinfo=UTC), datetime(2025, 4, 11, 6, tzinfo=UTC))
BAD = (datetime(2025, 7, 20, tzinfo=UTC), datetime(2025, 7, 21, tzinfo=UTC))
SPIKE = datetime(2025, 9, 3, 16, tzinfo=UTC)
YEAR_QUERY = {"point": POINT, "from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z",
              "width": "1000"}


def flow(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A daily wave, and one spike a downsampled year must still show."""
    wave = 100 + 8 * np.sin(t / 86400 * 2 * np.pi) + 3 * np.sin(t / 600)
    return np.where(t == SPIKE.timestamp(), 150.0, wave)


@pytest.fixture(scope="module")
def year(postgres: PostgresCluster) -> Iterator[str]:
    """A database holding a year of PW1.flow every two hours, an outage and a bad day."""
    name = f"trend_year_{int(time.time())}"
    dsn = postgres.create_database(name)
    site = load_site(SITES[0])
    birth = Birth(station=STATION, session=1, bdseq=1, t=YEAR[0], gateway="bulk",
                  name=site.station.name, kind=site.station.kind,
                  timezone=site.station.timezone, site_hash="0" * 64,
                  points=(point_info(site, "PW1.flow", 7200),))
    bulk.write_history(dsn, bulk.History(
        birth, "PW1.flow", YEAR[0], YEAR[1], timedelta(hours=2), flow,
        outages=(OUTAGE,), bad=(BAD,)))
    yield dsn
    postgres.drop_database(name)


def scalar(dsn: str, statement: str, *args: object) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(statement, args).fetchone()
        assert row is not None
        return row[0]


@pytest.fixture
def harness(tmp_path: Path) -> UiHarness:
    return UiHarness(tmp_path / "ui")


def test_a_point_year_is_two_vertices_per_column_from_the_hourly_rollups_with_every_gap(
    year: str, harness: UiHarness
) -> None:
    client = harness.client(database=year)
    log_in(client, "operator")
    answer = client.get("/api/trend", params=YEAR_QUERY)
    assert answer.status_code == 200, answer.text
    assert answer.headers["server-timing"].startswith("trend;dur=")
    body = answer.json()
    assert (body["source"], body["start"], body["end"]) == (
        "1h", YEAR[0].timestamp(), YEAR[1].timestamp())
    series = body["series"][0]
    assert (series["point"], series["unit"]) == (POINT, "m3/h")
    assert 1500 < series["vertices"] <= 2000
    drawn = [v for v in series["values"] if v is not None]
    good = "FROM samples WHERE quality = 0 AND value IS NOT NULL"
    assert max(drawn) == scalar(year, f"SELECT max(value) {good}") == 150.0
    assert min(drawn) == scalar(year, f"SELECT min(value) {good}")
    spans = [(m["kind"], m["start"], m["end"]) for m in series["missing"]]
    assert spans == [("outage", OUTAGE[0].timestamp(), OUTAGE[1].timestamp()),
                     ("bad_quality", BAD[0].timestamp(), BAD[1].timestamp())]
    assert not _crosses(series["times"], series["values"], [(a, b) for _, a, b in spans])
    assert series["values"].count(None) == 2


def test_half_a_day_across_the_outage_is_drawn_from_raw_samples_and_broken_at_the_outage(
    year: str, harness: UiHarness
) -> None:
    client = harness.client(database=year)
    log_in(client, "operator")
    body = client.get("/api/trend", params={
        "points": POINT, "from": "2025-04-10T20:00:00Z", "to": "2025-04-11T08:00:00Z",
        "width": "1000"}).json()
    assert body["source"] == "raw"
    series = body["series"][0]
    stored = scalar(year, "SELECT count(*) FROM samples WHERE time >= %s AND time < %s",
                    datetime(2025, 4, 10, 20, tzinfo=UTC), datetime(2025, 4, 11, 8, tzinfo=UTC))
    assert len([v for v in series["values"] if v is not None]) == stored == 3
    gap = series["values"].index(None)
    assert series["times"][gap - 1] < OUTAGE[0].timestamp()
    assert series["times"][gap + 1] >= OUTAGE[1].timestamp()


@pytest.fixture(scope="module")
def clients(year: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str | None, TestClient]:
    """One client per user (and one not logged in) on one app, for the refusals."""
    harness = UiHarness(tmp_path_factory.mktemp("trend-ui"))
    clients: dict[str | None, TestClient] = {None: harness.client(database=year)}
    for user in ("operator", "regulator"):
        clients[user] = harness.client(database=year)
        log_in(clients[user], user)
    return clients


@pytest.mark.parametrize(("user", "params", "status", "says"), [
    ("operator", {"point": POINT, "span": "10000y"}, 400, "longer than 50 years"),
    ("operator", {"point": POINT, "from": "0001-01-01T00:00:00Z"}, 400, "at most 50 years"),
    ("operator", {"point": POINT, "from": "last tuesday"}, 400, "is not a time"),
    ("operator", {"point": POINT, "width": "wide"}, 400, "whole number of pixels"),
    ("operator", {"point": "PW1.flow"}, 400, "station/point"),
    ("operator", {}, 400, "at least one point"),
    ("operator", {"point": f"{STATION}/PW9.flow"}, 404, "unknown point"),
    ("operator", {"point": "atlantis/PW1.flow"}, 404, "no station"),
    ("regulator", {"point": "deep-borehole-school/BH1.outlet_temp"}, 404, "no station"),
    (None, {"point": POINT}, 401, "not logged in"),
])
def test_bad_trend_requests_are_refused_with_the_reason(
    clients: dict[str | None, TestClient], user: str | None, params: dict[str, str],
    status: int, says: str,
) -> None:
    answer = clients[user].get("/api/trend", params=params)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]


def test_the_trend_page_offers_the_users_points_and_local_assets(
    year: str, harness: UiHarness
) -> None:
    client = harness.client(database=year)
    log_in(client, "regulator")
    page = client.get("/trend", params={"points": POINT}, headers={"accept": "text/html"})
    assert page.status_code == 200
    assert f'value="{POINT}"' in page.text
    assert "/static/vendor/uplot/uPlot.iife.min.js" in page.text
    assert 'option value="deep-borehole-school/' not in page.text  # outside the scope
    assert client.get("/static/vendor/uplot/uPlot.iife.min.js").status_code == 200


@pytest.fixture
def served(year: str, harness: UiHarness) -> Iterator[str]:
    """The app on a free loopback port, with the real clock, reading the year's database."""
    app = create_app(load_settings(harness.write(database=year)), connect=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="trend-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the UI did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.allow_thread_leak
def test_the_trend_of_a_point_year_opens_in_the_browser(
    served: str, page: Any, log_in_page: Callable[[Any, str, str], None], screenshot: Screenshot
) -> None:
    log_in_page(page, served, "operator")
    page.goto(f"{served}/trend?point={POINT}&from=2025-01-01T00:00:00Z"
              "&to=2026-01-01T00:00:00Z")
    page.wait_for_selector('#trend-chart[data-ready="1"]', timeout=20_000)
    assert page.locator("#trend-chart canvas").count() == 1
    assert "hourly rollups" in page.inner_text("#trend-status")
    rows = page.locator("#trend-missing tbody tr")
    assert rows.count() == 2
    assert "station outage" in rows.nth(0).inner_text()
    assert "bad quality" in rows.nth(1).inner_text()
    timing = page.evaluate("window.trendTiming")
    assert timing["vertices"] > 1500
    screenshot(page, "trend-year")


@pytest.fixture
def log_in_page() -> Callable[[Any, str, str], None]:
    def log_in_as(page: Any, url: str, user: str) -> None:
        page.goto(f"{url}/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORDS[user])
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/")

    return log_in_as
