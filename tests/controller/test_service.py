"""The controller as a process against two simulated stations, their gateways, a broker, the
historian and PostgreSQL: six faults in the physics raise exactly their alarms, on the right
equipment, after their delays, a silent device's root-cause alarm first with its consequences
suppressed; the historian stores every transition once; a kill -9 of the controller loses
nothing and raises nothing twice; operators act by name.

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
from tests.controller.procs import (
    DOUBLET,
    SCHOOL,
    ControllerProcess,
    HistorianProcess,
    StationsSim,
    alarms_cli,
    alarms_only,
)
from tests.gateway.procs import GatewayProcess

STATION = "deep-borehole-school"
OTHER = "hydrothermal-doublet"
FILTER_DELAY_S = 8.0
"""The filter alarm's on-delay here (60 s by default), so the test can watch it run out."""
# the make-up share over a minute (1 h by default): a short test has short history
SHORT_MAKEUP = {"params": {"window_s": 60.0, "min_coverage": 0.5, "min_volume_m3": 0.3}}
SETTINGS = {
    STATION: {"F-S1.filter_dp": {"on_delay_s": FILTER_DELAY_S},
              "NET.makeup_share": SHORT_MAKEUP},
    OTHER: {"NET.makeup_share": SHORT_MAKEUP},
}
INSTRUMENT_DELAY_S = 10.0
"""The documented on-delay of instrument and device-communication alarms."""


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


Row = tuple[str, int, str, str, datetime, str, str, str]


def _journal(dsn: str, station: str = STATION) -> list[Row]:
    """(alarm, seq, trigger, state, time, user, state before, text) of every alarm row."""
    return [(r[0], int(r[1]), r[2], r[3], r[4], r[5], r[6], r[7]) for r in _rows(
        dsn, "SELECT data->>'alarm', (data->>'seq')::int, data->>'trigger', data->>'state',"
             " time, data->>'user', data->>'from_state', data->>'text' FROM events"
             " WHERE kind = 'alarm' AND station = %s"
             " ORDER BY data->>'alarm', (data->>'seq')::int", station)]


def _annunciated(dsn: str, station: str = STATION) -> dict[str, datetime]:
    """Alarms put in front of the operator (into unacknowledged from elsewhere): first time."""
    found: dict[str, datetime] = {}
    for alarm, _, _, state, t, _, before, _ in _journal(dsn, station):
        if state == "unacknowledged" and before != "unacknowledged":
            found.setdefault(alarm, t)
    return found


def _shown(dsn: str, station: str, alarm: str) -> datetime | None:
    return _annunciated(dsn, station).get(alarm)


def _first_above(dsn: str, point: str, limit: float) -> datetime | None:
    found = _rows(dsn, "SELECT min(s.time) FROM samples s JOIN points p ON p.id = s.point_id"
                       " WHERE p.station = %s AND p.name = %s AND s.value > %s",
                  STATION, point, limit)
    return found[0][0] if found else None


def _judged(dsn: str, station: str) -> bool:
    return ("NET.makeup_share", "quality_good") in [(r[0], r[2]) for r in _journal(dsn, station)]


