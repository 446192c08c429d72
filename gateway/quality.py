"""Pure quality rules: range checks and report-by-exception with a periodic full refresh."""

from __future__ import annotations

from dataclasses import dataclass

from plant.contract import Quality, Reason
from plant.site import Point

# A value this far outside the range (as a fraction of the span) is still plausibly real
# (a sensor slightly over-ranged), so it is uncertain; further out it is bad.
UNCERTAIN_MARGIN = 0.10

Value = float | int | bool | None


@dataclass(frozen=True)
class Reading:
    """A value read from a device, with its source time and quality."""

    point: str
    t: float
    """Source time: seconds since the epoch (UTC), taken when read."""
    v: Value
    q: Quality = Quality.GOOD
    r: Reason | None = None
    d: str | None = None


def range_quality(point: Point, value: Value) -> tuple[Quality, Reason | None, str | None]:
    """Classify a value against the point's range (booleans and missing values pass)."""
    if value is None or isinstance(value, bool) or point.dtype == "bool":
        return Quality.GOOD, None, None
    low, high = point.range
    if low <= value <= high:
        return Quality.GOOD, None, None
    margin = UNCERTAIN_MARGIN * (high - low)
    detail = f"{value} outside range {low}..{high}"
    if low - margin <= value <= high + margin:
        return Quality.UNCERTAIN, Reason.OUT_OF_RANGE, detail
    return Quality.BAD, Reason.OUT_OF_RANGE, detail


def checked(point: Point, reading: Reading) -> Reading:
    """Apply the range rule to a good reading; leave readings already marked alone."""
    if reading.q is not Quality.GOOD:
        return reading
    q, r, d = range_quality(point, reading.v)
    if q is Quality.GOOD:
        return reading
    return Reading(reading.point, reading.t, reading.v, q, r, d)


@dataclass
class _Last:
    v: Value
    q: Quality
    r: Reason | None
    t: float


class ReportFilter:
    """Report by exception: a point is sent when it moves past its deadband, when its quality
    or reason changes, or when it has not been sent for ``full_refresh_s``."""

    def __init__(self, deadbands: dict[str, float], full_refresh_s: float) -> None:
        self._deadbands = deadbands
        self._full_refresh_s = full_refresh_s
        self._last: dict[str, _Last] = {}

    def due(self, reading: Reading) -> bool:
        """Return True if the reading must be reported, and remember it if so."""
        last = self._last.get(reading.point)
        if last is None or self._changed(last, reading) or (
            reading.t - last.t >= self._full_refresh_s
        ):
            self._last[reading.point] = _Last(reading.v, reading.q, reading.r, reading.t)
            return True
        return False

    def last_value(self, point_id: str) -> Value:
        """Return the last reported value of a point (None if never reported or bad)."""
        last = self._last.get(point_id)
        return None if last is None else last.v

    def forget(self) -> None:
        """Report every point at its next reading (after a rebirth)."""
        self._last.clear()

    def _changed(self, last: _Last, reading: Reading) -> bool:
        if last.q is not reading.q or last.r is not reading.r:
            return True
        a, b = last.v, reading.v
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            return a != b
        deadband = self._deadbands.get(reading.point, 0.0)
        return abs(b - a) > deadband if deadband > 0 else a != b
