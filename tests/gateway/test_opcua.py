"""OPC UA driver against a real asyncua server: subscriptions, polling, writes, restarts."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.ua.status_codes import StatusCodes

from gateway.driver import DeviceError, DeviceState
from gateway.opcua import OpcUaDriver
from gateway.quality import Reading
from gateway.runtime import DevicePoller
from plant.contract import Quality, Reason
from plant.site import OpcUaDevice, Point, Site
from tests.gateway.fake_opcua import FakeOpcUa

NODES = {"RW1.water_level": 42.0, "RW1.injection_temp": 18.5, "HP1.supply_temp_setpoint": 45.0}


def device(endpoint: str) -> OpcUaDevice:
    return OpcUaDevice(id="opc1", protocol="opcua", endpoint=endpoint, timeout_s=1.0)


async def connected(site: Site, tmp_path: Path) -> tuple[FakeOpcUa, tuple[Point, ...], OpcUaDriver]:
    """A fake server with the site's nodes and a driver connected to it."""
    server = FakeOpcUa(dict(NODES))
    await server.start()
    points = site.points_on("opc1")
    driver = OpcUaDriver(device(server.endpoint), points, tmp_path)
    await driver.connect()
    return server, points, driver


def test_subscribed_and_polled_points_are_read_and_written(site: Site, tmp_path: Path) -> None:
    async def scenario() -> None:
        server, points, driver = await connected(site, tmp_path)
        got = {r.point: r for r in await driver.read(points)}
        assert got["RW1.water_level"].v == pytest.approx(42.0)
        assert got["RW1.injection_temp"].v == pytest.approx(18.5)
        assert all(r.q is Quality.GOOD for r in got.values())
        await server.set("RW1.water_level", 43.5)
        await server.set("RW1.injection_temp", 19.0)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = {r.point: r for r in await driver.read(points)}
            if got["RW1.water_level"].v == pytest.approx(43.5):
                break
            await asyncio.sleep(0.1)
        assert got["RW1.water_level"].v == pytest.approx(43.5)
        assert got["RW1.injection_temp"].v == pytest.approx(19.0)
        await driver.write(site.point("HP1.supply_temp_setpoint"), 52.0)
        assert await server.get("HP1.supply_temp_setpoint") == pytest.approx(52.0)
        await driver.close()
        await server.stop()

    asyncio.run(scenario())


def test_a_restarted_server_is_found_again_without_help(site: Site, tmp_path: Path) -> None:
    async def scenario() -> None:
        server = FakeOpcUa(dict(NODES))
        await server.start()
        points = site.points_on("opc1")
        driver = OpcUaDriver(device(server.endpoint), points, tmp_path)
        emitted: list[list[Reading]] = []
        poller = DevicePoller(site.device("opc1"), points, {"fast": 0.2, "slow": 0.2}, driver,
                              emitted.append)
        poller.backoff.base_s = 0.2
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(1.0)
        assert poller.health.connected
        await server.stop()
        await asyncio.sleep(1.5)
        assert any(r.q is Quality.BAD for batch in emitted[-2:] for r in batch)
        assert not poller.health.connected
        await server.start()
        await server.set("RW1.water_level", 47.0)
        restarted = time.monotonic()
        while time.monotonic() - restarted < 15:
            last = {r.point: r for r in emitted[-1]}
            level = last.get("RW1.water_level")
            if level is not None and level.q is Quality.GOOD and level.v == pytest.approx(47.0):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail(f"no data within 15 s of the restart; last batch {emitted[-1]}")
        assert driver.state is DeviceState.CONNECTED
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()

    asyncio.run(scenario())


def status(code: int) -> ua.StatusChangeNotification:
    """A subscription's status change, as asyncua hands it to the handler."""
    return ua.StatusChangeNotification(Status=ua.StatusCode(ua.UInt32(code)))


