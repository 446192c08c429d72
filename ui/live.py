"""Live data for the pages: a last-value cache fed from MQTT and one event stream per page.

:class:`LiveCache` keeps, per station, its liveness (from retained births and deaths, with the
time since when), the last value of every point and the latest transition of every alarm.
Each change gets a sequence number and is kept in a bounded history, so a page that
reconnects with the last sequence it saw gets exactly the changes it missed; a page that is
new, or too far behind, gets a full snapshot first. Its methods run on the asyncio loop only.

:class:`LiveFeed` subscribes under the UI's broker identity (read-only on birth, death, data,
event and watermark) through the runtime's MQTT session, hands each message to the loop, and
asks every station for a rebirth when it connects so the cache is complete within one poll.

:func:`stream` is the one multiplexed Server-Sent Events stream of a page: every station and
point the page shows, in one connection, as ``snapshot`` then ``changes`` messages whose
``id`` is ``<cache epoch>:<sequence>`` (the browser sends it back as ``Last-Event-ID``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import AsyncGenerator, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from pydantic import ValidationError

from plant.contract import (
    Birth,
    DataBatch,
    Death,
    Event,
    RebirthRequest,
    Topic,
    Watermark,
    parse_topic,
    station_alive,
    subscription,
    topic,
)
from runtime.mqtt import BrokerSettings, ThreadedSession, new_client

log = logging.getLogger(__name__)

FOLLOWED = (Topic.BIRTH, Topic.DEATH, Topic.DATA, Topic.EVENT, Topic.WATERMARK)
SHOWN_ALARM_STATES = frozenset({"unacknowledged", "acknowledged", "rtn_unacknowledged",
                                "latched"})
"""Alarm states an operator sees in the summary (not normal, shelved, suppressed, ...)."""
KEEPALIVE_S = 15.0


@dataclass
class StationLive:
    """What the cache knows of one station."""

    birth: Birth | None = None
    death: Death | None = None
    since: str | None = None
    """Wire time of the birth (alive) or death (dead) that set the current liveness."""
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Point id -> {"v", "q", "t", "r"?}."""
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Alarm id -> the data of its latest event, with ``t``."""
    watermark: str | None = None
    shown_alive: bool | None = None

    @property
    def alive(self) -> bool | None:
        """True or False from the retained birth and death; None before any was seen."""
        if self.birth is None and self.death is None:
            return None
        return station_alive(self.birth, self.death)

    def state(self) -> dict[str, Any]:
        """Liveness as the pages show it."""
        return {"alive": self.alive, "since": self.since}


class LiveCache:
    """Last values, liveness and alarm states of every station, with a change history."""

    def __init__(self, stations: Iterable[str], history: int = 20_000) -> None:
        self.epoch = secrets.token_hex(4)
        """Changes from another cache (a restarted UI) never resume into this one."""
        self.stations: dict[str, StationLive] = {sid: StationLive() for sid in stations}
        self.seq = 0
        self._history: deque[tuple[int, str, str]] = deque(maxlen=history)
        """(sequence, station, the change as JSON): serialised once, sent to every page."""
        self._changed = asyncio.Event()
        self.messages = 0
        self.refused = 0

    def rebind(self) -> None:
        """Make the wake-up event anew on the loop that serves the pages."""
        self._changed = asyncio.Event()

    def _change(self, change: dict[str, Any]) -> None:
        self.seq += 1
        self._history.append((self.seq, change["station"], _json(change)))

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_beyond(self, seq: int, timeout_s: float) -> None:
        """Return when the cache has changes after ``seq``, or after the timeout."""
        if self.seq > seq:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    # -- feeding -------------------------------------------------------------------------------

    def feed(self, name: str, payload: bytes) -> None:
        """Take one MQTT message; a message that breaks the contract is counted and dropped."""
        try:
            station, kind = parse_topic(name)
        except ValueError:
            self.refused += 1
            return
        live = self.stations.get(station)
        if live is None:
            return
        self.messages += 1
        before = self.seq
        try:
            if kind is Topic.DATA:
                self._data(station, live, DataBatch.model_validate_json(payload))
            elif kind is Topic.BIRTH and payload:
                previous, live.birth = live.birth, Birth.model_validate_json(payload)
                self._liveness(station, live, previous)
            elif kind is Topic.DEATH and payload:
                live.death = Death.model_validate_json(payload)
                self._liveness(station, live, None)
            elif kind is Topic.EVENT:
                self._event(station, live, Event.model_validate_json(payload))
            elif kind is Topic.WATERMARK and payload:
                live.watermark = Watermark.model_validate_json(payload).t.isoformat()
        except ValidationError as exc:
            self.refused += 1
            log.debug("dropped a malformed %s message of %s: %s", kind.value, station, exc)
        if self.seq != before:
            self._wake()

    def _data(self, station: str, live: StationLive, batch: DataBatch) -> None:
        if batch.station != station:
            self.refused += 1
            return
        changed: dict[str, dict[str, Any]] = {}
        for sample in batch.samples:
            current = live.values.get(sample.p)
            wire_t = sample.t.isoformat()
            if current is not None and current["t"] > wire_t:
                continue  # a replayed, older sample never hides a newer one
            value = {"v": sample.v, "q": sample.q.value, "t": wire_t}
            if sample.r is not None:
                value["r"] = sample.r.value
            live.values[sample.p] = value
            changed[sample.p] = value
        if changed:
            self._change({"station": station, "values": changed})

    def _liveness(self, station: str, live: StationLive, previous: Birth | None) -> None:
        alive = live.alive
        if alive and previous is not None and live.birth is not None and live.shown_alive and (
                previous.session, previous.bdseq) == (live.birth.session, live.birth.bdseq):
            return  # a rebirth of the same connection: alive since its first birth
        moment = live.birth.t if alive and live.birth else (
            live.death.t if live.death and live.death.t else None)
        since = moment.isoformat() if moment else None
        if (alive, since) != (live.shown_alive, live.since):
            live.shown_alive, live.since = alive, since
            self._change({"station": station, "state": live.state()})

    def _event(self, station: str, live: StationLive, event: Event) -> None:
        if event.kind != "alarm" or "alarm" not in event.data:
            return
        alarm = str(event.data["alarm"])
        previous = live.alarms.get(alarm)
        if previous is not None and int(previous.get("seq", -1)) >= int(event.data.get("seq", 0)):
            return
        data = {**event.data, "t": event.t.isoformat(), "id": event.id}
        live.alarms[alarm] = data
        self._change({"station": station, "alarm": data})

    def seed_alarm(self, station: str, data: dict[str, Any]) -> None:
        """Take an alarm's state from the stored journal (alarms raised before the UI started);
        a live event already seen for it wins."""
        live = self.stations.get(station)
        if live is None or str(data["alarm"]) in live.alarms:
            return
        entry = {"seq": -1, **data}
        live.alarms[str(data["alarm"])] = entry
        self._change({"station": station, "alarm": entry})
        self._wake()

    # -- reading -------------------------------------------------------------------------------

    def active_alarms(self, station: str) -> list[dict[str, Any]]:
        """The station's alarms in a shown state, newest first."""
        live = self.stations[station]
        shown = [a for a in live.alarms.values() if a.get("state") in SHOWN_ALARM_STATES]
        return sorted(shown, key=lambda a: str(a["t"]), reverse=True)

    def snapshot(self, stations: Collection[str]) -> dict[str, Any]:
        """Everything the cache knows of these stations, as one message."""
        return {"type": "snapshot", "seq": self.seq, "stations": {
            sid: {**live.state(), "values": dict(live.values),
                  "alarms": self.active_alarms(sid), "watermark": live.watermark}
            for sid, live in self.stations.items() if sid in stations}}

    def changes_since(self, seq: int, stations: Collection[str]) -> list[str] | None:
        """Changes after ``seq`` for these stations, each as JSON; None when the history no
        longer has them all."""
        if seq > self.seq or seq < 0:
            return None
        if seq == self.seq:
            return []
        if not self._history or self._history[0][0] > seq + 1:
            return None
        out: list[str] = []
        for number, station, text in reversed(self._history):
            if number <= seq:
                break
            if station in stations:
                out.append(text)
        out.reverse()
        return out

    def resume_point(self, last_event_id: str | None) -> int | None:
        """The sequence a reconnecting page saw, None if it must start from a snapshot."""
        if not last_event_id:
            return None
        epoch, colon, number = last_event_id.partition(":")
        if not colon or epoch != self.epoch or not number.isdigit():
            return None
        return int(number)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def sse(event: str, event_id: str, data: str) -> bytes:
    """One Server-Sent Events message whose data is already JSON."""
    return f"event: {event}\nid: {event_id}\ndata: {data}\n\n".encode()


