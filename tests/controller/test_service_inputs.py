"""Bad input never crashes the controller and is logged once; retained data is never acted on.

The controller runs in process against a private broker; a test client plays the gateway.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller import alarms_cli
from controller.actions import AlarmAction
from controller.service import Controller, ControllerSettings, pending_events
from geoscada.services import Mosquitto
from plant.contract import DataBatch, Sample, Topic, topic
from plant.site import load_site
from runtime.mqtt import BrokerSettings
from simulator.sim import StationSim
from tests.controller.procs import SCHOOL
from tests.gateway.mqtt_helpers import Collector

SITE = load_site(SCHOOL)
STATION = SITE.station.id


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    instance = Mosquitto(tmp_path / "broker")
    instance.start()
    yield instance
    instance.stop()


def _readings(fault: bool) -> bytes:
    """Every point of the school as the simulator reads it now, HP1 tripped or not."""
    sim = StationSim(SITE, seed=1, start=datetime(2027, 1, 10, 6, tzinfo=UTC), warm_up_s=600.0)
    now = datetime.now(UTC)
    samples = []
    for point, value in sim.values().items():
        samples.append(Sample(p=point, t=now, v=fault if point == "HP1.fault" else value))
    return DataBatch(station=STATION, session=1, seq=0, samples=tuple(samples)
                     ).model_dump_json().encode()


def test_bad_messages_are_logged_once_and_retained_data_is_ignored(
        tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="controller.service")
    data = topic(STATION, Topic.DATA)
    tap = Collector(broker.port, topic(STATION, Topic.EVENT))
    # a retained batch saying HP1 tripped, left on the broker before the controller comes
    tap.client.publish(data, _readings(fault=True), qos=1, retain=True).wait_for_publish(5)
    controller = Controller(ControllerSettings(
        sites=(SITE,), broker=BrokerSettings("127.0.0.1", broker.port),
        db="postgresql://nobody@127.0.0.1:1/none", state_dir=tmp_path / "state",
        source="controller-test", startup_grace_s=1.0))
    controller.start()
    try:
        assert controller.wait_connected(10)
        for _ in range(3):
            tap.publish(data, b"{not json")
            tap.publish(data, json.dumps({"station": STATION, "session": 1, "seq": 1,
                                          "samples": [{"p": "NET.flow", "t": "2027-01-10T00:00:00Z",
                                                       "v": "12.5"}]}).encode())
            tap.publish(topic("somewhere-else", Topic.DATA), b"[]")
        tap.publish(data, _readings(fault=False))
        tap.wait_for(lambda: bool(controller.stations[STATION].feed.batches), 10,
                     "the good batch taken")
        tap.publish(data, _readings(fault=True))
        tap.wait_for(lambda: any(m.json()["data"]["alarm"] == "HP1.fault"
                                 for m in tap.of("event")), 10, "the trip's event")
    finally:
        controller.stop()
        tap.close()
    events = [m.json() for m in tap.of("event")]
    raised = [e for e in events if e["data"]["state"] == "unacknowledged"]
    assert [e["data"]["alarm"] for e in raised] == ["HP1.fault"]
    malformed = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(malformed) == 1  # one line, however often it comes
    assert "deep-borehole-school: malformed data message" in malformed[0]
    ignored = [r.getMessage() for r in caplog.records if "retained" in r.getMessage()]
    assert ignored == [f"ignored a retained message on {data}"]


def test_a_transition_made_while_the_broker_is_away_is_kept_and_published_after(
        tmp_path: Path, broker: Mosquitto) -> None:
    data = topic(STATION, Topic.DATA)
    tap = Collector(broker.port, topic(STATION, Topic.EVENT))
    state = tmp_path / "state"
    controller = Controller(ControllerSettings(
        sites=(SITE,), broker=BrokerSettings("127.0.0.1", broker.port),
        db="postgresql://nobody@127.0.0.1:1/none", state_dir=state,
        source="controller-test", startup_grace_s=1.0))
    controller.start()
    try:
        assert controller.wait_connected(10)
        tap.publish(data, _readings(fault=True))
        tap.wait_for(lambda: any(m.json()["data"]["alarm"] == "HP1.fault"
                                 for m in tap.of("event")), 10, "the trip's event")
        tap.wait_for(lambda: pending_events(state, [STATION])[STATION] == [], 10,
                     "every event acknowledged and out of the state file")
        broker.stop()
        # an operator acknowledges the trip while the controller cannot reach the broker
        assert alarms_cli.main(["ack", "--state-dir", str(state), "--station", STATION,
                                "--alarm", "HP1.fault", "--user", "wang.fang"]) == 0
        waiting = pending_events(state, [STATION])[STATION]
        assert [(e.data["alarm"], e.data["trigger"]) for e in waiting] == [("HP1.fault", "ack")]
        broker.start()
        tap.wait_for(lambda: any(m.json()["data"]["trigger"] == "ack"
                                 for m in tap.of("event")), 30, "the ack after the outage")
        tap.wait_for(lambda: pending_events(state, [STATION])[STATION] == [], 10,
                     "the ack out of the state file")
    finally:
        controller.stop()
        tap.close()
    acks = [m.json() for m in tap.of("event") if m.json()["data"]["trigger"] == "ack"]
    assert {a["id"] for a in acks} == {"HP1.fault#2"}
    assert acks[0]["data"]["user"] == "wang.fang"


def test_nothing_is_kept_or_answered_until_the_state_file_holds_it(
        tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    data = topic(STATION, Topic.DATA)
    tap = Collector(broker.port, topic(STATION, Topic.EVENT))
    state = tmp_path / "state"
    controller = Controller(ControllerSettings(
        sites=(SITE,), broker=BrokerSettings("127.0.0.1", broker.port),
        db="postgresql://nobody@127.0.0.1:1/none", state_dir=state,
        source="controller-test", startup_grace_s=1.0))
    controller.start()
    try:
        assert controller.wait_connected(10)
        tap.publish(data, _readings(fault=True))
        tap.wait_for(lambda: pending_events(state, [STATION])[STATION] == [] and any(
            m.json()["data"]["alarm"] == "HP1.fault" for m in tap.of("event")), 10,
            "the trip published and acknowledged")
        # the state file cannot be replaced any more (a directory stands in its way)
        state_file = state / f"{STATION}.json"
        state_file.unlink()
        state_file.mkdir()
        (state_file / "in-the-way").write_text("x")
        request = AlarmAction(id="r1", station=STATION, alarm="HP1.fault", action="ack",
                              user="zhao.lei")
        (state / "inbox" / "r1.json").write_text(request.model_dump_json())
        time.sleep(2.0)
        assert (state / "inbox" / "r1.json").exists()  # not answered
        assert not (state / "inbox" / "r1.result.json").exists()
        assert not any(m.json()["data"]["trigger"] == "ack" for m in tap.of("event"))
        failures = [r.getMessage() for r in caplog.records if "evaluation failed" in r.getMessage()]
        assert len(failures) == 1  # logged once, not at every try
        # the disk is fine again: the same acknowledgement is made, kept, answered, published
        (state_file / "in-the-way").unlink()
        state_file.rmdir()
        answered = state / "inbox" / "r1.result.json"
        tap.wait_for(answered.exists, 10, "the answer")
        tap.wait_for(lambda: any(m.json()["data"]["trigger"] == "ack"
                                 for m in tap.of("event")), 10, "the ack published")
    finally:
        controller.stop()
        tap.close()
    assert any("evaluation works again" in r.getMessage() for r in caplog.records)
    answer = json.loads((state / "inbox" / "r1.result.json").read_text())
    assert answer == {"ok": True, "state": "acknowledged"}
    acks = {m.json()["id"] for m in tap.of("event") if m.json()["data"]["trigger"] == "ack"}
    assert acks == {"HP1.fault#2"}
