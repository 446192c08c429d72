"""One simulated station without any I/O: model, point readings, writes and faults.

:class:`StationSim` is what the servers serve and what tests drive directly: ``advance(dt)``
steps the physics, ``values()`` reads every point as its device would show it, ``write()``
applies a command after the checks a PLC makes, and ``inject()``/``clear()`` handle faults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from plant.measurands import COUNTERS
from plant.site import (
    HeatPump,
    Point,
    ProductionWell,
    Pump,
    ReinjectionWell,
    Site,
)
from simulator.faults import (
    EQUIPMENT_FAULTS,
    SENSOR_FAULTS,
    FaultSpec,
    FaultTimeline,
    ScheduledFault,
)
from simulator.points import PointTable, SensorFault, is_finite_number, to_model_units
from simulator.station import StationModel, Value
from simulator.wear import TARGETS, WEAR_FAULTS, Wear

RefusalReason = Literal["unknown_point", "not_writable", "out_of_range", "bad_value"]


class WriteRefusedError(ValueError):
    """A write the station refuses; ``reason`` says why (maps to a protocol error code)."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        self.reason: RefusalReason = reason


class FaultTargetError(ValueError):
    """A fault aimed at something the station does not have."""


@dataclass(frozen=True)
class FaultChange:
    """A device falling silent or answering again, for the servers to act on."""

    device: str
    silent: bool


