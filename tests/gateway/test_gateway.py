"""The gateway end to end, in process: real Modbus and OPC UA servers, a real Mosquitto."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from geoscada.services import Mosquitto
from plant.contract import Birth, CommandAck, DataBatch, Death, Outcome
from plant.site import Site
from tests.gateway.harness import running_gateway, station
from tests.gateway.mqtt_helpers import Collector, until
from tests.gateway.signers import signed

pytestmark = pytest.mark.integration


def latest(collector: Collector, point: str) -> dict[str, object] | None:
    found = [s for s in collector.samples() if s["p"] == point]
    return found[-1] if found else None


def test_birth_data_health_and_clean_death(site: Site, mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/#")
        async with station(site) as st, running_gateway(st.site, mosquitto.port, tmp_path) as gw:
            await until(lambda: latest(collector, "gateway.spool.depth") is not None, 10,
                        "health points")
            await until(lambda: latest(collector, "RW1.water_level") is not None, 10,
                        "OPC UA values")
            await until(lambda: latest(collector, "RW1.volume") is not None, 10, "slow group")
            session = gw.session
        # the broker is shared with other tests: their retained births and deaths arrive too
        def deaths() -> list[Death]:
            return [d for d in (Death.model_validate_json(m.payload) for m in collector.of("death"))
                    if d.session == session]
        collector.wait_for(lambda: bool(deaths()), 5, "death")
        collector.close()
        births = [b for b in (Birth.model_validate_json(m.payload) for m in collector.of("birth"))
                  if b.session == session]
        assert births
        announced = {p.id for p in births[0].points}
        assert {p.id for p in site.points} <= announced
        assert {"gateway.plc1.poll_latency", "gateway.plc2.errors", "gateway.opc1.connected",
                "gateway.spool.depth", "gateway.spool.oldest_age", "gateway.spool.high_water"
                } <= announced
        speed = next(p for p in births[0].points if p.id == "PW1.speed_setpoint")
        assert speed.writable and speed.limits == (20, 50) and speed.unit == "Hz"
        batches = [b for b in (DataBatch.model_validate_json(m.payload)
                               for m in collector.of("data")) if b.session == session]
        assert [b.seq for b in batches] == list(range(len(batches)))
        assert not any(b.historical for b in batches)
        values = {s.p: s.v for b in batches for s in b.samples}
        assert values["PW1.wellhead_temp"] == pytest.approx(61.5)
        assert values["PW1.wellhead_pressure"] == pytest.approx(0.45)
        assert values["RW1.volume"] == 1234
        assert values["RW1.water_level"] == pytest.approx(42.0)
        assert values["RW1.injection_temp"] == pytest.approx(18.5)
        assert values["gateway.plc1.connected"] is True
        death = deaths()[-1]
        assert death.clean and death.last_seq == batches[-1].seq

    asyncio.run(scenario())


def test_deadband_reports_only_real_changes(site: Site, mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/data")
        async with station(site) as st, running_gateway(st.site, mosquitto.port, tmp_path):
            await until(lambda: latest(collector, "PW1.flow") is not None, 10, "first flow")
            st.plc1.set_float(st.plc1.inputs, 2, 88.3)  # within the 0.5 m3/h deadband
            await asyncio.sleep(1.2)
            st.plc1.set_float(st.plc1.inputs, 2, 90.0)
            await until(lambda: latest(collector, "PW1.flow")["v"] == pytest.approx(90.0),  # type: ignore[index]
                        5, "flow change past deadband")
        collector.close()
        flows = [s["v"] for s in collector.samples() if s["p"] == "PW1.flow"]
        assert flows == [pytest.approx(88.0), pytest.approx(90.0)]

    asyncio.run(scenario())


def test_silent_modbus_device_goes_bad_and_others_keep_their_rate(
        site: Site, mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/data")
        async with station(site) as st, running_gateway(st.site, mosquitto.port, tmp_path) as gw:
            await until(lambda: latest(collector, "RW1.flow") is not None, 10, "plc2 data")
            plc1_before = st.plc1.requests
            await asyncio.sleep(2.0)
            rate_before = (st.plc1.requests - plc1_before) / 2.0
            st.plc2.silent = True
            silenced = asyncio.get_running_loop().time()
            period = st.site.poll_groups["fast"]
            await until(lambda: (latest(collector, "RW1.flow") or {}).get("q") == "bad",
                        5, "RW1.flow bad")
            went_bad = asyncio.get_running_loop().time() - silenced
            plc1_during = st.plc1.requests
            await asyncio.sleep(3.0)
            rate_during = (st.plc1.requests - plc1_during) / 3.0
            health = gw.device_health()
        collector.close()
        assert went_bad <= 2 * period + 0.3, f"bad after {went_bad:.2f} s"
        bad = latest(collector, "RW1.flow")
        assert bad is not None and bad["v"] is None and bad["r"] in ("timeout", "comm_lost")
        assert rate_during >= 0.85 * rate_before, (rate_before, rate_during)
        assert health["plc1"].connected and not health["plc2"].connected
        assert health["plc2"].errors >= 1

    asyncio.run(scenario())


def command(point: str, value: object, *, ident: str, expires_in: float = 30.0) -> bytes:
    return signed(point, value, ident, expires_in=expires_in)


def test_commands_are_checked_written_read_back_and_acknowledged(
        site: Site, mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/#")
        cmd = "geoscada/v1/gw-test/cmd"
        async with station(site) as st, running_gateway(st.site, mosquitto.port, tmp_path) as gw:
            await until(lambda: latest(collector, "PW1.speed_setpoint") is not None, 10, "data")
            await until(lambda: latest(collector, "HP1.supply_temp_setpoint") is not None, 10,
                        "OPC UA data")
            sent = [
                (cmd, command("PW1.speed_setpoint", 45.5, ident="ok-modbus")),
                (cmd, command("HP1.supply_temp_setpoint", 52.0, ident="ok-opcua")),
                (cmd, command("PW1.run_command", True, ident="ok-coil")),
                (cmd, command("PW1.speed_setpoint", 55.0, ident="too-high")),
                (cmd, command("PW1.speed_setpoint", 21.0, ident="too-far")),
                (cmd, command("PW1.speed_setpoint", 42.0, ident="late", expires_in=-1)),
                (cmd, command("PW1.flow", 10.0, ident="read-only")),
                (cmd, command("PW9.nothing", 1.0, ident="unknown")),
                (cmd, command("PW1.run_command", 1.5, ident="not-bool")),
                (cmd, b'{"id": "half", "point": "PW1.speed_setpoint"}'),
                (cmd, b"\xff\xfe garbage \x00"),
                (cmd, b"[1, 2, 3]"),
                (cmd + "/extra", b"{}"),
                ("geoscada/v1/gw-test/rebirth", b"not json"),
            ]
            for topic, payload in sent:
                collector.publish(topic, payload)
                if payload.startswith(b'{"id": "ok'):
                    await asyncio.sleep(0.3)  # let each write land before the next check
            await until(lambda: len(collector.of("ack")) >= 10, 10, "ten acks")
            await until(lambda: len(gw.spool.command_log()) >= len(sent), 10, "command log")
            # the gateway is still running and publishing after all that
            seq_now = gw.seq
            await until(lambda: gw.seq > seq_now + 2, 5, "more data")
            log = gw.spool.command_log()
        collector.close()
        acks = {a.id: a for a in (CommandAck.model_validate_json(m.payload)
                                  for m in collector.of("ack"))}
        assert acks["ok-modbus"].outcome is Outcome.DONE
        assert acks["ok-modbus"].readback == pytest.approx(45.5)
        assert st.plc1.holding[0] == 455
        assert acks["ok-opcua"].outcome is Outcome.DONE
        assert acks["ok-opcua"].readback == pytest.approx(52.0)
        assert acks["ok-coil"].outcome is Outcome.DONE and acks["ok-coil"].readback is True
        assert st.plc1.coils[0] == 1
        expected = {"too-high": "out_of_limits", "too-far": "step_too_large", "late": "expired",
                    "read-only": "not_writable", "unknown": "unknown_point",
                    "not-bool": "wrong_type", "half": "malformed"}
        for ident, code in expected.items():
            assert acks[ident].outcome is Outcome.REFUSED, ident
            assert acks[ident].reason.startswith(code), (ident, acks[ident].reason)
        reasons = [reason for _, outcome, reason in log if outcome == "refused"]
        assert any(r.startswith("malformed: not JSON") for r in reasons)
        assert any(r.startswith("unknown_topic") for r in reasons)
        assert any(r.startswith("malformed: rebirth") for r in reasons)
        assert len(log) == len(sent)

    asyncio.run(scenario())


def test_rebirth_request_republishes_birth_and_every_value(
        site: Site, mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/#")
        async with station(site) as st, running_gateway(st.site, mosquitto.port, tmp_path):
            await until(lambda: latest(collector, "RW1.volume") is not None, 10, "data")
            births = len(collector.of("birth"))
            before = len(collector.samples())
            collector.publish("geoscada/v1/gw-test/rebirth", b'{"origin": "test"}')
            await until(lambda: len(collector.of("birth")) > births, 5, "second birth")
            await until(lambda: len({s["p"] for s in collector.samples()[before:]})
                        >= len(site.points), 5, "every point again")
        collector.close()

    asyncio.run(scenario())


def test_broker_credentials_are_used_and_a_refusal_is_survived(site: Site, tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mq", users={"gateway": "s3cret"}, allow_anonymous=False)
    broker.start()

    async def scenario() -> None:
        from gateway.runtime import Gateway, GatewaySettings
        from runtime.mqtt import BrokerSettings

        async with station(site) as st:
            for password, expected in [("wrong", False), ("s3cret", True)]:
                settings = GatewaySettings(
                    broker=BrokerSettings("127.0.0.1", broker.port, username="gateway",
                                          password=password),
                    state_dir=tmp_path / password, spool_synchronous="NORMAL")
                gw = Gateway(st.site, settings)
                stop = asyncio.Event()
                task = asyncio.create_task(gw.run(stop))
                try:
                    await until(lambda gw=gw: gw.link.connected, 3, "connection")  # type: ignore[misc]
                    connected = True
                except AssertionError:
                    connected = False
                stop.set()
                await asyncio.wait_for(task, 15)
                assert connected is expected, password

    try:
        asyncio.run(scenario())
    finally:
        broker.stop()
