"""Generate the station site files in sites/ and the register-map and OPC UA node docs.

The site files are the source of truth that services read; this generator builds them from a
compact description (equipment with its rated values and citations, point templates per
equipment kind, register conventions) and assigns Modbus addresses. It must reproduce the
committed files byte for byte: ``python tools/make_sites.py --check`` says whether it does.
The docs are rendered from the loaded site files, not from the description, so they describe
exactly what the services see.

Usage: ``.venv/bin/python tools/make_sites.py`` (write) or ``... --check`` (compare, exit 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from plant.measurands import COMMANDS, Measurand  # noqa: E402
from plant.models.demand import heat_index_for_season_w_per_m2  # noqa: E402
from plant.site import (  # noqa: E402
    ModbusBinding,
    ModbusDevice,
    OpcUaDevice,
    Point,
    Site,
    parse_site,
)
from plant.units import UNITS_NAMESPACE, opcua_unit_id, symbol, unece_code  # noqa: E402

SITES_DIR = ROOT / "sites"
DOCS_DIR = ROOT / "docs"
REGISTER_MAP = DOCS_DIR / "register-map.md"
OPCUA_NODES = DOCS_DIR / "opcua-nodes.md"

# Volumetric heat capacity of water near 40 °C, kWh/(m³·K): 992 kg/m³ × 4.18 kJ/(kg·K) / 3600.
WATER_KWH_PER_M3K = 1.15
# Line voltage and power factor used only to size current-transmitter spans.
LINE_VOLTAGE_V = 380.0
POWER_FACTOR = 0.85


# --------------------------------------------------------------------------- description model


@dataclass(frozen=True)
class Storage:
    """How a PLC holds a value: Modbus table, register type and scale."""

    table: str
    type: str = "float32"
    scale: float = 1.0


# measured analogues: float32 input registers, or scaled 16-bit integers as many PLCs publish them
F32 = Storage("input_register", "float32")
I16_DECI = Storage("input_register", "int16", 0.1)
I16_CENTI = Storage("input_register", "int16", 0.01)
U16_DECI = Storage("input_register", "uint16", 0.1)
U16_CENTI = Storage("input_register", "uint16", 0.01)
U32 = Storage("input_register", "uint32")
U32_DECI = Storage("input_register", "uint32", 0.1)
# commands and setpoints
HR_U16_DECI = Storage("holding_register", "uint16", 0.1)
HR_I16_DECI = Storage("holding_register", "int16", 0.1)
HR_U16 = Storage("holding_register", "uint16")
COIL = Storage("coil", "bool")
# states and faults
DI = Storage("discrete_input", "bool")

RAW_LIMITS: dict[str, tuple[int, int]] = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}


@dataclass(frozen=True)
class PointSpec:
    """One point of a piece of equipment before it is given an address."""

    measurand: Measurand
    unit: str
    range: tuple[float, float]
    storage: Storage
    deadband: float = 0.0
    poll: str = "fast"
    depth: float | None = None
    limits: dict[str, float] | None = None
    description: str = ""
    device: str | None = None


@dataclass(frozen=True)
class Equip:
    """A piece of equipment: its YAML fields, the device holding its points, and its points."""

    fields: dict[str, Any]
    device: str
    points: tuple[PointSpec, ...]
    comment: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    """A station key with its value and the citation comment printed beside it."""

    key: str
    value: Any
    comment: str = ""
    note: tuple[str, ...] = ()
    """Paragraphs printed as a comment above the key (why a block has its values)."""


@dataclass(frozen=True)
class StationSpec:
    """Everything the generator needs to write one site file."""

    file: str
    header: tuple[str, ...]
    station: tuple[Field, ...]
    poll_groups: dict[str, float]
    devices: tuple[dict[str, Any], ...]
    equipment: tuple[Equip, ...]
    device_comments: dict[str, str] = field(default_factory=dict)
    modes: tuple[Mode, ...] = ()


@dataclass(frozen=True)
class Mode:
    """An operating mode: its YAML fields and the comment printed above it."""

    fields: dict[str, Any]
    comment: tuple[str, ...] = ()


M = Measurand


# --------------------------------------------------------------------------- sizing helpers


def nice_ceil(value: float) -> float:
    """Round up to a tidy instrument span: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k."""
    if value <= 0:
        raise ValueError(f"span must be positive, got {value}")
    exponent = math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        candidate = round(float(step) * 10.0**exponent, 6)
        if candidate >= value - 1e-9:
            return candidate
    raise AssertionError("unreachable")


def deadband_for(span: float, fraction: float = 0.005, floor: float = 0.0) -> float:
    """A deadband of about ``fraction`` of the span, to one significant figure."""
    return max(float(f"{span * fraction:.1g}"), floor)


def current_span_a(electric_kw: float) -> float:
    """Current-transmitter span for a three-phase motor of this power, with 30 % headroom."""
    amps = electric_kw * 1000 / (math.sqrt(3) * LINE_VOLTAGE_V * POWER_FACTOR)
    return nice_ceil(1.3 * amps)


def flow_for(heat_kw: float, delta_t_k: float) -> float:
    """Water flow in m³/h that carries ``heat_kw`` at a temperature difference ``delta_t_k``."""
    return heat_kw / (WATER_KWH_PER_M3K * delta_t_k)


# --------------------------------------------------------------------------- point templates


def _analog(measurand: Measurand, unit: str, high: float, storage: Storage = F32, *,
            low: float = 0.0, fraction: float = 0.005, **kw: Any) -> PointSpec:
    span = high - low
    quantum = storage.scale if storage.type != "float32" else 0.0
    return PointSpec(measurand, unit, (low, high), storage,
                     deadband=kw.pop("deadband", deadband_for(span, fraction, quantum)), **kw)


def _temp(measurand: Measurand, low: float, high: float, storage: Storage = F32,
          deadband: float = 0.1, **kw: Any) -> PointSpec:
    return PointSpec(measurand, "degC", (low, high), storage, deadband=deadband, **kw)


def _state(measurand: Measurand, storage: Storage) -> PointSpec:
    return PointSpec(measurand, "bool", (0, 1), storage)


def _counter(measurand: Measurand, unit: str, high: float, storage: Storage = U32,
             **kw: Any) -> PointSpec:
    return PointSpec(measurand, unit, (0, high), storage, **kw)


def _drive(rated_kw: float, min_hz: float, max_hz: float) -> list[PointSpec]:
    """Run/fault states, VFD speed and setpoint, and the motor's electricity."""
    power_high = nice_ceil(1.2 * rated_kw)
    return [
        *_drive_states(),
        _analog(M.SPEED, "Hz", 60, U16_DECI, deadband=0.2),
        PointSpec(M.SPEED_SETPOINT, "Hz", (0, 60), HR_U16_DECI,
                  limits={"min": min_hz, "max": max_hz, "max_step": 5}),
        _analog(M.ELECTRIC_POWER, "kW", power_high),
        _counter(M.ELECTRIC_ENERGY, "kWh", 1e9),
        _analog(M.CURRENT, "A", current_span_a(rated_kw), U16_DECI),
        _counter(M.RUN_HOURS, "h", 200000, U32_DECI),
    ]


def _depth_temps(depths: Sequence[float], high: float, storage: Storage = F32, *,
                 measurand: Measurand = M.TEMP_AT_DEPTH, low: float = 0.0,
                 deadband: float = 0.1, description: str = "") -> list[PointSpec]:
    return [_temp(measurand, low, high, storage, deadband=deadband, poll="slow", depth=d,
                  description=description) for d in depths]


def production_well_points(f: dict[str, Any], depths: Sequence[float]) -> list[PointSpec]:
    """Wellhead temperature/pressure/flow, water level, quality, profile and the well pump."""
    flow_high = nice_ceil(1.5 * f["rated_flow_m3h"])
    return [
        _temp(M.WELLHEAD_TEMP, 0, 100),
        _analog(M.FLOW, "m3/h", flow_high),
        _analog(M.WELLHEAD_PRESSURE, "MPa", 1.6, deadband=0.005),
        _analog(M.WATER_LEVEL, "m", 200, deadband=0.05, description="depth below wellhead"),
        _analog(M.TDS, "mg/L", 5000, poll="slow"),
        _counter(M.VOLUME, "m3", 1e9),
        *_depth_temps(depths, 120),
        *_drive(f["pump_rated_kw"], 30, 50),
    ]


def reinjection_well_points(f: dict[str, Any], depths: Sequence[float]) -> list[PointSpec]:
    """Reinjection temperature, flow, wellhead pressure (vacuum when gravity-fed), level."""
    flow_high = nice_ceil(1.5 * f["rated_flow_m3h"])
    return [
        _temp(M.INJECTION_TEMP, 0, 80),
        _analog(M.FLOW, "m3/h", flow_high),
        _analog(M.WELLHEAD_PRESSURE, "MPa", 1.6, low=-0.1, deadband=0.005),
        _analog(M.WATER_LEVEL, "m", 200, deadband=0.05, description="depth below wellhead"),
        _counter(M.VOLUME, "m3", 1e9),
        *_depth_temps(depths, 120),
    ]


def monitoring_well_points(f: dict[str, Any]) -> list[PointSpec]:
    """The temperature profile and the water level of a monitoring well."""
    return [
        *_depth_temps(f["sensor_depths_m"], 120),
        _analog(M.WATER_LEVEL, "m", 200, deadband=0.05, poll="slow",
                description="depth below wellhead"),
    ]


def coaxial_borehole_points(f: dict[str, Any], depths: Sequence[float],
                            depth_device: str | None = None) -> list[PointSpec]:
    """Loop temperatures, flow, pressure and head loss, extracted heat and the DTS profile."""
    bottom = f["surface_ground_temp_c"] + f["geothermal_gradient_k_per_100m"] * f["depth_m"] / 100
    return [
        _temp(M.INLET_TEMP, 0, 80, description="water entering the borehole (from the unit)"),
        _temp(M.OUTLET_TEMP, 0, 80, description="water leaving the borehole (to the unit)"),
        _analog(M.FLOW, "m3/h", nice_ceil(1.5 * f["rated_flow_m3h"]), deadband=0.2),
        _analog(M.PRESSURE, "MPa", 1.6, deadband=0.005, description="supply pressure"),
        _analog(M.DIFFERENTIAL_PRESSURE, "kPa", 1000, deadband=2.0,
                description="supply-return pressure difference"),
        _analog(M.HEAT_POWER, "kW", nice_ceil(1.3 * f["rated_extraction_kw"])),
        _counter(M.HEAT_ENERGY, "GJ", 1e7, F32),
        *(replace_device(p, depth_device) for p in _depth_temps(
            depths, nice_ceil(bottom + 20), description="fibre-optic (DTS) profile")),
    ]


