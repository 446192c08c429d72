"""Modbus TCP and RTU driver: one connection and one request in flight per device."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from gateway.driver import DeviceError, DeviceState, PartialReadError, WriteError
from gateway.modbus_codec import Block, DecodeError, binding, decode, encode, plan_blocks
from gateway.quality import Reading
from plant.contract import Quality, Reason
from plant.site import ModbusDevice, Point

log = logging.getLogger(__name__)

# Consecutive timed-out requests after which the connection is treated as dead but open and
# closed, so the next connect starts a fresh TCP session.
DEAD_AFTER_TIMEOUTS = 2

# The function code each request must be answered with (exception answers add 0x80).
_FUNCTION_CODES = {
    "read_coils": 1, "read_discrete_inputs": 2, "read_holding_registers": 3,
    "read_input_registers": 4, "write_coil": 5, "write_register": 6, "write_registers": 16,
}

_READS = {
    "coil": "read_coils",
    "discrete_input": "read_discrete_inputs",
    "input_register": "read_input_registers",
    "holding_register": "read_holding_registers",
}


class MismatchError(DeviceError):
    """An answer that is not the answer to the request sent (function code or unit)."""

    def __init__(self, detail: str) -> None:
        super().__init__(Reason.DECODE_ERROR, detail)


def _heard(frames: Sequence[bytes]) -> str:
    """Describe raw Modbus TCP answers by their header: transaction, unit, function code."""
    parts = []
    for frame in frames[:3]:
        if len(frame) >= 8:
            parts.append(f"transaction {int.from_bytes(frame[0:2], 'big')}, unit {frame[6]}, "
                         f"function {frame[7]}")
    return "; ".join(parts) or "an unreadable frame"


class ModbusDriver:
    """Reads block-merged registers and writes single points on one Modbus device."""

    def __init__(self, device: ModbusDevice, points: Sequence[Point], max_gap: int = 4) -> None:
        self.device = device
        self.errors = 0
        self._max_gap = max_gap
        self._lock = asyncio.Lock()
        self._client: Any = None
        self._state = DeviceState.DISCONNECTED
        self._plans: dict[tuple[str, ...], list[Block]] = {}
        self._timeouts = 0
        self._sent_transaction = 0
        self._frames: list[bytes] = []
        """Raw frames received since the last request was sent (pymodbus drops the ones whose
        unit or transaction does not match; they explain a timeout)."""
        for point in points:
            binding(point)

    @property
    def state(self) -> DeviceState:
        """The connection's state."""
        return self._state

    def _new_client(self) -> Any:
        # reconnect_delay=0: pymodbus must not reconnect on its own; the poller's policy does.
        common: dict[str, Any] = {
            "timeout": self.device.timeout_s, "retries": 0, "reconnect_delay": 0,
            "name": self.device.id, "trace_packet": self._trace,
        }
        if self.device.transport == "rtu":
            return AsyncModbusSerialClient(self.device.serial_port,
                                           baudrate=self.device.baudrate, **common)
        return AsyncModbusTcpClient(self.device.host, port=self.device.port, **common)

    async def connect(self) -> None:
        """Open the connection; raise DeviceError if the device cannot be reached."""
        await self.close()
        self._client = self._new_client()
        where = self.device.serial_port or f"{self.device.host}:{self.device.port}"
        try:
            ok = await asyncio.wait_for(self._client.connect(), self.device.timeout_s * 2)
        except (TimeoutError, OSError, ModbusException) as exc:
            ok = False
            detail = f"{where}: {exc or type(exc).__name__}"
        else:
            detail = f"{where}: connection refused or closed"
        if not ok:
            self.errors += 1
            await self.close()
            raise DeviceError(Reason.COMM_LOST, detail)
        self._state = DeviceState.CONNECTED
        self._timeouts = 0

    def _trace(self, sending: bool, packet: bytes) -> bytes:
        """Note the transaction id sent and the frames heard back (pymodbus's packet hook)."""
        if self.device.transport == "rtu":
            return packet
        if sending:
            self._sent_transaction = int.from_bytes(packet[0:2], "big")
            self._frames.clear()
        elif len(self._frames) < 8:
            self._frames.append(bytes(packet[:8]))
        return packet

    def _mismatch(self, method: str, response: Any) -> str | None:
        """Say how an answer does not match its request, or None if it does."""
        expected = _FUNCTION_CODES[method]
        code = getattr(response, "function_code", expected) & 0x7F
        if code != expected:
            return f"answer has function code {code}, request was {expected}"
        unit = getattr(response, "dev_id", self.device.unit_id)
        if unit != self.device.unit_id:
            return f"answer is from unit {unit}, request was to unit {self.device.unit_id}"
        if self.device.transport != "rtu":
            transaction = getattr(response, "transaction_id", self._sent_transaction)
            if transaction != self._sent_transaction:
                return (f"answer has transaction {transaction}, request was "
                        f"{self._sent_transaction}")
        return None

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        client, self._client = self._client, None
        if self._state is not DeviceState.CLOSED:
            self._state = DeviceState.DISCONNECTED
        if client is not None:
            client.close()

    def _plan(self, points: Sequence[Point]) -> list[Block]:
        key = tuple(p.id for p in points)
        plan = self._plans.get(key)
        if plan is None:
            plan = plan_blocks(points, self.device.max_block_registers,
                               self.device.max_block_bits, self._max_gap)
            self._plans[key] = plan
        return plan

    async def _request(self, method: str, *args: Any, timeout_s: float | None = None,
                       **kwargs: Any) -> Any:
        """Send one request and wait for its answer; DeviceError on timeout, a lost link or an
        answer to another request."""
        wait = self.device.timeout_s * 1.5 if timeout_s is None else timeout_s
        try:
            async with self._lock:
                # checked under the lock: a request queued behind one that timed out finds
                # the connection already closed
                client = self._client
                if client is None or self._state is not DeviceState.CONNECTED:
                    raise DeviceError(Reason.NOT_CONNECTED, "not connected")
                if wait <= 0:
                    raise TimeoutError("no time left in this scan")
                response = await asyncio.wait_for(
                    getattr(client, method)(*args, device_id=self.device.unit_id, **kwargs),
                    wait,
                )
        except (TimeoutError, ModbusException, OSError) as exc:
            self.errors += 1
            self._timeouts += 1
            lost = not getattr(self._client, "connected", False)
            heard = list(self._frames)
            if lost or self._timeouts >= DEAD_AFTER_TIMEOUTS:
                await self.close()
            what = f"{method} {args[0]}"
            if heard and not lost:
                # the device did answer, but not this request: a garbled or foreign stream
                raise DeviceError(Reason.DECODE_ERROR, f"{what}: no matching answer; heard "
                                  f"{_heard(heard)}") from None
            reason = Reason.COMM_LOST if lost else Reason.TIMEOUT
            raise DeviceError(reason, f"{what}: {exc or type(exc).__name__}") from None
        problem = self._mismatch(method, response)
        if problem is not None:
            self.errors += 1
            if "transaction" in problem:
                # answers no longer line up with requests: start a fresh connection
                await self.close()
                raise DeviceError(Reason.DECODE_ERROR, f"{method} {args[0]}: {problem}")
            raise MismatchError(f"{method} {args[0]}: {problem}")
        self._timeouts = 0
        return response

    async def read(self, points: Sequence[Point], timeout_s: float | None = None
                   ) -> list[Reading]:
        """Read points block by block; a failed block marks its points bad, never others'."""
        readings: list[Reading] = []
        plan = self._plan(points)
        work = list(plan)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while work:
            block = work.pop(0)
            wait = None if deadline is None else min(self.device.timeout_s * 1.5,
                                                     deadline - time.monotonic())
            try:
                response = await self._request(_READS[block.table], block.start,
                                               count=block.count, timeout_s=wait)
            except MismatchError as exc:
                now = time.time()
                readings += [Reading(p.id, now, None, Quality.BAD, exc.reason, exc.detail)
                             for p in block.points]
                continue
            except DeviceError as exc:
                now = time.time()
                for rest in [block, *work]:
                    readings += [Reading(p.id, now, None, Quality.BAD, exc.reason, exc.detail)
                                 for p in rest.points]
                raise PartialReadError(readings, exc) from None
            now = time.time()
            if response.isError():
                code = getattr(response, "exception_code", 0)
                if code == 2 and block.has_gaps:
                    # the device refuses to read across unused registers: split the block
                    # for good, and read its pieces now
                    split = plan_blocks(block.points, self.device.max_block_registers,
                                        self.device.max_block_bits, 0)
                    plan[plan.index(block):plan.index(block) + 1] = split
                    work[0:0] = split
                    continue
                self.errors += 1
                readings += [
                    Reading(p.id, now, None, Quality.BAD, Reason.EXCEPTION_CODE,
                            f"modbus exception {code}")
                    for p in block.points
                ]
                continue
            words = response.bits if block.table in ("coil", "discrete_input") else \
                response.registers
            for point in block.points:
                b = binding(point)
                offset = b.address - block.start
                try:
                    value = decode(point, words[offset:offset + b.width])
                except (DecodeError, IndexError) as exc:
                    readings.append(Reading(point.id, now, None, Quality.BAD,
                                            Reason.DECODE_ERROR, str(exc)[:200]))
                    continue
                readings.append(Reading(point.id, now, value))
        return readings

    async def write(self, point: Point, value: float | int | bool) -> None:
        """Write one point (coil or holding registers); raise WriteError or DeviceError."""
        b = binding(point)
        try:
            words = encode(point, value)
        except ValueError as exc:
            raise WriteError(str(exc)) from None
        if b.table == "coil":
            response = await self._request("write_coil", b.address, bool(words[0]))
        elif b.table == "holding_register":
            if len(words) == 1:
                response = await self._request("write_register", b.address, words[0])
            else:
                response = await self._request("write_registers", b.address, words)
        else:
            raise WriteError(f"{point.id}: a {b.table} cannot be written")
        if response.isError():
            self.errors += 1
            code = getattr(response, "exception_code", 0)
            raise WriteError(f"{point.id}: modbus exception {code}")

