"""The staging view over HTTP: an engineer holds a heat pump out of automatic staging and
releases it through the running controller's inbox (audited, CSRF, refused for a role without
the right, which never sees the button); the what-if preview from the live values shows what
controller.whatif predicts for the same readings and acts on nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from controller.actions import INBOX
from controller.commander import Signer
from controller.holds import HOLDS_FILE
from controller.service import Controller, ControllerSettings
from controller.supervisor import supervisor_for
from controller.whatif import Proposal, preview
from geoscada.services import Mosquitto
from plant.contract import DataBatch, Sample, Topic, topic
from plant.site import load_site
from plant.supervision import PlantView
from runtime.mqtt import BrokerSettings
from simulator.sim import StationSim
from tests.ui.apphelpers import SITES, UiHarness, log_in
from ui.app import create_app
from ui.settings import load_settings

DOUBLET = "hydrothermal-doublet"
HTML = {"accept": "text/html"}
JSON = {"accept": "application/json"}
HOLD_BUTTON = 'data-hold-action="hold"'


@dataclass
class Staging:
    """The app fed with the doublet's values, the controller on its state folder, users."""

    harness: UiHarness
    state: Path
    values: dict[str, float | bool | None]
    clients: dict[str, tuple[TestClient, str]]

    def audit(self) -> list[tuple[str, str, str, str]]:
        path = self.harness.directory / "audit.jsonl"
        entries = [json.loads(line) for line in path.read_text().splitlines()]
        return [(e["user"], e["action"], e["target"], e["outcome"]) for e in entries]


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staging]:
    directory = tmp_path_factory.mktemp("staging-screen")
    broker = Mosquitto(directory / "broker")
    broker.start()
    state = directory / "controller"
    doublet = load_site(SITES[0])
    controller = Controller(ControllerSettings(
        sites=(doublet,), broker=BrokerSettings("127.0.0.1", broker.port),
        db="postgresql://nobody@127.0.0.1:1/none", state_dir=state,
        source="controller-test", startup_grace_s=1.0,
        signer=Signer(Ed25519PrivateKey.generate())))  # the doublet is staged: a key to act
    controller.start()
    try:
        assert controller.wait_connected(10)
        assert (state / INBOX).is_dir()
        harness = UiHarness(directory / "ui")
        settings = load_settings(harness.write(controller_state_dir=str(state)))
        app = create_app(settings, clock=harness.clock, connect=False)
        sim = StationSim(doublet, seed=3, start=datetime(2027, 1, 15, 6, tzinfo=UTC),
                         warm_up_s=1800.0)
        values = sim.values()
        now = datetime.fromtimestamp(harness.clock(), UTC)
        app.state.ui.live.feed(topic(DOUBLET, Topic.DATA), DataBatch(
            station=DOUBLET, session=1, seq=0,
            samples=tuple(Sample(p=p, t=now, v=v) for p, v in values.items())
        ).model_dump_json().encode())
        clients = {}
        for name in ("engineer", "operator", "regulator"):
            client = TestClient(app)
            clients[name] = (client, log_in(client, name))
        yield Staging(harness, state, values, clients)
    finally:
        controller.stop()
        broker.stop()


def _page(staging: Staging, user: str) -> str:
    client, _ = staging.clients[user]
    answer = client.get(f"/stations/{DOUBLET}/staging", headers=HTML)
    assert answer.status_code == 200, answer.text
    return str(answer.text)


def _hold(staging: Staging, user: str, unit: str, held: str, text: str = "", *,
          token: bool = True) -> tuple[int, dict[str, object]]:
    client, csrf = staging.clients[user]
    form = {"unit": unit, "held": held, "text": text}
    if token:
        form["csrf_token"] = csrf
    answer = client.post(f"/stations/{DOUBLET}/staging/hold", data=form, headers=JSON)
    return answer.status_code, answer.json()


def _held(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-hold="([^"]+)" data-held="(true|false)"', page))


