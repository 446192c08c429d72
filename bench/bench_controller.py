"""Benchmark: one controller process evaluating many stations of the demo's size at 1 s.

The controller's evaluator runs as the service runs it (its own thread, ``_evaluate_loop``:
within 0.1 s of data arriving, and once a period for stations that sent nothing), fed in real
time at 1 s: every second the bench stamps each station's data batch with the wall-clock time
and hands it to the evaluator's queue as the network thread would. No broker, no database: a
recorder stands in for the MQTT client and acknowledges every event as a subscriber's PUBACK
would; state files are written to a temporary directory (fsync included).

Two streams: by default every point of N copies of the hydrothermal doublet every second with
a new value (the worst case: report by exception sends only what moved past its deadband);
with ``--by-exception`` the demo stations' streams as their gateways publish them, recorded
beforehand from the simulator through the gateway's report filter (about a fifth of the
points a second). With ``--mix`` the stations are the three demo stations in turn (doublet,
school, shallow field), and a second thread evaluates every windowed rule of every station at
its refresh period, in steady state (each rule's rounds start at a phase fixed by its id), on
~30-bucket windows built beforehand, as the service's history worker does after its query;
the queries themselves are not in it. The deep borehole's ground model costs about 1.5 s CPU
per round; ``--borehole-refresh S`` sets its period (the default is the rule's own).

Latency is measured from outside the evaluator: each second one station (in turn) reports its
first pump or heat pump tripped, with the sample stamped at the time it is handed over, and
resets it the next second; the recorder notes the wall-clock time at which the trip's alarm
event is published (after the state file holding it is written). Reported: CPU and wall time
per evaluation round (rounds that had data), samples evaluated per CPU second, and the
sample-to-published-alarm latency p50 / p99 / max.

With ``--staging`` the stations whose site file has ``staging`` (the doublet and its copies)
are staged live as the service stages them: the controller signs its writes with a key of its
own, and the recorder answers each write at once with the gateway's acknowledgement (done, the
value read back), handed to the evaluator's queue as the network thread would. Reported besides:
the CPU of each station's staging cycle (``StationActing.cycle``: the supervisor's step, the
take-over and read-back logic), of the evaluator's whole staging work (cycles, signing and
publishing the writes, the answers, the state files) and its share of the evaluator's CPU.
Without it the sites' ``staging`` is dropped: the alarms alone, as recorded before.

Run: .venv/bin/python bench/bench_controller.py [stations] [seconds] [--mix] [--by-exception]
[--warm-up S]
[--borehole-refresh S] [--staging]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import paho.mqtt.client as paho
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.commander import Signer
from controller.feed import grid_step_s
from controller.rules import AlarmRule, Window, observe_window, refresh_s, site_alarms
from controller.service import Controller, ControllerSettings
from plant.contract import (
    Birth,
    Command,
    CommandAck,
    DataBatch,
    Event,
    Outcome,
    Sample,
    Topic,
    parse_topic,
    topic,
    utc_now,
)
from plant.site import Site, load_site
from runtime.mqtt import BrokerSettings
from simulator.sim import StationSim
from simulator.stream import gateway_batches

SITES = Path(__file__).resolve().parent.parent / "sites"
DEMO = tuple(load_site(SITES / f"{name}.yaml") for name in
             ("hydrothermal-doublet", "deep-borehole-school", "shallow-field"))
SITE = DEMO[0]
T0 = datetime(2027, 1, 10, tzinfo=UTC)
RESET_AFTER_S = 10
"""A tripped unit reports normal again this long after its trip."""
PLACE_STATION = "station-placeholder"
PLACE_T = datetime(2000, 1, 1, tzinfo=UTC)
PLACE_T_JSON = b'"2000-01-01T00:00:00Z"'


def _station(index: int, mix: bool, staging: bool) -> Site:
    site = DEMO[index % len(DEMO)] if mix else SITE
    update: dict[str, object] = {"id": f"{site.station.id}-{index:03d}"}
    if not staging:  # the alarms alone
        update["staging"] = None
    return site.model_copy(update={"station": site.station.model_copy(update=update)})


def _every_point(site: Site, seconds: int) -> list[bytes]:
    """Every point good each second, values moving a little, far from any limit."""
    return [DataBatch(station=PLACE_STATION, session=1, seq=seq, samples=tuple(
        Sample(p=p.id, t=PLACE_T, v=False if p.dtype == "bool" else 10.0 + 0.001 * seq)
        for p in site.points)).model_dump_json().encode() for seq in range(seconds)]


def _recorded(site: Site, seconds: int) -> list[bytes]:
    """The station's batches as its gateway publishes them, from the simulator."""
    sim = StationSim(site, seed=1, start=T0, warm_up_s=3600.0)
    return [batch.model_copy(update={
        "station": PLACE_STATION,
        "samples": tuple(s.model_copy(update={"t": PLACE_T}) for s in batch.samples),
    }).model_dump_json().encode() for batch in gateway_batches(sim, seconds)]


