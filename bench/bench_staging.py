"""Season of each demo station under its local logic and under supervisory staging.

    PYTHONPATH=. .venv/bin/python bench/bench_staging.py [--days 180] [--start ISO] \
        [--site NAME ...] [--out FILE.json] [--series DIR]

Runs ``simulator.season.run_season`` twice per station (same seed, weather and start) and
prints, side by side, what docs/staging.md compares: delivered heat, electricity (compressors and
pumps), SCOP, hours and degree-hours below the indoor setpoint, compressor starts (total, by
unit and most in any hour), each unit's run hours, the lowest source temperature leaving the
plant, reinjection and anti-freeze violations, the supply's deficit under its target (K·h) and
the supervisor's decisions by condition. With ``--series DIR`` every step of each run goes to
``DIR/STATION-CONTROL.csv``: UTC time, outdoor, coldest room, supply and its target, heat-pump
heat, which heat pumps run and the source reaching the plant.
"""

from __future__ import annotations

import argparse
import csv
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
from simulator.station import StationModel  # noqa: E402

SITES = ("deep-borehole-school", "hydrothermal-doublet", "shallow-field")
FIELDS = ("delivered_heat_kwh", "electricity_kwh", "scop", "hours_below_setpoint",
          "degree_hours_below_setpoint", "min_indoor_c", "max_starts_in_hour",
          "min_source_out_c", "reinjection_violation_hours", "antifreeze_violation_hours",
          "wall_s")


class Series:
    """The supply's deficit under its target and, optionally, every step as a CSV row."""

    def __init__(self, path: Path | None) -> None:
        self.deficit_kh = 0.0
        self.rows: list[list[object]] = []
        self.path = path

    def __call__(self, model: StationModel, dt_s: float) -> None:
        """Observe the station after one step."""
        self.deficit_kh += max(model.supply_target_c - model.plant_supply_c, 0.0) * dt_s / 3600
        if self.path is not None:
            self.rows.append([
                model.now.strftime("%Y-%m-%dT%H:%M:%SZ"), round(model.weather.temp_c, 2),
                round(min(z.indoor_temp_c for z in model.zones.values()), 3),
                round(model.plant_supply_c, 2), round(model.supply_target_c, 2),
                round(sum(h.heat_kw for h in model.heat_pumps.values()), 1),
                " ".join(i for i, h in model.heat_pumps.items() if h.running),
                round(model.source_supply_c, 3)])

    def write(self) -> None:
        """Write the rows, if a path was given."""
        if self.path is None:
            return
        with self.path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["utc", "outdoor_c", "coldest_room_c", "supply_c", "target_c",
                             "heat_pump_kw", "running", "source_in_c"])
            writer.writerows(self.rows)


def compare(name: str, days: float, start: datetime | None,
            series: Path | None = None) -> dict[str, Any]:
    """Both runs of one station and their figures."""
    site = load_site(ROOT / "sites" / f"{name}.yaml")
    result: dict[str, Any] = {"station": name, "days": days,
                              "start": start.isoformat() if start else "season start"}
    for control in ("local", "supervisory"):
        supervisor = supervisor_for(site) if control == "supervisory" else None
        wall = time.perf_counter()
        cpu = time.process_time()
        steps = Series(series / f"{name}-{control}.csv" if series else None)
        report = run_season(site, SeasonSettings(days=days, control=control, start=start),
                            supervisor, steps)
        steps.write()
        figures = {k: getattr(report, k) for k in FIELDS}
        figures["supply_deficit_kh"] = round(steps.deficit_kh, 1)
        figures["starts"] = sum(u.starts for u in report.units.values())
        figures["starts_by_unit"] = {u: f.starts for u, f in report.units.items()}
        figures["run_hours_by_unit"] = {u: round(f.run_hours, 1) for u, f in report.units.items()}
        figures["compressor_kwh"] = report.compressor_kwh
        figures["pump_kwh"] = report.pump_kwh
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
    parser.add_argument("--series", type=Path,
                        help="folder for every step of each run as CSV (created if missing)")
    args = parser.parse_args()
    if args.series:
        args.series.mkdir(parents=True, exist_ok=True)
    results = [compare(name, args.days, args.start, args.series)
               for name in (args.site or SITES)]
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
