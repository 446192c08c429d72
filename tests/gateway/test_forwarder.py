"""The forwarder: a PUBACK deletes nothing, a watermark does; resends, replays, a full disk."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.forwarder import Forwarder
from gateway.spool import Spool
from plant.contract import SessionMark, Watermark


class FakeLink:
    """A broker link that publishes into a list; acknowledges only when told."""

    def __init__(self) -> None:
        self.connected = True
        self.max_inflight = 100
        self.generation = 1
        self.sent: list[tuple[tuple[int, int], dict[str, object]]] = []
        self._mid = 0

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> tuple[int, int] | None:
        if not self.connected:
            return None
        self._mid += 1
        key = (self.generation, self._mid)
        self.sent.append((key, json.loads(payload)))
        return key

    def reconnect(self) -> None:
        """A new connection: message ids start again from 1."""
        self.generation += 1
        self._mid = 0

    def seqs(self, start: int = 0) -> list[object]:
        return [m["seq"] for _, m in self.sent[start:]]


def mark(session: int, seq: int, station: str = "s") -> Watermark:
    return Watermark(station=station, t=datetime.now(UTC), historian="h",
                     sessions=(SessionMark(session=session, seq=seq),))


async def until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def spooled(spool: Spool) -> list[int]:
    return [b.seq for b in spool.after(0, 1000)]


def test_a_puback_frees_the_window_and_only_a_watermark_deletes(tmp_path: Path) -> None:
    async def scenario() -> None:
        link, spool = FakeLink(), Spool(tmp_path / "s.db")
        forwarder = Forwarder("s", spool, link, replay_rate=1000)
        runner = asyncio.create_task(forwarder.run())
        forwarder.connected()
        for seq in range(5):
            forwarder.submit(7, seq, "[]")
        assert link.sent == [], "nothing leaves before it is on disk"
        await until(lambda: len(link.sent) == 5)
        for key, _ in link.sent:
            forwarder.acked(key, True)
        assert forwarder.in_flight == 0
        await asyncio.sleep(0.2)
        assert spooled(spool) == [0, 1, 2, 3, 4], "a PUBACK is not a commit"
        forwarder.watermark(mark(7, 2))
        forwarder.watermark(mark(8, 99))  # another session: nothing of ours
        forwarder.watermark(mark(7, 4, station="other"))  # another station: ignored
        await until(lambda: spooled(spool) == [3, 4])
        forwarder.watermark(mark(7, 1))  # an older mark arriving late moves nothing back
        forwarder.watermark(mark(7, 4))
        await until(lambda: spool.depth == 0)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await forwarder.settle()
        spool.close()

    asyncio.run(scenario())


def test_unrouted_and_lost_batches_are_replayed_in_order_flagged_historical(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        link, spool = FakeLink(), Spool(tmp_path / "s.db")
        forwarder = Forwarder("s", spool, link, replay_rate=1000)
        runner = asyncio.create_task(forwarder.run())
        forwarder.connected()
        forwarder.watermark(mark(1, -1))  # a historian is online
        for seq in range(3):
            forwarder.submit(1, seq, "[]")
        await until(lambda: len(link.sent) == 3)
        forwarder.acked(link.sent[0][0], True)
        forwarder.acked(link.sent[1][0], False)  # PUBACK 0x10: no one received it
        await until(lambda: len(link.sent) == 4, 3.0)  # again, before the resend timeout
        assert link.sent[3][1]["seq"] == 1 and link.sent[3][1]["historical"]
        # the connection drops with batch 2 (and the resent 1) unacknowledged
        link.connected = False
        forwarder.disconnected()
        for seq in range(3, 6):
            forwarder.submit(1, seq, "[]")
        await until(lambda: spool.depth == 6)
        link.reconnect()
        link.connected = True
        forwarder.connected()
        # new connection, message ids from 1 again: a PUBACK of (new generation, 1) must not
        # be taken for batch 0's publication (old generation, 1)
        forwarder.acked((link.generation, 1), True)
        await until(lambda: len(link.sent) >= 4 + 4)
        replayed = [m for _, m in link.sent[4:]]
        assert [m["seq"] for m in replayed] == [1, 2, 3, 4, 5]
        assert all(m["historical"] for m in replayed)
        assert spool.depth == 6, "still nothing confirmed"
        forwarder.watermark(mark(1, 5))
        await until(lambda: spool.depth == 0)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await forwarder.settle()
        spool.close()

    asyncio.run(scenario())


def test_unconfirmed_batches_are_resent_only_while_a_historian_is_online(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        link, spool = FakeLink(), Spool(tmp_path / "s.db")
        forwarder = Forwarder("s", spool, link, replay_rate=1000, resend_after_s=0.5)
        runner = asyncio.create_task(forwarder.run())
        forwarder.connected()
        for seq in range(4):
            forwarder.submit(3, seq, "[]")
        await until(lambda: len(link.sent) == 4)
        for i, (key, _) in enumerate(link.sent):
            forwarder.acked(key, i % 2 == 0)  # half of them "no matching subscribers"
        await asyncio.sleep(2.0)
        assert len(link.sent) == 4, "no historian has ever answered: hold, do not resend"
        assert spool.depth == 4
        # a historian comes up and has committed nothing of this session below a hole
        forwarder.watermark(mark(3, -1))
        await until(lambda: len(link.sent) == 8, 3.0)
        assert link.seqs(4) == [0, 1, 2, 3]
        assert all(m["historical"] for _, m in link.sent[4:])
        forwarder.watermark(mark(3, 3))
        await until(lambda: spool.depth == 0)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await forwarder.settle()
        spool.close()

    asyncio.run(scenario())


def test_a_full_disk_holds_batches_in_memory_publishes_them_and_writes_them_later(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        link, spool = FakeLink(), Spool(tmp_path / "s.db")
        forwarder = Forwarder("s", spool, link, replay_rate=1000)
        runner = asyncio.create_task(forwarder.run())
        forwarder.connected()
        forwarder.submit(5, 0, "[]")
        await until(lambda: spool.depth == 1)
        # SQLite answers exactly as on a full disk: "database or disk is full"
        pages = spool._db.execute("PRAGMA page_count").fetchone()[0]
        spool._db.execute(f"PRAGMA max_page_count = {pages}")
        big = json.dumps(["x" * 4000])
        for seq in range(1, 4):
            forwarder.submit(5, seq, big)
        await until(lambda: forwarder.spool_error is not None)
        assert "full" in (forwarder.spool_error or "")
        assert forwarder.held == 3 and spool.depth == 1
        await until(lambda: link.seqs() == [0, 1, 2, 3])  # seen live all the same
        assert not any(m["historical"] for _, m in link.sent)
        # confirmed while still in memory: it never needs the disk
        forwarder.watermark(mark(5, 1))
        await until(lambda: forwarder.held == 2 and spool.depth == 0)
        spool._db.execute("PRAGMA max_page_count = 1073741823")
        await until(lambda: forwarder.spool_error is None and forwarder.held == 0, 5.0)
        assert spooled(spool) == [2, 3]
        assert link.seqs() == [0, 1, 2, 3], "written later, not published twice"
        forwarder.watermark(mark(5, 3))
        await until(lambda: spool.depth == 0)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await forwarder.settle()
        spool.close()

    asyncio.run(scenario())


def test_a_historian_that_is_behind_is_not_flooded_with_resends(tmp_path: Path) -> None:
    async def scenario() -> None:
        link, spool = FakeLink(), Spool(tmp_path / "s.db")
        forwarder = Forwarder("s", spool, link, replay_rate=1000, resend_after_s=0.5)
        runner = asyncio.create_task(forwarder.run())
        forwarder.connected()
        forwarder.submit(2, 0, "[]")
        await until(lambda: len(link.sent) == 1)
        forwarder.acked(link.sent[0][0], True)
        await asyncio.sleep(1.5)  # the historians confirm it only 1.5 s after it went out
        forwarder.watermark(mark(2, 0))
        await until(lambda: spool.depth == 0)
        assert forwarder.resend_after() >= 2.9
        forwarder.submit(2, 1, "[]")
        await until(lambda: len(link.sent) == 2)
        forwarder.acked(link.sent[1][0], True)
        forwarder.watermark(mark(2, 0))  # still online, still behind
        await asyncio.sleep(2.0)  # past the configured 0.5 s, within twice the delay seen
        assert link.seqs() == [0, 1], "a batch the historians have yet to reach was resent"
        await until(lambda: link.seqs() == [0, 1, 1], 4.0)  # past twice the delay: again
        forwarder.watermark(mark(2, 1))
        await until(lambda: spool.depth == 0)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await forwarder.settle()
        spool.close()

    asyncio.run(scenario())
