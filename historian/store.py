"""Write decoded messages to the database in one transaction: samples, ledgers, dead letters.

Samples go through a binary COPY into a per-connection staging table and then one
``INSERT … ON CONFLICT (point_id, time) DO NOTHING``: a replayed batch or a QoS 1 duplicate never
doubles a row, and a historical batch never overwrites a stored (live) value. When the same
(point, time) arrives again with a different value or quality, the first stored one is kept and
the conflict is counted in the gap ledger (kind ``value_conflict``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from historian.decode import Batch, Decoded, Rejected
from historian.schema import BAD, QUALITY_CODES, REASON_CODES, Features, migrate
from plant.contract import Birth, DataBatch, Death

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
    samples     integer NOT NULL
) ON COMMIT DELETE ROWS
"""
SAMPLE_TYPES = ["int8", "int4", "timestamptz", "float8", "int2", "int2", "text"]
BATCH_TYPES = ["text", "int8", "int8", "bool", "int4"]
BUCKET_ORIGIN = "2000-01-01 00:00:00+00"
BAD_SPAN_MERGE = "5 minutes"
"""Bad samples of one point and reason closer than this are one span in the gap ledger."""


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

    def __init__(self, dsn: str, historian: str = "historian") -> None:
        self.dsn = dsn
        self.historian = historian
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
        births = [m.decoded for m in messages if isinstance(m.decoded, Birth)]
        deaths = [m.decoded for m in messages if isinstance(m.decoded, Death)]
        batches = [
            Batch.from_contract(m.decoded) if isinstance(m.decoded, DataBatch) else m.decoded
            for m in messages
            if isinstance(m.decoded, Batch | DataBatch)
        ]
        rejected = [m for m in messages if isinstance(m.decoded, Rejected)]
        with conn.transaction():
            for birth in births:
                self._write_birth(conn, birth)
                report.births += 1
            for death in deaths:
                self._write_death(conn, death)
                report.deaths += 1
            if batches:
                self._write_batches(conn, batches, report, new_points)
            if rejected:
                self._write_dead_letters(conn, rejected)
                report.dead_letters += len(rejected)
        # Point ids are cached only once committed: a rolled-back insert frees its serial id.
        self._points.update(new_points)
        return report

    # -- births and deaths -------------------------------------------------------------------

    def _write_birth(self, conn: Connection, birth: Birth) -> None:
        conn.execute(
            "INSERT INTO stations (id, gateway, session, birth_time) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET gateway = excluded.gateway,"
            " session = excluded.session, birth_time = excluded.birth_time, updated_at = now()"
            " WHERE stations.session IS NULL OR excluded.session >= stations.session",
            (birth.station, birth.gateway, birth.session, birth.t),
        )
        conn.execute(
            "INSERT INTO station_sessions (station, session, gateway, birth_time)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (station, session) DO UPDATE"
            " SET gateway = excluded.gateway, birth_time = excluded.birth_time",
            (birth.station, birth.session, birth.gateway, birth.t),
        )
        conn.execute(
            "UPDATE gap_ledger SET end_time = %s WHERE kind = 'session_death' AND station = %s"
            " AND session < %s AND end_time IS NULL",
            (birth.t, birth.station, birth.session),
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
                " deadband, period_s, announced)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, true)"
                " ON CONFLICT (station, name) DO UPDATE SET equipment = excluded.equipment,"
                " equipment_kind = excluded.equipment_kind, measurand = excluded.measurand,"
                " unit = excluded.unit, dtype = excluded.dtype, range_min = excluded.range_min,"
                " range_max = excluded.range_max, writable = excluded.writable,"
                " limit_min = excluded.limit_min, limit_max = excluded.limit_max,"
                " depth_m = excluded.depth_m, counter = excluded.counter,"
                " deadband = excluded.deadband, period_s = excluded.period_s,"
                " announced = true, updated_at = now()",
                [
                    (
                        birth.station, p.id, p.equipment, p.equipment_kind, p.measurand, p.unit,
                        p.dtype, p.range[0], p.range[1], p.writable,
                        p.limits[0] if p.limits else None, p.limits[1] if p.limits else None,
                        p.depth_m, p.counter, p.deadband, p.period_s,
                    )
                    for p in sorted(birth.points, key=lambda point: point.id)
                ],
            )

    def _write_death(self, conn: Connection, death: Death) -> None:
        conn.execute(
            "INSERT INTO stations (id) VALUES (%s) ON CONFLICT (id) DO NOTHING", (death.station,)
        )
        conn.execute(
            "INSERT INTO station_sessions (station, session, death_time)"
            " VALUES (%s, %s, coalesce(%s, now())) ON CONFLICT (station, session) DO UPDATE"
            " SET death_time = excluded.death_time",
            (death.station, death.session, death.t),
        )
        conn.execute(
            "INSERT INTO gap_ledger (kind, station, session, start_time, reason)"
            " VALUES ('session_death', %s, %s, coalesce(%s, now()), %s)"
            " ON CONFLICT (station, session) WHERE kind = 'session_death' DO NOTHING",
            (death.station, death.session, death.t, "clean stop" if death.clean else "lost"),
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
                "COPY stage_batches (station, session, seq, historical, samples)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(BATCH_TYPES)
                for batch in batches:
                    copy.write_row(
                        (batch.station, batch.session, batch.seq, batch.historical,
                         len(batch.samples))
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
            self._record_bad_spans(cur)
            self._record_sequences(cur, batches, report)

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
        merge = sql.Literal(BAD_SPAN_MERGE)
        cur.execute(
            sql.SQL(
                "WITH runs AS ("
                "  SELECT st.point_id, p.station, coalesce(r.name, 'unknown') AS reason,"
                "         min(st.time) AS lo, max(st.time) AS hi, count(*) AS n"
                "  FROM stage_samples st JOIN points p ON p.id = st.point_id"
                "  LEFT JOIN reason_codes r ON r.code = st.reason"
                "  WHERE st.quality = {bad} GROUP BY 1, 2, 3),"
                " extended AS ("
                "  UPDATE gap_ledger g SET start_time = least(g.start_time, runs.lo),"
                "         end_time = greatest(g.end_time, runs.hi)"
                "  FROM runs WHERE g.kind = 'bad_quality' AND g.point_id = runs.point_id"
                "    AND g.reason = runs.reason"
                "    AND runs.lo <= g.end_time + interval {merge}"
                "    AND runs.hi >= g.start_time - interval {merge}"
                "  RETURNING runs.point_id, runs.reason)"
                " INSERT INTO gap_ledger (kind, station, point_id, start_time, end_time, reason,"
                "  count)"
                " SELECT 'bad_quality', station, point_id, lo, hi, reason, n FROM runs"
                " WHERE (point_id, reason) NOT IN (SELECT point_id, reason FROM extended)"
            ).format(bad=sql.Literal(BAD), merge=merge)
        )

    def _record_sequences(
        self,
        cur: psycopg.Cursor[tuple[object, ...]],
        batches: Sequence[Batch],
        report: WriteReport,
    ) -> None:
        cur.execute(
            "INSERT INTO received_batches (station, session, seq, historical, samples)"
            " SELECT DISTINCT ON (station, session, seq) station, session, seq, historical,"
            " samples FROM stage_batches ORDER BY station, session, seq"
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
                    cur.execute(
                        "INSERT INTO gap_ledger (kind, station, session, from_seq, to_seq, count)"
                        " VALUES ('seq_gap', %s, %s, %s, %s, %s)",
                        (station, session, low, high, high - low + 1),
                    )
                report.new_gaps += len(gaps)
                cur.execute(
                    "UPDATE station_sessions SET max_seq = %s, last_received = now()"
                    " WHERE station = %s AND session = %s",
                    (newest, station, session),
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
