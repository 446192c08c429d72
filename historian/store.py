"""Write decoded messages to the database in one transaction: samples, ledgers, dead letters.

Samples go through a binary COPY into a per-connection staging table and then one
``INSERT … ON CONFLICT (point_id, time) DO NOTHING``: a replayed batch or a QoS 1 duplicate never
doubles a row, and a historical batch never overwrites a stored (live) value. When the same
(point, time) arrives again with a different value or quality, the first stored one is kept and
the conflict is counted in the gap ledger (kind ``value_conflict``).

The gap ledger says, with times, what is missing: sequence gaps (the span between the sample
times of the batches around them), outages per gateway connection (bdSeq), the lost tail of a
cleanly stopped session and bad-quality spans per point (until the point's next reported sample
that is not bad). Suspect counter readings are ledgered by the rollup pass (``rollups.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from psycopg import sql

from historian.decode import Batch, Decoded, Ignored, Rejected, StationMessage
from historian.schema import BAD, QUALITY_CODES, REASON_CODES, Features, migrate
from plant.contract import Birth, Command, CommandAck, DataBatch, Death, Event

log = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[object, ...]]

STAGE_SAMPLES = """
CREATE TEMP TABLE IF NOT EXISTS stage_samples (
    ord         bigint           NOT NULL,
    point_id    integer          NOT NULL,
    time        timestamptz      NOT NULL,
    value       double precision,
    quality     smallint         NOT NULL,
    reason      smallint,
    detail      text
) ON COMMIT DELETE ROWS
"""
STAGE_BATCHES = """
CREATE TEMP TABLE IF NOT EXISTS stage_batches (
    station     text    NOT NULL,
    session     bigint  NOT NULL,
    seq         bigint  NOT NULL,
    historical  boolean NOT NULL,
    samples     integer NOT NULL,
    first_time  timestamptz,
    last_time   timestamptz
) ON COMMIT DELETE ROWS
"""
STAGE_SPANS = """
CREATE TEMP TABLE IF NOT EXISTS stage_spans (
    point_id    integer PRIMARY KEY,
    lo          timestamptz NOT NULL,
    hi          timestamptz NOT NULL,
    w0          timestamptz,
    h           timestamptz
) ON COMMIT DELETE ROWS
"""
SAMPLE_TYPES = ["int8", "int4", "timestamptz", "float8", "int2", "int2", "text"]
BATCH_TYPES = ["text", "int8", "int8", "bool", "int4", "timestamptz", "timestamptz"]
BUCKET_ORIGIN = "2000-01-01 00:00:00+00"
LOST_TAIL = "lost tail"
"""Reason of the seq gap between the last batch received and a clean death's ``last_seq``."""
TAIL_GRACE = timedelta(seconds=10)
"""How long after a clean death its last batches may still arrive before they are ledgered."""


@dataclass(frozen=True)
class Inbound:
    """One MQTT message as received, with its decoding."""

    topic: str
    payload: bytes
    decoded: Decoded | DataBatch
    """Tests and tools may hand the writer a contract DataBatch directly."""


@dataclass
class WriteReport:
    """What one committed write did."""

    batches: int = 0
    samples: int = 0
    inserted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    dead_letters: int = 0
    births: int = 0
    deaths: int = 0
    outages: int = 0
    records: int = 0
    """Commands, acknowledgements and events written."""
    ignored: int = 0
    """Retained copies of kinds that are not published retained: never acted on."""
    new_gaps: int = 0
    filled_gaps: int = 0

    def add(self, other: WriteReport) -> None:
        """Add another report's counts to this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _missing_ranges(present: Iterable[int], low: int, high: int) -> list[tuple[int, int]]:
    """Inclusive ranges of the integers in [low, high] that are not in ``present``."""
    gaps: list[tuple[int, int]] = []
    expected = low
    for seq in sorted({s for s in present if low <= s <= high}):
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = seq + 1
    if expected <= high:
        gaps.append((expected, high))
    return gaps


def connect(dsn: str, *, autocommit: bool = False) -> Connection:
    """Connect the way the historian's own sessions do."""
    return psycopg.connect(
        dsn,
        autocommit=autocommit,
        connect_timeout=10,
        # A server that vanishes without closing the socket is noticed within ~25 s, not hours.
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
    )


