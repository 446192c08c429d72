"""Benchmark: can one controller process judge 100 demo-sized stations at 1 s polling?

The pure path of every default alarm (the seed rules, the model-backed ones and instrument
health) on realistic samples, in CPU time of this process:

* instant: every point's sample of a station is taken (the feed's dictionary of latest
  samples), every instantaneous rule is observed and every alarm advanced, once per
  station-second; samples evaluated per second per core follows from the points per station;
* windowed: each windowed rule on its ~30-bucket window, as the service refreshes it (about
  once a minute), amortised per station-second.

The samples are a simulated station's readings (one ``StationSim`` per site, advanced between
rounds), so the rules see plausible values, not constants. The service's MQTT decoding,
history queries and publishing are not in these figures; see docs/controller.md.

Run: .venv/bin/python bench/bench_rules.py [seconds]
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from controller.alarms import AlarmStatus, evaluate
from controller.feed import grid_step_s
from controller.rules import (
    CLOCK_OFFSET_POINT,
    Window,
    observe,
    observe_window,
    plant_flags,
    site_alarms,
)
from plant.contract import Quality, Reason, Sample
from plant.site import load_site
from simulator.sim import StationSim

ROOT = Path(__file__).resolve().parent.parent
SITES = ("hydrothermal-doublet", "deep-borehole-school", "shallow-field")
REFRESH_S = 60.0
"""How often the service refreshes a windowed rule's observation (at most)."""


def instant(name: str, seconds: int) -> tuple[float, int, int, int]:
    """CPU seconds per station-second, points, rules and journal rows over ``seconds``."""
    site = load_site(ROOT / "sites" / f"{name}.yaml")
    sim = StationSim(site, seed=1, start=datetime(2027, 1, 10, 6, tzinfo=UTC),
                     warm_up_s=3600.0)
    alarms = site_alarms(site)
    rules = [a for a in alarms if not a.rule.windowed]
    specs = [a.spec for a in alarms]
    statuses: dict[str, AlarmStatus] = {}
    cpu = 0.0
    rows = 0
    for _ in range(seconds):
        sim.advance(1.0)
        now = sim.now
        latest = {p: Sample(p=p, t=now, v=v) if v is not None else
                  Sample(p=p, t=now, v=None, q=Quality.BAD, r=Reason.SENSOR_FAULT)
                  for p, v in sim.values().items()}
        latest[CLOCK_OFFSET_POINT] = Sample(p=CLOCK_OFFSET_POINT, t=now, v=0.01)
        start = time.process_time()
        observations = {a.spec.id: observe(a, latest, now) for a in rules}
        statuses, journal = evaluate(specs, statuses, observations,
                                     plant_flags(site, latest, now), now)
        cpu += time.process_time() - start
        rows += len(journal)
    return cpu / seconds, len(site.points), len(alarms), rows


def windowed(name: str) -> dict[str, float]:
    """CPU seconds per evaluation of each windowed rule of the site on a ~30-bucket window."""
    site = load_site(ROOT / "sites" / f"{name}.yaml")
    rng = np.random.default_rng(1)
    found = {}
    for rule in (a for a in site_alarms(site) if a.rule.windowed):
        step = grid_step_s(rule.params["window_s"])
        size = round(rule.params["window_s"] / step)
        windows = {p: Window(rng.uniform(20.0, 30.0, size), np.ones(size, dtype=np.bool_), step)
                   for p in rule.points()}
        if rule.spec.rule == "borehole_outlet":  # a borehole carrying about half its rating
            heat = rule.inputs["heat"][0]
            windows[heat] = Window(rng.uniform(300.0, 350.0, size),
                                   np.ones(size, dtype=np.bool_), step)
        repeats = 1 if rule.spec.rule == "borehole_outlet" else 20
        start = time.process_time()
        for _ in range(repeats):
            observe_window(rule, windows, site.station)
        found[rule.spec.id] = (time.process_time() - start) / repeats
    return found


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    for name in SITES:
        per, points, count, rows = instant(name, seconds)
        costs = windowed(name)
        model = {k: v for k, v in costs.items() if k.endswith(".outlet_decline")}
        others = sum(v for k, v in costs.items() if k not in model)
        amortised = others / REFRESH_S
        print(f"{name}: {points} points, {count} alarms ({len(costs)} windowed), "
              f"{rows / seconds:.2f} rows/s")
        print(f"  instant rules and alarms: {per * 1e3:.2f} ms CPU per station-second "
              f"= {points / per:,.0f} samples per second per core")
        print(f"  windowed rules: {others * 1e3:.1f} ms CPU per round of {len(costs) - len(model)}"
              f", {amortised * 1e3:.2f} ms per station-second refreshed every {REFRESH_S:g} s")
        for alarm, cost in model.items():
            print(f"  {alarm}: {cost:.2f} s CPU per evaluation (the season's ground model)")
        total = per + amortised
        print(f"  100 stations at 1 s: {100 * total:.2f} CPU seconds per second "
              f"({'keeps up on one core' if 100 * total < 1 else 'does not keep up'}), "
              "deep-borehole model excluded")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
