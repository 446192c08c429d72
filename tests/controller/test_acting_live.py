"""The controller stages a simulated station at real time, through the gateway's commands.

Everything is a process of its own: a private Mosquitto, ``geoscada sim`` serving the doublet
over Modbus and OPC UA, ``geoscada gateway`` with a command policy that trusts the controller's
key in the role ``geoscada pki`` gives it, and ``geoscada controller`` with that key. The
site's staging timers and heartbeat timeout are set short in the test's copy of the site file
(parameters, not constants in the code). What happened is judged from outside the controller:
the simulator's own units (run state, starts, protection trips, remote mode, watchdog
take-overs, through its control API), the gateway's acknowledgements and the events on the
station's event topic.
"""

from __future__ import annotations

import itertools
import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.actions import submit
from controller.holds import HoldAction
from geoscada.pki import DEFAULT_ROLES
from geoscada.services import Mosquitto, free_port
from plant.contract import utc_now
from plant.signing import public_key_text, sign_command
from tests.controller.procs import DOUBLET, _start
from tests.gateway.mqtt_helpers import Collector
from tests.gateway.procs import GatewayProcess, SimProcess, stop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STATION = "hydrothermal-doublet"
TIMEOUT_S = 3.0
SIM_STEP_S = 1.0
"""The simulator's step (``geoscada sim --step``, default): its watchdog looks once a step."""
"""The station's heartbeat timeout in this test's site file."""
STAGING = {"cycle_s": 1.0, "capacity_average_s": 2.0, "efficiency_delay_s": 2.0,
           "failsafe_delay_s": 2.0, "stage_runtime_min_s": 3.0, "compressor_on_min_s": 2.0,
           "compressor_off_min_s": 2.0, "compressor_starts_per_hour_max": 12,
           "exchanger_short_delay_s": 2.0, "exchanger_long_delay_s": 2.0}
"""Staging timers of seconds instead of minutes, so a stage change fits in the test."""


def _site(root: Path) -> Path:
    data = yaml.safe_load(DOUBLET.read_text())
    data["station"]["supervision"] = {"heartbeat_timeout_s": TIMEOUT_S}
    data["station"]["staging"] = STAGING
    path = root / "doublet-staged.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Controller:
    """``geoscada controller`` with a signing key, as a process."""

    def __init__(self, root: Path, broker_port: int, site: Path, key: Path) -> None:
        self.log = root / "controller.log"
        self.args = ["controller", "--site", str(site), "--broker",
                     f"mqtt://127.0.0.1:{broker_port}", "--db",
                     f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1",
                     "--state-dir", str(root / "ctl-state"), "--id", "controller-acting",
                     "--signer-key", str(key), "--signer-id", "ctl-acting"]
        self.process = _start(self.args, self.log)

    def start(self) -> None:
        """Start again with the same state directory."""
        self.process = _start(self.args, self.log)

    def signal(self, sig: signal.Signals) -> None:
        """Send a signal (SIGKILL waits for the end)."""
        self.process.send_signal(sig)
        if sig is signal.SIGKILL:
            self.process.wait(10)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        stop(self.process)