def borehole_field_points(f: dict[str, Any], extraction_dt: float = 5.0,
                          rejection_dt: float = 7.0) -> list[PointSpec]:
    """Loop temperatures, flow and pressure, and the winter-extraction / summer-rejection sums.

    The heat power spans 1.5 times the loop's flow at the heat pumps' rated evaporator drop
    (winter) and condenser rise (summer).
    """
    flow = f["rated_flow_m3h"]
    return [
        _temp(M.INLET_TEMP, -10, 50, description="water entering the field"),
        _temp(M.OUTLET_TEMP, -10, 50, description="water leaving the field"),
        _analog(M.FLOW, "m3/h", nice_ceil(1.5 * flow)),
        _analog(M.PRESSURE, "MPa", 1.6, deadband=0.005),
        _analog(M.HEAT_POWER, "kW", nice_ceil(1.5 * flow * extraction_dt * WATER_KWH_PER_M3K),
                low=-nice_ceil(1.5 * flow * rejection_dt * WATER_KWH_PER_M3K),
                description="positive when heat is extracted (heating), negative when rejected"),
        _counter(M.HEAT_ENERGY, "MWh", 1e7, U32_DECI, description="heat extracted (winter)"),
        _counter(M.HEAT_REJECTED_ENERGY, "MWh", 1e7, U32_DECI,
                 description="heat rejected (summer)"),
    ]


def ground_temp_points(f: dict[str, Any]) -> list[PointSpec]:
    """Ground temperatures at each sensor depth, slow scan."""
    return _depth_temps(f["sensor_depths_m"], 40, I16_CENTI, measurand=M.GROUND_TEMP, low=-20,
                        deadband=0.05)


def replace_device(point: PointSpec, device: str | None) -> PointSpec:
    """The same point bound to another device (None keeps the equipment's device)."""
    return dataclasses.replace(point, device=device) if device else point


def plate_exchanger_points(f: dict[str, Any], primary_flow: float,
                           secondary_flow: float) -> list[PointSpec]:
    """Both sides' temperatures and flows, the pressure drop and the heat duty."""
    return [
        _temp(M.PRIMARY_IN_TEMP, 0, 100),
        _temp(M.PRIMARY_OUT_TEMP, 0, 100),
        _temp(M.SECONDARY_IN_TEMP, 0, 100),
        _temp(M.SECONDARY_OUT_TEMP, 0, 100),
        _analog(M.PRIMARY_FLOW, "m3/h", nice_ceil(1.5 * primary_flow)),
        _analog(M.SECONDARY_FLOW, "m3/h", nice_ceil(1.5 * secondary_flow)),
        _analog(M.DIFFERENTIAL_PRESSURE, "kPa", 200, deadband=0.5,
                description="primary-side pressure drop"),
        _analog(M.HEAT_POWER, "kW", nice_ceil(1.3 * f["rated_heat_kw"])),
    ]


def heat_pump_points(f: dict[str, Any],
                     setpoint: tuple[float, float, float] | None = None) -> list[PointSpec]:
    """Evaporator/condenser temperatures and flows, output, load, COP, commands, electricity.

    The flow ranges are 1.5 times the design flows the unit's rated temperature differences
    give. ``setpoint`` is (min, max, max_step) of the leaving-water setpoint; by default the
    rated sink temperature -10 K … +8 K (at most 65 °C) in steps of 2 K.
    """
    evaporator_dt = f["rated_evaporator_dt_k"]
    condenser_dt = f["rated_condenser_dt_k"]
    heat = f["rated_heat_kw"]
    electric = heat / f["rated_cop"]
    sink = f["rated_sink_out_temp_c"]
    low, high, step = setpoint or (sink - 10, min(sink + 8, 65), 2)
    return [
        _temp(M.EVAPORATOR_IN_TEMP, -20, 80, I16_DECI),
        _temp(M.EVAPORATOR_OUT_TEMP, -20, 80, I16_DECI),
        _temp(M.CONDENSER_IN_TEMP, -20, 80, I16_DECI),
        _temp(M.CONDENSER_OUT_TEMP, -20, 80, I16_DECI),
        _analog(M.EVAPORATOR_FLOW, "m3/h", nice_ceil(1.5 * flow_for(heat - electric,
                                                                     evaporator_dt))),
        _analog(M.CONDENSER_FLOW, "m3/h", nice_ceil(1.5 * flow_for(heat, condenser_dt))),
        _analog(M.HEAT_POWER, "kW", nice_ceil(1.3 * heat)),
        _analog(M.LOAD, "%", 110, U16_DECI, deadband=0.5),
        _analog(M.COP, "1", 10, U16_CENTI, deadband=0.05),
        PointSpec(M.SUPPLY_TEMP_SETPOINT, "degC", (0, 70), HR_I16_DECI,
                  limits={"min": low, "max": high, "max_step": step},
                  description="leaving water temperature setpoint"),
        *_drive_states(),
        _remote_mode(),
        _analog(M.ELECTRIC_POWER, "kW", nice_ceil(1.3 * electric)),
        _counter(M.ELECTRIC_ENERGY, "kWh", 1e9),
        _analog(M.CURRENT, "A", current_span_a(electric), U16_DECI),
        _counter(M.RUN_HOURS, "h", 200000, U32_DECI),
    ]


def _drive_states() -> list[PointSpec]:
    return [_state(M.RUN_STATE, DI), _state(M.RUN_COMMAND, COIL), _state(M.FAULT, DI)]


def _remote_mode() -> PointSpec:
    return PointSpec(M.REMOTE_MODE, "bool", (0, 1), COIL,
                     description="true: a remote controller commands it; false hands it back")


def pump_points(f: dict[str, Any], with_flow: bool = True) -> list[PointSpec]:
    """Drive points of a pump, plus its flow and head when the skid measures them."""
    hydraulic: list[PointSpec] = []
    if with_flow:
        head_kpa = f["rated_head_m"] * 9.81
        hydraulic = [
            _analog(M.FLOW, "m3/h", nice_ceil(1.5 * f["rated_flow_m3h"])),
            _analog(M.DIFFERENTIAL_PRESSURE, "kPa", nice_ceil(1.5 * head_kpa), deadband=1.0),
        ]
    low, high = (f.get("min_speed_hz", 20.0), f.get("max_speed_hz", 50.0)) if f.get(
        "vfd", True) else (0.0, 50.0)
    return [*hydraulic, *_drive(f["rated_kw"], low, high)]


def valve_points(_: dict[str, Any]) -> list[PointSpec]:
    """Valve feedback and position setpoint."""
    return [
        _analog(M.VALVE_POSITION, "%", 100, U16_DECI, deadband=0.5),
        PointSpec(M.VALVE_POSITION_SETPOINT, "%", (0, 100), HR_U16_DECI,
                  limits={"min": 0, "max": 100, "max_step": 20}),
    ]


def filter_points(f: dict[str, Any]) -> list[PointSpec]:
    """Filter pressure drop; the span covers twice the backwash alarm threshold."""
    return [_analog(M.DIFFERENTIAL_PRESSURE, "kPa", nice_ceil(2 * f["alarm_dp_kpa"]),
                    I16_DECI, deadband=0.5)]


def water_treatment_points(f: dict[str, Any], makeup_flow: float | None) -> list[PointSpec]:
    """Running and fault states, and for the softener make-up flow, volume and hardness proxy."""
    points = [_state(M.RUN_STATE, DI), _state(M.FAULT, DI)]
    if makeup_flow is not None:
        points += [
            _analog(M.MAKEUP_FLOW, "m3/h", nice_ceil(1.5 * makeup_flow), deadband=0.05),
            _counter(M.MAKEUP_VOLUME, "m3", 1e7, U32_DECI),
            _analog(M.TDS, "mg/L", 2000, poll="slow", description="softened make-up water"),
        ]
    return points


def heat_meter_points(_: dict[str, Any], heat_kw: float, flow_m3h: float,
                      low: float = 0.0, high: float = 100.0) -> list[PointSpec]:
    """A heat meter's temperatures, flow, instantaneous and integrated heat, and volume."""
    return [
        _temp(M.SUPPLY_TEMP, low, high, poll="meters"),
        _temp(M.RETURN_TEMP, low, high, poll="meters"),
        _analog(M.FLOW, "m3/h", nice_ceil(1.5 * flow_m3h), poll="meters"),
        _analog(M.HEAT_POWER, "kW", nice_ceil(1.3 * heat_kw), poll="meters"),
        _counter(M.HEAT_ENERGY, "GJ", 1e7, F32, poll="meters"),
        _counter(M.VOLUME, "m3", 1e9, U32, poll="meters"),
    ]


def electricity_meter_points(_: dict[str, Any], electric_kw: float) -> list[PointSpec]:
    """An electricity meter's active power, energy and phase current."""
    return [
        _analog(M.ELECTRIC_POWER, "kW", nice_ceil(1.3 * electric_kw), poll="meters"),
        _counter(M.ELECTRIC_ENERGY, "kWh", 1e9, U32, poll="meters"),
        _analog(M.CURRENT, "A", current_span_a(electric_kw), F32, poll="meters"),
    ]


def substation_points(f: dict[str, Any], heat_index: float, delta_t: float,
                      cooling_index: float = 0.0) -> list[PointSpec]:
    """User-end temperatures, pressures, flow, heat, control valve and a typical room.

    In a station that cools, heat power goes negative down to 1.3 times the cooling load.
    """
    heat = f["heated_area_m2"] * heat_index / 1000
    cooling = f["heated_area_m2"] * cooling_index / 1000
    return [
        _temp(M.SUPPLY_TEMP, 0, 100),
        _temp(M.RETURN_TEMP, 0, 100),
        _analog(M.SUPPLY_PRESSURE, "MPa", 1.6, deadband=0.005),
        _analog(M.RETURN_PRESSURE, "MPa", 1.6, deadband=0.005),
        _analog(M.FLOW, "m3/h", nice_ceil(1.5 * flow_for(heat, delta_t))),
        _analog(M.HEAT_POWER, "kW", nice_ceil(1.3 * heat),
                low=-nice_ceil(1.3 * cooling) if cooling else 0.0),
        _counter(M.HEAT_ENERGY, "GJ", 1e7, F32),
        _analog(M.VALVE_POSITION, "%", 100, deadband=0.5),
        PointSpec(M.VALVE_POSITION_SETPOINT, "%", (0, 100), F32,
                  limits={"min": 0, "max": 100, "max_step": 20}),
        _temp(M.INDOOR_TEMP, 0, 40, description="typical room"),
    ]


