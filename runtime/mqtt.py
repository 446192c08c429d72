"""The shared MQTT 5 session: broker settings, a configured paho client, the asyncio link.

:class:`BrokerSettings` says where and how to connect (TLS with a verified CA, an optional client
certificate, a username and password); :func:`new_client` makes a paho client from it, the same
way for every service. :class:`BrokerLink` keeps one connection up for an asyncio service.

paho runs its network loop in a thread; every callback is passed to the asyncio loop with
``call_soon_threadsafe`` so the rest of the service is single-threaded. A fresh client is made
for each connection (and the old one dropped with whatever it still held), so that after an
outage nothing is resent by paho behind the owner's back: the owner alone decides what is
replayed. Reconnects follow the one backoff policy (:mod:`runtime.backoff`).

Every publication is identified by its connection's generation and its message id, so the
acknowledgement of a message of a new connection can never be mistaken for one of an old
connection that reused the id. A connection counts as lost when the broker stops answering
(paho's keepalive) or when it does not answer CONNECT within ``connect_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from runtime.backoff import Backoff
from runtime.settings import read_secret

log = logging.getLogger(__name__)

NO_MATCHING_SUBSCRIBERS = 0x10
"""MQTT 5 PUBACK reason: the broker took the message, but nobody was there to receive it."""

Sent = tuple[int, int]
"""A publication: (connection generation, message id)."""


@dataclass(frozen=True)
class BrokerSettings:
    """Where and how to connect: host, port, credentials, TLS."""

    host: str
    port: int
    tls: bool = False
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    """Client certificate (PEM), for a broker that asks for one."""
    tls_key: Path | None = None
    username: str | None = None
    password: str | None = None
    client_id: str = ""
    keepalive_s: int = 10
    connect_timeout_s: float = 10.0

    @classmethod
    def from_url(cls, url: str, **extra: Any) -> BrokerSettings:
        """Parse ``mqtt://host[:port]`` or ``mqtts://host[:port]``; raise ValueError."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker URL {url!r} must look like mqtt://host:port or mqtts://host")
        tls = parts.scheme == "mqtts" or extra.get("tls_ca") is not None
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError(f"broker URL {url!r} has a bad port") from None
        return cls(host=parts.hostname, port=port, tls=tls, **extra)

    @classmethod
    def from_options(cls, url: str, *, client_id: str = "", username: str | None = None,
                     password_file: Path | None = None, tls_ca: Path | None = None,
                     tls_cert: Path | None = None, tls_key: Path | None = None,
                     **extra: Any) -> BrokerSettings:
        """Build settings from a service's options; the password is read from its file.

        Raise ValueError naming the option that is wrong.
        """
        if password_file is not None and username is None:
            raise ValueError("a password file needs a username")
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("a client certificate and its key go together")
        for name, path in (("CA file", tls_ca), ("client certificate", tls_cert),
                           ("client key", tls_key)):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS {name} {path} is not a readable file")
        password = read_secret(password_file, "password file") if password_file else None
        return cls.from_url(url, client_id=client_id, username=username, password=password,
                            tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key, **extra)

    def __repr__(self) -> str:
        # never print the password (settings end up in logs and tracebacks)
        secret = "***" if self.password is not None else None
        return (f"BrokerSettings(host={self.host!r}, port={self.port}, tls={self.tls}, "
                f"username={self.username!r}, password={secret}, "
                f"client_id={self.client_id!r})")


def new_client(settings: BrokerSettings, client_id: str | None = None, *,
               reconnect: bool = False) -> paho.Client:
    """A paho MQTT 5 client with the settings' credentials and TLS (server verified).

    ``reconnect``: let paho's own network loop reconnect (a thread-based service); an asyncio
    service leaves it off and reconnects through :class:`BrokerLink`.
    """
    client = paho.Client(CallbackAPIVersion.VERSION2,
                         client_id=settings.client_id if client_id is None else client_id,
                         protocol=MQTTProtocolVersion.MQTTv5, reconnect_on_failure=reconnect)
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls:
        client.tls_set(ca_certs=str(settings.tls_ca) if settings.tls_ca else None,
                       certfile=str(settings.tls_cert) if settings.tls_cert else None,
                       keyfile=str(settings.tls_key) if settings.tls_key else None,
                       cert_reqs=ssl.CERT_REQUIRED)
    return client