class Rig:
    """Broker, simulated doublet, its gateway, the controller and a subscriber."""

    def __init__(self, root: Path, cleanup: ExitStack) -> None:
        site = _site(root)
        key = Ed25519PrivateKey.generate()
        key_file = root / "controller.key"
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        self.operator_key = Ed25519PrivateKey.generate()
        self.state_dir = root / "ctl-state"
        policy = root / "command-policy.yaml"
        policy.write_text(yaml.safe_dump({
            "keys": {"ctl-acting": {"public_key": public_key_text(key.public_key()),
                                    "roles": ["controller"]},
                     "op-acting": {"public_key": public_key_text(self.operator_key.public_key()),
                                   "roles": ["operator"]}},
            "roles": {"controller": list(DEFAULT_ROLES["controller"]),
                      "operator": list(DEFAULT_ROLES["operator"])}}))
        self.broker = Mosquitto(root / "mq")
        self.broker.start()
        cleanup.callback(self.broker.stop)
        self.sim = SimProcess(root / "sim", site)
        cleanup.callback(self.sim.stop)
        self.collector = Collector(self.broker.port, f"geoscada/v1/{STATION}/#")
        cleanup.callback(self.collector.close)
        gateway = GatewayProcess(root / "gw", self.broker.port, self.sim.endpoints_file, site,
                                 "--command-policy", str(policy))
        cleanup.callback(gateway.stop)
        self.controller = Controller(root, self.broker.port, site, key_file)
        cleanup.callback(self.controller.stop)
        self.history: list[tuple[float, dict[str, Any]]] = []

    def units(self) -> dict[str, Any]:
        """The simulator's own view of its heat pumps, noted with the time it was taken."""
        seen: dict[str, Any] = self.sim.request("GET", f"/stations/{STATION}/units")
        self.history.append((time.monotonic(), seen))
        return seen

    def wait(self, condition: Callable[[dict[str, Any]], bool], timeout: float, what: str
             ) -> dict[str, Any]:
        """Poll the simulator until ``condition`` holds of its units; their view then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.units()
            if condition(seen):
                return seen
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}: {self.units()}\n"
                             f"{self.controller.log.read_text()[-3000:]}")

    def events(self) -> list[dict[str, Any]]:
        """The staging events published on the station's event topic, in order."""
        return [m.json() for m in self.collector.of("event")
                if m.json()["id"].startswith("staging-")]

    def acks(self, key: str = "ctl-acting") -> dict[str, dict[str, Any]]:
        """The gateway's answers to the commands signed with ``key`` (the controller's), by
        command id."""
        sent = {m.json()["id"]: m.json() for m in self.collector.of("cmd")
                if m.json().get("key") == key}
        return {a["id"]: {**a, "value": sent[a["id"]]["value"]}
                for a in (m.json() for m in self.collector.of("ack")) if a["id"] in sent}

    def operator(self, point: str, value: bool) -> dict[str, Any]:
        """Send an operator-signed command, as `geoscada command` does; the gateway's answer."""
        now = utc_now()
        command = sign_command(self.operator_key, "op-acting", "operator",
                               id=f"op-{uuid.uuid4().hex[:12]}", point=point, value=value,
                               origin="an operator's command line", issued=now,
                               expires=now + timedelta(seconds=30))
        self.collector.publish(f"geoscada/v1/{STATION}/cmd", command.model_dump_json().encode())
        self.collector.wait_for(lambda: command.id in self.acks("op-acting"), 10,
                                f"the gateway's answer to {point} := {value}")
        return self.acks("op-acting")[command.id]

    def hold(self, unit: str, held: bool) -> None:
        """An engineer holds a unit out of automatic staging (or releases it) through the
        controller's inbox, and the controller tells the gateway."""
        action = HoldAction(id=f"hold-{uuid.uuid4().hex[:12]}", station=STATION, user="li.na",
                            role="engineer", unit=unit, held=held, text="oil change")
        assert submit(self.state_dir, action, 15)["ok"]
        self.collector.wait_for(lambda: any(
            a["point"] == f"gateway.staging_hold.{unit}" and a["value"] is held
            and a["outcome"] == "done" for a in self.acks().values()), 30,
            f"the gateway told {unit} is {'held' if held else 'released'}")

    def fault(self, spec: dict[str, Any]) -> str:
        """Inject a simulator fault now."""
        answer: dict[str, str] = self.sim.request("POST", f"/stations/{STATION}/faults", spec)
        return answer["id"]

    def clear_faults(self) -> None:
        """End every fault."""
        self.sim.request("DELETE", f"/stations/{STATION}/faults")


def running(seen: dict[str, Any]) -> dict[str, bool]:
    """Each heat pump's run state."""
    return {u: s["running"] for u, s in seen["heat_pumps"].items()}


def counters(seen: dict[str, Any]) -> dict[str, tuple[int, int, bool]]:
    """Each heat pump's starts, protection trips and trip flag."""
    return {u: (s["starts"], s["protection_trips"], s["tripped"])
            for u, s in seen["heat_pumps"].items()}


def all_remote(seen: dict[str, Any]) -> bool:
    """Every heat pump under the controller's command."""
    return all(s["remote"] for s in seen["heat_pumps"].values())


