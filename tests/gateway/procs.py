"""The simulator and the gateway as real processes, for tests that stop and kill things."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from geoscada.services import Mosquitto, free_port
from tests.gateway.mqtt_helpers import Collector
from tests.gateway.signers import POLICY

ROOT = Path(__file__).resolve().parents[2]
DOUBLET = ROOT / "sites" / "hydrothermal-doublet.yaml"


def _geoscada(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "geoscada.cli", *args], cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


class SimProcess:
    """``geoscada sim`` on free ports, with its endpoints file and control API."""

    def __init__(self, workdir: Path, site: Path = DOUBLET) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.endpoints_file = workdir / "endpoints.json"
        self.control_port = free_port()
        self.log = workdir / "sim.log"
        self.process = _geoscada(["sim", str(site), "--modbus-port", "0", "--opcua-port", "0",
                                  "--control-port", str(self.control_port),
                                  "--endpoints-out", str(self.endpoints_file)], self.log)
        deadline = time.monotonic() + 60
        while not self.endpoints_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def endpoints(self) -> dict[str, dict[str, str]]:
        data: dict[str, dict[str, str]] = json.loads(self.endpoints_file.read_text())
        return data

    def request(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.control_port}{path}",
                                         data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        stop(self.process)


class GatewayProcess:
    """``geoscada gateway`` pointed at a simulator and a broker."""

    def __init__(self, workdir: Path, broker_port: int, endpoints_file: Path,
                 site: Path = DOUBLET, *extra: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.log = workdir / "gateway.log"
        policy = workdir / "command-policy.yaml"
        policy.write_text(yaml.safe_dump(POLICY.model_dump(mode="json")))
        self.process = _geoscada(
            ["gateway", str(site), "--broker", f"mqtt://127.0.0.1:{broker_port}",
             "--endpoints-file", str(endpoints_file), "--state-dir", str(self.state_dir),
             "--health-period", "1", "--command-policy", str(policy), *extra], self.log)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        stop(self.process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class Rig(NamedTuple):
    """A private broker, the simulated doublet, its gateway and a subscriber to its topics."""

    broker: Mosquitto
    sim: SimProcess
    gateway: GatewayProcess
    collector: Collector


def start_rig(root: Path, cleanup: ExitStack, gateway_dir: str = "gw") -> Rig:
    """Start the whole chain as separate processes; ``cleanup`` stops them in reverse order."""
    broker = Mosquitto(root / "mq")
    broker.start()
    cleanup.callback(broker.stop)
    sim = SimProcess(root / "sim")
    cleanup.callback(sim.stop)
    gateway = GatewayProcess(root / gateway_dir, broker.port, sim.endpoints_file)
    cleanup.callback(gateway.stop)
    collector = Collector(broker.port, "geoscada/v1/hydrothermal-doublet/#")
    cleanup.callback(collector.close)
    return Rig(broker, sim, gateway, collector)
