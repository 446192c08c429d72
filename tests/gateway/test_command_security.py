"""Commands tried from outside against a running gateway and a real broker: retained, replayed,
unsigned, out of bounds, concurrent; rebirth floods."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from geoscada.services import Mosquitto
from plant.contract import Birth, CommandAck, Outcome
from plant.site import Site
from tests.gateway.harness import running_gateway, station
from tests.gateway.mqtt_helpers import Collector, until
from tests.gateway.signers import STRANGER, signed

pytestmark = pytest.mark.integration

CMD = "geoscada/v1/gw-test/cmd"
SPEED = "PW1.speed_setpoint"  # plc1 holding register 0, scale 0.1


def acks(collector: Collector) -> list[CommandAck]:
    return [CommandAck.model_validate_json(m.payload) for m in collector.of("ack")]


def acks_of(collector: Collector, ident: str) -> list[CommandAck]:
    return [a for a in acks(collector) if a.id == ident]


def publish_retained(port: int, topic: str, payload: bytes) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def retained_on(port: int, topic: str, wait_s: float = 1.0) -> list[bytes]:
    """What a new subscriber receives as retained on ``topic`` (non-empty payloads)."""
    got: list[bytes] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.on_message = lambda c, u, m: got.append(bytes(m.payload)) if m.retain else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    time.sleep(wait_s)
    client.disconnect()
    client.loop_stop()
    return [p for p in got if p]


def test_a_retained_command_is_never_executed_and_is_cleared(
        site: Site, mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/ack")
        # left on the broker before the gateway connects: delivered at its subscription
        publish_retained(mosquitto.port, CMD, signed(SPEED, 45.5, "kept-1", expires_in=100))
        try:
            async with station(site) as st:
                async with running_gateway(st.site, mosquitto.port, tmp_path):
                    await until(lambda: bool(acks_of(collector, "kept-1")), 10, "retained ack")
                    # published retained while the gateway is connected: refused as well
                    publish_retained(mosquitto.port, CMD, signed(SPEED, 46.0, "kept-2",
                                                                 expires_in=100))
                    await until(lambda: bool(acks_of(collector, "kept-2")), 10, "live ack")
                    await asyncio.sleep(0.5)
                assert await asyncio.to_thread(retained_on, mosquitto.port, CMD) == []
                # a new connection of the gateway finds nothing to run
                publish_retained(mosquitto.port, CMD, signed(SPEED, 47.0, "kept-3",
                                                             expires_in=100))
                async with running_gateway(st.site, mosquitto.port, tmp_path):
                    await until(lambda: bool(acks_of(collector, "kept-3")), 10, "after restart")
                    await asyncio.sleep(1.0)
                assert st.plc1.holding[0] == 400  # never written
        finally:
            publish_retained(mosquitto.port, CMD, b"")
            collector.close()
        for ident in ("kept-1", "kept-2", "kept-3"):
            found = acks_of(collector, ident)
            assert [a.outcome for a in found] == [Outcome.REFUSED], ident
            assert found[0].reason.startswith("retained:"), found[0].reason

    asyncio.run(scenario())


def test_a_command_id_seen_before_is_not_executed_again_also_after_a_restart(
        site: Site, mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/#")
        payload = signed(SPEED, 45.5, "once", expires_in=100)
        async with station(site) as st:
            async with running_gateway(st.site, mosquitto.port, tmp_path):
                await until(lambda: bool(collector.of("data")), 10, "data")
                await asyncio.sleep(1.2)  # a current value to check max_step against
                collector.publish(CMD, payload)
                await until(lambda: bool(acks_of(collector, "once")), 10, "first ack")
                st.plc1.holding[0] = 400  # an operator stops it at the PLC
                collector.publish(CMD, payload)  # captured and sent again (or redelivered)
                await until(lambda: len(acks_of(collector, "once")) == 2, 10, "replay ack")
            async with running_gateway(st.site, mosquitto.port, tmp_path) as gw:
                await until(lambda: any(Birth.model_validate_json(m.payload).session ==
                                        gw.session for m in collector.of("birth")), 10,
                            "birth of the restarted gateway")
                await asyncio.sleep(0.3)
                collector.publish(CMD, payload)
                await until(lambda: len(acks_of(collector, "once")) == 3, 10, "after restart")
            assert st.plc1.holding[0] == 400
        collector.close()
        outcomes = [(a.outcome, a.reason.split(":")[0]) for a in acks_of(collector, "once")]
        assert outcomes == [(Outcome.DONE, ""), (Outcome.REFUSED, "replayed"),
                            (Outcome.REFUSED, "replayed")]

    asyncio.run(scenario())


def test_untrusted_commands_are_refused_with_their_reason_acked_and_audited(
        site: Site, mosquitto: Mosquitto, tmp_path: Path) -> None:
    refused = {
        "unsigned": (b'{"id": "unsigned", "point": "PW1.speed_setpoint", "value": 42.0, '
                     b'"origin": "x", "issued": "2026-01-01T00:00:00Z", '
                     b'"expires": "2099-01-01T00:00:00Z"}', "unsigned"),
        "unknown-key": (signed(SPEED, 42.0, "unknown-key", key="nobody", private_key=STRANGER),
                        "unknown_key"),
        "forged": (signed(SPEED, 42.0, "forged", private_key=STRANGER), "bad_signature"),
        "ctl-run": (signed("PW1.run_command", True, "ctl-run", key="ctl-test",
                           role="controller"), "role_not_allowed"),
        "expired": (signed(SPEED, 42.0, "expired", issued_in=-60, expires_in=-1), "expired"),
        "ahead": (signed(SPEED, 42.0, "ahead", issued_in=60, expires_in=90),
                  "issued_in_future"),
        "forever": (signed(SPEED, 42.0, "forever", expires_in=80 * 365 * 86400.0),
                    "lifetime_too_long"),
        "text": (signed(SPEED, "85", "text"), "malformed"),
    }

    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/#")
        async with station(site) as st, running_gateway(st.site, mosquitto.port, tmp_path) as gw:
            await until(lambda: bool(collector.of("data")), 10, "data")
            await asyncio.sleep(1.2)
            for payload, _ in refused.values():
                collector.publish(CMD, payload)
            collector.publish(CMD, signed(SPEED, 44.0, "valid", key="ctl-test",
                                          role="controller"))
            await until(lambda: len(acks(collector)) >= len(refused) + 1, 10, "every ack")
            await asyncio.sleep(0.5)
            log = gw.spool.command_log()
        collector.close()
        for ident, (_, code) in refused.items():
            found = acks_of(collector, ident)
            assert len(found) == 1 and found[0].outcome is Outcome.REFUSED, ident
            assert found[0].reason.startswith(code + ":"), (ident, found[0].reason)
            assert (ident, "refused", found[0].reason) in log
        valid = acks_of(collector, "valid")
        assert [a.outcome for a in valid] == [Outcome.DONE]
        assert st.plc1.holding[0] == 440
        assert [entry for entry in log if entry[0] == "valid"] == [("valid", "done", "")]

    asyncio.run(scenario())


def test_one_command_at_a_time_per_point(site: Site, mosquitto: Mosquitto,
                                         tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/#")
        async with station(site) as st, running_gateway(st.site, mosquitto.port, tmp_path) as gw:
            await until(lambda: bool(collector.of("data")), 10, "data")
            await asyncio.sleep(1.2)
            # two commands to one point arriving together: the second finds the first writing
            gw.message(CMD, signed(SPEED, 44.0, "first"))
            gw.message(CMD, signed(SPEED, 46.0, "second"))
            gw.message(CMD, signed("PW1.run_command", True, "other-point"))
            await until(lambda: len(acks(collector)) >= 3, 10, "three acks")
        collector.close()
        assert [a.outcome for a in acks_of(collector, "first")] == [Outcome.DONE]
        assert [a.outcome for a in acks_of(collector, "other-point")] == [Outcome.DONE]
        second = acks_of(collector, "second")
        assert len(second) == 1 and second[0].reason.startswith("busy:"), second
        assert st.plc1.holding[0] == 440

    asyncio.run(scenario())


def test_rebirth_requests_are_rate_limited(site: Site, mosquitto: Mosquitto,
                                          tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/birth")
        async with station(site) as st, running_gateway(
                st.site, mosquitto.port, tmp_path, rebirth_min_interval_s=2.0) as gw:
            def births() -> int:
                return sum(1 for m in collector.of("birth")
                           if Birth.model_validate_json(m.payload).session == gw.session)
            await until(lambda: births() == 1, 10, "first birth")
            for _ in range(20):
                collector.publish("geoscada/v1/gw-test/rebirth", b'{"origin": "flood"}')
            await until(lambda: births() == 2, 5, "the first request served at once")
            served = time.monotonic()
            await asyncio.sleep(0.5)
            assert births() == 2  # the other 19 wait for the end of the interval
            await until(lambda: births() == 3, 3, "one birth for all the others")
            assert time.monotonic() - served >= 1.9
            await asyncio.sleep(2.5)
            assert births() == 3
            log = gw.spool.command_log()
        collector.close()
        limited = [reason for _, outcome, reason in log if reason.startswith("rate_limited")]
        assert len(limited) == 1  # one line per burst

    asyncio.run(scenario())
