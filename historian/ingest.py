"""The historian's runtime: MQTT in, database out, acknowledgement only after commit.

Five threads: paho's network loop puts every message on a queue; the decoder takes what has
arrived (up to a batch) and decodes it; the writer writes each decoded batch in one transaction
and only then acknowledges its messages to the broker (QoS 1, manual acknowledgement, persistent
session); the watermark publisher then reads, from the database, what is committed of each
station it touched and publishes the station's retained watermark, which is what lets a gateway
delete from its spool; the rollup worker refreshes marked rollup buckets. If the database goes
away the writer keeps the same batch, reconnects with capped exponential backoff and writes it
again; unacknowledged messages stay with the broker, which redelivers them after a crash, and the
(point, time) key makes the rewrite harmless.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from historian import rollups
from historian.decode import Batch, decode
from historian.settings import HistorianSettings
from historian.store import Inbound, Store, WriteReport, connect
from historian.watermark import Watermarks
from plant.contract import DataBatch, Topic, Watermark, subscription, topic
from runtime.backoff import Backoff
from runtime.mqtt import ThreadedSession, new_client

log = logging.getLogger(__name__)

ROLLUP_SETTLE = timedelta(seconds=2)
"""The rollup worker leaves minutes alone until no batch has touched them for this long."""
WATERMARK_REPEAT_S = 2.0
"""An unchanged watermark is published again, on a commit, after this long: it tells the
gateways a historian is online even while a hole keeps the marks where they are."""
WATERMARK_MIN_INTERVAL_S = 0.2
"""Watermark passes are at least this far apart: under load one pass covers many commits."""
WATERMARK_RECHECK_S = 1.0
"""A station's marks are read once more this long after its last commit: another historian of
the group may have committed the batches below a hole while this one was reading."""


@dataclass(frozen=True)
class Received:
    """A message as paho delivered it, with the connection it came on."""

    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    received: float
    retain: bool = False


def _is_connection_error(error: psycopg.Error) -> bool:
    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError) or (
        error.sqlstate is not None and error.sqlstate[:2] in {"08", "57", "53", "40"}
    )


class Historian:
    """One historian process: subscribe, write, acknowledge, roll up."""

    def __init__(self, settings: HistorianSettings) -> None:
        self.settings = settings
        self.report = WriteReport()
        self._queue: queue.Queue[Received] = queue.Queue()
        # One decoded batch waits while the writer writes the previous one.
        self._decoded: queue.Queue[tuple[list[Received], list[Inbound]]] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._generation = 0
        self._connected = threading.Event()
        self._pending_subscription: tuple[int | None, list[str]] | None = None
        self._lock = threading.Lock()
        self._store = Store(settings.db, historian=settings.client_id)
        self._client = self._make_client()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = settings.session_expiry
        properties.ReceiveMaximum = settings.receive_maximum
        self._session = ThreadedSession(
            settings.broker_settings, self._client, on_connect=self._on_connect,
            clean_start=False, properties=properties,
            backoff=Backoff(base_s=0.5, cap_s=settings.retry_max_s), name="historian-mqtt")
        self._threads: list[threading.Thread] = []
        self.on_commit: Callable[[WriteReport], None] | None = None
        self._touched: set[str] = set()  # stations committed since the last watermark pass
        self._touched_event = threading.Event()
        self.watermarks = Watermarks(settings.client_id)
        self.watermarks_published = 0

    # -- MQTT ------------------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = new_client(self.settings.broker_settings)
        client.manual_ack_set(True)
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _subscriptions(self) -> list[tuple[str, int]]:
        data = subscription(Topic.DATA)
        if self.settings.group:
            data = f"$share/{self.settings.group}/{data}"
        # Commands, acknowledgements and events go to the audit trail, births and deaths to the
        # liveness ledger: every historian takes them all (writes are idempotent).
        return [(data, 1)] + [
            (subscription(kind), 1)
            for kind in (Topic.BIRTH, Topic.DEATH, Topic.CMD, Topic.ACK, Topic.EVENT)
        ]

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        with self._lock:
            self._generation += 1
        log.info(
            "connected to %s (session %s)",
            self.settings.broker,
            "resumed" if flags.session_present else "new",
        )
        subscriptions = self._subscriptions()
        _, mid = client.subscribe(subscriptions)
        with self._lock:
            self._pending_subscription = (mid, [name for name, _ in subscriptions])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        # Ready means subscribed: a message published before the broker holds the subscription
        # would not be queued for this session at all.
        with self._lock:
            pending, self._pending_subscription = self._pending_subscription, None
        if pending is None or pending[0] != mid:
            with self._lock:
                self._pending_subscription = pending
            return
        refused = [name for name, reason in zip(pending[1], reasons, strict=False)
                   if reason.is_failure]
        if refused:
            log.error("broker refused the subscription to %s", ", ".join(refused))
            return
        self._connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._generation += 1  # acknowledgements of earlier deliveries are now meaningless
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("lost the broker (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self._queue.put(
            Received(
                generation=self._generation,
                mid=message.mid,
                qos=message.qos,
                topic=message.topic,
                payload=bytes(message.payload),
                received=time.monotonic(),
                retain=bool(message.retain),
            )
        )

    def _acknowledge(self, messages: list[Received]) -> None:
        with self._lock:
            generation = self._generation
        for message in messages:
            if message.qos > 0 and message.generation == generation:
                self._client.ack(message.mid, message.qos)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the broker and start the writer and rollup threads."""
        self._threads = [
            threading.Thread(target=self._decode_loop, name="historian-decoder", daemon=True),
            threading.Thread(target=self._write_loop, name="historian-writer", daemon=True),
            threading.Thread(target=self._rollup_loop, name="historian-rollups", daemon=True),
            threading.Thread(target=self._watermark_loop, name="historian-watermarks",
                             daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self._session.start()

    @property
    def alive(self) -> bool:
        """Say whether the writer and rollup threads are running."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the broker connection is up and holds every subscription."""
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """Finish the batch in hand, then disconnect (the session keeps the rest) and stop."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self._session.stop()
        self._store.close()

    def run_forever(self) -> None:
        """Run until :meth:`stop` is called from another thread or a signal handler."""
        self.start()
        try:
            while not self._stop.wait(self.settings.stats_interval_s):
                self._log_stats()
        finally:
            self.stop()

    def _log_stats(self) -> None:
        r = self.report
        log.info(
            "ingest: %d batches, %d samples (%d new, %d duplicate, %d conflicting), "
            "%d dead letters, %d queued",
            r.batches, r.samples, r.inserted, r.duplicates, r.conflicts, r.dead_letters,
            self._queue.qsize(),
        )

    # -- writer ------------------------------------------------------------------------------------

    def _next_batch(self) -> list[Received]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        # Take what is waiting; linger briefly for more only if configured to. Under load the
        # queue fills while the writer is busy, so batches grow by themselves.
        deadline = time.monotonic() + self.settings.batch_max_wait_s
        approx_bytes = len(first.payload)
        while len(batch) < self.settings.batch_max_messages:
            # ~60 bytes of JSON per sample; a cheap bound on the rows of one transaction
            if approx_bytes > self.settings.batch_max_samples * 60:
                break
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=max(remaining, 0)) if remaining > 0 else (
                    self._queue.get_nowait()
                )
            except queue.Empty:
                break
            batch.append(item)
            approx_bytes += len(item.payload)
        return batch

    def _decode_loop(self) -> None:
        """Form batches from the broker's messages and decode them while the writer writes."""
        while not self._stop.is_set():
            received = self._next_batch()
            if not received:
                continue
            now = datetime.now(UTC)
            inbound = [
                Inbound(m.topic, m.payload, decode(m.topic, m.payload, now, retained=m.retain))
                for m in received
            ]
            while not self._stop.is_set():
                try:
                    self._decoded.put((received, inbound), timeout=0.2)
                    break
                except queue.Full:
                    continue

    def _write_loop(self) -> None:
        backoff = Backoff(base_s=0.2, cap_s=self.settings.retry_max_s)
        while not self._stop.is_set():
            if not self._store.connected:
                try:
                    self._store.connect()
                    log.info("database connected (%s)", self._store.features)
                except psycopg.Error as error:
                    self._store.close()
                    pause = backoff.next_delay()
                    log.warning("database unavailable (%s); retrying in %.1f s", error, pause)
                    self._stop.wait(pause)
                    continue
            try:
                received, inbound = self._decoded.get(timeout=0.2)
            except queue.Empty:
                continue
            while not self._stop.is_set():
                try:
                    if not self._store.connected:
                        self._store.connect()
                        log.info("database connected (%s)", self._store.features)
                    report = self._write(inbound)
                except psycopg.Error as error:
                    self._store.close()
                    pause = backoff.next_delay()
                    log.warning("database write failed (%s); retrying in %.1f s", error, pause)
                    self._stop.wait(pause)
                    continue
                backoff.reset()
                self.report.add(report)
                self._acknowledge(received)
                stations = {m.decoded.station for m in inbound
                            if isinstance(m.decoded, Batch | DataBatch)}
                if stations:
                    with self._lock:
                        self._touched.update(stations)
                    self._touched_event.set()
                if self.on_commit is not None:
                    self.on_commit(report)
                break

    def _write(self, inbound: list[Inbound]) -> WriteReport:
        """Write a batch; if the database refuses it, halve it down to the refused messages."""
        try:
            return self._store.write(inbound)
        except psycopg.Error as error:
            if _is_connection_error(error) or not self._store.connected:
                raise
            problem = f"database refused: {error}"
        except Exception as error:  # a writer bug must cost the messages it hits, not the process
            log.exception("writing %d message(s) failed", len(inbound))
            problem = f"historian could not write: {type(error).__name__}: {error}"
        if len(inbound) > 1:
            middle = len(inbound) // 2
            report = self._write(inbound[:middle])
            report.add(self._write(inbound[middle:]))
            return report
        log.error("dead-lettering %s: %s", inbound[0].topic, problem)
        try:
            self._store.dead_letter(inbound, problem[:500])
        except psycopg.Error as error:
            if _is_connection_error(error) or not self._store.connected:
                raise
            log.error(
                "could not even dead-letter %s (%s); payload (hex, first 4 KiB): %s",
                inbound[0].topic, error, inbound[0].payload[:4096].hex(),
            )
        return WriteReport(dead_letters=1)

    # -- watermarks -------------------------------------------------------------------------------

    def _watermark_loop(self) -> None:
        """Publish the watermark of every station committed to, read from the database."""
        backoff = Backoff(base_s=0.2, cap_s=self.settings.retry_max_s)
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        published: dict[str, tuple[tuple[tuple[int, int], ...], float]] = {}
        pending: set[str] = set()
        recheck: dict[str, float] = {}  # station -> when to read its marks once more
        while not self._stop.is_set():
            self._touched_event.wait(0.2)
            self._touched_event.clear()
            with self._lock:
                touched, self._touched = self._touched, set()
            now = time.monotonic()
            due = {station for station, at in recheck.items() if at <= now}
            for station in due:
                del recheck[station]
            pending |= touched | due
            if not pending:
                continue
            for station in touched:
                recheck[station] = now + WATERMARK_RECHECK_S
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = connect(self.settings.db, autocommit=True)
                marks = self.watermarks.update(conn, pending, datetime.now(UTC))
            except psycopg.Error as error:
                if conn is not None:
                    conn.close()
                conn = None
                pause = backoff.next_delay()
                log.warning("reading watermarks failed (%s); retrying in %.1f s", error, pause)
                self._stop.wait(pause)
                continue
            backoff.reset()
            pending = set()
            now = time.monotonic()
            for mark in marks:
                self._publish_watermark(mark, published, now)
            self._stop.wait(WATERMARK_MIN_INTERVAL_S)
        if conn is not None:
            conn.close()

    def _publish_watermark(self, mark: Watermark,
                           published: dict[str, tuple[tuple[tuple[int, int], ...], float]],
                           now: float) -> None:
        key = tuple((s.session, s.seq) for s in mark.sessions)
        last = published.get(mark.station)
        if last is not None and last[0] == key and now - last[1] < WATERMARK_REPEAT_S:
            return
        info = self._client.publish(topic(mark.station, Topic.WATERMARK),
                                    mark.model_dump_json().encode(), qos=1, retain=True)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            published[mark.station] = (key, now)
            self.watermarks_published += 1

    # -- rollups -----------------------------------------------------------------------------------

    def _rollup_loop(self) -> None:
        backoff = Backoff(base_s=0.2, cap_s=self.settings.retry_max_s)
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        max_hold = timedelta(seconds=self.settings.max_hold_s)
        last_retention = 0.0
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed or conn.broken:
                    if not self._store.features:
                        self._stop.wait(0.5)  # the writer applies the migrations first
                        continue
                    conn = connect(self.settings.db)
                    rollups.prepare(conn)
                while not self._stop.is_set() and rollups.refresh_once(
                    conn, 20000, max_hold, ROLLUP_SETTLE
                ):
                    pass
                days = self.settings.raw_retention_days
                features = self._store.features
                if (
                    days is not None
                    and features is not None
                    and time.monotonic() - last_retention > 3600
                ):
                    cutoff = datetime.now(UTC) - timedelta(days=days)
                    rollups.drop_raw_before(conn, features, cutoff)
                    last_retention = time.monotonic()
                backoff.reset()
                self._stop.wait(self.settings.rollup_interval_s)
            except psycopg.Error as error:
                if conn is not None:
                    conn.close()
                conn = None
                pause = backoff.next_delay()
                log.warning("rollup pass failed (%s); retrying in %.1f s", error, pause)
                self._stop.wait(pause)
        if conn is not None:
            conn.close()
