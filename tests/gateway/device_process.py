"""A Modbus slave and an OPC UA server in a process of their own, to freeze with SIGSTOP.

Run as ``python -m tests.gateway.device_process``: prints one JSON line with the Modbus port and
the OPC UA endpoint, then serves until killed.
"""

from __future__ import annotations

import asyncio
import json
import sys

from tests.gateway.fake_modbus import FakeModbus
from tests.gateway.fake_opcua import FakeOpcUa
from tests.gateway.harness import OPC_NODES


async def serve() -> None:
    plc, opc = FakeModbus(), FakeOpcUa(dict(OPC_NODES))
    await plc.start()
    await opc.start()
    plc.set_float(plc.inputs, 0, 61.5)
    plc.set_float(plc.inputs, 2, 88.0)
    sys.stdout.write(json.dumps({"modbus": plc.port, "opcua": opc.endpoint}) + "\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve())
