"""Against the station simulator: OPC UA restarts, a silent PLC, commands that move the plant."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from plant.contract import CommandAck, Outcome
from plant.site import load_site
from tests.gateway.mqtt_helpers import Collector
from tests.gateway.procs import DOUBLET, Rig, start_rig
from tests.gateway.signers import signed

pytestmark = pytest.mark.integration

STATION = "hydrothermal-doublet"
SITE = load_site(DOUBLET)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    root = tmp_path_factory.mktemp("rig")
    with contextlib.ExitStack() as cleanup:
        started = start_rig(root, cleanup)
        opc_points = {p.id for p in SITE.points_on("opc")}
        started.collector.wait_for(
            lambda: any(s["p"] in opc_points for s in samples(started.collector)), 30,
            "OPC UA data")
        yield started


def samples(collector: Collector) -> list[dict[str, Any]]:
    return collector.samples()


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_opcua_restart_data_flows_again_within_15_s(rig: Rig) -> None:
    opc_points = {p.id for p in SITE.points_on("opc")}
    restarted = time.time()
    rig.sim.request("POST", f"/stations/{STATION}/opcua/restart")

    def fresh_good() -> list[dict[str, Any]]:
        return [s for s in samples(rig.collector) if s["p"] in opc_points and s["q"] == "good"
                and seconds(s["t"]) > restarted + 0.5]
    rig.collector.wait_for(lambda: bool(fresh_good()), 15, "OPC UA data after the restart")
    took = min(seconds(s["t"]) for s in fresh_good()) - restarted
    assert took <= 15
    # the same gateway process and session carried on: nobody restarted it
    assert rig.gateway.process.poll() is None
    assert len({m.json()["session"] for m in rig.collector.of("birth")}) == 1


def test_silent_plc_goes_bad_within_two_poll_periods_others_keep_going(rig: Rig) -> None:
    hpc_points = {p.id for p in SITE.points_on("hpc") if p.poll_group == "fast"}
    well_points = {p.id for p in SITE.points_on("plc-well")}
    period = SITE.poll_groups["fast"]
    fault = rig.sim.request("POST", f"/stations/{STATION}/faults",
                            {"kind": "device_silent", "target": "hpc"})
    silenced = time.time()
    try:
        def bad() -> set[str]:
            return {s["p"] for s in samples(rig.collector) if s["p"] in hpc_points
                    and s["q"] == "bad" and seconds(s["t"]) >= silenced}
        rig.collector.wait_for(lambda: bad() == hpc_points, 10, "every hpc point bad")
        first_bad = min(seconds(s["t"]) for s in samples(rig.collector)
                        if s["p"] in hpc_points and s["q"] == "bad" and seconds(s["t"]) >= silenced)
        assert first_bad - silenced <= 2 * period + 0.5
        time.sleep(3 * period)
        during = [seconds(s["t"]) for s in samples(rig.collector)
                  if s["p"] in well_points and s["q"] == "good" and seconds(s["t"]) > silenced]
        # the other PLC's scans are still spaced by its poll period, not by the hpc's timeouts
        ticks = sorted(set(during))
        assert ticks and max(b - a for a, b in itertools.pairwise(ticks)) < 2 * period
    finally:
        rig.sim.request("DELETE", f"/stations/{STATION}/faults/{fault['id']}")
    back = time.time()
    rig.collector.wait_for(lambda: any(s["p"] in hpc_points and s["q"] == "good" and
                                       seconds(s["t"]) > back for s in samples(rig.collector)),
                           20, "hpc answering again")


def command(point: str, value: object, ident: str, expires_in: float = 30) -> bytes:
    return signed(point, value, ident, expires_in=expires_in)


def ack_of(rig: Rig, ident: str) -> CommandAck:
    def find() -> CommandAck | None:
        for message in rig.collector.of("ack"):
            ack = CommandAck.model_validate_json(message.payload)
            if ack.id == ident:
                return ack
        return None
    rig.collector.wait_for(lambda: find() is not None, 10, f"ack of {ident}")
    found = find()
    assert found is not None
    return found


def test_command_within_limits_moves_the_plant_others_are_refused(rig: Rig) -> None:
    topic = f"geoscada/v1/{STATION}/cmd"
    current = rig.sim.request("GET", f"/stations/{STATION}/values")["PW1.speed_setpoint"]
    target = round(current + 3.0 if current + 3.0 <= 50 else current - 3.0, 1)
    rig.collector.publish(topic, command("PW1.speed_setpoint", target, "sim-ok"))
    ack = ack_of(rig, "sim-ok")
    assert ack.outcome is Outcome.DONE, ack.reason
    assert ack.readback == pytest.approx(target)
    plant = rig.sim.request("GET", f"/stations/{STATION}/values")
    assert plant["PW1.speed_setpoint"] == pytest.approx(target)
    refusals = {
        "sim-high": (command("PW1.speed_setpoint", 59.0, "sim-high"), "out_of_limits"),
        "sim-late": (command("PW1.speed_setpoint", target, "sim-late", expires_in=-5),
                     "expired"),
        "sim-ro": (command("PW1.flow", 10.0, "sim-ro"), "not_writable"),
    }
    for payload, _ in refusals.values():
        rig.collector.publish(topic, payload)
    for ident, (_, code) in refusals.items():
        ack = ack_of(rig, ident)
        assert ack.outcome is Outcome.REFUSED and ack.reason.startswith(code), ack
    assert rig.sim.request("GET", f"/stations/{STATION}/values")["PW1.speed_setpoint"] == \
        pytest.approx(target)
    assert rig.gateway.process.poll() is None
