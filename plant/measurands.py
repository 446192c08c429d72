"""What a point measures: the closed vocabulary of measurands and where each may appear."""

from __future__ import annotations

from enum import StrEnum

from plant.units import Quantity


class Measurand(StrEnum):
    """A measured or commanded variable of a piece of equipment."""

    # temperatures
    WELLHEAD_TEMP = "wellhead_temp"
    INJECTION_TEMP = "injection_temp"
    INLET_TEMP = "inlet_temp"
    OUTLET_TEMP = "outlet_temp"
    SUPPLY_TEMP = "supply_temp"
    RETURN_TEMP = "return_temp"
    PRIMARY_IN_TEMP = "primary_in_temp"
    PRIMARY_OUT_TEMP = "primary_out_temp"
    SECONDARY_IN_TEMP = "secondary_in_temp"
    SECONDARY_OUT_TEMP = "secondary_out_temp"
    EVAPORATOR_IN_TEMP = "evaporator_in_temp"
    EVAPORATOR_OUT_TEMP = "evaporator_out_temp"
    CONDENSER_IN_TEMP = "condenser_in_temp"
    CONDENSER_OUT_TEMP = "condenser_out_temp"
    TEMP_AT_DEPTH = "temp_at_depth"
    GROUND_TEMP = "ground_temp"
    OUTDOOR_TEMP = "outdoor_temp"
    INDOOR_TEMP = "indoor_temp"
    SUPPLY_TEMP_SETPOINT = "supply_temp_setpoint"
    # flows
    FLOW = "flow"
    PRIMARY_FLOW = "primary_flow"
    SECONDARY_FLOW = "secondary_flow"
    EVAPORATOR_FLOW = "evaporator_flow"
    CONDENSER_FLOW = "condenser_flow"
    MAKEUP_FLOW = "makeup_flow"
    # pressures and levels
    WELLHEAD_PRESSURE = "wellhead_pressure"
    PRESSURE = "pressure"
    SUPPLY_PRESSURE = "supply_pressure"
    RETURN_PRESSURE = "return_pressure"
    DIFFERENTIAL_PRESSURE = "differential_pressure"
    WATER_LEVEL = "water_level"
    # power and energy
    ELECTRIC_POWER = "electric_power"
    ELECTRIC_ENERGY = "electric_energy"
    HEAT_POWER = "heat_power"
    HEAT_ENERGY = "heat_energy"
    HEAT_REJECTED_ENERGY = "heat_rejected_energy"
    CURRENT = "current"
    # volumes
    VOLUME = "volume"
    MAKEUP_VOLUME = "makeup_volume"
    # positions, speeds, loads
    VALVE_POSITION = "valve_position"
    VALVE_POSITION_SETPOINT = "valve_position_setpoint"
    LOAD = "load"
    SPEED = "speed"
    SPEED_SETPOINT = "speed_setpoint"
    OUTDOOR_HUMIDITY = "outdoor_humidity"
    # states
    RUN_STATE = "run_state"
    RUN_COMMAND = "run_command"
    REMOTE_MODE = "remote_mode"
    HEARTBEAT = "heartbeat"
    FAULT = "fault"
    RUN_HOURS = "run_hours"
    COP = "cop"
    TDS = "tds"


M = Measurand

QUANTITY: dict[Measurand, Quantity] = {
    **{
        m: Quantity.TEMPERATURE
        for m in (
            M.WELLHEAD_TEMP, M.INJECTION_TEMP, M.INLET_TEMP, M.OUTLET_TEMP, M.SUPPLY_TEMP,
            M.RETURN_TEMP, M.PRIMARY_IN_TEMP, M.PRIMARY_OUT_TEMP, M.SECONDARY_IN_TEMP,
            M.SECONDARY_OUT_TEMP, M.EVAPORATOR_IN_TEMP, M.EVAPORATOR_OUT_TEMP,
            M.CONDENSER_IN_TEMP, M.CONDENSER_OUT_TEMP, M.TEMP_AT_DEPTH, M.GROUND_TEMP,
            M.OUTDOOR_TEMP, M.INDOOR_TEMP, M.SUPPLY_TEMP_SETPOINT,
        )
    },
    **{
        m: Quantity.VOLUME_FLOW
        for m in (
            M.FLOW, M.PRIMARY_FLOW, M.SECONDARY_FLOW, M.EVAPORATOR_FLOW, M.CONDENSER_FLOW,
            M.MAKEUP_FLOW,
        )
    },
    **{
        m: Quantity.PRESSURE
        for m in (
            M.WELLHEAD_PRESSURE, M.PRESSURE, M.SUPPLY_PRESSURE, M.RETURN_PRESSURE,
            M.DIFFERENTIAL_PRESSURE,
        )
    },
    M.WATER_LEVEL: Quantity.LEVEL,
    M.ELECTRIC_POWER: Quantity.POWER,
    M.HEAT_POWER: Quantity.POWER,
    M.ELECTRIC_ENERGY: Quantity.ENERGY,
    M.HEAT_ENERGY: Quantity.ENERGY,
    M.HEAT_REJECTED_ENERGY: Quantity.ENERGY,
    M.CURRENT: Quantity.CURRENT,
    M.VOLUME: Quantity.VOLUME,
    M.MAKEUP_VOLUME: Quantity.VOLUME,
    M.VALVE_POSITION: Quantity.RATIO,
    M.VALVE_POSITION_SETPOINT: Quantity.RATIO,
    M.LOAD: Quantity.RATIO,
    M.OUTDOOR_HUMIDITY: Quantity.RATIO,
    M.SPEED: Quantity.FREQUENCY,
    M.SPEED_SETPOINT: Quantity.FREQUENCY,
    M.RUN_STATE: Quantity.STATE,
    M.RUN_COMMAND: Quantity.STATE,
    M.REMOTE_MODE: Quantity.STATE,
    M.HEARTBEAT: Quantity.DIMENSIONLESS,
    M.FAULT: Quantity.STATE,
    M.RUN_HOURS: Quantity.DURATION,
    M.COP: Quantity.DIMENSIONLESS,
    M.TDS: Quantity.CONCENTRATION,
}

