"""Benchmark: one controller process evaluating many stations of the demo's size at 1 s.

The controller's evaluator as the service runs it (``Controller.tick``): decoding each
station's data batch (JSON, strict contract types), keeping the latest samples, dating them
for report by exception, observing every instantaneous rule, suppression flags and the alarm
engine, for N copies of the hydrothermal doublet (339 points, 30 alarms), each sending every
point every second (the worst case: report by exception sends only what changed). No broker,
no database: the batches are handed to the evaluator's queue as the network thread would, and
steady values raise no alarm, so nothing is published or written (transitions are rare; their
cost is in bench_alarms.py's churn case).

Gateways poll on the wall-clock grid, so every station's batch arrives at about the same time;
the evaluator takes a station's data within 0.1 s and evaluates every station that sent some.
The latency from a sample's arrival to its alarm's event is therefore at most 0.1 s plus the
time one evaluation of every station takes, whose p50 and p99 are reported.

Run: .venv/bin/python bench/bench_controller.py [stations] [seconds]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.service import Controller, ControllerSettings
from plant.contract import DataBatch, Sample, Topic, topic
from plant.site import Site, load_site
from runtime.mqtt import BrokerSettings

SITE = load_site(Path(__file__).resolve().parent.parent / "sites" / "hydrothermal-doublet.yaml")
T0 = datetime(2027, 1, 10, tzinfo=UTC)


def _station(index: int) -> Site:
    station = SITE.station.model_copy(update={"id": f"doublet-{index:03d}"})
    return SITE.model_copy(update={"station": station})


def _batch(station: str, seq: int, now: datetime) -> bytes:
    """Every point good, values moving a little each second, far from any limit."""
    samples = tuple(Sample(p=p.id, t=now, v=False if p.dtype == "bool" else 10.0 + 0.001 * seq)
                    for p in SITE.points)
    return DataBatch(station=station, session=1, seq=seq, samples=samples
                     ).model_dump_json().encode()


def main(stations: int, seconds: int) -> None:
    sites = tuple(_station(i) for i in range(stations))
    with tempfile.TemporaryDirectory() as state_dir:
        controller = Controller(ControllerSettings(
            sites=sites, broker=BrokerSettings("127.0.0.1", 1), db="postgresql://x@127.0.0.1:1/x",
            state_dir=Path(state_dir), startup_grace_s=0.0))
        cpu: list[float] = []
        wall: list[float] = []
        for second in range(seconds):
            now = T0 + timedelta(seconds=second)
            for site in sites:  # what the network thread hands over (not timed)
                sid = site.station.id
                controller._inbound.put((topic(sid, Topic.DATA), _batch(sid, second, now), False))
            started_cpu, started = time.process_time(), time.perf_counter()
            controller.tick(now + timedelta(milliseconds=200), full=False)
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
        events = sum(len(s.state.pending) for s in controller.stations.values())
    samples = stations * len(SITE.points)
    steady_cpu = cpu[2:]  # the first ticks build every status
    mean_cpu = statistics.fmean(steady_cpu)
    p99 = sorted(wall[2:])[max(0, int(0.99 * len(wall[2:])) - 1)]
    print(f"{stations} stations × {len(SITE.points)} points at 1 s, {seconds} s "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"  CPU per evaluation of every station: mean {mean_cpu * 1000:.0f} ms "
          f"({mean_cpu * 100:.0f} % of a core at 1 s)")
    print(f"  samples evaluated per CPU second: {samples / mean_cpu:,.0f}")
    print(f"  events raised (steady plant): {events}")
    print(f"  evaluation wall time p50 {statistics.median(wall[2:]) * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms: arrival-to-event latency at most 0.1 s + that")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100,
         int(sys.argv[2]) if len(sys.argv) > 2 else 30)
