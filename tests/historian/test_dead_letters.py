"""Fuzzing the historian with mutations of valid messages, judged by the contract's models.

Every payload starts as a valid contract message (data, birth, death, cmd, ack, event) and is
then left alone or mutated: a field set to junk (a number as text, an integer as a time, …),
deleted, or added, a time moved out of range, the station changed, the bytes truncated. Whether
it is valid is decided here, by the contract's pydantic models parsing the raw JSON
(``model_validate_json``) plus the storage rules ``docs/historian.md`` lists, never by the
historian's decoder. The historian must store every valid one and dead-letter every malformed
one with a reason: nothing lost, nothing crashes.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from pydantic import BaseModel, ValidationError

from geoscada.services import Mosquitto
from historian.ingest import Historian
from historian.synthetic import Publisher, StationFeed
from plant.contract import (
    MAX_PAYLOAD_BYTES,
    PAYLOADS,
    Birth,
    Command,
    CommandAck,
    DataBatch,
    Death,
    Event,
    Topic,
    topic,
)
from tests.historian.conftest import count, wait_for

pytestmark = pytest.mark.integration

STATION = "st-fuzz"
KINDS = (Topic.DATA, Topic.DATA, Topic.DATA, Topic.BIRTH, Topic.DEATH, Topic.CMD, Topic.ACK,
         Topic.EVENT)
TIME_KEYS = frozenset({"t", "issued", "expires"})
# Storage rules of the historian beyond the models (docs/historian.md, "bad payloads").
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
MAX_BIGINT = 2**63 - 1

def junk(rng: random.Random) -> object:
    """A JSON value of any type, often of the wrong one for the field it lands in."""
    choice = rng.randrange(9)
    if choice == 0:
        return None
    if choice == 1:
        return rng.random() < 0.5
    if choice == 2:
        return rng.choice([0, -1, 1, 85, 2**53 + 1, 2**63, -(2**70), rng.randint(-999, 999)])
    if choice == 3:
        return rng.choice([0.5, -1e300, 1e-9, 85.0, rng.uniform(-1e6, 1e6)])
    if choice == 4:
        alphabet = "aZ9 ._-/\x00\u00e9\u2603\U0001f525\""
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(13)))
    if choice == 5:
        return rng.choice(["85", "85.5", "true", "good", "2026-01-15T00:00:00Z", ""])
    if choice == 6:
        return [rng.randint(-5, 5) for _ in range(rng.randrange(4))]
    if choice == 7:
        return {rng.choice(["a", "p", "t", "v"]): rng.randint(0, 9) for _ in range(rng.randrange(3))}
    return rng.choice([{}, [], "", 0])


def bad_time(rng: random.Random) -> object:
    """A time that is a number, out of range, without a zone or not a time at all."""
    return rng.choice([
        rng.randint(0, 2_000_000_000), rng.uniform(0, 2e9), "1985-06-01T00:00:00Z",
        "2999-01-01T00:00:00Z", "2026-01-15T00:00:00", "2026-01-15T08:00:00+08:00",
        "2026-01-15 00:00:00Z", "yesterday",
    ])


def _template(kind: Topic, n: int) -> dict[str, Any]:
    """A valid message of one kind, made unique by ``n`` (seq, times, ids)."""
    start = datetime(2026, 1, 15, tzinfo=UTC) + timedelta(seconds=10 * n)
    feed = StationFeed(STATION, analogues=2, meters=1, session=1, start=start, seq=n)
    message: BaseModel
    if kind is Topic.DATA:
        message = feed.batch(step=0)
    elif kind is Topic.BIRTH:
        message = feed.birth().model_copy(update={"bdseq": n})
    elif kind is Topic.DEATH:
        message = Death(station=STATION, session=1, bdseq=n, t=start)
    elif kind is Topic.CMD:
        message = Command(id=f"c-{n}", point="P1.speed_setpoint", value=40.0 + n % 7,
                          origin="operator:fuzz", issued=start, expires=start + timedelta(30))
    elif kind is Topic.ACK:
        message = CommandAck(id=f"c-{n}", point="P1.speed_setpoint", outcome="done",
                             readback=41.0, t=start)
    else:
        message = Event(station=STATION, id=f"e-{n}", t=start, kind="alarm", source="fuzz",
                        data={"message": "flow low", "severity": 2})
    document: dict[str, Any] = json.loads(message.model_dump_json())
    return document


def _paths(node: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((*prefix, index))
            found += _paths(value, (*prefix, index))
    return found


def _parent(document: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = document
    for key in path[:-1]:
        node = node[key]
    return node


def mutated(rng: random.Random, n: int) -> tuple[Topic, bytes]:
    """A valid message of a random kind, left alone or mutated once or twice."""
    kind = rng.choice(KINDS)
    document = _template(kind, n)
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        paths = _paths(document)
        path = rng.choice(paths)
        parent = _parent(document, path)
        mutation = rng.choice(
            ["junk", "junk", "delete", "unknown", "time", "text_number", "station", "truncate"]
        )
        if mutation == "junk":
            parent[path[-1]] = junk(rng)
        elif mutation == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif mutation == "unknown":
            target = parent if isinstance(parent, dict) else document
            target[rng.choice(["extra", "p2", "note", "v1", "z"])] = junk(rng)
        elif mutation == "time":
            time_paths = [p for p in paths if p[-1] in TIME_KEYS]
            if time_paths:
                where = rng.choice(time_paths)
                _parent(document, where)[where[-1]] = bad_time(rng)
        elif mutation == "text_number":
            numeric = [p for p in paths if type(_parent(document, p)[p[-1]]) in (int, float)]
            if numeric:
                where = rng.choice(numeric)
                _parent(document, where)[where[-1]] = str(_parent(document, where)[where[-1]])
        elif mutation == "station" and "station" in document:
            document["station"] = rng.choice(["st-other", "", STATION.upper()])
        elif mutation == "truncate":
            payload = json.dumps(document).encode()
            return kind, payload[: rng.randrange(len(payload))]
    return kind, json.dumps(document).encode()


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def judge(kind: Topic, payload: bytes) -> BaseModel | None:
    """The oracle: the contract model of the kind, plus the documented storage rules."""
    try:
        message = PAYLOADS[kind].model_validate_json(payload)
    except ValidationError:
        return None
    station = getattr(message, "station", STATION)
    if station != STATION or _has_nul(message.model_dump()):
        return None
    if any((getattr(message, name, None) or 0) > MAX_BIGINT
           for name in ("session", "seq", "bdseq", "last_seq")):
        return None
    if isinstance(message, DataBatch):
        latest = datetime.now(UTC) + timedelta(days=1)
        for sample in message.samples:
            if not EARLIEST <= sample.t <= latest:
                return None
            if isinstance(sample.v, int) and not math.isfinite(float(sample.v)):
                return None
    return message


def _digest(topic_name: str, payload: bytes) -> tuple[str, str]:
    return topic_name, hashlib.sha256(payload).hexdigest()


@pytest.mark.slow
def test_mutated_payloads_valid_ones_stored_malformed_ones_dead_lettered(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    historian = historian_factory(broker.url, database)
    sent: list[tuple[str, bytes, BaseModel | None]] = []
    rng = random.Random(15)
    with Publisher(broker.url) as publisher:
        for n in range(6000):
            kind, payload = mutated(rng, n)
            name = topic(STATION, kind)
            publisher.publish_raw(name, payload)
            sent.append((name, payload, judge(kind, payload)))
        oversized = b'{"station": "%s"' % STATION.encode() + b" " * MAX_PAYLOAD_BYTES + b"}"
        publisher.publish_raw(topic(STATION, Topic.DATA), oversized)
        sent.append((topic(STATION, Topic.DATA), oversized, None))

    malformed = [(name, payload) for name, payload, verdict in sent if verdict is None]
    valid = [verdict for _, _, verdict in sent if verdict is not None]
    batches = [m for m in valid if isinstance(m, DataBatch)]
    # Both sides are exercised in earnest.
    assert len(malformed) > 1000 and len(valid) > 1000 and len(batches) > 500
    wait_for(lambda: count(database, "SELECT count(*) FROM dead_letters") >= len(malformed),
             120, "dead letters")
    keys = {(b.session, b.seq) for b in batches}
    wait_for(lambda: count(database, "SELECT count(*) FROM received_batches") >= len(keys),
             60, "valid batches")
    wait_for(lambda: historian._queue.qsize() == 0, 30, "the historian's queue to drain")
    assert historian.alive
    with psycopg.connect(database) as conn:
        letters = conn.execute("SELECT topic, payload, reason FROM dead_letters").fetchall()
        stored_batches = set(conn.execute(
            "SELECT session, seq FROM received_batches WHERE station = %s", (STATION,)
        ).fetchall())
        stored_samples = set(conn.execute(
            "SELECT p.name, s.time FROM samples s JOIN points p ON p.id = s.point_id"
            " WHERE p.station = %s", (STATION,)
        ).fetchall())
        sessions = set(conn.execute(
            "SELECT session FROM station_sessions WHERE station = %s", (STATION,)
        ).fetchall())
        commands = {row[0] for row in conn.execute("SELECT id FROM commands").fetchall()}
        audit = {row[0] for row in conn.execute("SELECT key FROM audit").fetchall()}
        events = {row[0] for row in conn.execute("SELECT event_id FROM events").fetchall()}
    # Every malformed payload is dead-lettered once, with a reason; no valid one is.
    assert Counter(_digest(str(t), bytes(p)) for t, p, _ in letters) == Counter(
        _digest(t, p) for t, p in malformed
    )
    assert all(reason for _, _, reason in letters)
    # Every valid one is stored.
    for message in valid:
        if isinstance(message, DataBatch):
            assert (message.session, message.seq) in stored_batches
            assert {(s.p, s.t) for s in message.samples} <= stored_samples
        elif isinstance(message, Birth):
            assert (message.session,) in sessions
        elif isinstance(message, Command):
            assert message.id in commands and f"command/{STATION}/{message.id}" in audit
        elif isinstance(message, CommandAck):
            assert f"ack/{STATION}/{message.id}" in audit
        elif isinstance(message, Event):
            assert message.id in events
