"""Holding a heat pump out of automatic staging: recorded by the running controller from its
inbox, refused for a unit or station it does not have, and taken into the staging state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.actions import AlarmAction, submit
from controller.holds import (
    HOLDS_FILE,
    HoldAction,
    HoldsFileError,
    apply_holds,
    held_units,
    load_holds,
    record,
)
from controller.service import Controller, ControllerSettings
from controller.staging import StagingState, UnitRecord
from geoscada.services import Mosquitto
from plant.site import load_site
from runtime.mqtt import BrokerSettings
from tests.controller.procs import SCHOOL

SITE = load_site(SCHOOL)
STATION = SITE.station.id
T0 = datetime(2027, 1, 10, 6, tzinfo=UTC)


def _hold(ident: str, unit: str, held: bool, station: str = STATION) -> HoldAction:
    return HoldAction(id=ident, station=station, unit=unit, held=held, user="li.na",
                      role="engineer", text="compressor oil change" if held else "")


def test_holds_are_recorded_and_brought_into_the_staging_state() -> None:
    holds = record({}, _hold("a", "HP1", True), T0)
    holds = record(holds, _hold("b", "HP2", True), T0)
    holds = record(holds, _hold("c", "HP2", False), T0)
    assert held_units(holds, STATION) == {"HP1"}
    assert holds[STATION]["HP1"].text == "compressor oil change"
    assert holds[STATION]["HP2"].user == "li.na" and not holds[STATION]["HP2"].held
    state = StagingState(units={"HP1": UnitRecord(commanded=True),
                                "HP2": UnitRecord(held_out=True)})
    assert apply_holds(state, held_units(holds, STATION)) == ["HP1", "HP2"]
    assert state.units["HP1"].held_out and not state.units["HP1"].commanded
    assert not state.units["HP2"].held_out
    assert apply_holds(state, held_units(holds, STATION)) == []  # nothing left to change


def test_a_holds_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    assert load_holds(tmp_path) == {}
    (tmp_path / HOLDS_FILE).write_text('{"x": {"HP1": {"held": "perhaps"}}}')
    with pytest.raises(HoldsFileError, match=HOLDS_FILE):
        load_holds(tmp_path)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[tuple[Controller, Path]]:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    state = tmp_path / "state"
    running = Controller(ControllerSettings(
        sites=(SITE,), broker=BrokerSettings("127.0.0.1", broker.port),
        db="postgresql://nobody@127.0.0.1:1/none", state_dir=state,
        source="controller-test", startup_grace_s=1.0))
    running.start()
    try:
        assert running.wait_connected(10)
        yield running, state
    finally:
        running.stop()
        broker.stop()


def test_the_running_controller_records_a_hold_from_its_inbox(
        controller: tuple[Controller, Path]) -> None:
    _, state = controller
    assert submit(state, _hold("h1", "HP1", True), 10) == {"ok": True, "held": True}
    stored = json.loads((state / HOLDS_FILE).read_text())
    assert stored[STATION]["HP1"]["held"] is True
    assert stored[STATION]["HP1"]["user"] == "li.na"
    assert stored[STATION]["HP1"]["role"] == "engineer"
    assert held_units(load_holds(state), STATION) == {"HP1"}

    refused = submit(state, _hold("h2", "HP9", True), 10)
    assert refused["ok"] is False and "no heat pump 'HP9'" in refused["error"]
    assert "HP1" in refused["error"]  # the units it has are named
    refused = submit(state, _hold("h3", "HP1", True, station="elsewhere"), 10)
    assert refused == {"ok": False, "error": "station elsewhere is not followed here"}
    assert held_units(load_holds(state), STATION) == {"HP1"}

    assert submit(state, _hold("h4", "HP1", False), 10) == {"ok": True, "held": False}
    assert held_units(load_holds(state), STATION) == frozenset()
    # alarm actions still reach the alarm engine through the same inbox
    answer = submit(state, AlarmAction(id="a1", station=STATION, alarm="HP1.fault",
                                       action="comment", user="li.na", text="checked"), 10)
    assert answer["ok"] is True
