"""One summary per alarm from its journal rows, as ``geoscada alarms list`` prints them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.alarms import AlarmSpec, Observation, Priority, State, acknowledge, new_status, step
from controller.journal import summaries

T0 = datetime(2027, 1, 10, 6, tzinfo=UTC)
SPEC = AlarmSpec(station="s", id="F-S1.filter_dp", equipment="F-S1", rule="filter_dp",
                 title="F-S1 clogging", priority=Priority.LOW)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_the_summary_follows_the_latest_occurrence() -> None:
    journal = []
    status = new_status(SPEC)
    for minutes, value in ((0, 40.0), (5, 20.0)):
        status, rows = step(status, SPEC, Observation(value=value, limit=30.0), _at(minutes))
        journal += rows
    status, rows = acknowledge(status, "li.wei", _at(6))
    journal += rows
    first = summaries(journal)
    assert len(first) == 1
    assert first[0].state is State.NORMAL
    assert (first[0].raised, first[0].cleared) == (_at(0), _at(5))
    assert (first[0].acknowledged_by, first[0].acknowledged) == ("li.wei", _at(6))
    status, rows = step(status, SPEC, Observation(value=45.0, limit=30.0), _at(9))
    journal += rows
    again = summaries(reversed(journal))[0]  # the order rows arrive in does not matter
    assert again.state is State.UNACKNOWLEDGED and again.active
    assert (again.raised, again.cleared, again.acknowledged_by) == (_at(9), None, None)
    assert (again.equipment, again.rule, again.priority) == ("F-S1", "filter_dp", "low")
