"""The controller and the historian as processes, beside the simulator and the gateway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from geoscada.services import free_port
from tests.gateway.procs import ROOT, stop

SCHOOL = ROOT / "sites" / "deep-borehole-school.yaml"
DOUBLET = ROOT / "sites" / "hydrothermal-doublet.yaml"


def alarms_only(site: Path, directory: Path) -> Path:
    """A copy of a site file without ``staging``: a controller given it only raises alarms
    (and needs no signing key); return its path."""
    data = yaml.safe_load(site.read_text(encoding="utf-8"))
    data["station"].pop("staging", None)
    directory.mkdir(parents=True, exist_ok=True)
    copy = directory / site.name
    copy.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return copy


class StationsSim:
    """``geoscada sim`` serving several stations from one process, with its control API."""

    def __init__(self, workdir: Path, sites: list[Path]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.endpoints_file = workdir / "endpoints.json"
        self.control_port = free_port()
        self.log = workdir / "sim.log"
        self.process = _start(["sim", *map(str, sites), "--modbus-port", "0", "--opcua-port",
                               "0", "--control-port", str(self.control_port),
                               "--endpoints-out", str(self.endpoints_file)], self.log)
        deadline = time.monotonic() + 90
        while not self.endpoints_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def fault(self, station: str, spec: dict[str, Any]) -> str:
        """Inject a fault now; return its id."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.control_port}/stations/{station}/faults",
            data=json.dumps(spec).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            ident: str = json.loads(answer.read())["id"]
        return ident

    def clear(self, station: str, fault_id: str) -> None:
        """End a fault."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.control_port}/stations/{station}/faults/{fault_id}",
            method="DELETE")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        stop(self.process)

def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "geoscada.cli", *args], cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


class HistorianProcess:
    """``geoscada historian`` writing into a test database."""

    def __init__(self, workdir: Path, broker_url: str, dsn: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "historian.log"
        self.process = _start(["historian", "--broker", broker_url, "--db", dsn,
                               "--client-id", "historian-ctl-test", "--batch-max-wait", "0.05",
                               "--rollup-interval", "0.5"], self.log)

    def stop(self) -> None:
        stop(self.process)


class ControllerProcess:
    """``geoscada controller`` with its state directory and alarm settings."""

    def __init__(self, workdir: Path, broker_url: str, dsn: str, sites: list[Path],
                 settings: dict[str, Any]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.state_dir = workdir / "state"
        self.log = workdir / "controller.log"
        settings_file = workdir / "alarm-settings.yaml"
        settings_file.write_text(yaml.safe_dump(settings))
        self.args = ["controller", "--broker", broker_url, "--db", dsn, "--state-dir",
                     str(self.state_dir), "--alarm-settings", str(settings_file), "--id",
                     "controller-test"]
        for site in sites:
            self.args += ["--site", str(site)]
        self.process = _start(self.args, self.log)

    def restart(self) -> None:
        """Start again after a kill, with the same state directory."""
        self.process = _start(self.args, self.log)

    def kill(self) -> None:
        """SIGKILL: nothing is finished, nothing is written on the way out."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        stop(self.process)


def alarms_cli(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``geoscada alarms``; its exit code, its JSON lines and its standard error."""
    done = subprocess.run([sys.executable, "-m", "geoscada.cli", "alarms", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines, done.stderr
