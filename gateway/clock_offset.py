"""Pure estimate of the gateway's clock against the historians', from their watermarks' times.

A historian stamps every watermark it publishes with its own clock. The gateway notes when each
arrives; the smallest (arrival - stamp) seen recently is the offset plus the shortest delivery
delay, the usual NTP-style bound. Watermarks are retained, so the one delivered on subscribing
may be hours old: its apparent offset is larger and the minimum passes it over, and a single
stamp (which may be just that one) is not trusted: the offset is known once two distinct stamps
arrived within the window.

Arrivals are kept on the monotonic clock and turned into wall-clock terms only when asked, so a
step of the gateway's own wall clock shows in the offset at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from gateway.quality import Reading
from plant.contract import PointInfo, Quality, Reason

POINT = "gateway.clock_offset"


@dataclass
class ClockOffset:
    """The gateway's wall clock minus the historians' (seconds), from recent watermark times."""

    window_s: float = 300.0
    """Observations older than this (monotonic seconds) no longer count."""
    _seen: deque[tuple[float, float]] = field(default_factory=deque)
    """(monotonic arrival, monotonic arrival - remote stamp), oldest first."""

    def observe(self, remote: datetime, monotonic: float) -> None:
        """Note a historian time ``remote`` that arrived at the local ``monotonic`` moment."""
        self._seen.append((monotonic, monotonic - remote.timestamp()))

    def offset_s(self, wall: float, monotonic: float) -> float | None:
        """The offset now, or None when fewer than two distinct stamps arrived in the window."""
        while self._seen and monotonic - self._seen[0][0] > self.window_s:
            self._seen.popleft()
        if len({round(a - x, 6) for a, x in self._seen}) < 2:
            return None
        best = min(x for _, x in self._seen)
        # best is monotonic - remote; wall - remote = (wall - monotonic) + best
        return (wall - monotonic) + best

    def reading(self, wall: float, monotonic: float) -> Reading:
        """The health point's reading now: the offset, or bad while it is unknown."""
        offset = self.offset_s(wall, monotonic)
        if offset is None:
            return Reading(POINT, wall, None, Quality.BAD, Reason.STALE,
                           f"no historian time in the last {self.window_s:.0f} s")
        return Reading(POINT, wall, round(offset, 4))


def clock_offset_point(period_s: float) -> PointInfo:
    """The clock-offset health point, as announced in the birth."""
    return PointInfo(id=POINT, equipment="gateway", equipment_kind="gateway",
                     measurand="clock_offset", unit="s", dtype="float", range=(-1e6, 1e6),
                     period_s=period_s)
