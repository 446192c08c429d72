"""Commands: parse, check against the point definition, write, read back, acknowledge.

The checks are pure (:func:`parse_command`, :func:`check_command`); :func:`execute` does the
write and the read-back through the device's driver. Refusal reasons begin with a code from
:class:`Refusal` so that consumers can act on them; the rest of the text is for people.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from pydantic import ValidationError

from gateway.driver import DeviceError, Driver, WriteError
from plant.contract import Command, CommandAck, Outcome, Quality, utc_now
from plant.site import ModbusBinding, Point


class Refusal(StrEnum):
    """Why a command was not written (``refused``) or not confirmed (``failed``)."""

    MALFORMED = "malformed"
    UNKNOWN_POINT = "unknown_point"
    NOT_WRITABLE = "not_writable"
    EXPIRED = "expired"
    WRONG_TYPE = "wrong_type"
    OUT_OF_LIMITS = "out_of_limits"
    STEP_TOO_LARGE = "step_too_large"
    WRITE_FAILED = "write_failed"
    READBACK_MISMATCH = "readback_mismatch"


class CommandRefusedError(Exception):
    """A command that must not be written; carries what is known of it for the ack."""

    def __init__(self, code: Refusal, detail: str, command_id: str | None = None,
                 point: str | None = None) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.command_id = command_id
        self.point = point


def parse_command(raw: bytes) -> Command:
    """Parse a command payload; raise CommandRefusedError (malformed) naming what is wrong."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandRefusedError(Refusal.MALFORMED, f"not JSON: {exc}") from None
    ident = data.get("id") if isinstance(data, dict) else None
    point = data.get("point") if isinstance(data, dict) else None
    ident = ident if isinstance(ident, str) and 0 < len(ident) <= 64 else None
    point = point if isinstance(point, str) and 0 < len(point) <= 96 else None
    try:
        return Command.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(payload)"
        raise CommandRefusedError(Refusal.MALFORMED, f"{where}: {first['msg']}", ident,
                                  point) from None


def check_command(command: Command, point: Point | None, now: datetime,
                  current: float | int | bool | None) -> None:
    """Refuse a command the point's definition does not allow; return if it may be written."""
    def refuse(code: Refusal, detail: str) -> CommandRefusedError:
        return CommandRefusedError(code, detail, command.id, command.point)

    if point is None:
        raise refuse(Refusal.UNKNOWN_POINT, f"no point {command.point!r} at this station")
    if not point.writable:
        raise refuse(Refusal.NOT_WRITABLE, f"point {point.id} is not writable")
    if now >= command.expires:
        raise refuse(Refusal.EXPIRED, f"expired at {command.expires.isoformat()}")
    value = command.value
    if point.dtype == "bool":
        if not isinstance(value, bool):
            raise refuse(Refusal.WRONG_TYPE, f"point {point.id} takes true or false")
        return
    if isinstance(value, bool):
        raise refuse(Refusal.WRONG_TYPE, f"point {point.id} takes a number, not a boolean")
    if point.dtype == "int" and float(value) != round(value):
        raise refuse(Refusal.WRONG_TYPE, f"point {point.id} takes an integer")
    limits = point.limits
    assert limits is not None  # the site schema requires limits on writable numeric points
    if not limits.min <= value <= limits.max:
        raise refuse(Refusal.OUT_OF_LIMITS, f"{value} outside limits {limits.min}..{limits.max}")
    if limits.max_step is not None:
        if current is None or isinstance(current, bool):
            raise refuse(Refusal.STEP_TOO_LARGE,
                         f"no current value to check max_step {limits.max_step} against")
        if abs(value - current) > limits.max_step:
            raise refuse(Refusal.STEP_TOO_LARGE, f"change {current} -> {value} exceeds "
                                                 f"max_step {limits.max_step}")


def readback_tolerance(point: Point, value: float) -> float:
    """How far a read-back may differ from the written value and still confirm it."""
    binding = point.binding
    if isinstance(binding, ModbusBinding) and binding.type != "float32":
        return abs(binding.scale) / 2 + 1e-9
    return 1e-5 * max(1.0, abs(value))


def confirms(point: Point, written: float | int | bool, readback: float | int | bool | None
             ) -> bool:
    """True if the value read back is the value written."""
    if readback is None:
        return False
    if isinstance(written, bool) or point.dtype == "bool":
        return bool(readback) == bool(written)
    return abs(float(readback) - float(written)) <= readback_tolerance(point, float(written))


async def execute(command: Command, point: Point, driver: Driver) -> CommandAck:
    """Write a checked command, read the point back, and say how it ended."""
    value: float | int | bool = command.value
    if point.dtype == "int" and not isinstance(value, bool):
        value = round(value)
    try:
        await driver.write(point, value)
    except (WriteError, DeviceError) as exc:
        return CommandAck(id=command.id, point=point.id, outcome=Outcome.FAILED,
                          reason=f"{Refusal.WRITE_FAILED.value}: {exc}", t=utc_now())
    try:
        readings = await driver.read([point])
    except DeviceError as exc:
        return CommandAck(id=command.id, point=point.id, outcome=Outcome.FAILED,
                          reason=f"{Refusal.READBACK_MISMATCH.value}: read-back failed: {exc}",
                          t=utc_now())
    reading = readings[0] if readings else None
    readback = reading.v if reading is not None and reading.q is not Quality.BAD else None
    if not confirms(point, value, readback):
        return CommandAck(id=command.id, point=point.id, outcome=Outcome.FAILED,
                          reason=f"{Refusal.READBACK_MISMATCH.value}: wrote {value}, read "
                                 f"{readback}", readback=readback, t=utc_now())
    return CommandAck(id=command.id, point=point.id, outcome=Outcome.DONE, readback=readback,
                      t=utc_now())
