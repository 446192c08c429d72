"""Benchmark: heat, COP and quality-aware reinjection ratio over one point-year of 1 s data.

Run: .venv/bin/python bench/bench_models.py [samples]
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from plant.models.kpi import cop, cop_series, integrate_kwh, reinjection_ratio
from plant.models.water import heat_power_kw

YEAR_S = 365 * 86400


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else YEAR_S
    rng = np.random.default_rng(7)
    t = np.arange(n, dtype=np.float64)
    season = np.cos(2 * np.pi * t / YEAR_S)
    flow = 60.0 + 10.0 * season + rng.normal(0.0, 0.5, n)
    back = 40.0 + 5.0 * season + rng.normal(0.0, 0.1, n)
    supply = back + 12.0 + 3.0 * season
    electric = 150.0 + 30.0 * season
    production = 80.0 + rng.normal(0.0, 1.0, n)
    reinjection = production * 0.97
    good = rng.random(n) > 0.01
    good_reinjection = rng.random(n) > 0.02
    figures = {}
    cpu = time.process_time()
    start = time.perf_counter()
    heat_kw = heat_power_kw(flow, supply, back)
    heat = integrate_kwh(heat_kw, 1.0, good)
    figures["heat"] = time.perf_counter() - start
    mark = time.perf_counter()
    series = cop_series(heat_kw, electric, 1.0)
    unit = cop(heat.value, integrate_kwh(electric, 1.0, good).value)
    figures["cop"] = time.perf_counter() - mark
    mark = time.perf_counter()
    ratio = reinjection_ratio(production, reinjection, 1.0, good, good_reinjection)
    figures["reinjection"] = time.perf_counter() - mark
    total = time.perf_counter() - start
    cpu_s = time.process_time() - cpu
    load = os.getloadavg()[0]
    print(f"samples {n:,}; load average {load:.2f}")
    for name, seconds in figures.items():
        print(f"  {name:<12} {seconds:6.2f} s")
    print(f"  total        {total:6.2f} s wall, {cpu_s:.2f} s CPU")
    print(f"  (heat {heat.value / 1000:,.0f} MWh, coverage "
          f"{heat.coverage:.3f}; COP {unit:.2f}, median {np.nanmedian(series[:100000]):.2f}; "
          f"reinjection {ratio.ratio:.3f}, coverage {ratio.coverage:.3f})")


if __name__ == "__main__":
    main()
