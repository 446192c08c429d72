"""Assign Modbus addresses to the points of a site file that have none.

A point bound to a Modbus device with no ``address`` in its binding gets the next free address
of its device's table, in file order: after the highest address already used before it, two-
register values (``int32``, ``uint32``, ``float32``) on even addresses, never on a register an
addressed point holds. The file's own text is kept (comments, layout, order); only
``address: N`` is added to each binding that lacked one, and the result must validate.

Run: .venv/bin/python -m tools.assign_addresses SITE.yaml [--write]
(without ``--write`` the completed file goes to standard output).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from plant.site import REGISTER_WORDS, SiteFileError, parse_site

BIT_TABLES = ("coil", "discrete_input")
LAST_ADDRESS = 65535


class AddressError(ValueError):
    """A table has no room left for a point."""


@dataclass(frozen=True)
class Slot:
    """One Modbus binding: where it lives, how wide it is, and its address if it has one."""

    point: str
    device: str
    table: str
    width: int
    address: int | None


def assign(slots: Sequence[Slot]) -> dict[str, int]:
    """Addresses for the slots that have none (pure: no files, no YAML)."""
    taken: dict[tuple[str, str], set[int]] = {}
    for slot in slots:
        if slot.address is not None:
            taken.setdefault((slot.device, slot.table), set()).update(
                range(slot.address, slot.address + slot.width))
    cursor: dict[tuple[str, str], int] = {}
    given: dict[str, int] = {}
    for slot in slots:
        key = (slot.device, slot.table)
        if slot.address is not None:
            cursor[key] = max(cursor.get(key, 0), slot.address + slot.width)
            continue
        address = cursor.get(key, 0)
        used = taken.setdefault(key, set())
        while True:
            if slot.width == 2 and address % 2:
                address += 1
            if address + slot.width - 1 > LAST_ADDRESS:
                raise AddressError(f"point {slot.point!r}: no room left in {slot.table} of "
                                   f"device {slot.device!r}")
            if not used.intersection(range(address, address + slot.width)):
                break
            address += 1
        used.update(range(address, address + slot.width))
        cursor[key] = address + slot.width
        given[slot.point] = address
    return given


def _value(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                return v  # type: ignore[no-any-return]
    return None


def _scalar(node: yaml.Node, key: str, default: str = "") -> str:
    value = _value(node, key)
    return str(value.value) if isinstance(value, yaml.ScalarNode) else default


def complete(text: str, source: str = "<site>") -> str:
    """The site file's text with an address added to each Modbus binding that lacks one."""
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise SiteFileError(f"{source}: (YAML): {exc}") from None
    points = _value(root, "points") if root is not None else None
    if not isinstance(points, yaml.SequenceNode):
        raise SiteFileError(f"{source}: (top level): no points list")
    slots: list[Slot] = []
    bindings: dict[str, yaml.MappingNode] = {}
    for node in points.value:
        binding = _value(node, "binding")
        if not isinstance(binding, yaml.MappingNode) or _scalar(binding, "protocol") != "modbus":
            continue
        ident, table = _scalar(node, "id"), _scalar(binding, "table")
        kind = _scalar(binding, "type", "bool" if table in BIT_TABLES else "float32")
        address = _scalar(binding, "address")
        slots.append(Slot(ident, _scalar(binding, "device"), table,
                          1 if table in BIT_TABLES else REGISTER_WORDS.get(kind, 1),
                          int(address) if address else None))
        if not address:
            bindings[ident] = binding
    given = assign(slots)
    # insert from the end of the text backwards so earlier offsets stay valid
    edits: list[tuple[int, str]] = []
    for ident, binding in bindings.items():
        if binding.flow_style:
            end = text.rindex("}", 0, binding.end_mark.index)
            edits.append((end, f", address: {given[ident]}"))
        else:
            last = binding.value[-1][1]
            column = binding.value[0][0].start_mark.column
            edits.append((last.end_mark.index, f"\n{' ' * column}address: {given[ident]}"))
    for index, insert in sorted(edits, reverse=True):
        text = text[:index] + insert + text[index:]
    parse_site(text, source)  # the completed file must validate
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Complete one site file; print it, or write it back with --write."""
    parser = argparse.ArgumentParser(prog="python -m tools.assign_addresses",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, metavar="SITE.yaml")
    parser.add_argument("--write", action="store_true", help="write the file back in place")
    args = parser.parse_args(argv)
    try:
        text = complete(args.site.read_text(encoding="utf-8"), str(args.site))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {args.site}: cannot read: {exc}", file=sys.stderr)
        return 1
    except (SiteFileError, AddressError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.write:
        args.site.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