def weather_points(_: dict[str, Any]) -> list[PointSpec]:
    """Outdoor dry-bulb temperature and relative humidity."""
    return [
        _temp(M.OUTDOOR_TEMP, -50, 50),
        _analog(M.OUTDOOR_HUMIDITY, "%", 100, deadband=1.0),
    ]


def network_points(_: dict[str, Any], heat_kw: float, flow_m3h: float,
                   setpoint: tuple[float, float, float],
                   cooling_kw: float = 0.0) -> list[PointSpec]:
    """The outgoing header: supply/return temperature and pressure, flow, heat, setpoint.

    In a station that cools, heat power goes negative down to 1.3 times the cooling load.
    """
    low, high, step = setpoint
    return [
        _temp(M.SUPPLY_TEMP, 0, 100),
        _temp(M.RETURN_TEMP, 0, 100),
        _analog(M.SUPPLY_PRESSURE, "MPa", 1.6, deadband=0.005),
        _analog(M.RETURN_PRESSURE, "MPa", 1.6, deadband=0.005),
        _analog(M.FLOW, "m3/h", nice_ceil(1.5 * flow_m3h)),
        _analog(M.HEAT_POWER, "kW", nice_ceil(1.3 * heat_kw),
                low=-nice_ceil(1.3 * cooling_kw) if cooling_kw else 0.0),
        PointSpec(M.SUPPLY_TEMP_SETPOINT, "degC", (0, 90), HR_I16_DECI,
                  limits={"min": low, "max": high, "max_step": step},
                  description="climate-compensated supply temperature"),
        PointSpec(M.REMOTE_MODE, "bool", (0, 1), COIL,
                  description="true: the supply setpoint is remote; false hands it back"),
        PointSpec(M.HEARTBEAT, "1", (0, 65535), HR_U16,
                  limits={"min": 0, "max": 65535},
                  description="supervisory heartbeat: the controller writes a new value"),
    ]


def equip(device: str, points: Callable[[dict[str, Any]], list[PointSpec]],
          comment: str | Sequence[str] = (), **fields: Any) -> Equip:
    """Describe one piece of equipment; ``points`` builds its point list from its fields."""
    lines = (comment,) if isinstance(comment, str) else tuple(comment)
    return Equip(fields, device, tuple(points(fields)), lines)


# --------------------------------------------------------------------------- YAML emitter

PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
WIDTH = 100
COMMENT_COLUMN = 46


def scalar(value: Any) -> str:
    """Render a scalar so that YAML's safe loader reads back exactly the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        if PLAIN.match(value) and value.lower() not in YAML_WORDS:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot render {value!r} as a YAML scalar")


def flow(value: Any) -> str:
    """Render a value in YAML flow style."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def _wrapped(first: str, groups: Sequence[Sequence[str]], indent: str) -> list[str]:
    """A flow mapping of items over several lines; each group starts a new line."""
    lines: list[str] = []
    current = first + "{"
    for number, group in enumerate(groups):
        if number:
            lines.append(current + ",")
            current = indent
        for index, item in enumerate(group):
            piece = item if index == 0 else ", " + item
            if index and len(current) + len(piece) + 1 > WIDTH:
                lines.append(current + ",")
                current = indent + (" " * len("binding: {") if number else "") + item
            else:
                current += piece
    lines.append(current + "}")
    return lines


def _items(mapping: dict[str, Any]) -> list[str]:
    return [f"{k}: {flow(v)}" for k, v in mapping.items()]


def _with_comment(text: str, comment: str) -> str:
    if not comment:
        return text
    return f"{text.ljust(COMMENT_COLUMN - 1)} # {comment}"


NUMBER_AND_UNIT = re.compile(r"(\d) (?=[A-Za-z°%])")
NO_BREAK = "\u00a0"


def _comment_lines(paragraphs: Sequence[str], indent: str) -> list[str]:
    # a number stays on the same line as its unit
    text = NUMBER_AND_UNIT.sub(r"\1" + NO_BREAK, " ".join(paragraphs))
    if not text:
        return []
    lines = textwrap.wrap(text, WIDTH, initial_indent=indent + "# ",
                          subsequent_indent=indent + "# ", break_on_hyphens=False)
    return [line.replace(NO_BREAK, " ") for line in lines]


def _block(out: list[str], fields: Sequence[Field], indent: str) -> None:
    for item in fields:
        out.extend(_comment_lines(item.note, indent))
        if isinstance(item.value, tuple) and item.value and isinstance(item.value[0], Field):
            out.append(_with_comment(f"{indent}{item.key}:", item.comment))
            _block(out, item.value, indent + "  ")
        elif isinstance(item.value, list):
            out.append(_with_comment(f"{indent}{item.key}:", item.comment))
            out.extend(f"{indent}  - {scalar(v)}" for v in item.value)
        else:
            out.append(_with_comment(f"{indent}{item.key}: {scalar(item.value)}", item.comment))


def number(value: float) -> str:
    """A depth or similar number without a trailing ``.0``."""
    return str(int(value)) if float(value).is_integer() else str(value)


def point_id(equipment_id: str, spec: PointSpec) -> str:
    """Point ids are ``<equipment>.<measurand>``, with ``.<depth>m`` for sensors at depth."""
    base = f"{equipment_id}.{spec.measurand.value}"
    return f"{base}.{number(spec.depth)}m" if spec.depth is not None else base


