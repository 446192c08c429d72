"""The local PLC's decisions as pure functions of (settings, measurements, time).

The climate curve and the schedule live in :mod:`plant.heating` so the supervisory controller
decides with the very same functions; this module names them for the simulator's PLC logic and
adds the PLC's own: operating-mode choice and valve line-up, supply target and its bumpless
hand-back, duty pumps, heat-pump staging and protection, and the watchdog on the supervisory
heartbeat. Each takes what the PLC knows (its settings, timers and the measured state) and
returns its decision; :class:`simulator.station.StationModel` applies them to the equipment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from plant.heating import climate_curve_c, guard_units, heating_wanted, occupied
from plant.site import ModeKind, OperatingMode, Station
from simulator.build import CHILLED_SUPPLY_C
from simulator.equipment import approach

__all__ = ["DutyPump", "Heartbeat", "PlantState", "Staging", "StagingDecision",
           "StagingMeasurements", "StagingUnit", "climate_curve_c", "companion_speed_hz",
           "disarmed", "duty", "guard_units", "handed_back_target_c", "heartbeat_written",
           "heating_wanted", "held_at_limit", "lineup_pct", "loop_flows_m3h", "mode_allows",
           "next_mode", "occupied", "protection_conditions", "stage", "supervisor_silent",
           "supply_target_c"]

HANDBACK_RAMP_K_PER_S = 2.0 / 600.0
"""How fast the local supply target moves from a handed-back remote setpoint to the heating
curve: the 2 K step the setpoint points allow, every ten minutes."""
STAGE_UP_DELAY_S = 300.0
STAGE_DOWN_DELAY_S = 900.0
STAGE_DOWN_MARGIN = 0.85
STAGE_UP_SHORT_K = 0.5
"""How far below its target the supply must be to count as short of heat."""
STAGE_DOWN_OVER_K = 2.0
"""How far above its target the supply must be to count as over-supplied."""
LOW_EVAPORATOR_TRIP_K = 0.2
"""An evaporator held at its freezing guard (within 0.2 K) trips the unit."""


@dataclass(frozen=True)
class PlantState:
    """What the local logic knows when it chooses the operating mode."""

    heating_season: bool
    """The climate's heating season."""
    comfort: bool
    """Comfort heating: the heating season's occupied periods (all of it, without a schedule)."""
    cooling: bool
    """Cooling season at a station that cools, with no heat wanted."""
    direct_holds: bool
    """The direct exchangers alone hold the supply target."""
    units_running: bool
    """A heat pump under local control runs."""
    short: bool
    """The supply is short of its target by more than the stage-up margin."""
    guarding: bool = False
    """The anti-freeze guard heats (it always wins, in and out of the season)."""


def next_mode(kinds: frozenset[ModeKind], current: ModeKind | None,
              plant: PlantState) -> ModeKind | None:
    """The operating mode the station's modes and its existing conditions call for.

    Cooling in the cooling season. In the heating season outside the occupied periods, and
    out of it while the anti-freeze guard heats, the anti-freeze standby (its guard, which
    always wins, heats with the standby's units; a site without that mode guards with its
    heating modes). In heating, direct supply has priority (003 L2625): the station enters it
    once the heat pumps have staged down because the direct exchangers alone hold the target,
    and leaves it for heat-pump supply as soon as the supply falls short. None when the site
    names no mode for the case, or out of season with the guard at rest.
    """
    if plant.cooling:
        return "cooling" if "cooling" in kinds else None
    if not plant.heating_season and not plant.guarding:
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


def mode_allows(modes: dict[ModeKind, OperatingMode], current: ModeKind | None,
                unit_id: str) -> bool:
    """True when the operating mode lets the local logic run this unit (always, without modes)."""
    if not modes:
        return True
    mode = modes.get(current) if current is not None else None
    return mode is not None and unit_id in mode.units


def lineup_pct(mode: OperatingMode | None, valve_id: str, normally_open: bool) -> float:
    """The position a mode's line-up gives one of the valves the modes name."""
    if mode is not None and valve_id in mode.open:
        return 100.0
    if mode is not None and valve_id in mode.closed:
        return 0.0
    return 100.0 if normally_open else 0.0


