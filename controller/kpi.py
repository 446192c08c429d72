"""Alarm-system KPIs per operator position, from the alarm journal, for any period.

The figures are those of ISA-18.2 / IEC 62682 Table 7 and EEMUA 191 as the anchors reproduce
them: alarms per day and per 10 minutes, share of 10-minute periods in flood, chattering and
stale alarms, the top-10 "bad actors" and their share of the load, the priority mix, and how
often alarms were shelved, suppressed or taken out of service. Definitions drift between
sources, so every threshold is a field of :class:`Thresholds` and each :class:`Figure` carries
the threshold it was judged against.

Counting conventions (stated because they change the figures):

* an *alarm* is an annunciation: a journal row that puts an alarm in front of the operator
  unacknowledged (a new activation, a shelf running out or a suppression released while the
  condition is active); condition changes hidden by a shelf or a suppression are not alarms;
* 10-minute periods are aligned to the clock (UTC) and empty periods count, so a quiet night
  does not vanish from the flood share; periods cut by the ends of the report count too;
* an alarm chatters when it is annunciated ``chatter_count`` times within ``chatter_window_s``;
* an alarm is stale while it stands (unacknowledged or acknowledged with its condition active)
  for longer than ``stale_after_s``; rows before the period are read to know what stands.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from controller.alarms import STANDING, AlarmRecord, Priority, Trigger

PERIOD_S = 600.0
DAY_S = 86400.0


class Thresholds(BaseModel):
    """KPI thresholds; the defaults are the anchors' ISA-18.2 / EEMUA 191 targets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_day_acceptable: float = 150.0
    per_day_maximum: float = 300.0
    per_10min_acceptable: float = 1.0
    per_10min_maximum: float = 2.0
    flood_above: int = 10
    """A 10-minute period with more new alarms than this is in flood."""
    flood_share_target: float = 0.01
    chatter_count: int = 3
    chatter_window_s: float = 60.0
    chatter_target: int = 0
    stale_after_s: float = DAY_S
    stale_per_day_below: int = 5
    bad_actors: int = 10
    bad_actor_share_target: float = 0.05
    priority_mix: dict[Priority, float] = Field(default_factory=lambda: {
        Priority.LOW: 0.80, Priority.MEDIUM: 0.15, Priority.HIGH: 0.05,
    })


class Figure(BaseModel):
    """One KPI value beside the threshold it is judged against."""

    model_config = ConfigDict(frozen=True)

    value: float
    target: float
    rule: Literal["at most", "below", "about"]
    meets: bool | None
    """None for an "about" target (a mix), which is reported, not judged."""

    @classmethod
    def at_most(cls, value: float, target: float) -> Figure:
        """A figure that should not exceed its target."""
        return cls(value=value, target=target, rule="at most", meets=value <= target)

    @classmethod
    def below(cls, value: float, target: float) -> Figure:
        """A figure that should stay strictly below its target."""
        return cls(value=value, target=target, rule="below", meets=value < target)


class BadActor(BaseModel):
    """One of the most frequent alarms of the period."""

    model_config = ConfigDict(frozen=True)

    alarm: str
    count: int


class PositionKpi(BaseModel):
    """The KPIs of one operator position over one period, with their thresholds."""

    model_config = ConfigDict(frozen=True)

    position: str
    start: datetime
    end: datetime
    thresholds: Thresholds
    alarms: int
    per_day: Figure
    """Judged against the acceptable figure; ``per_day_maximum`` is in the thresholds."""
    per_day_manageable: Figure
    per_10min_mean: Figure
    per_10min_peak: int
    periods: int
    flood_periods: int
    flood_share: Figure
    chattering: tuple[str, ...]
    chattering_count: Figure
    stale: tuple[str, ...]
    stale_peak_per_day: Figure
    bad_actors: tuple[BadActor, ...]
    bad_actor_share: Figure
    priority_share: dict[Priority, Figure]
    shelved: int
    """Times an alarm was put on the shelf during the period."""
    suppressed: int
    """Times an alarm was suppressed by the plant state during the period."""
    out_of_service: int


def _periods(start: datetime, end: datetime, size_s: float) -> tuple[int, int]:
    """Index of the first clock-aligned period and how many overlap [start, end)."""
    first = math.floor(start.timestamp() / size_s)
    last = math.ceil(end.timestamp() / size_s)
    return first, max(1, last - first)


def _chatters(times: Sequence[datetime], count: int, window_s: float) -> bool:
    span = timedelta(seconds=window_s)
    return any(times[i + count - 1] - times[i] <= span for i in range(len(times) - count + 1))


