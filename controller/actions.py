"""Operator actions on alarms: validated requests applied by the alarm engine.

An action names the station, the alarm, what to do and the user doing it; the engine's own
checks (a named user, a reason for a shelf, its time limit, what each state allows) refuse the
rest with a message saying why. Requests arrive as JSON files in the controller's state
directory (``inbox/``, written by :func:`submit` for ``geoscada alarms ack|shelve|...`` and
the operator UI); the answer is written beside them.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from controller import alarms
from controller.alarms import AlarmError, AlarmRecord, AlarmSpec, AlarmStatus

INBOX = "inbox"
"""The state directory's folder where a running controller picks up operator actions."""

Verb = Literal["ack", "reset", "shelve", "unshelve", "comment", "remove", "restore"]


class OperatorRequest(BaseModel):
    """What every operator request in the inbox carries: its id, the station, who and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    station: Annotated[StrictStr, Field(min_length=1, max_length=96)]
    user: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    text: Annotated[StrictStr, Field(max_length=400)] = ""
    """A comment, or the reason of a shelf, a removal from service or a hold."""


class AlarmAction(OperatorRequest):
    """One operator action on one alarm."""

    alarm: Annotated[StrictStr, Field(min_length=1, max_length=80)]
    action: Verb
    duration_s: StrictFloat | StrictInt | None = None
    """How long to shelve."""


def apply(action: AlarmAction, spec: AlarmSpec, status: AlarmStatus, now: datetime
          ) -> tuple[AlarmStatus, list[AlarmRecord]]:
    """Apply an action; raise AlarmError saying why it is refused."""
    verb, user, text = action.action, action.user, action.text
    if verb == "ack":
        return alarms.acknowledge(status, user, now, text)
    if verb == "reset":
        return alarms.reset(status, user, now, text)
    if verb == "shelve":
        if action.duration_s is None:
            raise AlarmError("shelving needs a duration")
        return alarms.shelve(status, spec, user, text, duration_s=float(action.duration_s),
                             now=now)
    if verb == "unshelve":
        return alarms.unshelve(status, user, now, text)
    if verb == "comment":
        return alarms.comment(status, user, now, text)
    if verb == "remove":
        return alarms.remove_from_service(status, user, text, now)
    return alarms.return_to_service(status, user, now, text)


class NoAnswerError(RuntimeError):
    """No controller took an action within the time allowed (the request is withdrawn)."""


def submit(state_dir: Path, action: OperatorRequest, timeout_s: float) -> dict[str, Any]:
    """Hand an action (on an alarm, or a staging hold) to the controller running on
    ``state_dir`` and return its answer (``ok``, then what it did or ``error``); raise
    NoAnswerError or FileNotFoundError."""
    inbox = state_dir / INBOX
    if not inbox.is_dir():
        raise FileNotFoundError(f"{inbox} is not a controller's inbox")
    request = inbox / f"{action.id}.json"
    temporary = inbox / f".{action.id}.tmp"
    temporary.write_text(action.model_dump_json(), encoding="utf-8")
    temporary.replace(request)
    answer_path = inbox / f"{action.id}.result.json"
    deadline = time.monotonic() + timeout_s
    while not answer_path.exists():
        if time.monotonic() > deadline:
            request.unlink(missing_ok=True)
            raise NoAnswerError(f"no controller answered within {timeout_s:g} s")
        time.sleep(0.05)
    answer: dict[str, Any] = json.loads(answer_path.read_text(encoding="utf-8"))
    answer_path.unlink(missing_ok=True)
    return answer
