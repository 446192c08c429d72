"""ISA-18.2 / IEC 62682 alarm state model as pure functions of (state, inputs, now).

One alarm is an :class:`AlarmSpec` (what it watches and how: priority, delays, deadband,
latching, shelving limit, what suppresses it) and an :class:`AlarmStatus` (where it stands,
serialisable to JSON so a restart loses nothing). :func:`step` feeds it a rule's
:class:`Observation`, the plant-state suppression and the time; the operator actions
(:func:`acknowledge`, :func:`reset`, :func:`shelve`, :func:`unshelve`, :func:`comment`,
:func:`remove_from_service`, :func:`return_to_service`) take a named user. Each returns the new
status and the :class:`AlarmRecord` journal rows, one per transition, append-only.

The eight states follow ISA-18.2 (A-H as usually reproduced) and OPC UA Part 9; every move
between them is a row of :data:`TRANSITIONS`, and a move not in the table is refused. Quality is
an overlay, not a state (as Eclipse NeoSCADA's UNSAFE): while an input is not good the condition
is frozen (the alarm neither fires nor clears) and the overlay's rows say which input and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from plant.contract import Event

MAX_REASON_CHARS = 200
"""Longest shelving reason or comment (AVEVA's alarm client allows 200 characters)."""


class State(StrEnum):
    """ISA-18.2 alarm states."""

    NORMAL = "normal"
    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    RTN_UNACKNOWLEDGED = "rtn_unacknowledged"
    """Returned to normal while still unacknowledged."""
    LATCHED = "latched"
    """A latching alarm whose condition has returned to normal: it waits for an operator reset."""
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"
    """Suppressed by design: the plant state makes the alarm meaningless (pump stopped, ...)."""
    OUT_OF_SERVICE = "out_of_service"


class Trigger(StrEnum):
    """What moves an alarm from one state to another (the columns of the transition table)."""

    ACTIVATE = "activate"
    CLEAR = "clear"
    CLEAR_LATCHING = "clear_latching"
    ACK = "ack"
    RESET = "reset"
    SHELVE = "shelve"
    UNSHELVE_ACTIVE = "unshelve_active"
    UNSHELVE_NORMAL = "unshelve_normal"
    EXPIRE_ACTIVE = "expire_active"
    EXPIRE_NORMAL = "expire_normal"
    SUPPRESS = "suppress"
    RELEASE_ACTIVE = "release_active"
    RELEASE_NORMAL = "release_normal"
    REMOVE = "remove"
    RESTORE_ACTIVE = "restore_active"
    RESTORE_NORMAL = "restore_normal"
    RESTORE_SUPPRESSED = "restore_suppressed"
    # rows that change no state but are journaled
    QUALITY_BAD = "quality_bad"
    QUALITY_GOOD = "quality_good"
    COMMENT = "comment"


class Priority(StrEnum):
    """Alarm priority; the alarm-system target mix is about 80/15/5 % low/medium/high."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


SEVERITY: dict[Priority, int] = {Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3}
"""Priority as the ordinal the historian's ``events.severity`` column holds."""

S, T = State, Trigger
_HIDDEN = (S.SHELVED, S.SUPPRESSED, S.OUT_OF_SERVICE)
_SHOWN = (S.NORMAL, S.UNACKNOWLEDGED, S.ACKNOWLEDGED, S.RTN_UNACKNOWLEDGED, S.LATCHED)

TRANSITIONS: dict[tuple[State, Trigger], State] = {
    # annunciated states
    (S.NORMAL, T.ACTIVATE): S.UNACKNOWLEDGED,
    (S.UNACKNOWLEDGED, T.ACK): S.ACKNOWLEDGED,
    (S.UNACKNOWLEDGED, T.CLEAR): S.RTN_UNACKNOWLEDGED,
    (S.UNACKNOWLEDGED, T.CLEAR_LATCHING): S.LATCHED,
    (S.ACKNOWLEDGED, T.CLEAR): S.NORMAL,
    (S.ACKNOWLEDGED, T.CLEAR_LATCHING): S.LATCHED,
    (S.RTN_UNACKNOWLEDGED, T.ACK): S.NORMAL,
    (S.RTN_UNACKNOWLEDGED, T.ACTIVATE): S.UNACKNOWLEDGED,
    (S.LATCHED, T.RESET): S.NORMAL,
    (S.LATCHED, T.ACTIVATE): S.UNACKNOWLEDGED,
    # shelving: manual unshelve of an active alarm -> acknowledged, automatic -> unacknowledged
    # (ISA-18.2 §11.7.3): whoever unshelves by hand has just looked at it; a shelf that runs
    # out puts what is still active back in front of the operator
    **{(state, T.SHELVE): S.SHELVED for state in _SHOWN},
    (S.SHELVED, T.ACTIVATE): S.SHELVED,
    (S.SHELVED, T.CLEAR): S.SHELVED,
    (S.SHELVED, T.UNSHELVE_ACTIVE): S.ACKNOWLEDGED,
    (S.SHELVED, T.UNSHELVE_NORMAL): S.NORMAL,
    (S.SHELVED, T.EXPIRE_ACTIVE): S.UNACKNOWLEDGED,
    (S.SHELVED, T.EXPIRE_NORMAL): S.NORMAL,
    # suppression by design follows the plant state; it ends a shelf
    **{(state, T.SUPPRESS): S.SUPPRESSED for state in (*_SHOWN, S.SHELVED)},
    (S.SUPPRESSED, T.ACTIVATE): S.SUPPRESSED,
    (S.SUPPRESSED, T.CLEAR): S.SUPPRESSED,
    (S.SUPPRESSED, T.RELEASE_ACTIVE): S.UNACKNOWLEDGED,
    (S.SUPPRESSED, T.RELEASE_NORMAL): S.NORMAL,
    # out of service: by a named user, for maintenance; the plant state is still followed
    **{(state, T.REMOVE): S.OUT_OF_SERVICE for state in (*_SHOWN, S.SHELVED, S.SUPPRESSED)},
    (S.OUT_OF_SERVICE, T.ACTIVATE): S.OUT_OF_SERVICE,
    (S.OUT_OF_SERVICE, T.CLEAR): S.OUT_OF_SERVICE,
    (S.OUT_OF_SERVICE, T.SUPPRESS): S.OUT_OF_SERVICE,
    (S.OUT_OF_SERVICE, T.RELEASE_ACTIVE): S.OUT_OF_SERVICE,
    (S.OUT_OF_SERVICE, T.RELEASE_NORMAL): S.OUT_OF_SERVICE,
    (S.OUT_OF_SERVICE, T.RESTORE_ACTIVE): S.UNACKNOWLEDGED,
    (S.OUT_OF_SERVICE, T.RESTORE_NORMAL): S.NORMAL,
    (S.OUT_OF_SERVICE, T.RESTORE_SUPPRESSED): S.SUPPRESSED,
}
"""(state, trigger) -> next state; overlay rows (quality, comment) keep the state."""

OVERLAY: frozenset[Trigger] = frozenset({T.QUALITY_BAD, T.QUALITY_GOOD, T.COMMENT})

STANDING: frozenset[State] = frozenset({S.UNACKNOWLEDGED, S.ACKNOWLEDGED})
"""States in which an alarm is annunciated with its condition active."""


class AlarmError(ValueError):
    """An operator action or a configuration the alarm engine refuses; the message says why."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NonNegative = Annotated[float, Field(ge=0)]


class AlarmSpec(_Frozen):
    """One configured alarm: what it watches, how it is annunciated, what suppresses it."""

    station: str
    id: Annotated[str, Field(min_length=1, max_length=80)]
    equipment: str
    rule: str
    title: str
    """What the operator reads, e.g. ``HP1 evaporator water near freezing``."""
    priority: Priority = Priority.LOW
    position: str = ""
    """Operator position (console) that handles it; empty means the station's."""
    direction: Literal["high", "low"] = "high"
    """``high``: active above the limit; ``low``: active below it."""
    deadband: NonNegative = 0.0
    """How far back past the limit the value must go before the alarm clears (value units)."""
    on_delay_s: NonNegative = 0.0
    off_delay_s: NonNegative = 0.0
    latching: bool = False
    max_shelve_s: Annotated[float, Field(gt=0)] = 3600.0
    """Longest timed shelf (Elipse E3's default maximum is 60 min)."""
    suppressed_when: tuple[str, ...] = ()
    """Plant-state flags (``HP1.stopped``) or ids of other alarms whose activity suppresses it."""
    source: str = ""
    """Where the rule comes from, as a seed citation (file:line)."""
    point: str = ""
    """The point the alarm is about, when it watches one (for the event's ``point``)."""

    @property
    def operator_position(self) -> str:
        """The console this alarm reports to."""
        return self.position or self.station


class Observation(_Frozen):
    """What a rule saw at one moment: the figure it compares with the limit, and its inputs."""

    value: float | None
    limit: float
    good: bool = True
    """False when an input is not good (or coverage too low): the condition is then frozen."""
    why: str = ""
    """When not good: which input and why (the instrument side of the story)."""
    applicable: bool = True
    """False when the rule does not apply now (no production, unit stopped): never active."""
    detail: str = ""
    values: dict[str, float | bool | None] = Field(default_factory=dict)
    """The values behind the figure, by point id."""

    @model_validator(mode="after")
    def _value_when_good(self) -> Observation:
        if self.good and self.applicable and self.value is None:
            raise ValueError("a good, applicable observation needs a value")
        return self


class Shelf(_Frozen):
    """A timed shelf: who, why, from when and until when."""

    user: str
    reason: str
    since: datetime
    until: datetime


class AlarmStatus(_Frozen):
    """Where one alarm stands: the current-state record, serialisable to JSON."""

    station: str
    alarm: str
    equipment: str
    rule: str
    title: str
    priority: Priority
    position: str
    point: str = ""
    state: State = State.NORMAL
    active: bool = False
    """The process condition after delays and deadband (the alarm's own view, not annunciation)."""
    unsafe: bool = False
    unsafe_why: str = ""
    pending_since: datetime | None = None
    """When the raw condition started to differ from ``active`` (on- or off-delay running)."""
    shelf: Shelf | None = None
    suppressed_by: str = ""
    seq: int = 0
    """Number of journal rows written for this alarm."""
    changed_at: datetime | None = None
    raised_at: datetime | None = None
    cleared_at: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str = ""
    value: float | None = None
    limit: float | None = None
    values: dict[str, float | bool | None] = Field(default_factory=dict)
    detail: str = ""


class AlarmRecord(_Frozen):
    """One append-only journal row: one transition (or overlay change) of one alarm."""

    station: str
    alarm: str
    seq: int
    t: datetime
    equipment: str
    rule: str
    priority: Priority
    position: str
    point: str = ""
    trigger: Trigger
    from_state: State
    to_state: State
    active: bool
    unsafe: bool
    user: str = ""
    text: str = ""
    """The operator's comment or reason, or the rule's detail, or why quality is not good."""
    title: str = ""
    value: float | None = None
    limit: float | None = None
    values: dict[str, float | bool | None] = Field(default_factory=dict)

    @property
    def annunciated(self) -> bool:
        """True when this row puts a new alarm in front of the operator."""
        return self.to_state is S.UNACKNOWLEDGED and self.from_state is not S.UNACKNOWLEDGED

    def to_event(self, source: str) -> Event:
        """The row as a contract event on the station's ``event`` topic."""
        return Event(
            station=self.station, id=f"{self.alarm}#{self.seq}", t=self.t, kind="alarm",
            source=source,
            data={
                "alarm": self.alarm, "seq": self.seq, "equipment": self.equipment,
                "rule": self.rule, "trigger": self.trigger.value,
                "from_state": self.from_state.value,
                "state": self.to_state.value, "priority": self.priority.value,
                "severity": SEVERITY[self.priority], "point": self.point or None,
                "position": self.position, "active": self.active, "unsafe": self.unsafe,
                "user": self.user, "message": self.title, "text": self.text,
                "value": self.value, "limit": self.limit, "values": dict(self.values),
            },
        )


def record_from_event(event: Event) -> AlarmRecord:
    """The journal row an alarm event carries (as the historian stored it), e.g. for KPIs."""
    if event.kind != "alarm":
        raise AlarmError(f"event {event.id} is a {event.kind!r} event, not an alarm")
    data = event.data
    try:
        return AlarmRecord(
            station=event.station, alarm=data["alarm"], seq=data["seq"], t=event.t,
            equipment=data["equipment"], rule=data["rule"], priority=data["priority"],
            position=data["position"], point=data.get("point") or "", trigger=data["trigger"],
            from_state=data["from_state"], to_state=data["state"], active=data["active"],
            unsafe=data["unsafe"], user=data.get("user") or "", text=data.get("text") or "",
            title=data.get("message") or "", value=data.get("value"), limit=data.get("limit"),
            values=data.get("values") or {},
        )
    except KeyError as missing:
        raise AlarmError(f"alarm event {event.id} lacks {missing}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise AlarmError(f"alarm event {event.id}: {where}: {first['msg']}") from None


def new_status(spec: AlarmSpec) -> AlarmStatus:
    """The status of an alarm never evaluated yet: normal, condition inactive."""
    return AlarmStatus(
        station=spec.station, alarm=spec.id, equipment=spec.equipment, rule=spec.rule,
        title=spec.title, priority=spec.priority, position=spec.operator_position,
        point=spec.point,
    )


# --------------------------------------------------------------------------- transitions


@dataclass
class _Step:
    """A status being moved, and the journal rows it produced so far."""

    status: AlarmStatus
    now: datetime
    records: list[AlarmRecord] = field(default_factory=list)

    def apply(self, trigger: Trigger, *, user: str = "", text: str = "",
              **changes: Any) -> None:
        before = self.status
        if trigger in OVERLAY:
            target = before.state
        else:
            try:
                target = TRANSITIONS[(before.state, trigger)]
            except KeyError:
                raise AlarmError(
                    f"alarm {before.alarm}: {trigger.value} is not possible "
                    f"when {before.state.value}"
                ) from None
        seq = before.seq + 1
        after = before.model_copy(update={
            **changes, "state": target, "seq": seq, "changed_at": self.now,
        })
        self.status = after
        self.records.append(AlarmRecord(
            station=after.station, alarm=after.alarm, seq=seq, t=self.now,
            equipment=after.equipment, rule=after.rule, priority=after.priority,
            position=after.position, point=after.point, trigger=trigger,
            from_state=before.state,
            to_state=target, active=after.active, unsafe=after.unsafe, user=user, text=text,
            title=after.title, value=after.value, limit=after.limit, values=dict(after.values),
        ))


def _exceeds(spec: AlarmSpec, obs: Observation, active: bool) -> bool:
    """The raw condition, with the deadband applied on the way back only."""
    if not obs.applicable or obs.value is None:
        return False
    margin = spec.deadband if active else 0.0
    if spec.direction == "high":
        return obs.value > obs.limit - margin
    return obs.value < obs.limit + margin


def _expire_shelf(run: _Step) -> None:
    shelf = run.status.shelf
    if run.status.state is S.SHELVED and shelf is not None and run.now >= shelf.until:
        trigger = T.EXPIRE_ACTIVE if run.status.active else T.EXPIRE_NORMAL
        update: dict[str, Any] = {"shelf": None}
        if trigger is T.EXPIRE_ACTIVE:
            update["raised_at"] = run.now
        run.apply(trigger, text=f"shelf by {shelf.user} ran out", **update)


def _suppress(run: _Step, suppression: str | None) -> None:
    """Engage suppression by design (before the condition, so a consequence never shows)."""
    if suppression and not run.status.suppressed_by:
        run.apply(T.SUPPRESS, text=suppression, suppressed_by=suppression, shelf=None)


def _release(run: _Step, suppression: str | None) -> None:
    """Release suppression (after the condition, so a cleared consequence stays quiet)."""
    if suppression is None and run.status.suppressed_by:
        trigger = T.RELEASE_ACTIVE if run.status.active else T.RELEASE_NORMAL
        update: dict[str, Any] = {"suppressed_by": ""}
        if trigger is T.RELEASE_ACTIVE and run.status.state is S.SUPPRESSED:
            update["raised_at"] = run.now
        run.apply(trigger, text=f"{run.status.suppressed_by} no longer holds", **update)


def _quality(run: _Step, obs: Observation) -> None:
    status = run.status
    if not obs.good and not status.unsafe:
        run.apply(T.QUALITY_BAD, text=obs.why, unsafe=True, unsafe_why=obs.why,
                  pending_since=None)
    elif not obs.good:
        if status.unsafe_why != obs.why:
            run.status = status.model_copy(update={"unsafe_why": obs.why})
    elif obs.good and status.unsafe:
        run.apply(T.QUALITY_GOOD, text=f"inputs good again (was: {status.unsafe_why})",
                  unsafe=False, unsafe_why="")


def _condition(run: _Step, spec: AlarmSpec, obs: Observation) -> None:
    status = run.status
    reading: dict[str, Any] = {
        "value": obs.value, "limit": obs.limit, "values": dict(obs.values), "detail": obs.detail,
    }
    raw = _exceeds(spec, obs, status.active)
    if raw == status.active:
        if status.pending_since is not None or status.value != obs.value \
                or status.limit != obs.limit or status.detail != obs.detail \
                or status.values != obs.values:  # else the copy would equal the status
            run.status = status.model_copy(update={**reading, "pending_since": None})
        return
    since = status.pending_since or run.now
    delay = spec.on_delay_s if raw else spec.off_delay_s
    if (run.now - since).total_seconds() < delay:
        run.status = status.model_copy(update={**reading, "pending_since": since})
        return
    update = {**reading, "active": raw, "pending_since": None}
    if raw:
        if status.state not in _HIDDEN:
            update["raised_at"] = run.now
        run.apply(T.ACTIVATE, text=obs.detail, **update)
    else:
        trigger = T.CLEAR_LATCHING if spec.latching and status.state not in _HIDDEN else T.CLEAR
        run.apply(trigger, text=obs.detail, cleared_at=run.now, **update)


def step(
    status: AlarmStatus,
    spec: AlarmSpec,
    observation: Observation | None,
    now: datetime,
    suppression: str | None = None,
) -> tuple[AlarmStatus, list[AlarmRecord]]:
    """Advance one alarm to ``now`` with the rule's latest observation and the plant state.

    ``observation`` None means only time passes (a shelf may run out). ``suppression`` names
    the plant state that suppresses the alarm (None: nothing does).
    """
    if status.alarm != spec.id:
        raise AlarmError(f"status of {status.alarm} given for alarm {spec.id}")
    run = _Step(status, now)
    _suppress(run, suppression)
    _expire_shelf(run)
    if observation is not None:
        _quality(run, observation)
        if observation.good:
            _condition(run, spec, observation)
    _release(run, suppression)
    return run.status, run.records


# --------------------------------------------------------------------------- operator actions


def _named(user: str) -> str:
    user = user.strip()
    if not user:
        raise AlarmError("an operator action needs a named user")
    return user


def _text(text: str, what: str, required: bool = False) -> str:
    text = text.strip()
    if required and not text:
        raise AlarmError(f"a {what} is required")
    if len(text) > MAX_REASON_CHARS:
        raise AlarmError(f"the {what} has {len(text)} characters; at most {MAX_REASON_CHARS}")
    return text


def _act(status: AlarmStatus, now: datetime, trigger: Trigger, user: str, text: str,
         **changes: Any) -> tuple[AlarmStatus, list[AlarmRecord]]:
    run = _Step(status, now)
    run.apply(trigger, user=user, text=text, **changes)
    return run.status, run.records


def acknowledge(status: AlarmStatus, user: str, now: datetime, comment: str = ""
                ) -> tuple[AlarmStatus, list[AlarmRecord]]:
    """Acknowledge an unacknowledged (or returned-to-normal unacknowledged) alarm."""
    user, comment = _named(user), _text(comment, "comment")
    if status.state is S.LATCHED:
        raise AlarmError(f"alarm {status.alarm} is latched: reset it once the cause is fixed")
    if status.state not in (S.UNACKNOWLEDGED, S.RTN_UNACKNOWLEDGED):
        raise AlarmError(f"alarm {status.alarm} is {status.state.value}: nothing to acknowledge")
    return _act(status, now, T.ACK, user, comment, acked_at=now, acked_by=user)


def reset(status: AlarmStatus, user: str, now: datetime, comment: str = ""
          ) -> tuple[AlarmStatus, list[AlarmRecord]]:
    """Reset a latched alarm whose condition has returned to normal (it counts as acknowledged)."""
    user, comment = _named(user), _text(comment, "comment")
    if status.state is not S.LATCHED:
        raise AlarmError(f"alarm {status.alarm} is {status.state.value}: only a latched alarm "
                         "is reset")
    return _act(status, now, T.RESET, user, comment, acked_at=now, acked_by=user)


def comment(status: AlarmStatus, user: str, now: datetime, text: str
            ) -> tuple[AlarmStatus, list[AlarmRecord]]:
    """Add an operator's comment to the alarm's journal."""
    return _act(status, now, T.COMMENT, _named(user), _text(text, "comment", required=True))


def shelve(status: AlarmStatus, spec: AlarmSpec, user: str, reason: str, *,
           duration_s: float, now: datetime) -> tuple[AlarmStatus, list[AlarmRecord]]:
    """Shelve an alarm for a while, with a reason; it returns by itself when the time is up."""
    user, reason = _named(user), _text(reason, "shelving reason", required=True)
    if not 0 < duration_s <= spec.max_shelve_s:
        raise AlarmError(f"alarm {spec.id}: shelving time {duration_s:g} s is out of range "
                         f"(0 < t <= {spec.max_shelve_s:g} s)")
    if status.state in _HIDDEN:
        raise AlarmError(f"alarm {spec.id} is {status.state.value}: it cannot be shelved")
    shelf = Shelf(user=user, reason=reason, since=now, until=now + timedelta(seconds=duration_s))
    return _act(status, now, T.SHELVE, user, reason, shelf=shelf)


def unshelve(status: AlarmStatus, user: str, now: datetime, comment: str = ""
             ) -> tuple[AlarmStatus, list[AlarmRecord]]:
    """Take an alarm off the shelf by hand: if still active it comes back acknowledged."""
    user, comment = _named(user), _text(comment, "comment")
    if status.state is not S.SHELVED:
        raise AlarmError(f"alarm {status.alarm} is {status.state.value}, not shelved")
    trigger = T.UNSHELVE_ACTIVE if status.active else T.UNSHELVE_NORMAL
    extra: dict[str, Any] = {"acked_at": now, "acked_by": user} if status.active else {}
    return _act(status, now, trigger, user, comment, shelf=None, **extra)


def remove_from_service(status: AlarmStatus, user: str, reason: str, now: datetime
                        ) -> tuple[AlarmStatus, list[AlarmRecord]]:
    """Take an alarm out of service (maintenance), with a reason."""
    user, reason = _named(user), _text(reason, "reason", required=True)
    if status.state is S.OUT_OF_SERVICE:
        raise AlarmError(f"alarm {status.alarm} is already out of service")
    return _act(status, now, T.REMOVE, user, reason, shelf=None)


def return_to_service(status: AlarmStatus, user: str, now: datetime, comment: str = ""
                      ) -> tuple[AlarmStatus, list[AlarmRecord]]:
    """Put an alarm back in service: suppressed, active (unacknowledged) or normal as it stands."""
    user, comment = _named(user), _text(comment, "comment")
    if status.state is not S.OUT_OF_SERVICE:
        raise AlarmError(f"alarm {status.alarm} is {status.state.value}, not out of service")
    if status.suppressed_by:
        return _act(status, now, T.RESTORE_SUPPRESSED, user, comment)
    if status.active:
        return _act(status, now, T.RESTORE_ACTIVE, user, comment, raised_at=now)
    return _act(status, now, T.RESTORE_NORMAL, user, comment)


# --------------------------------------------------------------------------- a station's alarms


def evaluation_order(specs: Sequence[AlarmSpec]) -> list[AlarmSpec]:
    """Alarms ordered so that a root cause is evaluated before the alarms it suppresses.

    Refused: an id configured twice, a loop of suppressions, and a consequence whose on-delay
    is shorter than its cause's (it would show first).
    """
    by_id = {spec.id: spec for spec in specs}
    if len(by_id) != len(specs):
        seen: set[str] = set()
        for spec in specs:
            if spec.id in seen:
                raise AlarmError(f"alarm id {spec.id!r} is configured twice")
            seen.add(spec.id)
    ordered: list[AlarmSpec] = []
    marks: dict[str, str] = {}

    def visit(spec: AlarmSpec, path: tuple[str, ...]) -> None:
        mark = marks.get(spec.id)
        if mark == "done":
            return
        if mark == "open":
            raise AlarmError("alarm suppression forms a loop: " + " -> ".join((*path, spec.id)))
        marks[spec.id] = "open"
        for name in spec.suppressed_when:
            if name in by_id:
                root = by_id[name]
                if spec.on_delay_s < root.on_delay_s:
                    raise AlarmError(
                        f"alarm {spec.id} (on-delay {spec.on_delay_s:g} s) is suppressed by "
                        f"{root.id} (on-delay {root.on_delay_s:g} s): the consequence would "
                        "show before its cause")
                visit(root, (*path, spec.id))
        marks[spec.id] = "done"
        ordered.append(spec)

    for spec in specs:
        visit(spec, ())
    return ordered


def suppression_of(spec: AlarmSpec, flags: Mapping[str, bool | None],
                   statuses: Mapping[str, AlarmStatus]) -> str | Literal[False] | None:
    """What suppresses an alarm now: a reason, None (nothing), or False (unknown: keep as is).

    A flag is unknown (None) when the plant state behind it is unreadable; a root-cause alarm
    is unknown while its own inputs are unsafe.
    """
    unknown = False
    for name in spec.suppressed_when:
        if name in statuses:
            root = statuses[name]
            if root.active:
                return f"{name} active"
            unknown |= root.unsafe
        else:
            flag = flags.get(name)
            if flag:
                return name
            unknown |= flag is None
    return False if unknown else None


def evaluate(
    specs: Sequence[AlarmSpec],
    statuses: Mapping[str, AlarmStatus],
    observations: Mapping[str, Observation],
    flags: Mapping[str, bool | None],
    now: datetime,
    *,
    ordered: bool = False,
    previous: Mapping[str, Observation] | None = None,
) -> tuple[dict[str, AlarmStatus], list[AlarmRecord]]:
    """Advance every alarm of a station to ``now``; root causes first, so they show first.

    ``observations`` holds the alarms the rules evaluated now (others only see time pass);
    ``flags`` the plant states alarms may be suppressed by (None: unreadable); ``ordered``
    says ``specs`` are already in :func:`evaluation_order`; ``previous`` holds the
    observations of the previous evaluation of these statuses.
    """
    current = dict(statuses)
    records: list[AlarmRecord] = []
    before = previous or {}
    for spec in specs if ordered else evaluation_order(specs):
        status = current.get(spec.id) or new_status(spec)
        found = suppression_of(spec, flags, current)
        suppression = (status.suppressed_by or None) if found is False else found
        observation = observations.get(spec.id)
        if observation is not None and observation is before.get(spec.id) \
                and status.pending_since is None and status.state is not S.SHELVED \
                and bool(suppression) == bool(status.suppressed_by):
            # the very observation this status already took, no delay running, no shelf to
            # run out, no suppression to engage or release: stepping it changes nothing
            continue
        status, rows = step(status, spec, observation, now, suppression)
        current[spec.id] = status
        records.extend(rows)
    return current, records


_STATUS_LIST = TypeAdapter(list[AlarmStatus])


def dump(statuses: Iterable[AlarmStatus]) -> str:
    """Serialise alarm statuses to JSON text (what a restart reads back)."""
    return "[" + ",".join(s.model_dump_json() for s in statuses) + "]"


def load(text: str) -> dict[str, AlarmStatus]:
    """Read alarm statuses back from :func:`dump`'s JSON text, keyed by alarm id."""
    items = _STATUS_LIST.validate_json(text)
    return {item.alarm: item for item in items}