def none_remote(seen: dict[str, Any]) -> bool:
    """Every heat pump back under the station's local logic."""
    return not any(s["remote"] for s in seen["heat_pumps"].values())


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with ExitStack() as cleanup:
        yield Rig(tmp_path, cleanup)


def _changes(history: list[tuple[float, dict[str, Any]]], since: float
             ) -> list[tuple[str, bool]]:
    """Run-state changes the simulator showed after ``since`` (unit, now running)."""
    views = [seen for at, seen in history if at >= since]
    changes: list[tuple[str, bool]] = []
    for before, after in itertools.pairwise(views):
        for unit, on in running(after).items():
            if running(before)[unit] != on:
                changes.append((unit, on))
    return changes


def within_timeout(rig: Rig, seen: dict[str, Any]) -> float:
    """Check, by the station's own clock, that its watchdog took over one simulation step after
    the timeout from the last heartbeat it received, and that this was the controller's last
    heartbeat; return the silence it waited."""
    last = seen["last_takeover"]
    silent = (datetime.fromisoformat(last["at"])
              - datetime.fromisoformat(last["heartbeat_at"])).total_seconds()
    assert TIMEOUT_S < silent <= TIMEOUT_S + SIM_STEP_S + 1e-6, silent
    beats = [m.json() for m in rig.collector.of("cmd") if m.json()["point"] == "NET.heartbeat"]
    assert seen["heartbeat"] == beats[-1]["value"]
    return silent


def commanded(rig: Rig, units: list[str], run: bool) -> None:
    """Wait for the gateway's acknowledgement, done and read back, of starting (``run``) or
    stopping one of ``units``, and for a decision event naming them all."""
    doing, key = ("starting", "start") if run else ("stopping", "stop")
    rig.collector.wait_for(lambda: any(
        a["point"] == f"{u}.run_command" and a["value"] is run and a["outcome"] == "done"
        and a["readback"] is run for a in rig.acks().values() for u in units),
        10, f"the gateway's acknowledgement of {doing} {units}")
    rig.collector.wait_for(lambda: any(
        set(units) <= set(e["data"].get(key, [])) for e in rig.events()), 10,
        f"a decision event {doing} {units}: {[e['data'] for e in rig.events()]}")


def handed_to_local(rig: Rig, sig: signal.Signals) -> tuple[dict[str, Any], float, float]:
    """Silence the controller with ``sig`` and wait for the station's watchdog to hand every
    unit to the local logic; the units then, how long it took and the silence it waited."""
    rig.controller.signal(sig)
    silenced = time.monotonic()
    local = rig.wait(none_remote, TIMEOUT_S + 30, "the local logic to take over")
    handed = time.monotonic() - silenced
    return local, handed, within_timeout(rig, local)


def taken_back(rig: Rig, resume: Callable[[], None], what: str
               ) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """After a second of local logic, let the controller back with ``resume``: it takes every
    unit as the local logic left them, and for a stage's minimum runtime nothing starts or
    stops. The units as left, when it was let back and the units once taken."""
    time.sleep(1.0)
    as_left = rig.units()
    resume()
    resumed = time.monotonic()
    retaken = rig.wait(all_remote, 30, what)
    quiet_until = time.monotonic() + STAGING["stage_runtime_min_s"] - 1.0
    while time.monotonic() < quiet_until:
        rig.units()
        time.sleep(0.2)
    assert _changes(rig.history, resumed) == []
    assert running(retaken) == running(as_left)
    return as_left, resumed, retaken


def _starts_since(history: list[tuple[float, dict[str, Any]]], since: float) -> dict[str, int]:
    views = [seen for at, seen in history if at >= since]
    first, last = counters(views[0]), counters(views[-1])
    return {u: last[u][0] - first[u][0] for u in first}


