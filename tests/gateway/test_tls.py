"""The gateway reaches a broker over TLS, verifying it against the CA it is given."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.runtime import Gateway, GatewaySettings
from geoscada.services import MOSQUITTO, free_port
from plant.site import Site
from runtime.mqtt import BrokerSettings
from tests.gateway.harness import station
from tests.gateway.mqtt_helpers import until

pytestmark = pytest.mark.integration


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
                 issuer_key: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_tls_broker_is_verified_against_the_given_ca(site: Site, tmp_path: Path) -> None:
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
              f"keyfile {tmp_path / 'server.key'}", f"log_dest file {tmp_path / 'mq.log'}"]
    if os.geteuid() == 0:
        config.append("user root")
    (tmp_path / "mq.conf").write_text("\n".join(config) + "\n")
    broker = subprocess.Popen([MOSQUITTO, "-c", str(tmp_path / "mq.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def scenario() -> None:
        async with station(site) as st:
            for ca_file, expected in [("other-ca.pem", False), ("ca.pem", True)]:
                settings = GatewaySettings(
                    broker=BrokerSettings.from_url(f"mqtts://127.0.0.1:{port}",
                                                   tls_ca=tmp_path / ca_file),
                    state_dir=tmp_path / f"state-{ca_file}", spool_synchronous="NORMAL")
                gw = Gateway(st.site, settings)
                stop = asyncio.Event()
                task = asyncio.create_task(gw.run(stop))
                try:
                    await until(lambda gw=gw: gw.link.connected, 3, "TLS connection")  # type: ignore[misc]
                    connected = True
                except AssertionError:
                    connected = False
                stop.set()
                await asyncio.wait_for(task, 15)
                assert connected is expected, ca_file

    try:
        deadline = time.monotonic() + 10
        while (tmp_path / "mq.log").exists() is False and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        asyncio.run(scenario())
    finally:
        broker.terminate()
        broker.wait(10)
