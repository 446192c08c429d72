"""The MQTT contract between gateways, historians, the controller and the UI (version 1.1).

Topics live under ``geoscada/v1/<station>/``:

==============  ========  =========  ===========================================================
topic           retained  publisher  payload
==============  ========  =========  ===========================================================
``birth``       yes       gateway    :class:`Birth`: session, bdSeq, station metadata, points
``death``       yes       gateway    :class:`Death`: last will (and clean stop) of one bdSeq
``data``        no        gateway    :class:`DataBatch`: one scan's samples, ``seq`` per session
``watermark``   yes       historian  :class:`Watermark`: what is committed, per session
``rebirth``     no        any        :class:`RebirthRequest`: ask for the birth again
``cmd``         no        ctl / UI   :class:`Command`: write a value to a writable point
``ack``         no        gateway    :class:`CommandAck`: a command's outcome, with read-back
``event``       no        ctl        :class:`Event`: alarm transitions and controller decisions
==============  ========  =========  ===========================================================

Every sample carries source time (UTC, when read), value and quality with a reason. A value that
cannot be read is sent as ``bad`` with ``v`` null: never dropped, never zero. Batches replayed
from the gateway's spool keep their session and sequence and are flagged ``historical`` so that
they never overwrite a live value. Payloads are JSON (UTF-8); JSON Schema in ``docs/schema``.

Delivery is acknowledged end to end: a gateway deletes a batch from its spool only once a
historian's :class:`Watermark` says the batch is committed with no hole below it, never on a
broker PUBACK alone.

Liveness: every connection of a gateway has a bdSeq (birth/death sequence), persistent and
increasing across restarts. The birth and the will of one connection carry the same bdSeq, so a
death counts only for the birth it belongs to and :func:`station_alive` decides from the two
retained messages alone.

Wire types are strict: no string is read as a number, no number as a time, no integer as a
boolean. Messages consumers read (birth, death, data, watermark, ack, event) ignore fields they do
not know, so a newer gateway never dead-letters at an older consumer; commands and rebirth
requests, which make things happen, refuse unknown fields.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

VERSION = "v1"
CONTRACT = "1.1"
"""The contract's version within the ``v1`` topic root: additions only, no breaking change."""
ROOT = f"geoscada/{VERSION}"
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


class Topic(StrEnum):
    """The last level of a station topic."""

    BIRTH = "birth"
    DEATH = "death"
    DATA = "data"
    REBIRTH = "rebirth"
    CMD = "cmd"
    ACK = "ack"
    WATERMARK = "watermark"
    EVENT = "event"


def topic(station_id: str, kind: Topic) -> str:
    """Return the topic of one message kind for one station."""
    return f"{ROOT}/{station_id}/{kind.value}"


def subscription(kind: Topic, station_id: str = "+") -> str:
    """Return a subscription filter for one message kind (all stations by default)."""
    return f"{ROOT}/{station_id}/{kind.value}"


def parse_topic(name: str) -> tuple[str, Topic]:
    """Split a topic into (station id, kind); raise ValueError naming what is wrong."""
    parts = name.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != ROOT:
        raise ValueError(f"topic {name!r} is not under {ROOT}/<station>/<kind>")
    try:
        kind = Topic(parts[3])
    except ValueError:
        raise ValueError(f"topic {name!r} has unknown kind {parts[3]!r}") from None
    if not parts[2]:
        raise ValueError(f"topic {name!r} has an empty station id")
    return parts[2], kind


class Quality(StrEnum):
    """OPC-style sample quality."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


class Reason(StrEnum):
    """Why a sample is not good."""

    TIMEOUT = "timeout"
    EXCEPTION_CODE = "exception_code"
    OUT_OF_RANGE = "out_of_range"
    STALE = "stale"
    COMM_LOST = "comm_lost"
    DECODE_ERROR = "decode_error"
    SENSOR_FAULT = "sensor_fault"
    NOT_CONNECTED = "not_connected"
    CONFIG_ERROR = "config_error"
    DEVICE_STATUS = "device_status"


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with microseconds and a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _wire_time(value: object) -> object:
    """Refuse a number as a time: the wire carries ISO 8601 text."""
    if isinstance(value, int | float):
        raise ValueError("time must be ISO 8601 text, not a number")
    return value


WireTime = Annotated[AwareDatetime, BeforeValidator(_wire_time)]
"""An aware time, from ISO 8601 text (or a datetime in Python), never from a number."""
Count = Annotated[StrictInt, Field(ge=0)]


class _Message(BaseModel):
    """A message that makes something happen: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Report(BaseModel):
    """A message consumers read: unknown fields are ignored, so producers can add some."""

    model_config = ConfigDict(extra="ignore", frozen=True)


Value = StrictFloat | StrictInt | StrictBool | None


class Sample(_Report):
    """One reading: point id, source time, value, quality and, unless good, a reason."""

    p: Annotated[StrictStr, Field(min_length=1, max_length=96)]
    t: WireTime
    v: Value
    q: Quality = Quality.GOOD
    r: Reason | None = None
    d: Annotated[StrictStr, Field(max_length=200)] | None = None
    """Optional detail (for example the Modbus exception code)."""

    @field_validator("v")
    @classmethod
    def _finite(cls, value: Value) -> Value:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("value must be finite; send a bad sample with v null instead")
        return value


class PointInfo(_Report):
    """Point metadata announced in a birth message."""

    id: str
    equipment: str
    equipment_kind: str
    measurand: str
    unit: str
    dtype: Literal["float", "int", "bool"]
    range: tuple[float, float]
    writable: bool = False
    limits: tuple[float, float] | None = None
    depth_m: float | None = None
    counter: bool = False
    rollover: float | None = None
    """For a counter: the value after which it wraps to 0 (a decrease is otherwise suspect)."""
    reset_point: str | None = None
    """For a counter: a point whose value changes whenever the counter is reset to 0."""
    deadband: float = 0.0
    period_s: float | None = None
    """Poll period (or publishing interval) in seconds, so a consumer can tell stale data."""


