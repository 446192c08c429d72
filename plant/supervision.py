"""What a supervisory controller sees of a station and what it may ask of it.

The same vocabulary serves the live plant (readings arrive from the gateway, setpoints leave as
signed gateway commands) and the season simulator (``geoscada season``), so a controller is
written once and run against either: it receives a :class:`PlantView` — every point's reading
by point id, as the gateway would publish it — and returns :class:`Setpoint` s by point id,
exactly the writes a gateway command carries. The station answers a setpoint as its PLC would
(limits, writable points only); a refused write is reported, never silently dropped.

A controller holds the station only while it keeps the station's supervisory heartbeat alive
(``station.supervision`` in the site file); when it falls silent the station's own logic takes
over from the state the plant is in. Writing a unit's ``remote_mode`` point false hands it back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from plant.site import Site

Reading = float | int | bool
"""A point's value in its own unit (int for integer registers, bool for states)."""


@dataclass(frozen=True)
class PlantView:
    """One station at one moment, as the gateway sees it."""

    station: str
    now: datetime
    """Time of the readings (UTC)."""
    readings: Mapping[str, Reading | None]
    """Point id → reading; None when the sensor gives nothing (bad quality)."""

    def reading(self, point_id: str) -> Reading | None:
        """One point's reading; KeyError names a point the station does not have."""
        try:
            return self.readings[point_id]
        except KeyError:
            raise KeyError(f"station {self.station} has no point {point_id!r}") from None


@dataclass(frozen=True)
class Setpoint:
    """One write a controller asks for: a point id and the value in the point's unit."""

    point: str
    value: Reading


class Supervisor(Protocol):
    """A supervisory controller closing the loop on one station."""

    def step(self, view: PlantView) -> Sequence[Setpoint]:
        """Decide from the station's readings now; return the writes to make (may be none)."""
        ...


SupervisorFactory = Callable[[Site], Supervisor]
"""Builds a station's supervisor from its site file (``--supervisor MODULE:NAME``)."""
