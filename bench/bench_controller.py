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

With ``--mix`` the stations are the three demo stations in turn (doublet, school, shallow
field) and the evaluator runs at 1 s in real time while a second thread evaluates every windowed
rule of every station at its refresh period, in steady state (each rule's rounds start at a
phase fixed by its id), on ~30-bucket windows built beforehand, as the service's history worker
does after its query; the queries themselves are not in it. That is the competition the
evaluator meets in one process: the deep borehole's ground model costs about 1.5 s CPU per
round, and ``--borehole-refresh S`` sets its period (the default is the rule's own).

Run: .venv/bin/python bench/bench_controller.py [stations] [seconds] [--mix]
[--borehole-refresh S]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from controller.feed import grid_step_s
from controller.rules import AlarmRule, Window, observe_window, refresh_s
from controller.service import Controller, ControllerSettings
from plant.contract import DataBatch, Sample, Topic, topic
from plant.site import Site, load_site
from runtime.mqtt import BrokerSettings

SITES = Path(__file__).resolve().parent.parent / "sites"
DEMO = tuple(load_site(SITES / f"{name}.yaml") for name in
             ("hydrothermal-doublet", "deep-borehole-school", "shallow-field"))
SITE = DEMO[0]
T0 = datetime(2027, 1, 10, tzinfo=UTC)


def _station(index: int, mix: bool) -> Site:
    site = DEMO[index % len(DEMO)] if mix else SITE
    station = site.station.model_copy(update={"id": f"{site.station.id}-{index:03d}"})
    return site.model_copy(update={"station": station})


def _batch(site: Site, seq: int, now: datetime) -> bytes:
    """Every point good, values moving a little each second, far from any limit."""
    samples = tuple(Sample(p=p.id, t=now, v=False if p.dtype == "bool" else 10.0 + 0.001 * seq)
                    for p in site.points)
    return DataBatch(station=site.station.id, session=1, seq=seq, samples=samples
                     ).model_dump_json().encode()


def _windows(site: Site, rule: AlarmRule, rng: np.random.Generator) -> dict[str, Window]:
    """Plausible ~30-bucket windows of the rule's points (a borehole carrying half its rating)."""
    step = grid_step_s(rule.params["window_s"])
    size = round(rule.params["window_s"] / step)
    good = np.ones(size, dtype=np.bool_)
    windows = {p: Window(rng.uniform(20.0, 30.0, size), good, step) for p in rule.points()}
    if rule.spec.rule == "borehole_outlet":
        windows[rule.inputs["heat"][0]] = Window(rng.uniform(300.0, 350.0, size), good, step)
    return windows


def _phase(key: str) -> float:
    """A fraction in [0, 1) fixed by the key, spread evenly over keys however alike."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


class HistoryLoad:
    """Every windowed rule of every station evaluated at its refresh period, in a thread."""

    def __init__(self, controller: Controller, borehole_refresh_s: float | None) -> None:
        rng = np.random.default_rng(1)
        self.work: list[tuple[Site, AlarmRule, dict[str, Window], float]] = []
        for station in controller.stations.values():
            for rule in (r for r in station.rules if r.rule.windowed):
                every = refresh_s(rule)
                if rule.spec.rule == "borehole_outlet" and borehole_refresh_s is not None:
                    every = borehole_refresh_s
                self.work.append((station.site, rule, _windows(station.site, rule, rng), every))
        self.rounds: dict[str, int] = {}
        self.cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HistoryLoad:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        # steady state: each rule's rounds fall at a phase fixed by its id within its period
        due = [started + every * _phase(f"{site.station.id}/{rule.spec.id}")
               for site, rule, _, every in self.work]
        while not self._stop.is_set():
            now = time.monotonic()
            for i, (site, rule, windows, every) in enumerate(self.work):
                if due[i] > now:
                    continue
                cpu = time.thread_time()
                observe_window(rule, windows, site.station)
                self.cpu += time.thread_time() - cpu
                self.rounds[rule.spec.rule] = self.rounds.get(rule.spec.rule, 0) + 1
                due[i] += every
            self._stop.wait(max(0.01, min(due) - time.monotonic()))


def main(stations: int, seconds: int, mix: bool, borehole_refresh_s: float | None) -> None:
    sites = tuple(_station(i, mix) for i in range(stations))
    with tempfile.TemporaryDirectory() as state_dir:
        controller = Controller(ControllerSettings(
            sites=sites, broker=BrokerSettings("127.0.0.1", 1), db="postgresql://x@127.0.0.1:1/x",
            state_dir=Path(state_dir), startup_grace_s=0.0))
        cpu: list[float] = []
        wall: list[float] = []
        load = HistoryLoad(controller, borehole_refresh_s) if mix else None
        if load is not None:
            load.__enter__()
        begun = time.perf_counter()
        try:
            for second in range(seconds):
                now = T0 + timedelta(seconds=second)
                for site in sites:  # what the network thread hands over (not timed)
                    sid = site.station.id
                    controller._inbound.put((topic(sid, Topic.DATA), _batch(site, second, now),
                                             False))
                started_cpu, started = time.thread_time(), time.perf_counter()
                controller.tick(now + timedelta(milliseconds=200), full=False)
                cpu.append(time.thread_time() - started_cpu)
                wall.append(time.perf_counter() - started)
                if mix:  # the evaluator's 1 s pace, in real time
                    time.sleep(max(0.0, begun + second + 1 - time.perf_counter()))
        finally:
            elapsed = time.perf_counter() - begun
            if load is not None:
                load.__exit__()
        events = sum(len(s.state.pending) for s in controller.stations.values())
    samples = sum(len(site.points) for site in sites)
    steady_cpu = cpu[2:]  # the first ticks build every status
    mean_cpu = statistics.fmean(steady_cpu)
    p99 = sorted(wall[2:])[max(0, int(0.99 * len(wall[2:])) - 1)]
    kinds = "the three demo stations in turn" if mix else f"{len(SITE.points)} points each"
    print(f"{stations} stations ({kinds}, {samples} points) at 1 s, {seconds} s "
          f"(load average {os.getloadavg()[0]:.1f})")
    if load is not None:
        print(f"  windowed rounds in the history thread: {dict(sorted(load.rounds.items()))}, "
              f"{load.cpu:.1f} s CPU in {elapsed:.0f} s ({load.cpu / elapsed:.0%} of a core)")
    print(f"  CPU per evaluation of every station: mean {mean_cpu * 1000:.0f} ms "
          f"({mean_cpu * 100:.0f} % of a core at 1 s)")
    print(f"  samples evaluated per CPU second: {samples / mean_cpu:,.0f}")
    print(f"  events raised (steady plant): {events}")
    print(f"  evaluation wall time p50 {statistics.median(wall[2:]) * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms: arrival-to-event latency at most 0.1 s + that")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stations", type=int, nargs="?", default=100)
    parser.add_argument("seconds", type=int, nargs="?", default=30)
    parser.add_argument("--mix", action="store_true")
    parser.add_argument("--borehole-refresh", type=float, default=None)
    args = parser.parse_args()
    main(args.stations, args.seconds, args.mix, args.borehole_refresh)
