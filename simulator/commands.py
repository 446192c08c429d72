"""Commands, remote mode, the supervisory watchdog and equipment faults, applied to a station.

A written command overrides the local logic for its actuator until handed back (``remote_mode``
false, :func:`hand_back`, or the watchdog when the supervisor's heartbeat stops changing).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from plant.measurands import Measurand
from plant.site import Network
from simulator.equipment import PumpUnit
from simulator.local_control import disarmed, heartbeat_written, supervisor_silent

if TYPE_CHECKING:
    from simulator.station import StationModel, Value

M = Measurand


class CommandError(ValueError):
    """A command the station cannot take (unknown target or measurand, bad value)."""


def trip_heat_pump(model: StationModel, equipment_id: str, tripped: bool) -> None:
    """Trip (or release) a heat pump."""
    model.heat_pumps[equipment_id].tripped = tripped


def fail_pump(model: StationModel, equipment_id: str, failed: bool) -> None:
    """Fail (or repair) a well pump or any pump."""
    if equipment_id in model.wells:
        model.wells[equipment_id].pump.failed = failed
    elif equipment_id in model.reinjection:
        model.reinjection[equipment_id].pump.failed = failed
    else:
        model.pumps[equipment_id].failed = failed


def clog_reinjection(model: StationModel, equipment_id: str, loss_per_day: float) -> None:
    """Add (or, negative, remove) a fractional injectivity loss per day."""
    well = model.reinjection[equipment_id]
    well.clogging_per_day = max(0.0, well.clogging_per_day + loss_per_day)


def command(model: StationModel, equipment_id: str, measurand: Measurand, value: Value) -> None:
    """Apply a written command, which from now on overrides the local PLC for that actuator.


    ``remote_mode`` false hands a unit (or, on the network, the station's supply setpoint)
    back to the local logic; true takes it without changing what it does. ``heartbeat``
    tells the watchdog the supervisor is alive.
    """
    if measurand is M.HEARTBEAT:
        model.heartbeat = heartbeat_written(model.heartbeat, round(float(value)), model.now)
        return
    if measurand is M.REMOTE_MODE:
        remote_mode(model, equipment_id, bool(value))
        return
    if measurand is M.RUN_COMMAND:
        on = bool(value)
        if equipment_id in model.heat_pumps:
            hp = model.heat_pumps[equipment_id]
            hp.run_command, hp.remote_run = on, True
            if on:
                model.staging = replace(model.staging, order=model.staging.order + 1)
                hp.started_order = model.staging.order
            return
        unit = pump_of(model, equipment_id)
        unit.run_command, unit.remote_run = on, True
        return
    if measurand is M.SPEED_SETPOINT:
        unit = pump_of(model, equipment_id)
        unit.speed_setpoint_hz, unit.remote_speed = float(value), True
        return
    if measurand is M.VALVE_POSITION_SETPOINT:
        if equipment_id in model.valves:
            model.valves[equipment_id].setpoint_pct = float(value)
            model.valves[equipment_id].remote = True
        elif equipment_id in model.zones:
            model.zones[equipment_id].valve_setpoint_pct = float(value)
            model.zones[equipment_id].remote_valve = True
        else:
            raise CommandError(f"{equipment_id} has no valve")
        return
    if measurand is M.SUPPLY_TEMP_SETPOINT:
        if equipment_id in model.heat_pumps:
            model.heat_pumps[equipment_id].setpoint_c = float(value)
        else:
            model.remote_supply_setpoint_c = float(value)
            model.setpoint_mode = "cooling" if model.cooling_on else "heating"
        return
    raise CommandError(f"measurand {measurand} is not a command")


def remote_mode(model: StationModel, equipment_id: str, remote: bool) -> None:
    """Take a unit (or the network's supply setpoint) into remote control, or hand it back."""
    if equipment_id in model.heat_pumps:
        hp = model.heat_pumps[equipment_id]
        hp.remote_run = remote
        if not remote:
            hp.setpoint_c = None
        return
    if any(isinstance(e, Network) and e.id == equipment_id for e in model.site.equipment):
        if remote:
            model.remote_supply_setpoint_c = model.supply_target_c
            model.setpoint_mode = "cooling" if model.cooling_on else "heating"
        elif model.remote_supply_setpoint_c is not None:
            model.handback_from_c = model.supply_target_c
            model.remote_supply_setpoint_c = None
        return
    unit = pump_of(model, equipment_id)
    unit.remote_run = unit.remote_speed = remote


def is_remote(model: StationModel, equipment_id: str) -> bool:
    """True when a unit (or, on the network, the supply setpoint) is under remote control."""
    if equipment_id in model.heat_pumps:
        return model.heat_pumps[equipment_id].remote_run
    if any(isinstance(e, Network) and e.id == equipment_id for e in model.site.equipment):
        return model.remote_supply_setpoint_c is not None
    unit = pump_of(model, equipment_id)
    return unit.remote_run or unit.remote_speed


def hand_back(model: StationModel) -> None:
    """Give every unit and the supply setpoint back to the local logic, as they are now.


    Bumpless: no unit is started or stopped here; the local logic goes on from the running
    units (its staging timers start from zero) and walks the supply target to its own.
    """
    for hp in model.heat_pumps.values():
        hp.remote_run = False
        hp.setpoint_c = None
    for unit in model.plant.all_pumps():
        unit.remote_run = unit.remote_speed = False
    for zone in model.zones.values():
        zone.remote_valve = False
    for valve in model.valves.values():
        valve.remote = False
    if model.remote_supply_setpoint_c is not None:
        model.handback_from_c = model.supply_target_c
        model.remote_supply_setpoint_c = None


def watchdog(model: StationModel) -> None:
    """Hand the station back to the local logic when the supervisor has fallen silent."""
    supervision = model.site.station.supervision
    if supervision is None:
        return
    if supervisor_silent(model.heartbeat, model.now, supervision.heartbeat_timeout_s):
        if model.heartbeat.changed_at is not None:
            model.last_takeover = (model.heartbeat.changed_at, model.now)
        model.hand_back()
        model.heartbeat = disarmed(model.heartbeat)
        model.watchdog_takeovers += 1


def pump_of(model: StationModel, equipment_id: str) -> PumpUnit:
    """The pump unit of a pump or of a well; CommandError when there is none."""
    if equipment_id in model.pumps:
        return model.pumps[equipment_id]
    if equipment_id in model.wells:
        return model.wells[equipment_id].pump
    if equipment_id in model.reinjection:
        return model.reinjection[equipment_id].pump
    raise CommandError(f"{equipment_id} has no pump")
