"""``geoscada sim`` as a process: endpoints file, control API, fault schedule, clean exit."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.simulator.helpers import DOUBLET, SCHOOL

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(method: str, url: str, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_sim_serves_stations_obeys_the_control_api_and_stops_on_sigterm(tmp_path: Path) -> None:
    endpoints = tmp_path / "endpoints.json"
    schedule = tmp_path / "faults.yaml"
    schedule.write_text("- {kind: sensor_dead, target: WX.outdoor_temp}\n")
    control = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "geoscada.cli", "sim", str(SCHOOL), str(DOUBLET),
         "--speed", "10", "--seed", "3", "--modbus-port", "0", "--opcua-port", "0",
         "--control-port", str(control), "--endpoints-out", str(endpoints),
         "--faults", str(schedule), "--start", "2026-01-15T00:00:00+00:00"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while not endpoints.exists():
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "no endpoints file"
            time.sleep(0.2)
        bound = json.loads(endpoints.read_text())
        assert set(bound) == {"deep-borehole-school", "hydrothermal-doublet"}
        assert bound["deep-borehole-school"]["opc"].startswith("opc.tcp://127.0.0.1:")
        base = f"http://127.0.0.1:{control}/stations/deep-borehole-school"
        status, values = request("GET", f"{base}/values")
        assert status == 200
        assert values["WX.outdoor_temp"] is None  # the scheduled dead sensor
        assert 20 < values["BH1.outlet_temp"] < 60
        status, created = request("POST", f"{base}/faults",
                                  {"kind": "heat_pump_trip", "target": "HP1"})
        assert status == 201
        time.sleep(0.5)
        assert request("GET", f"{base}/values")[1]["HP1.fault"] is True
        assert request("DELETE", f"{base}/faults/{created['id']}")[0] == 200
        assert request("POST", f"{base}/faults", {"kind": "heat_pump_trip"})[0] == 422
        assert request("POST", f"{base}/faults", {"kind": "heat_pump_trip",
                                                  "target": "NOPE"})[0] == 422
        assert request("GET", f"http://127.0.0.1:{control}/stations/nowhere/values")[0] == 404
        assert request("DELETE", f"{base}/faults/f99")[0] == 404
        assert request("POST", f"{base}/opcua/restart")[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    assert out.count(" ready: ") == 2


def test_sim_refuses_a_bad_site_file_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCHOOL.read_text().replace("heated_area_m2: 13215", "heated_aera_m2: 13215"))
    result = subprocess.run([sys.executable, "-m", "geoscada.cli", "sim", str(bad)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "heated_area_m2" in result.stderr and str(bad) in result.stderr
