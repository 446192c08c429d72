"""Fault specifications, schedule files and the timing of injected faults.

A fault is one of :data:`FAULT_KINDS`, aimed at a device, a point or a piece of equipment,
starting ``at_s`` simulated seconds after the simulation started (in a schedule file) or after
the moment it was injected (at run time), and lasting ``duration_s`` (for ever when null).
A schedule file is a YAML list of such mappings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

FaultKind = Literal[
    "device_silent", "sensor_stuck", "sensor_drift", "sensor_dead", "sensor_garbage",
    "heat_pump_trip", "reinjection_clogging", "well_pump_failure",
    "filter_fouling", "plate_fouling", "heat_pump_degradation", "makeup_leak", "meter_glitch",
]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]
SENSOR_FAULTS = frozenset({"sensor_stuck", "sensor_drift", "sensor_dead", "sensor_garbage",
                           "meter_glitch"})
EQUIPMENT_FAULTS = frozenset({"heat_pump_trip", "reinjection_clogging", "well_pump_failure"})


class FaultSpec(BaseModel):
    """One fault: what, on which target, when and for how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    target: Annotated[str, Field(min_length=1, max_length=96)]
    at_s: Annotated[float, Field(ge=0)] = 0.0
    duration_s: Annotated[float, Field(gt=0)] | None = None
    rate: float = 0.0
    """Drift in point units per hour (sensor_drift), injectivity loss per day (clogging),
    added resistance per hour (filter_fouling) or per day (plate_fouling) as a multiple of the
    clean one, or leak in m³/h (makeup_leak)."""
    value: float | None = None
    """Value a stuck sensor shows (default: the value it had when it stuck), a glitching
    meter shows (default 0), or the share of efficiency a degraded heat pump loses."""


class FaultFileError(ValueError):
    """A fault schedule that cannot be used; the message names the file, entry and problem."""


def parse_fault_schedule(text: str, source: str = "<faults>") -> list[FaultSpec]:
    """Parse a YAML list of fault specifications."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FaultFileError(f"{source}: (YAML): {str(exc).splitlines()[0]}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise FaultFileError(f"{source}: (top level): a fault schedule must be a list of faults")
    faults: list[FaultSpec] = []
    for index, entry in enumerate(data):
        try:
            faults.append(FaultSpec.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "(entry)"
            raise FaultFileError(f"{source}: [{index}].{key}: {first['msg']}") from None
    return faults


def load_fault_schedule(path: str | Path) -> list[FaultSpec]:
    """Read a fault schedule file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FaultFileError(f"{path}: cannot read: {exc}") from None
    return parse_fault_schedule(text, str(path))


@dataclass
class ScheduledFault:
    """A fault with its absolute start and end in simulated seconds since the start."""

    id: str
    spec: FaultSpec
    start_s: float
    end_s: float | None
    active: bool = False
    over: bool = False


class FaultTimeline:
    """Which faults start and end as simulated time passes."""

    def __init__(self) -> None:
        self.faults: dict[str, ScheduledFault] = {}
        self._counter = 0

    def add(self, spec: FaultSpec, now_s: float) -> ScheduledFault:
        """Schedule a fault ``spec.at_s`` after ``now_s``; return it with its new id."""
        self._counter += 1
        fault_id = f"f{self._counter}"
        start = now_s + spec.at_s
        end = None if spec.duration_s is None else start + spec.duration_s
        fault = ScheduledFault(fault_id, spec, start, end)
        self.faults[fault_id] = fault
        return fault

    def due(self, now_s: float) -> Iterator[tuple[bool, ScheduledFault]]:
        """Yield (starting, fault) for each fault that starts (True) or ends (False) by now."""
        for fault in list(self.faults.values()):
            if not fault.active and not fault.over and now_s >= fault.start_s:
                fault.active = True
                yield True, fault
            if fault.active and fault.end_s is not None and now_s >= fault.end_s:
                fault.active = False
                fault.over = True
                yield False, fault

    def remove(self, fault_id: str) -> ScheduledFault:
        """Forget a fault; raise KeyError if unknown. The caller ends it if it was active."""
        return self.faults.pop(fault_id)