@pytest.mark.parametrize("postgres", ["timescaledb"], indirect=True)
def test_six_faults_on_two_stations_raise_their_alarms_once_through_a_kill(
        tmp_path: Path, database: str) -> None:
    with ExitStack() as cleanup:
        broker = Mosquitto(tmp_path / "mq")
        broker.start()
        cleanup.callback(broker.stop)
        sim = StationsSim(tmp_path / "sim", [SCHOOL, DOUBLET])
        cleanup.callback(sim.stop)
        historian = HistorianProcess(tmp_path / "hist", broker.url, database)
        cleanup.callback(historian.stop)
        for name, site in (("gw-school", SCHOOL), ("gw-doublet", DOUBLET)):
            gateway = GatewayProcess(tmp_path / name, broker.port, sim.endpoints_file, site)
            cleanup.callback(gateway.stop)
        # the alarms alone: staging the doublet live is tests/controller/test_acting_live.py's
        controller = ControllerProcess(tmp_path / "ctl", broker.url, database,
                                       [SCHOOL, alarms_only(DOUBLET, tmp_path / "sites")],
                                       SETTINGS)
        cleanup.callback(controller.stop)

        # a fault-free stretch: the streams reach the database, the controller judges them,
        # the make-up shares as soon as there is enough history (before, they say so:
        # quality rows, never an alarm)
        _wait(lambda: _judged(database, STATION) and _judged(database, OTHER), 120,
              "both make-up shares judged on good history")
        assert _annunciated(database, STATION) == {}
        assert _annunciated(database, OTHER) == {}

        # three faults on the doublet: the network's return sensor dies, a filter's ΔP
        # transmitter reads garbage, the heat-pump controller falls silent; and the school's
        # unit trips
        injected = datetime.now().astimezone()
        sim.fault(OTHER, {"kind": "sensor_dead", "target": "NET.return_temp"})
        sim.fault(OTHER, {"kind": "sensor_garbage", "target": "F-C1.differential_pressure"})
        sim.fault(OTHER, {"kind": "device_silent", "target": "hpc"})
        sim.fault(STATION, {"kind": "heat_pump_trip", "target": "HP1"})
        tripped = _wait(lambda: _shown(database, STATION, "HP1.fault"), 20,
                        "HP1.fault in the historian")
        assert tripped - injected < timedelta(seconds=5)

        # the school's loop starts leaking and its source strainer fouls; the controller is
        # killed while the filter alarm's delay runs
        leaking_at = datetime.now().astimezone()
        sim.fault(STATION, {"kind": "makeup_leak", "target": "WT1", "rate": 1.0})
        fouling = sim.fault(STATION, {"kind": "filter_fouling", "target": "F-S1", "rate": 400.0})
        crossed = _wait(lambda: _first_above(database, "F-S1.differential_pressure", 30.0),
                        60, "the strainer's ΔP above its alarm value (30 kPa)")
        time.sleep(FILTER_DELAY_S / 2)
        controller.kill()
        time.sleep(2.0)
        controller.restart()
        raised = _wait(lambda: _shown(database, STATION, "F-S1.filter_dp"), 40,
                       "F-S1.filter_dp in the historian")
        sim.clear(STATION, fouling)  # backwashed (before its ΔP leaves the transmitter's range)
        # its on-delay counted from the first sample above the limit (the evaluation runs
        # within 0.1 s of the data; the restart's start-up, on a busy machine several seconds,
        # may come on top)
        assert timedelta(seconds=FILTER_DELAY_S) <= raised - crossed
        assert raised - crossed < timedelta(seconds=FILTER_DELAY_S + 25)
        # the make-up share from the historian's history (no delay): 1 m³/h of about
        # 27 m³/h circulated crosses 1 % within the first half of the one-minute window
        made_up = _wait(lambda: _shown(database, STATION, "NET.makeup_share"), 60,
                        "NET.makeup_share in the historian")
        assert made_up - leaking_at < timedelta(seconds=60)

        # the doublet's alarms, each after its delay; the silent controller is one alarm, the
        # root cause, and the instrument alarms of the heat pumps behind it stay suppressed
        doublet = _annunciated(database, OTHER)
        for alarm in ("NET.instrument", "F-C1.instrument", "hpc.comm"):
            assert timedelta(seconds=INSTRUMENT_DELAY_S) <= doublet[alarm] - injected \
                < timedelta(seconds=INSTRUMENT_DELAY_S + 15), alarm
        behind = ("HP2-1.instrument", "HP2-2.instrument", "HP3-1.instrument", "HP3-2.instrument")
        suppressed = {r[0]: r[4] for r in _journal(database, OTHER) if r[2] == "suppress"}
        for alarm in behind:
            assert suppressed[alarm] >= doublet["hpc.comm"], alarm

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

        # exactly the expected alarms, once each
        assert sorted(_annunciated(database, STATION)) == [
            "F-S1.filter_dp", "HP1.fault", "NET.makeup_share"]
        assert sorted(_annunciated(database, OTHER)) == [
            "F-C1.instrument", "NET.instrument", "hpc.comm"]
        for station in (STATION, OTHER):
            journal = _journal(database, station)
            # nothing lost: every alarm's rows are numbered 1..n without a gap
            by_alarm: dict[str, list[int]] = {}
            for alarm, seq, *_ in journal:
                by_alarm.setdefault(alarm, []).append(seq)
            for alarm, seqs in by_alarm.items():
                assert seqs == list(range(1, len(seqs) + 1)), (station, alarm)
            # no input was ever missing: the controller (also after the restart) waits for a
            # sample of every point before judging a stream
            assert [r for r in journal if r[2] == "quality_bad" and "no sample" in r[7]] == []
        journal = _journal(database)
        assert ("HP1.fault", 2, "ack", "acknowledged") in [r[:4] for r in journal]
        assert [r[5] for r in journal if r[2] == "ack"] == ["li.wei"]

        code, listed, errors = alarms_cli("list", "--db", database, "--station", STATION,
                                          "--active", "--format", "json")
        assert code == 0, errors
        shown = {item["alarm"]: item for item in listed}
        assert set(shown) == {"F-S1.filter_dp", "HP1.fault", "NET.makeup_share"}
        assert shown["HP1.fault"]["equipment"] == "HP1"
        assert shown["HP1.fault"]["state"] == "acknowledged"
        assert shown["HP1.fault"]["acknowledged_by"] == "li.wei"
        assert shown["HP1.fault"]["priority"] == "high"
        assert shown["NET.makeup_share"]["equipment"] == "NET"
        assert shown["F-S1.filter_dp"]["equipment"] == "F-S1"
        assert shown["F-S1.filter_dp"]["rule"] == "filter_dp"
        # the backwash cleared it; nobody acknowledged it yet
        assert shown["F-S1.filter_dp"]["state"] == "rtn_unacknowledged"
        assert shown["F-S1.filter_dp"]["cleared"] is not None
        code, listed, errors = alarms_cli("list", "--db", database, "--station", OTHER,
                                          "--active", "--format", "json")
        assert code == 0, errors
        other = {item["alarm"]: item for item in listed}
        assert set(other) == {"F-C1.instrument", "NET.instrument", "hpc.comm"}
        assert (other["hpc.comm"]["equipment"], other["hpc.comm"]["priority"]) == ("hpc", "high")
        assert "NET.return_temp" in other["NET.instrument"]["text"]
        assert "F-C1.differential_pressure" in other["F-C1.instrument"]["text"]


def test_alarm_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"a\.yaml: s\.F-S1\.filter_dp\.on_delay: Extra inputs"):
        load_alarm_settings({"s": {"F-S1.filter_dp": {"on_delay": 5}}}, "a.yaml")
    with pytest.raises(ValueError, match=r"a\.yaml: alarm settings must map station ids"):
        load_alarm_settings(["s"], "a.yaml")
    loaded = load_alarm_settings({"s": {"filter_dp": {"on_delay_s": 5}}}, "a.yaml")
    assert loaded["s"]["filter_dp"].on_delay_s == 5