def sample_value(value: float | int | bool | None) -> float | None:
    """Store every value as a double: booleans as 0/1, integers exactly up to 2**53."""
    if value is None:
        return None
    return float(value)


class Store:
    """The historian's database writer; one connection, one transaction per write."""

    def __init__(
        self, dsn: str, historian: str = "historian", tail_grace: timedelta = TAIL_GRACE
    ) -> None:
        self.dsn = dsn
        self.historian = historian
        self.tail_grace = tail_grace
        self.features: Features | None = None
        self._conn: Connection | None = None
        self._points: dict[tuple[str, str], int] = {}

    def connect(self) -> None:
        """Connect, apply migrations and prepare the staging tables."""
        self.close()
        with connect(self.dsn, autocommit=True) as admin:
            self.features = migrate(admin)
        conn = connect(self.dsn)
        # JIT-compiling the plan of an insert that touches many chunks costs more than the
        # insert itself (seconds per transaction on a year of hypertable chunks).
        conn.execute("SET jit = off")
        conn.execute(STAGE_SAMPLES)
        conn.execute(STAGE_BATCHES)
        conn.execute(STAGE_SPANS)
        conn.commit()
        self._conn = conn

    @property
    def connected(self) -> bool:
        """Say whether the connection is open and idle."""
        return self._conn is not None and not self._conn.closed and not self._conn.broken

    def close(self) -> None:
        """Close the connection, if any."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def write(self, messages: Sequence[Inbound]) -> WriteReport:
        """Write messages in one transaction; raise psycopg.Error if it did not commit."""
        if self._conn is None:
            raise psycopg.OperationalError("the historian store is not connected")
        conn = self._conn
        report = WriteReport()
        new_points: dict[tuple[str, str], int] = {}
        control = [m.decoded for m in messages if isinstance(m.decoded, Birth | Death)]
        records = [m.decoded for m in messages if isinstance(m.decoded, StationMessage)]
        batches = [
            Batch.from_contract(m.decoded) if isinstance(m.decoded, DataBatch) else m.decoded
            for m in messages
            if isinstance(m.decoded, Batch | DataBatch)
        ]
        rejected = [m for m in messages if isinstance(m.decoded, Rejected)]
        report.ignored += sum(1 for m in messages if isinstance(m.decoded, Ignored))
        with conn.transaction():
            # Births and deaths in the order they arrived: a death counts only for its own
            # birth, and a birth ends the outages of every older connection.
            for message in control:
                if isinstance(message, Birth):
                    self._write_birth(conn, message)
                    report.births += 1
                else:
                    report.outages += self._write_death(conn, message)
                    report.deaths += 1
            if batches:
                self._write_batches(conn, batches, report, new_points)
            report.new_gaps += self._record_due_tails(conn)
            for record in records:
                self._write_record(conn, record)
                report.records += 1
            if rejected:
                self._write_dead_letters(conn, rejected)
                report.dead_letters += len(rejected)
        # Point ids are cached only once committed: a rolled-back insert frees its serial id.
        self._points.update(new_points)
        return report

    # -- births and deaths -------------------------------------------------------------------

    def _write_birth(self, conn: Connection, birth: Birth) -> None:
        # The station row is the lock that orders births and deaths of one station across
        # historians; its metadata follows the newest connection (highest bdSeq).
        conn.execute(
            "INSERT INTO stations (id, gateway, session, birth_time, name, kind, timezone,"
            " site_hash, contract, bdseq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET gateway = excluded.gateway,"
            " session = excluded.session,"
            # a rebirth on the same connection does not move the time it has been alive since
            " birth_time = CASE WHEN stations.bdseq = excluded.bdseq"
            "  THEN least(stations.birth_time, excluded.birth_time) ELSE excluded.birth_time END,"
            " name = excluded.name, kind = excluded.kind, timezone = excluded.timezone,"
            " site_hash = excluded.site_hash, contract = excluded.contract,"
            " bdseq = excluded.bdseq, updated_at = now()"
            " WHERE stations.bdseq IS NULL OR excluded.bdseq >= stations.bdseq",
            (birth.station, birth.gateway, birth.session, birth.t, birth.name, birth.kind,
             birth.timezone, birth.site_hash, birth.contract, birth.bdseq),
        )
        conn.execute(
            "INSERT INTO station_sessions (station, session, gateway, birth_time)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (station, session) DO UPDATE"
            " SET gateway = excluded.gateway,"
            " birth_time = least(station_sessions.birth_time, excluded.birth_time)",
            (birth.station, birth.session, birth.gateway, birth.t),
        )
        # A birth ends the outage of every older connection (any bdSeq below its own); the
        # outage of its own bdSeq (its death delivered first) stays open.
        conn.execute(
            "UPDATE gap_ledger SET end_time = greatest(start_time, %s)"
            " WHERE kind = 'session_death' AND station = %s AND end_time IS NULL"
            " AND coalesce(bdseq, -1) < %s",
            (birth.t, birth.station, birth.bdseq),
        )
        equipment = sorted({(p.equipment, p.equipment_kind) for p in birth.points})
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO equipment (station, id, kind) VALUES (%s, %s, %s)"
                " ON CONFLICT (station, id) DO UPDATE SET kind = excluded.kind",
                [(birth.station, eq, kind) for eq, kind in equipment],
            )
            cur.executemany(
                "INSERT INTO points (station, name, equipment, equipment_kind, measurand, unit,"
                " dtype, range_min, range_max, writable, limit_min, limit_max, depth_m, counter,"
                " deadband, period_s, rollover, reset_point, announced)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, true)"
                " ON CONFLICT (station, name) DO UPDATE SET equipment = excluded.equipment,"
                " equipment_kind = excluded.equipment_kind, measurand = excluded.measurand,"
                " unit = excluded.unit, dtype = excluded.dtype, range_min = excluded.range_min,"
                " range_max = excluded.range_max, writable = excluded.writable,"
                " limit_min = excluded.limit_min, limit_max = excluded.limit_max,"
                " depth_m = excluded.depth_m, counter = excluded.counter,"
                " deadband = excluded.deadband, period_s = excluded.period_s,"
                " rollover = excluded.rollover, reset_point = excluded.reset_point,"
                " announced = true, updated_at = now()",
                [
                    (
                        birth.station, p.id, p.equipment, p.equipment_kind, p.measurand, p.unit,
                        p.dtype, p.range[0], p.range[1], p.writable,
                        p.limits[0] if p.limits else None, p.limits[1] if p.limits else None,
                        p.depth_m, p.counter, p.deadband, p.period_s, p.rollover,
                        p.reset_point,
                    )
                    for p in sorted(birth.points, key=lambda point: point.id)
                ],
            )

    def _write_death(self, conn: Connection, death: Death) -> int:
        """Open the outage of the death's connection unless a newer one was born; 1 if opened."""
        conn.execute(
            "INSERT INTO stations (id) VALUES (%s) ON CONFLICT (id) DO NOTHING", (death.station,)
        )
        row = conn.execute(
            "SELECT bdseq FROM stations WHERE id = %s FOR UPDATE", (death.station,)
        ).fetchone()
        born = row[0] if row else None
        if born is not None and death.bdseq < int(born):  # type: ignore[call-overload]
            # The will of an older connection delivered late (the gateway has reconnected),
            # or a retained death redelivered after the next birth: nothing ended now.
            log.info(
                "%s: death of bdSeq %d ignored, bdSeq %s is born",
                death.station, death.bdseq, born,
            )
            return 0
        conn.execute(
            "INSERT INTO station_sessions (station, session, death_time)"
            " VALUES (%s, %s, coalesce(%s, now())) ON CONFLICT (station, session) DO UPDATE"
            " SET death_time = excluded.death_time",
            (death.station, death.session, death.t),
        )
        if death.clean and death.last_seq is not None:
            # Its last batches may still be on their way (or in a shared group, at another
            # historian): what is missing once the grace is over is the lost tail.
            conn.execute(
                "UPDATE station_sessions SET last_seq = greatest(last_seq, %s),"
                " tail_due = now() + %s WHERE station = %s AND session = %s",
                (death.last_seq, self.tail_grace, death.station, death.session),
            )
        opened = conn.execute(
            "INSERT INTO gap_ledger (kind, station, session, bdseq, start_time, reason)"
            " VALUES ('session_death', %s, %s, %s, coalesce(%s, now()), %s)"
            " ON CONFLICT (station, bdseq) WHERE kind = 'session_death' DO NOTHING",
            (death.station, death.session, death.bdseq, death.t,
             "clean stop" if death.clean else "lost"),
        )
        return max(opened.rowcount, 0)

    def _record_due_tails(self, conn: Connection) -> int:
        """Ledger the batches clean deaths said were made that are still missing after the
        grace; return how many tails were ledgered."""
        # A session whose batches another transaction is writing is left for a later write.
        due = conn.execute(
            "SELECT station, session, max_seq, last_seq FROM station_sessions"
            " WHERE tail_due <= now() ORDER BY station, session FOR UPDATE SKIP LOCKED"
        ).fetchall()
        ledgered = 0
        for station, session, max_seq, last_seq in due:
            low, high = int(max_seq) + 1, int(last_seq)  # type: ignore[call-overload]
            if high >= low:
                conn.execute(
                    "INSERT INTO gap_ledger (kind, station, session, from_seq, to_seq, count,"
                    " reason, start_time, end_time)"
                    " SELECT 'seq_gap', s.station, s.session, %(low)s, %(high)s, %(count)s,"
                    "  %(reason)s, coalesce((SELECT b.last_time FROM received_batches b"
                    "   WHERE b.station = s.station AND b.session = s.session"
                    "   AND b.last_time IS NOT NULL ORDER BY b.seq DESC LIMIT 1), s.birth_time),"
                    "  s.death_time"
                    " FROM station_sessions s WHERE s.station = %(station)s"
                    " AND s.session = %(session)s",
                    {"station": station, "session": session, "low": low, "high": high,
                     "count": high - low + 1, "reason": LOST_TAIL},
                )
                ledgered += 1
            # Batches of the tail that arrive later (replayed from the gateway's spool) fill it.
            conn.execute(
                "UPDATE station_sessions SET max_seq = greatest(max_seq, last_seq),"
                " tail_due = NULL WHERE station = %s AND session = %s",
                (station, session),
            )
        return ledgered

    # -- commands, acknowledgements, events ----------------------------------------------------

    def _write_record(self, conn: Connection, record: StationMessage) -> None:
        message = record.message
        if isinstance(message, Command):
            conn.execute(
                "INSERT INTO commands (id, station, point, value, origin, issued, expires)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (message.id, record.station, message.point, sample_value(message.value),
                 message.origin, message.issued, message.expires),
            )
            self._audit(conn, station=record.station, actor=message.origin, action="command",
                        target=message.point, key=f"command/{record.station}/{message.id}",
                        detail=message.model_dump_json())
        elif isinstance(message, CommandAck):
            conn.execute(
                "UPDATE commands SET outcome = %s, reason = %s, readback = %s, acked_at = %s"
                " WHERE id = %s AND station = %s AND outcome IS NULL",
                (message.outcome.value, message.reason, sample_value(message.readback),
                 message.t, message.id, record.station),
            )
            self._audit(conn, station=record.station, actor=f"gateway:{record.station}",
                        action=f"ack {message.outcome.value}", target=message.point,
                        key=f"ack/{record.station}/{message.id}", detail=message.model_dump_json())
        else:
            self._write_event(conn, message)

    def _audit(
        self, conn: Connection, *, station: str, actor: str, action: str, target: str,
        key: str, detail: str,
    ) -> None:
        conn.execute(
            "INSERT INTO audit (station, actor, action, target, key, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (key) DO NOTHING",
            (station, actor, action, target, key, detail),
        )

    def _write_event(self, conn: Connection, event: Event) -> None:
        message = event.data.get("message")
        point = event.data.get("point")
        severity = event.data.get("severity")
        conn.execute(
            "INSERT INTO events (station, event_id, time, kind, severity, source, point_id,"
            " message, data)"
            " VALUES (%s, %s, %s, %s, %s, %s,"
            "  (SELECT id FROM points WHERE station = %s AND name = %s), %s, %s::jsonb)"
            " ON CONFLICT (station, event_id) DO NOTHING",
            (event.station, event.id, event.t, event.kind,
             severity if type(severity) is int and -32768 <= severity <= 32767 else None,
             event.source, event.station, point if isinstance(point, str) else None,
             message if isinstance(message, str) else event.kind,
             json.dumps(event.data, allow_nan=False)),
        )

    # -- data ----------------------------------------------------------------------------------

    def _resolve_points(
        self, conn: Connection, batches: Sequence[Batch], new: dict[tuple[str, str], int]
    ) -> dict[tuple[str, str], int]:
        wanted = {(b.station, s.p) for b in batches for s in b.samples}
        known = {key: self._points[key] for key in wanted if key in self._points}
        missing = sorted(wanted - known.keys())
        if missing:
            stations = sorted({station for station, _ in missing})
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO stations (id) VALUES (%s) ON CONFLICT (id) DO NOTHING",
                    [(station,) for station in stations],
                )
                cur.execute(
                    "INSERT INTO points (station, name)"
                    " SELECT * FROM unnest(%s::text[], %s::text[])"
                    " ON CONFLICT (station, name) DO NOTHING",
                    ([s for s, _ in missing], [n for _, n in missing]),
                )
                cur.execute(
                    "SELECT p.station, p.name, p.id FROM points p"
                    " JOIN unnest(%s::text[], %s::text[]) AS w(station, name)"
                    " ON p.station = w.station AND p.name = w.name",
                    ([s for s, _ in missing], [n for _, n in missing]),
                )
                for station, name, point_id in cur.fetchall():
                    key = (str(station), str(name))
                    known[key] = int(point_id)  # type: ignore[call-overload]
                    new[key] = known[key]
        return known

    def _write_batches(
        self,
        conn: Connection,
        batches: Sequence[Batch],
        report: WriteReport,
        new_points: dict[tuple[str, str], int],
    ) -> None:
        ids = self._resolve_points(conn, batches, new_points)
        ordinal = 0
        with conn.cursor() as cur:
            with cur.copy(
                "COPY stage_samples (ord, point_id, time, value, quality, reason, detail)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(SAMPLE_TYPES)
                for batch in batches:
                    for sample in batch.samples:
                        copy.write_row(
                            (
                                ordinal,
                                ids[(batch.station, sample.p)],
                                sample.t,
                                sample_value(sample.v),
                                QUALITY_CODES[sample.q],
                                REASON_CODES[sample.r] if sample.r is not None else None,
                                sample.d,
                            )
                        )
                        ordinal += 1
            with cur.copy(
                "COPY stage_batches (station, session, seq, historical, samples, first_time,"
                " last_time) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(BATCH_TYPES)
                for batch in batches:
                    times = [sample.t for sample in batch.samples]
                    copy.write_row(
                        (batch.station, batch.session, batch.seq, batch.historical,
                         len(batch.samples), min(times, default=None), max(times, default=None))
                    )
            report.batches += len(batches)
            report.samples += ordinal
            cur.execute(
                "INSERT INTO samples (point_id, time, value, quality, reason, detail)"
                " SELECT point_id, time, value, quality, reason, detail FROM stage_samples"
                " ORDER BY point_id, time, ord ON CONFLICT (point_id, time) DO NOTHING"
            )
            report.inserted += max(cur.rowcount, 0)
            report.duplicates += ordinal - max(cur.rowcount, 0)
            if report.duplicates:
                report.conflicts += self._record_conflicts(cur)
            cur.execute(
                "INSERT INTO rollup_dirty (point_id, bucket)"
                " SELECT DISTINCT point_id,"
                f" date_bin('1 minute', time, timestamptz '{BUCKET_ORIGIN}')"
                " FROM stage_samples ORDER BY 1, 2"
                " ON CONFLICT (point_id, bucket) DO UPDATE SET marked_at = excluded.marked_at"
            )
            self._record_sequences(cur, batches, report)
            self._record_bad_spans(cur)

    def _record_conflicts(self, cur: psycopg.Cursor[tuple[object, ...]]) -> int:
        cur.execute(
            "WITH conflicting AS ("
            "  SELECT st.point_id, st.time FROM stage_samples st"
            "  JOIN samples s ON s.point_id = st.point_id AND s.time = st.time"
            "  WHERE s.value IS DISTINCT FROM st.value OR s.quality <> st.quality"
            "     OR s.reason IS DISTINCT FROM st.reason)"
            " INSERT INTO gap_ledger (kind, station, point_id, start_time, end_time, count, reason)"
            " SELECT 'value_conflict', p.station, c.point_id, min(c.time), max(c.time), count(*),"
            "  'same point and time with a different value; the first stored is kept'"
            " FROM conflicting c JOIN points p ON p.id = c.point_id GROUP BY p.station, c.point_id"
            " RETURNING count"
        )
        return sum(int(row[0]) for row in cur.fetchall())  # type: ignore[call-overload]

    def _record_bad_spans(self, cur: psycopg.Cursor[tuple[object, ...]]) -> None:
        """Recompute the bad-quality spans around the written samples of the points concerned.

        A span is a run of consecutive bad samples of one point; it lasts until the point's next
        sample that is not bad (open, ``end_time`` null, while there is none). Only points with
        bad samples in this write, or with a span reaching into it, are looked at; the window
        recomputed runs from the start of the span before the new samples to the first stored
        sample after them that is not bad, so spans outside it cannot change.
        """
        cur.execute(
            sql.SQL(
                "INSERT INTO stage_spans (point_id, lo, hi)"
                " SELECT t.point_id, t.lo, t.hi FROM ("
                "  SELECT point_id, min(time) AS lo, max(time) AS hi,"
                "   bool_or(quality = {bad}) AS has_bad FROM stage_samples GROUP BY point_id) t"
                " WHERE t.has_bad OR EXISTS (SELECT 1 FROM gap_ledger g"
                "  WHERE g.kind = 'bad_quality' AND g.point_id = t.point_id"
                "  AND coalesce(g.end_time, 'infinity') >= t.lo)"
            ).format(bad=sql.Literal(BAD))
        )
        if cur.rowcount <= 0:
            return
        # Two historians writing samples of one point take turns here (ids in a fixed order).
        cur.execute(
            "SELECT id FROM points WHERE id IN (SELECT point_id FROM stage_spans)"
            " ORDER BY id FOR UPDATE"
        )
        cur.execute(
            sql.SQL(
                "UPDATE stage_spans s SET h = (SELECT min(x.time) FROM samples x"
                " WHERE x.point_id = s.point_id AND x.time > s.hi AND x.quality <> {bad})"
            ).format(bad=sql.Literal(BAD))
        )
        cur.execute(
            "WITH gone AS ("
            "  DELETE FROM gap_ledger g USING stage_spans s"
            "  WHERE g.kind = 'bad_quality' AND g.point_id = s.point_id"
            "  AND coalesce(g.end_time, 'infinity') >= s.lo"
            "  AND (s.h IS NULL OR g.start_time <= s.h)"
            "  RETURNING g.point_id, g.start_time)"
            " UPDATE stage_spans s SET w0 = least(s.lo,"
            "  (SELECT min(gone.start_time) FROM gone WHERE gone.point_id = s.point_id))"
        )
        cur.execute(
            sql.SQL(
                "WITH w AS ("
                "  SELECT s.point_id, x.time, x.quality = {bad} AS bad, x.reason,"
                "   lag(x.quality = {bad}) OVER o AS prev_bad, lead(x.time) OVER o AS next_time"
                "  FROM stage_spans s CROSS JOIN LATERAL (SELECT time, quality, reason"
                "   FROM samples WHERE point_id = s.point_id AND time >= s.w0"
                "   AND (s.h IS NULL OR time <= s.h) OFFSET 0) x"
                "  WINDOW o AS (PARTITION BY s.point_id ORDER BY x.time)),"
                " runs AS ("
                "  SELECT *, sum(CASE WHEN bad AND prev_bad IS NOT TRUE THEN 1 ELSE 0 END)"
                "   OVER (PARTITION BY point_id ORDER BY time) AS run FROM w),"
                " spans AS ("
                "  SELECT point_id, run, min(time) AS lo, count(*) AS n,"
                "   (array_agg(next_time ORDER BY time DESC))[1] AS hi,"
                "   (array_agg(reason ORDER BY time))[1] AS reason"
                "  FROM runs WHERE bad GROUP BY point_id, run)"
                " INSERT INTO gap_ledger (kind, station, point_id, start_time, end_time, reason,"
                "  count)"
                " SELECT 'bad_quality', p.station, sp.point_id, sp.lo, sp.hi,"
                "  coalesce(r.name, 'unknown'), sp.n"
                " FROM spans sp JOIN points p ON p.id = sp.point_id"
                " LEFT JOIN reason_codes r ON r.code = sp.reason ORDER BY sp.point_id, sp.lo"
            ).format(bad=sql.Literal(BAD))
        )

    def _record_sequences(
        self,
        cur: psycopg.Cursor[tuple[object, ...]],
        batches: Sequence[Batch],
        report: WriteReport,
    ) -> None:
        cur.execute(
            "INSERT INTO received_batches (station, session, seq, historical, samples,"
            " first_time, last_time)"
            " SELECT DISTINCT ON (station, session, seq) station, session, seq, historical,"
            " samples, first_time, last_time FROM stage_batches ORDER BY station, session, seq"
            " ON CONFLICT (station, session, seq) DO NOTHING"
        )
        sessions = sorted({(b.station, b.session) for b in batches})
        cur.execute(
            "INSERT INTO station_sessions (station, session)"
            " SELECT DISTINCT station, session FROM stage_batches ORDER BY 1, 2"
            " ON CONFLICT (station, session) DO NOTHING"
        )
        # Row locks taken in a fixed order serialise two historians on one gateway session,
        # so each sees the other's sequence numbers before judging what is missing.
        cur.execute(
            "SELECT station, session, max_seq FROM station_sessions"
            " WHERE (station, session) IN (SELECT DISTINCT station, session FROM stage_batches)"
            " ORDER BY station, session FOR UPDATE"
        )
        max_seq = {(str(r[0]), int(r[1])): int(r[2]) for r in cur.fetchall()}  # type: ignore[call-overload]
        for station, session in sessions:
            seqs = {b.seq for b in batches if b.station == station and b.session == session}
            previous_max = max_seq[(station, session)]
            newest = max(seqs)
            if newest > previous_max:
                gaps = _missing_ranges(seqs, previous_max + 1, newest)
                for low, high in gaps:
                    # The gap spans from the last sample before it to the first one after it.
                    cur.execute(
                        "INSERT INTO gap_ledger (kind, station, session, from_seq, to_seq, count,"
                        " start_time, end_time)"
                        " SELECT 'seq_gap', %(station)s, %(session)s, %(low)s, %(high)s,"
                        "  %(count)s,"
                        "  coalesce((SELECT b.last_time FROM received_batches b"
                        "   WHERE b.station = %(station)s AND b.session = %(session)s"
                        "   AND b.seq < %(low)s AND b.last_time IS NOT NULL"
                        "   ORDER BY b.seq DESC LIMIT 1), s.birth_time),"
                        "  (SELECT b.first_time FROM received_batches b"
                        "   WHERE b.station = %(station)s AND b.session = %(session)s"
                        "   AND b.seq > %(high)s AND b.first_time IS NOT NULL"
                        "   ORDER BY b.seq LIMIT 1)"
                        " FROM station_sessions s"
                        " WHERE s.station = %(station)s AND s.session = %(session)s",
                        {"station": station, "session": session, "low": low, "high": high,
                         "count": high - low + 1},
                    )
                report.new_gaps += len(gaps)
                cur.execute(
                    "UPDATE station_sessions SET max_seq = %s, last_received = now()"
                    " WHERE station = %s AND session = %s",
                    (newest, station, session),
                )
            lost = max((b.lost_through for b in batches if b.station == station
                        and b.session == session and b.lost_through is not None), default=None)
            if lost is not None:
                # the gateway's spool dropped the session's batches up to ``lost``: what is
                # missing of them will never come, and the watermark may pass it
                cur.execute(
                    "UPDATE station_sessions SET lost_through = %(lost)s"
                    " WHERE station = %(station)s AND session = %(session)s"
                    " AND coalesce(lost_through, -1) < %(lost)s",
                    {"station": station, "session": session, "lost": lost},
                )
                if cur.rowcount:
                    cur.execute(
                        "UPDATE gap_ledger SET reason = 'dropped by the gateway spool'"
                        " WHERE kind = 'seq_gap' AND station = %s AND session = %s"
                        " AND filled_at IS NULL AND from_seq <= %s AND reason IS NULL",
                        (station, session, lost),
                    )
            older = [s for s in seqs if s <= previous_max]
            if older:
                cur.execute(
                    "UPDATE gap_ledger g SET filled_at = now() WHERE g.kind = 'seq_gap'"
                    " AND g.station = %s AND g.session = %s AND g.filled_at IS NULL"
                    " AND g.from_seq <= %s AND g.to_seq >= %s"
                    " AND (SELECT count(*) FROM received_batches b WHERE b.station = g.station"
                    "      AND b.session = g.session AND b.seq BETWEEN g.from_seq AND g.to_seq)"
                    "     = g.to_seq - g.from_seq + 1",
                    (station, session, max(older), min(older)),
                )
                report.filled_gaps += max(cur.rowcount, 0)

    def _write_dead_letters(self, conn: Connection, rejected: Sequence[Inbound]) -> None:
        with conn.cursor() as cur, cur.copy(
            "COPY dead_letters (topic, payload, reason, historian) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "bytea", "text", "text"])
            for message in rejected:
                assert isinstance(message.decoded, Rejected)
                copy.write_row(
                    (_printable(message.topic), message.payload, message.decoded.reason,
                     self.historian)
                )

    def dead_letter(self, messages: Sequence[Inbound], reason: str) -> None:
        """Store messages the database refused as dead letters with the database's reason."""
        if self._conn is None:
            raise psycopg.OperationalError("the historian store is not connected")
        with self._conn.transaction():
            self._write_dead_letters(
                self._conn,
                [Inbound(m.topic, m.payload, Rejected(reason)) for m in messages],
            )


def _printable(text: str) -> str:
    """Topic text safe for a PostgreSQL text column (no NUL)."""
    return text.replace("\x00", "\\x00")
