"""The fault suite's oracle: what was published (an MQTT tap) against what is stored (SQL).

Nothing here goes through the code under test. The tap is its own paho client with a persistent
session at QoS 1; it parses the payloads as plain JSON. The database is read with psycopg and
plain SQL on the historian's tables. The verdicts are pure functions of the two, returning the
problems they find as sentences (an empty list: nothing lost, nothing doubled).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from plant.contract import Birth, Death, station_alive

Value = float | None
SampleKey = tuple[str, datetime]
"""(point, source time): the key of a sample."""
Reading = tuple[Value, str]
"""(value as the database stores it, quality name)."""


def stored_value(value: object) -> Value:
    """A JSON sample value as the historian stores it: a double, booleans as 0/1."""
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return float(value)
    raise ValueError(f"sample value {value!r} is not a number, a boolean or null")


@dataclass(frozen=True)
class SeenBatch:
    """A data batch as the tap first saw it."""

    session: int
    seq: int
    seen_at: float
    """Wall-clock time of its first arrival at the tap."""
    samples: dict[SampleKey, Reading]


@dataclass
class Seen:
    """Everything the tap saw of one station."""

    batches: dict[tuple[int, int], SeenBatch] = field(default_factory=dict)
    deliveries: int = 0
    disagreements: list[str] = field(default_factory=list)
    """Replays of one batch whose samples differ from its first delivery."""
    births: list[Birth] = field(default_factory=list)
    deaths: list[Death] = field(default_factory=list)
    lost_through: dict[int, int] = field(default_factory=dict)
    """Per session, the highest ``lost_through`` a batch carried: the contract says no batch of
    the session at or below it will come (the gateway's spool dropped them)."""

    def last_seq(self) -> dict[int, int]:
        """Per session, the ``last_seq`` of its clean death, where one was seen."""
        return {d.session: d.last_seq for d in self.deaths if d.clean and d.last_seq is not None}


class Tap:
    """An MQTT client recording every data batch, birth and death of every station."""

    def __init__(self, port: int, client_id: str) -> None:
        self._lock = threading.Lock()
        self._stations: dict[str, Seen] = {}
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, keepalive=30, clean_start=False,
                            properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise RuntimeError("the tap could not subscribe")

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any,
                    props: Any) -> None:
        client.subscribe([("geoscada/v1/+/data", 1), ("geoscada/v1/+/birth", 1),
                          ("geoscada/v1/+/death", 1)])
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        now = time.time()
        station, kind = msg.topic.split("/")[2:4]
        with self._lock:
            seen = self._stations.setdefault(station, Seen())
            if kind == "birth":
                seen.births.append(Birth.model_validate_json(msg.payload))
            elif kind == "death":
                seen.deaths.append(Death.model_validate_json(msg.payload))
            else:
                self._record_batch(seen, json.loads(msg.payload), now)

    @staticmethod
    def _record_batch(seen: Seen, document: dict[str, Any], now: float) -> None:
        samples = {(s["p"], datetime.fromisoformat(s["t"])): (stored_value(s["v"]), s["q"])
                   for s in document["samples"]}
        key = (int(document["session"]), int(document["seq"]))
        if document.get("lost_through") is not None:
            seen.lost_through[key[0]] = max(seen.lost_through.get(key[0], -1),
                                            int(document["lost_through"]))
        seen.deliveries += 1
        first = seen.batches.get(key)
        if first is None:
            seen.batches[key] = SeenBatch(key[0], key[1], now, samples)
        elif first.samples != samples:
            seen.disagreements.append(f"session {key[0]} seq {key[1]} came again with other "
                                      "samples")

    def seen(self, station: str) -> Seen:
        """A copy of what the tap has seen of one station so far."""
        with self._lock:
            now = self._stations.get(station, Seen())
            return Seen(dict(now.batches), now.deliveries, list(now.disagreements),
                        list(now.births), list(now.deaths), dict(now.lost_through))

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def retained_liveness(port: int, station: str, wait_s: float = 1.5) -> bool:
    """Ask the broker for the retained birth and death, as a late subscriber would."""
    found: dict[str, bytes] = {}
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)

    def on_connect(c: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        c.subscribe([(f"geoscada/v1/{station}/birth", 1), (f"geoscada/v1/{station}/death", 1)])

    def on_message(c: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        if msg.retain:
            found[msg.topic.rsplit("/", 1)[1]] = bytes(msg.payload)

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    time.sleep(wait_s)
    client.disconnect()
    client.loop_stop()
    birth = Birth.model_validate_json(found["birth"]) if "birth" in found else None
    death = Death.model_validate_json(found["death"]) if "death" in found else None
    return station_alive(birth, death)


# ---------------------------------------------------------------------------------- database


@dataclass(frozen=True)
class LedgerRow:
    """One row of the historian's gap ledger."""

    kind: str
    session: int | None
    point: str | None
    start: datetime | None
    end: datetime | None
    filled: bool
    reason: str | None
    seqs: tuple[int, int] | None = None
    """A sequence gap's first and last missing seq."""

    def __str__(self) -> str:
        since = self.start.isoformat() if self.start else "?"
        until = self.end.isoformat() if self.end else "open"
        who = f" point {self.point}" if self.point else ""
        who += f" seq {self.seqs[0]}-{self.seqs[1]}" if self.seqs else ""
        return (f"{self.kind} of session {self.session}{who} from {since} to {until}"
                f"{' (filled)' if self.filled else ''}: {self.reason}")


@dataclass(frozen=True)
class Stored:
    """What the database holds of one station."""

    batches: dict[tuple[int, int], int]
    """(session, seq) -> samples the batch carried (received_batches)."""
    batch_rows: int
    """Rows of received_batches, to see a doubled one."""
    samples: dict[SampleKey, Reading]
    sample_rows: int
    ledger: tuple[LedgerRow, ...]


def read_database(dsn: str, station: str) -> Stored:
    """Read one station's batches, samples and gap ledger with plain SQL."""
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        batch_rows = conn.execute(
            "SELECT session, seq, samples FROM received_batches WHERE station = %s",
            (station,)).fetchall()
        sample_rows = conn.execute(
            "SELECT p.name, s.time, s.value, q.name FROM samples s"
            " JOIN points p ON p.id = s.point_id JOIN quality_codes q ON q.code = s.quality"
            " WHERE p.station = %s", (station,)).fetchall()
        ledger_rows = conn.execute(
            "SELECT g.kind, g.session, p.name, g.start_time, g.end_time, g.filled_at IS NOT NULL,"
            " g.reason, g.from_seq, g.to_seq FROM gap_ledger g"
            " LEFT JOIN points p ON p.id = g.point_id"
            " WHERE g.station = %s ORDER BY g.id", (station,)).fetchall()
    return Stored(
        batches={(int(s), int(q)): int(n) for s, q, n in batch_rows},
        batch_rows=len(batch_rows),
        samples={(str(p), t): (v, str(q)) for p, t, v, q in sample_rows},
        sample_rows=len(sample_rows),
        ledger=tuple(LedgerRow(str(k), None if s is None else int(s), p, a, b, bool(f), r,
                               None if lo is None else (int(lo), int(hi)))
                     for k, s, p, a, b, f, r, lo, hi in ledger_rows),
    )


# ---------------------------------------------------------------------------------- verdicts


def _ranges(numbers: Iterable[int]) -> str:
    """Compact text of a set of integers: ``3-7, 9``."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs]
    return ", ".join(parts[:12]) + (" ..." if len(parts) > 12 else "")


def delivery_problems(seen: Seen, stored: Stored) -> list[str]:
    """Every (session, seq) made is stored, every sample seen is stored once with its value.

    The highest seq of a session is its clean death's ``last_seq`` where there was one, else the
    highest seq anyone saw (the tap or the database). A seq the gateway declared lost
    (``lost_through``, its spool overflowed) is owed no longer, but only if the tap never saw
    it: what was published must be stored.
    """
    problems = list(seen.disagreements)
    sessions = {s for s, _ in seen.batches} | {s for s, _ in stored.batches}
    last = seen.last_seq()
    sessions |= set(last)
    for session in sorted(sessions):
        observed = [q for s, q in seen.batches if s == session]
        observed += [q for s, q in stored.batches if s == session]
        high = last.get(session, max(observed, default=-1))
        if observed and max(observed) > high:
            problems.append(f"session {session}: seq {max(observed)} above the clean death's "
                            f"last_seq {high}")
        missing = set(range(high + 1)) - {q for s, q in stored.batches if s == session}
        missing -= set(range(seen.lost_through.get(session, -1) + 1)) - {
            q for s, q in seen.batches if s == session}
        if missing:
            problems.append(f"session {session}: {len(missing)} of {high + 1} batches missing "
                            f"in the database: seq {_ranges(missing)}")
    if stored.batch_rows != len(stored.batches):
        problems.append(f"{stored.batch_rows - len(stored.batches)} batches stored twice")
    for ident, batch in sorted(seen.batches.items()):
        if ident in stored.batches and stored.batches[ident] != len(batch.samples):
            problems.append(f"session {ident[0]} seq {ident[1]}: {len(batch.samples)} samples "
                            f"published, {stored.batches[ident]} recorded")
    lost, changed = 0, 0
    example = ""
    for batch in seen.batches.values():
        for key, reading in batch.samples.items():
            if key not in stored.samples:
                lost += 1
                example = example or f"{key[0]} at {key[1].isoformat()}"
            elif stored.samples[key] != reading:
                changed += 1
                example = example or (f"{key[0]} at {key[1].isoformat()}: published "
                                      f"{reading}, stored {stored.samples[key]}")
    if lost or changed:
        problems.append(f"{lost} samples seen by the tap missing in the database, {changed} "
                        f"stored with another value or quality (e.g. {example})")
    if stored.sample_rows != len(stored.samples):
        problems.append(f"{stored.sample_rows - len(stored.samples)} samples stored twice")
    carried = sum(stored.batches.values())
    if carried != stored.sample_rows:
        problems.append(f"the stored batches carried {carried} samples, the database holds "
                        f"{stored.sample_rows}")
    conflicts = [row for row in stored.ledger if row.kind == "value_conflict"]
    if conflicts:
        problems.append(f"{len(conflicts)} value conflicts in the gap ledger")
    return problems


_EPS = timedelta(milliseconds=1)
QUALITY_KINDS = frozenset({"bad_quality", "value_conflict", "counter_suspect"})
"""Ledger kinds about single points' values, not about the station's stream."""


def open_outages(stored: Stored, allowed_sessions: Iterable[int] = (),
                 declared_lost: dict[int, int] | None = None) -> list[LedgerRow]:
    """Ledger rows that say the station's stream is still missing something.

    A sequence gap (or lost tail) not filled, or an outage (a death) without an end. Deaths of
    ``allowed_sessions`` (a final clean stop) are left out, and so are sequence gaps wholly at
    or below what the tap saw the gateway declare lost (``declared_lost``, per session): those
    will never be filled, and are not owed.
    """
    allowed = set(allowed_sessions)
    declared = declared_lost or {}
    rows = []
    for row in stored.ledger:
        if row.kind in QUALITY_KINDS or row.filled:
            continue
        if (row.kind == "seq_gap" and row.seqs is not None and row.session is not None
                and row.seqs[1] <= declared.get(row.session, -1)):
            continue
        if row.kind == "seq_gap" or (row.end is None and row.session not in allowed):
            rows.append(row)
    return rows


@dataclass(frozen=True)
class Hole:
    """A silence of one point longer than the site lets it be silent."""

    point: str
    after: datetime
    before: datetime

    def __str__(self) -> str:
        return (f"{self.point}: {(self.before - self.after).total_seconds():.1f} s without a "
                f"sample after {self.after.isoformat()}")


def unexplained_holes(stored: Stored, points: Iterable[str], allowed_s: float,
                      between: tuple[datetime, datetime]) -> list[Hole]:
    """Silences of a point longer than ``allowed_s`` that no bad sample or ledger span explains.

    A silence after a bad sample is explained (report by exception: a bad point stays bad until
    its next sample), and so is one covered by a ledger row of the point or of the station.
    """
    holes: list[Hole] = []
    spans = [(r.point, r.start, r.end) for r in stored.ledger
             if r.kind not in ("value_conflict",) and r.start is not None]
    for point in points:
        times = sorted((t, q) for (p, t), (_, q) in stored.samples.items()
                       if p == point and between[0] <= t <= between[1])
        for (t0, q0), (t1, _) in itertools.pairwise(times):
            if (t1 - t0).total_seconds() <= allowed_s or q0 == "bad":
                continue
            covered = any((who is None or who == point) and start <= t0 + _EPS
                          and (end is None or end >= t1 - _EPS)
                          for who, start, end in spans)
            if not covered:
                holes.append(Hole(point, t0, t1))
    return holes


def freeze_problems(stored: Stored, points: Iterable[str], frozen: tuple[datetime, datetime],
                    margin: timedelta) -> list[str]:
    """A frozen device's points must turn bad, and none may read good while it cannot answer.

    ``frozen`` is when the device stopped and resumed; a read already answered when it stopped
    may be stamped up to ``margin`` later.
    """
    problems = []
    start, end = frozen
    for point in points:
        during = [(t, q) for (p, t), (_, q) in stored.samples.items()
                  if p == point and start <= t <= end]
        if not any(q == "bad" for _, q in during):
            problems.append(f"{point}: no bad sample while its device was frozen")
        lies = sorted(t for t, q in during if q == "good" and t > start + margin)
        if lies:
            problems.append(f"{point}: {len(lies)} good sample(s) while its device was frozen, "
                            f"first at {lies[0].isoformat()}")
    return problems


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               problems: Callable[[], object] | None = None) -> None:
    """Poll until ``condition`` holds; fail naming ``what`` (and the problems) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    detail = f": {problems()}" if problems is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
