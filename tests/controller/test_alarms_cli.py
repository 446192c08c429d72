"""``geoscada alarms list`` and ``kpi`` on a journal the historian stored, worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from controller import alarms_cli
from controller.alarms import AlarmRecord, AlarmSpec, Observation, Priority, new_status, step
from historian.decode import StationMessage
from historian.store import Inbound, Store
from plant.contract import Event, Topic, topic

T0 = datetime(2027, 1, 10, 6, tzinfo=UTC)


def _spec(alarm: str, priority: Priority = Priority.LOW) -> AlarmSpec:
    return AlarmSpec(station="s", id=alarm, equipment=alarm.partition(".")[0], rule="filter_dp",
                     title=f"{alarm} clogging", priority=priority)


def _journal() -> list[AlarmRecord]:
    """F1 chatters: three annunciations within 40 s; F2 raised once and still standing."""
    rows: list[AlarmRecord] = []
    chatter, steady = _spec("F1.filter_dp"), _spec("F2.filter_dp", Priority.HIGH)
    status = new_status(chatter)
    for second, value in ((0, 40.0), (10, 20.0), (20, 40.0), (30, 20.0), (40, 40.0)):
        status, done = step(status, chatter, Observation(value=value, limit=30.0),
                            T0 + timedelta(seconds=second))
        rows += done
    rows += step(new_status(steady), steady, Observation(value=50.0, limit=30.0),
                 T0 + timedelta(seconds=5))[1]
    return rows


def _store(dsn: str, rows: list[AlarmRecord]) -> None:
    store = Store(dsn)
    store.connect()
    try:
        store.write([Inbound(topic(r.station, Topic.EVENT), b"",
                             StationMessage(r.station, r.to_event("ctl")))
                     for r in rows])
        # a row no controller wrote is refused by id, never taken for an alarm
        store.write([Inbound(topic("s", Topic.EVENT), b"", StationMessage("s", Event(
            station="s", id="X#1", t=T0, kind="alarm", source="x", data={"alarm": "X"})))])
    finally:
        store.close()


@pytest.mark.parametrize("postgres", ["postgres"], indirect=True)
def test_list_and_kpi_from_the_stored_journal(database: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _store(database, _journal())
    assert alarms_cli.main(["list", "--db", database, "--station", "s", "--active"]) == 0
    out, err = capsys.readouterr()
    listed = {item["alarm"]: item for item in map(json.loads, out.splitlines())}
    assert "X#1" in err and "lacks" in err
    assert set(listed) == {"F1.filter_dp", "F2.filter_dp"}
    assert listed["F1.filter_dp"]["raised"] == (T0 + timedelta(seconds=40)).isoformat(
        ).replace("+00:00", "Z")
    assert listed["F2.filter_dp"]["priority"] == "high"
    assert listed["F2.filter_dp"]["equipment"] == "F2"

    # --since keeps the alarms with a row since then: F2 was last journaled at 5 s
    assert alarms_cli.main(["list", "--db", database, "--since", "2027-01-10T06:00:20Z"]) == 0
    out, _ = capsys.readouterr()
    assert [json.loads(line)["alarm"] for line in out.splitlines()] == ["F1.filter_dp"]

    assert alarms_cli.main(["kpi", "--db", database, "--since", "2027-01-10T06:00:00Z",
                            "--until", "2027-01-10T06:10:00Z"]) == 0
    out, _ = capsys.readouterr()
    (figures,) = map(json.loads, out.splitlines())
    assert figures["position"] == "s"
    assert figures["alarms"] == 4  # F1 three times, F2 once
    assert figures["chattering"] == ["F1.filter_dp"]
    assert figures["chattering_count"]["meets"] is False
    assert figures["per_10min_peak"] == 4
    assert figures["bad_actors"][0] == {"alarm": "F1.filter_dp", "count": 3}
    assert figures["priority_share"]["high"]["value"] == pytest.approx(0.25)
    assert figures["thresholds"]["chatter_count"] == 3


def test_a_period_that_ends_before_it_starts_is_refused(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    code = alarms_cli.main(["kpi", "--db", "postgresql://nobody@127.0.0.1:1/x",
                            "--since", "2027-01-10T07:00:00Z", "--until", "2027-01-10T06:00:00Z"])
    assert code == 2
    assert "--since must be before --until" in capsys.readouterr().err