def delivered(reason: Any) -> bool:
    """Say whether a PUBACK reason means someone received the message."""
    return not reason.is_failure and int(reason.value) != NO_MATCHING_SUBSCRIBERS


class LinkEvents(Protocol):
    """What the link tells its owner; every call arrives on the asyncio loop."""

    def will(self) -> tuple[str, bytes]:
        """Return the last-will topic and payload for the next connection."""
        ...

    def connected(self) -> None:
        """A connection is up: publish the birth, then data."""
        ...

    def disconnected(self) -> None:
        """The connection is gone: nothing in flight will be acknowledged."""
        ...

    def acked(self, sent: Sent, ok: bool) -> None:
        """The broker acknowledged a publication (``ok`` False if refused or unrouted)."""
        ...

    def message(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """A message arrived on a subscribed topic (``retained``: the broker kept it)."""
        ...


class BrokerLink:
    """Keeps one MQTT connection up; publishes QoS 1 and reports acknowledgements by mid."""

    def __init__(self, settings: BrokerSettings, events: LinkEvents, subscriptions: list[str],
                 max_inflight: int = 1000) -> None:
        self.settings = settings
        self.max_inflight = max_inflight
        """Cap on unacknowledged messages; lowered to the broker's Receive Maximum."""
        self._events = events
        self._subscriptions = subscriptions
        self._client: paho.Client | None = None
        self._connected = False
        self._lost = asyncio.Event()
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._backoff = Backoff(base_s=0.2, cap_s=10.0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._generation = 0
        self._came_up = False  # the current connection got its CONNACK

    @property
    def connected(self) -> bool:
        """True while a connection is up and the birth may be (or has been) published."""
        return self._connected

    def _make_client(self) -> paho.Client:
        client = new_client(self.settings)
        topic, payload = self._events.will()
        client.will_set(topic, payload, qos=1, retain=True)
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(0)
        generation = self._generation
        loop = self._loop
        assert loop is not None

        def hand_over(fn: Callable[..., None], *args: Any) -> None:
            def guarded() -> None:
                # a late callback of a dropped client must not touch the new connection
                if generation == self._generation:
                    fn(*args)
            with contextlib.suppress(RuntimeError):  # the loop is closed: shutting down
                loop.call_soon_threadsafe(guarded)

        client.on_connect = lambda c, u, f, rc, props: hand_over(self._connect_done, rc, props)
        client.on_disconnect = lambda c, u, f, rc, props: hand_over(self._connection_lost, rc)
        client.on_publish = lambda c, u, mid, rc, props: hand_over(
            self._events.acked, (generation, mid), delivered(rc))
        client.on_message = lambda c, u, msg: hand_over(
            self._events.message, msg.topic, bytes(msg.payload), bool(msg.retain))
        return client

    def _connect_done(self, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.warning("broker %s:%d refused the connection: %s", self.settings.host,
                        self.settings.port, rc)
            self._lost.set()
            return
        receive_max = getattr(props, "ReceiveMaximum", None)
        if receive_max:
            # paho does not honour the broker's Receive Maximum: keep below it, leaving room
            # for births and acks, which are not counted against the cap
            self.max_inflight = max(1, min(self.max_inflight, int(receive_max) - 10))
        assert self._client is not None
        # retain-as-published: a retained message keeps its flag even when it arrives live,
        # so the owner can refuse to act on it
        options = SubscribeOptions(qos=1, retainAsPublished=True)
        for topic in self._subscriptions:
            self._client.subscribe(topic, options=options)
        self._connected = True
        self._came_up = True
        self._backoff.reset()
        log.info("connected to broker %s:%d (in-flight cap %d)", self.settings.host,
                 self.settings.port, self.max_inflight)
        self._events.connected()

    def _connection_lost(self, rc: Any) -> None:
        if self._connected and not self._stopping:
            log.warning("lost the broker connection: %s", rc)
        self._connected = False
        self._lost.set()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> Sent | None:
        """Publish at QoS 1; return (generation, message id), or None if not connected."""
        if not self._connected or self._client is None:
            return None
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return self._generation, int(info.mid)

    async def run(self) -> None:
        """Connect, and reconnect after every loss, until :meth:`stop`."""
        self._loop = asyncio.get_running_loop()
        first_failure = True
        while not self._stopping:
            self._generation += 1
            self._lost.clear()
            client = self._client = self._make_client()
            try:
                await self._loop.run_in_executor(
                    None, partial(client.connect, self.settings.host, self.settings.port,
                                  keepalive=self.settings.keepalive_s))
            except (OSError, ssl.SSLError) as exc:
                if first_failure:
                    log.warning("cannot reach broker %s:%d: %s", self.settings.host,
                                self.settings.port, exc)
                first_failure = False
                self._client = None
                await self._sleep_backoff()
                continue
            self._came_up = False
            client.loop_start()
            # a broker that accepts TCP but never answers CONNECT (frozen) is given up on
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self.settings.connect_timeout_s)
            if not self._came_up and not self._lost.is_set():
                log.warning("broker %s:%d did not answer CONNECT within %.0f s",
                            self.settings.host, self.settings.port,
                            self.settings.connect_timeout_s)
                self._lost.set()
            await self._lost.wait()
            # read whether it was up from the CONNACK flag: _connection_lost clears _connected
            was_up = self._came_up
            self._came_up = False
            self._connected = False
            self._generation += 1
            client.loop_stop()
            client.disconnect()
            self._client = None
            if was_up:
                first_failure = True
                self._events.disconnected()
            if not self._stopping:
                await self._sleep_backoff()

    async def _sleep_backoff(self) -> None:
        delay = self._backoff.next_delay()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), delay)

    async def stop(self, last_words: tuple[str, bytes] | None = None, wait_s: float = 2.0) -> None:
        """Publish ``last_words`` (the clean death) if connected, then disconnect."""
        self._stopping = True
        self._stop_requested.set()
        client = self._client
        if client is not None and self._connected and last_words is not None:
            info = client.publish(last_words[0], last_words[1], qos=1, retain=True)
            deadline = asyncio.get_running_loop().time() + wait_s
            while not info.is_published() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
        if client is not None:
            client.disconnect()
        self._lost.set()


