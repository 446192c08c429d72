"""The controller's state directory: alarm statuses and unpublished events, written atomically.

One JSON file per station holds both the alarm statuses and the events not yet acknowledged by
the broker, so they are written together: a restart (kill -9 included) reads back exactly what
the last evaluation decided and publishes again what may not have left. Each file is written to
a temporary name, flushed to disk and renamed over the old one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from controller.alarms import AlarmStatus, dump, load
from plant.contract import Event

_EVENTS = TypeAdapter(list[Event])


class StateError(RuntimeError):
    """A state file that cannot be read; the message names the file and the problem."""


@dataclass
class StationState:
    """What the controller keeps of one station across restarts."""

    statuses: dict[str, AlarmStatus] = field(default_factory=dict)
    pending: dict[str, Event] = field(default_factory=dict)
    """Events published (or to be published) but not yet acknowledged, by event id."""


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class StateDir:
    """Reads and writes the per-station state files of one controller."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o700)

    def path(self, station: str) -> Path:
        """The state file of a station."""
        return self.root / f"{station}.json"

    def load(self, station: str) -> StationState:
        """The saved state of a station (empty if it was never saved)."""
        path = self.path(station)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return StationState()
        except OSError as exc:
            raise StateError(f"{path}: cannot read: {exc}") from None
        try:
            data = json.loads(text)
            statuses = load(json.dumps(data["statuses"]))
            pending = _EVENTS.validate_python(data["pending"])
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise StateError(f"{path}: not a controller state file: {exc}") from None
        return StationState(statuses, {event.id: event for event in pending})

    def save(self, station: str, state: StationState) -> None:
        """Write a station's state atomically (both parts together)."""
        pending = ",".join(e.model_dump_json() for e in state.pending.values())
        text = f'{{"statuses":{dump(state.statuses.values())},"pending":[{pending}]}}'
        _write_atomically(self.path(station), text)
