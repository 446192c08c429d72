"""Heat pumps an operator holds out of automatic staging, kept in the controller's state folder.

A hold is asked for like an alarm action: a JSON request in the controller's inbox
(:func:`controller.actions.submit`), answered by the running controller, which checks that the
station is one it follows and the unit one of its heat pumps, then records who held it out
(or released it), when and why in ``staging-holds.json`` beside its station files, written
atomically. Staging takes the holds in through :func:`apply_holds`, which turns each into
:func:`controller.staging.hold_out` on its state: a held unit is neither counted on nor
commanded. The operator screens read the same file to say which units are held.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from controller.actions import OperatorRequest
from controller.staging import StagingState, UnitRecord, hold_out
from plant.site import HeatPump, Site

HOLDS_FILE = "staging-holds.json"
"""The file in the controller's state folder that keeps every station's holds."""


class HoldAction(OperatorRequest):
    """An operator holds a heat pump out of automatic staging (``held``) or releases it."""

    unit: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    held: StrictBool
    role: Annotated[StrictStr, Field(max_length=32)] = ""
    """The role the user acted in (engineer, admin), as the UI's audit log knows them."""


class Hold(BaseModel):
    """Where one unit stands: held out or released, by whom, when and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    held: bool
    user: str
    at: datetime
    text: str = ""
    role: str = ""
    """Empty in holds recorded before roles were kept."""

    def by(self) -> str:
        """Who held or released the unit: ``li.na (engineer)``, or the name alone."""
        return f"{self.user} ({self.role})" if self.role else self.user


Holds = dict[str, dict[str, Hold]]
"""Station -> unit -> its latest hold or release."""
_HOLDS = TypeAdapter(Holds)


class HoldsFileError(RuntimeError):
    """A holds file that cannot be read; the message names the file and the problem."""


def refusal(site: Site, unit: str) -> str | None:
    """Why a hold of this unit is refused at this station, or None."""
    pumps = sorted(e.id for e in site.equipment if isinstance(e, HeatPump))
    if unit not in pumps:
        return (f"station {site.station.id} has no heat pump {unit!r}"
                f" (its heat pumps: {', '.join(pumps) or 'none'})")
    return None


def record(holds: Holds, action: HoldAction, now: datetime) -> Holds:
    """The holds with this action taken in (a new mapping; the given one is left alone)."""
    changed = {station: dict(units) for station, units in holds.items()}
    changed.setdefault(action.station, {})[action.unit] = Hold(
        held=action.held, user=action.user, at=now, text=action.text, role=action.role)
    return changed


def held_units(holds: Holds, station: str) -> frozenset[str]:
    """The units of a station held out now."""
    return frozenset(unit for unit, hold in holds.get(station, {}).items() if hold.held)


class HoldEvent(NamedTuple):
    """What staging tells of a unit held out or released."""

    condition: str
    """``held-out`` or ``released``."""
    text: str
    values: dict[str, str]


def hold_event(unit: str, hold: Hold | None) -> HoldEvent:
    """The event of a unit whose hold changed, naming who held or released it (``hold`` is
    the unit's latest hold or release; None when none is recorded any more)."""
    if hold is None:
        return HoldEvent("released", f"{unit} released to automatic staging: no hold of it is "
                         "recorded any more", {"unit": unit})
    values = {"unit": unit, "user": hold.user, "role": hold.role}
    if not hold.held:
        return HoldEvent("released", f"{unit} released to automatic staging by {hold.by()}",
                         values)
    why = f": {hold.text}" if hold.text else ""
    return HoldEvent("held-out", f"{unit} held out of automatic staging by {hold.by()}{why}",
                     values)


def apply_holds(state: StagingState, held: frozenset[str]) -> list[str]:
    """Bring the staging state's holds to ``held``; return the units whose hold changed."""
    changed: list[str] = []
    for unit in sorted(held | {u for u, r in state.units.items() if r.held_out}):
        wanted = unit in held
        if state.units.get(unit, UnitRecord()).held_out != wanted:
            hold_out(state, unit, wanted)
            changed.append(unit)
    return changed


def load_holds(state_dir: Path) -> Holds:
    """Every station's holds from the controller's state folder (none when it has no file)."""
    path = state_dir / HOLDS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise HoldsFileError(f"{path}: {error}") from None
    try:
        return _HOLDS.validate_json(text)
    except ValidationError as error:
        raise HoldsFileError(f"{path}: not a holds file: {error}") from None


def save_holds(state_dir: Path, holds: Holds) -> None:
    """Write every station's holds atomically (temporary file, flushed, renamed over)."""
    path = state_dir / HOLDS_FILE
    temporary = path.with_name(f".{path.name}.tmp")
    data: Mapping[str, Any] = _HOLDS.dump_python(holds, mode="json")
    with temporary.open("w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)


def take(state_dir: Path, site: Site, action: HoldAction, now: datetime) -> dict[str, Any]:
    """Record a hold or release for a followed station; the answer an operator gets."""
    why = refusal(site, action.unit)
    if why is not None:
        return {"ok": False, "error": why}
    try:
        save_holds(state_dir, record(load_holds(state_dir), action, now))
    except (HoldsFileError, OSError) as error:
        return {"ok": False, "error": f"the hold was not recorded: {error}"}
    return {"ok": True, "held": action.held}