def _stale_spans(rows: Sequence[AlarmRecord], end: datetime, after_s: float
                 ) -> list[tuple[str, datetime, datetime]]:
    """(alarm, stale from, stale until) for every standing spell longer than ``after_s``."""
    since: dict[str, datetime] = {}
    spans: list[tuple[str, datetime, datetime]] = []
    limit = timedelta(seconds=after_s)
    for row in rows:
        standing = row.to_state in STANDING
        if standing and row.alarm not in since:
            since[row.alarm] = row.t
        elif not standing and row.alarm in since:
            began = since.pop(row.alarm)
            if row.t - began > limit:
                spans.append((row.alarm, began + limit, row.t))
    spans.extend((alarm, began + limit, end) for alarm, began in since.items()
                 if end - began > limit)
    return spans


def position_kpi(rows: Iterable[AlarmRecord], position: str, start: datetime, end: datetime,
                 thresholds: Thresholds | None = None) -> PositionKpi:
    """The KPIs of one position over [start, end) from its journal rows (earlier ones too)."""
    limits = thresholds or Thresholds()
    if end <= start:
        raise ValueError(f"the period must end after it starts ({start} .. {end})")
    mine = sorted((r for r in rows if r.position == position and r.t < end),
                  key=lambda r: (r.t, r.alarm, r.seq))
    inside = [r for r in mine if r.t >= start]
    alarms = [r for r in inside if r.annunciated]
    total = len(alarms)
    days = (end - start).total_seconds() / DAY_S

    first, periods = _periods(start, end, PERIOD_S)
    per_period = Counter(math.floor(r.t.timestamp() / PERIOD_S) - first for r in alarms)
    flood = sum(1 for n in per_period.values() if n > limits.flood_above)

    times: dict[str, list[datetime]] = defaultdict(list)
    for row in alarms:
        times[row.alarm].append(row.t)
    chattering = tuple(sorted(
        alarm for alarm, ts in times.items()
        if _chatters(ts, limits.chatter_count, limits.chatter_window_s)
    ))

    day0, day_count = _periods(start, end, DAY_S)
    stale_days: list[set[str]] = [set() for _ in range(day_count)]
    stale: set[str] = set()
    for alarm, stale_from, stale_until in _stale_spans(mine, end, limits.stale_after_s):
        since, until = max(stale_from, start), min(stale_until, end)
        if since >= until:
            continue
        stale.add(alarm)
        last_day = math.ceil(until.timestamp() / DAY_S) - day0
        for day in range(math.floor(since.timestamp() / DAY_S) - day0, last_day):
            stale_days[day].add(alarm)

    counts = Counter(r.alarm for r in alarms)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[: limits.bad_actors]
    top_share = sum(n for _, n in top) / total if total else 0.0
    by_priority = Counter(r.priority for r in alarms)
    mix = {
        priority: Figure(value=by_priority[priority] / total if total else 0.0, target=target,
                         rule="about", meets=None)
        for priority, target in limits.priority_mix.items()
    }
    return PositionKpi(
        position=position, start=start, end=end, thresholds=limits, alarms=total,
        per_day=Figure.at_most(total / days, limits.per_day_acceptable),
        per_day_manageable=Figure.at_most(total / days, limits.per_day_maximum),
        per_10min_mean=Figure.at_most(total / (days * DAY_S / PERIOD_S),
                                      limits.per_10min_acceptable),
        per_10min_peak=max(per_period.values(), default=0),
        periods=periods, flood_periods=flood,
        flood_share=Figure.at_most(flood / periods, limits.flood_share_target),
        chattering=chattering,
        chattering_count=Figure.at_most(len(chattering), limits.chatter_target),
        stale=tuple(sorted(stale)),
        stale_peak_per_day=Figure.below(max((len(d) for d in stale_days), default=0),
                                        limits.stale_per_day_below),
        bad_actors=tuple(BadActor(alarm=a, count=n) for a, n in top),
        bad_actor_share=Figure.at_most(top_share, limits.bad_actor_share_target),
        priority_share=mix,
        shelved=sum(1 for r in inside if r.trigger is Trigger.SHELVE),
        suppressed=sum(1 for r in inside if r.trigger is Trigger.SUPPRESS),
        out_of_service=sum(1 for r in inside if r.trigger is Trigger.REMOVE),
    )


def alarm_kpis(rows: Iterable[AlarmRecord], start: datetime, end: datetime,
               thresholds: Thresholds | None = None) -> dict[str, PositionKpi]:
    """The KPIs of every operator position found in the journal, over [start, end)."""
    journal = list(rows)
    positions = sorted({r.position for r in journal})
    return {p: position_kpi(journal, p, start, end, thresholds) for p in positions}

