"""The alarm, command, ledger, staging and KPI screens in Chromium against the running demo:
an alarm caused in the simulator appears, sounds, is acknowledged, shelved with a reason and
returns when the shelf runs out; a command within limits is confirmed and acknowledged with
its read-back; a command outside its limits or from a regulator changes nothing; the
controller's take-over of the doublet, which the demo stages live, is on its staging screen."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.ui.conftest import UiStack
from tests.ui.screenshots import Screenshot

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.allow_thread_leak]
SCHOOL = "deep-borehole-school"
TRIP = f"{SCHOOL}/HP1.fault"
ROW = f'tr[data-alarm="{TRIP}"]'
ALARM_WAIT_MS = 60_000


def _row_in(page: Any, state: str, timeout_ms: float = ALARM_WAIT_MS) -> None:
    page.wait_for_selector(f'{ROW}[data-state="{state}"]', timeout=timeout_ms)


def _post(page: Any, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """A form POST from the page itself, with its session and CSRF token."""
    status, body = page.evaluate(
        """async ([path, form]) => {
            const answer = await fetch(path, {method: "POST", body: new URLSearchParams(form),
                headers: {"X-CSRF-Token": document.body.dataset.csrf,
                          "Accept": "application/json"}});
            return [answer.status, await answer.json()];
        }""", [path, form])
    return int(status), dict(body)


def _audited(ui_stack: UiStack) -> list[tuple[str, str, str, str]]:
    """(user, action, target, outcome) of every entry of the UI's audit log."""
    path = ui_stack.workdir / "ui" / "audit.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines() if line]
    return [(e["user"], e["action"], e["target"], e["outcome"]) for e in entries]


SOUNDING = ("document.documentElement.dataset.horn === 'sounding'"
            " && !window.geoscadaHorn.paused")
QUIET = "document.documentElement.dataset.horn === 'quiet' && window.geoscadaHorn.paused"


def _evaluate(page: Any, script: str) -> Any:
    """Evaluate in the page, asking again when a reload of the alarm table replaced it."""
    for _ in range(50):
        try:
            return page.evaluate(script)
        except Exception as error:  # a reload destroyed the context: ask the new page
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
            time.sleep(0.2)
    raise AssertionError(f"the page kept reloading: {script}")


def _until(page: Any, condition: str, timeout_s: float = 15.0) -> None:
    """Wait until the condition holds in the page, across the reloads of the alarm table."""
    deadline = time.monotonic() + timeout_s
    while not _evaluate(page, f"() => Boolean(window.geoscadaHorn && {condition})"):
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {condition}"
        time.sleep(0.2)


def _horn_alarms(page: Any) -> list[str] | None:
    """The alarms the page says keep its horn sounding (None before its banner has read any)."""
    listed = _evaluate(page, "() => document.documentElement.dataset.hornAlarms ?? null")
    return None if listed is None else str(listed).split()


def _ack(page: Any, alarm: str) -> None:
    """Acknowledge an alarm (``station/alarm``) from the page, as its button does."""
    station, _, name = alarm.partition("/")
    status, answer = _evaluate(page, f"""async () => {{
        const answer = await fetch({json.dumps(f"/alarms/{station}/{name}/ack")!s}, {{
            method: "POST", body: new URLSearchParams(), headers: {{"X-CSRF-Token": document.body.dataset.csrf,
                                       "Accept": "application/json"}}}});
        return [answer.status, await answer.json()];
    }}""")
    # 409: acknowledged meanwhile (another page, or it is no longer unacknowledged)
    assert status in (200, 409), f"{alarm}: {status} {answer}"


def _acknowledge_until_quiet(page: Any, timeout_s: float = 60.0) -> set[str]:
    """Acknowledge every alarm the page lists as sounding its horn until none is listed, then
    see the horn stop; return the alarms acknowledged. The horn sounds exactly while the list
    is not empty."""
    acknowledged: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        # both read in one script: the banner sets them together, and an alarm arriving between
        # two separate reads would pair an old list with a new horn
        listed_text, horn = _evaluate(page, "() => [document.documentElement.dataset.hornAlarms"
                                            " ?? null, document.documentElement.dataset.horn ?? null]")
        listed = None if listed_text is None else str(listed_text).split()
        if listed is not None:
            assert (horn == "sounding") == bool(listed), f"horn {horn} with {listed}"
        if listed == []:
            break
        for alarm in listed or []:
            if alarm not in acknowledged:
                _ack(page, alarm)
                acknowledged.add(alarm)
        assert time.monotonic() < deadline, f"the horn still sounds for {listed}"
        time.sleep(0.3)
    _until(page, QUIET)
    return acknowledged


