"""Per-station watermarks read from the database: what the gateways may delete from their spools.

For every recent session of a station the mark is the highest ``seq`` such that every batch
``0..seq`` is in ``received_batches`` or was dropped by the gateway's spool (a batch saying
``lost_through``: none of those will ever come). It is read from the database, not from what
this process wrote, so with several historians in a shared-subscription group each publishes the
same truth.
Marks only grow (received batches are never removed), so the walk starts from the last mark
this process knew and reads only the batches above it, and only when the next one has arrived.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from plant.contract import SessionMark, Watermark

RECENT_DAYS = 30
"""Sessions with a batch received within this many days are listed."""
MAX_SESSIONS = 16
"""At most this many sessions (the most recently received) are listed per station."""
WALK_LIMIT = 10_000
"""Batches read per session and pass; a long backlog is walked over several commits."""

Connection = psycopg.Connection[tuple[object, ...]]


def contiguous_mark(start: int, seqs: Iterable[int]) -> int:
    """Extend a mark over the ascending ``seqs`` for as long as they follow without a hole."""
    mark = start
    for seq in seqs:
        if seq > mark + 1:
            break
        mark = max(mark, seq)
    return mark


@dataclass
class Watermarks:
    """Computes stations' watermarks; keeps the marks it knows to start the next walk from."""

    historian: str
    marks: dict[str, dict[int, int]] = field(default_factory=dict)
    """station -> session -> mark, for the station's recent sessions."""

    def update(self, conn: Connection, stations: Iterable[str], now: datetime
               ) -> list[Watermark]:
        """Read the marks of the stations' recent sessions; return their watermarks."""
        wanted = sorted(set(stations))
        if not wanted:
            return []
        self._load_sessions(conn, wanted)
        keys = [(station, session, mark) for station in wanted
                for session, mark in self.marks[station].items()]
        rows = conn.execute(
            "SELECT w.station, w.session, r.seq"
            " FROM unnest(%s::text[], %s::int8[], %s::int8[]) AS w(station, session, above)"
            " CROSS JOIN LATERAL (SELECT b.seq FROM received_batches b"
            "   WHERE b.station = w.station AND b.session = w.session AND b.seq > w.above"
            "   ORDER BY b.seq LIMIT %s) r"
            " WHERE EXISTS (SELECT 1 FROM received_batches x WHERE x.station = w.station"
            "   AND x.session = w.session AND x.seq = w.above + 1)"
            " ORDER BY 1, 2, 3",
            ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], WALK_LIMIT),
        ).fetchall()
        found: dict[tuple[str, int], list[int]] = {}
        for station, session, seq in rows:
            found.setdefault((str(station), int(session)), []).append(int(seq))  # type: ignore[call-overload]
        for (station, session), seqs in found.items():
            known = self.marks[station]
            known[session] = contiguous_mark(known.get(session, -1), seqs)
        return [self.watermark(station, now) for station in wanted]

    def watermark(self, station: str, now: datetime) -> Watermark:
        """The station's watermark from the marks known now."""
        sessions = sorted(self.marks.get(station, {}).items())
        return Watermark(station=station, t=now, historian=self.historian,
                         sessions=tuple(SessionMark(session=s, seq=m) for s, m in sessions))

    def _load_sessions(self, conn: Connection, stations: list[str]) -> None:
        """List each station's recent sessions (new ones appear as their batches commit)."""
        rows = conn.execute(
            "SELECT station, session, lost_through FROM ("
            "  SELECT station, session, lost_through, row_number() OVER (PARTITION BY station"
            "         ORDER BY last_received DESC, session DESC) AS n"
            "  FROM station_sessions WHERE station = ANY(%s)"
            "    AND last_received > now() - make_interval(days => %s)) s"
            " WHERE n <= %s",
            (stations, RECENT_DAYS, MAX_SESSIONS),
        ).fetchall()
        listed: dict[str, dict[int, int]] = {station: {} for station in stations}
        for station, session, lost in rows:
            listed[str(station)][int(session)] = (  # type: ignore[call-overload]
                -1 if lost is None else int(lost))  # type: ignore[call-overload]
        for station, sessions in listed.items():
            known = self.marks.setdefault(station, {})
            for session, lost in sessions.items():
                # what the gateway's spool dropped will never come: the walk starts above it
                known[session] = max(known.get(session, -1), lost)
            for session in [s for s in known if s not in sessions]:
                del known[session]
