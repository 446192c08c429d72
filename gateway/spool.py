"""Disk-backed store-and-forward spool (SQLite, WAL): batches wait here until committed.

Every data batch is written here before it is published and deleted only once the historians'
watermark says it is committed, so neither a broker outage or crash, nor a historian that is not
there yet, nor ``kill -9`` of the gateway loses it. Writes take a lock and are meant to run on
one writer thread; reads use a connection of their own, so they never wait for a disk sync
(WAL lets readers and the writer work at once). The spool is bounded: past
``max_bytes`` the *oldest* batches are dropped (the newest data is worth most to operators and
the controller; the historian's gap is visible as a jump in ``seq``), each drop is counted and
logged, and the highest seq dropped of each session is kept (:meth:`Spool.lost`): the batches
published from then on say so, so that the historians' watermark can pass the hole and the
batches above it leave the spool once committed. Past ``high_water`` (a fraction of the bound)
the gateway raises a health point.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    created REAL NOT NULL,
    samples TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_session_seq ON batch (session, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lost (session INTEGER PRIMARY KEY, through INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS command_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    t REAL NOT NULL,
    command_id TEXT,
    point TEXT,
    origin TEXT,
    value TEXT,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    raw BLOB
);
"""


@dataclass(frozen=True)
class SpooledBatch:
    """A batch as stored: the samples array is kept as its JSON text."""

    id: int
    session: int
    seq: int
    created: float
    samples: str