def supply_target_c(station: Station, damped_outdoor_c: float, *, cooling: bool,
                    remote_setpoint_c: float | None) -> float:
    """The supply target: a remote setpoint written for the present mode, else the PLC's own."""
    if remote_setpoint_c is not None:
        return remote_setpoint_c
    if cooling:
        return CHILLED_SUPPLY_C
    return climate_curve_c(station, damped_outdoor_c)


def handed_back_target_c(from_c: float, local_c: float, dt_s: float
                         ) -> tuple[float, float | None]:
    """After a hand-back the target walks from the remote setpoint to the local one.

    Returns the target for this step and where the walk stands (None once it has arrived).
    """
    target = approach(from_c, local_c, HANDBACK_RAMP_K_PER_S, dt_s)
    return target, (None if target == local_c else target)


@dataclass(frozen=True)
class DutyPump:
    """What the duty logic sees of one pump of a circulation group."""

    rated_flow_m3h: float
    running: bool
    failed: bool
    remote_run: bool
    remote_speed: bool
    min_speed_hz: float
    max_speed_hz: float


def duty(pumps: Sequence[DutyPump], needed_m3h: float) -> list[tuple[bool, float | None] | None]:
    """Run enough pumps of a group, in file order, to give its required flow.

    For each pump: None when it is not the local logic's (failed or remotely run), else whether
    it runs and its speed setpoint (None: the speed stays remote). Running pumps come first:
    taking a group back never swaps a running pump for another.
    """
    available = sorted((i for i, p in enumerate(pumps) if not p.failed and not p.remote_run),
                       key=lambda i: not pumps[i].running)
    remote_flow = sum(p.rated_flow_m3h for p in pumps if p.remote_run and p.running)
    running: list[int] = []
    total = remote_flow
    for i in available:
        if total >= needed_m3h:
            break
        running.append(i)
        total += pumps[i].rated_flow_m3h
    plan: list[tuple[bool, float | None] | None] = [None] * len(pumps)
    for i in available:
        pump = pumps[i]
        speed: float | None = None
        if not pump.remote_speed and running:
            share = (needed_m3h - remote_flow) / sum(pumps[r].rated_flow_m3h for r in running)
            speed = min(max(share * pump.max_speed_hz, pump.min_speed_hz), pump.max_speed_hz)
        plan[i] = (i in running, speed)
    return plan


def companion_speed_hz(min_speed_hz: float, max_speed_hz: float,
                       served: Sequence[tuple[float, bool]]) -> float:
    """A loop pump's speed for the design flows of the units running on it.

    ``served`` holds each unit's design evaporator flow and whether it runs.
    """
    running = sum(flow for flow, on in served if on)
    rated = sum(flow for flow, _ in served)
    return min(max(max_speed_hz * running / rated, min_speed_hz), max_speed_hz)


def loop_flows_m3h(rated_m3h: Sequence[float],
                   evaporators: Sequence[tuple[float, bool]]) -> list[float]:
    """Each borehole loop's flow for the evaporators it feeds straight.

    ``evaporators`` holds each unit's design evaporator flow and whether it runs. The loops
    give the running units' design flow between them, in proportion to their rated flows and
    each at most its rated flow; none when no unit runs.
    """
    total = sum(rated_m3h)
    wanted = sum(flow for flow, on in evaporators if on)
    return [min(rated, wanted * rated / total) if total > 0 else 0.0 for rated in rated_m3h]


def protection_conditions(*, running: bool, starting_s: float, heat_kw: float,
                          min_load_pct: float, rated_heat_kw: float, evaporator_out_c: float,
                          freeze_guard_c: float, condenser_out_c: float,
                          condenser_trip_c: float) -> tuple[bool, bool]:
    """(low evaporator, high condenser): a unit held at a limit below its minimum load.

    A unit unloads to hold its freezing guard and its condenser limit; held there below its
    minimum load it can unload no further, and its own switch trips it.
    """
    cornered = running and starting_s <= 0.0 and heat_kw < (
        0.99 * min_load_pct / 100.0 * rated_heat_kw)
    return (cornered and evaporator_out_c <= freeze_guard_c + LOW_EVAPORATOR_TRIP_K,
            cornered and condenser_out_c >= condenser_trip_c)