class AddressBook:
    """Hands out Modbus addresses per device and table, in file order.

    Input registers of one device stay contiguous within a kind of equipment and a new kind
    starts at the next multiple of 10, so each device has a few gaps as real PLC maps do;
    bits and holding registers are packed. Two-register values start on even addresses.
    """

    def __init__(self) -> None:
        self._next: dict[tuple[str, str], int] = {}
        self._kind: dict[tuple[str, str], str] = {}

    def take(self, device: str, storage: Storage, kind: str) -> int:
        """Return the address for one more value of ``kind`` on ``device``."""
        key = (device, storage.table)
        address = self._next.get(key, 0)
        if storage.table == "input_register" and self._kind.get(key, kind) != kind:
            address = -(-address // 10) * 10
        width = 2 if storage.type in ("float32", "int32", "uint32") else 1
        if width == 2 and address % 2:
            address += 1
        self._next[key] = address + width
        self._kind[key] = kind
        return address


def _point_mapping(spec: StationSpec, item: Equip, point: PointSpec,
                   book: AddressBook) -> tuple[list[str], list[str]]:
    ident = point_id(item.fields["id"], point)
    mapping: dict[str, Any] = {"id": ident, "equipment": item.fields["id"],
                               "measurand": point.measurand.value, "unit": point.unit}
    if point.unit == "bool":
        mapping["dtype"] = "bool"
    mapping["range"] = list(point.range)
    if point.depth is not None:
        mapping["depth_m"] = point.depth
    if point.deadband:
        mapping["deadband"] = point.deadband
    if point.poll != "fast":
        mapping["poll_group"] = point.poll
    if point.measurand in COMMANDS:
        mapping["writable"] = True
        if point.limits is not None:
            mapping["limits"] = point.limits
    if point.description:
        mapping["description"] = point.description
    device_id = point.device or item.device
    device = next(d for d in spec.devices if d["id"] == device_id)
    binding: dict[str, Any] = {"protocol": device["protocol"], "device": device_id}
    if device["protocol"] == "opcua":
        binding["node_id"] = f"ns=2;s={ident}"
        if point.poll == "slow":
            binding["mode"] = "poll"
    else:
        storage = point.storage
        binding["table"] = storage.table
        binding["address"] = book.take(device_id, storage, item.fields["kind"])
        if storage.type != "bool":
            binding["type"] = storage.type
        if storage.scale != 1.0:
            binding["scale"] = storage.scale
        if storage.type in ("float32", "int32", "uint32"):
            binding["word_order"] = device.get("x_word_order", "big")
    inner = _items(binding)
    inner[0] = "binding: {" + inner[0]
    inner[-1] += "}"
    return _items(mapping), inner


def render_site(spec: StationSpec) -> str:
    """Render one station's site file."""
    out = [f"# {line}".rstrip() for line in spec.header]
    out.append("station:")
    _block(out, spec.station, "  ")
    out.append(f"poll_groups: {flow(spec.poll_groups)}")
    out.append("devices:")
    for device in spec.devices:
        if device["id"] in spec.device_comments:
            out.append(f"  # {spec.device_comments[device['id']]}")
        clean = {k: v for k, v in device.items() if not k.startswith("x_")}
        out.extend(_wrapped("  - ", [_items(clean)], "     "))
    out.append("equipment:")
    for item in spec.equipment:
        out.extend(_comment_lines(item.comment, "  "))
        out.extend(_wrapped("  - ", [_items(item.fields)], "     "))
    out.append("points:")
    book = AddressBook()
    for item in spec.equipment:
        name = item.fields.get("name") or item.fields["kind"].replace("_", " ")
        out.append(f"  # {item.fields['id']}: {name}")
        for point in item.points:
            head, binding = _point_mapping(spec, item, point, book)
            out.extend(_wrapped("  - ", [head, binding], "     "))
    if spec.modes:
        out.append("modes:")
        for mode in spec.modes:
            out.extend(_comment_lines(mode.comment, "  "))
            out.extend(_wrapped("  - ", [_items(mode.fields)], "     "))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- stations


def _modbus(ident: str, name: str, port: int, unit_id: int, word_order: str = "big"
            ) -> dict[str, Any]:
    device: dict[str, Any] = {"id": ident, "protocol": "modbus", "name": name,
                              "host": "127.0.0.1", "port": port, "unit_id": unit_id}
    if word_order != "big":
        device["x_word_order"] = word_order
    return device


def _opcua(station_id: str, name: str, port: int) -> dict[str, Any]:
    return {"id": "opc", "protocol": "opcua", "name": name,
            "endpoint": f"opc.tcp://127.0.0.1:{port}/geoscada/{station_id}",
            "namespace_uri": f"urn:geoscada:station:{station_id}"}


HEADER_NOTE = "Generated by tools/make_sites.py: change the generator, then run it."


SUPERVISION = Field("supervision", (
    Field("heartbeat_timeout_s", 600.0,
          "assumed: buildings ride out ten minutes"),))
"""Every demo station watches a supervisory controller's heartbeat the same way."""
LIVE_STAGING = Field("staging", (
    Field("cycle_s", 10.0, "a staging step and a new heartbeat every 10 s"),), note=(
    "Staged live by the supervisory controller with G36's defaults (docs/staging.md), so",
    "`make demo` shows automatic staging. G36's timers run 300 s (the requirement average) to",
    "1200 s: a 10 s cycle samples the average 30 times and delays no decision by more than",
    "10 s. The 600 s heartbeat timeout is 60 cycles: a restart of the controller or the gateway",
    "does not hand the units back, a controller that stays silent hands them to the station's",
    "local logic within ten minutes, and the season simulator's supervisor, called every",
    "300 s, keeps the heartbeat too.",
))
"""The demo station the controller stages live: its cycle and why, against SUPERVISION."""


def hydrothermal_doublet() -> StationSpec:
    """Hydrothermal doublet station: plate exchangers, two-stage heat-pump cascade, reinjection."""
    sid = "hydrothermal-doublet"
    well_flow = 110.0  # 003 L552
    geo_flow = 2 * well_flow
    heat_index = 39.0  # 004 L1118-1139, Daqing existing residential
    area = 290_000.0
    load_kw = area * heat_index / 1000
    user_flow = flow_for(load_kw, 10.0)
    stage1_kw = flow_to_kw(geo_flow, 59 - 37)
    stage2_kw = flow_to_kw(geo_flow, 37 - 24)
    stage3_kw = flow_to_kw(geo_flow, 24 - 18)
    hp_electric = 2 * 2000 / 5.5 + 1200 / 4.6 + 700 / 4.6
    pumps_kw = 2 * 55 + 30 + 18.5 + 15 + 2 * 75 + 11
    return StationSpec(
        file="hydrothermal-doublet.yaml",
        header=(
            "Hydrothermal doublet station: two production wells and three reinjection wells in",
            "one karst aquifer, plate exchangers first (stage 1), then a two-stage heat-pump",
            "cascade (stage 2: two big units, stage 3: a big and a small unit), and 100 %",
            "same-layer reinjection at about 18 °C. Well, cascade and reinjection numbers from",
            "Fan County (case 1.23), staging from Luohe (1.22) and Shanghe (1.18), the cascade",
            "layout from the Heilongjiang plan's geothermal-water heat-pump cascade system",
            "(004 L1152-1237, digest §3.3.1) and the climate of Daqing (Table 4-1).",
            HEADER_NOTE,
        ),
        station=(
            Field("id", sid),
            Field("name", "Hydrothermal doublet station with a two-stage heat-pump cascade"),
            Field("kind", "hydrothermal"),
            Field("province", "Heilongjiang"),
            Field("climate", (
                Field("city", "Daqing", "004 L1079-1098, Table 4-1"),
                Field("design_outdoor_temp_c", -24.2, "004 L1079-1098"),
                Field("mean_heating_season_outdoor_temp_c", -9.4, "004 L1079-1098"),
                Field("heating_season_days", 193, "004 L1079-1098"),
                Field("heating_season_start", "10-15",
                      "not in the seeds: 193 days from 15 Oct ends 25 Apr"),
                Field("daily_swing_k", 10.0, "not in the seeds (continental climate)"),
            )),
            Field("heated_area_m2", area,
                  "to the cascade's ~11.5 MW; cf. 003 L494"),
            Field("building_type", "existing_residential"),
            Field("heat_index_w_per_m2", heat_index, "004 L1118-1139, Table 4-2, Daqing"),
            Field("indoor_design_temp_c", 18.0),
            Field("design_supply_temp_c", 45.0, "003 L554"),
            Field("design_return_temp_c", 35.0, "003 L554"),
            SUPERVISION,
            LIVE_STAGING,
            Field("sources", [
                "003 L19-21 (Shanghe 1.18: plate exchanger + heat-pump peaking, same layer)",
                "003 L30 (Shanghe: make-up, softening and reinjection equipment)",
                "003 L261, L269 (Niuzhuang: sealed gravity reinjection, gas separator)",
                "003 L273 (Niuzhuang: static level 55 m, dynamic 63 m at 90-120 m3/h)",
                "003 L449 (Luohe 1.22: exchanger first, heat pumps staged in as load rises)",
                "003 L494 (Luohe: 1 production + 2 reinjection wells per 20e4 m2 module)",
                "003 L552 (Fan 1.23: 59 °C wellhead, 110 m3/h per well)",
                "003 L554-556 (Fan: 45/35 °C, titanium exchangers, 18 °C reinjection)",
                "003 L566, L574 (Fan: 59 -> 37 -> 18.63 °C cascade)",
                "003 L570 (Fan: heat-pump COP 5.5)",
                "003 L579 (Fan: fine filter before reinjection)",
                "003 L2435-2438 (Shuxiang: coarse <=25 um, fine <=2 um filters, boosters)",
                "003 L3269 (make-up 1 % of circulation, make-up pump 4-5x)",
                "004 L1009-1017 (well-field monitoring list)",
                "004 L1043-1065 (station and user-end monitoring list)",
                "004 L1079-1098 (Table 4-1 climate), L1118-1139 (Table 4-2 heat index)",
                "004 L1152-1237 (geothermal-water heat-pump cascade system)",
                "004 L1710 (big + small unit combination)",
            ]),
        ),
        poll_groups={"fast": 1.0, "meters": 5.0, "slow": 30.0},
        devices=(
            _modbus("plc-well", "Well-field PLC", 15020, 1),
            _modbus("plc-station", "Station PLC", 15020, 2),
            _modbus("hpc", "Heat-pump group controller", 15020, 3),
            _modbus("meters", "Meter concentrator", 15020, 4, word_order="little"),
            _opcua(sid, "Station SCADA server (substations, weather, well profiles)", 14840),
        ),
        device_comments={
            "meters": "heat and electricity meters; 32-bit values in little word order",
        },
        equipment=(
            *(equip("plc-well", lambda f: production_well_points(f, (300, 1000, 1900)),
                    "59 °C at the wellhead, 110 m3/h (003 L552); static 55 m, 8 m drawdown "
                    "at ~110 m3/h (003 L273); pump sized for ~110 m head (assumed)"
                    if n == 1 else (),
                    id=ident, name=f"Production well {n}", kind="production_well",
                    aquifer="Ordovician Majiagou karst", depth_m=2000.0,
                    reservoir_temp_c=61.0, static_level_m=55.0,
                    specific_capacity_m3h_per_m=13.8, rated_flow_m3h=well_flow,
                    pump_rated_kw=55.0)
              for n, ident in ((1, "PW1"), (2, "PW2"))),
            *(equip("plc-well", lambda f: reinjection_well_points(f, (300, 1000, 1900)),
                    "same-layer reinjection, 3 wells for 2 producers (one production : two "
                    "reinjection, 003 L494); gravity-fed, no pressurisation (003 L261)"
                    if n == 1 else (),
                    id=ident, name=f"Reinjection well {n}", kind="reinjection_well",
                    aquifer="Ordovician Majiagou karst", depth_m=2000.0, static_level_m=55.0,
                    injectivity_m3h_per_m=10.0, rated_flow_m3h=well_flow, pressurised=False)
              for n, ident in ((1, "RW1"), (2, "RW2"), (3, "RW3"))),
            equip("opc", monitoring_well_points,
                  "between production and reinjection wells (004 L1009-1017, item 4)",
                  id="MW1", name="Inter-well monitoring well", kind="monitoring_well",
                  aquifer="Ordovician Majiagou karst", depth_m=2000.0,
                  sensor_depths_m=[200.0, 600.0, 1000.0, 1400.0, 1900.0]),
            equip("opc", monitoring_well_points,
                  "outward from the reinjection wells (004 L1009-1017, item 5)",
                  id="MW2", name="Reinjection-ring monitoring well", kind="monitoring_well",
                  aquifer="Ordovician Majiagou karst", depth_m=2000.0,
                  sensor_depths_m=[200.0, 600.0, 1000.0, 1400.0, 1900.0]),
            equip("plc-well", filter_points,
                  "coarse <=25 um, fine <=2 um (003 L2435-2438); fine filter before "
                  "reinjection (003 L579); ΔP thresholds are not in the seeds (assumed)",
                  id="F-C1", name="Coarse filter", kind="filter", grade="coarse",
                  mesh_um=25.0, clean_dp_kpa=20.0, alarm_dp_kpa=60.0),
            equip("plc-well", filter_points, (), id="F-F1", name="Fine filter before reinjection",
                  kind="filter", grade="fine", mesh_um=2.0, clean_dp_kpa=30.0,
                  alarm_dp_kpa=100.0),
            equip("plc-well", lambda f: water_treatment_points(f, None),
                  "pressurised gas separator in the sealed loop (003 L261, L269)",
                  id="WT-SEP", name="Gas separator", kind="water_treatment",
                  treatment="degassing"),
            equip("plc-well", pump_points,
                  "tail-water booster to the reinjection wells (003 L2435-2438)",
                  id="P-RJ1", name="Reinjection booster pump", kind="pump", role="reinjection",
                  rated_kw=30.0, rated_flow_m3h=geo_flow, rated_head_m=30.0, min_speed_hz=25.0),
            *(equip("plc-station", lambda f: plate_exchanger_points(f, well_flow, user_flow / 2),
                    f"stage 1, direct: 59 -> 37 °C (003 L566) at {number(geo_flow)} m3/h "
                    f"= {stage1_kw:.0f} kW, split over two titanium units (003 L556)"
                    if n == 1 else (),
                    id=ident, name=f"Stage-1 plate exchanger {n}", kind="plate_exchanger",
                    stage=1, rated_heat_kw=2800.0, design_approach_k=3.0)
              for n, ident in ((1, "HX1-1"), (2, "HX1-2"))),
            equip("plc-station",
                  lambda f: plate_exchanger_points(f, geo_flow, flow_for(stage2_kw, 13.0)),
                  f"stage 2: 37 -> 24 °C, {stage2_kw:.0f} kW to the stage-2 evaporators "
                  "(37 -> 18.63 °C over two stages, 003 L574)",
                  id="HX2", name="Stage-2 plate exchanger", kind="plate_exchanger", stage=2,
                  rated_heat_kw=3300.0, design_approach_k=3.0),
            equip("plc-station",
                  lambda f: plate_exchanger_points(f, geo_flow, flow_for(stage3_kw, 9.0)),
                  f"stage 3: 24 -> 18 °C (design reinjection 18 °C, 003 L556), "
                  f"{stage3_kw:.0f} kW",
                  id="HX3", name="Stage-3 plate exchanger", kind="plate_exchanger", stage=3,
                  rated_heat_kw=1500.0, design_approach_k=3.0),
            *(equip("hpc", heat_pump_points,
                    "stage 2, big units: COP 5.5 (003 L570); evaporator water 34 -> 20 °C "
                    "from HX2; 2 x 2000 kW takes HX2's duty at COP 5.5" if n == 1 else (),
                    id=ident, name=f"Stage-2 heat pump {n}", kind="heat_pump", stage=2,
                    rated_heat_kw=2000.0, rated_cop=5.5, rated_source_out_temp_c=20.0,
                    rated_sink_out_temp_c=45.0, min_load_pct=25.0,
                    rated_evaporator_dt_k=13.0, rated_condenser_dt_k=10.0)
              for n, ident in ((1, "HP2-1"), (2, "HP2-2"))),
            equip("hpc", heat_pump_points,
                  ["stage 3, big + small units (004 L1710): HX3's duty at an assumed COP 4.6",
                   "(colder source than stage 2) gives ~1.9 MW = 1200 + 700 kW"],
                  id="HP3-1", name="Stage-3 heat pump, big", kind="heat_pump", stage=3,
                  rated_heat_kw=1200.0, rated_cop=4.6, rated_source_out_temp_c=12.0,
                  rated_sink_out_temp_c=45.0, min_load_pct=25.0,
                  rated_evaporator_dt_k=9.0, rated_condenser_dt_k=10.0),
            equip("hpc", heat_pump_points, (),
                  id="HP3-2", name="Stage-3 heat pump, small", kind="heat_pump", stage=3,
                  rated_heat_kw=700.0, rated_cop=4.6, rated_source_out_temp_c=12.0,
                  rated_sink_out_temp_c=45.0, min_load_pct=30.0,
                  rated_evaporator_dt_k=9.0, rated_condenser_dt_k=10.0),
            equip("plc-station", pump_points, "stage-2 evaporator loop (HX2 secondary)",
                  id="P-E2", name="Stage-2 source circulation pump", kind="pump",
                  role="source_circulation", serves="HX2", rated_kw=18.5,
                  rated_flow_m3h=210.0, rated_head_m=20.0),
            equip("plc-station", pump_points, "stage-3 evaporator loop (HX3 secondary)",
                  id="P-E3", name="Stage-3 source circulation pump", kind="pump",
                  role="source_circulation", serves="HX3", rated_kw=15.0,
                  rated_flow_m3h=150.0, rated_head_m=20.0),
            *(equip("plc-station", pump_points,
                    f"user circulation 2 + 1: {user_flow:.0f} m3/h at 45/35 °C (003 L554)"
                    if n == 1 else (),
                    id=ident, name=f"User circulation pump {n}", kind="pump",
                    role="user_circulation", serves="NET", rated_kw=75.0,
                    rated_flow_m3h=500.0, rated_head_m=32.0)
              for n, ident in ((1, "P-U1"), (2, "P-U2"), (3, "P-U3"))),
            *(equip("plc-station", pump_points,
                    "make-up 1 + 1: normal make-up 1 % of circulation, pump 4-5x (003 L3269)"
                    if n == 1 else (),
                    id=ident, name=f"Make-up pump {n}", kind="pump", role="makeup",
                    serves="NET", rated_kw=11.0, rated_flow_m3h=45.0, rated_head_m=40.0)
              for n, ident in ((1, "P-M1"), (2, "P-M2"))),
            equip("plc-station", lambda f: water_treatment_points(f, user_flow * 0.01),
                  "softened make-up water (003 L30, L462)",
                  id="WT1", name="Softener", kind="water_treatment", treatment="softener"),
            equip("plc-station", valve_points, "stage-1 primary control valve",
                  id="V-HX1", name="Stage-1 exchanger control valve", kind="valve",
                  role="exchanger"),
            *(equip("plc-well", valve_points, (),
                    id=f"V-RW{n}", name=f"Reinjection well {n} inlet valve", kind="valve",
                    role="reinjection", serves=f"RW{n}")
              for n in (1, 2, 3)),
            equip("plc-station", valve_points, (), id="V-BYP", name="Network bypass valve",
                  kind="valve", role="bypass"),
            equip("plc-station", lambda f: network_points(f, load_kw, user_flow, (35.0, 55.0, 2.0)),
                  "outgoing header, 45/35 °C design (003 L554), climate compensation "
                  "(003 L617)",
                  id="NET", name="Network header", kind="network"),
            equip("meters", lambda f: heat_meter_points(f, flow_to_kw(geo_flow, 59 - 18),
                                                         geo_flow),
                  "geothermal side: wellhead mix in, reinjection out (004 L1009-1017, item 1)",
                  id="HM-GEO", name="Geothermal-side heat meter", kind="heat_meter",
                  location="source"),
            equip("meters", lambda f: heat_meter_points(f, load_kw, user_flow),
                  "user side: instantaneous and cumulative heat supplied (004 L1043-1054)",
                  id="HM-USR", name="User-side heat meter", kind="heat_meter", location="user",
                  serves="NET"),
            equip("meters",
                  lambda f: electricity_meter_points(f, hp_electric + pumps_kw),
                  "electricity of the whole station (004 L1014)",
                  id="EM-MAIN", name="Station incomer meter", kind="electricity_meter"),
            equip("meters", lambda f: electricity_meter_points(f, 2 * 55 + 30), (),
                  id="EM-WELL", name="Well-field feeder meter", kind="electricity_meter",
                  scope=["PW1", "PW2", "P-RJ1"]),
            equip("meters", lambda f: electricity_meter_points(f, hp_electric), (),
                  id="EM-HP", name="Heat-pump feeder meter", kind="electricity_meter",
                  scope=["HP2-1", "HP2-2", "HP3-1", "HP3-2"]),
            *(equip("opc", lambda f: substation_points(f, heat_index, 10.0),
                    "user substations with a typical-room sensor (004 L1058-1065)"
                    if n == 1 else (),
                    id=f"SS{n}", name=f"User substation {n}", kind="substation",
                    heated_area_m2=a)
              for n, a in ((1, 120_000.0), (2, 100_000.0), (3, 70_000.0))),
            equip("opc", weather_points, "outdoor conditions for climate compensation",
                  id="WX", name="Weather station", kind="weather"),
        ),
        modes=(
            Mode({"id": "direct-supply", "name": "Direct supply", "kind": "direct_supply",
                  "open": ["V-HX1"]},
                 ("in early winter the geothermal water alone heats through the stage-1",
                  "exchangers (003 L449); they come first, the heat pumps stage in as load",
                  "rises",)),
            Mode({"id": "heat-pump-supply", "name": "Heat-pump supply", "kind": "heat_pump_supply",
                  "open": ["V-HX1"], "units": ["HP2-1", "HP2-2", "HP3-1", "HP3-2"]}),
        ),
    )


def deep_borehole_school() -> StationSpec:
    """Xiji Jiangtaibao school (case 1.32): one 2500 m coaxial borehole and one heat pump."""
    sid = "deep-borehole-school"
    area = 13_215.0  # 003 L2735
    design_outdoor, season_outdoor, indoor, season_days = -13.2, -1.9, 18.0, 180  # L2755, L2757
    # The buildings are simulated at the demand the 2022-23 meters show, not at the 665 kW
    # design load (003 L2735): 182,232 kWh in four months, x1.5 for the six-month season
    # (003 L3081), at SCOP 4.66 (003 L3072) is 294.9 kW delivered on average, 35.0 W/m2 at
    # the design outdoor temperature. The design load would draw 57 % more electricity.
    season_heat_kwh = 182_232.0 * 1.5 * 4.66
    mean_delivered_kw = season_heat_kwh / (season_days * 24.0)
    heat_index = round(mean_delivered_kw * (indoor - design_outdoor) / (indoor - season_outdoor)
                       * 1000.0 / area, 1)
    # Borehole flow from the same meters: the mean extraction (delivered less the unit's COP
    # 5.21 share, 003 L3072) over the measured mean loop ΔT (33.6-20.4 and 27.7-15.9 K,
    # 003 L3057).
    loop_flow = round(flow_for(mean_delivered_kw * (1.0 - 1.0 / 5.21),
                               0.5 * ((33.6 - 20.4) + (27.7 - 15.9))), 1)
    heat_flow_w_per_m2 = 0.067  # 003 L2841
    conductivity = 2.4
    gradient = round(heat_flow_w_per_m2 / conductivity * 100, 2)
    user_flow = flow_for(805.0, 15.0)  # peak user power 805 kW (003 L3065) at 60/45 °C
    return StationSpec(
        file="deep-borehole-school.yaml",
        header=(
            "Deep coaxial borehole station of the Xiji Jiangtaibao Central Primary School,",
            "Ningxia (case 1.32, 003 L2727-3186): one 2500 m coaxial borehole heat exchanger",
            "feeding one 735 kW heat pump that supplies radiators at 60/45 °C; user pumps 1 + 1,",
            "source- and user-side pressurisation units, a softener, heat and electricity meters,",
            "and the monitoring list of 003 L2975-3049.",
            HEADER_NOTE,
        ),
        station=(
            Field("id", sid),
            Field("name", "Xiji Jiangtaibao school deep-borehole heating station"),
            Field("kind", "deep_borehole"),
            Field("province", "Ningxia"),
            Field("climate", (
                Field("city", "Xiji"),
                Field("design_outdoor_temp_c", design_outdoor, "003 L2755"),
                Field("mean_heating_season_outdoor_temp_c", season_outdoor, "003 L2755"),
                Field("heating_season_days", season_days, "003 L2757"),
                Field("heating_season_start", "10-15", "003 L2735 (15 Oct - 15 Apr)"),
                Field("daily_swing_k", 10.0, "not in the seeds (continental climate)"),
            )),
            Field("heated_area_m2", area, "003 L2735"),
            Field("building_type", "existing_public", "school, formerly coal-heated (003 L3081)"),
            Field("heat_index_w_per_m2", heat_index,
                  "metered 2022-23 demand (003 L3072, L3081); design 665 kW = 50.3 (L2735)"),
            Field("indoor_design_temp_c", indoor, "003 L2755"),
            Field("design_supply_temp_c", 60.0, "003 L2895"),
            Field("design_return_temp_c", 45.0, "003 L2895"),
            SUPERVISION,
            Field("sources", [
                "003 L2735 (13,215 m2: dorms 4700, teaching 7176, canteen 614; 665 kW; season)",
                "003 L2755, L2757 (climate: -13.2 / -1.9 °C, indoor 18 °C, 180 days, 24 h)",
                "003 L2804 (60-70 °C at 2000 m)",
                "003 L2841 (heat flow ~67 mW/m2)",
                "003 L2895-2899 (indirect system, 60/45 °C, softened fill and make-up)",
                "003 L2914, L2919 (2500 m, 200 mm, ~650 kW; effective depth 2557 m)",
                "003 L2932-2939 (735 kW / 142 kW unit, user pumps 1 + 1, pressurisation units)",
                "003 L2975-3049 (monitoring, metering and alarm list)",
                "003 L3055, L3057, L3065 (pressures, source temperatures, powers 2022-23)",
                "003 L3072 (COP 5.21, SCOP 4.66 incl. user- and source-side pumps)",
            ]),
        ),
        poll_groups={"fast": 1.0, "meters": 5.0, "slow": 30.0},
        devices=(
            _modbus("plc-source", "Heat-source PLC", 15021, 1),
            _modbus("hpc", "Geo-rock heat unit controller", 15021, 2),
            _modbus("meters", "Meter concentrator", 15021, 3, word_order="little"),
            _opcua(sid, "Station SCADA server (buildings, weather, borehole DTS)", 14841),
        ),
        device_comments={
            "meters": "heat and electricity meters; 32-bit values in little word order",
        },
        equipment=(
            equip("plc-source",
                  lambda f: coaxial_borehole_points(f, [250.0 * k for k in range(1, 11)], "opc"),
                  ["2500 m, 200 mm, stable ~650 kW (003 L2914). Heat flow ~67 mW/m2",
                   f"(003 L2841) over an assumed conductivity of {conductivity} W/(m·K) (the",
                   "rock is sandstone and shale, 003 L2853; Weihe basin sandstone 1.5-2.5, L1290)",
                   "gives",
                   f"{gradient} K/100 m: {8 + gradient * 20:.0f} °C at 2000 m,",
                   "within the 60-70 °C of 003 L2804. Surface ground 8 °C is not in the seeds",
                   "(assumed). Flow: the metered mean extraction over the measured mean",
                   f"loop ΔT of 12.5 K (003 L3057, L3072, L3081) is {loop_flow} m3/h; the",
                   "case's 548 kW mean (L3065) would need 38 m3/h but disagrees with its",
                   "meters. The depth profile is a fibre-optic logger in the annulus, read over",
                   "OPC UA (assumed)."],
                  id="BH1", name="Coaxial borehole", kind="coaxial_borehole", depth_m=2500.0,
                  surface_ground_temp_c=8.0, geothermal_gradient_k_per_100m=gradient,
                  rated_flow_m3h=loop_flow, rated_extraction_kw=650.0,
                  ground_conductivity_w_per_mk=conductivity,
                  ground_heat_capacity_mj_per_m3k=2.3, borehole_diameter_m=0.2),
            equip("hpc", heat_pump_points,
                  ["735 kW heat, 142 kW max electric (003 L2932); COP 5.21 measured (003 L3072);",
                   "source outlet 20.4 -> 15.9 °C over the season (003 L3057); 60 °C supply"],
                  id="HP1", name="Geo-rock heat unit", kind="heat_pump", stage=1,
                  rated_heat_kw=735.0, rated_cop=5.2, rated_source_out_temp_c=18.0,
                  rated_sink_out_temp_c=60.0, min_load_pct=25.0,
                  rated_evaporator_dt_k=13.0, rated_condenser_dt_k=15.0),
            equip("plc-source", pump_points,
                  ["source-side circulation (counted in SCOP, 003 L3072; not in the plant",
                   "table): the loop flow against the 0.5 MPa source-side ΔP (003 L3055),",
                   "sized here"],
                  id="P-S1", name="Source circulation pump", kind="pump",
                  role="source_circulation", serves="BH1", rated_kw=4.0, rated_flow_m3h=20.0,
                  rated_head_m=55.0),
            *(equip("plc-source", pump_points,
                    "user circulation 1 + 1: 65 m3/h, 20 m, 7.5 kW (003 L2936)"
                    if n == 1 else (),
                    id=f"P-U{n}", name=f"User circulation pump {n}", kind="pump",
                    role="user_circulation", serves="NET", rated_kw=7.5, rated_flow_m3h=65.0,
                    rated_head_m=20.0)
              for n in (1, 2)),
            equip("plc-source", lambda f: pump_points(f, with_flow=False),
                  "user-side pressurisation: 3 m3/h, 24 m, 1 kW (003 L2937)",
                  id="P-MU", name="User-side make-up pump", kind="pump", role="makeup",
                  serves="NET", rated_kw=1.0, rated_flow_m3h=3.0, rated_head_m=24.0),
            equip("plc-source", lambda f: pump_points(f, with_flow=False),
                  "source-side pressurisation: 3 m3/h, 50 m, 1 kW (003 L2938)",
                  id="P-MS", name="Source-side make-up pump", kind="pump", role="makeup",
                  serves="BH1", rated_kw=1.0, rated_flow_m3h=3.0, rated_head_m=50.0),
            equip("plc-source", lambda f: water_treatment_points(f, 1.0),
                  "softener and tank for both loops (003 L2899, L2939)",
                  id="WT1", name="Softener", kind="water_treatment", treatment="softener"),
            equip("plc-source", filter_points,
                  "strainers are not in the plant table; mesh and ΔP thresholds assumed",
                  id="F-S1", name="Source-side strainer", kind="filter", grade="coarse",
                  mesh_um=850.0, clean_dp_kpa=10.0, alarm_dp_kpa=30.0),
            equip("plc-source", filter_points, (), id="F-U1", name="User-side dirt separator",
                  kind="filter", grade="coarse", mesh_um=850.0, clean_dp_kpa=10.0,
                  alarm_dp_kpa=30.0),
            equip("plc-source", valve_points,
                  "user-side differential-pressure bypass (003 L2995)",
                  id="V-BYP", name="User bypass valve", kind="valve",
                  role="bypass"),
            equip("plc-source", lambda f: network_points(f, 805.0, user_flow, (40.0, 60.0, 2.0)),
                  "user supply 0.4 MPa, ΔP 0.25 MPa (003 L3055); 60/45 °C (003 L2895)",
                  id="NET", name="User header", kind="network"),
            equip("meters", lambda f: heat_meter_points(f, 674.0, 45.0, high=80.0),
                  "source side: up to 674 kW (003 L3065)",
                  id="HM-SRC", name="Heat-source-side heat meter", kind="heat_meter",
                  location="source", serves="BH1"),
            equip("meters", lambda f: heat_meter_points(f, 805.0, user_flow),
                  "user side: instantaneous and cumulative heat, up to 805 kW (003 L3021-3031, "
                  "L3065)",
                  id="HM-USR", name="User-side heat meter", kind="heat_meter", location="user",
                  serves="NET"),
            equip("meters", lambda f: electricity_meter_points(f, 142.0 + 11 + 7.5 + 2),
                  "station electricity (003 L3021-3031)",
                  id="EM-MAIN", name="Station incomer meter", kind="electricity_meter"),
            equip("meters", lambda f: electricity_meter_points(f, 142.0 + 11 + 7.5),
                  "SCOP boundary: unit + user-side + source-side pumps (003 L3072)",
                  id="EM-SCOP", name="Unit and circulation pumps meter", kind="electricity_meter",
                  scope=["HP1", "P-U1", "P-U2", "P-S1"]),
            *(equip("opc", lambda f: substation_points(f, heat_index, 15.0),
                    "building entries with a typical-room sensor (003 L2735, L3055: >= 18 °C)"
                    if ident == "SS-DORM" else (),
                    id=ident, name=name, kind="substation", heated_area_m2=a)
              for ident, name, a in (("SS-DORM", "Dormitories", 4700.0),
                                     ("SS-TEACH", "Teaching building", 7176.0),
                                     ("SS-CANTEEN", "Canteen", 614.0))),
            equip("opc", weather_points,
                  "outdoor dry-bulb and relative humidity (003 L3011)",
                  id="WX", name="Weather station", kind="weather"),
        ),
        modes=(
            Mode({"id": "heat-pump-supply", "name": "Heat-pump supply",
                  "kind": "heat_pump_supply", "units": ["HP1"]},
                 ("the source water heats the user water through the unit only (003 L2895): the",
                  "case names no direct supply (that of 003 L2567, L2625 is case 1.30's)",)),
        ),
    )


# Chilled water in summer (6.5 °C, 003 L114), heating water in winter (47 °C), bigger steps.
COOL_HEAT_SETPOINT = (5.0, 52.0, 5.0)


def shallow_field() -> StationSpec:
    """Jining Cultural Centre (case 1.19): shallow borehole field, heating and cooling."""
    sid = "shallow-field"
    heat_area = 267_300.0  # 003 L84
    cool_area = 224_800.0  # 003 L84
    heat_kw = 16_200.0  # 003 L84
    cool_kw = 19_800.0  # 003 L84
    season_heat_kwh = 20_922_000.0  # 003 L140: design heat of a season, internal gains off
    season_days = 121  # 003 L176: 15 Nov - 15 Mar
    design_outdoor = -7.0  # assumed
    season_outdoor = 1.5  # assumed
    indoor = 20.0  # assumed
    user_flow = flow_for(heat_kw, 7.0)  # 47/40 °C, 003 L114
    zones = (("A", 900), ("B", 900), ("C", 900))
    depths = [2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 120.0]
    hp_electric = 4 * 4500 / 4.6 + 1689 / 4.4
    return StationSpec(
        file="shallow-field.yaml",
        header=(
            "Shallow borehole-field ground-source station of the Jining Cultural Centre,",
            "Shandong (case 1.19, 003 L72-229): 2700 double-U boreholes of 120 m in three",
            "zones, four big centrifugal heat pumps and one small screw unit, two-stage",
            "variable-speed pumping on both sides, heating (47/40 °C) and cooling (6.5/13.5 °C),",
            "an auxiliary cooling tower that keeps the ground's yearly heat balance, and",
            "ground-temperature monitoring boreholes at the centre, edge and outside the field.",
            HEADER_NOTE,
        ),
        station=(
            Field("id", sid),
            Field("name", "Jining Cultural Centre ground-source energy station"),
            Field("kind", "shallow_field"),
            Field("province", "Shandong"),
            Field("climate", (
                Field("city", "Jining"),
                Field("design_outdoor_temp_c", design_outdoor,
                      "not in the seeds: southern Shandong, assumed"),
                Field("mean_heating_season_outdoor_temp_c", season_outdoor,
                      "not in the seeds: assumed"),
                Field("heating_season_days", season_days, "003 L176: 15 Nov - 15 Mar"),
                Field("heating_season_start", "11-15", "003 L176"),
                Field("daily_swing_k", 8.0, "not in the seeds"),
                Field("cooling_season_days", 107, "003 L176: 1 Jun - 15 Sep"),
                Field("design_cooling_outdoor_temp_c", 34.5,
                      "not in the seeds: assumed"),
            )),
            Field("heated_area_m2", heat_area, "003 L84"),
            Field("building_type", "new_public", "cultural centre, in service 2019 (003 L84)"),
            # the buildings' around-the-clock loss at the design outdoor temperature that uses
            # the design's season heat, 2092.2e4 kWh (003 L140), for which the field was sized
            # (L142); the 16,200 kW design load (003 L84, 60.6 W/m2) sizes the plant and
            # networks, and holds what one conductance cannot (opening hours, use, L128)
            Field("heat_index_w_per_m2",
                  round(heat_index_for_season_w_per_m2(
                      season_heat_kwh, heat_area, season_days, indoor_temp_c=indoor,
                      mean_season_temp_c=season_outdoor, design_outdoor_temp_c=design_outdoor),
                        1),
                  "2092.2e4 kWh a season (003 L140) over its degree-hours; "
                  "the 16,200 kW of L84 sizes the plant"),
            Field("cooling_index_w_per_m2", round(cool_kw * 1000 / cool_area, 1),
                  "19,800 kW / 22.48e4 m2 (003 L84)"),
            Field("indoor_design_temp_c", indoor, "public buildings; not in the seeds"),
            Field("design_supply_temp_c", 47.0, "003 L114"),
            Field("design_return_temp_c", 40.0, "003 L114"),
            SUPERVISION,
            Field("sources", [
                "003 L80 (soil: medium-coarse sand, fine sand, clay)",
                "003 L84 (cooling 22.48e4 m2 / 19,800 kW; heating 26.73e4 m2 / 16,200 kW)",
                "003 L100 (constant-temperature zone 13.5-15 °C)",
                "003 L112, L124 (auxiliary cooling tower keeps the ground heat balance)",
                "003 L114 (cooling 6.5/13.5 °C, heating 47/40 °C)",
                "003 L116-122 (four big + one small unit, two-stage VFD pumps, staging)",
                "003 L140-146 (yearly loads, 2700 x 120 m double-U, 5 m grid, 18 chambers)",
                "003 L152 (4 x 4500 kW centrifugal + 1 x 1689 kW screw, heating)",
                "003 L156 (one ground-side secondary pump per zone)",
                "003 L176 (cooling 1 Jun - 15 Sep, heating 15 Nov - 15 Mar)",
                "003 L211-213 (heating COP > 3.80, EER > 5.0)",
                "004 L1021-1037 (ground-temperature monitoring, frost and constant layers)",
            ]),
        ),
        poll_groups={"fast": 1.0, "meters": 5.0, "slow": 30.0},
        devices=(
            _modbus("plc-field", "Ground-loop PLC", 15022, 1),
            _modbus("plc-plant", "Energy-station PLC", 15022, 2),
            _modbus("hpc", "Heat-pump group controller", 15022, 3),
            _modbus("meters", "Meter concentrator", 15022, 4, word_order="little"),
            _opcua(sid, "Building management server (buildings, weather)", 14842),
        ),
        device_comments={
            "meters": "heat and electricity meters; 32-bit values in little word order",
        },
        equipment=(
            *(equip("plc-field", borehole_field_points,
                    ["2700 double-U boreholes, 120 m, 5 m x 5 m, 150 mm (003 L144) in 18 manifold",
                     "chambers (003 L146), grouped here into three zones of 900 (assumed), each",
                     "with its secondary pump (003 L156). Ground 13.5-15 °C (003 L100);",
                     "conductivity for sand and clay (003 L80), TRT value not printed (assumed)."]
                    if zone == "A" else (),
                    id=f"BF-{zone}", name=f"Borehole field zone {zone}", kind="borehole_field",
                    borehole_count=count, depth_m=120.0, spacing_m=5.0,
                    undisturbed_ground_temp_c=14.0, rated_flow_m3h=800.0,
                    ground_conductivity_w_per_mk=1.9, ground_heat_capacity_mj_per_m3k=2.2)
              for zone, count in zones),
            *(equip("plc-field", ground_temp_points,
                    ["ground-temperature boreholes at field centres and edges and outside the",
                     "field (004 L1021-1037): frost layer (2-5 m), constant layer (10-20 m) and",
                     "along the exchangers"] if (zone, position) == ("A", "centre") else (),
                    id=f"GT-{zone}{position[0].upper()}",
                    name=f"Ground-temperature borehole, zone {zone} {position}",
                    kind="ground_temp_borehole", field=f"BF-{zone}", position=position,
                    depth_m=120.0, sensor_depths_m=depths)
              for zone, position in (("A", "centre"), ("A", "edge"), ("B", "centre"),
                                     ("B", "edge"), ("C", "centre"), ("C", "edge"))),
            equip("plc-field", ground_temp_points, "undisturbed reference outside the field",
                  id="GT-OUT", name="Ground-temperature borehole, outside",
                  kind="ground_temp_borehole", field="BF-A", position="outside",
                  depth_m=120.0, sensor_depths_m=depths),
            *(equip("plc-field", pump_points,
                    "ground-side secondary pump per zone (003 L156); " + MOTOR_SIZED
                    if zone == "A" else (),
                    id=f"P-G{zone}", name=f"Ground-side secondary pump {zone}", kind="pump",
                    role="source_circulation", serves=f"BF-{zone}", rated_kw=90.0,
                    rated_flow_m3h=800.0, rated_head_m=28.0)
              for zone, _ in zones),
            *(equip("hpc", lambda f: heat_pump_points(f, setpoint=COOL_HEAT_SETPOINT),
                    ["four big centrifugal units, 4500 kW heating / 4600 kW cooling (003 L152);",
                     "unit COP is not in the seeds (system heating COP > 3.80, 003 L211): 4.6",
                     "assumed; the ground loop carries antifreeze freezing at -2 °C, 4 K below",
                     "the 2 °C the evaporators may leave at (004 L2370: 3-5 K; -2 °C assumed)"]
                    if n == 1 else (),
                    id=f"HP{n}", name=f"Centrifugal heat pump {n}", kind="heat_pump", stage=1,
                    rated_heat_kw=4500.0, rated_cop=4.6, rated_source_out_temp_c=6.0,
                    rated_sink_out_temp_c=47.0, min_load_pct=30.0,
                    rated_evaporator_dt_k=5.0, rated_condenser_dt_k=7.0,
                    compressor="centrifugal",
                    source_freezing_point_c=GROUND_LOOP_FREEZING_C)
              for n in (1, 2, 3, 4)),
            equip("hpc", lambda f: heat_pump_points(f, setpoint=COOL_HEAT_SETPOINT),
                  "one small screw unit, 1689 kW heating / 1614 kW cooling (003 L152, L116)",
                  id="HP5", name="Screw heat pump", kind="heat_pump", stage=1,
                  rated_heat_kw=1689.0, rated_cop=4.4, rated_source_out_temp_c=6.0,
                  rated_sink_out_temp_c=47.0, min_load_pct=15.0,
                  rated_evaporator_dt_k=5.0, rated_condenser_dt_k=7.0,
                  source_freezing_point_c=GROUND_LOOP_FREEZING_C),
            *(equip("plc-plant", lambda f: pump_points(f, with_flow=False),
                    "source-side primary pumps, one per unit, variable speed (003 L120); "
                    + MOTOR_SIZED
                    if n == 1 else (),
                    id=f"P-SP{n}", name=f"Source primary pump {n}", kind="pump",
                    role="source_circulation", serves=f"HP{n}",
                    rated_kw=37.0 if n < 5 else 15.0,
                    rated_flow_m3h=650.0 if n < 5 else 250.0, rated_head_m=15.0)
              for n in (1, 2, 3, 4, 5)),
            *(equip("plc-plant", lambda f: pump_points(f, with_flow=False),
                    "user-side primary pumps, one per unit, variable speed (003 L120); "
                    + MOTOR_SIZED
                    if n == 1 else (),
                    id=f"P-UP{n}", name=f"User primary pump {n}", kind="pump",
                    role="user_circulation", serves=f"HP{n}",
                    rated_kw=37.0 if n < 5 else 15.0,
                    rated_flow_m3h=600.0 if n < 5 else 230.0, rated_head_m=15.0)
              for n in (1, 2, 3, 4, 5)),
            *(equip("plc-plant", pump_points,
                    f"user-side secondary pumps 2 + 1, {user_flow:.0f} m3/h at 47/40 °C "
                    "(003 L114, L120)" if n == 1 else (),
                    id=f"P-US{n}", name=f"User secondary pump {n}", kind="pump",
                    role="user_circulation", serves="NET", rated_kw=110.0,
                    rated_flow_m3h=1000.0, rated_head_m=32.0)
              for n in (1, 2, 3)),
            *(equip("plc-plant", lambda f: pump_points(f, with_flow=False),
                    "make-up 1 + 1, pump 4-5x the 1 % normal make-up (003 L3269)"
                    if n == 1 else (),
                    id=f"P-M{n}", name=f"Make-up pump {n}", kind="pump", role="makeup",
                    serves="NET", rated_kw=15.0, rated_flow_m3h=90.0, rated_head_m=40.0)
              for n in (1, 2)),
            equip("plc-plant", lambda f: water_treatment_points(f, user_flow * 0.01),
                  "softened make-up water",
                  id="WT1", name="Softener", kind="water_treatment", treatment="softener"),
            equip("plc-plant", filter_points, "strainer mesh and ΔP thresholds assumed",
                  id="F-G1", name="Ground-side strainer", kind="filter", grade="coarse",
                  mesh_um=850.0, clean_dp_kpa=15.0, alarm_dp_kpa=50.0),
            equip("plc-plant", filter_points, (), id="F-U1", name="User-side strainer",
                  kind="filter", grade="coarse", mesh_um=850.0, clean_dp_kpa=15.0,
                  alarm_dp_kpa=50.0),
            equip("plc-plant", valve_points,
                  "ground loop / cooling tower changeover by evaporator leaving water (003 L124)",
                  id="V-CT", name="Cooling-tower changeover valve", kind="valve",
                  role="cooling_tower_changeover"),
            equip("plc-plant", valve_points, (), id="V-BYP", name="User bypass valve",
                  kind="valve", role="bypass"),
            equip("plc-plant", lambda f: network_points(f, heat_kw, user_flow, COOL_HEAT_SETPOINT,
                                                cool_kw * heat_area / cool_area),
                  "distribution header: 47/40 °C heating, 6.5/13.5 °C cooling (003 L114)",
                  id="NET", name="Distribution header", kind="network"),
            equip("meters", lambda f: heat_meter_points(f, 0.8 * heat_kw, 3 * 800.0,
                                                         low=-10.0, high=50.0),
                  "ground side, all zones: winter extraction and summer rejection "
                  "(003 L112, L140)",
                  id="HM-GND", name="Ground-side heat meter", kind="heat_meter",
                  location="source"),
            equip("meters", lambda f: heat_meter_points(f, heat_kw, user_flow),
                  "user side: heat supplied (004 L1043-1054)",
                  id="HM-USR", name="User-side heat meter", kind="heat_meter", location="user",
                  serves="NET"),
            equip("meters", lambda f: electricity_meter_points(f, hp_electric + 900.0),
                  "station electricity; pumps are ~20 % of it (003 L172)",
                  id="EM-MAIN", name="Station incomer meter", kind="electricity_meter"),
            equip("meters", lambda f: electricity_meter_points(f, hp_electric), (),
                  id="EM-HP", name="Heat-pump feeder meter", kind="electricity_meter",
                  scope=["HP1", "HP2", "HP3", "HP4", "HP5"]),
            *(equip("opc", lambda f: substation_points(f, heat_kw * 1000 / heat_area, 7.0,
                                                     cool_kw * 1000 / cool_area),
                    "building zones with a typical-room sensor (004 L1058-1065)"
                    if n == 1 else (),
                    id=f"SS{n}", name=f"Building zone {n}", kind="substation",
                    heated_area_m2=a)
              for n, a in ((1, 100_000.0), (2, 90_000.0), (3, 77_300.0))),
            equip("opc", weather_points, "outdoor conditions for load forecasting (003 L132)",
                  id="WX", name="Weather station", kind="weather"),
        ),
        modes=(
            Mode({"id": "heat-pump-supply", "name": "Heat-pump supply",
                  "kind": "heat_pump_supply", "open": ["V-CT"],
                  "units": ["HP1", "HP2", "HP3", "HP4", "HP5"]},
                 ("heating 47/40 °C and cooling 6.5/13.5 °C from the same units and the borehole",
                  "fields, the cooling tower kept off the loop (003 L112-114)",)),
            Mode({"id": "cooling", "name": "Cooling", "kind": "cooling", "open": ["V-CT"],
                  "units": ["HP1", "HP2", "HP3", "HP4", "HP5"]}),
        ),
    )


def flow_to_kw(flow_m3h: float, delta_t_k: float) -> float:
    """Heat carried by ``flow_m3h`` of water cooled by ``delta_t_k``."""
    return flow_m3h * delta_t_k * WATER_KWH_PER_M3K


STATIONS: tuple[Callable[[], StationSpec], ...] = (
    hydrothermal_doublet, deep_borehole_school, shallow_field,
)


# --------------------------------------------------------------------------- docs

GROUND_LOOP_FREEZING_C = -2.0
"""Freezing point of the shallow field's ground-loop antifreeze (assumed)."""

MOTOR_SIZED = "motor kW assumed, sized for the duty point"

TABLE_ORDER = ("coil", "discrete_input", "input_register", "holding_register")


def _range(point: Point) -> str:
    low, high = point.range
    return f"{number(low)} … {number(high)}"


def _limits(point: Point) -> str:
    if not point.writable:
        return "read"
    if point.limits is None:
        return "write"
    text = f"write {number(point.limits.min)} … {number(point.limits.max)}"
    if point.limits.max_step is not None:
        text += f", step ≤ {number(point.limits.max_step)}"
    return text


def render_register_map(sites: Sequence[Site]) -> str:
    """The Modbus register table of every station and device, as Markdown."""
    out = [
        "# Modbus register map",
        "",
        "Generated from `sites/*.yaml` by `tools/make_sites.py`; a test keeps it in sync.",
        "Engineering value = raw × scale (+ offset, 0 throughout). Addresses are 0-based",
        "protocol addresses, per table. 32-bit values take two registers; word order `big`",
        "puts the high word first, `little` the low word first (bytes within a word are always",
        "big-endian). Bits (coils, discrete inputs) are single bits. Devices of one station",
        "share one Modbus TCP server (host:port) and are told apart by unit id.",
    ]
    for site in sites:
        station = site.station
        out += ["", f"## {station.name} (`{station.id}`)", ""]
        for device in site.devices:
            if not isinstance(device, ModbusDevice):
                continue
            points = [p for p in site.points_on(device.id) if isinstance(p.binding,
                                                                        ModbusBinding)]
            out += [f"### {device.name or device.id} (`{device.id}`): "
                    f"{device.host}:{device.port}, unit {device.unit_id}", ""]
            counts = ", ".join(
                f"{sum(1 for p in points if _binding(p).table == t)} in {t.replace('_', ' ')}s"
                for t in TABLE_ORDER)
            out += [f"{len(points)} points: {counts}.", ""]
            out.append("| table | address | type | scale | words | point | unit | range | "
                       "access |")
            out.append("|---|---:|---|---:|---|---|---|---|---|")
            ordered = sorted(points, key=lambda p: (TABLE_ORDER.index(_binding(p).table),
                                                    _binding(p).address))
            for point in ordered:
                b = _binding(point)
                words = b.word_order if b.width == 2 else ""
                out.append(f"| {b.table} | {b.address} | {b.type} | {number(b.scale)} | "
                           f"{words} | `{point.id}` | {symbol(point.unit) or point.unit} | "
                           f"{_range(point)} | {_limits(point)} |")
            out.append("")
        if out[-1] == "":
            out.pop()
    return "\n".join(out) + "\n"


def _binding(point: Point) -> ModbusBinding:
    if not isinstance(point.binding, ModbusBinding):
        raise TypeError(f"point {point.id} is not bound to Modbus")
    return point.binding


def browse_name(point: Point) -> str:
    """A point variable's BrowseName: the measurand, or ``measurand@depth`` at a depth."""
    if point.depth_m is not None:
        return f"{point.measurand.value}@{number(point.depth_m)}"
    return point.measurand.value


def render_opcua_nodes(sites: Sequence[Site]) -> str:
    """The OPC UA address space each station's server presents, as Markdown."""
    out = [
        "# OPC UA node layout",
        "",
        "Generated from `sites/*.yaml` by `tools/make_sites.py`; a test keeps it in sync.",
        "Each station's OPC UA server (the device with `protocol: opcua` in its site file)",
        "serves the points bound to it, laid out as follows.",
        "",
        "- Endpoint: the device's `endpoint`, security policy None unless the device says",
        "  otherwise. The device's `namespace_uri` is the first namespace the server registers,",
        "  so its index is 2 and every node below lives in `ns=2`.",
        "- `Objects` → station object: BrowseName `<station id>`, NodeId `ns=2;s=<station id>`.",
        "- station → one object per piece of equipment that has points on this server:",
        "  BrowseName `<equipment id>`, NodeId `ns=2;s=<equipment id>`, Description = its name.",
        "- equipment → one variable per point: BrowseName `<measurand>` or `<measurand>@<depth>`",
        "  (depth in metres), NodeId `ns=2;s=<point id>`, the NodeId the site file binds.",
        "  - analogue points are `AnalogItemType` variables of DataType `Double` with the",
        "    properties `EngineeringUnits` (EUInformation: NamespaceUri",
        f"    `{UNITS_NAMESPACE}`, UnitId packed from the UNECE code as",
        "    `sum(ord(c) << 8*(len-1-i))`, DisplayName the symbol) and `EURange` (Range low/high",
        "    = the point's range);",
        "  - state points (run state, fault, run command) are `Boolean` variables without units;",
        "  - AccessLevel is CurrentRead, plus CurrentWrite for writable points. A write outside",
        "    the point's limits is refused with `Bad_OutOfRange`.",
        "- Status codes carry quality: a value the simulator cannot produce is `Bad_...`, never",
        "  a made-up number. Source timestamps are UTC.",
    ]
    for site in sites:
        opc = [d for d in site.devices if isinstance(d, OpcUaDevice)]
        for device in opc:
            points = site.points_on(device.id)
            out += ["", f"## {site.station.name} (`{site.station.id}`)", "",
                    f"Endpoint `{device.endpoint}`, namespace `{device.namespace_uri}` "
                    f"(ns=2), {len(points)} variables.", ""]
            out.append(f"- Objects / `{site.station.id}` (`ns=2;s={site.station.id}`)")
            equipment_ids = list(dict.fromkeys(p.equipment for p in points))
            for equipment_id in equipment_ids:
                item = site.equipment_by_id(equipment_id)
                out.append(f"  - `{equipment_id}` (`ns=2;s={equipment_id}`, {item.kind}"
                           f"{', ' + item.name if item.name else ''})")
            out += ["", "| equipment | BrowseName | NodeId | DataType | UNECE code | UnitId | "
                    "display | EURange | access | mode |",
                    "|---|---|---|---|---|---:|---|---|---|---|"]
            for point in points:
                node_id = point.binding.node_id if not isinstance(point.binding,
                                                                  ModbusBinding) else ""
                mode = point.binding.mode if not isinstance(point.binding, ModbusBinding) else ""
                if point.dtype == "bool":
                    units = "| Boolean | | | | |"
                else:
                    code = unece_code(point.unit)
                    units = (f"| Double | {code} | {opcua_unit_id(code)} | {symbol(point.unit)} | "
                             f"{_range(point)} |")
                out.append(f"| {point.equipment} | {browse_name(point)} | `{node_id}` "
                           f"{units} {_limits(point)} | {mode} |")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- command line


def outputs() -> dict[Path, str]:
    """Every file the generator owns, with the text it must hold."""
    files = {SITES_DIR / spec.file: render_site(spec) for spec in (s() for s in STATIONS)}
    sites = [parse_site(text, str(path.relative_to(ROOT))) for path, text in files.items()]
    files[REGISTER_MAP] = render_register_map(sites)
    files[OPCUA_NODES] = render_opcua_nodes(sites)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """Write the site files and docs, or with --check report which differ from the generator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare instead of writing; exit 1 if any file differs")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if args.check and stale:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