async def stream(cache: LiveCache, stations: Collection[str], last_event_id: str | None, *,
                 keepalive_s: float = KEEPALIVE_S) -> AsyncGenerator[bytes]:
    """The page's stream: a snapshot (or the missed changes), then changes as they come."""
    seq = cache.resume_point(last_event_id)
    missed = cache.changes_since(seq, stations) if seq is not None else None
    if missed is None:
        seq = cache.seq
        yield b"retry: 1000\n\n" + sse("snapshot", f"{cache.epoch}:{seq}",
                                       _json(cache.snapshot(stations)))
    else:
        assert seq is not None
        seq = cache.seq
        yield b"retry: 1000\n\n" + sse("changes", f"{cache.epoch}:{seq}",
                                       "[" + ",".join(missed) + "]")
    while True:
        await cache.wait_beyond(seq, keepalive_s)
        if cache.seq == seq:
            yield b": keepalive\n\n"
            continue
        changes = cache.changes_since(seq, stations)
        seq = cache.seq
        if changes is None:  # fell out of the history: start again from a snapshot
            yield sse("snapshot", f"{cache.epoch}:{seq}", _json(cache.snapshot(stations)))
        elif changes:
            yield sse("changes", f"{cache.epoch}:{seq}", "[" + ",".join(changes) + "]")


class LiveFeed:
    """Feeds the cache from the broker under the UI's identity; asks for rebirths."""

    def __init__(self, cache: LiveCache, settings: BrokerSettings,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.cache = cache
        self._loop = loop
        client = new_client(settings, reconnect=False)
        client.on_message = self._on_message
        self.session = ThreadedSession(settings, client, on_connect=self._on_connect,
                                       clean_start=True, name="ui-live")

    def start(self) -> None:
        """Connect and keep the connection up from the session's thread."""
        self.session.start()

    def stop(self) -> None:
        """Disconnect."""
        self.session.stop()

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the UI: %s", reason)
            return
        client.subscribe([(subscription(kind), 1) for kind in FOLLOWED])
        request = RebirthRequest(origin="ui").model_dump_json().encode()
        for station in self.cache.stations:
            client.publish(topic(station, Topic.REBIRTH), request, qos=1)
        log.info("live feed connected; rebirth asked of %d stations", len(self.cache.stations))

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
            self._loop.call_soon_threadsafe(self.cache.feed, message.topic,
                                            bytes(message.payload))