def test_only_an_engineer_sees_the_hold_and_refusals_change_nothing(staging: Staging) -> None:
    engineer = _page(staging, "engineer")
    assert engineer.count(HOLD_BUTTON) == 4  # HP2-1, HP2-2, HP3-1, HP3-2
    assert _held(engineer) == dict.fromkeys(("HP2-1", "HP2-2", "HP3-1", "HP3-2"), "false")
    for user in ("operator", "regulator"):
        page = _page(staging, user)
        assert "hold-form" not in page and HOLD_BUTTON not in page
        assert _held(page) == _held(engineer)  # the hold state is shown to everyone

    refusals = [
        (_hold(staging, "operator", "HP2-1", "true", "oil change"), 403, "may not hold_unit"),
        (_hold(staging, "regulator", "HP2-1", "true", "oil change"), 403, "may not hold_unit"),
        (_hold(staging, "engineer", "HP2-1", "true", "oil change", token=False), 403, "CSRF"),
        (_hold(staging, "engineer", "HP2-1", "true"), 422, "needs a reason"),
        (_hold(staging, "engineer", "HP9", "true", "oil change"), 404, "no heat pump 'HP9'"),
        (_hold(staging, "engineer", "HP2-1", "perhaps", "oil change"), 400, "true or false"),
    ]
    for (status, body), expected, words in refusals:
        assert status == expected and words in str(body["error"]), (status, body)
    assert not (staging.state / HOLDS_FILE).exists()
    assert list((staging.state / INBOX).iterdir()) == []  # nothing reached the controller


def test_an_engineer_holds_a_unit_out_and_releases_it_through_the_controller(
        staging: Staging) -> None:
    status, body = _hold(staging, "engineer", "HP2-1", "true", "condenser cleaning")
    assert (status, body) == (200, {"ok": True, "station": DOUBLET, "unit": "HP2-1",
                                    "held": True})
    stored = json.loads((staging.state / HOLDS_FILE).read_text())[DOUBLET]["HP2-1"]
    assert stored["held"] is True and stored["user"] == "engineer"
    assert stored["role"] == "engineer"  # the role the audit's user has
    assert stored["text"] == "condenser cleaning"
    page = _page(staging, "operator")
    assert _held(page)["HP2-1"] == "true" and "condenser cleaning" in page
    engineer = _page(staging, "engineer")
    assert 'data-hold-action="release"' in engineer and engineer.count(HOLD_BUTTON) == 3

    status, body = _hold(staging, "engineer", "HP2-1", "false")
    assert status == 200 and body["held"] is False
    assert _held(_page(staging, "engineer"))["HP2-1"] == "false"
    target = f"{DOUBLET}/HP2-1"
    assert [(u, a, o) for u, a, t, o in staging.audit() if t == target] == [
        ("engineer", "staging_hold", "refused"),  # no reason
        ("engineer", "staging_hold", "done"), ("engineer", "staging_release", "done")]
    denied = {u for u, a, t, o in staging.audit()
              if a == "denied:hold_unit" and t == f"/stations/{DOUBLET}/staging/hold"}
    assert denied == {"operator", "regulator"}