@dataclass(frozen=True)
class Staging:
    """The staging logic's timers, and how many starts it has ordered (the start order)."""

    up_s: float = 0.0
    down_s: float = 0.0
    order: int = 0


@dataclass(frozen=True)
class StagingUnit:
    """What the staging logic sees of one heat pump."""

    id: str
    run_command: bool
    running: bool
    heat_kw: float
    rated_heat_kw: float
    capacity_ratio: float
    started_order: int
    held_at_limit: bool = False
    """The unit has unloaded to hold its freezing guard or its condenser limit: it gives all it
    can at the water it gets, however far below its rating."""


def held_at_limit(*, running: bool, starting_s: float, evaporator_out_c: float,
                  freeze_guard_c: float, condenser_out_c: float, condenser_limit_c: float
                  ) -> bool:
    """True when a running unit is held at its freezing guard or its condenser limit."""
    return running and starting_s <= 0.0 and (
        evaporator_out_c <= freeze_guard_c + LOW_EVAPORATOR_TRIP_K
        or condenser_out_c >= condenser_limit_c - LOW_EVAPORATOR_TRIP_K)


@dataclass(frozen=True)
class StagingMeasurements:
    """The plant's state the staging logic decides on."""

    supply_c: float
    target_c: float
    cooling: bool
    network_flow_m3h: float
    plant_on: bool
    direct_holds: bool


@dataclass(frozen=True)
class StagingDecision:
    """The staging logic's new timers and the unit it starts or stops (if any)."""

    timers: Staging
    start: str | None = None
    stop: str | None = None


def stage(timers: Staging, units: Sequence[StagingUnit], local: Sequence[str],
          plant: StagingMeasurements, dt_s: float) -> StagingDecision:
    """Stage heat pumps up when short of the target, down when over-supplied.

    ``units`` are every heat pump, ``local`` the ids of those the local logic may run (healthy,
    not remote, allowed by the mode) in the order it starts them. A unit starts when the supply
    has been short for the stage-up delay with every running unit giving all it can: at full
    capacity, or held at its freezing guard or condenser limit (another evaporator shares the
    source, another condenser the network); at once when none runs. The last started stops
    when the others could carry the heat with margin, the supply is well over its target, or
    direct supply holds it, for the stage-down delay. While a unit is held at a limit the
    heat of the units says nothing about what fewer could carry, so only an over-supply or
    direct supply stages down then.
    """
    if not plant.plant_on or not local:
        return StagingDecision(Staging(0.0, 0.0, timers.order))
    by_id = {u.id: u for u in units}
    mine = [by_id[i] for i in local]
    running = [u for u in mine if u.run_command]
    error = plant.supply_c - plant.target_c
    if plant.cooling:  # too warm is short of cooling
        error = -error
    short = error < -STAGE_UP_SHORT_K and plant.network_flow_m3h > 0
    saturated = all(u.held_at_limit
                    or (u.capacity_ratio >= 1.0 and u.heat_kw >= 0.98 * u.rated_heat_kw)
                    for u in units if u.running)
    up_s = timers.up_s + dt_s if short and saturated else 0.0
    if up_s >= STAGE_UP_DELAY_S or (short and not any(u.running for u in units)):
        idle = [u for u in mine if not u.run_command]
        if idle:
            return StagingDecision(replace(timers, up_s=0.0, order=timers.order + 1),
                                   start=idle[0].id)
        return StagingDecision(replace(timers, up_s=0.0))
    if not running:
        return StagingDecision(Staging(up_s, 0.0, timers.order))
    last = max(running, key=lambda u: u.started_order)
    total_heat = sum(u.heat_kw for u in units if u.running)
    rest = sum(u.rated_heat_kw for u in units if u.running and u.id != last.id)
    over = error > STAGE_DOWN_OVER_K
    limited = any(u.held_at_limit for u in units if u.running)
    surplus = ((total_heat < STAGE_DOWN_MARGIN * rest and not limited) or over
               or plant.direct_holds)
    down_s = timers.down_s + dt_s if surplus else 0.0
    if down_s >= STAGE_DOWN_DELAY_S:
        return StagingDecision(Staging(up_s, 0.0, timers.order), stop=last.id)
    return StagingDecision(Staging(up_s, down_s, timers.order))
