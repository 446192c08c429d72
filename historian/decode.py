"""Turn an MQTT message (topic, payload bytes) into a contract message or a reason to reject it.

Data batches are the hot path: a strict hand-written check accepts the common, plainly valid
payload and turns it straight into rows; anything it is not sure of goes through the contract's
pydantic models, which give the authoritative verdict and the error message. The fast check only
accepts what the models accept, with the same values. Like the models of report messages it
ignores fields it does not know, so a newer gateway never dead-letters here.

Besides data, births and deaths, the historian keeps commands, their acknowledgements and events
(``cmd``, ``ack``, ``event``) for the audit trail.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from pydantic import ValidationError

from plant.contract import (
    MAX_PAYLOAD_BYTES,
    RETAINED,
    Birth,
    Command,
    CommandAck,
    DataBatch,
    Death,
    Event,
    Quality,
    Reason,
    Topic,
    parse_topic,
)

EARLIEST_SAMPLE = datetime(1990, 1, 1, tzinfo=UTC)
"""Samples before this are a gateway clock fault, not plant history."""
FUTURE_TOLERANCE = timedelta(days=1)
MAX_REASON_CHARS = 500
MAX_BIGINT = 2**63 - 1

_BATCH_REQUIRED = frozenset({"station", "session", "seq", "samples"})
_QUALITIES = frozenset(q.value for q in Quality)
_REASONS = frozenset(r.value for r in Reason)
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


@dataclass(frozen=True)
class Rejected:
    """A payload the historian will not store as data, with the reason it goes to dead letters."""

    reason: str


class SampleRow(NamedTuple):
    """One sample as the historian stores it: point, time, value, quality, reason, detail."""

    p: str
    t: datetime
    v: float | int | bool | None
    q: str
    r: str | None
    d: str | None


@dataclass(frozen=True)
class Batch:
    """A validated data batch, as rows."""

    station: str
    session: int
    seq: int
    historical: bool
    samples: tuple[SampleRow, ...]
    lost_through: int | None = None
    """The gateway's spool dropped this session's batches up to this seq (none will come)."""

    @classmethod
    def from_contract(cls, batch: DataBatch) -> Batch:
        """Rows of a contract DataBatch."""
        return cls(
            station=batch.station,
            session=batch.session,
            seq=batch.seq,
            historical=batch.historical,
            samples=tuple(
                SampleRow(s.p, s.t, s.v, s.q.value, s.r.value if s.r else None, s.d)
                for s in batch.samples
            ),
            lost_through=batch.lost_through,
        )


@dataclass(frozen=True)
class StationMessage:
    """A command, command acknowledgement or event, with the station of its topic."""

    station: str
    message: Command | CommandAck | Event


@dataclass(frozen=True)
class Ignored:
    """A message the contract says is never acted on (a retained copy of a non-retained kind)."""

    reason: str


Decoded = Batch | Birth | Death | StationMessage | Ignored | Rejected
_KINDS = (Topic.DATA, Topic.BIRTH, Topic.DEATH, Topic.CMD, Topic.ACK, Topic.EVENT)


def _first_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:3]:
        where = ".".join(str(part) for part in item["loc"]) or "payload"
        problems.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _has_lone_surrogate(document: object) -> bool:
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _fast_sample(item: object) -> SampleRow | None:
    """The row of a plainly valid sample, or None when the contract model must judge it."""
    if type(item) is not dict:
        return None
    p, t, v = item.get("p"), item.get("t"), item.get("v", ...)
    q, r, d = item.get("q", "good"), item.get("r"), item.get("d")
    if type(p) is not str or not 1 <= len(p) <= 96 or type(t) is not str or v is ...:
        return None
    if not (v is None or type(v) in (bool, int) or (type(v) is float and math.isfinite(v))):
        return None
    if type(q) is not str or q not in _QUALITIES:
        return None
    if r is not None and (type(r) is not str or r not in _REASONS):
        return None
    if d is not None and (type(d) is not str or len(d) > 200):
        return None
    if not _TIME.fullmatch(t):
        return None
    return SampleRow(p, datetime.fromisoformat(t), v, q, r, d)


def _fast_batch(document: dict[str, object]) -> Batch | None:
    """A plainly valid data batch as rows, or None when the contract model must judge it."""
    if not document.keys() >= _BATCH_REQUIRED:
        return None
    station, session, seq = document["station"], document["session"], document["seq"]
    historical, samples = document.get("historical", False), document["samples"]
    if type(station) is not str or type(session) is not int or type(seq) is not int:
        return None
    if session < 0 or seq < 0 or type(historical) is not bool or type(samples) is not list:
        return None
    lost = document.get("lost_through")
    if lost is not None and (type(lost) is not int or lost < 0):
        return None
    rows = []
    for item in samples:
        row = _fast_sample(item)
        if row is None:
            return None
        rows.append(row)
    return Batch(station, session, seq, historical, tuple(rows), lost)


def _check_samples(batch: Batch, now: datetime) -> str | None:
    latest = now + FUTURE_TOLERANCE
    for index, sample in enumerate(batch.samples):
        if sample.t.tzinfo is None:
            return f"samples.{index}.t: no time zone"
        if sample.t < EARLIEST_SAMPLE or sample.t > latest:
            return f"samples.{index}.t: {sample.t.isoformat()} is outside 1990 .. now + 1 day"
        if "\x00" in sample.p or (sample.d is not None and "\x00" in sample.d):
            return f"samples.{index}: text contains a NUL character"
        value = sample.v
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                as_float = float(value)
            except OverflowError:
                return f"samples.{index}.v: integer too large to store"
            if not math.isfinite(as_float):
                return f"samples.{index}.v: integer too large to store"
    return None


def decode(
    topic_name: str, payload: bytes, now: datetime | None = None, *, retained: bool = False
) -> Decoded:
    """Decode one message of a topic the historian keeps (see ``_KINDS``); never raises.

    ``retained``: the broker sent it as a retained message (on subscribing). Only the kinds the
    contract publishes retained are read then; a retained copy of any other kind (a stale data
    batch, command, acknowledgement or event) is ignored.
    """
    try:
        return _decode(topic_name, payload, now, retained)
    except Exception as error:  # a decoder bug must cost one message, never the historian
        return Rejected(f"historian could not decode: {type(error).__name__}: {error}"[:500])


def _decode(topic_name: str, payload: bytes, now: datetime | None, retained: bool) -> Decoded:
    try:
        station, kind = parse_topic(topic_name)
    except ValueError as error:
        return Rejected(str(error))
    if retained and kind not in RETAINED:
        return Ignored(f"a retained {kind.value!r} message is never acted on")
    if kind not in _KINDS:
        return Rejected(f"the historian does not take {kind.value!r} messages")
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejected(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejected(f"payload is not UTF-8: {error.reason} at byte {error.start}")
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        return Rejected(f"payload is not JSON: {error}"[:MAX_REASON_CHARS])
    if "\\u" in text and _has_lone_surrogate(document):
        return Rejected("payload contains a lone UTF-16 surrogate escape")
    if not isinstance(document, dict):
        return Rejected(f"payload is a JSON {type(document).__name__}, not an object")
    fast = _fast_batch(document) if kind is Topic.DATA else None
    message: Batch | Birth | Death | Event
    if fast is not None:
        message = fast
    else:
        try:
            if kind is Topic.DATA:
                message = Batch.from_contract(DataBatch.model_validate(document))
            elif kind is Topic.BIRTH:
                message = Birth.model_validate(document)
            elif kind is Topic.DEATH:
                message = Death.model_validate(document)
            elif kind is Topic.CMD:
                return _no_nul(StationMessage(station, Command.model_validate(document)))
            elif kind is Topic.ACK:
                return _no_nul(StationMessage(station, CommandAck.model_validate(document)))
            else:
                message = Event.model_validate(document)
        except ValidationError as error:
            return Rejected(
                f"{kind.value} payload invalid: {_first_error(error)}"[:MAX_REASON_CHARS]
            )
        except (ValueError, TypeError, RecursionError) as error:
            return Rejected(f"{kind.value} payload invalid: {error}"[:MAX_REASON_CHARS])
    if message.station != station:
        return Rejected(
            f"payload station {message.station!r} differs from topic station {station!r}"
        )
    too_large = _beyond_bigint(message)
    if too_large is not None:
        return Rejected(f"{kind.value} payload invalid: {too_large} exceeds 2**63 - 1")
    if isinstance(message, Batch):
        problem = _check_samples(message, now or datetime.now(UTC))
        if problem is not None:
            return Rejected(f"data payload invalid: {problem}"[:MAX_REASON_CHARS])
    if isinstance(message, Event):
        return _no_nul(StationMessage(station, message))
    if isinstance(message, Birth | Death) and _has_nul(message.model_dump()):
        return Rejected(f"{kind.value} payload invalid: text contains a NUL character")
    return message


def _beyond_bigint(message: Batch | Birth | Death | Event) -> str | None:
    """The name of a session, seq or bdSeq too large for the database's 64-bit integers."""
    counts = {"session": getattr(message, "session", 0), "seq": getattr(message, "seq", 0),
              "bdseq": getattr(message, "bdseq", 0), "last_seq": getattr(message, "last_seq", 0)}
    for name, value in counts.items():
        if isinstance(value, int) and value > MAX_BIGINT:
            return name
    return None


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _no_nul(message: StationMessage) -> StationMessage | Rejected:
    """PostgreSQL text cannot hold NUL: refuse such a message instead of failing its batch."""
    if _has_nul(message.message.model_dump()):
        return Rejected("payload invalid: text contains a NUL character")
    return message
