"""Gateway benchmark: polling throughput and CPU, and end-to-end latency.

One gateway process polls N simulated Modbus TCP devices of M float32 points each at 1 s; the
devices (served by this process) change every value every second, so every point polled is
published. Reported: points per second delivered to an MQTT subscriber, the gateway process's
CPU (from /proc) per 1000 points/s, and the latency from a register change to the subscriber
receiving the new value (median and p99), which includes waiting for the next 1 s poll.

    .venv/bin/python bench/bench_gateway.py [--devices 20 --points 100 --seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geoscada.services import Mosquitto  # noqa: E402

STATION = "bench-station"
# the first point of every device is a latency probe; the others change every second


class Slave:
    """A minimal Modbus TCP slave answering reads of input registers (FC 4)."""

    def __init__(self, registers: int) -> None:
        self.registers = [0] * registers
        self.port = 0
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[Any]] = set()
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        # handlers end on their own once their connection is closed (cancelling them makes
        # asyncio log a spurious error for a client_connected_cb task)
        await asyncio.wait_for(asyncio.gather(*self.handlers, return_exceptions=True), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
        self.writers.add(writer)
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                address, count = struct.unpack(">HH", pdu[1:5])
                words = self.registers[address:address + count]
                body = bytes([pdu[0], 2 * count]) + struct.pack(f">{count}H", *words)
                writer.write(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def set_float(self, index: int, value: float) -> None:
        high, low = struct.unpack(">HH", struct.pack(">f", value))
        self.registers[2 * index:2 * index + 2] = [high, low]


def site_file(ports: list[int], points: int, path: Path) -> None:
    """Write a station with one production well per device and ``points`` depth sensors each."""
    station = yaml.safe_load((ROOT / "tests/gateway/site_files/two_plcs.yaml").read_text())
    site: dict[str, Any] = {
        "station": {**station["station"], "id": STATION},
        "poll_groups": {"fast": 1.0},
        "full_refresh_s": 300,
        "devices": [{"id": f"d{i:03d}", "protocol": "modbus", "host": "127.0.0.1", "port": port,
                     "unit_id": 1, "timeout_s": 1.0} for i, port in enumerate(ports)],
        "equipment": [{"id": f"W{i:03d}", "kind": "monitoring_well", "depth_m": 3000}
                      for i in range(len(ports))],
        "points": [
            {"id": f"W{i:03d}.t{j:03d}", "equipment": f"W{i:03d}", "measurand": "temp_at_depth",
             "unit": "degC", "range": [0, 200], "depth_m": 10.0 * (j + 1),
             "binding": {"protocol": "modbus", "device": f"d{i:03d}", "table": "input_register",
                         "address": 2 * j, "type": "float32"}}
            for i in range(len(ports)) for j in range(points)
        ],
    }
    path.write_text(yaml.safe_dump(site, sort_keys=False))


class Subscriber:
    """Counts samples and notes when each probe value arrives."""

    def __init__(self, port: int) -> None:
        self.samples = 0
        self.arrivals: dict[tuple[str, float], tuple[float, float]] = {}
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"geoscada/v1/{STATION}/data", qos=1)
        self.client.loop_start()

    def _message(self, client: Any, userdata: Any, msg: Any) -> None:
        now = time.time()
        batch = json.loads(msg.payload)
        with self.lock:
            self.samples += len(batch["samples"])
            for s in batch["samples"]:
                if s["p"].endswith(".t000") and s["v"] is not None:
                    read = datetime.fromisoformat(s["t"].replace("Z", "+00:00")).timestamp()
                    self.arrivals.setdefault((s["p"], round(s["v"], 3)), (now, read))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def serve_devices(devices: int, points: int, ports: Queue[list[int]],
                        probes_out: Queue[dict[tuple[str, float], float]],
                        measuring: Event, stop: Event) -> None:
    """The simulated devices: every value changes each second, probes at random moments."""
    slaves = [Slave(2 * points) for _ in range(devices)]
    for slave in slaves:
        await slave.start()
    ports.put([s.port for s in slaves])
    rng = random.Random(1)
    probes: dict[tuple[str, float], float] = {}

    async def wiggle() -> None:
        while True:
            for slave in slaves:
                for j in range(1, points):
                    slave.set_float(j, rng.uniform(20.0, 90.0))
            await asyncio.sleep(1.0)

    async def probe(index: int) -> None:
        value = 10.0
        point = f"W{index:03d}.t000"
        while True:
            # each probe value stands longer than one poll period, so none may go unseen
            await asyncio.sleep(rng.uniform(1.05, 2.0))
            value = round(value + 0.5, 3) if value < 150 else 10.0
            if measuring.is_set():
                probes[(point, value)] = time.time()
            slaves[index].set_float(0, value)

    tasks = [asyncio.create_task(wiggle())]
    tasks += [asyncio.create_task(probe(i)) for i in range(devices)]
    was_measuring = False
    while not stop.is_set():
        if was_measuring and not measuring.is_set():
            for task in tasks[1:]:
                task.cancel()
        was_measuring = measuring.is_set()
        await asyncio.sleep(0.05)
    probes_out.put(probes)
    for task in tasks:
        task.cancel()
    for slave in slaves:
        await slave.stop()


def device_process(*args: Any) -> None:
    """Run the simulated devices in their own process, apart from the subscriber."""
    asyncio.run(serve_devices(*args))


async def run(devices: int, points: int, seconds: float, workdir: Path,
              log_level: str = "WARNING") -> dict[str, float]:
    context = multiprocessing.get_context("fork")
    ports_q: Queue[list[int]] = context.Queue()
    probes_q: Queue[dict[tuple[str, float], float]] = context.Queue()
    measuring, stop = context.Event(), context.Event()
    servers = context.Process(target=device_process,
                              args=(devices, points, ports_q, probes_q, measuring, stop))
    servers.start()
    site = workdir / "site.yaml"
    site_file(ports_q.get(timeout=30), points, site)
    broker = Mosquitto(workdir / "mq", persistence=False)
    broker.start()
    subscriber = Subscriber(broker.port)
    gateway = subprocess.Popen(
        [sys.executable, "-m", "geoscada.cli", "gateway", str(site), "--broker", broker.url,
         "--state-dir", str(workdir / "state"), "--log-level", log_level], cwd=ROOT)
    try:
        # start-up (loading a big site file takes seconds): wait for a steady flow
        deadline, last = time.monotonic() + 90, subscriber.samples
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            flow, last = subscriber.samples - last, subscriber.samples
            if flow >= 0.9 * devices * points:
                break
        await asyncio.sleep(2.0)
        start_samples, start_cpu, start = subscriber.samples, cpu_seconds(gateway.pid), time.time()
        measuring.set()
        await asyncio.sleep(seconds)
        measuring.clear()
        end_samples, end_cpu, end = subscriber.samples, cpu_seconds(gateway.pid), time.time()
        await asyncio.sleep(3.0)
        stop.set()
        probes = probes_q.get(timeout=30)
    finally:
        stop.set()
        gateway.terminate()
        stopped = time.monotonic()
        while gateway.poll() is None and time.monotonic() - stopped < 30:
            await asyncio.sleep(0.1)
        if gateway.poll() is None:
            print("gateway did not stop within 30 s of SIGTERM; killing it", flush=True)
            gateway.kill()
        servers.join(30)
        subscriber.close()
        broker.stop()
    rate = (end_samples - start_samples) / (end - start)
    cpu = (end_cpu - start_cpu) / (end - start)
    stood = probes
    latencies = sorted(subscriber.arrivals[k][0] - t for k, t in stood.items()
                       if k in subscriber.arrivals)
    internal = sorted(subscriber.arrivals[k][0] - subscriber.arrivals[k][1] for k in stood
                      if k in subscriber.arrivals)
    return {
        "devices": devices, "points": devices * points, "points_per_s": rate,
        "cpu_share": cpu, "cpu_per_1000_points_per_s": cpu / (rate / 1000) if rate else 0.0,
        "latency_n": len(latencies),
        "latency_median_s": statistics.median(latencies) if latencies else float("nan"),
        "latency_p99_s": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        if latencies else float("nan"),
        "probes_lost": len(stood) - len(latencies),
        "read_to_subscriber_median_s": statistics.median(internal) if internal else float("nan"),
        "read_to_subscriber_p99_s": internal[min(len(internal) - 1, int(0.99 * len(internal)))]
        if internal else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[10, 40])
    parser.add_argument("--points", type=int, default=100, help="points per device")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f}; {os.cpu_count()} cores")
    for devices in args.devices:
        with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
            result = asyncio.run(run(devices, args.points, args.seconds, Path(tmp)))
        print(f"{result['devices']:3d} devices x {args.points} points = {result['points']:5d} "
              f"points at 1 s: {result['points_per_s']:7.0f} points/s delivered, gateway CPU "
              f"{100 * result['cpu_share']:5.1f} % of a core = "
              f"{100 * result['cpu_per_1000_points_per_s']:4.1f} % per 1000 points/s; "
              f"register->subscriber latency median {1000 * result['latency_median_s']:.0f} ms, "
              f"p99 {1000 * result['latency_p99_s']:.0f} ms (n={result['latency_n']}, "
              f"lost {result['probes_lost']}); read->subscriber median "
              f"{1000 * result['read_to_subscriber_median_s']:.1f} ms, p99 "
              f"{1000 * result['read_to_subscriber_p99_s']:.1f} ms", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