def test_the_what_if_preview_shows_the_models_figures_and_acts_on_nothing(
        staging: Staging) -> None:
    holds_before = (staging.state / HOLDS_FILE).read_bytes() \
        if (staging.state / HOLDS_FILE).exists() else None
    client, _ = staging.clients["operator"]
    path = f"/stations/{DOUBLET}/staging/preview"
    answer = client.get(path, params={"out": "HP2-1", "shift": "2", "hours": "4"}, headers=JSON)
    assert answer.status_code == 200, answer.text
    shown = answer.json()

    # the same readings through controller.whatif directly (checked against the season
    # simulator in tests/controller/test_whatif.py)
    view = PlantView(DOUBLET, datetime.fromtimestamp(staging.harness.clock(), UTC),
                     dict(staging.values))
    supervisor = supervisor_for(load_site(SITES[0]))
    supervisor.step(view)
    expected = preview(supervisor, view, Proposal(hours=4, units_out=("HP2-1",),
                                                  supply_shift_k=2.0))
    assert len(shown["hours"]) == 4
    assert shown["electricity_kwh"] == pytest.approx(expected.electricity_kwh)
    assert shown["cop"] == pytest.approx(expected.cop)
    assert shown["reinjection_margin_m3h"] == pytest.approx(expected.reinjection_margin_m3h)
    assert [h["running"] for h in shown["hours"]] == [list(h.running) for h in expected.hours]
    assert all("HP2-1" not in h["running"] for h in shown["hours"])
    assert shown["hours"][0]["supply_setpoint_c"] == expected.hours[0].supply_setpoint_c

    page = client.get(path, params={"out": "HP2-1", "shift": "2", "hours": "4"}, headers=HTML)
    assert page.status_code == 200
    assert f"{expected.electricity_kwh:.1f} kWh" in page.text
    assert page.text.count("<tr data-hour=") == 4 and "Nothing was sent" in page.text

    for params, words in [({"hours": "0"}, "1 to 24 hours"), ({"hours": "many"}, "whole"),
                          ({"hours": "10000"}, "1 to 24 hours"),
                          ({"shift": "40"}, "at most 10 K"), ({"shift": "nan"}, "at most 10 K"),
                          ({"shift": "warm"}, "not a number"),
                          ({"out": "HP9"}, "no heat pump 'HP9'")]:
        refused = client.get(path, params=params, headers=JSON)
        assert refused.status_code == 400 and words in refused.json()["error"], params
    assert client.get("/stations/atlantis/staging/preview", headers=JSON).status_code == 404
    regulator, _ = staging.clients["regulator"]
    school = "/stations/deep-borehole-school/staging/preview"
    assert regulator.get(school, headers=JSON).status_code == 404  # outside its scope

    # a preview acts on nothing: no request reached the controller, no hold changed
    assert list((staging.state / INBOX).iterdir()) == []
    after = (staging.state / HOLDS_FILE).read_bytes() \
        if (staging.state / HOLDS_FILE).exists() else None
    assert after == holds_before


def test_an_operator_commands_a_staged_unit_only_once_it_is_held_out(staging: Staging) -> None:
    client, csrf = staging.clients["operator"]
    point = "HP2-1.run_command"
    form = {"point": point, "value": "on", "csrf_token": csrf}
    confirm = f"/stations/{DOUBLET}/commands/confirm"

    def staged_rows() -> list[str]:
        page = client.get(f"/stations/{DOUBLET}/commands", headers=HTML).text
        return re.findall(r'data-staged="([^"]+)"', page)

    # the doublet is staged: each unit's run command and remote mode say so, with no form
    assert sorted(staged_rows()) == sorted(2 * ["HP2-1", "HP2-2", "HP3-1", "HP3-2"])
    refused = client.post(confirm, data=form, headers=JSON)
    assert refused.status_code == 409
    assert refused.json()["error"].startswith("HP2-1 is under automatic staging")
    sent = client.post(f"/stations/{DOUBLET}/commands/send",
                       data={**form, "confirmation_token": "x"}, headers=JSON)
    assert sent.status_code == 409  # refused before anything is checked or signed

    # held out by an engineer, the unit is the operator's to command
    assert _hold(staging, "engineer", "HP2-1", "true", "heat meter check")[0] == 200
    assert "HP2-1" not in staged_rows() and "HP2-2" in staged_rows()
    asked = client.post(confirm, data=form, headers=HTML)
    assert asked.status_code == 200 and 'id="confirm-command"' in asked.text
    # released, it is staging's again
    assert _hold(staging, "engineer", "HP2-1", "false")[0] == 200
    assert client.post(confirm, data=form, headers=JSON).status_code == 409
    assert [(u, a, o) for u, a, t, o in staging.audit() if t == f"{DOUBLET}/{point}"] == [
        ("operator", "command_check", "refused"), ("operator", "command_check", "refused"),
        ("operator", "command_confirm", "asked"), ("operator", "command_check", "refused")]