# Measurands an operator or the controller may write; only these may be writable points.
COMMANDS: frozenset[Measurand] = frozenset(
    {M.RUN_COMMAND, M.SPEED_SETPOINT, M.VALVE_POSITION_SETPOINT, M.SUPPLY_TEMP_SETPOINT,
     M.REMOTE_MODE, M.HEARTBEAT}
)

# Measurands read at a sensor depth: their points must say the depth.
AT_DEPTH: frozenset[Measurand] = frozenset({M.TEMP_AT_DEPTH, M.GROUND_TEMP})

# Counters that only grow (until a meter reset or rollover); rollups take deltas of these.
COUNTERS: frozenset[Measurand] = frozenset(
    {
        M.ELECTRIC_ENERGY, M.HEAT_ENERGY, M.HEAT_REJECTED_ENERGY, M.VOLUME, M.MAKEUP_VOLUME,
        M.RUN_HOURS,
    }
)

_PUMPED = (M.RUN_STATE, M.RUN_COMMAND, M.REMOTE_MODE, M.FAULT, M.SPEED, M.SPEED_SETPOINT,
           M.ELECTRIC_POWER, M.ELECTRIC_ENERGY, M.CURRENT, M.RUN_HOURS)

# Equipment kind -> measurands a point on it may have.
ALLOWED: dict[str, frozenset[Measurand]] = {
    "production_well": frozenset(
        {M.WELLHEAD_TEMP, M.FLOW, M.WELLHEAD_PRESSURE, M.WATER_LEVEL, M.TEMP_AT_DEPTH, M.VOLUME,
         M.TDS, *_PUMPED}
    ),
    "reinjection_well": frozenset(
        {M.INJECTION_TEMP, M.FLOW, M.WELLHEAD_PRESSURE, M.WATER_LEVEL, M.TEMP_AT_DEPTH,
         M.VOLUME, *_PUMPED}
    ),
    "monitoring_well": frozenset({M.TEMP_AT_DEPTH, M.WATER_LEVEL}),
    "coaxial_borehole": frozenset(
        {M.INLET_TEMP, M.OUTLET_TEMP, M.FLOW, M.PRESSURE, M.DIFFERENTIAL_PRESSURE, M.HEAT_POWER,
         M.HEAT_ENERGY, M.TEMP_AT_DEPTH}
    ),
    "borehole_field": frozenset(
        {M.INLET_TEMP, M.OUTLET_TEMP, M.FLOW, M.PRESSURE, M.HEAT_POWER, M.HEAT_ENERGY,
         M.HEAT_REJECTED_ENERGY}
    ),
    "ground_temp_borehole": frozenset({M.GROUND_TEMP}),
    "plate_exchanger": frozenset(
        {M.PRIMARY_IN_TEMP, M.PRIMARY_OUT_TEMP, M.SECONDARY_IN_TEMP, M.SECONDARY_OUT_TEMP,
         M.PRIMARY_FLOW, M.SECONDARY_FLOW, M.DIFFERENTIAL_PRESSURE, M.HEAT_POWER}
    ),
    "heat_pump": frozenset(
        {M.EVAPORATOR_IN_TEMP, M.EVAPORATOR_OUT_TEMP, M.CONDENSER_IN_TEMP, M.CONDENSER_OUT_TEMP,
         M.EVAPORATOR_FLOW, M.CONDENSER_FLOW, M.HEAT_POWER, M.LOAD, M.COP,
         M.SUPPLY_TEMP_SETPOINT, M.RUN_STATE, M.RUN_COMMAND, M.REMOTE_MODE, M.FAULT,
         M.ELECTRIC_POWER,
         M.ELECTRIC_ENERGY, M.CURRENT, M.RUN_HOURS}
    ),
    "pump": frozenset({M.FLOW, M.DIFFERENTIAL_PRESSURE, *_PUMPED}),
    "valve": frozenset({M.VALVE_POSITION, M.VALVE_POSITION_SETPOINT}),
    "filter": frozenset({M.DIFFERENTIAL_PRESSURE}),
    "water_treatment": frozenset(
        {M.RUN_STATE, M.FAULT, M.MAKEUP_FLOW, M.MAKEUP_VOLUME, M.TDS}
    ),
    "heat_meter": frozenset(
        {M.SUPPLY_TEMP, M.RETURN_TEMP, M.FLOW, M.HEAT_POWER, M.HEAT_ENERGY, M.VOLUME}
    ),
    "electricity_meter": frozenset({M.ELECTRIC_POWER, M.ELECTRIC_ENERGY, M.CURRENT}),
    "substation": frozenset(
        {M.SUPPLY_TEMP, M.RETURN_TEMP, M.SUPPLY_PRESSURE, M.RETURN_PRESSURE, M.FLOW,
         M.HEAT_POWER, M.HEAT_ENERGY, M.VALVE_POSITION, M.VALVE_POSITION_SETPOINT,
         M.INDOOR_TEMP}
    ),
    "weather": frozenset({M.OUTDOOR_TEMP, M.OUTDOOR_HUMIDITY}),
    "network": frozenset(
        {M.SUPPLY_TEMP, M.RETURN_TEMP, M.SUPPLY_PRESSURE, M.RETURN_PRESSURE, M.FLOW,
         M.HEAT_POWER, M.SUPPLY_TEMP_SETPOINT, M.REMOTE_MODE, M.HEARTBEAT}
    ),
}
