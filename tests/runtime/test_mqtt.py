"""The shared paho client speaks mqtts:// and verifies the broker against the CA it is given."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from geoscada.services import MOSQUITTO, free_port
from runtime.mqtt import BrokerSettings, new_client
from tests.gateway.test_tls import _certificate, _key_pem, _pem

pytestmark = pytest.mark.integration


def test_new_client_connects_over_tls_only_to_a_broker_its_ca_signed(tmp_path: Path) -> None:
    ca_key, other_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("test CA", ca_key, None, ca_key, ca=True)
    other_ca = _certificate("another CA", other_key, None, other_key, ca=True)
    server = _certificate("127.0.0.1", server_key, ca.subject, ca_key, ca=False)
    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    (tmp_path / "other-ca.pem").write_bytes(_pem(other_ca))
    (tmp_path / "server.pem").write_bytes(_pem(server))
    (tmp_path / "server.key").write_bytes(_key_pem(server_key))
    port = free_port()
    config = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false",
              f"cafile {tmp_path / 'ca.pem'}", f"certfile {tmp_path / 'server.pem'}",
              f"keyfile {tmp_path / 'server.key'}"]
    if os.geteuid() == 0:
        config.append("user root")
    (tmp_path / "mq.conf").write_text("\n".join(config) + "\n")
    broker = subprocess.Popen([MOSQUITTO, "-c", str(tmp_path / "mq.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        outcomes = {}
        for ca_file in ("other-ca.pem", "ca.pem"):
            settings = BrokerSettings.from_options(f"mqtts://127.0.0.1:{port}",
                                                   tls_ca=tmp_path / ca_file)
            client = new_client(settings, client_id=f"probe-{ca_file}")
            up = threading.Event()
            client.on_connect = lambda c, u, f, rc, p, up=up: up.set()
            try:
                client.connect("127.0.0.1", port)
                client.loop_start()
                outcomes[ca_file] = up.wait(3)
            except OSError:  # the TLS handshake fails: the broker is not verified
                outcomes[ca_file] = False
            finally:
                client.disconnect()
                client.loop_stop()
        assert outcomes == {"other-ca.pem": False, "ca.pem": True}
    finally:
        broker.terminate()
        broker.wait(10)


def test_a_threaded_session_reconnects_after_a_broker_restart_and_stops_cleanly(
        tmp_path: Path) -> None:
    from geoscada.services import Mosquitto
    from runtime.backoff import Backoff
    from runtime.mqtt import ThreadedSession

    broker = Mosquitto(tmp_path / "mq")
    broker.start()
    ups: list[float] = []
    settings = BrokerSettings.from_url(broker.url, client_id="session-probe", keepalive_s=2)
    session = ThreadedSession(settings, new_client(settings),
                              on_connect=lambda *args: ups.append(time.monotonic()),
                              backoff=Backoff(base_s=0.1, cap_s=0.5))
    try:
        session.start()
        deadline = time.monotonic() + 10
        while len(ups) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        broker.stop()
        time.sleep(1.0)
        broker.start()
        deadline = time.monotonic() + 15
        while len(ups) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(ups) == 2, "no reconnection after the broker came back"
    finally:
        session.stop()
        broker.stop()
