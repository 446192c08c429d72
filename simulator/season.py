"""A station's heating season in-process, faster than real time, with the loop closed.

``run_season`` steps one :class:`~simulator.sim.StationSim` through ``days`` of simulated time
in coarse steps. Under ``local`` control the station's own PLC logic runs it; under
``supervisory`` control a :class:`plant.supervision.Supervisor` reads every point as the
gateway would and writes setpoints by point id, checked as the station checks any write. The
report counts what a commissioning engineer compares strategies by: delivered heat,
electricity, SCOP, compressor starts (and most starts in any hour), comfort shortfall, the
lowest source temperatures, reinjection and anti-freeze violations.
"""

from __future__ import annotations

import csv
import math
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from plant.site import Site
from plant.supervision import PlantView, Supervisor
from simulator.climate import OutdoorWeather, SeasonalCurve
from simulator.local_control import occupied
from simulator.sim import StationSim, WriteRefusedError
from simulator.station import CommandError, StationModel

Control = Literal["local", "supervisory"]

SEASON_STEP_S = 300.0
"""Default physics step of a season run (docs/simulator.md: what it costs in accuracy)."""
CONTROL_INTERVAL_S = 300.0
"""Default time between two calls of the supervisor."""
COMFORT_TOLERANCE_K = 0.5
"""A zone counts as below its setpoint when it is this much under the indoor design temperature."""
HOUR_S = 3600.0


class WeatherFileError(ValueError):
    """A weather file that cannot drive a season (format, gaps, span)."""


class RecordedWeather(OutdoorWeather):
    """Outdoor temperature interpolated from an hourly file instead of the fitted climate."""

    def __init__(self, base: OutdoorWeather, times: Sequence[datetime],
                 temps_c: Sequence[float]) -> None:
        self.__dict__.update(base.__dict__)
        self._times = [t.timestamp() for t in times]
        self._temps = list(temps_c)

    def advance(self, now: datetime, dt_s: float) -> None:
        """Move to ``now``: the file's temperature, linearly between its rows."""
        stamp = now.timestamp()
        times = self._times
        if not times[0] <= stamp <= times[-1]:
            raise WeatherFileError(f"the weather file covers {_iso(times[0])} to "
                                   f"{_iso(times[-1])}, not {now.isoformat()}")
        index = min(bisect_right(times, stamp), len(times) - 1)
        before = max(index - 1, 0)
        span = times[index] - times[before]
        share = (stamp - times[before]) / span if span > 0 else 0.0
        self.temp_c = self._temps[before] + share * (self._temps[index] - self._temps[before])
        self.daily_mean_c = self.temp_c


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat()


def read_weather(path: Path) -> tuple[list[datetime], list[float]]:
    """Read a CSV of ``time,outdoor_temp_c`` rows (ISO 8601 times with offset, ascending)."""
    times: list[datetime] = []
    temps: list[float] = []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle)
        if rows.fieldnames is None or not {"time", "outdoor_temp_c"} <= set(rows.fieldnames):
            raise WeatherFileError(f"{path}: the header must name time and outdoor_temp_c")
        for line, row in enumerate(rows, start=2):
            try:
                moment = datetime.fromisoformat(row["time"])
                temp = float(row["outdoor_temp_c"])
            except (TypeError, ValueError) as error:
                raise WeatherFileError(f"{path}:{line}: {error}") from None
            if moment.tzinfo is None:
                raise WeatherFileError(f"{path}:{line}: time {row['time']} has no UTC offset")
            if not math.isfinite(temp) or not -60.0 <= temp <= 50.0:
                raise WeatherFileError(f"{path}:{line}: outdoor temperature {temp} is not "
                                       "plausible")
            if times and moment <= times[-1]:
                raise WeatherFileError(f"{path}:{line}: times must ascend")
            times.append(moment)
            temps.append(temp)
    if len(times) < 2:
        raise WeatherFileError(f"{path}: needs at least two rows")
    return times, temps


@dataclass(frozen=True)
class SeasonSettings:
    """How a season is run."""

    days: float
    control: Control = "local"
    start: datetime | None = None
    """First moment (UTC); default: local midnight of the climate's heating-season start."""
    step_s: float = SEASON_STEP_S
    control_interval_s: float = CONTROL_INTERVAL_S
    seed: int = 0
    units_out: tuple[str, ...] = ()
    """Heat pumps out of service for the whole run."""
    weather: tuple[tuple[datetime, ...], tuple[float, ...]] | None = None
    climate_offset_k: float = 0.0
    """Shift of the fitted climate's temperatures (a warmer or colder year)."""


@dataclass
class UnitFigures:
    """One heat pump over the season."""

    starts: int = 0
    max_starts_in_hour: int = 0
    run_hours: float = 0.0
    heat_kwh: float = 0.0
    electricity_kwh: float = 0.0
    cop: float | None = None
    protection_trips: int = 0
    min_evaporator_out_c: float | None = None


