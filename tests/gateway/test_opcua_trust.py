"""The gateway and the simulator over Basic256Sha256: trust store, first-use pinning, a changed
server certificate, private keys 0600."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from gateway.driver import DeviceError
from gateway.opcua import OpcUaDriver, fingerprint
from plant.contract import Quality
from plant.site import OpcUaDevice, Site
from simulator.runtime import SimulatorHost
from tests.simulator.helpers import DOUBLET, run_with_host, site

pytestmark = pytest.mark.integration


def secure(doublet: Site, host: SimulatorHost, mode: str) -> OpcUaDevice:
    device = next(d for d in doublet.devices if isinstance(d, OpcUaDevice))
    endpoint = host.endpoints()[doublet.station.id][device.id]
    return OpcUaDevice.model_validate({**device.model_dump(), "endpoint": endpoint,
                                       "security_policy": "Basic256Sha256",
                                       "security_mode": mode, "timeout_s": 5.0})


def test_sign_and_encrypt_with_a_trust_store(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    doublet = site(DOUBLET)
    state = tmp_path / "gateway"
    trusted = state / "opcua-trust"

    async def first_server(host: SimulatorHost) -> bytes:
        device = secure(doublet, host, "SignAndEncrypt")
        points = doublet.points_on(device.id)
        with pytest.raises(DeviceError, match="not trusted"):
            await OpcUaDriver(device, points, state).connect()
        assert not trusted.exists() or not any(trusted.iterdir())

        with caplog.at_level(logging.WARNING, logger="gateway.opcua"):
            driver = OpcUaDriver(device, points, state, first_use=True)
            await driver.connect()
        pinned = (trusted / f"{device.id}.der").read_bytes()
        assert fingerprint(pinned) in caplog.text
        client = driver._client
        assert client is not None
        assert client.security_policy.Mode.name == "SignAndEncrypt"
        readings = await driver.read(points)
        assert readings and all(r.q is not Quality.BAD for r in readings), readings
        await driver.close()

        # pinned from now on: no first-use needed, Sign works with the same certificate
        signed = OpcUaDriver(secure(doublet, host, "Sign"), points, state)
        await signed.connect()
        await signed.close()
        assert host.certificate_dir is None
        return pinned

    pinned = run_with_host([doublet], first_server, warm_up_s=60.0)
    client_key = state / "opcua-client-key.pem"
    assert stat.S_IMODE(client_key.stat().st_mode) == 0o600

    server_dir = tmp_path / "new-server"

    async def changed_server(host: SimulatorHost) -> None:
        device = secure(doublet, host, "SignAndEncrypt")
        points = doublet.points_on(device.id)
        with pytest.raises(DeviceError, match="changed"):
            await OpcUaDriver(device, points, state, first_use=True).connect()
        assert (trusted / f"{device.id}.der").read_bytes() == pinned

    run_with_host([doublet], changed_server, warm_up_s=60.0, certificate_dir=server_dir)
    keys = list(server_dir.glob("*-key.pem"))
    assert keys and all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
