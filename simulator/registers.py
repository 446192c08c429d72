"""Modbus encoding of point values: engineering value ↔ raw registers or bits.

raw = (value − offset) / scale, then packed by type: 16-bit types in one register, 32-bit
types in two (``word_order`` big = high word first), float32 as IEEE 754. A value outside what
the type can hold saturates at the type's limit. A dead sensor (value None) is sent as the raw
value a PLC uses for "no valid reading": NaN for float32, and the most negative (signed) or
largest (unsigned) raw value for integers. Bits cannot signal a dead sensor and read 0.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from plant.site import ModbusBinding, Point

Value = float | bool

INT_LIMITS: dict[str, tuple[int, int]] = {
    "int16": (-0x8000, 0x7FFF),
    "uint16": (0, 0xFFFF),
    "int32": (-0x80000000, 0x7FFFFFFF),
    "uint32": (0, 0xFFFFFFFF),
    "bool": (0, 1),
}
DEAD_RAW: dict[str, int] = {
    "int16": -0x8000,
    "uint16": 0xFFFF,
    "int32": -0x80000000,
    "uint32": 0xFFFFFFFF,
    "bool": 0xFFFF,
}
FUNCTION_TABLES: dict[int, str] = {
    1: "coil", 5: "coil", 15: "coil",
    2: "discrete_input",
    3: "holding_register", 6: "holding_register", 16: "holding_register",
    22: "holding_register", 23: "holding_register",
    4: "input_register",
}


class DecodeError(ValueError):
    """Registers that do not hold a usable value (NaN, wrong count)."""


def _split(raw32: int, word_order: str) -> list[int]:
    high, low = (raw32 >> 16) & 0xFFFF, raw32 & 0xFFFF
    return [high, low] if word_order == "big" else [low, high]


def _join(words: list[int], word_order: str) -> int:
    high, low = (words[0], words[1]) if word_order == "big" else (words[1], words[0])
    return ((high & 0xFFFF) << 16) | (low & 0xFFFF)


def encode(binding: ModbusBinding, value: Value | None) -> list[int]:
    """Registers (or one bit as 0/1) carrying ``value`` as this binding describes."""
    if binding.is_bit:
        return [1 if value else 0]
    kind = binding.type
    if kind == "float32":
        raw_float = math.nan if value is None else (float(value) - binding.offset) / binding.scale
        (raw32,) = struct.unpack(">I", struct.pack(">f", raw_float))
        return _split(raw32, binding.word_order)
    if value is None:
        raw = DEAD_RAW[kind]
    else:
        low, high = INT_LIMITS[kind]
        scaled = (float(value) - binding.offset) / binding.scale
        raw = int(min(max(round(scaled), low), high)) if math.isfinite(scaled) else high
    if binding.width == 1:
        return [raw & 0xFFFF]
    return _split(raw & 0xFFFFFFFF, binding.word_order)


def decode(binding: ModbusBinding, words: list[int]) -> Value:
    """Engineering value written into registers (or a bit) for this binding."""
    if binding.is_bit:
        return bool(words[0])
    if len(words) != binding.width:
        raise DecodeError(f"{binding.type} needs {binding.width} registers, got {len(words)}")
    kind = binding.type
    if kind == "float32":
        packed = struct.pack(">I", _join(words, binding.word_order))
        raw_float: float = struct.unpack(">f", packed)[0]
        if not math.isfinite(raw_float):
            raise DecodeError("not a finite number")
        return raw_float * binding.scale + binding.offset
    if binding.width == 1:
        raw = words[0] & 0xFFFF
        if kind == "int16" and raw >= 0x8000:
            raw -= 0x10000
    else:
        raw = _join(words, binding.word_order)
        if kind == "int32" and raw >= 0x80000000:
            raw -= 0x100000000
    if kind == "bool":
        return bool(raw)
    return raw * binding.scale + binding.offset


@dataclass(frozen=True)
class Slot:
    """One register (or bit) of a point: which point, and which of its words."""

    point_index: int
    word: int


@dataclass
class DeviceMap:
    """Where every point of one Modbus device lives, table by table."""

    device_id: str
    tables: dict[str, dict[int, Slot]]
    bindings: dict[int, ModbusBinding]

    @classmethod
    def build(cls, device_id: str, points: tuple[Point, ...]) -> DeviceMap:
        """Index the points bound to ``device_id``."""
        tables: dict[str, dict[int, Slot]] = {
            "coil": {}, "discrete_input": {}, "holding_register": {}, "input_register": {}}
        bindings: dict[int, ModbusBinding] = {}
        for index, point in enumerate(points):
            binding = point.binding
            if not isinstance(binding, ModbusBinding) or binding.device != device_id:
                continue
            bindings[index] = binding
            for word in range(binding.width):
                tables[binding.table][binding.address + word] = Slot(index, word)
        return cls(device_id, tables, bindings)
