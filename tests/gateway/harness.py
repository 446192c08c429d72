"""An in-process station for gateway tests: two Modbus PLCs, one OPC UA server, a gateway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from gateway.config import with_endpoints
from gateway.runtime import Gateway, GatewaySettings
from plant.site import Site
from runtime.mqtt import BrokerSettings
from tests.gateway.fake_modbus import FakeModbus
from tests.gateway.fake_opcua import FakeOpcUa
from tests.gateway.signers import POLICY

OPC_NODES = {"RW1.water_level": 42.0, "RW1.injection_temp": 18.5,
             "HP1.supply_temp_setpoint": 45.0}


@dataclass
class Station:
    plc1: FakeModbus
    plc2: FakeModbus
    opc: FakeOpcUa
    site: Site


@contextlib.asynccontextmanager
async def station(site: Site) -> AsyncIterator[Station]:
    plc1, plc2, opc = FakeModbus(), FakeModbus(), FakeOpcUa(dict(OPC_NODES))
    for server in (plc1, plc2, opc):
        await server.start()
    plc1.set_float(plc1.inputs, 0, 61.5)
    plc1.set_float(plc1.inputs, 2, 88.0)
    plc1.inputs[6] = 450
    plc1.holding[0] = 400
    plc2.set_float(plc2.inputs, 0, 87.0)
    plc2.inputs[100:102] = [0, 1234]
    local = with_endpoints(site, {"plc1": f"127.0.0.1:{plc1.port}",
                                  "plc2": f"127.0.0.1:{plc2.port}", "opc1": opc.endpoint})
    try:
        yield Station(plc1, plc2, opc, local)
    finally:
        for server in (plc1, plc2, opc):
            await server.stop()


@contextlib.asynccontextmanager
async def running_gateway(site: Site, broker_port: int, state_dir: Path,
                          **extra: object) -> AsyncIterator[Gateway]:
    extra.setdefault("command_policy", POLICY)
    settings = GatewaySettings(broker=BrokerSettings("127.0.0.1", broker_port, keepalive_s=2),
                               state_dir=state_dir, health_period_s=1.0,
                               spool_synchronous="NORMAL", **extra)  # type: ignore[arg-type]
    gateway = Gateway(site, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))
    try:
        yield gateway
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