def test_an_alarm_appears_sounds_is_acknowledged_shelved_and_returns(
        ui_stack: UiStack, logged_in: Any, screenshot: Screenshot) -> None:
    page = logged_in("operator")
    page.goto(f"{ui_stack.url}/alarms", timeout=60_000)
    page.click("h1")  # a browser lets a page sound once the operator has touched it
    # start from a quiet horn: whatever sounds before the trip is not this test's
    _acknowledge_until_quiet(page)
    fault = ui_stack.fault(SCHOOL, {"kind": "heat_pump_trip", "target": "HP1"})
    try:
        _row_in(page, "unacknowledged")
        _until(page, SOUNDING)
        assert TRIP in (_horn_alarms(page) or [])
        assert page.text_content(".banner-high b") != "0"
        screenshot(page, "alarms")

        page.click(f'{ROW} button[data-verb="ack"]')
        _row_in(page, "acknowledged", 15_000)
        # the trip's consequences of high priority (if any) sound it as well: acknowledged,
        # the horn stops once none is left
        consequences = _acknowledge_until_quiet(page)
        assert TRIP not in consequences
        print(f"the horn also sounded for: {sorted(consequences) or 'nothing else'}")
        assert "operator" in page.text_content(ROW)

        page.fill(f'{ROW} input[name="reason"]', "contactor being replaced")
        page.fill(f'{ROW} input[name="duration"]', "8 s")
        page.click(f'{ROW} button[data-verb="shelve"]')
        _row_in(page, "shelved", 15_000)
        assert "contactor being replaced" in page.text_content(ROW)
        assert TRIP not in (_horn_alarms(page) or [])
        screenshot(page, "alarms-shelved")

        # the trip still stands: when the shelf runs out it is annunciated again, and sounds
        shelved_at = time.monotonic()
        _row_in(page, "unacknowledged", 40_000)
        assert time.monotonic() - shelved_at > 4
        _until(page, SOUNDING)
        assert TRIP in (_horn_alarms(page) or [])
        page.click(f'{ROW} button[data-verb="ack"]')
        _row_in(page, "acknowledged", 15_000)
        assert TRIP not in _acknowledge_until_quiet(page)
        done = [(action, outcome) for user, action, target, outcome in _audited(ui_stack)
                if user == "operator" and target == TRIP]
        assert done == [("alarm_ack", "done"), ("alarm_shelve", "done"), ("alarm_ack", "done")]
    finally:
        ui_stack.clear_fault(SCHOOL, fault)


COMMANDABLE = (("HP1.supply_temp_setpoint", 50.0, 65.0, 2.0, "50 … 65 degC, at most 2 per change"),
               ("P-S1.speed_setpoint", 20.0, 50.0, 5.0, "20 … 50 Hz, at most 5 per change"))
"""Points of the school to command, each with its limits as the site gives them: the unit's
setpoint reads the heating curve until written, which mild demo weather can put below its
limits and out of one step's reach; the source pump's speed does not follow the weather."""


def _commandable(values: dict[str, Any]) -> tuple[str, float, str]:
    """The first point that a command within its limits and step can move now, the value to
    send and its limits as the screen writes them."""
    for point, low, high, step, text in COMMANDABLE:
        before = float(values[point])
        for wanted in (before + 1.0, before - 1.0, low, high):
            if low <= wanted <= high and 0.0 < abs(wanted - before) <= step:
                return point, wanted, text
    pytest.fail(f"no point of {[c[0] for c in COMMANDABLE]} can be commanded from its value")


def test_a_command_within_limits_is_confirmed_and_acknowledged(ui_stack: UiStack, logged_in: Any,
                                                                screenshot: Screenshot) -> None:
    point, wanted, limits = _commandable(ui_stack.plant_values(SCHOOL))
    page = logged_in("operator")
    page.goto(f"{ui_stack.url}/stations/{SCHOOL}/commands")
    row = f'tr[data-point="{point}"]'
    assert limits in page.text_content(f"{row} .limits")
    screenshot(page, "commands")
    page.fill(f'{row} input[name="value"]', f"{wanted:g}")
    page.click(f"{row} button[type=submit]")
    page.wait_for_selector("#confirm-command")
    assert f"{wanted:.1f}" in page.text_content(".new-value")
    screenshot(page, "command-confirm")
    page.click("#confirm-command")
    page.wait_for_selector('#command-result[data-outcome]', timeout=30_000)
    assert page.text_content('[data-field="outcome"]') == "done"
    assert abs(float(page.text_content('[data-field="readback"]')) - wanted) < 0.06
    screenshot(page, "command-result")
    assert abs(float(ui_stack.plant_values(SCHOOL)[point]) - wanted) < 0.06
    target = f"{SCHOOL}/{point}"
    audited = [(action, outcome) for user, action, where, outcome in _audited(ui_stack)
               if user == "operator" and where == target]
    # the gateway's ack may be logged before the send's own entry
    assert audited[0] == ("command_confirm", "asked")
    assert sorted(audited[1:]) == [("command_ack", "done"), ("command_send", "sent")]

    # outside its limits: refused with the reason before anything is signed; a send that was
    # not confirmed is refused too
    status, answer = _post(page, f"/stations/{SCHOOL}/commands/confirm",
                           {"point": point, "value": "80"})
    assert status == 422 and "outside limits" in answer["error"]
    status, answer = _post(page, f"/stations/{SCHOOL}/commands/send",
                           {"point": point, "value": f"{wanted:g}"})
    assert status == 400 and "not confirmed" in answer["error"]
    assert abs(float(ui_stack.plant_values(SCHOOL)[point]) - wanted) < 0.06