class StationSim:
    """A station's model, readings, writes and faults, advanced in simulated time."""

    def __init__(self, site: Site, *, seed: int = 0, start: datetime | None = None,
                 warm_up_s: float = 12 * 3600.0) -> None:
        self.site = site
        self.station_id = site.station.id
        self.model = StationModel(site, seed=seed, start=start, warm_up_s=warm_up_s)
        self.table = PointTable(site, self.model, seed)
        self.wear = Wear(site, self.model, self.table)
        self.timeline = FaultTimeline()
        self.elapsed_s = 0.0
        self.steps = 0
        self.silent: set[str] = set()
        self._silencers: dict[str, set[str]] = {}
        self.on_device_change: Callable[[FaultChange], None] | None = None

    @property
    def now(self) -> datetime:
        """Simulated UTC time."""
        return self.model.now

    def advance(self, dt_s: float) -> None:
        """Step the station by ``dt_s`` simulated seconds and start or end due faults."""
        self.model.advance(dt_s)
        self.wear.step(dt_s)
        self.elapsed_s += dt_s
        self.steps += 1
        self._apply_due()

    def run(self, duration_s: float, step_s: float = 1.0) -> None:
        """Advance by ``duration_s`` in steps of ``step_s`` (the last step may be shorter)."""
        done = 0.0
        while done < duration_s - 1e-9:
            step = min(step_s, duration_s - done)
            self.advance(step)
            done += step

    # ------------------------------------------------------------------ readings

    def values(self) -> dict[str, Value | None]:
        """Every point's reading now, keyed by point id (None: the sensor is dead)."""
        snapshot = self.table.snapshot(self.steps, self.elapsed_s)
        return {p.id: v for p, v in zip(self.table.points, snapshot, strict=True)}

    def units(self) -> dict[str, object]:
        """The heat pumps as the plant knows them (run, command, remote, starts, trips) and how
        often the supervisory watchdog handed the station back: the outside view of staging."""
        model = self.model
        return {"heat_pumps": {ident: {"running": hp.running, "run_command": hp.run_command,
                                       "remote": hp.remote_run, "starts": hp.starts,
                                       "protection_trips": hp.protection_trips,
                                       "tripped": hp.tripped}
                               for ident, hp in model.heat_pumps.items()},
                "watchdog_takeovers": model.watchdog_takeovers,
                "last_takeover": None if model.last_takeover is None else {
                    "heartbeat_at": model.last_takeover[0].isoformat(),
                    "at": model.last_takeover[1].isoformat()},
                "heartbeat": model.heartbeat.value, "now": model.now.isoformat()}

    def view(self) -> Mapping[str, Value | None]:
        """Every point's reading now by point id, each computed when first read."""
        return self.table.view(self.steps, self.elapsed_s)

    def readings(self) -> list[Value | None]:
        """Every point's reading now, in site-file order."""
        return self.table.snapshot(self.steps, self.elapsed_s)

    def value(self, point_id: str) -> Value | None:
        """One point's reading now; raise KeyError for an unknown point."""
        index = self.table.index[point_id]
        return self.readings()[index]

    # ------------------------------------------------------------------ writes

    def check_write(self, point_id: str, value: object) -> tuple[Point, Value]:
        """Check a write as the PLC would; return the point and the value to apply."""
        index = self.table.index.get(point_id)
        if index is None:
            raise WriteRefusedError("unknown_point", f"no point {point_id!r}")
        point = self.table.points[index]
        if not point.writable:
            raise WriteRefusedError("not_writable", f"point {point_id} is not writable")
        if point.dtype == "bool":
            if isinstance(value, bool):
                return point, value
            if is_finite_number(value) and value in (0, 1):
                return point, bool(value)
            raise WriteRefusedError("bad_value",
                                    f"point {point_id} takes true or false, not {value!r}")
        if not is_finite_number(value):
            raise WriteRefusedError("bad_value", f"point {point_id} takes a number, not {value!r}")
        number = float(value)  # type: ignore[arg-type]
        limits = point.limits
        if limits is not None and not limits.min <= number <= limits.max:
            raise WriteRefusedError(
                "out_of_range", f"{number:g} {point.unit} is outside the limits "
                f"{limits.min:g}..{limits.max:g} of point {point_id}")
        return point, (round(number) if point.dtype == "int" else number)

    def write(self, point_id: str, value: object) -> None:
        """Apply a write to a writable point, or raise WriteRefusedError."""
        point, checked = self.check_write(point_id, value)
        model_value = checked if isinstance(checked, bool) else to_model_units(point, checked)
        self.model.command(point.equipment, point.measurand, model_value)
        self.table._step = -1

    # ------------------------------------------------------------------ faults

    def inject(self, spec: FaultSpec, *, from_start: bool = False) -> str:
        """Schedule a fault ``spec.at_s`` after now (or after the start); return its id."""
        self._check_target(spec)
        fault = self.timeline.add(spec, 0.0 if from_start else self.elapsed_s)
        self._apply_due()
        return fault.id

    def clear(self, fault_id: str | None = None) -> None:
        """End one fault (KeyError if unknown) or, without an id, every fault."""
        ids = list(self.timeline.faults) if fault_id is None else [fault_id]
        for ident in ids:
            fault = self.timeline.remove(ident)
            if fault.active:
                self._end(fault)

    def active_faults(self) -> list[ScheduledFault]:
        """Faults acting now."""
        return [f for f in self.timeline.faults.values() if f.active]

    def _check_target(self, spec: FaultSpec) -> None:
        site = self.site
        target = spec.target
        kinds = {e.id: e for e in site.equipment}
        if spec.kind == "device_silent":
            ok = any(d.id == target for d in site.devices)
            wanted = "a device"
        elif spec.kind == "meter_glitch":
            ok = target in self.table.index and site.point(target).measurand in COUNTERS
            wanted = "a meter's counter point"
        elif spec.kind in SENSOR_FAULTS:
            ok = target in self.table.index
            wanted = "a point"
        elif spec.kind in WEAR_FAULTS:
            kind, wanted = TARGETS[spec.kind]
            ok = isinstance(kinds.get(target), kind)
        elif spec.kind == "heat_pump_trip":
            ok = isinstance(kinds.get(target), HeatPump)
            wanted = "a heat pump"
        elif spec.kind == "reinjection_clogging":
            ok = isinstance(kinds.get(target), ReinjectionWell)
            wanted = "a reinjection well"
        else:
            ok = isinstance(kinds.get(target), ProductionWell | Pump)
            wanted = "a production well or a pump"
        if not ok:
            raise FaultTargetError(f"{spec.kind} needs {wanted} of station {self.station_id} "
                                   f"as target, and {target!r} is not one")

    def _apply_due(self) -> None:
        for starting, fault in self.timeline.due(self.elapsed_s):
            if starting:
                self._start(fault)
            else:
                self._end(fault)

    def _start(self, fault: ScheduledFault) -> None:
        spec = fault.spec
        if spec.kind == "device_silent":
            holders = self._silencers.setdefault(spec.target, set())
            holders.add(fault.id)
            if spec.target not in self.silent:
                self.silent.add(spec.target)
                self._notify(FaultChange(spec.target, True))
        elif spec.kind in SENSOR_FAULTS:
            self.table.add_fault(spec.target, SensorFault(
                fault.id, spec.kind, self.elapsed_s, spec.rate,
                spec.value if spec.kind in ("sensor_stuck", "meter_glitch") else None))
        elif spec.kind in WEAR_FAULTS:
            self.wear.start(fault.id, spec)
            self.table._step = -1
        elif spec.kind in EQUIPMENT_FAULTS:
            self._equipment_fault(spec, True)

    def _end(self, fault: ScheduledFault) -> None:
        spec = fault.spec
        if spec.kind == "device_silent":
            holders = self._silencers.get(spec.target, set())
            holders.discard(fault.id)
            if not holders and spec.target in self.silent:
                self.silent.discard(spec.target)
                self._notify(FaultChange(spec.target, False))
        elif spec.kind in SENSOR_FAULTS:
            self.table.remove_fault(fault.id)
        elif spec.kind in WEAR_FAULTS:
            self.wear.end(fault.id, spec)
            self.table._step = -1
        else:
            self._equipment_fault(spec, False)

    def _equipment_fault(self, spec: FaultSpec, on: bool) -> None:
        model = self.model
        if spec.kind == "heat_pump_trip":
            model.trip_heat_pump(spec.target, on)
        elif spec.kind == "well_pump_failure":
            model.fail_pump(spec.target, on)
        elif spec.kind == "reinjection_clogging":
            model.clog_reinjection(spec.target, spec.rate if on else -spec.rate)
        self.table._step = -1

    def _notify(self, change: FaultChange) -> None:
        if self.on_device_change is not None:
            self.on_device_change(change)
