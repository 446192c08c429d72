"""In Chromium: log in, the overview of three live stations, a plant change on screen within
2 s, the mimic and faceplate, what a regulator cannot see, and a page whose live stream resumes
after its UI process is stopped or killed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import STATIONS, UiStack
from tests.ui.screenshots import Screenshot

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.allow_thread_leak]

LIVE_TIMEOUT_MS = 60_000


def _wait_alive(page: Any, stations: tuple[str, ...]) -> None:
    for sid in stations:
        page.wait_for_selector(f'[data-station-state="{sid}"].alive', timeout=LIVE_TIMEOUT_MS)


def test_log_in_and_see_three_live_stations(ui_stack: UiStack, logged_in: Any,
                                            screenshot: Screenshot) -> None:
    page = logged_in("operator")
    rows = page.locator("[data-station-row]")
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.stationRow)")) == sorted(
        STATIONS)
    _wait_alive(page, STATIONS)
    for sid in STATIONS:  # every station's heat figure is filled from live values
        page.wait_for_function(
            """sid => { const el = document.querySelector(`[data-station="${sid}"][data-sum]`);
                        return el && el.textContent.trim().endsWith("kW"); }""",
            arg=sid, timeout=LIVE_TIMEOUT_MS)
    assert "alive since" in page.locator('[data-station-state="shallow-field"]').inner_text()
    screenshot(page, "overview")


def test_a_plant_change_is_on_screen_within_two_seconds(ui_stack: UiStack, logged_in: Any,
                                                        screenshot: Screenshot) -> None:
    station, point = "deep-borehole-school", "NET.supply_temp"
    page = logged_in("operator")
    page.goto(f"{ui_stack.url}/stations/{station}/equipment/NET")
    cell = f'[data-station="{station}"][data-point="{point}"]'
    page.wait_for_selector(f"{cell}[data-q=good]", timeout=LIVE_TIMEOUT_MS)
    shown = float(page.locator(cell).inner_text().split()[0])
    target = round(shown + 7.3 if shown < 80 else shown - 7.3, 1)
    started = time.monotonic()
    fault = ui_stack.fault(station, {"kind": "sensor_stuck", "target": point, "value": target})
    try:
        page.wait_for_function(
            """([sel, want]) => { const el = document.querySelector(sel);
                                 return el && parseFloat(el.textContent) === want; }""",
            arg=[cell, target], timeout=5_000, polling="raf")
        elapsed = time.monotonic() - started
    finally:
        ui_stack.clear_fault(station, fault)
    assert ui_stack.plant_values(station)[point] is not None
    print(f"plant change on screen after {elapsed:.2f} s")
    assert elapsed < 2.0
    screenshot(page, "faceplate")


def test_the_station_mimic_shows_equipment_with_live_values(ui_stack: UiStack, logged_in: Any,
                                                           screenshot: Screenshot) -> None:
    page = logged_in("operator")
    page.click('a[href="/stations/hydrothermal-doublet"]')
    page.wait_for_selector('svg.mimic [data-equipment="PW1"]')
    for equipment in ("PW1", "RW1", "HX1-1", "HP2-1", "NET", "SS1"):
        assert page.locator(f'svg.mimic g[data-equipment="{equipment}"]').count() == 1
    # the pipes, gray, each ending in an arrow in the direction of flow
    for pipe in ("PW1>V-HX1", "HX2>P-E2", "P-E2>HP2-1", "V-RW1>RW1", "NET>SS1"):
        drawn = page.locator(f'svg.mimic path.pipe[data-pipe="{pipe}"]')
        assert drawn.count() == 1 and drawn.get_attribute("marker-end") == "url(#flow)"
    stroke = page.eval_on_selector('svg.mimic path.pipe', "p => getComputedStyle(p).stroke")
    red, green, blue = (int(c) for c in stroke[stroke.index("(") + 1:-1].split(","))
    assert red == green == blue, stroke  # gray
    page.wait_for_selector('svg.mimic [data-point="PW1.flow"][data-q=good]',
                           timeout=LIVE_TIMEOUT_MS)
    screenshot(page, "station-mimic")


def test_a_regulator_sees_one_station_and_no_command(ui_stack: UiStack, logged_in: Any,
                                                     screenshot: Screenshot) -> None:
    page = logged_in("regulator")
    rows = page.locator("[data-station-row]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.stationRow)") == [
        "hydrothermal-doublet"]
    _wait_alive(page, ("hydrothermal-doublet",))
    answer = page.goto(f"{ui_stack.url}/stations/shallow-field")
    assert answer is not None and answer.status == 404
    answer = page.goto(f"{ui_stack.url}/stations/hydrothermal-doublet/equipment/P-RJ1")
    assert answer is not None and answer.status == 200
    assert page.locator("tr[data-setpoint]").count() > 0
    assert page.locator(".command-link, form[action*=command], button.command").count() == 0
    screenshot(page, "regulator-faceplate")


def _ui_process(ui_stack: UiStack) -> int:
    """The id of the demo's UI process (``geoscada ui serve`` on this stack's settings)."""
    config = str(ui_stack.workdir / "ui" / "ui.yaml")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and config.encode() in argv:
            return int(entry.name)
    raise AssertionError(f"no UI process serves {config}")


EVERY_VALUE_SINCE = """since => {
    const cells = Array.from(document.querySelectorAll("[data-station][data-point]"));
    return cells.length > 0 && cells.every(cell => {
        const value = window.geoscadaLive.values[cell.dataset.station + "/" + cell.dataset.point];
        return value && Date.parse(value.t) >= since && cell.dataset.q === value.q;
    });
}"""
"""Every value on the page has been shown again from a sample taken after ``since`` (ms)."""


def test_the_live_stream_resumes_after_the_ui_is_killed_or_stopped(ui_stack: UiStack,
                                                                   logged_in: Any) -> None:
    station = "deep-borehole-school"
    page = logged_in("operator")
    page.goto(f"{ui_stack.url}/stations/{station}")
    page.wait_for_function(EVERY_VALUE_SINCE, arg=0, timeout=LIVE_TIMEOUT_MS)
    epoch = page.evaluate("document.body.dataset.liveSeq").split(":")[0]

    # SIGSTOP for a few seconds: the same process goes on, the page misses nothing
    process = _ui_process(ui_stack)
    os.kill(process, signal.SIGSTOP)
    try:
        time.sleep(4)
        point = "NET.supply_temp"
        cell = f'[data-station="{station}"][data-point="{point}"]'
        shown = float((page.text_content(cell) or "").split()[0])  # an SVG text
        target = round(shown + 6.1 if shown < 80 else shown - 6.1, 1)
        fault = ui_stack.fault(station, {"kind": "sensor_stuck", "target": point,
                                         "value": target})
    finally:
        os.kill(process, signal.SIGCONT)
    try:
        page.wait_for_function(
            """([sel, want]) => parseFloat(document.querySelector(sel).textContent) === want""",
            arg=[cell, target], timeout=30_000)
    finally:
        ui_stack.clear_fault(station, fault)
    assert _ui_process(ui_stack) == process
    assert page.evaluate("document.body.dataset.liveSeq").split(":")[0] == epoch

    # kill -9: the demo starts the UI again; the page's stream reconnects by itself, gets a
    # new snapshot from the new process and shows every value again from fresh samples
    killed_ms, killed = time.time() * 1000, time.monotonic()
    os.kill(process, signal.SIGKILL)
    page.wait_for_function(
        "epoch => !document.body.dataset.liveSeq.startsWith(epoch + ':')",
        arg=epoch, timeout=LIVE_TIMEOUT_MS)
    back = time.monotonic() - killed
    assert _ui_process(ui_stack) != process
    page.wait_for_function(EVERY_VALUE_SINCE, arg=killed_ms, timeout=LIVE_TIMEOUT_MS)
    print(f"after kill -9: a new snapshot after {back:.1f} s, every value again after"
          f" {time.monotonic() - killed:.1f} s")
    assert page.text_content("#live-status") == "live"
