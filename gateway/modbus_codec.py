"""Pure Modbus logic: block planning of point lists and decoding/encoding of register values."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from plant.site import ModbusBinding, Point

# Registers of a gap that a block read may span to merge two neighbours; gaps are read and
# ignored. Devices that refuse a gap (exception 2) get their blocks re-planned without gaps.
DEFAULT_MAX_GAP = 4

_FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}


class DecodeError(ValueError):
    """Registers that do not make a value of the point's type."""


@dataclass(frozen=True)
class Block:
    """One read request: a table, a start address, a count, and the points it covers."""

    table: str
    start: int
    count: int
    points: tuple[Point, ...]

    @property
    def has_gaps(self) -> bool:
        """True if the block reads registers no point uses."""
        return sum(binding(p).width for p in self.points) < self.count


def binding(point: Point) -> ModbusBinding:
    """Return a point's Modbus binding; raise TypeError for any other protocol."""
    if not isinstance(point.binding, ModbusBinding):
        raise TypeError(f"point {point.id} is not bound to a Modbus device")
    return point.binding


def plan_blocks(
    points: Sequence[Point], max_registers: int, max_bits: int, max_gap: int = DEFAULT_MAX_GAP
) -> list[Block]:
    """Merge points into as few block reads as possible, per table, in address order."""
    blocks: list[Block] = []
    by_table: dict[str, list[Point]] = {}
    for point in points:
        by_table.setdefault(binding(point).table, []).append(point)
    for table, members in sorted(by_table.items()):
        limit = max_bits if table in ("coil", "discrete_input") else max_registers
        members.sort(key=lambda p: binding(p).address)
        current: list[Point] = []
        start = end = 0  # end is one past the last register of the current block
        for point in members:
            b = binding(point)
            if current and b.address - end <= max_gap and b.address + b.width - start <= limit:
                current.append(point)
                end = max(end, b.address + b.width)
                continue
            if current:
                blocks.append(Block(table, start, end - start, tuple(current)))
            current, start, end = [point], b.address, b.address + b.width
        if current:
            blocks.append(Block(table, start, end - start, tuple(current)))
    return blocks


def decode(point: Point, words: Sequence[int]) -> float | int | bool:
    """Turn a point's registers (or its one bit) into its engineering value."""
    b = binding(point)
    if b.is_bit:
        return bool(words[0])
    if len(words) != b.width:
        raise DecodeError(f"{point.id}: expected {b.width} registers, got {len(words)}")
    ordered = list(words) if b.word_order == "big" else list(reversed(words))
    if b.type == "bool":
        return bool(ordered[0])
    raw_bytes = b"".join(struct.pack(">H", w & 0xFFFF) for w in ordered)
    raw: float | int = struct.unpack(_FORMATS[b.type], raw_bytes)[0]
    if isinstance(raw, float) and not math.isfinite(raw):
        raise DecodeError(f"{point.id}: registers {list(words)} are not a finite float32")
    value = raw * b.scale + b.offset
    if point.dtype == "int":
        return round(value)
    if point.dtype == "bool":
        return bool(value)
    return float(value)


def encode(point: Point, value: float | int | bool) -> list[int]:
    """Turn an engineering value into the registers (or the bit) to write; raise ValueError."""
    b = binding(point)
    if b.is_bit or b.type == "bool":
        return [1 if value else 0]
    raw = (float(value) - b.offset) / b.scale
    fmt = _FORMATS[b.type]
    if b.type != "float32":
        raw = round(raw)
        bits = 16 if b.type.endswith("16") else 32
        low, high = (0, 2**bits - 1) if b.type.startswith("u") else (-(2 ** (bits - 1)),
                                                                    2 ** (bits - 1) - 1)
        if not low <= raw <= high:
            raise ValueError(f"{point.id}: value {value} does not fit a {b.type} register")
        packed = struct.pack(fmt, int(raw))
    else:
        packed = struct.pack(fmt, raw)
    words = [int.from_bytes(packed[i:i + 2], "big") for i in range(0, len(packed), 2)]
    return words if b.word_order == "big" else list(reversed(words))
