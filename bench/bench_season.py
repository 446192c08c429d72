"""What a season run costs, and what the season step costs in accuracy.

Two measurements:

1. performance: each demo station through ``--days`` (default 180) of its heating season at the
   season step under its local logic, CPU and wall time (``geoscada season`` does the same);
2. accuracy: each demo station through ``--accuracy-days`` (default 3) in midwinter at several
   steps under the same recorded weather (the fitted climate sampled hourly once, written to a
   weather file, so every step sees the same outdoor temperatures), the figures side by side
   against the finest step.

Run: .venv/bin/python bench/bench_season.py [--days 180] [--accuracy-days 3]
        [--accuracy-start 2026-01-10] [--steps 10,60,300,600] [--skip-accuracy]
        [--skip-performance]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plant.site import Site, load_site  # noqa: E402
from simulator.climate import OutdoorWeather  # noqa: E402
from simulator.season import SEASON_STEP_S, SeasonSettings, run_season, season_start  # noqa: E402

SITE_FILES = ["hydrothermal-doublet.yaml", "deep-borehole-school.yaml", "shallow-field.yaml"]
MIDWINTER = datetime(2026, 1, 10, tzinfo=UTC)
FIGURES = ("delivered_heat_kwh", "electricity_kwh", "scop", "max_starts_in_hour",
           "degree_hours_below_setpoint", "min_indoor_c", "min_source_out_c")


def hourly_weather(site: Site, start: datetime, days: float) -> tuple[tuple[datetime, ...],
                                                                      tuple[float, ...]]:
    """The site's fitted climate sampled hourly, once, for every step to share."""
    weather = OutdoorWeather(site.station.climate, site.station.timezone, random.Random(7))
    times: list[datetime] = []
    temps: list[float] = []
    hours = int(days * 24) + 2
    for hour in range(hours):
        moment = start + timedelta(hours=hour)
        weather.advance(moment, 3600.0)
        times.append(moment)
        temps.append(weather.temp_c)
    return tuple(times), tuple(temps)


def performance(days: float, step_s: float) -> list[dict[str, object]]:
    """One season per demo station: wall and CPU seconds, and the headline figures."""
    rows = []
    for name in SITE_FILES:
        site = load_site(ROOT / "sites" / name)
        began_cpu = time.process_time()
        began = time.perf_counter()
        report = run_season(site, SeasonSettings(days=days, step_s=step_s,
                                                 start=season_start(site, 2025)))
        rows.append({"station": site.station.id, "days": days, "step_s": step_s,
                     "wall_s": round(time.perf_counter() - began, 1),
                     "cpu_s": round(time.process_time() - began_cpu, 1),
                     "scop": round(report.scop or 0.0, 2),
                     "delivered_mwh": round(report.delivered_heat_kwh / 1000.0, 1),
                     "starts": {u: f.starts for u, f in report.units.items()}})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def accuracy(days: float, steps: list[float], start: datetime) -> list[dict[str, object]]:
    """Each demo station at each step under one recorded weather, against the finest step."""
    rows = []
    for name in SITE_FILES:
        site = load_site(ROOT / "sites" / name)
        weather = hourly_weather(site, start, days)
        reference: dict[str, float] = {}
        for step in sorted(steps):
            report = run_season(site, SeasonSettings(days=days, step_s=step, start=start,
                                                     weather=weather)).as_json()
            figures = {k: report[k] for k in FIGURES}
            figures["starts"] = sum(u["starts"] for u in report["units"].values())
            if not reference:
                reference = dict(figures)
            row: dict[str, object] = {"station": site.station.id, "step_s": step,
                                      "wall_s": round(report["wall_s"], 1)}
            for key, value in figures.items():
                base = reference[key]
                row[key] = round(value, 2) if value is not None else None
                if key in ("delivered_heat_kwh", "electricity_kwh", "scop") and base:
                    row[f"{key}_vs_finest_pct"] = round(100.0 * (value - base) / base, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> int:
    """Run the benchmark and print one JSON line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=180.0)
    parser.add_argument("--step", type=float, default=SEASON_STEP_S)
    parser.add_argument("--accuracy-days", type=float, default=3.0)
    parser.add_argument("--steps", default="10,60,300,600")
    parser.add_argument("--accuracy-start", type=datetime.fromisoformat, default=MIDWINTER,
                        help="first moment of the accuracy runs (default 2026-01-10, UTC)")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-performance", action="store_true")
    args = parser.parse_args()
    print(f"# load average {os.getloadavg()[0]:.2f} at start", flush=True)
    if not args.skip_performance:
        performance(args.days, args.step)
    if not args.skip_accuracy:
        start = args.accuracy_start
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        accuracy(args.accuracy_days, [float(s) for s in args.steps.split(",")], start)
    print(f"# load average {os.getloadavg()[0]:.2f} at end", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
