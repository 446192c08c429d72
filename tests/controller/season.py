"""A heating season of one station in process: the simulator's physics, the controller's rules.

The station model runs faster than real time in coarse steps; each step's readings become the
samples a gateway would publish (a dead sensor a bad sample, a silent device's points
``comm_lost``), the instantaneous rules see the latest samples and the windowed rules, every
hour, windows of about 30 buckets of the run's own history (as the historian's rollups give
them to the service). The gateway's clock offset is the harness's: zero, or a skew it is told
to apply for a while.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from controller.alarms import AlarmRecord, AlarmStatus, Observation, evaluate
from controller.feed import grid_step_s
from controller.rules import (
    CLOCK_OFFSET_POINT,
    AlarmRule,
    Window,
    observe,
    observe_window,
    plant_flags,
    site_alarms,
)
from plant.contract import Quality, Reason, Sample
from plant.site import Site
from simulator.faults import FaultSpec
from simulator.sim import StationSim

WINDOWED_EVERY_S = 3600.0


@dataclass(frozen=True)
class Skew:
    """The gateway's clock off by ``offset_s`` from ``at_s`` for ``duration_s``."""

    at_s: float
    duration_s: float
    offset_s: float


@dataclass(frozen=True)
class Injected:
    """A fault to inject and the alarms any one of which detects it."""

    spec: FaultSpec | Skew
    detected_by: tuple[str, ...]

    @property
    def start_s(self) -> float:
        """Seconds after the season's start when it begins."""
        return self.spec.at_s

    @property
    def end_s(self) -> float:
        """Seconds after the season's start when it ends."""
        duration = self.spec.duration_s
        return math.inf if duration is None else self.spec.at_s + duration


@dataclass
class Season:
    """What a season produced: the journal, and the run's bounds."""

    site: Site
    start: datetime
    end: datetime
    journal: list[AlarmRecord] = field(default_factory=list)
    statuses: dict[str, AlarmStatus] = field(default_factory=dict)


def season_start(site: Site, year: int = 2026) -> datetime:
    """Midnight UTC of the first day of the site's heating season."""
    month, day = (int(x) for x in site.station.climate.heating_season_start.split("-"))
    return datetime(year, month, day, tzinfo=UTC)


def window_of(values: np.ndarray, good: np.ndarray, count: int, step_s: float,
            window_s: float) -> Window:
    """The last ``window_s`` of a point's history as bucket means, about 30 buckets."""
    per = max(1, round(grid_step_s(window_s) / step_s))
    buckets = max(1, round(window_s / step_s / per))
    take = min(count, buckets * per)
    v = np.full(buckets * per, np.nan)
    g = np.zeros(buckets * per, dtype=np.bool_)
    v[buckets * per - take:] = values[count - take:count]
    g[buckets * per - take:] = good[count - take:count]
    grid = v.reshape(buckets, per)
    usable = g.reshape(buckets, per) & np.isfinite(grid)
    sums = np.where(usable, grid, 0.0).sum(axis=1)
    counts = usable.sum(axis=1)
    means = np.divide(sums, counts, out=np.full(buckets, np.nan), where=counts > 0)
    return Window(means, counts > 0, per * step_s)


def run_season(site: Site, faults: list[Injected], *, days: float, step_s: float,
               seed: int = 1, alarms: tuple[AlarmRule, ...] | None = None,
               from_day: float = 0.0, windowed_every_s: float = WINDOWED_EVERY_S) -> Season:
    """Advance the station through ``days`` of its season from ``from_day`` with ``faults``."""
    start = season_start(site) + timedelta(days=from_day)
    sim = StationSim(site, seed=seed, start=start, warm_up_s=12 * 3600.0)
    skews = [f.spec for f in faults if isinstance(f.spec, Skew)]
    for fault in faults:
        if isinstance(fault.spec, FaultSpec):
            sim.inject(fault.spec)
    rules = alarms if alarms is not None else site_alarms(site)
    specs = [a.spec for a in rules]
    instant = [a for a in rules if not a.rule.windowed]
    windowed = [a for a in rules if a.rule.windowed]
    recorded = sorted({p for a in windowed for p in a.points()})
    column = {p: i for i, p in enumerate(recorded)}
    steps = int(days * 86400.0 / step_s)
    history = np.full((steps, len(recorded)), np.nan)
    history_good = np.zeros((steps, len(recorded)), dtype=np.bool_)
    silent_points = {d.id: {p.id for p in site.points_on(d.id)} for d in site.devices}
    season = Season(site, start, start)
    windowed_obs: dict[str, Observation] = {}
    every = max(1, round(windowed_every_s / step_s))
    for step in range(steps):
        sim.advance(step_s)
        now = sim.now
        elapsed = (step + 1) * step_s
        dead = set().union(*(silent_points[d] for d in sim.silent)) if sim.silent else set()
        latest: dict[str, Sample] = {}
        for point, value in sim.values().items():
            if point in dead:
                latest[point] = Sample(p=point, t=now, v=None, q=Quality.BAD,
                                       r=Reason.COMM_LOST)
            elif value is None:
                latest[point] = Sample(p=point, t=now, v=None, q=Quality.BAD,
                                       r=Reason.SENSOR_FAULT)
            else:
                latest[point] = Sample(p=point, t=now, v=value)
        offset = sum(s.offset_s for s in skews if s.at_s <= elapsed < s.at_s + s.duration_s)
        latest[CLOCK_OFFSET_POINT] = Sample(p=CLOCK_OFFSET_POINT, t=now, v=offset)
        for point, index in column.items():
            sample = latest[point]
            usable = sample.q is Quality.GOOD and isinstance(sample.v, int | float)
            history_good[step, index] = usable
            if usable:
                history[step, index] = float(sample.v)  # type: ignore[arg-type]
        if step % every == every - 1:
            for rule in windowed:
                window_s = rule.params["window_s"]
                found = {p: window_of(history[:, column[p]], history_good[:, column[p]],
                                    step + 1, step_s, window_s) for p in rule.points()}
                windowed_obs[rule.spec.id] = observe_window(rule, found, site.station)
        observations = {a.spec.id: observe(a, latest, now) for a in instant}
        observations.update(windowed_obs)
        season.statuses, rows = evaluate(specs, season.statuses, observations,
                                         plant_flags(site, latest, now), now)
        season.journal += rows
    season.end = start + timedelta(seconds=steps * step_s)
    return season
