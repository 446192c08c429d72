"""The alarm state model, walked path by path with a fake clock.

Each case is a script of (seconds, operation, expected state, expected journal triggers); the
expectations are the ISA-18.2 rules written out by hand, not read from the engine's table. A
last test checks that the cases together walk every row of the transition table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.alarms import (
    OVERLAY,
    TRANSITIONS,
    AlarmError,
    AlarmRecord,
    AlarmSpec,
    AlarmStatus,
    Observation,
    Priority,
    State,
    Trigger,
    acknowledge,
    comment,
    dump,
    evaluate,
    evaluation_order,
    load,
    new_status,
    record_from_event,
    remove_from_service,
    reset,
    return_to_service,
    shelve,
    step,
    unshelve,
)
from historian.decode import StationMessage, decode
from plant.contract import Event, Topic, topic

T0 = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
LIMIT = 10.0
BAD_WHY = "HP1.evaporator_out_temp bad (comm_lost)"

N, U, A = State.NORMAL, State.UNACKNOWLEDGED, State.ACKNOWLEDGED
R, L, SH = State.RTN_UNACKNOWLEDGED, State.LATCHED, State.SHELVED
SU, OOS = State.SUPPRESSED, State.OUT_OF_SERVICE


def reading(value: float) -> Observation:
    return Observation(value=value, limit=LIMIT, detail=f"{value:g} against {LIMIT:g}",
                       values={"HP1.x": value})


BAD = Observation(value=None, limit=LIMIT, good=False, why=BAD_WHY)


@dataclass
class Rig:
    """One alarm driven by a script, keeping its journal."""

    spec: AlarmSpec
    status: AlarmStatus
    suppression: str | None = None
    journal: list[AlarmRecord] = field(default_factory=list)

    @classmethod
    def make(cls, **options: Any) -> Rig:
        spec = AlarmSpec(station="dq-1", id="HP1.test", equipment="HP1", rule="test",
                         title="test alarm", deadband=1.0, **options)
        return cls(spec, new_status(spec))

    def do(self, seconds: float, op: str, arg: Any = None) -> list[str]:
        now = T0 + timedelta(seconds=seconds)
        if op == "v":
            result = step(self.status, self.spec, reading(arg), now, self.suppression)
        elif op == "bad":
            result = step(self.status, self.spec, BAD, now, self.suppression)
        elif op == "tick":
            result = step(self.status, self.spec, None, now, self.suppression)
        elif op == "supp":
            self.suppression = arg
            result = step(self.status, self.spec, None, now, self.suppression)
        elif op == "supp_v":
            self.suppression, value = arg
            result = step(self.status, self.spec, reading(value), now, self.suppression)
        elif op == "ack":
            result = acknowledge(self.status, "li.wei", now, "seen")
        elif op == "reset":
            result = reset(self.status, "li.wei", now, "valve fixed")
        elif op == "shelve":
            result = shelve(self.status, self.spec, "li.wei", "sensor being replaced",
                            duration_s=arg, now=now)
        elif op == "unshelve":
            result = unshelve(self.status, "li.wei", now)
        elif op == "oos":
            result = remove_from_service(self.status, "li.wei", "heat pump overhaul", now)
        elif op == "rts":
            result = return_to_service(self.status, "li.wei", now)
        elif op == "comment":
            result = comment(self.status, "li.wei", now, arg)
        else:
            raise AssertionError(op)
        self.status, rows = result
        self.journal.extend(rows)
        return [row.trigger.value for row in rows]


Script = list[tuple[float, str, Any, State, list[str]]]

CASES: dict[str, tuple[dict[str, Any], Script]] = {
    "acknowledged then cleared": ({}, [
        (0, "v", 5.0, N, []),
        (1, "v", 12.0, U, ["activate"]),
        (2, "ack", None, A, ["ack"]),
        (3, "v", 8.0, N, ["clear"]),
    ]),
    "cleared before acknowledgement": ({}, [
        (1, "v", 12.0, U, ["activate"]),
        (2, "v", 5.0, R, ["clear"]),
        (3, "ack", None, N, ["ack"]),
    ]),
    "returns while unacknowledged, then alarms again": ({}, [
        (1, "v", 12.0, U, ["activate"]),
        (2, "v", 5.0, R, ["clear"]),
        (3, "v", 12.0, U, ["activate"]),
    ]),
    "deadband holds the alarm until the value is back past it": ({}, [
        (1, "v", 10.5, U, ["activate"]),
        (2, "v", 9.5, U, []),
        (3, "v", 9.1, U, []),
        (4, "v", 8.9, R, ["clear"]),
        (5, "v", 9.9, R, []),
        (6, "v", 10.01, U, ["activate"]),
    ]),
    "on-delay: the condition must hold for 30 s": ({"on_delay_s": 30}, [
        (0, "v", 12.0, N, []),
        (20, "v", 12.0, N, []),
        (29, "v", 12.0, N, []),
        (30, "v", 12.0, U, ["activate"]),
    ]),
    "on-delay restarts when the condition drops out": ({"on_delay_s": 30}, [
        (0, "v", 12.0, N, []),
        (20, "v", 5.0, N, []),
        (40, "v", 12.0, N, []),
        (69, "v", 12.0, N, []),
        (70, "v", 12.0, U, ["activate"]),
    ]),
    "off-delay: the return must hold for 60 s": ({"off_delay_s": 60}, [
        (0, "v", 12.0, U, ["activate"]),
        (10, "v", 5.0, U, []),
        (30, "v", 12.0, U, []),
        (40, "v", 5.0, U, []),
        (99, "v", 5.0, U, []),
        (100, "v", 5.0, R, ["clear"]),
    ]),
    "chattering input without delay: every swing is an alarm": ({}, [
        (0, "v", 12.0, U, ["activate"]),
        (5, "v", 5.0, R, ["clear"]),
        (10, "v", 12.0, U, ["activate"]),
        (15, "v", 5.0, R, ["clear"]),
        (20, "v", 12.0, U, ["activate"]),
    ]),
    "the same chattering input with a 10 s on-delay raises nothing": ({"on_delay_s": 10}, [
        (0, "v", 12.0, N, []),
        (5, "v", 5.0, N, []),
        (10, "v", 12.0, N, []),
        (15, "v", 5.0, N, []),
        (20, "v", 12.0, N, []),
        (25, "v", 5.0, N, []),
    ]),
    "latching: held after the return until reset": ({"latching": True}, [
        (1, "v", 12.0, U, ["activate"]),
        (2, "v", 5.0, L, ["clear_latching"]),
        (3, "v", 5.0, L, []),
        (4, "reset", None, N, ["reset"]),
    ]),
    "latching: acknowledged, returns, latched, alarms again": ({"latching": True}, [
        (1, "v", 12.0, U, ["activate"]),
        (2, "ack", None, A, ["ack"]),
        (3, "v", 5.0, L, ["clear_latching"]),
        (4, "v", 12.0, U, ["activate"]),
    ]),
    "quality turns bad mid-alarm: neither clears nor fires": ({}, [
        (1, "v", 12.0, U, ["activate"]),
        (2, "bad", None, U, ["quality_bad"]),
        (3, "bad", None, U, []),
        (4, "v", 5.0, R, ["quality_good", "clear"]),
    ]),
    "bad data never raises an alarm": ({}, [
        (1, "v", 5.0, N, []),
        (2, "bad", None, N, ["quality_bad"]),
        (30, "bad", None, N, []),
        (31, "v", 5.0, N, ["quality_good"]),
    ]),
    "bad data interrupts an on-delay, which starts again": ({"on_delay_s": 30}, [
        (0, "v", 12.0, N, []),
        (10, "bad", None, N, ["quality_bad"]),
        (20, "v", 12.0, N, ["quality_good"]),
        (40, "v", 12.0, N, []),
        (50, "v", 12.0, U, ["activate"]),
    ]),
    "shelf runs out while active: back unacknowledged": ({}, [
        (0, "v", 12.0, U, ["activate"]),
        (10, "shelve", 600, SH, ["shelve"]),
        (100, "v", 5.0, SH, ["clear"]),
        (200, "v", 12.0, SH, ["activate"]),
        (609, "tick", None, SH, []),
        (610, "tick", None, U, ["expire_active"]),
    ]),
    "shelf runs out after the return: back to normal": ({}, [
        (0, "v", 12.0, U, ["activate"]),
        (10, "shelve", 600, SH, ["shelve"]),
        (100, "v", 5.0, SH, ["clear"]),
        (700, "v", 5.0, N, ["expire_normal"]),
    ]),
    "unshelved by hand while active: back acknowledged": ({}, [
        (0, "v", 12.0, U, ["activate"]),
        (10, "shelve", 600, SH, ["shelve"]),
        (20, "unshelve", None, A, ["unshelve_active"]),
        (30, "v", 5.0, N, ["clear"]),
    ]),
    "shelved while normal, unshelved by hand": ({}, [
        (0, "shelve", 60, SH, ["shelve"]),
        (10, "unshelve", None, N, ["unshelve_normal"]),
    ]),
    "shelved from returned-unacknowledged and from latched": ({"latching": True}, [
        (0, "v", 12.0, U, ["activate"]),
        (1, "v", 5.0, L, ["clear_latching"]),
        (2, "shelve", 60, SH, ["shelve"]),
        (70, "tick", None, N, ["expire_normal"]),
    ]),
    "a stopped unit suppresses the alarm; released while still active": ({}, [
        (0, "supp", "HP1.stopped", SU, ["suppress"]),
        (1, "v", 12.0, SU, ["activate"]),
        (2, "v", 5.0, SU, ["clear"]),
        (3, "v", 12.0, SU, ["activate"]),
        (4, "supp", None, U, ["release_active"]),
    ]),
    "released as the condition returns: nothing shows": ({}, [
        (0, "v", 12.0, U, ["activate"]),
        (1, "ack", None, A, ["ack"]),
        (2, "supp", "HP1.stopped", SU, ["suppress"]),
        (3, "supp_v", (None, 5.0), N, ["clear", "release_normal"]),
    ]),
    "suppression that starts with the condition hides it": ({}, [
        (0, "supp_v", ("PW1.tripped", 12.0), SU, ["suppress", "activate"]),
    ]),
    "suppression ends a shelf": ({}, [
        (0, "v", 12.0, U, ["activate"]),
        (1, "shelve", 600, SH, ["shelve"]),
        (2, "supp", "HP1.stopped", SU, ["suppress"]),
        (700, "supp_v", (None, 12.0), U, ["release_active"]),
    ]),
    "suppression starting as a shelf runs out: nothing shows": ({}, [
        (0, "v", 12.0, U, ["activate"]),
        (1, "shelve", 30, SH, ["shelve"]),
        (31, "supp", "HP1.stopped", SU, ["suppress"]),
    ]),
    "out of service follows the process and the plant state": ({}, [
        (0, "v", 12.0, U, ["activate"]),
        (1, "oos", None, OOS, ["remove"]),
        (2, "v", 5.0, OOS, ["clear"]),
        (3, "supp", "HP1.stopped", OOS, ["suppress"]),
        (4, "rts", None, SU, ["restore_suppressed"]),
        (5, "oos", None, OOS, ["remove"]),
        (6, "supp_v", (None, 12.0), OOS, ["activate", "release_active"]),
        (7, "rts", None, U, ["restore_active"]),
        (8, "oos", None, OOS, ["remove"]),
        (9, "supp", "HP1.stopped", OOS, ["suppress"]),
        (10, "supp_v", (None, 5.0), OOS, ["clear", "release_normal"]),
        (11, "rts", None, N, ["restore_normal"]),
    ]),
    "comments change nothing but are journaled": ({}, [
        (0, "v", 12.0, U, ["activate"]),
        (1, "comment", "called the maintenance crew", U, ["comment"]),
    ]),
}


def _prefix(state: State) -> tuple[dict[str, Any], Script]:
    """Options and a script that bring an alarm to ``state``."""
    to: dict[State, tuple[dict[str, Any], Script]] = {
        N: ({}, []),
        U: ({}, [(0, "v", 12.0, U, ["activate"])]),
        A: ({}, [(0, "v", 12.0, U, ["activate"]), (1, "ack", None, A, ["ack"])]),
        R: ({}, [(0, "v", 12.0, U, ["activate"]), (1, "v", 5.0, R, ["clear"])]),
        L: ({"latching": True},
            [(0, "v", 12.0, U, ["activate"]), (1, "v", 5.0, L, ["clear_latching"])]),
        SH: ({}, [(0, "shelve", 600, SH, ["shelve"])]),
        SU: ({}, [(0, "supp", "HP1.stopped", SU, ["suppress"])]),
    }
    return to[state]


# From every state the operator sees (and shelved/suppressed), shelving, suppression and removal
# from service go where ISA-18.2 says, whatever the alarm was doing.
for _state in (N, U, A, R, L):
    _opts, _script = _prefix(_state)
    CASES[f"shelve from {_state.value}"] = (_opts, [*_script, (5, "shelve", 60, SH, ["shelve"])])
    CASES[f"suppress from {_state.value}"] = (
        _opts, [*_script, (5, "supp", "HP1.stopped", SU, ["suppress"])])
for _state in (N, U, A, R, L, SH, SU):
    _opts, _script = _prefix(_state)
    CASES[f"remove from {_state.value}"] = (_opts, [*_script, (5, "oos", None, OOS, ["remove"])])


def run(options: dict[str, Any], script: Script) -> Rig:
    rig = Rig.make(**options)
    for seconds, op, arg, state, triggers in script:
        got = rig.do(seconds, op, arg)
        assert (rig.status.state, got) == (state, triggers), f"at {seconds} s: {op} {arg}"
    return rig


@pytest.mark.parametrize("name", list(CASES))
def test_transition_paths(name: str) -> None:
    rig = run(*CASES[name])
    seqs = [row.seq for row in rig.journal]
    assert seqs == list(range(1, len(seqs) + 1))


def test_the_cases_walk_every_row_of_the_table() -> None:
    walked: set[tuple[State, Trigger]] = set()
    for options, script in CASES.values():
        walked |= {(row.from_state, row.trigger) for row in run(options, script).journal}
    assert set(TRANSITIONS) - walked == set()


def test_unsafe_rows_say_which_input_and_why() -> None:
    rig = run(*CASES["quality turns bad mid-alarm: neither clears nor fires"])
    bad = next(row for row in rig.journal if row.trigger is Trigger.QUALITY_BAD)
    assert bad.text == BAD_WHY and bad.unsafe and bad.active
    good = next(row for row in rig.journal if row.trigger is Trigger.QUALITY_GOOD)
    assert BAD_WHY in good.text and not good.unsafe


def test_rows_carry_the_values_behind_and_the_user() -> None:
    rig = run(*CASES["acknowledged then cleared"])
    first, ack, clear = rig.journal
    assert (first.value, first.limit, first.values) == (12.0, LIMIT, {"HP1.x": 12.0})
    assert (ack.user, ack.text) == ("li.wei", "seen")
    assert rig.status.acked_by == "li.wei" and rig.status.acked_at == T0 + timedelta(seconds=2)
    assert clear.value == 8.0 and rig.status.cleared_at == T0 + timedelta(seconds=3)
    assert rig.status.raised_at == T0 + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("prefix", "op", "arg", "message"),
    [
        (N, "ack", None, "normal: nothing to acknowledge"),
        (A, "ack", None, "acknowledged: nothing to acknowledge"),
        (L, "ack", None, "latched: reset it"),
        (U, "reset", None, "only a latched alarm"),
        (U, "shelve", 3601, r"shelving time 3601 s is out of range \(0 < t <= 3600 s\)"),
        (U, "shelve", 0, "out of range"),
        (SU, "shelve", 60, "suppressed: it cannot be shelved"),
        (U, "unshelve", None, "not shelved"),
        (U, "rts", None, "not out of service"),
        (U, "comment", "  ", "a comment is required"),
        (U, "comment", "x" * 201, "201 characters; at most 200"),
    ],
)
def test_refused_actions_say_why_and_change_nothing(
    prefix: State, op: str, arg: Any, message: str
) -> None:
    rig = run(*_prefix(prefix))
    before = rig.status
    with pytest.raises(AlarmError, match=message):
        rig.do(10, op, arg)
    assert rig.status == before


def test_actions_need_a_named_user_and_a_reason() -> None:
    rig = run(*_prefix(U))
    with pytest.raises(AlarmError, match="named user"):
        acknowledge(rig.status, "  ", T0)
    with pytest.raises(AlarmError, match="shelving reason is required"):
        shelve(rig.status, rig.spec, "li.wei", "", duration_s=60, now=T0)
    with pytest.raises(AlarmError, match="reason is required"):
        remove_from_service(rig.status, "li.wei", "", T0)


def test_status_survives_a_restart_mid_scenario() -> None:
    options, script = CASES["shelf runs out while active: back unacknowledged"]
    whole = run(options, script)
    first = run(options, script[:3])
    text = dump([first.status])
    assert json.loads(text)[0]["shelf"]["reason"] == "sensor being replaced"
    restored = load(text)
    rig = Rig(first.spec, restored[first.spec.id])
    for seconds, op, arg, state, triggers in script[3:]:
        assert (rig.do(seconds, op, arg), rig.status.state) == (triggers, state)
    assert rig.status == whole.status


def test_a_pending_on_delay_survives_a_restart() -> None:
    rig = Rig.make(on_delay_s=30)
    rig.do(0, "v", 12.0)
    rig.status = load(dump([rig.status]))[rig.spec.id]
    assert rig.do(30, "v", 12.0) == ["activate"]


def test_rows_are_contract_events() -> None:
    rig = run(*CASES["acknowledged then cleared"])
    event = rig.journal[0].to_event("controller-1")
    again = Event.model_validate_json(event.model_dump_json())
    assert again == event
    assert (event.kind, event.id, event.station) == ("alarm", "HP1.test#1", "dq-1")
    assert again.data["state"] == "unacknowledged" and again.data["priority"] == "low"
    assert again.data["values"] == {"HP1.x": 12.0} and again.data["equipment"] == "HP1"
    assert (again.data["severity"], again.data["point"], again.data["message"]) == (
        1, None, "test alarm")
    stored = decode(topic("dq-1", Topic.EVENT), event.model_dump_json().encode())
    assert isinstance(stored, StationMessage) and stored.message == event


def test_the_journal_comes_back_from_its_events() -> None:
    rig = run(*CASES["out of service follows the process and the plant state"])
    events = [Event.model_validate_json(r.to_event("c").model_dump_json()) for r in rig.journal]
    assert [record_from_event(e) for e in events] == rig.journal


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "decision"}, "is a 'decision' event, not an alarm"),
        ({"data": {"alarm": "x"}}, "lacks 'seq'"),
        ("state", "to_state: Input should be 'normal'"),
    ],
)
def test_a_malformed_alarm_event_is_refused_by_name(change: Any, message: str) -> None:
    event = run(*CASES["acknowledged then cleared"]).journal[0].to_event("c")
    if change == "state":
        event = event.model_copy(update={"data": {**event.data, "state": "alarming"}})
    else:
        event = event.model_copy(update=change)
    with pytest.raises(AlarmError, match=message):
        record_from_event(event)


# --------------------------------------------------------------------------- a station's alarms


def _spec(alarm: str, equipment: str, *, direction: Literal["high", "low"] = "high", on_delay_s: float = 0.0,
          suppressed_when: tuple[str, ...] = (), priority: Priority = Priority.LOW) -> AlarmSpec:
    return AlarmSpec(station="dq-1", id=alarm, equipment=equipment, rule="test", title=alarm,
                     direction=direction, on_delay_s=on_delay_s,
                     suppressed_when=suppressed_when, priority=priority)


TRIP = _spec("PW1.pump_tripped", "PW1", priority=Priority.HIGH)
LOW_FLOW = _spec("RW1.low_flow", "RW1", direction="low", suppressed_when=("PW1.pump_tripped",))
LOW_COP = _spec("HP1.low_cop", "HP1", direction="low", suppressed_when=("HP1.stopped",))


def test_root_cause_shows_first_and_consequences_stay_suppressed() -> None:
    specs = [LOW_COP, LOW_FLOW, TRIP]
    assert [s.id for s in evaluation_order(specs)][-2:] == ["PW1.pump_tripped", "RW1.low_flow"]
    flags = {"HP1.stopped": False}
    ok = {"PW1.pump_tripped": Observation(value=0.0, limit=0.5),
          "RW1.low_flow": Observation(value=80.0, limit=20.0),
          "HP1.low_cop": Observation(value=4.5, limit=3.0)}
    statuses, rows = evaluate(specs, {}, ok, flags, T0)
    assert rows == [] and {s.state for s in statuses.values()} == {N}
    tripped = {**ok, "PW1.pump_tripped": Observation(value=1.0, limit=0.5),
               "RW1.low_flow": Observation(value=0.0, limit=20.0)}
    statuses, rows = evaluate(specs, statuses, tripped, flags, T0 + timedelta(seconds=1))
    assert [(r.alarm, r.trigger.value, r.to_state.value) for r in rows] == [
        ("PW1.pump_tripped", "activate", "unacknowledged"),
        ("RW1.low_flow", "suppress", "suppressed"),
        ("RW1.low_flow", "activate", "suppressed"),
    ]
    assert [r for r in rows if r.annunciated] == rows[:1]
    restarted = {**tripped, "PW1.pump_tripped": Observation(value=0.0, limit=0.5),
                 "RW1.low_flow": Observation(value=80.0, limit=20.0)}
    statuses, rows = evaluate(specs, statuses, restarted, flags, T0 + timedelta(seconds=2))
    assert [(r.alarm, r.trigger.value) for r in rows] == [
        ("PW1.pump_tripped", "clear"), ("RW1.low_flow", "clear"),
        ("RW1.low_flow", "release_normal"),
    ]
    assert statuses["RW1.low_flow"].state is N


def test_a_stopped_heat_pump_does_not_raise_its_low_cop_alarm() -> None:
    low = {"HP1.low_cop": Observation(value=1.0, limit=3.0)}
    statuses, rows = evaluate([LOW_COP], {}, low, {"HP1.stopped": True}, T0)
    assert statuses["HP1.low_cop"].state is SU and not any(r.annunciated for r in rows)
    # the run state is unreadable: the suppression is kept, not guessed
    statuses, rows = evaluate([LOW_COP], statuses, low, {"HP1.stopped": None},
                              T0 + timedelta(seconds=1))
    assert statuses["HP1.low_cop"].state is SU and rows == []
    statuses, rows = evaluate([LOW_COP], statuses, low, {"HP1.stopped": False},
                              T0 + timedelta(seconds=2))
    assert statuses["HP1.low_cop"].state is U
    assert [r.trigger.value for r in rows] == ["release_active"]


def test_an_unknown_plant_state_does_not_suppress_a_normal_alarm() -> None:
    low = {"HP1.low_cop": Observation(value=1.0, limit=3.0)}
    statuses, _ = evaluate([LOW_COP], {}, low, {}, T0)
    assert statuses["HP1.low_cop"].state is U


def test_suppression_loops_and_duplicates_are_refused() -> None:
    a = _spec("a", "X", suppressed_when=("b",))
    b = _spec("b", "X", suppressed_when=("a",))
    with pytest.raises(AlarmError, match="loop: a -> b -> a"):
        evaluation_order([a, b])
    with pytest.raises(AlarmError, match="'a' is configured twice"):
        evaluation_order([a, a])
    slow_cause = _spec("PW1.pump_tripped", "PW1", on_delay_s=10.0)
    with pytest.raises(AlarmError, match=r"RW1.low_flow \(on-delay 0 s\) is suppressed by "
                                         r"PW1.pump_tripped \(on-delay 10 s\)"):
        evaluation_order([LOW_FLOW, slow_cause])


def test_a_good_observation_needs_a_value() -> None:
    with pytest.raises(ValueError, match="needs a value"):
        Observation(value=None, limit=1.0)
    assert Observation(value=None, limit=1.0, applicable=False).applicable is False


# --------------------------------------------------------------------------- any sequence at all

OPS = st.one_of(
    st.tuples(st.just("v"), st.sampled_from([5.0, 9.5, 12.0])),
    st.tuples(st.sampled_from(["bad", "tick", "ack", "reset", "unshelve", "oos", "rts"]),
              st.none()),
    st.tuples(st.just("shelve"), st.sampled_from([30, 600, 4000])),
    st.tuples(st.just("supp"), st.sampled_from(["HP1.stopped", None])),
    st.tuples(st.just("supp_v"), st.tuples(st.sampled_from(["PW1.tripped", None]),
                                           st.sampled_from([5.0, 12.0]))),
    st.tuples(st.just("comment"), st.just("looked at it")),
)


@settings(max_examples=300, deadline=None)
@given(
    latching=st.booleans(),
    on_delay=st.sampled_from([0.0, 20.0]),
    off_delay=st.sampled_from([0.0, 20.0]),
    script=st.lists(st.tuples(st.integers(1, 40), OPS), max_size=40),
)
def test_any_sequence_keeps_the_journal_and_the_state_consistent(
    latching: bool, on_delay: float, off_delay: float, script: list[tuple[int, tuple[str, Any]]]
) -> None:
    rig = Rig.make(latching=latching, on_delay_s=on_delay, off_delay_s=off_delay)
    seconds = 0
    for gap, (op, arg) in script:
        seconds += gap
        before, rows_before = rig.status, len(rig.journal)
        try:
            rig.do(seconds, op, arg)
        except AlarmError:
            assert rig.status == before and len(rig.journal) == rows_before
            continue
        status = rig.status
        new = rig.journal[rows_before:]
        if status.state in (U, A):
            assert status.active
        if status.state in (N, R, L):
            assert not status.active
        assert (status.state is SH) == (status.shelf is not None)
        assert (status.state is SU) <= bool(status.suppressed_by)
        if rig.suppression and op in ("v", "bad", "tick", "supp", "supp_v"):
            assert not any(row.annunciated for row in new)
        if before.unsafe and op == "bad":
            assert not any(row.trigger in (Trigger.ACTIVATE, Trigger.CLEAR) for row in new)
        assert load(dump([status]))[status.alarm] == status
    previous = N
    for number, row in enumerate(rig.journal, start=1):
        assert row.seq == number and row.from_state is previous
        assert row.trigger in OVERLAY or TRANSITIONS[(row.from_state, row.trigger)] is row.to_state
        previous = row.to_state
