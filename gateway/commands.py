"""Commands: parse, verify the signer, check against the point, write, read back, acknowledge.

The gateway is the last line of defence: it trusts a command only for its own checks, never for
the broker's. The checks are pure (:func:`parse_command`, :func:`verify_command`,
:func:`check_command`); :class:`SeenCommands` remembers command ids on disk so that a replay is
refused, also after a restart; :func:`execute` does the write and the read-back through the
device's driver. Refusal reasons begin with a code from :class:`Refusal` so that consumers can
act on them; the rest of the text is for people.
"""

from __future__ import annotations

import fnmatch
import json
import sqlite3
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.driver import DeviceError, Driver, WriteError
from plant.contract import Command, CommandAck, Outcome, Quality, utc_now
from plant.signing import CONTROLLER_ROLE, load_public_key, signature_valid
from plant.site import HeatPump, ModbusBinding, Point, Site


class Refusal(StrEnum):
    """Why a command was not written (``refused``) or not confirmed (``failed``)."""

    MALFORMED = "malformed"
    RETAINED = "retained"
    NO_POLICY = "no_policy"
    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    ISSUED_IN_FUTURE = "issued_in_future"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    REPLAYED = "replayed"
    BUSY = "busy"
    UNKNOWN_POINT = "unknown_point"
    NOT_WRITABLE = "not_writable"
    EXPIRED = "expired"
    WRONG_TYPE = "wrong_type"
    OUT_OF_LIMITS = "out_of_limits"
    STEP_TOO_LARGE = "step_too_large"
    STAGED = "staged"
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


