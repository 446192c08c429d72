"""Season of each demo station under its local logic and under supervisory staging.

    PYTHONPATH=. .venv/bin/python bench/bench_staging.py [--days 180] [--start ISO] \
        [--site NAME ...] [--out FILE.json]

Runs ``simulator.season.run_season`` twice per station (same seed, weather and start) and
prints, side by side, what docs/staging.md compares: delivered heat, electricity, SCOP, hours
and degree-hours below the indoor setpoint, compressor starts (total and most in any hour),
the lowest source temperature leaving the plant, reinjection and anti-freeze violations, and
the supervisor's decisions by condition.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from controller.supervisor import supervisor_for  # noqa: E402
from plant.site import load_site  # noqa: E402
from simulator.season import SeasonSettings, run_season  # noqa: E402

SITES = ("deep-borehole-school", "hydrothermal-doublet", "shallow-field")
FIELDS = ("delivered_heat_kwh", "electricity_kwh", "scop", "hours_below_setpoint",
          "degree_hours_below_setpoint", "min_indoor_c", "max_starts_in_hour",
          "min_source_out_c", "reinjection_violation_hours", "antifreeze_violation_hours",
          "wall_s")


def compare(name: str, days: float, start: datetime | None) -> dict[str, Any]:
    """Both runs of one station and their figures."""
    site = load_site(ROOT / "sites" / f"{name}.yaml")
    result: dict[str, Any] = {"station": name, "days": days,
                              "start": start.isoformat() if start else "season start"}
    for control in ("local", "supervisory"):
        supervisor = supervisor_for(site) if control == "supervisory" else None
        wall = time.perf_counter()
        cpu = time.process_time()
        report = run_season(site, SeasonSettings(days=days, control=control, start=start),
                            supervisor)
        figures = {k: getattr(report, k) for k in FIELDS}
        figures["starts"] = sum(u.starts for u in report.units.values())
        figures["starts_by_unit"] = {u: f.starts for u, f in report.units.items()}
        figures["wall_s"] = round(time.perf_counter() - wall, 1)
        figures["cpu_s"] = round(time.process_time() - cpu, 1)
        figures["load_average"] = round(os.getloadavg()[0], 2)
        if supervisor is not None:
            figures["decisions"] = dict(Counter(d.condition for _, d in supervisor.log))
        result[control] = figures
        print(name, control, json.dumps(figures), flush=True)
    return result


def main() -> int:
    """Run the comparison and print (or write) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=180.0)
    parser.add_argument("--site", action="append", choices=SITES)
    parser.add_argument("--start", type=datetime.fromisoformat,
                        help="first moment, ISO 8601 with offset (default: the season's start)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = [compare(name, args.days, args.start) for name in (args.site or SITES)]
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
