"""Modbus TCP servers (pymodbus) answering for the simulated devices, one per listening port.

Devices sharing a port are told apart by unit id. A request to a unit id that no device uses,
or to a device that has fallen silent, gets no answer at all (the client times out), as from
a dead PLC behind a gateway. Reading a register that holds no point, or writing a point only
partly, gives ILLEGAL DATA ADDRESS; writing a point that is not writable gives ILLEGAL DATA
ADDRESS; a value outside the point's limits gives ILLEGAL DATA VALUE.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from simulator.registers import FUNCTION_TABLES, DecodeError, DeviceMap, decode, encode
from simulator.sim import StationSim, WriteRefusedError

log = logging.getLogger(__name__)


@dataclass
class UnitBinding:
    """One unit id on a port: the station simulation and the device map it answers with."""

    sim: StationSim
    device: DeviceMap


class SimulatorContext(ModbusServerContext):
    """pymodbus datastore reading and writing the simulated points of several units."""

    def __init__(self, units: dict[int, UnitBinding]) -> None:
        # the base class builds pymodbus' own simulated devices; this context replaces them
        self.units = units
        self.old_simulator = True
        self.simdevices = []

    def _unit(self, device_id: int) -> UnitBinding:
        unit = self.units.get(device_id)
        if unit is None or unit.device.device_id in unit.sim.silent:
            raise NoSuchIdException(f"unit {device_id} does not answer")
        return unit

    async def async_getValues(  # noqa: N802 (pymodbus' name)
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        """Registers or bits ``address`` … ``address + count − 1`` of a unit."""
        unit = self._unit(device_id)
        table_name = FUNCTION_TABLES.get(func_code)
        if table_name is None:
            return ExcCodes.ILLEGAL_FUNCTION
        table = unit.device.tables[table_name]
        readings = unit.sim.readings()
        words: list[int] = []
        encoded: dict[int, list[int]] = {}
        for register in range(address, address + count):
            slot = table.get(register)
            if slot is None:
                return ExcCodes.ILLEGAL_ADDRESS
            packed = encoded.get(slot.point_index)
            if packed is None:
                packed = encode(unit.device.bindings[slot.point_index],
                                readings[slot.point_index])
                encoded[slot.point_index] = packed
            words.append(packed[slot.word])
        if table_name in ("coil", "discrete_input"):
            return [bool(word) for word in words]
        return words

    async def async_setValues(  # noqa: N802 (pymodbus' name)
        self, device_id: int, func_code: int, address: int,
        values: Sequence[int] | Sequence[bool],
    ) -> ExcCodes | None:
        """Write whole points; refuse partial, read-only or out-of-limit writes."""
        unit = self._unit(device_id)
        table_name = FUNCTION_TABLES.get(func_code)
        if table_name not in ("coil", "holding_register"):
            return ExcCodes.ILLEGAL_FUNCTION
        table = unit.device.tables[table_name]
        words: dict[int, dict[int, int]] = {}
        for offset, raw in enumerate(values):
            slot = table.get(address + offset)
            if slot is None:
                return ExcCodes.ILLEGAL_ADDRESS
            words.setdefault(slot.point_index, {})[slot.word] = int(raw)
        sim = unit.sim
        writes: list[tuple[str, object]] = []
        for index, given in words.items():
            binding = unit.device.bindings[index]
            point = sim.table.points[index]
            if len(given) != binding.width or not point.writable:
                return ExcCodes.ILLEGAL_ADDRESS
            try:
                value = decode(binding, [given[w] for w in range(binding.width)])
                sim.check_write(point.id, value)
            except DecodeError:
                return ExcCodes.ILLEGAL_VALUE
            except WriteRefusedError as refused:
                if refused.reason in ("not_writable", "unknown_point"):
                    return ExcCodes.ILLEGAL_ADDRESS
                return ExcCodes.ILLEGAL_VALUE
            writes.append((point.id, value))
        for point_id, written in writes:
            sim.write(point_id, written)
            log.info("%s: Modbus write %s = %s", sim.station_id, point_id, written)
        return None

    def device_ids(self) -> list[int]:
        """Unit ids served on this port."""
        return list(self.units)


class ModbusPort:
    """One listening Modbus TCP server and the units it answers for."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.units: dict[int, UnitBinding] = {}
        self.server: ModbusTcpServer | None = None
        self.bound_port = port

    def add(self, unit_id: int, binding: UnitBinding) -> None:
        """Answer for one more device under ``unit_id``."""
        if unit_id in self.units:
            other = self.units[unit_id]
            raise ValueError(
                f"port {self.port}: unit id {unit_id} of device {binding.device.device_id!r} "
                f"({binding.sim.station_id}) is already used by device "
                f"{other.device.device_id!r} ({other.sim.station_id})")
        self.units[unit_id] = binding

    async def start(self) -> None:
        """Bind and start serving in the background."""
        context = SimulatorContext(self.units)
        self.server = ModbusTcpServer(context, address=(self.host, self.port),
                                      ignore_missing_devices=True)
        await self.server.serve_forever(background=True)
        transport = self.server.transport
        sockets = getattr(transport, "sockets", None)
        if sockets:
            self.bound_port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None
