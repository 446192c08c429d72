"""``geoscada demo`` brings up the whole system: plant, broker, gateways, historian, database."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from geoscada.demo import database_dir
from geoscada.pki import Pki
from geoscada.services import free_port
from plant.contract import parse_topic
from plant.site import HeatPump, OpcUaBinding, load_site

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STATIONS = {"hydrothermal-doublet", "deep-borehole-school", "shallow-field"}
STAGED = "hydrothermal-doublet"
"""The demo station whose site file has ``staging``: the controller stages it live."""


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str,
          demo: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if demo.poll() is not None:
            out = demo.stdout.read() if demo.stdout else ""
            raise AssertionError(f"demo exited with {demo.returncode} before {what}:\n{out}")
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _stations_in_database(dsn: str) -> set[str]:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            rows = conn.execute(
                "SELECT DISTINCT p.station FROM samples s JOIN points p ON p.id = s.point_id"
            ).fetchall()
    except psycopg.Error:
        return set()
    return {str(row[0]) for row in rows}


def _stations_with_good_opcua(dsn: str) -> set[str]:
    names = [p.id for path in sorted((ROOT / "sites").glob("*.yaml"))
             for p in load_site(path).points if isinstance(p.binding, OpcUaBinding)]
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            rows = conn.execute(
                "SELECT DISTINCT p.station FROM samples s JOIN points p ON p.id = s.point_id "
                "JOIN quality_codes q ON q.code = s.quality "
                "WHERE q.name = 'good' AND p.name = ANY(%s)", (names,)).fetchall()
    except psycopg.Error:
        return set()
    return {str(row[0]) for row in rows}


def _decisions(dsn: str) -> dict[str, list[str]]:
    """Per station, the conditions of the staging events the historian stored, in order."""
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            rows = conn.execute("SELECT station, data->>'condition' FROM events "
                                "WHERE kind = 'decision' ORDER BY time, id").fetchall()
    except psycopg.Error:
        return {}
    found: dict[str, list[str]] = {}
    for station, condition in rows:
        found.setdefault(str(station), []).append(str(condition))
    return found


def _remote_units(control_port: int, station: str) -> dict[str, bool]:
    """Each heat pump of the station and whether the plant (the simulator) has it under
    remote command."""
    site = load_site(ROOT / "sites" / f"{station}.yaml")
    with urllib.request.urlopen(f"http://127.0.0.1:{control_port}/stations/{station}/values",
                                timeout=10) as answer:
        values = json.loads(answer.read())
    return {e.id: bool(values[f"{e.id}.remote_mode"]) for e in site.equipment
            if isinstance(e, HeatPump)}


def _plaintext_anonymous_connects(port: int) -> bool:
    accepted = threading.Event()
    anonymous = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="demo-anon",
                            reconnect_on_failure=False)
    anonymous.on_connect = lambda c, u, f, rc, p: accepted.set() if not rc.is_failure else None
    try:
        anonymous.connect("127.0.0.1", port)
    except OSError:
        return False
    anonymous.loop_start()
    accepted.wait(5)
    anonymous.disconnect()
    anonymous.loop_stop()
    return accepted.is_set()


def test_demo_runs_every_service_and_stops_cleanly(service_root: Path,
                                                   request: pytest.FixtureRequest) -> None:
    # like a checkout under /root: a parent the postgres user cannot traverse
    home = service_root / "home"
    home.mkdir(mode=0o700)
    workdir = home / "demo"
    workdir.mkdir()
    cluster_dir = database_dir(workdir)
    if os.geteuid() == 0:
        assert not cluster_dir.is_relative_to(home)
        request.addfinalizer(lambda: shutil.rmtree(cluster_dir.parent, ignore_errors=True))
    broker_port, db_port, control_port = free_port(), free_port(), free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "geoscada.cli", "demo", "--workdir", str(workdir),
         "--broker-port", str(broker_port), "--db-port", str(db_port),
         "--control-port", str(control_port), "--modbus-port", "0", "--opcua-port", "0",
         "--duration", "240"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seen: set[str] = set()
    pki = Pki(workdir / "pki")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="demo-test")

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        station, kind = parse_topic(message.topic)
        if kind.value == "data" and json.loads(message.payload)["samples"]:
            seen.add(station)

    client.on_message = on_message
    try:
        endpoints = workdir / "endpoints.json"
        _wait(endpoints.exists, 180, "the simulator's endpoints", demo)
        assert set(json.loads(endpoints.read_text())) == STATIONS

        # the regulator's read-only identity, over TLS verified against the demo's CA
        client.tls_set(ca_certs=str(pki.ca_cert), certfile=str(pki.cert("regulator")),
                       keyfile=str(pki.key("regulator")))
        client.username_pw_set("regulator", pki.password("regulator").read_text().strip())
        _wait(lambda: client.connect("127.0.0.1", broker_port) == 0, 30, "the broker", demo)
        client.subscribe("geoscada/v1/+/data", qos=1)
        client.loop_start()
        _wait(lambda: seen == STATIONS, 90, "data from every station's gateway", demo)
        # the printed mosquitto_sub line works, with the password only in a 0600 file
        printed = subprocess.run(
            ["mosquitto_sub", "-t", "geoscada/v1/+/data", "-C", "1", "-W", "20"],
            env={**os.environ, "XDG_CONFIG_HOME": str(pki.root / "clients")},
            capture_output=True, text=True, timeout=30, check=False)
        assert printed.returncode == 0 and '"samples"' in printed.stdout, printed.stderr
        assert not _plaintext_anonymous_connects(broker_port)
        # a signed command through the printed tool: written and read back by the gateway
        sent = subprocess.run(
            [sys.executable, "-m", "geoscada.cli", "command", "--pki", str(pki.root),
             "--broker", f"mqtts://127.0.0.1:{broker_port}", "hydrothermal-doublet",
             "PW1.run_command", "true"], cwd=ROOT, capture_output=True, text=True, timeout=60,
            check=False)
        assert sent.returncode == 0 and "done" in sent.stdout, sent.stdout + sent.stderr
        forged = subprocess.run(
            [sys.executable, "-m", "geoscada.cli", "command", "--pki", str(pki.root),
             "--broker", f"mqtts://127.0.0.1:{broker_port}", "--signer", "controller",
             "hydrothermal-doublet", "PW1.wellhead_temp", "1"], cwd=ROOT,
            capture_output=True, text=True, timeout=60, check=False)
        assert forged.returncode == 1 and "refused: role_not_allowed" in forged.stdout, \
            forged.stdout + forged.stderr

        dsn = f"postgresql://postgres@127.0.0.1:{db_port}/geoscada"
        _wait(lambda: _stations_in_database(dsn) == STATIONS, 90,
              "every station's samples in the historian", demo)
        # OPC UA over SignAndEncrypt, the simulator's certificates in the gateways' trust stores
        _wait(lambda: _stations_with_good_opcua(dsn) == STATIONS, 60,
              "good OPC UA samples from every station", demo)
        # the doublet is staged live: the controller takes it over as it runs, says so in a
        # decision event the historian keeps, and the plant has every heat pump under remote
        # command; the other stations stay on their own logic
        assert load_site(ROOT / "sites" / f"{STAGED}.yaml").station.staging is not None
        _wait(lambda: "take-over" in _decisions(dsn).get(STAGED, []), 120,
              "the controller's take-over of the doublet in the historian", demo)
        _wait(lambda: all(_remote_units(control_port, STAGED).values()), 60,
              "every heat pump of the doublet under remote command", demo)
        assert set(_decisions(dsn)) == {STAGED}
        assert not any(_remote_units(control_port, "deep-borehole-school").values())
        # the web UI answers on the port its settings name
        ui_port = yaml.safe_load((workdir / "ui" / "ui.yaml").read_text())["listen_port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/login", timeout=10) as page:
            assert page.status == 200
    finally:
        client.loop_stop()
        client.disconnect()
        demo.send_signal(signal.SIGINT)
        out, _ = demo.communicate(timeout=90)
    assert demo.returncode == 0, out
    assert "GeoSCADA demo is running" in out
    printed_users = dict(line.split(" ", 1) for line in
                         (workdir / "ui" / "credentials").read_text().splitlines())
    assert f"Web UI: http://127.0.0.1:{ui_port}/" in out
    assert all(f"{name:<10} {password}" in out for name, password in printed_users.items())
    assert set(printed_users) == {"operator", "engineer", "admin", "regulator"}
    controller = (workdir / "logs" / "controller.log").read_text()
    assert "connected to broker" in controller and "refused" not in controller, controller[-2000:]
    for log in (workdir / "logs").glob("*.log"):
        assert "Traceback" not in log.read_text(), f"{log.name} has a traceback"
        for identity in pki.identities():
            assert pki.password(identity).read_text().strip() not in log.read_text()