def test_a_regulator_never_sees_a_command(ui_stack: UiStack, logged_in: Any) -> None:
    page = logged_in("regulator")
    assert page.locator('nav a[href="/commands"]').count() == 0
    station = "hydrothermal-doublet"
    assert page.goto(f"{ui_stack.url}/stations/{station}/commands").status == 403
    page.goto(f"{ui_stack.url}/alarms")
    assert page.locator("button[data-verb]").count() == 0


def test_ledger_staging_and_kpi_screens(ui_stack: UiStack, logged_in: Any,
                                        screenshot: Screenshot) -> None:
    page = logged_in("engineer")
    page.goto(f"{ui_stack.url}/stations/{SCHOOL}/ledger?days=2")
    page.wait_for_selector(".coverage-table")
    assert "Gap ledger and coverage" in page.text_content("h1")
    screenshot(page, "ledger")
    # the demo stages the doublet live: the controller's take-over is on its staging screen
    # (read from the historian, so the page is asked again until the event is stored)
    started = time.monotonic()
    deadline = started + 120
    while True:
        page.goto(f"{ui_stack.url}/stations/hydrothermal-doublet/staging")
        if page.locator('tr[data-condition="take-over"]').count() or \
                time.monotonic() > deadline:
            break
        time.sleep(2.0)
    taken = page.text_content('tr[data-condition="take-over"]') or ""
    assert "taken over as the units run: HP2-1" in taken, page.text_content("main")
    assert "In automatic staging" in page.text_content("#hold-HP2-1")
    print(f"take-over shown {time.monotonic() - started:.1f} s into the test")
    page.wait_for_selector('.unit [data-point$=".run_state"][data-q]', timeout=20_000)
    # the engineer holds a unit out through the running controller, then releases it
    started = time.monotonic()
    page.fill('#hold-HP3-2 + form input[name="text"]', "expansion valve check")
    page.click('#hold-HP3-2 + form button[data-hold-action="hold"]')
    page.wait_for_selector('[data-hold="HP3-2"][data-held="true"]', timeout=20_000)
    assert "expansion valve check" in page.text_content("#hold-HP3-2")
    page.wait_for_selector('.unit [data-point$=".run_state"][data-q]', timeout=20_000)
    screenshot(page, "staging")
    page.click('#hold-HP3-2 + form button[data-hold-action="release"]')
    page.wait_for_selector('[data-hold="HP3-2"][data-held="false"]', timeout=20_000)
    held = [(action, outcome) for user, action, target, outcome in _audited(ui_stack)
            if user == "engineer" and target == "hydrothermal-doublet/HP3-2"]
    assert held == [("staging_hold", "done"), ("staging_release", "done")]
    print(f"hold and release shown after {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    # what if HP2-1 were out and the supply 2 K warmer, for the next 6 hours
    page.check('#whatif-form input[name="out"][value="HP2-1"]')
    page.fill('#whatif-form input[name="shift"]', "2")
    page.fill('#whatif-form input[name="hours"]', "6")
    page.click('#whatif-form button[type="submit"]')
    page.wait_for_selector("#whatif-hours")
    assert page.locator("#whatif-hours tr[data-hour]").count() == 6
    assert all("HP2-1" not in text for text in page.locator(
        '#whatif-hours [data-field="running"]').all_text_contents())
    assert "kWh" in page.text_content('#whatif-totals [data-field="electricity_kwh"]')
    screenshot(page, "staging-whatif")
    print(f"what-if shown after {time.monotonic() - started:.1f} s")
    page.goto(f"{ui_stack.url}/alarms/kpi")
    page.wait_for_selector(".kpi-period")
    screenshot(page, "alarm-kpi")
