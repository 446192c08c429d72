"""How many stations one simulator process runs in real time, and what a station costs.

Two measurements:

1. the model alone: CPU time per simulated second for each site file (one step of 1 s plus
   reading every point, as the servers do), to see how the cost grows with points;
2. the whole simulator: N stations (the three site files in turn, renamed) in one
   SimulatorHost at speed 1 with their Modbus TCP and OPC UA servers listening, while a
   separate poller process reads every Modbus register of every station once a second. The
   simulator process's CPU time over a fixed window gives the share of one core it needs.

Run: .venv/bin/python bench/bench_simulator.py [--stations 1,5,10,20,40] [--window 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plant.site import ModbusBinding, ModbusDevice, Site, load_site  # noqa: E402
from simulator.runtime import SimulatorHost  # noqa: E402
from simulator.sim import StationSim  # noqa: E402

SITE_FILES = ["hydrothermal-doublet.yaml", "deep-borehole-school.yaml", "shallow-field.yaml"]
START = datetime(2026, 1, 15, tzinfo=UTC)


def renamed(site: Site, suffix: str) -> Site:
    station = site.station.model_copy(update={"id": f"{site.station.id}-{suffix}"})
    return site.model_copy(update={"station": station})


def model_cost(seconds: int = 600) -> list[tuple[str, int, int, float, float]]:
    """(station, equipment, points, ms per 1 s step, ms to read every point) per site file."""
    rows = []
    for name in SITE_FILES:
        site = load_site(ROOT / "sites" / name)
        sim = StationSim(site, seed=1, start=START, warm_up_s=600.0)
        stepping = reading = 0.0
        for _ in range(seconds):
            began = time.process_time()
            sim.advance(1.0)
            middle = time.process_time()
            sim.readings()
            reading += time.process_time() - middle
            stepping += middle - began
        rows.append((site.station.id, len(site.equipment), len(site.points),
                     1000.0 * stepping / seconds, 1000.0 * reading / seconds))
    return rows


def poll_blocks(host: SimulatorHost) -> list[list[object]]:
    """(port, unit, function, start, count) blocks covering every Modbus point."""
    blocks: list[list[object]] = []
    endpoints = host.endpoints()
    functions = {"coil": 1, "discrete_input": 2, "holding_register": 3, "input_register": 4}
    for station_id, sim in host.sims.items():
        for device in sim.site.devices:
            if not isinstance(device, ModbusDevice):
                continue
            port = int(endpoints[station_id][device.id].rsplit(":", 1)[1])
            spans: dict[str, list[tuple[int, int]]] = {}
            for point in sim.site.points_on(device.id):
                binding = point.binding
                assert isinstance(binding, ModbusBinding)
                spans.setdefault(binding.table, []).append(
                    (binding.address, binding.address + binding.width - 1))
            for table, ranges in spans.items():
                ranges.sort()
                start, end = ranges[0]
                for low, high in ranges[1:]:
                    if low == end + 1 and high - start < 100:
                        end = high
                        continue
                    blocks.append([port, device.unit_id, functions[table], start, end - start + 1])
                    start, end = low, high
                blocks.append([port, device.unit_id, functions[table], start, end - start + 1])
    return blocks


async def poller(spec_path: str) -> None:
    """Read every block once a second until killed (runs in its own process)."""
    from pymodbus.client import AsyncModbusTcpClient

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    blocks = json.loads(Path(spec_path).read_text())
    clients: dict[int, AsyncModbusTcpClient] = {}
    for port in {b[0] for b in blocks}:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2)
        await client.connect()
        clients[port] = client
    readers = {1: "read_coils", 2: "read_discrete_inputs", 3: "read_holding_registers",
               4: "read_input_registers"}
    while True:
        began = time.monotonic()
        for port, unit, function, start, count in blocks:
            read = getattr(clients[port], readers[function])
            await read(start, count=count, device_id=unit)
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))


async def host_cost(count: int, window_s: float) -> tuple[float, float, int, int]:
    sources = [load_site(ROOT / "sites" / name) for name in SITE_FILES]
    sites = [renamed(sources[i % len(sources)], str(i)) for i in range(count)]
    host = SimulatorHost(sites, modbus_port=0, opcua_port=0, start=START, warm_up_s=600.0)
    await host.start()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
        blocks = poll_blocks(host)
        json.dump(blocks, spec)
    poll = subprocess.Popen([sys.executable, __file__, "--poll", spec.name])
    try:
        await asyncio.sleep(3.0)  # let the poller connect and the clock settle
        cpu_before, wall_before = time.process_time(), time.monotonic()
        steps_before = host._steps_done
        await asyncio.sleep(window_s)
        cpu = time.process_time() - cpu_before
        wall = time.monotonic() - wall_before
        steps = host._steps_done - steps_before
    finally:
        poll.terminate()
        poll.wait()
        os.unlink(spec.name)
        await host.stop()
    points = sum(len(site.points) for site in sites)
    return cpu / wall, steps / wall, points, len(blocks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", default="1,5,10,20,40")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--poll", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.poll:
        asyncio.run(poller(args.poll))
        return
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    print(f"load average before: {os.getloadavg()}")
    print("model alone, CPU per simulated second (one 1 s step, then reading every point):")
    for station, equipment, points, step_ms, read_ms in model_cost():
        print(f"  {station:24s} {equipment:3d} equipment {points:4d} points: step "
              f"{step_ms:6.3f} ms, readings {read_ms:6.3f} ms ({1000 * read_ms / points:5.2f} "
              f"µs per point)")
    if args.stations == "0":
        return
    print("simulator process, speed 1, Modbus + OPC UA servers, all registers polled at 1 Hz:")
    for count in (int(n) for n in args.stations.split(",")):
        share, rate, points, blocks = asyncio.run(host_cost(count, args.window))
        print(f"  {count:3d} stations {points:6d} points {blocks:4d} blocks/s: "
              f"{100 * share:5.1f} % of one core, {1000 * share / count:6.2f} ms CPU per "
              f"station-second, clock {rate:5.2f} steps/s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