@dataclass
class SeasonReport:
    """What a season run gives: energies, starts, comfort, source and reinjection margins."""

    station: str
    control: Control
    start: str
    days: float
    step_s: float
    delivered_heat_kwh: float = 0.0
    electricity_kwh: float = 0.0
    compressor_kwh: float = 0.0
    pump_kwh: float = 0.0
    scop: float | None = None
    units: dict[str, UnitFigures] = field(default_factory=dict)
    max_starts_in_hour: int = 0
    comfort_hours: float = 0.0
    """Hours in which comfort was owed (heating season, occupied periods)."""
    hours_below_setpoint: float = 0.0
    degree_hours_below_setpoint: float = 0.0
    min_indoor_c: float | None = None
    antifreeze_threshold_c: float = 0.0
    """The station's anti-freeze threshold (:attr:`plant.site.Station.antifreeze_guard`)."""
    antifreeze_violation_hours: float = 0.0
    """Hours with a room below that threshold, in or out of the heating season."""
    min_source_in_c: float | None = None
    """Lowest temperature of the source stream reaching the plant (well water or loop)."""
    min_source_out_c: float | None = None
    """Lowest temperature of the source stream leaving the plant (reinjection or loop return)."""
    produced_m3: float = 0.0
    reinjected_m3: float = 0.0
    overflow_m3: float = 0.0
    reinjection_violation_hours: float = 0.0
    """Hours in which the wells produced more than the reinjection wells could take."""
    writes: int = 0
    refused_writes: dict[str, int] = field(default_factory=dict)
    """Refusal reason → count of supervisor writes the station refused."""
    watchdog_takeovers: int = 0
    wall_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON types."""
        return asdict(self)


def _lowest(current: float | None, value: float) -> float:
    return value if current is None else min(current, value)


class _Tally:
    """Running figures of a season, observed after each step."""

    def __init__(self, sim: StationSim, report: SeasonReport) -> None:
        self.sim = sim
        self.report = report
        model = sim.model
        site = sim.site
        self.schedule = site.station.schedule
        self.zone = ZoneInfo(site.station.timezone)
        self.setpoint_c = site.station.indoor_design_temp_c
        report.antifreeze_threshold_c = site.station.antifreeze_guard.indoor_c
        self.first_starts = {ident: hp.starts for ident, hp in model.heat_pumps.items()}
        self.starts = dict(self.first_starts)
        self.trips = {ident: hp.protection_trips for ident, hp in model.heat_pumps.items()}
        self.recent: dict[str, deque[float]] = {ident: deque() for ident in model.heat_pumps}
        self.elapsed_s = 0.0
        for ident in model.heat_pumps:
            report.units[ident] = UnitFigures()

    def observe(self, model: StationModel, dt_s: float) -> None:
        """Count one step that has just ended."""
        report = self.report
        hours = dt_s / HOUR_S
        self.elapsed_s += dt_s
        for ident, hp in model.heat_pumps.items():
            figures = report.units[ident]
            if hp.starts > self.starts[ident]:
                window = self.recent[ident]
                for _ in range(hp.starts - self.starts[ident]):
                    window.append(self.elapsed_s)
                self.starts[ident] = hp.starts
            window = self.recent[ident]
            while window and window[0] <= self.elapsed_s - HOUR_S:
                window.popleft()
            figures.max_starts_in_hour = max(figures.max_starts_in_hour, len(window))
            if hp.running and hp.starting_s <= 0.0 and hp.heat_kw > 0.0:
                figures.min_evaporator_out_c = _lowest(figures.min_evaporator_out_c,
                                                       hp.evaporator_out_c)
        coldest = min(z.indoor_temp_c for z in model.zones.values())
        report.min_indoor_c = _lowest(report.min_indoor_c, coldest)
        if coldest < report.antifreeze_threshold_c:
            report.antifreeze_violation_hours += hours
        if model.weather.in_heating_season(model.now) and (
                self.schedule is None
                or occupied(self.schedule, model.now.astimezone(self.zone))):
            report.comfort_hours += hours
            shortfall = self.setpoint_c - coldest
            if shortfall > COMFORT_TOLERANCE_K:
                report.hours_below_setpoint += hours
            if shortfall > 0.0:
                report.degree_hours_below_setpoint += shortfall * hours
        if model.source_flow_m3h > 0.0:
            report.min_source_in_c = _lowest(report.min_source_in_c, model.source_supply_c)
            report.min_source_out_c = _lowest(report.min_source_out_c, model.source_return_c)
        if model.overflow_m3h > 1e-9:
            report.reinjection_violation_hours += hours

    def finish(self, model: StationModel, wall_s: float) -> SeasonReport:
        """Close the figures from the model's meters."""
        report = self.report
        balance = model.energy_balance()
        report.delivered_heat_kwh = balance.delivered_kwh
        report.compressor_kwh = balance.compressor_kwh
        report.pump_kwh = balance.pump_kwh
        report.electricity_kwh = balance.compressor_kwh + balance.pump_kwh
        report.scop = (report.delivered_heat_kwh / report.electricity_kwh
                       if report.electricity_kwh > 0 else None)
        report.produced_m3 = balance.produced_m3
        report.reinjected_m3 = balance.reinjected_m3
        report.overflow_m3 = balance.overflow_m3
        for ident, hp in model.heat_pumps.items():
            figures = report.units[ident]
            figures.starts = hp.starts - self.first_starts[ident]
            figures.run_hours = hp.run_hours
            figures.heat_kwh = hp.heat_kwh
            figures.electricity_kwh = hp.energy_kwh
            figures.cop = hp.heat_kwh / hp.energy_kwh if hp.energy_kwh > 0 else None
            figures.protection_trips = hp.protection_trips - self.trips[ident]
        report.max_starts_in_hour = max(
            (f.max_starts_in_hour for f in report.units.values()), default=0)
        report.watchdog_takeovers = model.watchdog_takeovers
        report.wall_s = wall_s
        return report


