"""Engineering units and the physical quantity each measurand is expressed in."""

from __future__ import annotations

from enum import StrEnum


class Quantity(StrEnum):
    """A physical quantity; every unit belongs to exactly one."""

    TEMPERATURE = "temperature"
    TEMPERATURE_DIFFERENCE = "temperature_difference"
    VOLUME_FLOW = "volume_flow"
    PRESSURE = "pressure"
    LEVEL = "level"
    POWER = "power"
    ENERGY = "energy"
    VOLUME = "volume"
    RATIO = "ratio"
    FREQUENCY = "frequency"
    CURRENT = "current"
    DURATION = "duration"
    CONCENTRATION = "concentration"
    STATE = "state"
    DIMENSIONLESS = "dimensionless"
    COUNT = "count"


# unit -> (quantity, UNECE Rec. 20 common code used for OPC UA EUInformation, display symbol)
UNITS: dict[str, tuple[Quantity, str, str]] = {
    "degC": (Quantity.TEMPERATURE, "CEL", "°C"),
    "K": (Quantity.TEMPERATURE_DIFFERENCE, "KEL", "K"),
    "m3/h": (Quantity.VOLUME_FLOW, "MQH", "m³/h"),
    "t/h": (Quantity.VOLUME_FLOW, "E18", "t/h"),
    "MPa": (Quantity.PRESSURE, "MPA", "MPa"),
    "kPa": (Quantity.PRESSURE, "KPA", "kPa"),
    "bar": (Quantity.PRESSURE, "BAR", "bar"),
    "m": (Quantity.LEVEL, "MTR", "m"),
    "kW": (Quantity.POWER, "KWT", "kW"),
    "MW": (Quantity.POWER, "MAW", "MW"),
    "kWh": (Quantity.ENERGY, "KWH", "kWh"),
    "MWh": (Quantity.ENERGY, "MWH", "MWh"),
    "GJ": (Quantity.ENERGY, "GV", "GJ"),
    "m3": (Quantity.VOLUME, "MTQ", "m³"),
    "t": (Quantity.VOLUME, "TNE", "t"),
    "%": (Quantity.RATIO, "P1", "%"),
    "Hz": (Quantity.FREQUENCY, "HTZ", "Hz"),
    "A": (Quantity.CURRENT, "AMP", "A"),
    "h": (Quantity.DURATION, "HUR", "h"),
    "s": (Quantity.DURATION, "SEC", "s"),
    "mg/L": (Quantity.CONCENTRATION, "M1", "mg/L"),
    "bool": (Quantity.STATE, "", ""),
    "1": (Quantity.DIMENSIONLESS, "C62", ""),
    "count": (Quantity.COUNT, "C62", ""),
}

# Factors to the first-listed unit of each quantity, for services that normalise values.
TO_BASE: dict[str, float] = {
    "MPa": 1.0,
    "kPa": 1e-3,
    "bar": 0.1,
    "kW": 1.0,
    "MW": 1e3,
    "kWh": 1.0,
    "MWh": 1e3,
    "GJ": 1e9 / 3.6e6,
    "m3/h": 1.0,
    "t/h": 1.0,
    "m3": 1.0,
    "t": 1.0,
}


def units_of(quantity: Quantity) -> list[str]:
    """Return the units accepted for a quantity, in a stable order."""
    return [unit for unit, (q, _, _) in UNITS.items() if q is quantity]


def quantity_of(unit: str) -> Quantity:
    """Return the quantity a unit measures; raise KeyError for an unknown unit."""
    return UNITS[unit][0]


def unece_code(unit: str) -> str:
    """Return the UNECE common code of a unit (empty for states)."""
    return UNITS[unit][1]


def opcua_unit_id(code: str) -> int:
    """OPC UA EUInformation.UnitId of a UNECE common code: its characters packed into bytes."""
    value = 0
    for char in code:
        value = (value << 8) | ord(char)
    return value


UNITS_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"
"""The namespace URI of UNECE-coded EngineeringUnits (OPC 10000-8 §5.6.3)."""


def symbol(unit: str) -> str:
    """Return the display symbol of a unit."""
    return UNITS[unit][2]
