"""The PKI tool's files and the demo's broker: identities, TLS and the generated ACL, from outside."""

from __future__ import annotations

import ssl
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from gateway.commands import load_policy
from geoscada.demo import secure_broker
from geoscada.pki import SERVICE_IDENTITIES, SIGNERS, Pki, acl_text, gateway_identity
from geoscada.services import Mosquitto
from plant.site import load_site

pytestmark = pytest.mark.integration

STATIONS = ("st-a", "st-b")


@pytest.fixture(scope="module")
def demo_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mosquitto, Pki]]:
    broker, pki = secure_broker(tmp_path_factory.mktemp("secure"), STATIONS)
    broker.start()
    yield broker, pki
    broker.stop()


@dataclass
class Client:
    """One MQTT v5 connection that records what it receives and how its publishes end."""

    client: paho.Client
    received: list[tuple[str, bytes]] = field(default_factory=list)
    published: dict[int, str] = field(default_factory=dict)
    connect_result: list[str] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1)
        return int(info.mid)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(broker: Mosquitto, pki: Pki, identity: str | None, *, tls: bool = True,
            cert: bool = True, password: str | None = None) -> Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                         protocol=paho.MQTTv5, reconnect_on_failure=False)
    wrapper = Client(client)
    if tls:
        client.tls_set(ca_certs=str(pki.ca_cert),
                       certfile=str(pki.cert(identity or "ui")) if cert else None,
                       keyfile=str(pki.key(identity or "ui")) if cert else None,
                       cert_reqs=ssl.CERT_REQUIRED)
    if identity is not None:
        client.username_pw_set(identity, password if password is not None
                               else pki.password(identity).read_text().strip())

    def on_connect(c: paho.Client, u: object, f: object, rc: ReasonCode, p: object) -> None:
        wrapper.connect_result.append(str(rc))
        (wrapper.ended if rc.is_failure else wrapper.connected).set()

    client.on_connect = on_connect
    client.on_disconnect = lambda c, u, f, rc, p: wrapper.ended.set()
    client.on_message = lambda c, u, m: wrapper.received.append((m.topic, bytes(m.payload)))
    client.on_publish = lambda c, u, mid, rc, p: wrapper.published.__setitem__(mid, str(rc))
    try:
        client.connect("127.0.0.1", broker.port, keepalive=5)
    except (OSError, ssl.SSLError) as exc:
        wrapper.connect_result.append(f"socket: {exc}")
        wrapper.ended.set()
        return wrapper
    client.loop_start()
    return wrapper


def refused(wrapper: Client, timeout: float = 3.0) -> bool:
    """True if the connection never came up."""
    deadline = time.monotonic() + timeout
    while not (wrapper.connected.is_set() or wrapper.ended.is_set()):
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    wrapper.close()
    return not wrapper.connected.is_set()


def settle(seconds: float = 0.5) -> None:
    time.sleep(seconds)


def test_keys_and_passwords_are_private_and_the_password_file_is_hashed(
        demo_broker: tuple[Mosquitto, Pki]) -> None:
    _, pki = demo_broker
    identities = [*map(gateway_identity, STATIONS), *SERVICE_IDENTITIES]
    assert pki.identities() == sorted(identities)
    secrets = [pki.ca_key, pki.broker_key, pki.passwd, *map(pki.key, identities),
               *map(pki.password, identities), pki.signer("controller"), pki.signer("operator")]
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    hashed = pki.passwd.read_text()
    for identity in identities:
        assert pki.password(identity).read_text().strip() not in hashed
        assert f"{identity}:$7$" in hashed  # mosquitto's PBKDF2-SHA512


def test_anonymous_plaintext_and_unauthenticated_clients_are_refused(
        demo_broker: tuple[Mosquitto, Pki]) -> None:
    broker, pki = demo_broker
    assert broker.url.startswith("mqtts://")
    assert refused(connect(broker, pki, None, tls=False)), "anonymous plaintext"
    assert refused(connect(broker, pki, "historian", tls=False)), "plaintext with a password"
    assert refused(connect(broker, pki, None)), "anonymous over TLS"
    assert refused(connect(broker, pki, "historian", password="guess")), "wrong password"
    assert refused(connect(broker, pki, "historian", cert=False)), "no client certificate"
    good = connect(broker, pki, "historian")
    assert good.connected.wait(5), good.connect_result
    good.close()


