"""Store-and-forward: a batch leaves the spool only once the historians say they committed it.

Every batch is written to the spool before it is published (batches made within 20 ms of each
other share one transaction, written on the spool's own thread so the event loop that serves
the devices never waits for the disk). A PUBACK only frees room in the in-flight window: the
broker answers it when no one has subscribed, and keeps queued messages in RAM. The historians
publish, retained, each station's :class:`~plant.contract.Watermark` read from their database
after each commit; the forwarder deletes every batch of a session at or below its mark.

A batch published and still not confirmed ``resend_after_s`` later is published again, flagged
``historical``, but only while a historian is online (a watermark arrived within the last
15 s): with no historian, everything is held in the spool, bounded by its overflow policy. The
timeout stretches to twice the recent confirmation delay, so a historian that is merely behind
is not flooded with copies of what it has yet to reach. After a
lost connection everything not yet confirmed is replayed, oldest first, at a bounded rate and
with a bounded share of the in-flight window, so that live data keeps flowing.

If the spool cannot be written (disk full), batches are kept in memory (bounded, oldest dropped
first and counted), still published live, and written again every second; ``spool_error`` says
why, for the health points.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from gateway.quality import Reading
from gateway.spool import Spool
from plant.contract import Topic, Watermark, topic

log = logging.getLogger(__name__)

# Share of the in-flight window the replay may use; the rest is kept for live batches.
REPLAY_WINDOW_SHARE = 0.5
# Batches arriving within this time share one spool transaction (one disk sync).
GROUP_COMMIT_S = 0.02
GROUP_COMMIT_MAX = 256
SPOOL_RETRY_S = 1.0
HISTORIAN_ONLINE_S = 15.0
"""A historian counts as online while its watermarks arrive at least this often."""
REPLAY_PAGE = 500

Sent = tuple[int, int]
"""A publication as the link names it: (connection generation, message id)."""
T = TypeVar("T")


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


def batch_payload(station: str, session: int, seq: int, historical: bool, samples: str, *,
                  lost_through: int | None = None) -> bytes:
    """Assemble a DataBatch message from its parts (the samples already JSON)."""
    head: dict[str, object] = {"station": station, "session": session, "seq": seq,
                               "historical": historical}
    if lost_through is not None:
        head["lost_through"] = lost_through
    text = json.dumps(head, separators=(",", ":"))
    return f'{text[:-1]},"samples":{samples}}}'.encode()


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

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> Sent | None:
        """Publish at QoS 1; return the publication or None."""
        ...


@dataclass
class _Held:
    """A batch not yet in the spool: queued for the next write, or kept while the disk fails."""

    session: int
    seq: int
    samples: str
    created: float
    published: float | None = None


class Forwarder:
    """Moves batches from the spool to the broker, in order, and deletes what is confirmed."""

    def __init__(self, station: str, spool: Spool, link: Publisher, *,
                 replay_rate: float = 100.0, resend_after_s: float = 5.0,
                 held_max_batches: int = 20_000) -> None:
        self.station = station
        self.spool = spool
        self.link = link
        self.replay_rate = replay_rate
        self.resend_after_s = resend_after_s
        self.held_max_batches = held_max_batches
        self.replayed = 0
        self.resent = 0
        self.held_dropped = 0
        """Batches dropped from memory while the spool could not be written."""
        self.spool_error: str | None = None
        """Why the spool cannot be written now, or None."""
        self.watermark_at: float | None = None
        """Monotonic time the last watermark arrived (None: never since start)."""
        self._topic = topic(station, Topic.DATA)
        self._inflight: dict[Sent, int] = {}  # publication -> batch id, until its PUBACK
        self._sent_at: dict[int, float] = {}  # batch id -> when last published, in that order
        self._undelivered: set[int] = set()  # published, and the broker said no one got it
        self._marks: dict[int, int] = {}  # session -> highest seq confirmed
        self._to_delete: dict[int, int] = {}  # marks not yet applied to the spool
        self._cursor = 0  # replay position: every batch id at or below it has been sent
        self._replay = True
        self._catching_up = False
        self._ready = False
        self._wake = asyncio.Event()
        self._queued: list[_Held] = []  # waiting for the next spool write
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="spool-writer")
        self._last_resend_check = 0.0
        self.confirm_delay_s = 0.0
        """Recent delay from publishing a batch to its confirmation (rises fast, decays slowly)."""

    # ------------------------------------------------------------------ spool writes

    def submit(self, session: int, seq: int, samples: str, created: float | None = None) -> None:
        """Queue one batch for the spool; it is published once it is on disk."""
        self._queued.append(_Held(session, seq, samples,
                                  time.time() if created is None else created))
        if len(self._queued) > self.held_max_batches:
            drop = len(self._queued) - self.held_max_batches
            del self._queued[:drop]
            self.held_dropped += drop
            log.error("spool unwritable and %d batches held in memory: dropped the %d oldest",
                      self.held_max_batches, drop)
        self._wake.set()

    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a spool write on the spool's own thread (the disk sync never blocks the loop)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, partial(fn, *args))

    async def _write_queued(self) -> None:
        """Write what is queued in one transaction, then publish it live."""
        if len(self._queued) < GROUP_COMMIT_MAX and self.spool_error is None:
            await asyncio.sleep(GROUP_COMMIT_S)  # let the rest of this scan's batches arrive
        batches = self._queued[:]
        if not batches:
            return
        rows = [(b.session, b.seq, b.samples, b.created) for b in batches]
        try:
            ids = await self._on_writer(self.spool.append_many, rows)
        except (sqlite3.Error, OSError) as exc:
            if self.spool_error is None:
                log.error("cannot write the spool %s: %s; holding batches in memory",
                          self.spool.path, exc)
            self.spool_error = f"{type(exc).__name__}: {exc}"[:200]
            for batch in batches:  # held in memory, and published once so they are seen
                if batch.published is None and self._ready and self.link.publish(
                        self._topic, batch_payload(self.station, batch.session, batch.seq,
                                                   False, batch.samples,
                                                   lost_through=self.spool.lost(batch.session))):
                    batch.published = time.monotonic()
            return
        if self.spool_error is not None:
            log.warning("spool %s writable again; %d held batches written",
                        self.spool.path, len(batches))
            self.spool_error = None
        written = {id(b) for b in batches}
        self._queued = [b for b in self._queued if id(b) not in written]
        now = time.monotonic()
        for batch_id, batch in zip(ids, batches, strict=True):
            if batch.published is not None:
                self._sent_at[batch_id] = batch.published
            elif self._ready and len(self._inflight) < self.link.max_inflight:
                self._send(batch_id, batch.session, batch.seq, batch.samples, historical=False,
                           now=now)
            else:
                self._replay = True

    def _send(self, batch_id: int, session: int, seq: int, samples: str, *, historical: bool,
              now: float) -> bool:
        sent = self.link.publish(self._topic, batch_payload(self.station, session, seq,
                                                            historical, samples,
                                                            lost_through=self.spool.lost(session)))
        if sent is None:
            return False
        self._inflight[sent] = batch_id
        self._sent_at.pop(batch_id, None)
        self._sent_at[batch_id] = now
        return True

    # ------------------------------------------------------------------ link events

    def connected(self) -> None:
        """The birth is out: start publishing and replaying."""
        self._ready = True
        self._wake.set()

    def disconnected(self) -> None:
        """What was in flight may never have reached the broker: replay it."""
        self._ready = False
        lost = set(self._inflight.values())
        self._inflight.clear()
        for batch_id in lost:
            self._sent_at.pop(batch_id, None)
        self._cursor = 0
        self._replay = True
        for batch in self._queued:
            batch.published = None
        if lost:
            log.info("%d batches in flight at disconnect stay in the spool for replay",
                     len(lost))

    def acked(self, sent: Sent, ok: bool) -> bool:
        """Handle a PUBACK: it frees the in-flight window, and deletes nothing.

        Return False if the publication is not one of the data batches. A batch the broker
        refused, or delivered to no one (0x10), goes again as soon as a historian is online,
        without waiting for the resend timeout; with no historian it is held like the rest
        (resending into an empty broker would only spin).
        """
        batch_id = self._inflight.pop(sent, None)
        if batch_id is None:
            return False
        if not ok:
            log.debug("batch %d was not delivered", batch_id)
            self._sent_at.pop(batch_id, None)
            self._undelivered.add(batch_id)
        return True

    def watermark(self, mark: Watermark) -> None:
        """Take a historian's watermark: batches at or below a session's mark are committed."""
        if mark.station != self.station:
            return
        self.watermark_at = time.monotonic()
        for session_mark in mark.sessions:
            if session_mark.seq > self._marks.get(session_mark.session, -1):
                self._marks[session_mark.session] = session_mark.seq
                self._to_delete[session_mark.session] = session_mark.seq
        if self._to_delete:
            self._queued = [b for b in self._queued
                            if b.seq > self._marks.get(b.session, -1)]
            self._wake.set()

    def confirmed(self, session: int) -> int:
        """The highest seq of a session the historians have confirmed (-1: none)."""
        return self._marks.get(session, -1)

    async def _delete_confirmed(self) -> None:
        marks, self._to_delete = self._to_delete, {}
        for session, seq in sorted(marks.items()):
            try:
                ids = await self._on_writer(self.spool.remove_through, session, seq)
            except (sqlite3.Error, OSError) as exc:
                log.warning("cannot delete confirmed batches from the spool: %s", exc)
                self._to_delete.setdefault(session, seq)
                return
            self._undelivered.difference_update(ids)
            now = time.monotonic()
            delays = [now - self._sent_at.pop(i) for i in ids if i in self._sent_at]
            if delays:
                sample = min(delays)  # the newest batch covered: how far behind the historians are
                self.confirm_delay_s = (sample if sample > self.confirm_delay_s
                                        else 0.9 * self.confirm_delay_s + 0.1 * sample)

    # ------------------------------------------------------------------ the loop

    @property
    def in_flight(self) -> int:
        """Data batches published and not yet acknowledged by the broker."""
        return len(self._inflight)

    @property
    def held(self) -> int:
        """Batches in memory, not yet in the spool."""
        return len(self._queued)

    def historian_online(self, now: float | None = None) -> bool:
        """Say whether a watermark arrived recently (within ``HISTORIAN_ONLINE_S``)."""
        now = time.monotonic() if now is None else now
        return self.watermark_at is not None and now - self.watermark_at < HISTORIAN_ONLINE_S

    def resend_after(self) -> float:
        """The resend timeout now: the configured one, or twice the confirmation delay."""
        return max(self.resend_after_s, 2.0 * self.confirm_delay_s)

    async def run(self) -> None:
        """Write, publish, delete what is confirmed and replay the backlog, until cancelled."""
        tick = 0.05
        while True:
            try:
                await self._step(tick)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception:  # a bug here must not stop the data path for good
                log.exception("forwarder step failed; trying again in %.0f s", SPOOL_RETRY_S)
                await asyncio.sleep(SPOOL_RETRY_S)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), tick)
            if self.spool_error is not None:
                await asyncio.sleep(SPOOL_RETRY_S)

    async def _step(self, tick: float) -> None:
        if self._queued:
            await self._write_queued()
        if self._to_delete:
            await self._delete_confirmed()
        now = time.monotonic()
        if now - self._last_resend_check >= 1.0:
            self._last_resend_check = now
            self._expire(now)
        if self._ready and self._replay:
            self._replay_some(max(1, int(self.replay_rate * tick)), now)

    def _expire(self, now: float) -> None:
        """Mark published batches still unconfirmed after the timeout for another send."""
        if not self.historian_online(now):
            return
        if self._undelivered:
            self._cursor = min(self._cursor, min(self._undelivered) - 1)
            self._undelivered.clear()
            self._replay = True
        timeout = self.resend_after()
        expired: list[int] = []
        for batch_id, at in self._sent_at.items():
            if now - at < timeout:
                break
            expired.append(batch_id)
        if not expired:
            return
        inflight = set(self._inflight.values())
        expired = [b for b in expired if b not in inflight]
        for batch_id in expired:
            del self._sent_at[batch_id]
        if expired:
            self.resent += len(expired)
            self._cursor = min(self._cursor, min(expired) - 1)
            self._replay = True
            log.info("%d batches unconfirmed after %.1f s: sending them again", len(expired),
                     timeout)

    def _replay_some(self, budget: int, now: float) -> None:
        window = max(1, int(self.link.max_inflight * REPLAY_WINDOW_SHARE))
        budget = min(budget, window - len(self._inflight))
        while budget > 0:
            page = self.spool.after(self._cursor, REPLAY_PAGE)
            if not page:
                if self._catching_up:
                    log.info("backlog sent: %d historical batches replayed in all",
                             self.replayed)
                self._catching_up = False
                self._replay = False
                return
            for batch in page:
                if budget <= 0:
                    return
                if (batch.id not in self._sent_at and batch.id not in self._undelivered
                        and batch.seq > self.confirmed(batch.session)):
                    if not self._send(batch.id, batch.session, batch.seq, batch.samples,
                                      historical=True, now=now):
                        return
                    budget -= 1
                    self.replayed += 1
                    self._catching_up = True
                self._cursor = batch.id

    async def settle(self, confirm_wait_s: float = 2.0) -> None:
        """Before a clean stop: spool and publish what is queued, and delete what is confirmed.

        The last batches go out before the clean death (same connection, so in order); while a
        historian is online the forwarder waits up to ``confirm_wait_s`` for the watermark to
        cover everything published, so a clean stop normally leaves an empty spool.
        """
        try:
            last: dict[int, int] = {}
            if self._queued:
                batches = self._queued
                rows = [(b.session, b.seq, b.samples, b.created) for b in batches]
                ids = await self._on_writer(self.spool.append_many, rows)
                self._queued = []
                now = time.monotonic()
                for batch_id, batch in zip(ids, batches, strict=True):
                    if self._ready and batch.published is None:
                        self._send(batch_id, batch.session, batch.seq, batch.samples,
                                   historical=False, now=now)
                    last[batch.session] = max(last.get(batch.session, -1), batch.seq)
            deadline = time.monotonic() + confirm_wait_s
            while self.historian_online() and time.monotonic() < deadline:
                if self._to_delete:
                    await self._delete_confirmed()
                if not self._sent_at and all(self.confirmed(s) >= seq
                                             for s, seq in last.items()):
                    break
                await asyncio.sleep(0.05)
            if self._to_delete:
                await self._delete_confirmed()
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            log.error("could not settle the spool before stopping: %s (%d batches lost)", exc,
                      len(self._queued))
        finally:
            self._writer.shutdown(wait=True)

    def oldest_unsent_age(self) -> float:
        """Seconds since the oldest batch not yet confirmed was made."""
        now = time.time()
        ages = [self.spool.oldest_age(now)]
        if self._queued:
            ages.append(max(0.0, now - self._queued[0].created))
        return max(ages)

    def watermark_age(self) -> float | None:
        """Seconds since the last watermark arrived (None: none since start)."""
        if self.watermark_at is None:
            return None
        return time.monotonic() - self.watermark_at
