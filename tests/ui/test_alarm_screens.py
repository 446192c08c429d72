"""The alarm screens over HTTP, on a journal the historian stored: banner, table, KPIs, and
refused actions that change nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.actions import INBOX
from controller.alarms import (
    AlarmRecord,
    AlarmSpec,
    Observation,
    Priority,
    acknowledge,
    new_status,
    step,
)
from controller.staging import Decision
from controller.supervisor import decision_event
from geoscada.services import PostgresCluster
from historian.decode import StationMessage
from historian.store import Inbound, Store
from plant.contract import Topic, topic
from tests.ui.apphelpers import UiHarness, log_in
from ui.app import create_app
from ui.settings import load_settings

pytestmark = pytest.mark.parametrize("postgres", ["postgres"], indirect=True)
SCHOOL = "deep-borehole-school"
T0 = datetime(2027, 1, 10, 6, tzinfo=UTC)
JSON = {"accept": "application/json"}
STAGE_UP = Decision(condition="efficiency", stage_from=1, stage_to=2, start=("HP2",),
                    values={"operating_plr": 0.93}, detail="part load above 0.9 for 900 s")
HTML = {"accept": "text/html"}


def _journal() -> list[AlarmRecord]:
    """HP1 tripped (high, unacknowledged); the make-up share high and acknowledged by olga."""
    trip = AlarmSpec(station=SCHOOL, id="HP1.fault", equipment="HP1", rule="equipment_fault",
                     title="HP1 tripped", priority=Priority.HIGH)
    makeup = AlarmSpec(station=SCHOOL, id="NET.makeup_share", equipment="NET",
                       rule="makeup_share", title="make-up above 1 %", priority=Priority.MEDIUM)
    rows = step(new_status(trip), trip, Observation(value=1.0, limit=0.5), T0)[1]
    status, raised = step(new_status(makeup), makeup, Observation(value=0.02, limit=0.01),
                          T0 + timedelta(minutes=1))
    rows += raised
    rows += acknowledge(status, "olga", T0 + timedelta(minutes=2))[1]
    return rows


@dataclass
class Screens:
    """One app on a stored journal, an operator and a regulator logged in."""

    harness: UiHarness
    inbox: Path
    operator: TestClient
    operator_token: str
    regulator: TestClient
    regulator_token: str

    def audit(self) -> list[dict[str, object]]:
        path = self.harness.directory / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def screens(postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Screens]:
    name = f"ui_alarms_{os.getpid()}"
    dsn = postgres.create_database(name)
    store = Store(dsn)
    store.connect()
    try:
        store.write([Inbound(topic(r.station, Topic.EVENT), b"",
                             StationMessage(r.station, r.to_event("controller")))
                     for r in _journal()])
        store.write([Inbound(topic(SCHOOL, Topic.EVENT), b"", StationMessage(
            SCHOOL, decision_event(SCHOOL, 1, T0, STAGE_UP, "controller")))])
    finally:
        store.close()
    directory = tmp_path_factory.mktemp("alarm-screens")
    inbox = directory / "controller" / INBOX
    inbox.mkdir(parents=True)
    harness = UiHarness(directory / "ui")
    harness.clock.now = (T0 + timedelta(hours=1)).timestamp()
    settings = load_settings(harness.write(database=dsn,
                                           controller_state_dir=str(directory / "controller")))
    app = create_app(settings, clock=harness.clock, connect=False)
    operator, regulator = TestClient(app), TestClient(app)
    yield Screens(harness, inbox, operator, log_in(operator, "operator"), regulator,
                  log_in(regulator, "regulator"))
    journal = app.state.ui.extras.get("alarms")
    if journal is not None:
        journal.close()
    postgres.drop_database(name)


def test_banner_table_and_kpis_from_the_stored_journal(screens: Screens) -> None:
    client = screens.operator
    banner = client.get("/alarms/banner").json()
    assert banner["standing"] == {"high": 1, "medium": 1, "low": 0}
    assert banner["unacknowledged"] == {"high": 1, "medium": 0, "low": 0}
    assert banner["horn"] == [f"{SCHOOL}/HP1.fault@{T0.isoformat()}"]

    rows = client.get("/alarms", headers=JSON).json()
    assert [(r["alarm"], r["state"], r["acknowledged_by"]) for r in rows] == [
        ("HP1.fault", "unacknowledged", None), ("NET.makeup_share", "acknowledged", "olga")]
    assert [r["alarm"] for r in client.get("/alarms?priority=medium", headers=JSON).json()] == [
        "NET.makeup_share"]
    page = client.get("/alarms", headers=HTML).text
    assert 'data-verb="ack" data-alarm="deep-borehole-school/HP1.fault"' in page
    assert 'data-verb="shelve"' in page

    kpi = client.get("/alarms/kpi?since=2027-01-10T06:00:00Z&until=2027-01-10T07:00:00Z",
                     headers=JSON).json()
    assert kpi[SCHOOL]["alarms"] == 2
    assert kpi[SCHOOL]["per_10min_peak"] == 2
    assert kpi[SCHOOL]["priority_share"]["high"]["value"] == 0.5
    assert "Alarms per day" in client.get("/alarms/kpi", headers=HTML).text


def test_a_regulator_sees_no_alarm_of_another_station_and_no_action(screens: Screens) -> None:
    client = screens.regulator  # scoped to the doublet
    assert client.get("/alarms/banner").json()["standing"] == {"high": 0, "medium": 0, "low": 0}
    assert client.get("/alarms", headers=JSON).json() == []
    assert client.get(f"/alarms?station={SCHOOL}", headers=JSON).status_code == 404
    page = client.get("/alarms", headers=HTML).text
    assert "data-verb" not in page and "Action</th>" not in page
    answer = client.post(f"/alarms/{SCHOOL}/HP1.fault/ack",
                         headers={"X-CSRF-Token": screens.regulator_token})
    assert answer.status_code == 403
    assert not list(screens.inbox.iterdir())


@pytest.mark.parametrize(("verb", "form", "status", "why"), [
    ("shelve", {"text": "pump swap", "duration": "soon"}, 422, "shelving time"),
    ("shelve", {"text": "pump swap", "duration": "-5 min"}, 422, "shelving time"),
    ("shelve", {"text": "pump swap", "duration": "0 s"}, 422, "longer than zero"),
    ("shelve", {"text": "pump swap", "duration": "x" * 40}, 400, "duration"),
    ("shelve", {"text": " ", "duration": "10 min"}, 422, "needs a reason"),
    ("shelve", {"text": "r" * 201, "duration": "10 min"}, 400, "text"),
    ("silence", {}, 404, "no alarm action"),
])
def test_malformed_actions_are_refused_before_the_controller_sees_them(
        screens: Screens, verb: str, form: dict[str, str], status: int, why: str) -> None:
    client = screens.operator
    answer = client.post(f"/alarms/{SCHOOL}/HP1.fault/{verb}", data=form,
                         headers={"X-CSRF-Token": screens.operator_token, **JSON})
    assert answer.status_code == status, answer.text
    assert why in answer.json()["error"]
    assert not list(screens.inbox.iterdir())
    assert client.get("/alarms", headers=JSON).json()[0]["state"] == "unacknowledged"


def test_an_action_without_the_csrf_token_or_session_changes_nothing(screens: Screens) -> None:
    anonymous = TestClient(screens.operator.app)
    assert anonymous.post(f"/alarms/{SCHOOL}/HP1.fault/ack").status_code == 401
    client = screens.operator
    assert client.post(f"/alarms/{SCHOOL}/HP1.fault/ack", headers=JSON).status_code == 403
    assert not list(screens.inbox.iterdir())
    assert ("csrf_check", "refused") in [(e["action"], e["outcome"]) for e in screens.audit()]


@pytest.mark.parametrize("query", ["since=yesterday", "since=2027-01-10T07:00:00Z"
                                   "&until=2027-01-10T06:00:00Z",
                                   "since=0001-01-01T00:00:00Z", "station=nowhere"])
def test_a_malformed_kpi_period_is_refused(screens: Screens, query: str) -> None:
    answer = screens.operator.get(f"/alarms/kpi?{query}", headers=JSON)
    assert answer.status_code in (400, 404) and answer.json()["error"]


@pytest.mark.parametrize(("who", "path", "status"), [
    ("operator", f"/stations/{SCHOOL}/ledger?days=abc", 400),
    ("operator", f"/stations/{SCHOOL}/ledger?days=3650000", 400),
    ("operator", "/stations/nowhere/ledger", 404),
    ("regulator", f"/stations/{SCHOOL}/ledger", 404),
    ("regulator", f"/stations/{SCHOOL}/staging", 404),
    ("regulator", f"/stations/{SCHOOL}/commands", 403),
    ("regulator", "/commands", 403),
])
def test_ledger_staging_and_commands_refuse_what_they_should(screens: Screens, who: str,
                                                             path: str, status: int) -> None:
    client = screens.operator if who == "operator" else screens.regulator
    answer = client.get(path, headers=JSON)
    assert answer.status_code == status and answer.json()["error"]


def test_the_ledger_of_a_station_the_historian_has_not_heard_of_is_empty(
        screens: Screens) -> None:
    answer = screens.operator.get(f"/stations/{SCHOOL}/ledger?days=2", headers=JSON)
    assert answer.status_code == 200
    assert answer.json() == {"station": SCHOOL, "coverage": [], "ledger": []}


def test_the_staging_view_shows_the_units_and_the_controllers_decisions(
        screens: Screens) -> None:
    page = screens.operator.get(f"/stations/{SCHOOL}/staging", headers=HTML).text
    assert 'data-point="HP1.run_state"' in page
    assert "Stage now: <b>2</b>" in page
    assert "part load above 0.9 for 900 s" in page and "operating_plr 0.93" in page
    doublet = screens.operator.get("/stations/hydrothermal-doublet/staging", headers=HTML).text
    assert "has published no staging decision" in doublet
