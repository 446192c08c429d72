"""The MQTT contract between gateways, historians, the controller and the UI (version 1).

Topics live under ``geoscada/v1/<station>/``:

==================  =======  ====================================================================
topic               retained payload
==================  =======  ====================================================================
``birth``           yes      :class:`Birth`: the session and every point with its metadata
``death``           yes      :class:`Death`: last will, also sent on a clean stop
``data``            no       :class:`DataBatch`: one scan's samples, ``seq`` per session
``rebirth``         no       :class:`RebirthRequest`: ask the gateway to publish its birth again
``cmd``             no       :class:`Command`: write a value to a writable point
``ack``             no       :class:`CommandAck`: the outcome of a command, with read-back
==================  =======  ====================================================================

Every sample carries source time (UTC, when read), value and quality with a reason. A value that
cannot be read is sent as ``bad`` with ``v`` null: never dropped, never zero. Batches replayed
from the gateway's spool keep their session and sequence and are flagged ``historical`` so that
they never overwrite a live value. Payloads are JSON (UTF-8); JSON Schema in ``docs/``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

VERSION = "v1"
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


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Value = float | int | bool | None


class Sample(_Message):
    """One reading: point id, source time, value, quality and, unless good, a reason."""

    p: Annotated[str, Field(min_length=1, max_length=96)]
    t: AwareDatetime
    v: Value
    q: Quality = Quality.GOOD
    r: Reason | None = None
    d: Annotated[str, Field(max_length=200)] | None = None
    """Optional detail (for example the Modbus exception code)."""

    @field_validator("v")
    @classmethod
    def _finite(cls, value: Value) -> Value:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("value must be finite; send a bad sample with v null instead")
        return value


class PointInfo(_Message):
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
    deadband: float = 0.0
    period_s: float | None = None
    """Poll period (or publishing interval) in seconds, so a consumer can tell stale data."""


class Birth(_Message):
    """Announces a gateway session and everything it will publish."""

    station: str
    session: Annotated[int, Field(ge=0)]
    t: AwareDatetime
    gateway: str
    points: tuple[PointInfo, ...]


class Death(_Message):
    """Says a gateway session has ended (last will, or a clean stop)."""

    station: str
    session: Annotated[int, Field(ge=0)]
    t: AwareDatetime | None = None
    clean: bool = False
    last_seq: Annotated[int, Field(ge=-1)] | None = None
    """On a clean stop, the seq of the session's last data batch (-1: none was made)."""


class DataBatch(_Message):
    """The samples of one scan; ``seq`` counts batches within a session from 0."""

    station: str
    session: Annotated[int, Field(ge=0)]
    seq: Annotated[int, Field(ge=0)]
    historical: bool = False
    samples: tuple[Sample, ...]


class RebirthRequest(_Message):
    """Asks the gateway to publish its birth again."""

    origin: str = ""


class Command(_Message):
    """A write to a writable point, refused once past ``expires``."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    point: Annotated[str, Field(min_length=1, max_length=96)]
    value: float | int | bool
    origin: Annotated[str, Field(min_length=1, max_length=64)]
    issued: AwareDatetime
    expires: AwareDatetime


class Outcome(StrEnum):
    """How a command ended."""

    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"


class CommandAck(_Message):
    """The outcome of a command, with the value read back after writing."""

    id: str
    point: str
    outcome: Outcome
    reason: str = ""
    readback: Value = None
    t: AwareDatetime


# Message kind -> payload model, for validation by consumers and for the JSON Schema in docs/.
PAYLOADS: dict[Topic, type[BaseModel]] = {
    Topic.BIRTH: Birth,
    Topic.DEATH: Death,
    Topic.DATA: DataBatch,
    Topic.REBIRTH: RebirthRequest,
    Topic.CMD: Command,
    Topic.ACK: CommandAck,
}


def json_schema(kind: Topic) -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of one message kind's payload."""
    schema = PAYLOADS[kind].model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{ROOT}/{kind.value}.schema.json",
        **schema,
    }
