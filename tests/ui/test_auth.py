"""Users, sessions, CSRF, throttling, scopes and refusals, through the app's HTTP surface."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.ui.apphelpers import PASSWORDS, UiHarness, log_in, login_token
from ui.app import create_app
from ui.auth import LoginThrottle
from ui.settings import SettingsError, check_secret, load_settings

HTML = {"accept": "text/html"}


@pytest.fixture
def harness(tmp_path: Path) -> UiHarness:
    return UiHarness(tmp_path / "ui")


def audit_lines(harness: UiHarness) -> list[dict[str, object]]:
    path = harness.directory / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_login_opens_the_overview_and_is_audited(harness: UiHarness) -> None:
    client = harness.client()
    assert client.get("/").status_code == 401
    log_in(client, "operator")
    page = client.get("/", headers=HTML)
    assert page.status_code == 200
    for station in ("hydrothermal-doublet", "deep-borehole-school", "shallow-field"):
        assert f'data-station-row="{station}"' in page.text
    assert [(e["user"], e["action"], e["outcome"]) for e in audit_lines(harness)] == [
        ("operator", "login", "ok")]


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_account(
        harness: UiHarness) -> None:
    client = harness.client(login_failures_allowed=3, login_lockout_s=60)
    for _ in range(3):
        answer = client.post("/login", data={"username": "operator", "password": "wrong",
                                             "csrf_token": login_token(client)})
        assert answer.status_code == 401
    answer = client.post("/login", data={"username": "operator",
                                         "password": PASSWORDS["operator"],
                                         "csrf_token": login_token(client)})
    assert answer.status_code == 429 and "too many failed logins" in answer.text
    harness.clock.now += 61
    log_in(client, "operator")
    outcomes = [e["outcome"] for e in audit_lines(harness)]
    assert outcomes == ["failed", "failed", "failed", "throttled", "ok"]


def test_a_login_without_the_forms_token_is_refused(harness: UiHarness) -> None:
    client = harness.client()
    answer = client.post("/login", data={"username": "operator",
                                         "password": PASSWORDS["operator"]})
    assert answer.status_code == 403
    assert client.get("/").status_code == 401


def test_an_expired_session_is_refused_with_401(harness: UiHarness) -> None:
    client = harness.client(session_lifetime_s=600)
    log_in(client, "engineer")
    assert client.get("/").status_code == 200
    harness.clock.now += 601
    answer = client.get("/")
    assert answer.status_code == 401 and "expired" in answer.json()["error"]
    page = client.get("/stations/shallow-field", headers=HTML)
    assert page.status_code == 401 and "Log in" in page.text


def test_a_forged_cookie_is_refused(harness: UiHarness) -> None:
    client = harness.client()
    log_in(client, "regulator")
    cookie = client.cookies["geoscada_session"]
    body, _, mac = cookie.partition(".")
    client.cookies.clear()
    client.cookies.set("geoscada_session", body[:-2] + ("A" if body[-2] != "A" else "B")
                       + body[-1] + "." + mac)
    assert client.get("/").status_code == 401


def test_a_missing_csrf_token_is_refused_and_changes_nothing(harness: UiHarness) -> None:
    client = harness.client()
    token = log_in(client, "operator")
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", headers={"X-CSRF-Token": "x" * len(token)}).status_code == 403
    assert client.get("/").status_code == 200  # still logged in: nothing changed
    assert client.post("/logout", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    assert [e["action"] for e in audit_lines(harness)] == [
        "login", "csrf_check", "csrf_check", "logout"]


def test_a_session_ended_by_logout_cannot_be_replayed(harness: UiHarness) -> None:
    client = harness.client()
    token = log_in(client, "operator")
    cookie = client.cookies["geoscada_session"]
    client.post("/logout", headers={"X-CSRF-Token": token})
    client.cookies.clear()
    client.cookies.set("geoscada_session", cookie)
    assert client.get("/").status_code == 401
    # a restarted UI (a new app on the same settings) still refuses it; a live session works
    other = TestClient(create_app(load_settings(harness.directory / "ui.yaml"),
                                  clock=harness.clock, connect=False))
    log_in(other, "engineer")
    restarted = TestClient(create_app(load_settings(harness.directory / "ui.yaml"),
                                      clock=harness.clock, connect=False))
    restarted.cookies.set("geoscada_session", cookie)
    answer = restarted.get("/")
    assert answer.status_code == 401 and "ended" in answer.json()["error"]
    restarted.cookies.set("geoscada_session", other.cookies["geoscada_session"])
    assert restarted.get("/").status_code == 200
    ended = harness.directory / "ended-sessions.json"
    assert ended.stat().st_mode & 0o077 == 0


def test_a_file_of_ended_sessions_that_cannot_be_read_stops_the_start(
        harness: UiHarness) -> None:
    harness.write()
    (harness.directory / "ended-sessions.json").write_text("[not, json")
    with pytest.raises(ValueError, match=r"ended-sessions\.json"):
        harness.client()


def test_unknown_stations_and_malformed_parameters_are_refused(harness: UiHarness) -> None:
    client = harness.client()
    log_in(client, "operator")
    assert client.get("/stations/no-such-station").status_code == 404
    assert client.get("/stations/shallow-field/equipment/NOPE").status_code == 404
    answer = client.get("/stations/shallow-field/equipment/%3Cscript%3E")
    assert answer.status_code == 400 and "equipment" in answer.json()["error"]
    assert client.get("/live?stations=nowhere").status_code == 404
    assert client.get("/live?stations=" + "x" * 3000).status_code == 400


def test_a_regulator_sees_only_their_station_and_no_command(harness: UiHarness) -> None:
    client = harness.client()
    log_in(client, "regulator")
    page = client.get("/", headers=HTML).text
    assert 'data-station-row="hydrothermal-doublet"' in page
    assert "deep-borehole-school" not in page and "shallow-field" not in page
    assert client.get("/stations/deep-borehole-school").status_code == 404
    assert client.get("/live?stations=shallow-field").status_code == 404
    faceplate = client.get("/stations/hydrothermal-doublet/equipment/P-RJ1")
    assert faceplate.status_code == 200 and "speed_setpoint" in faceplate.text
    assert "command…" not in faceplate.text
    operator = harness.client()
    log_in(operator, "operator")
    assert "command…" in operator.get("/stations/hydrothermal-doublet/equipment/P-RJ1").text


def test_the_ui_refuses_to_start_without_a_secret_of_its_own(harness: UiHarness) -> None:
    path = harness.write()
    secret = harness.directory / "secret"
    for weak in ("changeme" * 5, "short-secret", "a" * 64):
        secret.write_text(weak)
        with pytest.raises(SettingsError, match="secret"):
            load_settings(path)
    secret.unlink()
    with pytest.raises(SettingsError, match="secret"):
        load_settings(path)
    secret.write_text("0123456789abcdef" * 4)
    secret.chmod(0o644)
    with pytest.raises(SettingsError, match="other users"):
        load_settings(path)
    text = path.read_text().replace("session_secret_file: secret", "session_secret: " + "k" * 40)
    path.write_text(text)
    with pytest.raises(SettingsError, match="session_secret"):
        load_settings(path)
    with pytest.raises(SettingsError):
        check_secret("password" * 8)


def test_throttle_counts_failures_in_a_window_per_key() -> None:
    throttle = LoginThrottle(allowed=3, window_s=60, lockout_s=30)
    keys = ["user:a", "address:1"]
    throttle.failed(keys, 0)
    throttle.failed(keys, 10)
    throttle.failed(keys, 71)  # the first two failures left the window
    assert throttle.wait_s(keys, 71) == 0
    throttle.failed(["user:a"], 72)
    throttle.failed(["user:a"], 73)
    assert throttle.wait_s(keys, 73) == pytest.approx(30)
    assert throttle.wait_s(["user:b", "address:1"], 73) == 0
    assert throttle.wait_s(keys, 103) == 0
