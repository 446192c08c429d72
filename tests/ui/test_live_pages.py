"""In Chromium: log in, the overview of three live stations, a plant change on screen within
2 s, the mimic and faceplate, and what a regulator cannot see."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.ui.conftest import STATIONS, UiStack, screenshot

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.allow_thread_leak]

LIVE_TIMEOUT_MS = 60_000


def _wait_alive(page: Any, stations: tuple[str, ...]) -> None:
    for sid in stations:
        page.wait_for_selector(f'[data-station-state="{sid}"].alive', timeout=LIVE_TIMEOUT_MS)


def test_log_in_and_see_three_live_stations(ui_stack: UiStack, logged_in: Any) -> None:
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


def test_a_plant_change_is_on_screen_within_two_seconds(ui_stack: UiStack,
                                                        logged_in: Any) -> None:
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


def test_the_station_mimic_shows_equipment_with_live_values(ui_stack: UiStack,
                                                           logged_in: Any) -> None:
    page = logged_in("operator")
    page.click('a[href="/stations/hydrothermal-doublet"]')
    page.wait_for_selector('svg.mimic [data-equipment="PW1"]')
    for equipment in ("PW1", "RW1", "HX1-1", "HP2-1", "NET", "SS1"):
        assert page.locator(f'svg.mimic g[data-equipment="{equipment}"]').count() == 1
    page.wait_for_selector('svg.mimic [data-point="PW1.flow"][data-q=good]',
                           timeout=LIVE_TIMEOUT_MS)
    screenshot(page, "station-mimic")


def test_a_regulator_sees_one_station_and_no_command(ui_stack: UiStack,
                                                     logged_in: Any) -> None:
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
