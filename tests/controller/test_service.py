"""The controller as a process against the simulated school, its gateway, a broker, the
historian and PostgreSQL: faults in the physics raise exactly their alarms, on the right
equipment, after their delays; the historian stores every transition once; a kill -9 of the
controller loses nothing and raises nothing twice; operators act by name.

Judged from outside: the historian's tables (plain SQL) and ``geoscada alarms list``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from controller.service import load_alarm_settings
from geoscada.services import Mosquitto
from tests.controller.procs import SCHOOL, ControllerProcess, HistorianProcess, alarms_cli
from tests.gateway.procs import GatewayProcess, SimProcess

STATION = "deep-borehole-school"
FILTER_DELAY_S = 8.0
"""The filter alarm's on-delay here (60 s by default), so the test can watch it run out."""
MAKEUP_WINDOW_S = 60.0
SETTINGS = {STATION: {
    "F-S1.filter_dp": {"on_delay_s": FILTER_DELAY_S},
    # the make-up share over a minute (1 h by default): a short test has short history
    "NET.makeup_share": {"params": {"window_s": MAKEUP_WINDOW_S, "min_coverage": 0.5,
                                    "min_volume_m3": 0.3}},
}}


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _rows(dsn: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            return conn.execute(query.encode(), params).fetchall()
    except psycopg.errors.UndefinedTable:  # the historian has not made its schema yet
        return []


def _journal(dsn: str) -> list[tuple[str, int, str, str, datetime, str, str, str]]:
    """(alarm, seq, trigger, state, time, user, state before, text) of every alarm row."""
    return [(r[0], int(r[1]), r[2], r[3], r[4], r[5], r[6], r[7]) for r in _rows(
        dsn, "SELECT data->>'alarm', (data->>'seq')::int, data->>'trigger', data->>'state',"
             " time, data->>'user', data->>'from_state', data->>'text' FROM events"
             " WHERE kind = 'alarm' AND station = %s"
             " ORDER BY data->>'alarm', (data->>'seq')::int", STATION)]


def _annunciated(dsn: str) -> list[tuple[str, datetime]]:
    """Rows that put an alarm in front of the operator (into unacknowledged from elsewhere)."""
    return [(alarm, t) for alarm, _, _, state, t, _, before, _ in _journal(dsn)
            if state == "unacknowledged" and before != "unacknowledged"]


def _first_above(dsn: str, point: str, limit: float) -> datetime | None:
    found = _rows(dsn, "SELECT min(s.time) FROM samples s JOIN points p ON p.id = s.point_id"
                       " WHERE p.station = %s AND p.name = %s AND s.value > %s",
                  STATION, point, limit)
    return found[0][0] if found else None


@pytest.mark.parametrize("postgres", ["timescaledb"], indirect=True)
def test_faults_raise_their_alarms_once_through_a_kill_of_the_controller(
        tmp_path: Path, database: str) -> None:
    with ExitStack() as cleanup:
        broker = Mosquitto(tmp_path / "mq")
        broker.start()
        cleanup.callback(broker.stop)
        sim = SimProcess(tmp_path / "sim", SCHOOL)
        cleanup.callback(sim.stop)
        historian = HistorianProcess(tmp_path / "hist", broker.url, database)
        cleanup.callback(historian.stop)
        gateway = GatewayProcess(tmp_path / "gw", broker.port, sim.endpoints_file, SCHOOL)
        cleanup.callback(gateway.stop)
        controller = ControllerProcess(tmp_path / "ctl", broker.url, database, [SCHOOL],
                                       SETTINGS)
        cleanup.callback(controller.stop)

        # a fault-free stretch: the stream reaches the database, the controller judges it,
        # the make-up share as soon as there is enough history (before, it says so: quality
        # rows, never an alarm)
        _wait(lambda: ("NET.makeup_share", "quality_good") in [(r[0], r[2]) for r in _journal(
            database)], 90, "the make-up share judged on good history")
        assert _annunciated(database) == []

        # the unit trips: its fault alarm (no delay) on HP1, high priority
        tripped_at = datetime.now().astimezone()
        sim.request("POST", f"/stations/{STATION}/faults",
                    {"kind": "heat_pump_trip", "target": "HP1"})
        _wait(lambda: [a for a, _ in _annunciated(database) if a == "HP1.fault"], 20,
              "HP1.fault in the historian")
        raised = dict(_annunciated(database))["HP1.fault"]
        assert raised - tripped_at < timedelta(seconds=5)

        # the loop starts leaking and the source strainer fouls; the controller is killed
        # while the filter alarm's delay runs
        leaking_at = datetime.now().astimezone()
        sim.request("POST", f"/stations/{STATION}/faults",
                    {"kind": "makeup_leak", "target": "WT1", "rate": 1.0})
        fouling = sim.request("POST", f"/stations/{STATION}/faults",
                              {"kind": "filter_fouling", "target": "F-S1", "rate": 400.0})
        alarm_kpa = 30.0
        crossed = _wait(lambda: _first_above(database, "F-S1.differential_pressure", alarm_kpa),
                        60, "the strainer's ΔP above its alarm value")
        time.sleep(FILTER_DELAY_S / 2)
        controller.kill()
        time.sleep(2.0)
        controller.restart()
        _wait(lambda: [a for a, _ in _annunciated(database) if a == "F-S1.filter_dp"], 40,
              "F-S1.filter_dp in the historian")
        # backwashed once alarmed (before its ΔP leaves the transmitter's range)
        sim.request("DELETE", f"/stations/{STATION}/faults/{fouling['id']}")
        # the make-up share comes from the historian's history (no delay): 1 m³/h of about
        # 27 m³/h circulated crosses 1 % within the first half of the one-minute window
        _wait(lambda: [a for a, _ in _annunciated(database) if a == "NET.makeup_share"], 60,
              "NET.makeup_share in the historian")
        assert dict(_annunciated(database))["NET.makeup_share"] - leaking_at < timedelta(
            seconds=60)
        raised = dict(_annunciated(database))["F-S1.filter_dp"]
        # its on-delay counted from the first sample above the limit, kept across the kill
        # (the evaluation runs each second, the restart costs its start-up)
        assert timedelta(seconds=FILTER_DELAY_S) <= raised - crossed
        assert raised - crossed < timedelta(seconds=FILTER_DELAY_S + 15)

        # an operator acknowledges the trip by name; a shelf without a reason is refused
        state_dir = str(controller.state_dir)
        code, answer, _ = alarms_cli("ack", "--state-dir", state_dir, "--station", STATION,
                                     "--alarm", "HP1.fault", "--user", "li.wei")
        assert code == 0 and answer == [{"ok": True, "state": "acknowledged"}]
        code, answer, _ = alarms_cli("shelve", "--state-dir", state_dir, "--station", STATION,
                                     "--alarm", "F-S1.filter_dp", "--user", "li.wei",
                                     "--duration", "600")
        assert code == 1 and "reason is required" in answer[0]["error"]
        _wait(lambda: [r for r in _journal(database) if r[2] == "ack"], 20, "the ack stored")
        time.sleep(3.0)

        journal = _journal(database)
        # no input was ever missing: the controller (also after the restart) waits for a
        # sample of every point before judging the stream (the fouled strainer's ΔP may leave
        # its range, and the rules with too little history say so: those are not missing)
        assert [r for r in journal if r[2] == "quality_bad" and "no sample" in r[7]] == []
        # exactly the expected alarms, once each
        assert sorted(a for a, _ in _annunciated(database)) == [
            "F-S1.filter_dp", "HP1.fault", "NET.makeup_share"]
        # nothing lost: every alarm's rows are numbered 1..n without a gap
        by_alarm: dict[str, list[int]] = {}
        for alarm, seq, *_ in journal:
            by_alarm.setdefault(alarm, []).append(seq)
        for alarm, seqs in by_alarm.items():
            assert seqs == list(range(1, len(seqs) + 1)), alarm
        assert ("HP1.fault", 2, "ack", "acknowledged") in [r[:4] for r in journal]
        assert [r[5] for r in journal if r[2] == "ack"] == ["li.wei"]

        code, listed, errors = alarms_cli("list", "--db", database, "--station", STATION,
                                          "--active", "--format", "json")
        assert code == 0, errors
        shown = {item["alarm"]: item for item in listed}
        assert set(shown) == {"F-S1.filter_dp", "HP1.fault", "NET.makeup_share"}
        assert shown["NET.makeup_share"]["equipment"] == "NET"
        assert shown["HP1.fault"]["equipment"] == "HP1"
        assert shown["HP1.fault"]["state"] == "acknowledged"
        assert shown["HP1.fault"]["acknowledged_by"] == "li.wei"
        assert shown["HP1.fault"]["priority"] == "high"
        assert shown["F-S1.filter_dp"]["equipment"] == "F-S1"
        assert shown["F-S1.filter_dp"]["rule"] == "filter_dp"
        # the backwash cleared it; nobody acknowledged it yet
        assert shown["F-S1.filter_dp"]["state"] == "rtn_unacknowledged"
        assert shown["F-S1.filter_dp"]["cleared"] is not None


def test_alarm_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"a\.yaml: s\.F-S1\.filter_dp\.on_delay: Extra inputs"):
        load_alarm_settings({"s": {"F-S1.filter_dp": {"on_delay": 5}}}, "a.yaml")
    with pytest.raises(ValueError, match=r"a\.yaml: alarm settings must map station ids"):
        load_alarm_settings(["s"], "a.yaml")
    loaded = load_alarm_settings({"s": {"filter_dp": {"on_delay_s": 5}}}, "a.yaml")
    assert loaded["s"]["filter_dp"].on_delay_s == 5
