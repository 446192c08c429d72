"""What each point of a site file reads: model value in the point's unit, noise and sensor faults.

Sensor noise is drawn from a counter-based generator keyed by the seed and the step number, so
a reading depends only on (seed, station, point, simulated step), never on who asked when.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from plant.measurands import COMMANDS, COUNTERS
from plant.site import HeatMeter, Point, Site
from plant.units import TO_BASE, Quantity
from simulator.readings import reader
from simulator.station import StationModel, Value

# (absolute sigma in base units, relative sigma) of a sensor reading, by quantity
NOISE: dict[Quantity, tuple[float, float]] = {
    Quantity.TEMPERATURE: (0.05, 0.0),
    Quantity.VOLUME_FLOW: (0.0, 0.003),
    Quantity.PRESSURE: (0.002, 0.0),
    Quantity.LEVEL: (0.02, 0.0),
    Quantity.POWER: (0.0, 0.005),
    Quantity.RATIO: (0.1, 0.0),
    Quantity.FREQUENCY: (0.02, 0.0),
    Quantity.CURRENT: (0.0, 0.005),
    Quantity.DIMENSIONLESS: (0.0, 0.005),
    Quantity.CONCENTRATION: (0.0, 0.01),
}
SETPOINT_READBACKS = frozenset(COMMANDS)


def unit_factor(unit: str) -> float:
    """Multiply a value in its quantity's first unit by this to express it in ``unit``."""
    if unit == "s":
        return 3600.0
    return 1.0 / TO_BASE.get(unit, 1.0)


@dataclass
class SensorFault:
    """A sensor fault acting on one point."""

    fault_id: str
    kind: str
    start_s: float
    rate: float = 0.0
    stuck_value: Value | None = None


