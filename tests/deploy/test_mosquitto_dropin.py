"""The project's Mosquitto drop-in starts with Debian 12's stock main configuration."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from geoscada.pki import Pki
from geoscada.services import MOSQUITTO, free_port

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
STOCK = HERE / "debian-mosquitto.conf"
"""/etc/mosquitto/mosquitto.conf exactly as Debian 12's mosquitto 2.0.11 package ships it."""
DROP_IN = ROOT / "deploy" / "mosquitto" / "geoscada.conf"
SYSTEM_DIRS = ("/etc/mosquitto/", "/var/lib/mosquitto/", "/run/mosquitto/", "/var/log/mosquitto/")


def test_the_stock_file_is_debians() -> None:
    shipped = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", "mosquitto"],
                             capture_output=True, text=True, check=False)
    if shipped.returncode != 0:
        pytest.skip("the mosquitto package is not installed here")
    sums = dict(line.split()[:2] for line in shipped.stdout.splitlines() if line.strip())
    assert hashlib.md5(STOCK.read_bytes()).hexdigest() == sums["/etc/mosquitto/mosquitto.conf"]


def relocated(text: str, root: Path) -> str:
    """The same configuration with the system directories moved under ``root``."""
    for directory in SYSTEM_DIRS:
        text = text.replace(directory, f"{root}{directory}")
    return text


@pytest.fixture
def installed(service_root: Path) -> Iterator[tuple[Path, Pki, int]]:
    """Debian's layout under a private root, the drop-in in conf.d, the PKI files installed."""
    root = service_root / "debian"  # the mosquitto user must reach it
    root.mkdir(mode=0o755)
    for directory in SYSTEM_DIRS:
        (root / directory.strip("/")).mkdir(parents=True)
    etc = root / "etc" / "mosquitto"
    (etc / "mosquitto.conf").write_text(relocated(STOCK.read_text(), root))
    port = free_port()
    drop_in = relocated(DROP_IN.read_text(), root)
    assert "\nlistener 8883\n" in drop_in
    drop_in = drop_in.replace("\nlistener 8883\n", f"\nlistener {port} 127.0.0.1\n")
    (etc / "conf.d" / "geoscada.conf").parent.mkdir()
    (etc / "conf.d" / "geoscada.conf").write_text(drop_in)
    pki = Pki(root / "pki")
    pki.init(["st-a"], ["127.0.0.1"])
    target = etc / "geoscada"
    target.mkdir(mode=0o700)
    for name, source in (("ca.crt", pki.ca_cert), ("broker.crt", pki.broker_cert),
                         ("broker.key", pki.broker_key), ("passwd", pki.passwd),
                         ("acl", pki.acl)):
        shutil.copy2(source, target / name)
    if os.geteuid() == 0:  # as the install guide says: Mosquitto drops to its own user
        user = pwd.getpwnam("mosquitto")
        for path in [target, *target.iterdir(), root / "var/lib/mosquitto",
                     root / "run/mosquitto", root / "var/log/mosquitto"]:
            os.chown(path, user.pw_uid, user.pw_gid)
    yield etc / "mosquitto.conf", pki, port
    shutil.rmtree(root, ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_mosquitto_starts_with_debians_config_plus_the_drop_in(
        installed: tuple[Path, Pki, int]) -> None:
    config, pki, port = installed
    broker = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert broker.poll() is None, broker.stdout.read().decode() if broker.stdout else ""
            assert time.monotonic() < deadline, "the broker did not listen within 10 s"
            time.sleep(0.05)
        connected = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="dropin-test",
                             protocol=paho.MQTTv5, reconnect_on_failure=False)
        client.tls_set(ca_certs=str(pki.ca_cert), certfile=str(pki.cert("historian")),
                       keyfile=str(pki.key("historian")), cert_reqs=ssl.CERT_REQUIRED)
        client.username_pw_set("historian", pki.password("historian").read_text().strip())
        client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
        client.connect("127.0.0.1", port)
        client.loop_start()
        try:
            assert connected.wait(5), "the historian identity could not log in"
        finally:
            client.disconnect()
            client.loop_stop()
        log = config.parent.parent.parent / "var/log/mosquitto/mosquitto.log"
        assert "Opening ipv4 listen socket on port" in log.read_text()
    finally:
        broker.terminate()
        broker.wait(10)
