"""The local PLC's decisions as pure functions of (settings, measurements, time).

The climate curve and the schedule live in :mod:`plant.heating` so the supervisory controller
decides with the very same functions; this module names them for the simulator's PLC logic and
adds the PLC's own watchdog on the supervisory heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from plant.heating import climate_curve_c, heating_wanted, occupied
from plant.site import ModeKind

__all__ = ["Heartbeat", "PlantState", "climate_curve_c", "disarmed", "heartbeat_written",
           "heating_wanted", "next_mode", "occupied", "supervisor_silent"]


@dataclass(frozen=True)
class PlantState:
    """What the local logic knows when it chooses the operating mode."""

    heating_season: bool
    """The climate's heating season."""
    comfort: bool
    """An occupied period of the schedule (always, without a schedule)."""
    cooling: bool
    """Cooling season at a station that cools, with no heat wanted."""
    direct_holds: bool
    """The direct exchangers alone hold the supply target."""
    units_running: bool
    """A heat pump under local control runs."""
    short: bool
    """The supply is short of its target by more than the stage-up margin."""


def next_mode(kinds: frozenset[ModeKind], current: ModeKind | None,
              plant: PlantState) -> ModeKind | None:
    """The operating mode the station's modes and its existing conditions call for.

    Cooling in the cooling season. In the heating season, outside the occupied periods, the
    anti-freeze standby (its guard, which always wins, heats with the standby's units; a site
    without that mode guards with its heating modes). In heating, direct supply has priority
    (003 L2625): the station enters it once the heat pumps have staged down because the direct
    exchangers alone hold the target, and leaves it for heat-pump supply as soon as the supply
    falls short. None when the site names no mode for the case, or out of season.
    """
    if plant.cooling:
        return "cooling" if "cooling" in kinds else None
    if not plant.heating_season:
        return None
    if not plant.comfort and "antifreeze_standby" in kinds:
        return "antifreeze_standby"
    if "direct_supply" in kinds:
        if current == "direct_supply" and (not plant.short or "heat_pump_supply" not in kinds):
            return "direct_supply"
        if current != "direct_supply" and plant.direct_holds and not plant.units_running:
            return "direct_supply"
    return "heat_pump_supply" if "heat_pump_supply" in kinds else None


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