class PointTable:
    """Readings of every point of one station."""

    def __init__(self, site: Site, model: StationModel, seed: int) -> None:
        self.site = site
        self.model = model
        self.points: tuple[Point, ...] = site.points
        self.index = {p.id: i for i, p in enumerate(self.points)}
        self.readers = [reader(model, p.equipment, p.measurand, p.depth_m) for p in self.points]
        self.factors = [unit_factor(p.unit) for p in self.points]
        meters = {e.id for e in site.equipment if isinstance(e, HeatMeter)}
        sigma_abs = []
        sigma_rel = []
        for point, factor in zip(self.points, self.factors, strict=True):
            quiet = (point.measurand in COUNTERS or point.measurand in SETPOINT_READBACKS
                     or point.equipment in meters or point.dtype == "bool")
            noise = (0.0, 0.0) if quiet else NOISE.get(point.quantity, (0.0, 0.0))
            sigma_abs.append(noise[0] * factor)
            sigma_rel.append(noise[1])
        self.sigma_abs = sigma_abs
        self.ranges = [p.range for p in self.points]
        self.sigma_rel = sigma_rel
        digest = hashlib.sha256(f"{seed}:{site.station.id}".encode()).digest()
        self._key = int.from_bytes(digest[:16], "little")
        self.faults: dict[int, list[SensorFault]] = {}
        self._step = -1
        self._values: list[Value | None] = []

    def true_value(self, index: int) -> Value:
        """The model's value of a point in the point's unit, without noise or faults."""
        raw = self.readers[index]()
        if isinstance(raw, bool):
            return raw
        value = float(raw) * self.factors[index]
        if self.points[index].dtype == "int":
            return round(value)
        return value

    def snapshot(self, step: int, elapsed_s: float) -> list[Value | None]:
        """All readings at a simulated step (cached per step); None marks a dead sensor."""
        if step == self._step:
            return self._values
        generator = np.random.Generator(np.random.Philox(key=self._key, counter=step))
        normal = generator.standard_normal(len(self.points)).tolist()
        values: list[Value | None] = [self.noisy(index, normal[index])
                                      for index in range(len(self.points))]
        for index, faults in self.faults.items():
            for fault in faults:
                values[index] = self._faulty(index, fault, values[index], elapsed_s, generator)
        self._step = step
        self._values = values
        return values

    def noisy(self, index: int, normal: float) -> Value:
        """A point's reading before sensor faults, given its standard normal draw of the step."""
        value = self.true_value(index)
        # an exact zero is a stopped machine's reading, which carries no noise
        if not isinstance(value, bool) and value != 0:
            sigma = self.sigma_abs[index] + self.sigma_rel[index] * abs(value)
            if sigma > 0.0:
                noisy = value + sigma * normal
                low, high = self.ranges[index]
                if low <= value <= high:
                    # the PLC clamps a scaled input at its range ends, as a position or
                    # percentage transmitter saturates: noise alone never leaves the range
                    noisy = min(max(noisy, low), high)
                value = round(noisy) if self.points[index].dtype == "int" else noisy
        return value

    def view(self, step: int, elapsed_s: float) -> Mapping[str, Value | None]:
        """The readings of a step by point id, each computed when first asked for.

        The same values as :meth:`snapshot` for the same step; a controller that reads a few
        dozen points of a few hundred pays for those only. With a sensor fault acting, whose
        garbage draws follow the order of the whole table, it is the snapshot itself.
        """
        if self.faults or step == self._step:
            return dict(zip(self.index, self.snapshot(step, elapsed_s), strict=True))
        return _LazyReadings(self, step)

    def _faulty(self, index: int, fault: SensorFault, value: Value | None, elapsed_s: float,
                generator: np.random.Generator) -> Value | None:
        point = self.points[index]
        if fault.kind == "sensor_dead" or value is None:
            return None
        if fault.kind == "sensor_stuck":
            return fault.stuck_value if fault.stuck_value is not None else value
        if fault.kind == "meter_glitch":
            # a meter's register misread as another number (often 0) while the glitch lasts
            glitch = fault.stuck_value if fault.stuck_value is not None else 0.0
            return round(glitch) if point.dtype == "int" else glitch
        if isinstance(value, bool):
            return (not value) if fault.kind == "sensor_garbage" and generator.random() < 0.5 \
                else value
        if fault.kind == "sensor_drift":
            return value + fault.rate * (elapsed_s - fault.start_s) / 3600.0
        low, high = point.range
        width = high - low
        offset = width * (0.1 + 9.9 * generator.random())
        garbage = high + offset if generator.random() < 0.5 else low - offset
        return round(garbage) if point.dtype == "int" else garbage

    def add_fault(self, point_id: str, fault: SensorFault) -> None:
        """Start a sensor fault; a stuck sensor freezes at its current reading unless told."""
        index = self.index[point_id]
        if fault.kind == "sensor_stuck" and fault.stuck_value is None:
            current = self._values[index] if self._step >= 0 else self.true_value(index)
            fault.stuck_value = current
        self.faults.setdefault(index, []).append(fault)
        self._step = -1

    def remove_fault(self, fault_id: str) -> None:
        """End a sensor fault."""
        for index in list(self.faults):
            kept = [f for f in self.faults[index] if f.fault_id != fault_id]
            if kept:
                self.faults[index] = kept
            else:
                del self.faults[index]
        self._step = -1


def to_model_units(point: Point, value: float) -> float:
    """Convert a written value from the point's unit to the model's unit."""
    return value / unit_factor(point.unit)


def is_finite_number(value: object) -> bool:
    """True for an int or float (not bool) that is finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _LazyReadings(Mapping[str, "Value | None"]):
    """Readings of one step, computed point by point on first access."""

    def __init__(self, table: PointTable, step: int) -> None:
        self._table = table
        self._step = step
        self._normal: list[float] | None = None
        self._cache: dict[int, Value] = {}

    def __getitem__(self, point_id: str) -> Value | None:
        index = self._table.index[point_id]
        cached = self._cache.get(index)
        if cached is None:
            if self._normal is None:
                generator = np.random.Generator(
                    np.random.Philox(key=self._table._key, counter=self._step))
                self._normal = generator.standard_normal(len(self._table.points)).tolist()
            cached = self._cache[index] = self._table.noisy(index, self._normal[index])
        return cached

    def get(self, point_id: str, default: Value | None = None) -> Value | None:  # type: ignore[override]
        """The reading of a point, ``default`` for an id the table does not have."""
        # Mapping's own get goes through __getitem__ and a caught KeyError: a controller
        # reading a few dozen points every cycle pays that on each
        if point_id not in self._table.index:
            return default
        return self[point_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.index)

    def __len__(self) -> int:
        return len(self._table.index)