def season_start(site: Site, year: int) -> datetime:
    """Local midnight of the climate's heating-season start in ``year``, in UTC."""
    month, day = (int(part) for part in site.station.climate.heating_season_start.split("-"))
    local = datetime(year, month, day, tzinfo=ZoneInfo(site.station.timezone))
    return local.astimezone(UTC)


def run_season(site: Site, settings: SeasonSettings,
               supervisor: Supervisor | None = None,
               observe: Callable[[StationModel, float], None] | None = None) -> SeasonReport:
    """Run one station through ``settings.days`` and report the season's figures.

    ``observe``, if given, sees the station after every step (with the step's length).
    """
    if settings.control == "supervisory" and supervisor is None:
        raise ValueError("supervisory control needs a supervisor")
    if not settings.days > 0 or not settings.step_s > 0 or not settings.control_interval_s > 0:
        raise ValueError("days, step and control interval must be positive")
    supervision = site.station.supervision
    if (settings.control == "supervisory" and supervision is not None
            and settings.control_interval_s >= supervision.heartbeat_timeout_s):
        raise ValueError(
            f"a supervisor called every {settings.control_interval_s:g} s cannot keep the "
            f"heartbeat of station {site.station.id}, which times out after "
            f"{supervision.heartbeat_timeout_s:g} s")
    wall = time.perf_counter()
    start = settings.start or season_start(site, datetime.now(UTC).year - 1)
    sim = StationSim(site, seed=settings.seed, start=start, warm_up_s=0.0)
    model = sim.model
    for unit in settings.units_out:
        if unit not in model.heat_pumps:
            raise ValueError(f"station {site.station.id} has no heat pump {unit!r}")
        model.trip_heat_pump(unit, True)
    if settings.weather is not None:
        times, temps = settings.weather
        model.weather = RecordedWeather(model.weather, times, temps)
        model.weather.advance(model.now, settings.step_s)
    elif settings.climate_offset_k:
        model.weather.curve = _shifted(model.weather, settings.climate_offset_k)
    report = SeasonReport(site.station.id, settings.control, start.isoformat(), settings.days,
                          settings.step_s)
    tally = _Tally(sim, report)
    total_s = settings.days * 86400.0
    elapsed = 0.0
    next_control = 0.0
    active = supervisor if settings.control == "supervisory" else None
    while elapsed < total_s - 1e-6:
        if active is not None and elapsed >= next_control - 1e-6:
            _supervise(sim, active, report)
            next_control += settings.control_interval_s
        step = min(settings.step_s, total_s - elapsed)
        if active is not None:
            step = min(step, max(next_control - elapsed, 1e-3))
        sim.advance(step)
        tally.observe(model, step)
        if observe is not None:
            observe(model, step)
        elapsed += step
    return tally.finish(model, time.perf_counter() - wall)


def _shifted(weather: OutdoorWeather, offset_k: float) -> SeasonalCurve:
    return replace(weather.curve, annual_mean_c=weather.curve.annual_mean_c + offset_k)


def _supervise(sim: StationSim, supervisor: Supervisor, report: SeasonReport) -> None:
    """One supervisor cycle: show it the readings, apply what it writes as the PLC would."""
    view = PlantView(sim.station_id, sim.now, sim.view())
    for setpoint in supervisor.step(view):
        report.writes += 1
        try:
            sim.write(setpoint.point, setpoint.value)
        except WriteRefusedError as refusal:
            report.refused_writes[refusal.reason] = report.refused_writes.get(
                refusal.reason, 0) + 1
        except CommandError:
            report.refused_writes["not_commandable"] = report.refused_writes.get(
                "not_commandable", 0) + 1