def client_side(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the gateway and its OPC UA client logged; the test's own server speaks for itself."""
    return [r for r in caplog.records if not r.name.startswith("asyncua.server")]


def test_a_bad_subscription_status_gives_the_session_up_at_once_and_a_good_one_does_not(
        site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        server, points, driver = await connected(site, tmp_path)
        driver.status_change_notification(status(StatusCodes.Good))
        assert all(r.q is Quality.GOOD for r in await driver.read(points))

        driver.status_change_notification(status(StatusCodes.BadTimeout))
        with pytest.raises(DeviceError) as lost:
            await driver.read(points)
        assert driver.state is DeviceState.DISCONNECTED
        assert lost.value.reason is Reason.NOT_CONNECTED
        assert "BadTimeout" in lost.value.detail
        await driver.connect()  # a new session forgets why the last one ended
        assert all(r.q is Quality.GOOD for r in await driver.read(points))
        await driver.close()
        with pytest.raises(DeviceError, match=r"^not connected$"):
            await driver.read(points)
        await server.stop()

    asyncio.run(scenario())
    assert not [r for r in client_side(caplog) if r.levelno >= logging.WARNING]


def test_a_lost_connection_reported_by_asyncua_makes_points_bad_then_good_again(
        site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """asyncua's own path: it tells every subscription BadShutdown when the link is gone."""
    period = 0.5

    async def scenario() -> None:
        server = FakeOpcUa(dict(NODES))
        await server.start()
        points = site.points_on("opc1")
        driver = OpcUaDriver(device(server.endpoint), points, tmp_path)
        emitted: list[tuple[float, list[Reading]]] = []
        poller = DevicePoller(site.device("opc1"), points, {"fast": period, "slow": period},
                              driver, lambda batch: emitted.append((time.monotonic(), batch)))
        poller.backoff.base_s = 0.2
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(1.5)
        assert poller.health.connected
        client = driver._client
        assert client is not None
        told = time.monotonic()
        await client.uaclient.inform_subscriptions(ua.StatusCode(ua.UInt32(StatusCodes.BadShutdown)))
        # a read already in flight may still bring good values; the first bad batch counts
        bad = [(t, b) for t, b in emitted if t > told and b[0].q is Quality.BAD]
        while not bad and time.monotonic() - told < 2:
            await asyncio.sleep(0.01)
            bad = [(t, b) for t, b in emitted if t > told and b[0].q is Quality.BAD]
        at, batch = bad[0]
        assert at - told <= period + 0.5  # the next scan (0.5 s: slack of a loaded machine)
        assert {(r.q, r.r, r.d) for r in batch} == {
            (Quality.BAD, Reason.NOT_CONNECTED, "server status BadShutdown")}
        assert not poller.health.connected
        while time.monotonic() - told < 10:  # the server is still up: a new session
            if poller.health.connected and all(r.q is Quality.GOOD for r in emitted[-1][1]):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail(f"not good again within 10 s; last batch {emitted[-1][1]}")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()

    asyncio.run(scenario())
    assert not [r for r in client_side(caplog) if r.levelno >= logging.ERROR]
    said = [r for r in client_side(caplog) if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in said] == [
        "device opc1 not answering: not_connected: server status BadShutdown"]
    assert said[0].exc_info is None


def test_unreachable_server_fails_to_connect(site: Site, tmp_path: Path) -> None:
    async def scenario() -> None:
        driver = OpcUaDriver(device("opc.tcp://127.0.0.1:1/geoscada"), site.points_on("opc1"),
                             tmp_path)
        with pytest.raises(DeviceError):
            await driver.connect()

    asyncio.run(scenario())


def test_basic256sha256_sign_and_encrypt(site: Site, tmp_path: Path) -> None:
    from asyncua import ua
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    async def scenario() -> None:
        server_cert, server_key = tmp_path / "server-cert.der", tmp_path / "server-key.pem"
        await setup_self_signed_certificate(
            server_key, server_cert, "urn:geoscada:test:server", "localhost",
            [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "test server"})
        server = FakeOpcUa(dict(NODES), security=(
            [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt], server_cert, server_key))
        await server.start()
        secure = OpcUaDevice(id="opc1", protocol="opcua", endpoint=server.endpoint,
                             security_policy="Basic256Sha256", security_mode="SignAndEncrypt",
                             timeout_s=3.0)
        points = site.points_on("opc1")
        state = tmp_path / "gateway-state"
        with pytest.raises(DeviceError, match="not trusted"):
            await OpcUaDriver(secure, points, state).connect()  # unknown server certificate
        driver = OpcUaDriver(secure, points, state, first_use=True)
        await driver.connect()
        got = {r.point: r for r in await driver.read(points)}
        assert got["RW1.injection_temp"].v == pytest.approx(18.5)
        assert (state / "opcua-client-cert.der").exists()
        await driver.close()
        # a pinned server certificate that is not the server's: no session
        other_cert, other_key = tmp_path / "other-cert.der", tmp_path / "other-key.pem"
        await setup_self_signed_certificate(
            other_key, other_cert, "urn:geoscada:test:other", "localhost",
            [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "impostor"})
        (state / "opcua-trust" / "opc1.der").write_bytes(other_cert.read_bytes())
        with pytest.raises(DeviceError):
            await OpcUaDriver(secure, points, state).connect()
        (state / "opcua-trust" / "opc1.der").write_bytes(server_cert.read_bytes())
        pinned = OpcUaDriver(secure, points, state)
        await pinned.connect()
        await pinned.close()
        plain = OpcUaDriver(device(server.endpoint), points, tmp_path)
        with pytest.raises(DeviceError):
            await plain.connect()  # the server offers no unsecured endpoint
        await server.stop()

    asyncio.run(scenario())
