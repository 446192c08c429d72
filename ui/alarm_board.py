"""Where the alarms stand, for the operator screens: the journal folded per alarm, the banner's
counts by priority, the horn, filters and the shelving time an operator types (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from controller.alarms import AlarmRecord, Priority, State
from controller.journal import ATTENTION, AlarmSummary, summaries

PRIORITIES = (Priority.HIGH.value, Priority.MEDIUM.value, Priority.LOW.value)
"""Most urgent first, as the banner and the table show them."""
UNACKNOWLEDGED = frozenset({State.UNACKNOWLEDGED, State.RTN_UNACKNOWLEDGED})
"""States an operator has not acknowledged yet."""
HIDDEN = frozenset({State.SHELVED, State.SUPPRESSED, State.OUT_OF_SERVICE})
PUT_ASIDE = frozenset({State.SHELVED, State.OUT_OF_SERVICE})
"""Hidden by an operator, so shown until they bring it back."""
HORN_PRIORITIES = frozenset({Priority.HIGH.value})
"""Priorities that sound the horn while an alarm of theirs is unacknowledged (ISA-18.2)."""
KEPT_ROWS = 200
"""Rows kept per alarm besides its last annunciation (comments and hidden condition changes
can follow one without end)."""


class AlarmBoard:
    """The journal rows of every alarm since its last annunciation: enough to say where it
    stands, raised, cleared and acknowledged. Rows may come in any order and more than once."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], dict[int, AlarmRecord]] = {}

    def add(self, rows: Iterable[AlarmRecord]) -> None:
        """Take journal rows in."""
        touched: set[tuple[str, str]] = set()
        for row in rows:
            key = (row.station, row.alarm)
            self._rows.setdefault(key, {})[row.seq] = row
            touched.add(key)
        for key in touched:
            kept = self._rows[key]
            raised = max((seq for seq, row in kept.items() if row.annunciated), default=None)
            if raised is not None:
                kept = {seq: row for seq, row in kept.items() if seq >= raised}
            if len(kept) > KEPT_ROWS + 1:
                latest = sorted(kept)[-KEPT_ROWS:]
                kept = {seq: kept[seq] for seq in sorted({*latest, *(
                    [raised] if raised is not None else [])})}
            self._rows[key] = kept

    def summaries(self, stations: Iterable[str] | None = None) -> list[AlarmSummary]:
        """One summary per alarm (of these stations), sorted by station and alarm."""
        wanted = None if stations is None else set(stations)
        rows = [row for (station, _), kept in self._rows.items()
                if wanted is None or station in wanted for row in kept.values()]
        return summaries(rows)


class Banner(BaseModel):
    """What every page shows at its top: alarms wanting attention by priority, and the horn."""

    model_config = ConfigDict(frozen=True)

    standing: dict[str, int]
    """Alarms active or waiting for an operator, by priority."""
    unacknowledged: dict[str, int]
    """Of those, the ones nobody has acknowledged yet, by priority."""
    shelved: int
    horn: list[str]
    """One key per unacknowledged annunciation of horn priority (:func:`horn_key`): the horn
    sounds while one of them has not been silenced, stops once every one is acknowledged and
    sounds again for a new one."""
    journal: int = 0
    """How far the journal was read: a page shows the alarms as they stood at this row."""


def horn_key(item: AlarmSummary) -> str:
    """The annunciation an operator hears: the alarm (``station/alarm``, as the alarm table
    names it) and when it was raised, after an ``@``."""
    raised = item.raised.isoformat() if item.raised is not None else ""
    return f"{item.station}/{item.alarm}@{raised}"


def alarm_of(key: str) -> str:
    """The alarm (``station/alarm``) of an annunciation's horn key."""
    return key.rpartition("@")[0]


def banner(items: Iterable[AlarmSummary], journal: int = 0) -> Banner:
    """The banner's figures for these alarms."""
    standing = dict.fromkeys(PRIORITIES, 0)
    unacked = dict.fromkeys(PRIORITIES, 0)
    shelved = 0
    horn: list[str] = []
    for item in items:
        if item.state is State.SHELVED:
            shelved += 1
        if item.state not in ATTENTION:
            continue
        standing[item.priority] += 1
        if item.state in UNACKNOWLEDGED:
            unacked[item.priority] += 1
            if item.priority in HORN_PRIORITIES:
                horn.append(horn_key(item))
    return Banner(standing=standing, unacknowledged=unacked, shelved=shelved, horn=sorted(horn),
                  journal=journal)


@dataclass(frozen=True)
class AlarmFilter:
    """What the alarm table shows: a station, a priority, a state or a word; only alarms that
    want attention or that an operator put aside (shelved, out of service) unless ``everything``
    or a state is asked for (suppression by design is the plant's state, not news)."""

    station: str | None = None
    priority: str | None = None
    state: str | None = None
    text: str | None = None
    everything: bool = False

    def admits(self, item: AlarmSummary) -> bool:
        """Whether the table shows this alarm."""
        if not (self.everything or self.state) and item.state not in ATTENTION | PUT_ASIDE:
            return False
        if self.station and item.station != self.station:
            return False
        if self.priority and item.priority != self.priority:
            return False
        if self.state and item.state.value != self.state:
            return False
        if self.text:
            word = self.text.casefold()
            return any(word in field.casefold() for field in (
                item.alarm, item.equipment, item.rule, item.message, item.text))
        return True


def table(items: Sequence[AlarmSummary], chosen: AlarmFilter) -> list[AlarmSummary]:
    """The alarms the filter admits: unacknowledged, then standing, hidden and normal ones;
    each by priority, newest first."""
    rank = {priority: index for index, priority in enumerate(PRIORITIES)}

    def group(item: AlarmSummary) -> int:
        if item.state in UNACKNOWLEDGED:
            return 0
        if item.state in ATTENTION:
            return 1
        return 2 if item.state in HIDDEN else 3

    shown = [item for item in items if chosen.admits(item)]
    shown.sort(key=lambda i: -(i.raised or i.changed).timestamp())
    shown.sort(key=lambda i: (group(i), rank.get(i.priority, len(rank))))
    return shown


_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(hours?|h|minutes?|min|m|seconds?|sec|s)?(?![a-z])\s*", re.IGNORECASE)
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90 s``, ``15 min``, ``2h`` or ``1h 30m``; raise ValueError."""
    rest = text.strip()
    if not rest or len(rest) > 32:
        raise ValueError(f"shelving time {text!r}: give a time such as 15 min, 2 h or 90 s")
    total, position = 0.0, 0
    while position < len(rest):
        found = _DURATION.match(rest, position)
        if found is None or found.end() == position:
            raise ValueError(f"shelving time {text!r}: give a time such as 15 min, 2 h or 90 s")
        unit = (found.group(2) or "s")[0].lower()
        total += float(found.group(1)) * _UNIT_S[unit]
        position = found.end()
    if total <= 0:
        raise ValueError(f"shelving time {text!r} must be longer than zero")
    return total