class Spool:
    """The gateway's durable queue of data batches, plus its session counter and command log."""

    def __init__(self, path: Path, max_bytes: int = 256 * 1024 * 1024,
                 high_water: float = 0.8, synchronous: str = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self.high_water = high_water
        self.dropped = 0
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a batch the gateway has counted as spooled survives power loss, not only kill -9
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._read = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(samples)), 0) FROM batch"
                               ).fetchone()
        self._count, self._bytes = int(row[0]), int(row[1])
        self._high = False
        self._lost = {int(r[0]): int(r[1])
                      for r in self._db.execute("SELECT session, through FROM lost")}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._read.close()
            self._db.close()

    # ------------------------------------------------------------------ session

    def next_session(self, now_ms: int | None = None) -> int:
        """Return a new session id: epoch ms, or the previous one + 1 if the clock went back."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._lock:
            return self._next_session(now_ms)

    def _next_session(self, now_ms: int) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='session'").fetchone()
        session = max(now_ms, int(row[0]) + 1) if row else now_ms
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('session', ?)", (str(session),))
        return session

    def next_bdseq(self) -> int:
        """Return the birth/death sequence of a new connection: one above the last, from 0."""
        with self._lock:
            return self._next_bdseq()

    def _next_bdseq(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='bdseq'").fetchone()
        bdseq = int(row[0]) + 1 if row else 0
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('bdseq', ?)", (str(bdseq),))
        return bdseq

    # ------------------------------------------------------------------ staging holds

    def staging_holds(self) -> frozenset[str]:
        """The heat pumps the controller has held out of automatic staging."""
        row = self._read.execute("SELECT value FROM meta WHERE key='staging_holds'").fetchone()
        return frozenset(json.loads(row[0])) if row else frozenset()

    def set_staging_hold(self, unit: str, held: bool) -> frozenset[str]:
        """Hold a heat pump out of automatic staging, or release it, durably; the holds now."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='staging_holds'").fetchone()
            holds = set(json.loads(row[0])) if row else set()
            if held:
                holds.add(unit)
            else:
                holds.discard(unit)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('staging_holds', ?)",
                             (json.dumps(sorted(holds)),))
            return frozenset(holds)

    # ------------------------------------------------------------------ batches

    def append(self, session: int, seq: int, samples: str, created: float | None = None) -> int:
        """Store one batch durably; return its id. Drops the oldest batches when full."""
        return self.append_many([(session, seq, samples, created)])[0]

    def append_many(self, batches: list[tuple[int, int, str, float | None]]) -> list[int]:
        """Store batches in one transaction (one disk sync); return their ids in order.

        Raises sqlite3.Error or OSError (a full disk) with nothing stored.
        """
        with self._lock:
            return self._append_many(batches)

    def _append_many(self, batches: list[tuple[int, int, str, float | None]]) -> list[int]:
        ids: list[int] = []
        self._db.execute("BEGIN")
        try:
            for session, seq, samples, created in batches:
                cursor = self._db.execute(
                    "INSERT INTO batch (session, seq, created, samples) VALUES (?, ?, ?, ?)",
                    (session, seq, time.time() if created is None else created, samples),
                )
                assert cursor.lastrowid is not None
                ids.append(cursor.lastrowid)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._count += len(batches)
        self._bytes += sum(len(b[2]) for b in batches)
        if self._bytes > self.max_bytes:
            self._drop_oldest()
        return ids

    def _drop_oldest(self) -> None:
        target = int(self.max_bytes * 0.9)
        rows = self._db.execute("SELECT id, LENGTH(samples) FROM batch ORDER BY id").fetchall()
        cut, freed, n = 0, 0, 0
        for ident, size in rows:
            if self._bytes - freed <= target or n >= len(rows) - 1:
                break
            cut, freed, n = ident, freed + int(size), n + 1
        if n == 0:
            return
        lost = self._db.execute("SELECT session, MAX(seq) FROM batch WHERE id <= ? GROUP BY "
                                "session", (cut,)).fetchall()
        self._db.execute("BEGIN")
        try:
            self._db.execute("DELETE FROM batch WHERE id <= ?", (cut,))
            self._db.executemany(
                "INSERT INTO lost (session, through) VALUES (?, ?) ON CONFLICT (session) "
                "DO UPDATE SET through = MAX(through, excluded.through)", lost)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        for session, seq in lost:
            self._lost[int(session)] = max(self._lost.get(int(session), -1), int(seq))
        self._count -= n
        self._bytes -= freed
        if self.dropped == 0 or n > 1:
            log.warning("spool %s full (%d bytes): dropped the %d oldest batches", self.path,
                        self.max_bytes, n)
        self.dropped += n

    def remove_through(self, session: int, seq: int) -> list[int]:
        """Delete the batches of a session with seq at or below ``seq``; return their ids."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                rows = self._db.execute(
                    "DELETE FROM batch WHERE session = ? AND seq <= ? "
                    "RETURNING id, LENGTH(samples)", (session, seq)).fetchall()
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._count -= len(rows)
            self._bytes -= sum(int(r[1]) for r in rows)
            if self._lost.get(session, seq + 1) <= seq:
                # the historians' mark has passed the hole: nothing of it is left to say
                self._db.execute("DELETE FROM lost WHERE session = ?", (session,))
                del self._lost[session]
            return [int(r[0]) for r in rows]

    def lost(self, session: int) -> int | None:
        """The highest seq of a session the overflow policy dropped (None: none dropped).

        The overflow policy drops the oldest batches, so every batch of the session at or below
        it is either dropped or was confirmed before: none will ever be sent again."""
        return self._lost.get(session)

    def remove(self, ids: list[int]) -> None:
        """Delete batches by id."""
        if not ids:
            return
        with self._lock:
            self._remove(ids)

    def _remove(self, ids: list[int]) -> None:
        rows = self._db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(LENGTH(samples)), 0) FROM batch WHERE id IN "
            f"({','.join('?' * len(ids))})", ids).fetchone()
        self._db.execute("BEGIN")
        self._db.executemany("DELETE FROM batch WHERE id = ?", [(i,) for i in ids])
        self._db.execute("COMMIT")
        self._count -= int(rows[0])
        self._bytes -= int(rows[1])

    def after(self, last_id: int, limit: int) -> list[SpooledBatch]:
        """Return up to ``limit`` batches with id above ``last_id``, oldest first."""
        rows = self._read.execute(
            "SELECT id, session, seq, created, samples FROM batch WHERE id > ? ORDER BY id "
            "LIMIT ?", (last_id, limit)).fetchall()
        return [SpooledBatch(*row) for row in rows]

    @property
    def depth(self) -> int:
        """Batches not yet acknowledged."""
        return self._count

    @property
    def size_bytes(self) -> int:
        """Bytes of samples held."""
        return self._bytes

    @property
    def above_high_water(self) -> bool:
        """True once past the high-water fraction of the bound, until back below half of it.

        The hysteresis keeps the flag (and its log line) from flapping while the overflow
        policy trims the spool just under its bound.
        """
        mark = self.high_water * self.max_bytes
        if self._bytes > mark:
            self._high = True
        elif self._bytes < mark / 2:
            self._high = False
        return self._high

    def oldest_age(self, now: float | None = None) -> float:
        """Seconds since the oldest unsent batch was made (0 when empty)."""
        row = self._read.execute("SELECT created FROM batch ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return 0.0
        return max(0.0, (time.time() if now is None else now) - float(row[0]))

    # ------------------------------------------------------------------ commands

    def log_command(self, outcome: str, reason: str, raw: bytes, *, command_id: str | None = None,
                    point: str | None = None, origin: str | None = None,
                    value: str | None = None) -> None:
        """Keep one command (or refused payload) and its outcome."""
        with self._lock:
            self._db.execute(
                "INSERT INTO command_log (t, command_id, point, origin, value, outcome, reason,"
                " raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), command_id, point, origin, value, outcome, reason, raw[:4096]),
            )

    def command_log(self) -> list[tuple[str | None, str, str]]:
        """Return (command id, outcome, reason) of every logged command, oldest first."""
        return [(r[0], r[1], r[2]) for r in self._read.execute(
            "SELECT command_id, outcome, reason FROM command_log ORDER BY id")]
