"""What the command screen offers and checks before anything is signed (pure): a station's
writable points with their limits, the value an operator typed, and the confirmation that the
value sent is the value confirmed."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Collection
from dataclasses import dataclass

from plant.site import HeatPump, Point, Site

STAGED_MEASURANDS = ("run_command", "remote_mode")
"""What automatic staging writes on every heat pump it commands (docs/staging.md)."""


class CommandRequestError(ValueError):
    """A command the screen refuses before signing it; the message says why."""


@dataclass(frozen=True)
class CommandPoint:
    """A writable point as the command form shows it."""

    id: str
    equipment: str
    measurand: str
    unit: str
    dtype: str
    description: str
    minimum: float | None
    maximum: float | None
    max_step: float | None

    @property
    def limits_text(self) -> str:
        """The limits as the operator reads them."""
        if self.dtype == "bool":
            return "on / off"
        text = f"{self.minimum:g} … {self.maximum:g} {self.unit}"
        if self.max_step is not None:
            text += f", at most {self.max_step:g} per change"
        return text


def command_points(site: Site) -> list[CommandPoint]:
    """The site's writable points, in file order."""
    found = []
    for point in site.points:
        if not point.writable:
            continue
        limits = point.limits
        found.append(CommandPoint(
            id=point.id, equipment=point.equipment, measurand=point.measurand, unit=point.unit,
            dtype=point.dtype, description=point.description,
            minimum=limits.min if limits else None, maximum=limits.max if limits else None,
            max_step=limits.max_step if limits else None))
    return found


def parse_command_value(point: Point, text: str) -> bool | int | float:
    """The value typed for a point: ``on``/``off``/``true``/``false`` for a switch, else a
    finite number; raise CommandRequestError."""
    word = text.strip().lower()
    if point.dtype == "bool":
        if word in ("true", "on", "1", "start"):
            return True
        if word in ("false", "off", "0", "stop"):
            return False
        raise CommandRequestError(f"{point.id} takes on or off, not {text!r}")
    try:
        number = float(word)
    except ValueError:
        raise CommandRequestError(f"{point.id} takes a number, not {text!r}") from None
    if not math.isfinite(number):
        raise CommandRequestError(f"{point.id} takes a finite number, not {text!r}")
    if point.dtype == "int":
        if number != round(number):
            raise CommandRequestError(f"{point.id} takes an integer, not {text!r}")
        return int(number)
    return number


def staging_refusal(site: Site, point_id: str, held: Collection[str]) -> str | None:
    """Why an operator may not command this point: a heat pump's run command or remote mode at
    a station the controller stages, the unit not held out of automatic staging (the
    controller would write its own command back); None when nothing stands in the way."""
    point = site.points_by_id.get(point_id)
    if site.station.staging is None or point is None \
            or point.measurand not in STAGED_MEASURANDS or point.equipment in held:
        return None
    unit = point.equipment
    if not any(isinstance(e, HeatPump) and e.id == unit for e in site.equipment):
        return None
    return (f"{unit} is under automatic staging: the controller commands its run and remote "
            f"mode and would write its own command back; an engineer holds {unit} out of "
            "automatic staging on the staging screen first")


def checked_value(site: Site, point_id: str, text: str,
                  current: float | int | bool | None) -> tuple[Point, bool | int | float]:
    """The point and the value to write, checked as the gateway will check it (writable, type,
    limits, step from the current value); raise KeyError for an unknown point or
    CommandRequestError saying why the value is refused."""
    point = site.points_by_id.get(point_id)
    if point is None or not point.writable:
        raise KeyError(point_id)
    value = parse_command_value(point, text)
    refusal = point.write_refusal(value, current)
    if refusal is not None:
        raise CommandRequestError(f"{point.id}: {refusal[1]}")
    return point, value


def confirmation(key: bytes, *, user: str, station: str, point: str,
                 value: bool | int | float, expires: int) -> str:
    """The token a confirmation page carries: this user confirmed this value for this point,
    valid until ``expires`` (epoch seconds)."""
    message = f"{user}\0{station}\0{point}\0{value!r}\0{expires}".encode()
    return f"{expires}.{hmac.new(key, message, hashlib.sha256).hexdigest()}"


def confirmed(key: bytes, token: str, *, user: str, station: str, point: str,
              value: bool | int | float, now: float) -> bool:
    """Whether ``token`` confirms exactly this command and has not expired."""
    expires_text, dot, _ = token.partition(".")
    if not dot or not expires_text.isdigit() or int(expires_text) < now:
        return False
    expected = confirmation(key, user=user, station=station, point=point, value=value,
                            expires=int(expires_text))
    return hmac.compare_digest(token, expected)
