"""Shared helpers for the simulator tests: a running host, Debian's mbpoll, site files."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plant.site import ModbusBinding, Site, load_site
from simulator.runtime import SimulatorHost

ROOT = Path(__file__).resolve().parents[2]
SITES = ROOT / "sites"
DOUBLET = SITES / "hydrothermal-doublet.yaml"
SCHOOL = SITES / "deep-borehole-school.yaml"
FIELD = SITES / "shallow-field.yaml"
MIDWINTER = datetime(2026, 1, 15, tzinfo=UTC)


def site(path: Path) -> Site:
    """Load one of the project's site files."""
    return load_site(path)


def run_with_host(sites: Sequence[Site], check: Callable[[SimulatorHost], Awaitable[Any]],
                  **options: Any) -> Any:
    """Start a host on free loopback ports, run ``check`` against it, stop it."""
    async def main() -> Any:
        host = SimulatorHost(sites, modbus_port=0, opcua_port=0, start=MIDWINTER,
                             warm_up_s=options.pop("warm_up_s", 3600.0), **options)
        await host.start()
        try:
            return await check(host)
        finally:
            await host.stop()
    return asyncio.run(main())


async def mbpoll(*args: str, timeout_s: float = 20.0) -> tuple[int, str]:
    """Run Debian's mbpoll once; return its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        "mbpoll", "-m", "tcp", "-0", "-1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    return process.returncode or 0, out.decode(errors="replace")


VALUE_LINE = re.compile(r"^\[(\d+)\]:\s+(\S+)", re.MULTILINE)


def mbpoll_values(output: str) -> dict[int, float]:
    """Parse mbpoll's ``[address]: value`` lines."""
    return {int(a): float(v) for a, v in VALUE_LINE.findall(output)}


def mbpoll_read_args(binding: ModbusBinding, port: int, unit_id: int) -> list[str]:
    """mbpoll arguments that read one point as its binding describes."""
    table = {"coil": "0", "discrete_input": "1", "input_register": "3",
             "holding_register": "4"}[binding.table]
    kind = table
    extra: list[str] = []
    if binding.type == "float32":
        kind += ":float"
    elif binding.type in ("int32", "uint32"):
        kind += ":int"
    if binding.width == 2 and binding.word_order == "big":
        extra.append("-B")
    return ["-a", str(unit_id), "-r", str(binding.address), "-t", kind, *extra,
            "-p", str(port), "127.0.0.1"]