def test_controller_stages_hands_back_and_takes_over_without_a_bump(rig: Rig) -> None:
    # the controller takes the station as it runs: every unit remote, nothing started or stopped
    before = rig.wait(lambda s: s["heartbeat"] is not None, 60, "the first heartbeat")
    start = time.monotonic()
    taken = rig.wait(all_remote, 30, "every heat pump under the controller")
    assert running(taken) == running(before)
    assert _starts_since(rig.history, start) == dict.fromkeys(running(taken), 0)
    takeover = next(e for e in rig.events() if e["data"]["condition"] == "take-over")
    assert takeover["data"]["values"]["units"] == running(before)
    trips = {u: c[1:] for u, c in counters(taken).items()}

    # (a) a load the running stage cannot carry: the network return reads 15 K low; the
    # controller stages up through the gateway, then down again when the return reads high
    up_from = sum(running(taken).values())
    rig.fault({"kind": "sensor_stuck", "target": "NET.return_temp", "value": 20.0})
    seen = rig.wait(lambda s: sum(running(s).values()) > up_from, 30, "a stage up")
    started = [u for u, on in running(seen).items() if on and not running(taken)[u]]
    commanded(rig, started, run=True)
    rig.clear_faults()
    rig.fault({"kind": "sensor_stuck", "target": "NET.return_temp", "value": 60.0})
    high = sum(running(seen).values())
    down = rig.wait(lambda s: sum(running(s).values()) < high, 30, "a stage down")
    stopped = [u for u, on in running(down).items() if not on and running(seen)[u]]
    commanded(rig, stopped, run=False)
    rig.clear_faults()
    assert all(d["outcome"] == "done" for d in rig.acks().values()), rig.acks()

    # (a') no signer but the controller commands a staged unit at the gateway, until an
    # engineer holds it out; released, the controller takes it over again
    unit = "HP3-2"
    now_on = running(rig.units())[unit]
    refused = rig.operator(f"{unit}.run_command", now_on)
    assert refused["outcome"] == "refused" and refused["reason"].startswith("staged:"), refused
    # nor may it hold the unit out at the gateway itself (its role's "*" notwithstanding)
    sneaked = rig.operator(f"gateway.staging_hold.{unit}", True)
    assert sneaked["reason"].startswith("role_not_allowed:"), sneaked
    rig.hold(unit, True)
    done = rig.operator(f"{unit}.run_command", now_on)
    assert done["outcome"] == "done" and done["readback"] is now_on, done
    rig.hold(unit, False)
    rig.wait(all_remote, 30, f"{unit} taken over again")

    # (b) kill -9: the station's watchdog hands every unit to the local logic within the
    # timeout, as they run, and nothing trips
    steady = rig.units()
    local, handed, silent = handed_to_local(rig, signal.SIGKILL)
    assert local["watchdog_takeovers"] == steady["watchdog_takeovers"] + 1
    assert running(local) == running(steady)
    # with the controller gone for longer than the heartbeat timeout the gateway no longer
    # reserves the staged units: an operator may command them (here their remote mode, off)
    answer = rig.operator(f"{unit}.remote_mode", False)
    assert answer["outcome"] == "done" and answer["readback"] is False, answer
    # (c) restart: the controller takes over as the local logic left things
    as_left, restarted, retaken = taken_back(rig, rig.controller.start,
                                             "the restarted controller to take over")
    assert _starts_since(rig.history, restarted) == dict.fromkeys(running(retaken), 0)
    second = [e for e in rig.events() if e["data"]["condition"] == "take-over"]
    assert len({e["id"].split("#")[0] for e in second}) == 2  # one per run, distinct ids
    assert second[-1]["data"]["values"]["units"] == running(as_left)

    # (d) SIGSTOP: a frozen controller is as silent as a dead one; after SIGCONT it sees that
    # it was away longer than the timeout and takes over again, as the units then run
    _, handed_frozen, silent_frozen = handed_to_local(rig, signal.SIGSTOP)
    taken_back(rig, lambda: rig.controller.signal(signal.SIGCONT),
               "the thawed controller to take over")
    assert any(e["data"]["condition"] == "silent" for e in rig.events())

    end = rig.units()
    assert {u: c[1:] for u, c in counters(end).items()} == trips
    assert end["watchdog_takeovers"] == steady["watchdog_takeovers"] + 2
    assert all(d["outcome"] == "done" for d in rig.acks().values()), rig.acks()
    print(json.dumps({"handed_back_s": round(handed, 2), "frozen_handed_back_s":
                      round(handed_frozen, 2), "silent_s": silent, "frozen_silent_s":
                      silent_frozen, "started": started, "stopped": stopped}))