def _stamped(template: bytes, station: str, stamp: bytes) -> bytes:
    return template.replace(PLACE_STATION.encode(), station.encode()).replace(PLACE_T_JSON,
                                                                                stamp)


def _trip_point(site: Site) -> tuple[str, str]:
    """The first equipment fault point and the alarm it raises."""
    rule = next(r for r in site_alarms(site) if r.spec.rule == "equipment_fault")
    return rule.inputs["fault"][0], rule.spec.id


def _trip(site: Site, point: str, tripped: bool, seq: int, stamp: bytes) -> bytes:
    batch = DataBatch(station=site.station.id, session=1, seq=seq,
                      samples=(Sample(p=point, t=PLACE_T, v=tripped),))
    return batch.model_dump_json().encode().replace(PLACE_T_JSON, stamp)


def _birth(site: Site) -> Birth:
    return Birth(station=site.station.id, session=1, bdseq=1, t=utc_now(), gateway="gw",
                 name=site.station.name, kind="bench", timezone="UTC", site_hash="0",
                 points=())


@dataclass
class Published:
    """What the recorder saw: the wall-clock time and payload of each publish."""

    at: float
    payload: bytes


class Recorder:
    """Stands in for the MQTT client: notes each publish, acknowledged as delivered."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.published: list[Published] = []
        self.commands = 0
        self._mid = 0

    def publish(self, name: str, payload: bytes, qos: int = 0) -> SimpleNamespace:
        """Note the event and acknowledge it, as a subscriber's PUBACK would; answer a write
        as its gateway would, done with the value read back."""
        station, kind = parse_topic(name)
        if kind is Topic.CMD:
            command = Command.model_validate_json(payload)
            ack = CommandAck(id=command.id, point=command.point, outcome=Outcome.DONE,
                             readback=command.value, t=utc_now())
            self.controller._inbound.put((topic(station, Topic.ACK),
                                          ack.model_dump_json().encode(), False))
            self.commands += 1
        else:
            self.published.append(Published(time.time(), payload))
        self._mid += 1
        with self.controller._lock:
            self.controller._acked.append((self.controller._generation, self._mid, True))
        return SimpleNamespace(rc=paho.MQTT_ERR_SUCCESS, mid=self._mid)


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


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(share * len(ordered) + 0.5) - 1))]


class StagingMeter:
    """CPU of the controller's staging while measuring: each station cycle, the whole of it."""

    def __init__(self, controller: Controller, measuring: threading.Event) -> None:
        self.cycles: list[float] = []
        self.total = 0.0
        self.ticks = 0.0
        """CPU of every evaluator round (alarms and staging) while measuring."""
        self._measuring = measuring
        stage = controller._stage

        def timed_stage(now: datetime) -> dict[str, list[Event]]:
            cpu = time.thread_time()
            made = stage(now)
            if measuring.is_set():
                self.total += time.thread_time() - cpu
            return made

        setattr(controller, "_stage", timed_stage)  # noqa: B010 (measured as tick calls it)
        commander = controller._commander
        for station in (commander.stations.values() if commander else ()):
            station.acting.cycle = self._timed(station.acting.cycle)  # type: ignore[method-assign]

    def _timed(self, cycle: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            cpu = time.thread_time()
            made = cycle(*args, **kwargs)
            if self._measuring.is_set():
                self.cycles.append(time.thread_time() - cpu)
            return made
        return timed


def main(stations: int, seconds: int, mix: bool, by_exception: bool,
         borehole_refresh_s: float | None, warm_up_s: int = 20, staging: bool = False) -> None:
    measured_from = warm_up_s
    seconds += warm_up_s
    sites = tuple(_station(i, mix, staging) for i in range(stations))
    kinds = DEMO if mix else (SITE,)
    made = _recorded if by_exception else _every_point
    streams = {k.station.id: made(k, seconds + 1) for k in kinds}
    of_kind = {s.station.id: s.station.id.rsplit("-", 1)[0] for s in sites}
    trips = {s.station.id: _trip_point(s) for s in sites}
    loads: list[float] = [os.getloadavg()[0]]
    begun_measuring = time.perf_counter()
    with tempfile.TemporaryDirectory() as state_dir:
        controller = Controller(ControllerSettings(
            sites=sites, broker=BrokerSettings("127.0.0.1", 1), db="postgresql://x@127.0.0.1:1/x",
            state_dir=Path(state_dir), startup_grace_s=0.0,
            signer=Signer(Ed25519PrivateKey.generate()) if staging else None))
        recorder = Recorder(controller)
        controller._client = recorder  # type: ignore[assignment]
        controller._generation = 1
        controller._connected.set()
        rounds: list[tuple[float, float]] = []
        tick = controller.tick
        measuring = threading.Event()
        meter = StagingMeter(controller, measuring)

        def timed(now: datetime, *, full: bool = True) -> None:
            busy = measuring.is_set() and not controller._inbound.empty()
            cpu, wall = time.thread_time(), time.perf_counter()
            tick(now, full=full)
            if measuring.is_set():
                meter.ticks += time.thread_time() - cpu
            if busy:
                rounds.append((time.thread_time() - cpu, time.perf_counter() - wall))

        setattr(controller, "tick", timed)  # noqa: B010 (measured as the loop calls it)
        evaluator = threading.Thread(target=controller._evaluate_loop, daemon=True)
        load = HistoryLoad(controller, borehole_refresh_s) if mix else None
        sent: dict[tuple[str, str], float] = {}
        delivered = 0
        for site in sites:  # the gateways' retained births: they are alive
            controller._inbound.put((topic(site.station.id, Topic.BIRTH),
                                     _birth(site).model_dump_json().encode(), True))
        evaluator.start()
        if load is not None:
            load.__enter__()
        begun = time.perf_counter()
        try:
            for second in range(seconds):
                time.sleep(max(0.0, begun + second - time.perf_counter()))
                now = utc_now()
                stamp = json.dumps(now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")).encode()
                for site in sites:  # what the network thread hands over
                    sid = site.station.id
                    payload = _stamped(streams[of_kind[sid]][second], sid, stamp)
                    delivered += payload.count(b'"p":')
                    controller._inbound.put((topic(sid, Topic.DATA), payload, False))
                tripped = sites[second % stations]
                point, alarm = trips[tripped.station.id]
                controller._inbound.put((topic(tripped.station.id, Topic.DATA),
                                         _trip(tripped, point, True, 10**6 + second, stamp),
                                         False))
                if second >= measured_from:
                    sent[(tripped.station.id, alarm)] = now.timestamp()
                if second >= RESET_AFTER_S:  # reset once its trip was surely evaluated
                    before = sites[(second - RESET_AFTER_S) % stations]
                    point, _ = trips[before.station.id]
                    controller._inbound.put((topic(before.station.id, Topic.DATA),
                                             _trip(before, point, False, 10**6 + second, stamp),
                                             False))
                if second == measured_from:  # the first rounds build every status
                    measuring.set()
                    begun_measuring = time.perf_counter()
                    loads.append(os.getloadavg()[0])
            time.sleep(2.0)  # the last trips' events
        finally:
            elapsed = time.perf_counter() - begun
            measured = time.perf_counter() - begun_measuring
            controller._stop.set()
            evaluator.join(30)
            if load is not None:
                load.__exit__()
    loads.append(os.getloadavg()[0])
    latency = []
    for published in recorder.published:
        data = json.loads(published.payload)
        if data["kind"] != "alarm":
            continue  # a staging event
        key = (data["station"], data["data"]["alarm"])
        if data["data"]["trigger"] == "activate" and key in sent:
            latency.append(published.at - sent[key])
    if not rounds or not latency:
        print(f"{stations} stations: no evaluation round with data, or no trip published, "
              f"after the {warm_up_s} s warm-up: the evaluator fell behind (load average "
              f"{' / '.join(f'{x:.1f}' for x in loads)}; {len(rounds)} rounds, "
              f"{len(latency)} of {len(sent)} trips published)")
        return
    steady = rounds
    cpu = [c for c, _ in steady]
    wall = [w for _, w in steady]
    stream = ("as their gateways publish them (by exception, recorded from the simulator)"
              if by_exception else "every point every second")
    print(f"{stations} stations ({'the three demo stations in turn' if mix else SITE.station.id}"
          f", {sum(len(s.points) for s in sites)} points), {stream}, {seconds - warm_up_s} s "
          f"measured after {warm_up_s} s; load average "
          f"{' / '.join(f'{x:.1f}' for x in loads)} (start / measuring / end)")
    print(f"  samples delivered: {delivered:,} ({delivered / seconds:,.0f} a second)")
    if load is not None:
        print(f"  windowed rounds in the history thread: {dict(sorted(load.rounds.items()))}, "
              f"{load.cpu:.1f} s CPU in {elapsed:.0f} s ({load.cpu / elapsed:.0%} of a core)")
    print(f"  evaluation rounds with data: {len(steady)}; CPU per round mean "
          f"{statistics.fmean(cpu) * 1000:.0f} ms, p99 {_percentile(cpu, 0.99) * 1000:.0f} ms; "
          f"samples evaluated per CPU second: {delivered / seconds * measured / sum(cpu):,.0f}")
    print(f"  round wall time p50 {statistics.median(wall) * 1000:.0f} ms, "
          f"p99 {_percentile(wall, 0.99) * 1000:.0f} ms")
    print(f"  sample to published alarm ({len(latency)} trips of {len(sent)}): p50 "
          f"{statistics.median(latency) * 1000:.0f} ms, p99 "
          f"{_percentile(latency, 0.99) * 1000:.0f} ms, max {max(latency) * 1000:.0f} ms")
    if meter.cycles:
        staged = sum(s.station.staging is not None for s in sites)
        cycles = meter.cycles
        print(f"  staging: {staged} stations staged, {len(cycles)} station cycles measured, "
              f"{recorder.commands:,} writes signed and answered in all; CPU per station cycle "
              f"mean {statistics.fmean(cycles) * 1000:.2f} ms, p99 "
              f"{_percentile(cycles, 0.99) * 1000:.2f} ms; the evaluator's staging work "
              f"{meter.total:.2f} s CPU in {measured:.0f} s "
              f"({meter.total / measured * 1000:.1f} ms a second), "
              f"{meter.total / meter.ticks:.1%} of the evaluator's CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stations", type=int, nargs="?", default=100)
    parser.add_argument("seconds", type=int, nargs="?", default=30)
    parser.add_argument("--mix", action="store_true")
    parser.add_argument("--by-exception", action="store_true")
    parser.add_argument("--borehole-refresh", type=float, default=None)
    parser.add_argument("--warm-up", type=int, default=20,
                        help="seconds streamed before measuring (every status is built)")
    parser.add_argument("--staging", action="store_true",
                        help="stage live the stations whose site file has staging")
    args = parser.parse_args()
    main(args.stations, args.seconds, args.mix, args.by_exception, args.borehole_refresh,
         args.warm_up, args.staging)
