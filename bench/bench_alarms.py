"""Benchmark: the controller's pure core on the hydrothermal doublet's default alarms.

Three cases, in CPU time of this process:

* steady: every instantaneous rule observed on the latest samples and every alarm advanced,
  once per simulated second, with nothing changing (the common case);
* churn: the same, with every number and state swinging between far below and far above the
  limits each second: the delayed alarms' timers start and stop every second and the six
  fault alarms (no delay) raise and clear every second, writing journal rows (far worse
  than any plant);
* windowed: each windowed alarm (reinjection ratio over 1 h, 24 h and the season, make-up
  share over 1 h, climate curve over 3 h) on 1-minute grids.

Run: .venv/bin/python bench/bench_alarms.py [seconds]
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from controller.alarms import AlarmStatus, evaluate
from controller.rules import Window, observe, observe_window, plant_flags, site_alarms
from plant.contract import Sample
from plant.site import load_site

SITE = load_site(Path(__file__).resolve().parent.parent / "sites" / "hydrothermal-doublet.yaml")
T0 = datetime(2027, 1, 10, tzinfo=UTC)


def _latest(now: datetime, high: bool) -> dict[str, Sample]:
    """Every point good; numbers either all far below or all far above any limit."""
    number = 1000.0 if high else 10.0
    return {p.id: Sample(p=p.id, t=now, v=high if p.dtype == "bool" else number)
            for p in SITE.points}


def instant(seconds: int, churn: bool) -> tuple[float, int]:
    """CPU seconds of rules and alarms over ``seconds`` station-seconds, and rows written.

    Building the samples (the service's decoding of MQTT messages) is not timed.
    """
    alarms = site_alarms(SITE)
    instant_rules = [a for a in alarms if not a.rule.windowed]
    specs = [a.spec for a in alarms]
    statuses: dict[str, AlarmStatus] = {}
    rows = 0
    cpu = 0.0
    for i in range(seconds):
        now = T0 + timedelta(seconds=i)
        latest = _latest(now, churn and i % 2 == 1)  # the service's decoding, not timed here
        start = time.process_time()
        observations = {a.spec.id: observe(a, latest, now) for a in instant_rules}
        statuses, journal = evaluate(specs, statuses, observations,
                                     plant_flags(SITE, latest, now), now)
        cpu += time.process_time() - start
        rows += len(journal)
    return cpu, rows


def windowed(repeats: int) -> dict[str, tuple[int, float]]:
    """Per windowed alarm: grid points per input and CPU seconds per evaluation (1-min grid)."""
    rng = np.random.default_rng(1)
    result = {}
    for rule in (a for a in site_alarms(SITE) if a.rule.windowed):
        size = int(rule.params["window_s"] / 60.0)
        windows = {p: Window(rng.uniform(50.0, 60.0, size), np.ones(size, dtype=np.bool_), 60.0)
                   for p in rule.points()}
        start = time.process_time()
        for _ in range(repeats):
            observe_window(rule, windows, SITE.station)
        result[rule.spec.id] = (size, (time.process_time() - start) / repeats)
    return result


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    alarms = site_alarms(SITE)
    print(f"load average {os.getloadavg()[0]:.2f}; {SITE.station.id}: {len(alarms)} alarms "
          f"({sum(1 for a in alarms if a.rule.windowed)} windowed), {len(SITE.points)} points")
    for name, churn in (("steady", False), ("churn", True)):
        cpu, rows = instant(seconds, churn)
        per = cpu / seconds
        print(f"{name:8} {per * 1e3:6.2f} ms CPU per station-second "
              f"({1 / per:6.0f} stations per core at 1 s); {rows / seconds:5.1f} rows/s")
    for alarm, (size, cpu) in windowed(10).items():
        print(f"windowed {alarm:40} {size:7} minutes: {cpu * 1e3:7.2f} ms CPU per evaluation")


if __name__ == "__main__":
    main()
