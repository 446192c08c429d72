"""``geoscada season``: run a station's season in-process and write the figures as JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from plant.site import SiteFileError, load_site
from plant.supervision import Supervisor, SupervisorFactory
from simulator.season import (
    CONTROL_INTERVAL_S,
    SEASON_STEP_S,
    SeasonSettings,
    WeatherFileError,
    read_weather,
    run_season,
    season_start,
)

DEFAULT_SUPERVISOR = "controller.supervisor:supervisor_for"
"""The supervisory controller ``--control supervisory`` runs unless told otherwise."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geoscada season",
        description="Run a station faster than real time with its local logic or a "
                    "supervisory controller closing the loop; write the season's figures.")
    parser.add_argument("site", type=Path, help="site file (YAML)")
    parser.add_argument("--days", type=float, required=True, help="simulated days")
    weather = parser.add_mutually_exclusive_group()
    weather.add_argument("--weather", type=Path,
                         help="hourly CSV with columns time (ISO 8601 with offset) and "
                              "outdoor_temp_c, covering the whole run")
    weather.add_argument("--climate", type=float, default=0.0, metavar="OFFSET_K",
                         help="the site's fitted climate shifted by this many kelvin "
                              "(default 0)")
    parser.add_argument("--control", choices=("local", "supervisory"), default="local")
    parser.add_argument("--supervisor", default=DEFAULT_SUPERVISOR, metavar="MODULE:NAME",
                        help="factory taking the site and returning the supervisor "
                             f"(default {DEFAULT_SUPERVISOR})")
    parser.add_argument("--unit-out", action="append", default=[], metavar="NAME",
                        help="a heat pump out of service for the whole run (repeatable)")
    parser.add_argument("--start", help="first moment, ISO 8601 (default: the heating "
                                        "season's start last year)")
    parser.add_argument("--step", type=float, default=SEASON_STEP_S,
                        help=f"physics step in seconds (default {SEASON_STEP_S:g})")
    parser.add_argument("--control-interval", type=float, default=CONTROL_INTERVAL_S,
                        help="seconds between supervisor calls "
                             f"(default {CONTROL_INTERVAL_S:g})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    return parser


def load_supervisor(spec: str) -> SupervisorFactory:
    """Import ``MODULE:NAME`` and return the factory it names."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--supervisor {spec!r} must read MODULE:NAME")
    module = importlib.import_module(module_name)
    factory: SupervisorFactory = getattr(module, attribute)
    return factory


def main(argv: Sequence[str]) -> int:
    """Run the season and write its report; exit 2 on bad input."""
    args = _parser().parse_args(list(argv))
    try:
        site = load_site(args.site)
        start = (datetime.fromisoformat(args.start) if args.start
                 else season_start(site, datetime.now(UTC).year - 1))
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        weather = None
        if args.weather is not None:
            times, temps = read_weather(args.weather)
            weather = (tuple(times), tuple(temps))
        supervisor: Supervisor | None = None
        if args.control == "supervisory":
            supervisor = load_supervisor(args.supervisor)(site)
        settings = SeasonSettings(
            days=args.days, control=args.control, start=start, step_s=args.step,
            control_interval_s=args.control_interval, seed=args.seed,
            units_out=tuple(args.unit_out), weather=weather, climate_offset_k=args.climate)
        report = run_season(site, settings, supervisor)
    except (SiteFileError, WeatherFileError, ValueError, ImportError, AttributeError) as error:
        print(f"geoscada season: {error}", file=sys.stderr)
        return 2
    text = json.dumps(report.as_json(), indent=2, sort_keys=True) + "\n"
    partial = args.out.with_name(args.out.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(args.out)
    units = ", ".join(f"{ident} {figures.starts} starts (max {figures.max_starts_in_hour}/h)"
                      for ident, figures in report.units.items())
    scop = f"{report.scop:.2f}" if report.scop is not None else "-"
    print(f"{site.station.id}: {report.days:g} days under {report.control} control in "
          f"{report.wall_s:.1f} s; delivered {report.delivered_heat_kwh:,.0f} kWh, "
          f"electricity {report.electricity_kwh:,.0f} kWh, SCOP {scop}; {units}; "
          f"{report.hours_below_setpoint:.1f} h below setpoint")
    return 0