class ThreadedSession:
    """Keeps one paho client connected from a thread of its own, for services built on threads.

    The same client is kept across reconnects, so a persistent broker session (``clean_start``
    False) goes on where it stopped. Reconnects follow the one backoff policy, reset once the
    broker has answered CONNECT. paho's callbacks run on the session's thread.
    """

    def __init__(self, settings: BrokerSettings, client: paho.Client, *,
                 on_connect: Callable[..., None], clean_start: bool = False,
                 properties: Any = None, backoff: Backoff | None = None,
                 name: str = "mqtt-session") -> None:
        self.settings = settings
        self.client = client
        self._owner_on_connect = on_connect
        self._clean_start = clean_start
        self._properties = properties
        self._backoff = backoff or Backoff(base_s=0.5, cap_s=10.0)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        client.on_connect = self._on_connect

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if not reason.is_failure:
            self._backoff.reset()
        self._owner_on_connect(client, userdata, flags, reason, properties)

    def start(self) -> None:
        """Connect (and keep reconnecting) from the session's thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Disconnect and end the session's thread."""
        self._stopping.set()
        self.client.disconnect()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        s = self.settings
        first_failure = True
        while not self._stopping.is_set():
            try:
                self.client.connect(s.host, s.port, keepalive=s.keepalive_s,
                                    clean_start=self._clean_start, properties=self._properties)
            except (OSError, ssl.SSLError) as exc:
                if first_failure:
                    log.warning("cannot reach broker %s:%d: %s", s.host, s.port, exc)
                first_failure = False
                self._stopping.wait(self._backoff.next_delay())
                continue
            first_failure = True
            self.client.loop_forever()  # returns when the connection is lost or stopped
            if not self._stopping.is_set():
                self._stopping.wait(self._backoff.next_delay())
