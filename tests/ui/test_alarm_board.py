"""The alarm board, banner, horn, filter and shelving time, from hand-made journal rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.alarms import AlarmRecord, Priority, State, Trigger
from ui.alarm_board import (
    AlarmBoard,
    AlarmFilter,
    alarm_of,
    banner,
    horn_key,
    parse_duration,
    table,
)

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
S = State


def row(alarm: str, seq: int, trigger: Trigger, before: State, after: State, *,
        priority: Priority = Priority.HIGH, station: str = "doublet", minute: int = 0,
        user: str = "", text: str = "", active: bool = True) -> AlarmRecord:
    return AlarmRecord(station=station, alarm=alarm, seq=seq, t=T0 + timedelta(minutes=minute),
                       equipment=alarm.partition(".")[0], rule="equipment_fault", priority=priority,
                       position=station, trigger=trigger, from_state=before, to_state=after,
                       active=active, unsafe=False, user=user, text=text,
                       title=f"{alarm} title")


RAISE = (Trigger.ACTIVATE, S.NORMAL, S.UNACKNOWLEDGED)
ACK = (Trigger.ACK, S.UNACKNOWLEDGED, S.ACKNOWLEDGED)
SHELVE = (Trigger.SHELVE, S.ACKNOWLEDGED, S.SHELVED)
EXPIRE = (Trigger.EXPIRE_ACTIVE, S.SHELVED, S.UNACKNOWLEDGED)


def test_the_horn_sounds_for_an_unacknowledged_high_alarm_stops_at_ack_and_sounds_for_the_next() -> None:
    board = AlarmBoard()
    board.add([row("HP1.fault", 1, *RAISE)])
    first = banner(board.summaries())
    assert first.horn == ["doublet/HP1.fault@2026-01-10T08:00:00+00:00"]
    assert first.standing == {"high": 1, "medium": 0, "low": 0}
    assert first.unacknowledged["high"] == 1
    board.add([row("HP1.fault", 2, *ACK, minute=1, user="olga")])
    acked = banner(board.summaries())
    assert acked.horn == [] and acked.standing["high"] == 1 and acked.unacknowledged["high"] == 0
    board.add([row("HP1.fault", 3, *SHELVE, minute=2, user="olga", text="pump swap")])
    shelved = banner(board.summaries())
    assert shelved.horn == [] and shelved.standing["high"] == 0 and shelved.shelved == 1
    board.add([row("HP1.fault", 4, *EXPIRE, minute=3)])
    back = banner(board.summaries())
    # the shelf ran out: a new annunciation, a new key, so the horn sounds again
    assert back.horn == ["doublet/HP1.fault@2026-01-10T08:03:00+00:00"]


def test_the_horn_sounds_until_every_unacknowledged_high_alarm_of_a_trip_is_acknowledged() -> None:
    board = AlarmBoard()
    # a trip and its consequence: both high, both unacknowledged
    board.add([row("HP1.fault", 1, *RAISE), row("NET.supply_low", 1, *RAISE, minute=1)])
    both = banner(board.summaries())
    assert [alarm_of(key) for key in both.horn] == ["doublet/HP1.fault", "doublet/NET.supply_low"]
    board.add([row("HP1.fault", 2, *ACK, minute=2, user="olga")])
    one_left = banner(board.summaries())
    assert [alarm_of(key) for key in one_left.horn] == ["doublet/NET.supply_low"]
    # the consequence returns to normal unacknowledged: still an alarm nobody acknowledged
    board.add([row("NET.supply_low", 2, Trigger.CLEAR, S.UNACKNOWLEDGED, S.RTN_UNACKNOWLEDGED,
                   minute=3, active=False)])
    assert [alarm_of(key) for key in banner(board.summaries()).horn] == ["doublet/NET.supply_low"]
    board.add([row("NET.supply_low", 3, Trigger.ACK, S.RTN_UNACKNOWLEDGED, S.NORMAL, minute=4,
                   user="olga", active=False)])
    assert banner(board.summaries()).horn == []


def test_medium_and_low_alarms_are_counted_but_never_sound() -> None:
    board = AlarmBoard()
    board.add([row("F1.filter_dp", 1, *RAISE, priority=Priority.LOW),
               row("NET.makeup_share", 1, *RAISE, priority=Priority.MEDIUM)])
    figures = banner(board.summaries())
    assert figures.horn == []
    assert figures.standing == {"high": 0, "medium": 1, "low": 1}


def test_rows_in_any_order_and_twice_give_the_same_summary() -> None:
    rows = [row("HP1.fault", 1, *RAISE), row("HP1.fault", 2, *ACK, minute=1, user="olga"),
            row("HP1.fault", 3, Trigger.CLEAR, S.ACKNOWLEDGED, S.NORMAL, minute=5,
                active=False)]
    ordered, shuffled = AlarmBoard(), AlarmBoard()
    ordered.add(rows)
    shuffled.add([rows[2]])
    shuffled.add([rows[0], rows[2], rows[1]])
    assert ordered.summaries() == shuffled.summaries()
    (item,) = ordered.summaries()
    assert item.state is S.NORMAL and item.acknowledged_by == "olga"
    assert item.raised == T0 and item.cleared == T0 + timedelta(minutes=5)


def test_the_board_keeps_the_last_annunciation_and_a_bounded_tail() -> None:
    board = AlarmBoard()
    board.add([row("HP1.fault", 1, *RAISE)])
    board.add([row("HP1.fault", seq, Trigger.COMMENT, S.UNACKNOWLEDGED, S.UNACKNOWLEDGED,
                   user="olga", text=f"note {seq}") for seq in range(2, 600)])
    (item,) = board.summaries()
    assert item.raised == T0 and item.text == "note 599"
    assert len(board._rows[("doublet", "HP1.fault")]) <= 201


def test_summaries_are_limited_to_the_stations_asked_for() -> None:
    board = AlarmBoard()
    board.add([row("HP1.fault", 1, *RAISE), row("HP1.fault", 1, *RAISE, station="school")])
    assert [s.station for s in board.summaries(["school"])] == ["school"]


def test_the_table_puts_unacknowledged_first_then_priority_and_filters() -> None:
    board = AlarmBoard()
    board.add([row("F1.filter_dp", 1, *RAISE, priority=Priority.LOW, minute=5),
               row("HP1.fault", 1, *RAISE), row("HP1.fault", 2, *ACK, user="olga"),
               row("NET.makeup_share", 1, *RAISE, priority=Priority.MEDIUM, minute=1),
               row("HP2.fault", 1, *RAISE, minute=2),
               row("HP2.fault", 2, Trigger.CLEAR, S.UNACKNOWLEDGED, S.RTN_UNACKNOWLEDGED,
                   minute=3, active=False),
               row("HP2.fault", 3, Trigger.ACK, S.RTN_UNACKNOWLEDGED, S.NORMAL, minute=4,
                   active=False, user="olga")])
    shown = [s.alarm for s in table(board.summaries(), AlarmFilter())]
    assert shown == ["NET.makeup_share", "F1.filter_dp", "HP1.fault"]
    everything = [s.alarm for s in table(board.summaries(), AlarmFilter(everything=True))]
    assert everything[-1] == "HP2.fault"
    assert [s.alarm for s in table(board.summaries(), AlarmFilter(priority="low"))] == [
        "F1.filter_dp"]
    assert [s.alarm for s in table(board.summaries(), AlarmFilter(text="MAKEUP"))] == [
        "NET.makeup_share"]
    assert [s.alarm for s in table(board.summaries(), AlarmFilter(state="acknowledged"))] == [
        "HP1.fault"]


def test_horn_key_names_the_annunciation() -> None:
    board = AlarmBoard()
    board.add([row("HP1.fault", 1, *RAISE, minute=7)])
    (item,) = board.summaries()
    assert horn_key(item) == "doublet/HP1.fault@2026-01-10T08:07:00+00:00"
    assert alarm_of(horn_key(item)) == "doublet/HP1.fault"


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0), ("90 s", 90.0), ("15 min", 900.0), ("15m", 900.0), ("2h", 7200.0),
    ("1h 30m", 5400.0), ("1.5 h", 5400.0), (" 10 seconds ", 10.0), ("3 MIN", 180.0),
])
def test_shelving_times_an_operator_types(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5 min", "0", "0 s", "5 days", "1e9", "15 min;",
                                  "h", "9" * 40, "NaN", "inf"])
def test_malformed_shelving_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="shelving time"):
        parse_duration(text)


def test_suppressed_alarms_are_listed_only_when_asked_for() -> None:
    board = AlarmBoard()
    board.add([row("HP1.cop_low", 1, Trigger.SUPPRESS, S.NORMAL, S.SUPPRESSED,
                   priority=Priority.MEDIUM, active=False),
               row("HP2.fault", 1, *RAISE), row("HP2.fault", 2, *ACK, user="olga"),
               row("HP2.fault", 3, Trigger.SHELVE, S.ACKNOWLEDGED, S.SHELVED, user="olga",
                   text="swap")])
    assert [s.alarm for s in table(board.summaries(), AlarmFilter())] == ["HP2.fault"]
    assert [s.alarm for s in table(board.summaries(), AlarmFilter(state="suppressed"))] == [
        "HP1.cop_low"]
    assert len(table(board.summaries(), AlarmFilter(everything=True))) == 2