class TrustedKey(BaseModel):
    """A signer the gateway trusts: its public key and the roles it may act in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    public_key: str
    """Base64 of the Ed25519 public key's 32 raw bytes."""
    roles: tuple[Annotated[str, Field(min_length=1, max_length=32)], ...] = Field(min_length=1)

    @field_validator("public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        load_public_key(value)
        return value


class CommandPolicy(BaseModel):
    """Who may command this gateway: trusted keys, per-role writable points, time bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: dict[Annotated[str, Field(min_length=1, max_length=64)], TrustedKey]
    roles: dict[str, tuple[str, ...]]
    """Role -> point id patterns (shell-style, e.g. ``PW1.*``) the role may write."""
    max_lifetime_s: Annotated[float, Field(gt=0, le=24 * 3600)] = 300.0
    """Longest ``expires - issued`` accepted."""
    clock_tolerance_s: Annotated[float, Field(ge=0, le=600)] = 5.0
    """How far ``issued`` may lie ahead of the gateway's clock."""

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for role, patterns in value.items():
            if not patterns:
                raise ValueError(f"role {role!r} lists no points")
        return value

    def public_key(self, key_id: str) -> Ed25519PublicKey | None:
        """The public key of a trusted signer, or None."""
        trusted = self.keys.get(key_id)
        return load_public_key(trusted.public_key) if trusted is not None else None

    def may_write(self, role: str, point: str) -> bool:
        """True if the role's patterns cover the point."""
        return any(fnmatch.fnmatchcase(point, pattern) for pattern in self.roles.get(role, ()))

    @property
    def remember_s(self) -> float:
        """How long a command id must be remembered: no command outlives this."""
        return self.max_lifetime_s + self.clock_tolerance_s


def load_policy(path: Path) -> CommandPolicy:
    """Read a command policy (YAML); raise ValueError naming the file and what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the command policy: {exc}") from None
    try:
        policy = CommandPolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(file)"
        raise ValueError(f"{path}: {where}: {first['msg']}") from None
    for key_id, trusted in policy.keys.items():
        unknown = sorted(set(trusted.roles) - set(policy.roles))
        if unknown:
            raise ValueError(f"{path}: keys.{key_id}: role {unknown[0]!r} is not under roles")
    return policy


def verify_command(command: Command, policy: CommandPolicy | None, now: datetime) -> None:
    """Refuse a command not signed by a trusted key in a role allowed for its point, or whose
    times are out of bounds; return if the signer may send it."""
    def refuse(code: Refusal, detail: str) -> CommandRefusedError:
        return CommandRefusedError(code, detail, command.id, command.point)

    if policy is None:
        raise refuse(Refusal.NO_POLICY, "this gateway has no command policy and trusts nobody")
    if command.sig is None or command.key is None or command.role is None:
        raise refuse(Refusal.UNSIGNED, "a command needs key, role and sig")
    public_key = policy.public_key(command.key)
    if public_key is None:
        raise refuse(Refusal.UNKNOWN_KEY, f"key {command.key!r} is not trusted here")
    if not signature_valid(command, public_key):
        raise refuse(Refusal.BAD_SIGNATURE, f"signature does not verify with key {command.key!r}")
    if command.role not in policy.keys[command.key].roles:
        raise refuse(Refusal.ROLE_NOT_ALLOWED,
                     f"key {command.key!r} may not act as {command.role!r}")
    if not policy.may_write(command.role, command.point):
        raise refuse(Refusal.ROLE_NOT_ALLOWED,
                     f"role {command.role!r} may not write {command.point}")
    if command.issued > now + timedelta(seconds=policy.clock_tolerance_s):
        raise refuse(Refusal.ISSUED_IN_FUTURE,
                     f"issued {command.issued.isoformat()} is ahead of the gateway's clock "
                     f"by more than {policy.clock_tolerance_s:g} s")
    lifetime = (command.expires - command.issued).total_seconds()
    if lifetime > policy.max_lifetime_s:
        raise refuse(Refusal.LIFETIME_TOO_LONG,
                     f"lifetime {lifetime:g} s exceeds the maximum {policy.max_lifetime_s:g} s")
    if now >= command.expires:
        raise refuse(Refusal.EXPIRED, f"expired at {command.expires.isoformat()}")


class SeenCommands:
    """Command ids already accepted, on disk, kept until no command could still be valid."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, "
                         "forget_after REAL NOT NULL)")

    def remember(self, command_id: str, forget_after: datetime, now: datetime) -> bool:
        """Record an id (durably); False if it was seen before. Forgets ids past their time."""
        self._db.execute("BEGIN IMMEDIATE")  # one commit (one fsync) for both statements
        try:
            self._db.execute("DELETE FROM seen WHERE forget_after < ?", (now.timestamp(),))
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO seen (id, forget_after) VALUES (?, ?)",
                (command_id, forget_after.timestamp()))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return cursor.rowcount == 1

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM seen").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()


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
    refusal = point.write_refusal(command.value, current)
    if refusal is not None:
        raise refuse(Refusal(refusal[0]), refusal[1])


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


STAGED_MEASURANDS = frozenset({"run_command", "remote_mode"})
"""What automatic staging writes on every heat pump it commands (docs/staging.md)."""


def staged_units(site: Site) -> frozenset[str]:
    """The heat pumps automatic staging commands (none where the site has no ``staging``)."""
    if site.station.staging is None:
        return frozenset()
    return frozenset(e.id for e in site.equipment if isinstance(e, HeatPump))


def staging_refusal(site: Site, point_id: str, role: str, held: frozenset[str], *,
                    controller_in_charge: bool) -> str | None:
    """Why a command to this point is not the signer's to give while automatic staging owns
    the unit; None when nothing stands in the way.

    A staged heat pump's run command and remote mode belong to the controller while it is in
    charge (its commands keep coming) and the unit is not held out; any other role waits for
    an engineer's hold. The controller in turn does not command a unit held out.
    """
    point = site.points_by_id.get(point_id)
    if point is None or point.measurand not in STAGED_MEASURANDS \
            or point.equipment not in staged_units(site):
        return None
    unit = point.equipment
    if role == CONTROLLER_ROLE:
        return (f"{unit} is held out of automatic staging: the controller does not command it"
                if unit in held else None)
    if unit in held or not controller_in_charge:
        return None
    return (f"{unit} is under automatic staging: the controller commands its run and remote "
            f"mode; an engineer holds {unit} out of automatic staging first")