class Birth(_Report):
    """Announces a gateway connection (session, bdSeq), the station and every point."""

    station: StrictStr
    session: Count
    bdseq: Count
    """Birth/death sequence of this connection; the will of the same connection carries it."""
    t: WireTime
    gateway: StrictStr
    contract: StrictStr = CONTRACT
    name: StrictStr
    """The station's display name."""
    kind: StrictStr
    """The station's kind as the site file names it (e.g. ``hydrothermal_doublet``)."""
    timezone: StrictStr
    """IANA time zone of the station, for day, month and season boundaries."""
    site_hash: StrictStr
    """SHA-256 (hex) of the site file the gateway runs, so consumers see a changed file."""
    points: tuple[PointInfo, ...]


class Death(_Report):
    """Says a gateway connection has ended (last will, or a clean stop)."""

    station: StrictStr
    session: Count
    bdseq: Count
    """The bdSeq of the birth this death ends; a death of another bdSeq ends nothing."""
    t: WireTime | None = None
    clean: StrictBool = False
    last_seq: Annotated[StrictInt, Field(ge=-1)] | None = None
    """On a clean stop, the seq of the session's last data batch (-1: none was made)."""


class DataBatch(_Report):
    """The samples of one scan; ``seq`` counts batches within a session from 0."""

    station: StrictStr
    session: Count
    seq: Count
    historical: StrictBool = False
    samples: tuple[Sample, ...]
    lost_through: Count | None = None
    """The gateway's spool overflowed and dropped batches of this session: none at or below
    this seq will be sent again, so a consumer may count every seq up to it as accounted for
    (what it never received of them is lost, not late)."""


class SessionMark(_Report):
    """The highest seq of one session committed with no hole below it (-1: none yet)."""

    session: Count
    seq: Annotated[StrictInt, Field(ge=-1)]


class Watermark(_Report):
    """What the historians have committed of a station, per recent session (retained).

    Read from the database after each commit, so it holds with several historians. A gateway
    deletes from its spool every batch at or below its session's mark; a session not listed is
    kept.
    """

    station: StrictStr
    t: WireTime
    historian: StrictStr
    """Identity of the historian that published it."""
    sessions: tuple[SessionMark, ...]


class Event(_Report):
    """An alarm transition or a controller decision, with the values behind it."""

    station: StrictStr
    id: Annotated[StrictStr, Field(min_length=1, max_length=96)]
    t: WireTime
    kind: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    """What happened: ``alarm``, ``decision``, ..."""
    source: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    """Identity of the publisher (e.g. the controller instance)."""
    data: dict[str, Any] = Field(default_factory=dict)


def station_alive(birth: Birth | None, death: Death | None) -> bool:
    """Say from the retained birth and death alone whether a station's gateway is connected."""
    if birth is None:
        return False
    return death is None or death.bdseq < birth.bdseq


class RebirthRequest(_Message):
    """Asks the gateway to publish its birth again."""

    origin: StrictStr = ""


class Command(_Message):
    """A write to a writable point, signed by a key the gateway trusts; refused past ``expires``.

    ``sig`` is an Ed25519 signature by key ``key`` over :func:`canonical_command`; ``role`` is
    the role the signer acts in, which must be one of the key's roles at the gateway and be
    allowed to write the point. A gateway refuses a command without them.
    """

    id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    point: Annotated[StrictStr, Field(min_length=1, max_length=96)]
    value: StrictFloat | StrictInt | StrictBool
    origin: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    issued: WireTime
    expires: WireTime
    key: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    """Id of the signing key, as the gateway's command policy names it."""
    role: Annotated[StrictStr, Field(min_length=1, max_length=32)] | None = None
    """The role the signer acts in (e.g. ``operator``, ``controller``)."""
    sig: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    """Ed25519 signature over :func:`canonical_command`, base64 (standard alphabet)."""


def canonical_command(command: Command) -> bytes:
    """The bytes a command's signature covers: every field but ``sig``, in one fixed form.

    JSON with sorted keys and no spaces; times as :func:`format_time` writes them (UTC,
    microseconds, ``Z``); the value as JSON writes a Python bool, int or float.
    """
    fields: dict[str, Any] = {
        "id": command.id, "point": command.point, "value": command.value,
        "origin": command.origin, "issued": format_time(command.issued),
        "expires": format_time(command.expires), "key": command.key, "role": command.role,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False).encode()


class Outcome(StrEnum):
    """How a command ended."""

    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"


class CommandAck(_Report):
    """The outcome of a command, with the value read back after writing."""

    id: StrictStr
    point: StrictStr
    outcome: Outcome
    reason: StrictStr = ""
    readback: Value = None
    t: WireTime


# Message kind -> payload model, for validation by consumers and for the JSON Schema in docs/.
PAYLOADS: dict[Topic, type[BaseModel]] = {
    Topic.BIRTH: Birth,
    Topic.DEATH: Death,
    Topic.DATA: DataBatch,
    Topic.REBIRTH: RebirthRequest,
    Topic.CMD: Command,
    Topic.ACK: CommandAck,
    Topic.WATERMARK: Watermark,
    Topic.EVENT: Event,
}

RETAINED = frozenset({Topic.BIRTH, Topic.DEATH, Topic.WATERMARK})
"""Kinds published retained; a retained message on any other kind is never acted on."""


def json_schema(kind: Topic) -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of one message kind's payload."""
    schema = PAYLOADS[kind].model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{ROOT}/{kind.value}.schema.json",
        **schema,
    }
