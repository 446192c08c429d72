"""The alarm journal as the historian stored it: rows read back, and one summary per alarm."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict

from controller.alarms import AlarmError, AlarmRecord, State, Trigger, record_from_event
from plant.contract import Event

Connection = psycopg.Connection[tuple[object, ...]]

ATTENTION = frozenset({State.UNACKNOWLEDGED, State.ACKNOWLEDGED, State.RTN_UNACKNOWLEDGED,
                       State.LATCHED})
"""States that want an operator: active, or returned but not yet acknowledged or reset."""


def _decode(found: Iterable[tuple[Any, ...]]) -> tuple[list[AlarmRecord], list[str]]:
    rows: list[AlarmRecord] = []
    refused: list[str] = []
    for sid, event_id, moment, source, data in found:
        try:
            event = Event(station=sid, id=event_id, t=moment, kind="alarm",
                          source=source or "unknown", data=data if isinstance(data, dict) else {})
            rows.append(record_from_event(event))
        except (AlarmError, ValueError) as error:
            refused.append(f"{sid}/{event_id}: {error}")
    return rows, refused


def read_journal(conn: Connection, *, station: str | None = None,
                 until: datetime | None = None) -> tuple[list[AlarmRecord], list[str]]:
    """Every alarm row stored (of one station, before ``until``), and the refused ones by id."""
    query = ("SELECT station, event_id, time, source, data FROM events"
             " WHERE kind = 'alarm' AND event_id IS NOT NULL")
    params: list[Any] = []
    if station is not None:
        query += " AND station = %s"
        params.append(station)
    if until is not None:
        query += " AND time < %s"
        params.append(until)
    rows, refused = _decode(conn.execute(query.encode(), params))
    rows.sort(key=lambda r: (r.station, r.alarm, r.seq))
    return rows, refused


def read_journal_after(conn: Connection, after: int
                       ) -> tuple[list[AlarmRecord], list[str], int]:
    """The alarm rows the historian stored after row ``after`` of its events table, the refused
    ones by id, and the last row number read (to follow the journal as it grows)."""
    found = conn.execute(
        "SELECT id, station, event_id, time, source, data FROM events"
        " WHERE kind = 'alarm' AND event_id IS NOT NULL AND id > %s ORDER BY id", (after,)
    ).fetchall()
    last = max((int(row[0]) for row in found), default=after)  # type: ignore[call-overload]
    rows, refused = _decode(row[1:] for row in found)
    return rows, refused, last


class AlarmSummary(BaseModel):
    """Where one alarm stands, from its journal rows."""

    model_config = ConfigDict(frozen=True)

    station: str
    alarm: str
    equipment: str
    rule: str
    state: State
    active: bool
    priority: str
    raised: datetime | None
    cleared: datetime | None
    acknowledged_by: str | None
    acknowledged: datetime | None
    message: str
    text: str
    changed: datetime


def summaries(rows: Iterable[AlarmRecord]) -> list[AlarmSummary]:
    """One summary per alarm: its last state, when it was last raised, cleared, acknowledged."""
    by_alarm: dict[tuple[str, str], list[AlarmRecord]] = {}
    for row in rows:
        by_alarm.setdefault((row.station, row.alarm), []).append(row)
    result = []
    for (station, alarm), journal in sorted(by_alarm.items()):
        journal.sort(key=lambda r: r.seq)
        last = journal[-1]
        raised = cleared = acked = None
        acked_by: str | None = None
        for row in journal:
            if row.annunciated:
                raised, cleared, acked, acked_by = row.t, None, None, None
            elif row.trigger in (Trigger.CLEAR, Trigger.CLEAR_LATCHING):
                cleared = row.t
            elif row.trigger in (Trigger.ACK, Trigger.RESET, Trigger.UNSHELVE_ACTIVE):
                acked, acked_by = row.t, row.user
        result.append(AlarmSummary(
            station=station, alarm=alarm, equipment=last.equipment, rule=last.rule,
            state=last.to_state, active=last.active, priority=last.priority.value,
            raised=raised, cleared=cleared, acknowledged_by=acked_by, acknowledged=acked,
            message=last.title, text=last.text, changed=last.t))
    return result
