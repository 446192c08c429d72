"""Store-and-forward: broker outages and a killed gateway lose nothing; replays are historical."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from geoscada.services import Mosquitto
from plant.contract import Death
from plant.site import Site
from tests.gateway.harness import running_gateway, station
from tests.gateway.mqtt_helpers import Acknowledger, Collector, until
from tests.gateway.procs import GatewayProcess, start_rig

pytestmark = pytest.mark.integration


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def assert_exactly_once(batches: list[dict[str, Any]], session: int, last_seq: int) -> None:
    """Every batch of the session arrived; keyed by (point, time) every sample is there once."""
    ours = [b for b in batches if b["session"] == session]
    assert {b["seq"] for b in ours} == set(range(last_seq + 1)), "batches missing"
    unique = {b["seq"]: b for b in ours}
    by_key: dict[tuple[str, str], set[str]] = {}
    for batch in ours:
        for s in batch["samples"]:
            by_key.setdefault((s["p"], s["t"]), set()).add(json.dumps([s["v"], s["q"]]))
    assert all(len(values) == 1 for values in by_key.values()), "one key, two values"
    assert len(by_key) == sum(len(b["samples"]) for b in unique.values()), \
        "a sample was published in two different batches"


def test_short_outage_is_replayed_in_order_flagged_historical_while_live_flows(
        site: Site, tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mq")
    broker.start()

    async def scenario() -> None:
        collector = Acknowledger(broker.port, "gw-test")
        async with station(site) as st, running_gateway(
                st.site, broker.port, tmp_path / "gw", replay_rate=4.0) as gw:
            async def wobble() -> None:
                flow = 80.0
                while True:
                    flow = 80.0 if flow > 120 else flow + 1.0
                    st.plc1.set_float(st.plc1.inputs, 2, flow)
                    await asyncio.sleep(0.1)
            wobbler = asyncio.create_task(wobble())
            await asyncio.sleep(2.0)
            await asyncio.to_thread(broker.stop)
            down_at = time.time()
            await asyncio.sleep(4.0)
            assert gw.spool.depth > 5
            await asyncio.to_thread(broker.start)
            up_at = time.time()
            await until(lambda: gw.spool.depth == 0, 30, "the spool to drain")
            wobbler.cancel()
            session = gw.session
        await asyncio.to_thread(collector.wait_for, lambda: bool(collector.of("data")) and
                                collector.batches()[-1]["seq"] >= 0, 5, "data")
        await asyncio.sleep(0.5)
        collector.close()
        batches = collector.batches()
        last_seq = max(b["seq"] for b in batches if b["session"] == session)
        assert_exactly_once(batches, session, last_seq)
        outage = [b for b in batches if b["samples"] and
                  down_at + 0.5 < min(seconds(s["t"]) for s in b["samples"]) < up_at - 0.5]
        assert outage and all(b["historical"] for b in outage)
        # replay is rate-limited: live batches arrived while the backlog was still going out
        arrival = [(b["historical"], b["seq"]) for b in batches]
        last_historical = max(i for i, (historical, _) in enumerate(arrival) if historical)
        first_after = min(i for i, (historical, seq) in enumerate(arrival)
                          if not historical and seq > max(b["seq"] for b in outage))
        assert first_after < last_historical
        # replayed in order
        replayed = [seq for historical, seq in arrival if historical]
        assert replayed == sorted(replayed)

    try:
        asyncio.run(scenario())
    finally:
        broker.stop()


def spooled_seqs(state_dir: Path, session: int) -> list[int]:
    db = sqlite3.connect(state_dir / "spool.db")
    try:
        return [r[0] for r in db.execute("SELECT seq FROM batch WHERE session = ? ORDER BY id",
                                         (session,))]
    finally:
        db.close()


def births(collector: Collector) -> list[int]:
    return [m.json()["session"] for m in collector.of("birth")]


@pytest.mark.slow
def test_gateway_killed_while_broker_down_delivers_its_spool_after_restart(tmp_path: Path) -> None:
    with contextlib.ExitStack() as cleanup:
        broker, sim, gateway, collector = start_rig(tmp_path, cleanup, "gw1")
        collector.wait_for(lambda: len(collector.of("data")) > 10, 30, "data from the gateway")
        first = births(collector)[0]
        broker.stop()
        seen_live = {b["seq"] for b in collector.batches() if b["session"] == first}
        time.sleep(4.0)
        gateway.kill()
        waiting = spooled_seqs(gateway.state_dir, first)
        assert len(waiting) > 3, "the gateway spooled while the broker was down"
        last_seq = waiting[-1]
        restarted = GatewayProcess(tmp_path / "gw1", broker.port, sim.endpoints_file)
        cleanup.callback(restarted.stop)
        time.sleep(1.0)
        broker.start()
        collector.wait_for(lambda: {b["seq"] for b in collector.batches()
                                    if b["session"] == first} >= set(range(last_seq + 1)),
                           30, "the first session's spooled batches")
        assert len(set(births(collector))) == 2 and max(births(collector)) > first
        assert_exactly_once(collector.batches(), first, last_seq)
        # the spool also still holds what went out live (no historian confirmed it): that is
        # sent again too; what the broker never saw arrives, all of it, flagged historical
        replayed = [b for b in collector.batches() if b["session"] == first and
                    b["seq"] in waiting and b["seq"] not in seen_live]
        assert replayed and all(b["historical"] for b in replayed)


@pytest.mark.slow
def test_broker_stopped_for_a_minute_mid_run_loses_nothing(tmp_path: Path) -> None:
    with contextlib.ExitStack() as cleanup:
        broker, _sim, gateway, collector = start_rig(tmp_path, cleanup)
        collector.wait_for(lambda: len(collector.of("data")) > 10, 30, "data from the gateway")
        time.sleep(5.0)
        broker.stop()
        down_at = time.time()
        time.sleep(60.0)
        broker.start()
        up_at = time.time()
        session = births(collector)[0]

        def caught_up() -> bool:
            seqs = {b["seq"] for b in collector.batches() if b["session"] == session}
            return bool(seqs) and seqs == set(range(max(seqs) + 1)) and any(
                seconds(s["t"]) > up_at + 2 for b in collector.batches() for s in b["samples"])
        collector.wait_for(caught_up, 60, "the backlog")
        gateway.stop()
        collector.wait_for(lambda: any(Death.model_validate_json(m.payload).clean
                                       for m in collector.of("death")), 10, "clean death")
        death = Death.model_validate_json(collector.of("death")[-1].payload)
        assert death.session == session and death.last_seq is not None
        batches = collector.batches()
        assert_exactly_once(batches, session, death.last_seq)
        outage = [b for b in batches if b["samples"] and
                  down_at + 1 < min(seconds(s["t"]) for s in b["samples"]) < up_at - 1]
        assert len(outage) > 50
        assert all(b["historical"] for b in outage)
        assert {b["seq"] for b in outage} <= {b["seq"] for b in batches if b["historical"]}

def test_full_spool_drops_the_oldest_and_raises_its_high_water_point(
        site: Site, tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mq")
    broker.start()

    async def scenario() -> None:
        async with station(site) as st, running_gateway(
                st.site, broker.port, tmp_path / "gw", spool_max_bytes=2500) as gw:
            async def wobble() -> None:
                flow = 80.0
                while True:
                    flow = 80.0 if flow > 120 else flow + 1.0
                    st.plc1.set_float(st.plc1.inputs, 2, flow)
                    await asyncio.sleep(0.05)
            wobbler = asyncio.create_task(wobble())
            await until(lambda: gw.link.connected, 5, "broker connection")
            await asyncio.to_thread(broker.stop)
            await until(lambda: gw.spool.dropped > 0, 20, "the spool to overflow")
            await until(lambda: gw.spool_health().high_water, 5, "the high-water point")
            assert gw.spool_health().dropped > 0
            assert gw.spool.size_bytes <= 2500
            collector_port = broker.port
            await asyncio.to_thread(broker.start)
            collector = Acknowledger(collector_port, "gw-test")
            try:
                await until(lambda: any(s["p"] == "gateway.spool.dropped" and s["v"] > 0
                                        for s in collector.samples()), 10,
                            "the dropped count published")
                # every batch published since the overflow says which seqs will never come,
                # so the watermark passes the hole and the spool drains under live traffic
                await until(lambda: not gw.spool_health().high_water, 30, "the spool to drain")
                await until(lambda: gw.spool.depth < 5, 30, "the spool to empty")
                resent = gw.forwarder.resent
                await asyncio.sleep(gw.forwarder.resend_after() + 2.0)
                batches = [b for b in collector.batches() if b["session"] == gw.session]
            finally:
                collector.close()
            wobbler.cancel()
            # counted by seq from outside: the dropped oldest are the only missing ones, each
            # once, and nothing above them is missing
            lost = max(b.get("lost_through", -1) for b in batches)
            received = {b["seq"] for b in batches}
            assert lost + 1 == gw.spool.dropped
            assert not received & set(range(lost + 1)), "a dropped batch was sent"
            assert received == set(range(lost + 1, max(received) + 1)), "a batch is missing"
            assert gw.forwarder.resent - resent < 5, "confirmed batches are still being resent"

    try:
        asyncio.run(scenario())
    finally:
        broker.stop()
