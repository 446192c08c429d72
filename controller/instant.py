"""A station's instantaneous rules, observed again only when what they see may have changed.

An instantaneous rule's observation is a function of its inputs' samples (value, quality,
reason) and of whether each is stale; nothing else about time enters it. So an observation
stays what it was until one of three things happens: an input gets a new sample; an input
that was fresh may have gone stale (its age passes the rule's ``stale_after_s``); or the
dating of unrestated samples moves backwards (the gateway went offline or came back, or an
input fell out of the report-by-exception horizon, :meth:`StationFeed.view`). A rule with a
stale input is observed every time, since its text says how old the input is. Everything
else is the observation of last time, the same object: the result equals observing every
rule on every evaluation (``tests/controller/test_instant.py`` replays a recorded stream both
ways).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.alarms import Observation
from controller.feed import DatedSamples, StationFeed, holds_for_s
from controller.rules import AlarmRule, comm_problem, device_comm_observation, observe
from plant.contract import Quality


@dataclass
class _Seen:
    """One rule's latest observation and until when time alone cannot change it."""

    observation: Observation
    oldest: datetime | None
    """The time of the oldest good input (None: no input can turn stale)."""
    stale_after_s: float
    oldest_raw: datetime | None
    """The oldest own time of an input's sample (for the report-by-exception horizon)."""
    every_time: bool
    """An input was stale: the observation's text carries its age."""


@dataclass
class _Device:
    """A device's comm rule, kept point by point: it reads every point of the device."""

    problems: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Point -> why it is unusable and, if so, that the device did not answer it."""
    stale: set[str] = field(default_factory=set)
    """Points that are stale: their text carries their age, so they are looked at each time."""
    oldest: datetime | None = None
    """No later than the time of the oldest good point when it was last looked at."""
    oldest_raw: datetime | None = None
    dirty: set[str] = field(default_factory=set)
    """Points with a new sample since the device was last observed."""
    observation: Observation | None = None


@dataclass
class InstantRules:
    """The instantaneous rules of one station, with their latest observations."""

    rules: tuple[AlarmRule, ...]
    refresh_s: float
    """The site's full refresh (how long an unrestated value holds)."""
    fresh_s: float = 60.0
    """No rule calls a sample this old stale (the least ``stale_after_s``)."""
    observed: int = 0
    """How many rule observations were made (the others were reused)."""
    _readers: dict[str, tuple[int, ...]] = field(default_factory=dict)
    _points: list[tuple[str, ...]] = field(default_factory=list)
    _ids: list[str] = field(default_factory=list)
    _device_rule: list[bool] = field(default_factory=list)
    _seen: dict[int, _Seen] = field(default_factory=dict)
    _devices: dict[int, _Device] = field(default_factory=dict)
    _alive: bool | None = None

    def __post_init__(self) -> None:
        if any(r.rule.windowed for r in self.rules):
            raise ValueError("only instantaneous rules are observed on the latest samples")
        self.fresh_s = min([60.0, *(r.params.get("stale_after_s", 60.0) for r in self.rules)])
        self._points = [rule.points() for rule in self.rules]
        self._ids = [rule.spec.id for rule in self.rules]
        self._device_rule = [rule.spec.rule == "device_comm" for rule in self.rules]
        readers: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            for point in set(rule.points()):
                readers.setdefault(point, []).append(index)
        self._readers = {point: tuple(found) for point, found in readers.items()}

    def observe(self, feed: StationFeed, now: datetime) -> dict[str, Observation]:
        """Every rule's observation at ``now``: made again where it may differ, else reused."""
        changed = feed.take_changed()
        if feed.alive != self._alive:
            self._alive = feed.alive
            self._seen.clear()
            self._devices.clear()
        for point in changed:
            for index in self._readers.get(point, ()):
                self._seen.pop(index, None)
                device = self._devices.get(index)
                if device is not None:
                    device.dirty.add(point)
        heard = feed.heard_at
        horizon = (heard - timedelta(seconds=holds_for_s(self.refresh_s))
                   if heard is not None and self._alive else None)
        view = feed.view(now, self.fresh_s)
        result: dict[str, Observation] = {}
        for index, rule in enumerate(self.rules):
            if self._device_rule[index]:
                result[self._ids[index]] = self._device(index, rule, feed, view, now=now,
                                                        horizon=horizon)
                continue
            seen = self._seen.get(index)
            if seen is None or seen.every_time or (
                    seen.oldest is not None
                    and (now - seen.oldest).total_seconds() > seen.stale_after_s) or (
                    horizon is not None and seen.oldest_raw is not None
                    and seen.oldest_raw < horizon):
                seen = self._observe(index, feed, view, now)
                self._seen[index] = seen
                self.observed += 1
            result[self._ids[index]] = seen.observation
        return result

    def _device(self, index: int, rule: AlarmRule, feed: StationFeed, view: DatedSamples, *,
                now: datetime, horizon: datetime | None) -> Observation:
        """A device's comm rule, looking again only at the points that may have changed."""
        stale_after_s = rule.params.get("stale_after_s", 60.0)
        device = self._devices.get(index)
        if device is None or (device.oldest is not None
                              and (now - device.oldest).total_seconds() > stale_after_s) or (
                horizon is not None and device.oldest_raw is not None
                and device.oldest_raw < horizon):
            device = _Device()
            self._devices[index] = device
            looked = set(self._points[index])
        else:
            looked = device.dirty | device.stale
        device.dirty = set()
        if device.observation is not None and not looked:
            return device.observation
        for point in looked:
            raw = feed.latest.get(point)
            problem, unanswered = comm_problem(point, view.get(point), now, stale_after_s)
            if problem:
                device.problems[point] = (problem, unanswered)
            else:
                device.problems.pop(point, None)
            device.stale.discard(point)
            if raw is None:
                continue
            if device.oldest_raw is None or raw.t < device.oldest_raw:
                device.oldest_raw = raw.t
            if raw.q is Quality.GOOD and raw.v is not None:
                t = view.time_of(raw)
                if (now - t).total_seconds() > stale_after_s:
                    device.stale.add(point)
                if device.oldest is None or t < device.oldest:
                    device.oldest = t
        problems: list[str] = []
        lost: list[str] = []
        if device.problems:  # in the rule's order of points
            for point in self._points[index]:
                found = device.problems.get(point)
                if found is not None:
                    problems.append(found[0])
                    if found[1]:
                        lost.append(found[1])
        device.observation = device_comm_observation(rule, problems, lost)
        self.observed += 1
        return device.observation

    def _observe(self, index: int, feed: StationFeed, view: DatedSamples, now: datetime
                 ) -> _Seen:
        rule = self.rules[index]
        observation = observe(rule, view, now)
        stale_after_s = rule.params.get("stale_after_s", 60.0)
        oldest: datetime | None = None
        oldest_raw: datetime | None = None
        every_time = False
        for point in self._points[index]:
            raw = feed.latest.get(point)
            if raw is None:
                continue
            if oldest_raw is None or raw.t < oldest_raw:
                oldest_raw = raw.t
            if raw.q is not Quality.GOOD or raw.v is None:
                continue  # judged by its quality, whatever its age
            t = view.time_of(raw)
            if (now - t).total_seconds() > stale_after_s:
                every_time = True
            if oldest is None or t < oldest:
                oldest = t
        return _Seen(observation, oldest, stale_after_s, oldest_raw, every_time)


def instant_rules(rules: Sequence[AlarmRule], refresh_s: float) -> InstantRules:
    """The instantaneous ones of a station's rules, ready to be observed incrementally."""
    return InstantRules(tuple(r for r in rules if not r.rule.windowed), refresh_s)
