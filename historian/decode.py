"""Turn an MQTT message (topic, payload bytes) into a contract message or a reason to reject it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from plant.contract import (
    MAX_PAYLOAD_BYTES,
    Birth,
    DataBatch,
    Death,
    Topic,
    parse_topic,
)

EARLIEST_SAMPLE = datetime(1990, 1, 1, tzinfo=UTC)
"""Samples before this are a gateway clock fault, not plant history."""
FUTURE_TOLERANCE = timedelta(days=1)
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class Rejected:
    """A payload the historian will not store as data, with the reason it goes to dead letters."""

    reason: str


Decoded = DataBatch | Birth | Death | Rejected


def _first_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:3]:
        where = ".".join(str(part) for part in item["loc"]) or "payload"
        problems.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(problems)
    text = "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
    return text


def _has_lone_surrogate(document: object) -> bool:
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_samples(batch: DataBatch, now: datetime) -> str | None:
    latest = now + FUTURE_TOLERANCE
    for index, sample in enumerate(batch.samples):
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


def decode(topic_name: str, payload: bytes, now: datetime | None = None) -> Decoded:
    """Decode one message of a ``birth``, ``death`` or ``data`` topic; never raises."""
    try:
        station, kind = parse_topic(topic_name)
    except ValueError as error:
        return Rejected(str(error))
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
    if b"\\u" in payload and _has_lone_surrogate(document):
        return Rejected("payload contains a lone UTF-16 surrogate escape")
    if not isinstance(document, dict):
        return Rejected(f"payload is a JSON {type(document).__name__}, not an object")
    model: type[DataBatch] | type[Birth] | type[Death]
    if kind is Topic.DATA:
        model = DataBatch
    elif kind is Topic.BIRTH:
        model = Birth
    elif kind is Topic.DEATH:
        model = Death
    else:
        return Rejected(f"the historian does not take {kind.value!r} messages")
    try:
        message = model.model_validate(document)
    except ValidationError as error:
        return Rejected(f"{kind.value} payload invalid: {_first_error(error)}"[:MAX_REASON_CHARS])
    except (ValueError, TypeError, RecursionError) as error:
        return Rejected(f"{kind.value} payload invalid: {error}"[:MAX_REASON_CHARS])
    if message.station != station:
        return Rejected(
            f"payload station {message.station!r} differs from topic station {station!r}"
        )
    if isinstance(message, DataBatch):
        problem = _check_samples(message, now or datetime.now(UTC))
        if problem is not None:
            return Rejected(f"data payload invalid: {problem}"[:MAX_REASON_CHARS])
    return message
