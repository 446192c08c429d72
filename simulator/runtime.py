"""Run simulated stations in real (or scaled) time behind real Modbus TCP and OPC UA servers.

:class:`SimulatorHost` owns the clock: every tick it advances each station by the whole
number of fixed steps that simulated time (wall time × ``speed``) has moved on, then publishes
the OPC UA values. Port rule: by default each Modbus device is served on its site file's port
(devices sharing a port share one server and are told apart by unit id) and each OPC UA device
on its endpoint's port; ``modbus_port=P`` serves all Modbus devices of station *i* on *P + i*,
``opcua_port=P`` its OPC UA server on *P + i*; port 0 picks a free port for each station.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from plant.site import ModbusDevice, OpcUaDevice, Site
from simulator.faults import FaultSpec
from simulator.modbus_server import ModbusPort, UnitBinding
from simulator.opcua_server import StationOpcUaServer
from simulator.registers import DeviceMap
from simulator.sim import FaultChange, FaultTargetError, StationSim
from simulator.station import Value

log = logging.getLogger(__name__)

STEPS_PER_BATCH = 20
"""Steps every station takes between checks of how long the clock has held the loop."""
MAX_SLICE_S = 0.05
"""Longest the clock computes before letting the servers answer (when catching up)."""
MIN_PUBLISH_INTERVAL_S = 0.25
"""OPC UA values are published at most this often (wall time), however fast the clock."""


class SimulatorHost:
    """Several simulated stations, their servers and the clock that drives them."""

    def __init__(self, sites: Sequence[Site], *, speed: float = 1.0, seed: int = 0,
                 host: str = "127.0.0.1", modbus_port: int | None = None,
                 opcua_port: int | None = None, faults: Sequence[FaultSpec] = (),
                 step_s: float = 1.0, start: datetime | None = None,
                 warm_up_s: float = 12 * 3600.0, certificate_dir: Path | None = None) -> None:
        if not speed > 0 or not math.isfinite(speed):
            raise ValueError(f"speed {speed} must be a positive number")
        if not step_s > 0:
            raise ValueError(f"step {step_s} s must be positive")
        ids = [site.station.id for site in sites]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"station ids must be unique; repeated: {', '.join(duplicates)}")
        # without a start time the simulated clock follows the wall clock from this moment,
        # so the time spent warming up and binding is caught up once the clock starts
        self._begin_wall = time.monotonic() if start is None else None
        begin = (start or datetime.now(UTC)).replace(microsecond=0)
        if begin.tzinfo is None:
            begin = begin.replace(tzinfo=UTC)
        self.speed = speed
        self.step_s = step_s
        self.host = host
        self.start_time = begin
        self.sims: dict[str, StationSim] = {
            site.station.id: StationSim(site, seed=seed, start=begin, warm_up_s=warm_up_s)
            for site in sites}
        self.certificate_dir = certificate_dir
        self._plan_servers(sites, modbus_port, opcua_port)
        for spec in faults:
            owners = [sim for sim in self.sims.values() if _owns(sim, spec.target)]
            if not owners:
                raise FaultTargetError(f"fault {spec.kind}: no station has {spec.target!r}")
            for sim in owners:
                sim.inject(spec, from_start=True)
        self._clock: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._steps_done = 0
        self._wall_start = 0.0

    def _plan_servers(self, sites: Sequence[Site], modbus_port: int | None,
                      opcua_port: int | None) -> None:
        self.modbus_ports: dict[tuple[int, int], ModbusPort] = {}
        self.modbus_devices: dict[str, dict[str, ModbusPort]] = {}
        self.opcua_servers: dict[str, list[StationOpcUaServer]] = {}
        self.opcua_devices: dict[str, dict[str, StationOpcUaServer]] = {}
        for index, site in enumerate(sites):
            sim = self.sims[site.station.id]
            station_devices: dict[str, ModbusPort] = {}
            for device in site.devices:
                if not isinstance(device, ModbusDevice) or device.transport != "tcp":
                    continue
                if modbus_port is None:
                    port, key = device.port, (device.port, -1)
                elif modbus_port == 0:
                    port, key = 0, (0, index)
                else:
                    port, key = modbus_port + index, (modbus_port + index, -1)
                server = self.modbus_ports.setdefault(key, ModbusPort(self.host, port))
                device_map = DeviceMap.build(device.id, site.points)
                server.add(device.unit_id, UnitBinding(sim, device_map))
                station_devices[device.id] = server
            self.modbus_devices[site.station.id] = station_devices
            groups: dict[int, list[OpcUaDevice]] = {}
            for device in site.devices:
                if isinstance(device, OpcUaDevice):
                    port = urlsplit(device.endpoint).port or 4840
                    if opcua_port is not None:
                        port = 0 if opcua_port == 0 else opcua_port + index
                    groups.setdefault(port, []).append(device)
            servers = [StationOpcUaServer(sim, devices, self.host, port,
                                          self.certificate_dir)
                       for port, devices in groups.items()]
            self.opcua_servers[site.station.id] = servers
            self.opcua_devices[site.station.id] = {
                d.id: server for server in servers for d in server.devices}
            sim.on_device_change = self._device_changed_callback(site.station.id)

    def _device_changed_callback(self, station_id: str) -> Callable[[FaultChange], None]:
        def changed(change: FaultChange) -> None:
            server = self.opcua_devices[station_id].get(change.device)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not serving yet: start() builds the servers as they are
                return
            if server is None:
                return
            task = loop.create_task(server.device_change())
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return changed

    async def start(self) -> None:
        """Bind every server and start the clock."""
        for port in self.modbus_ports.values():
            await port.start()
        for servers in self.opcua_servers.values():
            for server in servers:
                await server.start()
        for station_id in self.sims:
            log.info("station %s ready: %s", station_id, self.endpoints()[station_id])
        self._wall_start = self._begin_wall if self._begin_wall is not None else time.monotonic()
        self._steps_done = 0
        self._clock = asyncio.get_running_loop().create_task(self._run_clock())

    async def stop(self) -> None:
        """Stop the clock and every server."""
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        for task in list(self._pending):
            await task
        for port in self.modbus_ports.values():
            await port.stop()
        for servers in self.opcua_servers.values():
            for server in servers:
                await server.stop()

    async def _run_clock(self) -> None:
        tick = min(1.0, max(0.02, self.step_s / self.speed))
        last_push = -math.inf
        while True:
            due = int((time.monotonic() - self._wall_start) * self.speed / self.step_s)
            slice_start = time.monotonic()
            while self._steps_done < due:
                batch = min(due - self._steps_done, STEPS_PER_BATCH)
                for sim in self.sims.values():
                    for _ in range(batch):
                        sim.advance(self.step_s)
                self._steps_done += batch
                if time.monotonic() - slice_start > MAX_SLICE_S:
                    # far behind (high speed): let the servers answer, then carry on
                    await asyncio.sleep(0)
                    slice_start = time.monotonic()
            if time.monotonic() - last_push >= MIN_PUBLISH_INTERVAL_S:
                last_push = time.monotonic()
                for servers in self.opcua_servers.values():
                    for server in servers:
                        try:
                            await server.push()
                        except Exception:  # a client's misbehaviour must not stop the clock
                            log.exception("OPC UA publish failed")
            next_due = (self._steps_done + 1) * self.step_s / self.speed
            delay = self._wall_start + next_due - time.monotonic()
            await asyncio.sleep(min(max(delay, 0.0), tick))

    # ------------------------------------------------------------------ control

    def endpoints(self) -> dict[str, dict[str, str]]:
        """Station id → device id → ``host:port`` (Modbus) or ``opc.tcp://…`` (OPC UA)."""
        result: dict[str, dict[str, str]] = {}
        for station_id in self.sims:
            devices: dict[str, str] = {}
            for device_id, port in self.modbus_devices[station_id].items():
                devices[device_id] = f"{self.host}:{port.bound_port}"
            for device_id, server in self.opcua_devices[station_id].items():
                devices[device_id] = server.endpoint
            result[station_id] = devices
        return result

    def sim(self, station_id: str) -> StationSim:
        """The simulation of one station; KeyError names the unknown station."""
        try:
            return self.sims[station_id]
        except KeyError:
            raise KeyError(f"no station {station_id!r}") from None

    def inject(self, station_id: str, fault: FaultSpec) -> str:
        """Inject a fault into a station ``fault.at_s`` after now; return its id."""
        return self.sim(station_id).inject(fault)

    def clear(self, station_id: str, fault_id: str | None = None) -> None:
        """End one fault, or all faults of a station."""
        sim = self.sim(station_id)
        try:
            sim.clear(fault_id)
        except KeyError:
            raise KeyError(f"station {station_id} has no fault {fault_id!r}") from None

    def value(self, station_id: str, point_id: str) -> Value | None:
        """What the plant would show now for one point (None: dead sensor)."""
        sim = self.sim(station_id)
        if point_id not in sim.table.index:
            raise KeyError(f"station {station_id} has no point {point_id!r}")
        return sim.value(point_id)

    async def restart_opcua(self, station_id: str) -> None:
        """Stop and start the station's OPC UA server(s) on the same port."""
        self.sim(station_id)
        for server in self.opcua_servers[station_id]:
            await server.restart()


def _owns(sim: StationSim, target: str) -> bool:
    site = sim.site
    return (target in sim.table.index or any(d.id == target for d in site.devices)
            or any(e.id == target for e in site.equipment))
