"""The controller's state files: statuses and unacknowledged events together, atomically."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.alarms import AlarmSpec, Observation, Priority, new_status, step
from controller.store import StateDir, StateError, StationState

T0 = datetime(2027, 1, 10, 6, tzinfo=UTC)
SPEC = AlarmSpec(station="s", id="HP1.fault", equipment="HP1", rule="equipment_fault",
                 title="HP1 tripped", priority=Priority.HIGH, on_delay_s=30.0)


def test_a_running_on_delay_and_pending_events_survive_a_restart(tmp_path: Path) -> None:
    status, rows = step(new_status(SPEC), SPEC, Observation(value=1.0, limit=0.5), T0)
    assert rows == [] and status.pending_since == T0
    event = step(new_status(SPEC), SPEC.model_copy(update={"on_delay_s": 0.0}),
                 Observation(value=1.0, limit=0.5), T0)[1][0].to_event("ctl")
    StateDir(tmp_path).save("s", StationState({SPEC.id: status}, {event.id: event}))
    back = StateDir(tmp_path).load("s")
    assert back.statuses == {SPEC.id: status}
    assert back.pending == {event.id: event}
    assert list(tmp_path.glob(".*tmp")) == []
    assert (tmp_path.stat().st_mode & 0o077) == 0


def test_a_station_never_saved_starts_empty(tmp_path: Path) -> None:
    state = StateDir(tmp_path).load("new")
    assert state.statuses == {} and state.pending == {}


def test_a_damaged_state_file_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('{"statuses": [{"alarm": 1}], "pending": []}')
    with pytest.raises(StateError, match=r"s\.json: not a controller state file"):
        StateDir(tmp_path).load("s")
