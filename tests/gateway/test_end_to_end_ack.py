"""End-to-end acknowledgement: the spool empties only into the database, never into the void."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from geoscada.services import Mosquitto
from historian.ingest import Historian
from historian.settings import HistorianSettings
from plant.site import Site
from tests.gateway.harness import running_gateway, station
from tests.gateway.mqtt_helpers import Acknowledger, Collector, until

pytestmark = pytest.mark.integration


def stored(dsn: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.encode(), params).fetchall()


@pytest.mark.parametrize("postgres", ["timescaledb"], indirect=True)
def test_a_historian_started_after_the_gateway_gets_every_batch(
        site: Site, tmp_path: Path, database: str) -> None:
    """The broker answers plain PUBACKs (a bystander is subscribed) while no historian is."""
    broker = Mosquitto(tmp_path / "mq")
    broker.start()
    bystander = Collector(broker.port, "geoscada/v1/gw-test/data")
    historian = Historian(HistorianSettings(broker=broker.url, db=database,
                                            client_id="late-historian", batch_max_wait_s=0.05,
                                            retry_max_s=1.0))

    async def scenario() -> None:
        async with station(site) as st, running_gateway(
                st.site, broker.port, tmp_path / "gw", resend_after_s=2.0) as gw:
            async def wobble() -> None:
                flow = 80.0
                while True:
                    flow = 80.0 if flow > 120 else flow + 1.0
                    st.plc1.set_float(st.plc1.inputs, 2, flow)
                    await asyncio.sleep(0.1)
            wobbler = asyncio.create_task(wobble())
            await until(lambda: len(bystander.of("data")) > 20, 15, "data with no historian")
            await asyncio.sleep(5.0)
            assert gw.spool.depth >= len(bystander.of("data")) - 2, \
                "a PUBACK (a bystander received it) deleted batches no historian has"
            early = {b["seq"] for b in bystander.batches()}
            historian.start()
            await until(lambda: gw.forwarder.confirmed(gw.session) >= max(early), 30,
                        "the historian to confirm what was published before it came")
            wobbler.cancel()
            session = gw.session
        # after the clean stop every batch the gateway made is in the database, exactly once
        published = {b["seq"] for b in bystander.batches() if b["session"] == session}
        last = max(published)

        def committed() -> list[int]:
            return [int(r[0]) for r in stored(  # type: ignore[call-overload]
                database, "SELECT seq FROM received_batches WHERE session = %s ORDER BY seq",
                session)]
        await until(lambda: committed()[-1:] >= [last], 15, "the last batches committed")
        assert committed() == list(range(len(committed()))), "a batch is missing"
        samples = {(s["p"], s["t"]) for b in bystander.batches() if b["session"] == session
                   for s in b["samples"]}
        rows = stored(database, "SELECT p.name, s.time FROM samples s JOIN points p"
                      " ON p.id = s.point_id WHERE p.station = 'gw-test'")
        in_db = {(str(name), t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))  # type: ignore[attr-defined]
                 for name, t in rows}
        assert samples <= in_db, f"{len(samples - in_db)} samples never reached the database"

    try:
        asyncio.run(scenario())
    finally:
        historian.stop()
        bystander.close()
        broker.stop()


def test_a_broker_frozen_past_keepalive_leaves_nothing_stuck(site: Site, tmp_path: Path) -> None:
    """SIGSTOP the broker for several keepalives, ask for rebirths meanwhile, then SIGCONT."""
    broker = Mosquitto(tmp_path / "mq")
    broker.start()
    acknowledger = Acknowledger(broker.port, "gw-test")

    async def scenario() -> None:
        async with station(site) as st, running_gateway(
                st.site, broker.port, tmp_path / "gw", resend_after_s=2.0) as gw:
            async def wobble() -> None:
                flow = 80.0
                while True:
                    flow = 80.0 if flow > 120 else flow + 1.0
                    st.plc1.set_float(st.plc1.inputs, 2, flow)
                    await asyncio.sleep(0.1)
            wobbler = asyncio.create_task(wobble())
            await until(lambda: gw.forwarder.confirmed(gw.session) > 10, 15, "confirmations")
            pid = broker.pid
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            try:
                # keepalive is 2 s: the gateway must notice within a few
                await until(lambda: not gw.link.connected, 10, "the frozen broker noticed")
                noticed = time.monotonic() - frozen_at
                await asyncio.sleep(max(0.0, 7.0 - noticed))
            finally:
                os.kill(pid, signal.SIGCONT)
            await until(lambda: gw.link.connected, 20, "the reconnection")
            # births published on request get message ids the stuck batches had before
            # (the test's own client may itself still be reconnecting after the freeze)
            await until(acknowledger.client.is_connected, 20, "the test client back")
            for _ in range(3):
                await asyncio.to_thread(acknowledger.publish, "geoscada/v1/gw-test/rebirth",
                                        b"{}")
            made = gw.seq
            await until(lambda: gw.forwarder.confirmed(gw.session) >= made - 1, 30,
                        "every batch made so far confirmed")
            await until(lambda: gw.spool.depth <= 2, 10, "the spool to empty")
            wobbler.cancel()
            assert gw.spool.dropped == 0

    try:
        asyncio.run(scenario())
    finally:
        acknowledger.close()
        broker.stop()
    seqs = [b["seq"] for b in acknowledger.batches()]
    assert set(range(max(seqs) + 1)) <= set(seqs)
    # the clean stop published its last batches and waited for their confirmation
    spool = sqlite3.connect(tmp_path / "gw" / "spool.db")
    try:
        assert spool.execute("SELECT count(*) FROM batch").fetchone()[0] == 0
    finally:
        spool.close()


def test_a_full_spool_disk_keeps_the_gateway_alive_and_says_so(site: Site,
                                                               tmp_path: Path) -> None:
    """SQLite's page limit answers exactly as a full disk does ("database or disk is full")."""
    broker = Mosquitto(tmp_path / "mq")
    broker.start()
    # no watermark yet: nothing is deleted, so the spool has no free pages to reuse
    acknowledger = Collector(broker.port, "geoscada/v1/gw-test/data")

    def writable() -> list[dict[str, object]]:
        return [s for s in acknowledger.samples() if s["p"] == "gateway.spool.writable"]

    async def scenario() -> None:
        async with station(site) as st, running_gateway(
                st.site, broker.port, tmp_path / "gw") as gw:
            await until(lambda: bool(writable()), 15, "the spool's health")
            assert writable()[-1]["v"] is True
            with gw.spool._lock:
                pages = gw.spool._db.execute("PRAGMA page_count").fetchone()[0]
                gw.spool._db.execute(f"PRAGMA max_page_count = {pages}")
            full_at = len(acknowledger.batches())
            await until(lambda: any(s["q"] == "bad" and "full" in str(s.get("d"))
                                    for s in writable()), 20, "the health point going bad")
            bad = [s for s in writable() if s["q"] == "bad"][-1]
            assert bad["v"] is False and bad["r"] == "device_status"
            # the plant's data still flows, from memory
            st.plc1.set_float(st.plc1.inputs, 2, 111.0)
            await until(lambda: any(s["p"] == "PW1.flow" and s["v"] == 111.0
                                    for b in acknowledger.batches()[full_at:]
                                    for s in b["samples"]), 10, "plant data while the disk is full")
            with gw.spool._lock:
                gw.spool._db.execute("PRAGMA max_page_count = 1073741823")
            await until(lambda: gw.forwarder.spool_error is None and gw.forwarder.held == 0, 10,
                        "the spool writable again")
            await until(lambda: writable()[-1]["v"] is True, 15, "the health point good again")
            confirming = Acknowledger(broker.port, "gw-test")
            try:
                await until(lambda: gw.spool.depth < 5, 20, "the spool confirmed and emptied")
            finally:
                confirming.close()
            assert gw.spool.dropped == 0

    try:
        asyncio.run(scenario())
    finally:
        acknowledger.close()
        broker.stop()
