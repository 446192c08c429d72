"""Store-and-forward: every batch goes to the spool first, leaves it only on the broker's PUBACK.

Live batches are published as soon as they are spooled (batches made within 20 ms of each
other share one transaction, so the disk is synced at most ~50 times a second). Whatever the
broker has not acknowledged when the connection drops stays in the spool and is replayed after
reconnecting, oldest first, flagged ``historical``, at a bounded rate and with a bounded share
of the in-flight window, so that live data keeps flowing during the catch-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from gateway.quality import Reading
from gateway.spool import Spool
from plant.contract import Topic, topic

log = logging.getLogger(__name__)

# Share of the in-flight window the replay may use; the rest is kept for live batches.
REPLAY_WINDOW_SHARE = 0.5
# Batches arriving within this time share one spool transaction (one disk sync): a hundred
# devices each syncing their own batch would stall the event loop on the disk.
GROUP_COMMIT_S = 0.02
GROUP_COMMIT_MAX = 64


def encode_samples(readings: Iterable[Reading]) -> str:
    """Render readings as the JSON array of a DataBatch's ``samples``."""
    items = []
    for r in readings:
        item: dict[str, object] = {
            "p": r.point,
            "t": datetime.fromtimestamp(r.t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "v": r.v,
            "q": r.q.value,
        }
        if r.r is not None:
            item["r"] = r.r.value
        if r.d is not None:
            item["d"] = r.d[:200]
        items.append(item)
    return json.dumps(items, separators=(",", ":"))


def batch_payload(station: str, session: int, seq: int, historical: bool, samples: str) -> bytes:
    """Assemble a DataBatch message from its parts (the samples already JSON)."""
    head = json.dumps({"station": station, "session": session, "seq": seq,
                       "historical": historical}, separators=(",", ":"))
    return f'{head[:-1]},"samples":{samples}}}'.encode()


class Publisher(Protocol):
    """The one thing the forwarder needs from the broker link."""

    @property
    def connected(self) -> bool:
        """True while messages can be published."""
        ...

    @property
    def max_inflight(self) -> int:
        """Cap on unacknowledged messages."""
        ...

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int | None:
        """Publish at QoS 1; return the message id or None."""
        ...


class Forwarder:
    """Moves batches from the spool to the broker, in order, without losing any."""

    def __init__(self, station: str, spool: Spool, link: Publisher,
                 replay_rate: float = 100.0) -> None:
        self.station = station
        self.spool = spool
        self.link = link
        self.replay_rate = replay_rate
        self.replayed = 0
        self._catching_up = False
        self._topic = topic(station, Topic.DATA)
        self._inflight: dict[int, int] = {}  # mid -> batch id
        self._sent: set[int] = set()  # batch ids in flight or acknowledged, not yet deleted
        self._acked: list[int] = []
        self._cursor = 0  # replay position: every batch id at or below it has been sent
        self._ready = False
        self._wake = asyncio.Event()
        self._pending: list[tuple[int, int, str, float | None]] = []
        self._commit_timer: asyncio.TimerHandle | None = None

    def submit(self, session: int, seq: int, samples: str, created: float | None = None) -> None:
        """Queue one batch for the spool; it is published once it is on disk."""
        self._pending.append((session, seq, samples, created))
        if len(self._pending) >= GROUP_COMMIT_MAX:
            self.commit()
        elif self._commit_timer is None:
            self._commit_timer = asyncio.get_running_loop().call_later(
                GROUP_COMMIT_S, self.commit)

    def commit(self) -> None:
        """Write queued batches to the spool in one transaction, then publish them live."""
        if self._commit_timer is not None:
            self._commit_timer.cancel()
            self._commit_timer = None
        pending, self._pending = self._pending, []
        if not pending:
            return
        ids = self.spool.append_many(pending)
        for batch_id, (session, seq, samples, _) in zip(ids, pending, strict=True):
            if self._ready and len(self._inflight) < self.link.max_inflight:
                self._send(batch_id, session, seq, samples, historical=False)

    def _send(self, batch_id: int, session: int, seq: int, samples: str,
              historical: bool) -> bool:
        mid = self.link.publish(self._topic, batch_payload(self.station, session, seq, historical,
                                                           samples))
        if mid is None:
            return False
        self._inflight[mid] = batch_id
        self._sent.add(batch_id)
        return True

    def connected(self) -> None:
        """The birth is out: start publishing and replaying."""
        self._ready = True
        self._wake.set()

    def disconnected(self) -> None:
        """Nothing in flight will be acknowledged now: all of it is replayed later."""
        self._ready = False
        lost = len(self._inflight)
        self._sent.difference_update(self._inflight.values())
        self._inflight.clear()
        self._cursor = 0
        self._flush()
        if lost:
            log.info("%d batches in flight at disconnect stay in the spool for replay", lost)

    def acked(self, mid: int, ok: bool) -> bool:
        """Handle a PUBACK; return False if the message id is not one of the data batches."""
        batch_id = self._inflight.pop(mid, None)
        if batch_id is None:
            return False
        if ok:
            self._acked.append(batch_id)
        else:
            log.warning("broker refused batch %d; it stays in the spool", batch_id)
            self._sent.discard(batch_id)
            self._cursor = min(self._cursor, batch_id - 1)
        return True

    def _flush(self) -> None:
        if self._acked:
            self.spool.remove(self._acked)
            self._sent.difference_update(self._acked)
            self._acked = []

    @property
    def in_flight(self) -> int:
        """Data batches published and not yet acknowledged."""
        return len(self._inflight)

    async def run(self) -> None:
        """Delete acknowledged batches and replay the backlog, until cancelled."""
        tick = 0.05
        while True:
            self._flush()
            if self._ready:
                self._replay(max(1, int(self.replay_rate * tick)))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), tick)

    def _replay(self, budget: int) -> None:
        window = max(1, int(self.link.max_inflight * REPLAY_WINDOW_SHARE))
        budget = min(budget, window - len(self._inflight))
        if budget <= 0:
            return
        backlog = self.spool.after(self._cursor, budget + len(self._sent))
        if self._catching_up and not any(b.id not in self._sent for b in backlog):
            self._catching_up = False
            log.info("backlog sent: %d historical batches replayed in all", self.replayed)
        for batch in backlog:
            if budget <= 0:
                break
            if batch.id not in self._sent:
                if not self._send(batch.id, batch.session, batch.seq, batch.samples,
                                  historical=True):
                    return
                budget -= 1
                self.replayed += 1
                self._catching_up = True
            self._cursor = batch.id

    def settle(self) -> None:
        """Spool what is queued and delete what has been acknowledged (before a clean stop)."""
        self.commit()
        self._flush()

    def oldest_unsent_age(self) -> float:
        """Seconds since the oldest batch still in the spool was made."""
        return self.spool.oldest_age(time.time())
