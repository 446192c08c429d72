"""The local PLC's decisions as pure functions of (settings, measurements, time).

The climate curve and the schedule live in :mod:`plant.heating` so the supervisory controller
decides with the very same functions; this module names them for the simulator's PLC logic and
adds the PLC's own watchdog on the supervisory heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from plant.heating import climate_curve_c, heating_wanted, occupied

__all__ = ["Heartbeat", "climate_curve_c", "disarmed", "heartbeat_written", "heating_wanted",
           "occupied", "supervisor_silent"]


@dataclass(frozen=True)
class Heartbeat:
    """What the PLC remembers of the supervisory controller's heartbeat."""

    value: int | None = None
    """The last value written."""
    changed_at: datetime | None = None
    """When the value last changed; None while the watchdog is not armed."""


def heartbeat_written(state: Heartbeat, value: int, now: datetime) -> Heartbeat:
    """A changed value proves the supervisor alive and arms the watchdog; a repeat does not."""
    if value == state.value:
        return state
    return Heartbeat(value, now)


def supervisor_silent(state: Heartbeat, now: datetime, timeout_s: float) -> bool:
    """True when an armed watchdog has seen no new heartbeat for longer than the timeout."""
    return state.changed_at is not None and (now - state.changed_at).total_seconds() > timeout_s


def disarmed(state: Heartbeat) -> Heartbeat:
    """The watchdog after the local logic took over: armed again by the next new value."""
    return Heartbeat(state.value, None)
