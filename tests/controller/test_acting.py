"""Acting on a live station, as pure cycles: take-over, blindness, hand-back, answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.acting import StationActing, Written
from controller.commander import Commander, Signer
from controller.holds import Hold
from controller.service import Controller, ControllerSettings
from controller.staging import UnitRecord, hold_out
from controller.supervisor import StagingSupervisor
from plant.contract import CommandAck, Outcome, Quality, Sample
from plant.site import Site, Staging, parse_site
from plant.supervision import Setpoint
from runtime.mqtt import BrokerSettings
from tests.controller.procs import DOUBLET
from tests.e2e.rig import SITE as SMALL

UNITS = ("HP2-1", "HP2-2", "HP3-1", "HP3-2")
T0 = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
TIMEOUT_S = 60.0
CYCLE_S = 10.0


def _site(**station: Any) -> Site:
    data = yaml.safe_load(DOUBLET.read_text())
    data["station"]["supervision"] = {"heartbeat_timeout_s": TIMEOUT_S}
    data["station"]["staging"] = {"cycle_s": CYCLE_S}
    data["station"].update(station)
    return parse_site(yaml.safe_dump(data), "doublet")


SITE = _site()


def _acting() -> StationActing:
    params = SITE.station.staging
    assert params is not None
    return StationActing(SITE, StagingSupervisor(SITE, params), "ctl", "boot")


def _samples(at: datetime, running: Mapping[str, bool], remote: Mapping[str, bool] | None = None,
             commanded: Mapping[str, bool] | None = None) -> dict[str, Sample]:
    samples: dict[str, Sample] = {}
    for unit in UNITS:
        on = running.get(unit, False)
        samples[f"{unit}.run_state"] = Sample(p=f"{unit}.run_state", t=at, v=on)
        samples[f"{unit}.run_command"] = Sample(
            p=f"{unit}.run_command", t=at, v=(commanded or running).get(unit, False))
        samples[f"{unit}.remote_mode"] = Sample(p=f"{unit}.remote_mode", t=at,
                                                v=(remote or {}).get(unit, False))
        samples[f"{unit}.fault"] = Sample(p=f"{unit}.fault", t=at, v=False)
    samples["NET.heartbeat"] = Sample(p="NET.heartbeat", t=at, v=0)
    return samples


def _points(writes: list[Setpoint]) -> dict[str, object]:
    return {w.point: w.value for w in writes}


def _own(acting: StationActing, writes: list[Setpoint], at: datetime) -> None:
    """The gateway confirms every write at ``at``."""
    for write in writes:
        acting.answered(Written(SITE.station.id, write.point, write.value, at),
                        CommandAck(id="x", point=write.point, outcome=Outcome.DONE,
                                   readback=write.value, t=at))


RUNNING = {"HP2-1": True, "HP2-2": True}


def test_first_cycle_takes_every_unit_as_it_runs() -> None:
    acting = _acting()
    writes, events = acting.cycle(_samples(T0, RUNNING), True, T0, T0, frozenset())
    points = _points(writes)
    assert {u: points[f"{u}.run_command"] for u in UNITS} == \
        {u: RUNNING.get(u, False) for u in UNITS}
    assert all(points[f"{u}.remote_mode"] is True for u in UNITS)
    assert "NET.heartbeat" in points
    [event] = [e for e in events if e.data["condition"] == "take-over"]
    assert event.data["values"]["units"] == {u: RUNNING.get(u, False) for u in UNITS}
    assert event.kind == "decision" and event.id == "staging-boot#1"


def test_a_unit_whose_command_differs_from_its_state_keeps_its_command() -> None:
    acting = _acting()
    commanded = {**RUNNING, "HP3-1": True}  # commanded, still starting
    writes, _ = acting.cycle(_samples(T0, RUNNING, commanded=commanded), True, T0, T0,
                             frozenset())
    assert _points(writes)["HP3-1.run_command"] is True


@pytest.mark.parametrize(("alive", "drop"), [(False, None), (True, "HP3-2.run_state"),
                                             (True, "NET.heartbeat")])
def test_blind_writes_nothing_not_even_the_heartbeat(alive: bool, drop: str | None) -> None:
    acting = _acting()
    samples = _samples(T0, RUNNING)
    if drop is not None:
        samples[drop] = samples[drop].model_copy(update={"v": None, "q": Quality.BAD})
    writes, events = acting.cycle(samples, alive, T0, T0, frozenset())
    assert writes == []
    assert [e.data["condition"] for e in events] == ["blind"]
    again, repeated = acting.cycle(samples, alive, T0, T0 + timedelta(seconds=CYCLE_S),
                                   frozenset())
    assert again == [] and repeated == []  # said once
    seeing, told = acting.cycle(_samples(T0, RUNNING), True, T0,
                                T0 + timedelta(seconds=2 * CYCLE_S), frozenset())
    assert [e.data["condition"] for e in told][:2] == ["seeing", "take-over"]
    assert _points(seeing)["HP2-1.run_command"] is True


def test_a_unit_handed_back_is_taken_over_again_as_the_local_logic_left_it() -> None:
    acting = _acting()
    writes, _ = acting.cycle(_samples(T0, RUNNING), True, T0, T0, frozenset())
    confirmed = T0 + timedelta(seconds=1)
    _own(acting, writes, confirmed)
    later = T0 + timedelta(seconds=CYCLE_S)
    steady, events = acting.cycle(_samples(later, RUNNING, dict.fromkeys(UNITS, True)), True,
                                  later, later, frozenset())
    assert not any(p.endswith(".run_command") or p.endswith(".remote_mode")
                   for p in _points(steady))
    assert not [e for e in events if e.data["condition"] == "take-over"]
    # the station's watchdog handed everything back; its local logic then started HP3-1
    local = {**RUNNING, "HP3-1": True}
    then = later + timedelta(seconds=CYCLE_S)
    writes, events = acting.cycle(_samples(then, local), True, then, then, frozenset())
    points = _points(writes)
    assert {u: points[f"{u}.run_command"] for u in UNITS} == \
        {u: local.get(u, False) for u in UNITS}
    assert all(points[f"{u}.remote_mode"] is True for u in UNITS)
    assert [e.data["condition"] for e in events if e.data["condition"] == "take-over"]


def test_a_remote_mode_read_before_the_write_was_confirmed_is_not_a_hand_back() -> None:
    acting = _acting()
    writes, _ = acting.cycle(_samples(T0, RUNNING), True, T0, T0, frozenset())
    _own(acting, writes, T0 + timedelta(seconds=2))
    later = T0 + timedelta(seconds=CYCLE_S)
    old = _samples(T0 + timedelta(seconds=1), RUNNING)  # polled before the write landed
    again, _ = acting.cycle(old, True, later, later, frozenset())
    assert not any(p.endswith(".remote_mode") for p in _points(again))


def test_after_a_silence_longer_than_the_timeout_it_waits_for_current_readings() -> None:
    acting = _acting()
    writes, _ = acting.cycle(_samples(T0, RUNNING), True, T0, T0, frozenset())
    _own(acting, writes, T0)
    thawed = T0 + timedelta(seconds=TIMEOUT_S + 5)
    stale = _samples(T0, RUNNING, dict.fromkeys(UNITS, True))
    none, events = acting.cycle(stale, True, T0, thawed, frozenset())
    assert none == []
    assert [e.data["condition"] for e in events] == ["silent", "blind"]
    local = {"HP2-1": True}
    fresh = _samples(thawed, local)
    writes, events = acting.cycle(fresh, True, thawed, thawed + timedelta(seconds=1),
                                  frozenset())
    points = _points(writes)
    assert points["HP2-2.run_command"] is False and points["HP2-1.run_command"] is True
    assert all(points[f"{u}.remote_mode"] is True for u in UNITS)


def test_a_held_out_unit_is_neither_taken_nor_commanded_and_taken_as_it_runs_when_released(
        ) -> None:
    acting = _acting()
    by_hand = {**RUNNING, "HP3-1": True}
    held = {"HP3-1": Hold(held=True, user="li.na", role="engineer", at=T0, text="oil change")}
    writes, events = acting.cycle(_samples(T0, by_hand), True, T0, T0, frozenset(), holds=held)
    points = _points(writes)
    assert "HP3-1.run_command" not in points and "HP3-1.remote_mode" not in points
    assert points["HP2-1.remote_mode"] is True
    [told] = [e.data for e in events if e.data["condition"] == "held-out"]
    assert told["values"] == {"unit": "HP3-1", "user": "li.na", "role": "engineer"}
    assert told["text"] == "HP3-1 held out of automatic staging by li.na (engineer): oil change"
    _own(acting, writes, T0)
    later = T0 + timedelta(seconds=CYCLE_S)
    remote = {u: u != "HP3-1" for u in UNITS}
    released = {"HP3-1": Hold(held=False, user="wang.wei", role="admin", at=later)}
    writes, events = acting.cycle(_samples(later, by_hand, remote), True, later, later,
                                  frozenset(), holds=released)
    points = _points(writes)
    assert points["HP3-1.run_command"] is True and points["HP3-1.remote_mode"] is True
    assert {e.data["condition"] for e in events} >= {"released", "take-over"}
    [told] = [e.data for e in events if e.data["condition"] == "released"]
    assert told["text"] == "HP3-1 released to automatic staging by wang.wei (admin)"
    assert told["values"] == {"unit": "HP3-1", "user": "wang.wei", "role": "admin"}


def test_a_hold_no_longer_on_record_releases_the_unit_and_says_so() -> None:
    acting = _acting()
    held = {"HP3-1": Hold(held=True, user="li.na", at=T0)}  # recorded before roles were kept
    writes, events = acting.cycle(_samples(T0, RUNNING), True, T0, T0, frozenset(), holds=held)
    assert [e.data["text"] for e in events if e.data["condition"] == "held-out"] == \
        ["HP3-1 held out of automatic staging by li.na"]
    _own(acting, writes, T0)
    later = T0 + timedelta(seconds=CYCLE_S)
    _, events = acting.cycle(_samples(later, RUNNING), True, later, later, frozenset())
    assert [e.data["text"] for e in events if e.data["condition"] == "released"] == \
        ["HP3-1 released to automatic staging: no hold of it is recorded any more"]


def test_no_second_write_to_a_point_while_one_is_in_flight() -> None:
    acting = _acting()
    writes, _ = acting.cycle(_samples(T0, RUNNING), True, T0, T0,
                             frozenset({"NET.heartbeat", "HP2-1.remote_mode"}))
    points = _points(writes)
    assert "NET.heartbeat" not in points and "HP2-1.remote_mode" not in points
    assert points["HP2-2.remote_mode"] is True


def test_a_refused_write_is_an_event_and_a_run_command_not_carried_out_is_written_again() -> None:
    acting = _acting()
    writes, _ = acting.cycle(_samples(T0, RUNNING), True, T0, T0, frozenset())
    answered = T0 + timedelta(seconds=1)
    _own(acting, [w for w in writes if w.point != "HP2-2.run_command"], answered)
    event = acting.answered(Written(SITE.station.id, "HP2-2.run_command", True, T0),
                            CommandAck(id="y", point="HP2-2.run_command",
                                       outcome=Outcome.FAILED, reason="write_failed: timeout",
                                       t=answered))
    assert event is not None and event.data["condition"] == "write-failed"
    assert "write_failed" in event.data["text"]
    again = acting.answered(Written(SITE.station.id, "HP2-2.run_command", True, T0),
                            CommandAck(id="z", point="HP2-2.run_command",
                                       outcome=Outcome.FAILED, reason="write_failed: timeout",
                                       t=answered))
    assert again is None  # the same failure is said once
    later = T0 + timedelta(seconds=CYCLE_S)
    stopped = {"HP2-1": True}  # HP2-2 tripped off its command meanwhile? the stream says off
    samples = _samples(later, stopped, dict.fromkeys(UNITS, True), commanded=stopped)
    writes, _ = acting.cycle(samples, True, later, later, frozenset({"HP2-1.run_command"}))
    assert _points(writes).get("HP2-2.run_command") is True


def test_staging_needs_a_watchdog_and_a_cycle_well_inside_it() -> None:
    small = yaml.safe_load(SMALL.read_text())

    def parsed(**station: Any) -> Site:
        data = {**small, "station": {**small["station"], **station}}
        return parse_site(yaml.safe_dump(data), "small")

    with pytest.raises(ValueError, match="staging needs supervision"):
        parsed(staging={})
    with pytest.raises(ValueError, match="more than half"):
        parsed(staging={"cycle_s": 40.0}, supervision={"heartbeat_timeout_s": TIMEOUT_S})
    assert parsed(staging={}, supervision={"heartbeat_timeout_s": 20}).station.staging
    assert Staging().cycle_s == 10.0


def test_a_controller_without_a_signing_key_refuses_a_station_it_should_stage(
        tmp_path: Path) -> None:
    settings = ControllerSettings(sites=(SITE,), broker=BrokerSettings(host="127.0.0.1",
                                                                       port=1),
                                  db="postgresql://none", state_dir=tmp_path)
    with pytest.raises(ValueError, match="signing key"):
        Controller(settings)


def test_staging_state_survives_a_restart_without_its_requirement(tmp_path: Path) -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    first = Commander((SITE,), signer, tmp_path, "ctl")
    state = first.stations[SITE.station.id].acting.supervisor.state
    hold_out(state, "HP3-2", True)
    state.units.setdefault("HP2-1", UnitRecord()).lifetime_runtime_s = 3600.0
    state.requirement = [(1.0, 500.0)]
    first.save(SITE.station.id)
    again = Commander((SITE,), signer, tmp_path, "ctl").stations[SITE.station.id]
    loaded = again.acting.supervisor.state
    assert loaded.units["HP3-2"].held_out and loaded.units["HP2-1"].lifetime_runtime_s == 3600
    assert loaded.requirement == []