def test_a_gateway_cannot_publish_another_stations_data_or_read_its_commands(
        demo_broker: tuple[Mosquitto, Pki]) -> None:
    broker, pki = demo_broker
    historian = connect(broker, pki, "historian")
    gateway_b = connect(broker, pki, gateway_identity("st-b"))
    gateway_a = connect(broker, pki, gateway_identity("st-a"))
    controller = connect(broker, pki, "controller")
    try:
        for c in (historian, gateway_a, gateway_b, controller):
            assert c.connected.wait(5), c.connect_result
        historian.client.subscribe("geoscada/v1/+/data", qos=1)
        gateway_b.client.subscribe("geoscada/v1/st-b/cmd/#", qos=1)
        gateway_a.client.subscribe("geoscada/v1/st-b/cmd/#", qos=1)  # not its station
        gateway_a.client.subscribe("geoscada/v1/st-a/cmd/#", qos=1)
        settle()
        controller.publish("geoscada/v1/st-b/cmd", b"for b")
        controller.publish("geoscada/v1/st-a/cmd", b"for a")
        own = gateway_a.publish("geoscada/v1/st-a/data", b"a's own")
        settle()
        forged = gateway_a.publish("geoscada/v1/st-b/data", b"forged for b")
        settle(1.0)
        assert ("geoscada/v1/st-b/cmd", b"for b") in gateway_b.received
        assert gateway_a.received == [("geoscada/v1/st-a/cmd", b"for a")]
        assert historian.received == [("geoscada/v1/st-a/data", b"a's own")]
        assert gateway_a.published.get(own) == "Success"
        assert gateway_a.published.get(forged, "Not authorized") == "Not authorized"
    finally:
        for c in (historian, gateway_a, gateway_b, controller):
            c.close()


def test_the_historian_and_gateways_cannot_publish_commands(
        demo_broker: tuple[Mosquitto, Pki]) -> None:
    broker, pki = demo_broker
    gateway_a = connect(broker, pki, gateway_identity("st-a"))
    historian = connect(broker, pki, "historian")
    gateway_b = connect(broker, pki, gateway_identity("st-b"))
    ui = connect(broker, pki, "ui")
    try:
        for c in (historian, gateway_a, gateway_b, ui):
            assert c.connected.wait(5), c.connect_result
        gateway_a.client.subscribe("geoscada/v1/st-a/cmd/#", qos=1)
        settle()
        historian.publish("geoscada/v1/st-a/cmd", b"from the historian")
        gateway_b.publish("geoscada/v1/st-a/cmd", b"from another gateway")
        settle()
        ui.publish("geoscada/v1/st-a/cmd", b"from the ui")
        settle(1.0)
        assert gateway_a.received == [("geoscada/v1/st-a/cmd", b"from the ui")]
    finally:
        for c in (historian, gateway_a, gateway_b, ui):
            c.close()


def test_the_acl_names_every_station_and_grants_commands_only_to_controller_and_ui() -> None:
    text = acl_text(["st-a", "st-b"])
    users: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("user "):
            current = line.split()[1]
            users[current] = []
        elif line.startswith("topic ") and current:
            users[current].append(line)
    assert set(users) == {"gateway-st-a", "gateway-st-b", *SERVICE_IDENTITIES}
    writers = {u for u, rules in users.items()
               if any(r.split()[1] in ("write", "readwrite") and r.endswith("/cmd")
                      and "+" in r for r in rules)}
    assert writers == {"controller", "ui"}


def test_the_controller_may_write_what_staging_writes_at_the_demo_stations_and_no_more(
        tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    pki.root.mkdir()
    pki.write_policy(SIGNERS)
    policy = load_policy(pki.policy)
    sites = sorted((Path(__file__).resolve().parents[2] / "sites").glob("*.yaml"))
    points = [p for path in sites for p in load_site(path).points if p.writable]
    staged = {"run_command", "remote_mode", "heartbeat", "speed_setpoint"}
    assert {p.measurand.value for p in points} > staged
    assert [p.id for p in points if (p.measurand.value in staged)
            != policy.may_write("controller", p.id)] == []
    assert not policy.may_write("controller", "HP1.cop")
