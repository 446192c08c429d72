"""Alarm KPIs against journals whose figures are worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.alarms import (
    AlarmRecord,
    AlarmSpec,
    Observation,
    Priority,
    State,
    Trigger,
    new_status,
    step,
)
from controller.kpi import Thresholds, alarm_kpis, position_kpi

DAY = datetime(2026, 1, 15, tzinfo=UTC)
N, U, A, SH = State.NORMAL, State.UNACKNOWLEDGED, State.ACKNOWLEDGED, State.SHELVED
LOW, MED, HIGH = Priority.LOW, Priority.MEDIUM, Priority.HIGH


def row(alarm: str, t: datetime, trigger: Trigger, to: State, frm: State = N,
        priority: Priority = LOW, position: str = "console-1") -> AlarmRecord:
    return AlarmRecord(station="dq-1", alarm=alarm, seq=1, t=t, equipment="X", rule="r",
                       priority=priority, position=position, trigger=trigger, from_state=frm,
                       to_state=to, active=to in (U, A), unsafe=False)


def raised(alarm: str, t: datetime, priority: Priority = LOW, **kw: object) -> AlarmRecord:
    return row(alarm, t, Trigger.ACTIVATE, U, priority=priority, **kw)  # type: ignore[arg-type]


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return DAY + timedelta(hours=hh, minutes=mm, seconds=ss)


def journal() -> list[AlarmRecord]:
    rows = []
    # 06:00-06:10: twelve different low alarms -> a flood period (more than 10)
    rows += [raised(f"A{i}", at(6, 0, 30 * i)) for i in range(12)]
    # 07:00-07:10: exactly ten (five medium, five high) -> not a flood
    rows += [raised(f"B{i}", at(7, 1, i), MED if i < 5 else HIGH) for i in range(10)]
    # C: three times in 50 s -> chattering; shelved after, and its hidden activation is no alarm
    rows += [raised("C", at(8, 0, s), HIGH) for s in (0, 20, 50)]
    rows += [row("C", at(8, 1), Trigger.SHELVE, SH, U, HIGH),
             row("C", at(8, 5), Trigger.ACTIVATE, SH, SH, HIGH)]
    # D: three times in 70 s -> not chattering
    rows += [raised("D", at(9, 0, 0), MED), raised("D", at(9, 0, 40), MED),
             raised("D", at(9, 1, 10), MED)]
    # two suppressions, one removal from service
    rows += [row("E", at(10, 0), Trigger.SUPPRESS, State.SUPPRESSED),
             row("F", at(10, 0), Trigger.SUPPRESS, State.SUPPRESSED),
             row("G", at(11, 0), Trigger.REMOVE, State.OUT_OF_SERVICE)]
    # standing spells that began before the day
    rows += [raised("S", DAY - timedelta(hours=25)),                       # never clears: stale
             row("S", DAY - timedelta(hours=20), Trigger.ACK, A, U),
             raised("S2", DAY - timedelta(hours=12)),                      # 23 h: not stale
             row("S2", at(11, 0), Trigger.CLEAR, State.RTN_UNACKNOWLEDGED, U),
             raised("S3", DAY - timedelta(hours=18)),                      # 25 h: stale 06-07
             row("S3", at(7, 0), Trigger.CLEAR, State.RTN_UNACKNOWLEDGED, U)]
    # another console and the next day do not count
    rows += [raised("Z", at(6, 0), position="console-2"), raised("A0", DAY + timedelta(days=1))]
    return rows


def test_kpis_of_a_day_worked_out_by_hand() -> None:
    kpi = position_kpi(journal(), "console-1", DAY, DAY + timedelta(days=1))
    total = 12 + 10 + 3 + 3
    assert kpi.alarms == total
    assert kpi.per_day.value == pytest.approx(total) and kpi.per_day.meets
    assert (kpi.per_day.target, kpi.per_day_manageable.target) == (150, 300)
    assert kpi.per_10min_mean.value == pytest.approx(total / 144)
    assert (kpi.per_10min_peak, kpi.periods, kpi.flood_periods) == (12, 144, 1)
    assert kpi.flood_share.value == pytest.approx(1 / 144) and kpi.flood_share.meets
    assert kpi.chattering == ("C",) and kpi.chattering_count.meets is False
    assert kpi.stale == ("S", "S3")
    assert kpi.stale_peak_per_day.value == 2 and kpi.stale_peak_per_day.meets
    top = [(b.alarm, b.count) for b in kpi.bad_actors]
    assert top == [("C", 3), ("D", 3), ("A0", 1), ("A1", 1), ("A10", 1), ("A11", 1),
                   ("A2", 1), ("A3", 1), ("A4", 1), ("A5", 1)]
    assert kpi.bad_actor_share.value == pytest.approx(14 / total)
    assert kpi.bad_actor_share.meets is False
    share = {p: f.value for p, f in kpi.priority_share.items()}
    assert share == pytest.approx({LOW: 12 / total, MED: 8 / total, HIGH: 8 / total})
    assert kpi.priority_share[LOW].target == 0.80
    assert (kpi.shelved, kpi.suppressed, kpi.out_of_service) == (1, 2, 1)


def test_thresholds_are_configurable_and_reported() -> None:
    limits = Thresholds(flood_above=9, chatter_window_s=70, stale_after_s=22 * 3600)
    kpi = position_kpi(journal(), "console-1", DAY, DAY + timedelta(days=1), limits)
    assert kpi.flood_periods == 2 and kpi.thresholds.flood_above == 9
    assert kpi.chattering == ("C", "D")
    assert kpi.stale == ("S", "S2", "S3")


def test_every_position_gets_its_own_figures() -> None:
    kpis = alarm_kpis(journal(), DAY, DAY + timedelta(days=1))
    assert set(kpis) == {"console-1", "console-2"}
    assert kpis["console-2"].alarms == 1 and kpis["console-2"].chattering == ()


def test_periods_are_aligned_to_the_clock_and_counted_when_empty() -> None:
    kpi = position_kpi(journal(), "console-1", at(6, 5), at(7, 5))
    # 06:00, 06:10, ... 07:00: seven periods touch the hour; A0-A9 fall after 06:05
    assert kpi.periods == 7
    assert kpi.alarms == 2 + 10 and kpi.flood_periods == 0
    assert kpi.per_day.value == pytest.approx(12 * 24)


def test_an_empty_period_is_quiet_not_an_error() -> None:
    kpi = position_kpi([], "console-1", DAY, DAY + timedelta(hours=1))
    assert (kpi.alarms, kpi.per_10min_peak, kpi.bad_actor_share.value) == (0, 0, 0.0)
    with pytest.raises(ValueError, match="must end after it starts"):
        position_kpi([], "console-1", DAY, DAY)


def _swing(on_delay_s: float) -> list[AlarmRecord]:
    """A level that swings across its limit every 10 s for two minutes, through the engine."""
    spec = AlarmSpec(station="dq-1", id="RW1.level_high", equipment="RW1", rule="t",
                     title="t", position="console-1", on_delay_s=on_delay_s)
    status, rows = new_status(spec), []
    for i in range(13):
        value = 12.0 if i % 2 == 0 else 5.0
        status, new = step(status, spec, Observation(value=value, limit=10.0),
                           DAY + timedelta(seconds=10 * i))
        rows += new
    return rows


def test_chattering_from_the_engine_and_its_cure() -> None:
    kpi = position_kpi(_swing(0.0), "console-1", DAY, DAY + timedelta(hours=1))
    assert kpi.alarms == 7 and kpi.chattering == ("RW1.level_high",)
    cured = position_kpi(_swing(15.0), "console-1", DAY, DAY + timedelta(hours=1))
    assert cured.alarms == 0 and cured.chattering == ()
