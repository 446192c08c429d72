"""A small Modbus TCP slave for driver tests: plain tables, and faults on demand."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field


@dataclass
class FakeModbus:
    """Serves coils, discrete inputs, input and holding registers of one unit on loopback."""

    unit_id: int = 1
    size: int = 1000
    silent: bool = False
    """Accept and read requests but never answer (a device that hangs)."""
    refuse_from: int | None = None
    """Answer exception 2 (illegal address) for reads touching this address or above."""
    refuse_gaps: bool = False
    """Answer exception 2 for reads that include registers outside ``mapped``."""
    answer_function: int | None = None
    """Answer reads with this function code instead of the request's (a confused device)."""
    answer_unit: int | None = None
    """Answer from this unit id instead of the request's."""
    answer_transaction: int | None = None
    """Answer with this transaction id instead of the request's."""
    mapped: set[int] = field(default_factory=lambda: {0, 1, 2, 3, 6, 10, 11, 100, 101})
    coils: list[int] = field(default_factory=list)
    discrete: list[int] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    holding: list[int] = field(default_factory=list)
    requests: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for table in (self.coils, self.discrete, self.inputs, self.holding):
            table.extend([0] * (self.size - len(table)))

    def set_float(self, table: list[int], address: int, value: float) -> None:
        """Store a big-endian float32 in two registers."""
        high, low = struct.unpack(">HH", struct.pack(">f", value))
        table[address:address + 2] = [high, low]

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        # handlers end once their connection is closed; cancelling them instead makes asyncio
        # log a spurious error for a client_connected_cb task
        await asyncio.wait_for(asyncio.gather(*self._handlers, return_exceptions=True), 5)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                self.requests += 1
                if self.silent:
                    continue
                answer = self._answer(pdu)
                if self.answer_function is not None and answer[0] in (1, 2, 3, 4):
                    answer = bytes([self.answer_function]) + answer[1:]
                tid = tid if self.answer_transaction is None else self.answer_transaction
                unit = unit if self.answer_unit is None else self.answer_unit
                writer.write(struct.pack(">HHHB", tid, 0, len(answer) + 1, unit) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _answer(self, pdu: bytes) -> bytes:
        fc = pdu[0]
        tables = {1: self.coils, 2: self.discrete, 3: self.holding, 4: self.inputs}
        if fc in tables:
            address, count = struct.unpack(">HH", pdu[1:5])
            unmapped = fc in (3, 4) and self.refuse_gaps and any(
                a not in self.mapped for a in range(address, address + count))
            if unmapped or address + count > self.size or (
                self.refuse_from is not None and address + count > self.refuse_from
            ):
                return bytes([fc | 0x80, 2])
            values = tables[fc][address:address + count]
            if fc in (1, 2):
                packed = bytearray((count + 7) // 8)
                for i, bit in enumerate(values):
                    if bit:
                        packed[i // 8] |= 1 << (i % 8)
                return bytes([fc, len(packed)]) + bytes(packed)
            return bytes([fc, 2 * count]) + b"".join(struct.pack(">H", v) for v in values)
        if fc == 5:
            address, value = struct.unpack(">HH", pdu[1:5])
            self.coils[address] = 1 if value == 0xFF00 else 0
            return pdu[:5]
        if fc == 6:
            address, value = struct.unpack(">HH", pdu[1:5])
            self.holding[address] = value
            return pdu[:5]
        if fc == 16:
            address, count = struct.unpack(">HH", pdu[1:5])
            words = struct.unpack(f">{count}H", pdu[6:6 + 2 * count])
            self.holding[address:address + count] = list(words)
            return pdu[:5]
        return bytes([fc | 0x80, 1])
