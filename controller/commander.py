"""The I/O around :mod:`controller.acting`: sign and publish writes, follow the gateways'
answers, keep each station's staging state on disk.

The controller signs its writes with its own Ed25519 key as role ``controller``; the
gateway's command policy decides what that role may write (``geoscada pki`` grants run
commands, remote modes, the heartbeat and set-points, nothing else). A write lives at most
``lifetime_s``: a command stuck in a queue must not arrive after the plant has moved on.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.acting import StationActing, Written
from controller.feed import StationFeed
from controller.holds import Holds, HoldsFileError, load_holds
from controller.staging import StagingState
from controller.store import _write_atomically
from controller.supervisor import StagingSupervisor
from plant.contract import Command, CommandAck, Event, Topic, topic
from plant.signing import sign_command
from plant.site import Site

log = logging.getLogger(__name__)

ROLE = "controller"
"""The role the controller signs in."""
ANSWER_GRACE_S = 5.0
"""How long past a write's expiry its answer is still awaited."""

Publish = Callable[[str, bytes], bool]
"""Publish (topic, payload) at QoS 1; False when it could not be queued."""


def load_signer_key(path: Path) -> Ed25519PrivateKey:
    """The controller's command-signing key (PEM); raise ValueError naming the file."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"signer key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"signer key {path} is not an Ed25519 key")
    return key


@dataclass(frozen=True)
class Signer:
    """Who the controller's writes come from: the key and its id in the gateways' policy."""

    key: Ed25519PrivateKey
    key_id: str = "controller"


@dataclass
class _Station:
    acting: StationActing
    due: float = 0.0
    """Monotonic time of the next cycle."""


@dataclass
class Commander:
    """Staging of every station whose site has ``staging``, through the gateways' commands."""

    sites: tuple[Site, ...]
    signer: Signer
    state_dir: Path
    source: str
    boot: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f"))
    """This run's mark in its event ids: UTC to the microsecond, so no restart reuses an id."""
    stations: dict[str, _Station] = field(init=False, default_factory=dict)
    waiting: dict[str, Written] = field(init=False, default_factory=dict)
    """Command id -> the write, until the gateway answers or it is given up."""
    _held: Holds = field(init=False, default_factory=dict)
    _unreadable: str = field(init=False, default="")

    def __post_init__(self) -> None:
        for site in self.sites:
            params = site.station.staging
            if params is None:
                continue
            sid = site.station.id
            supervisor = StagingSupervisor(site, params, self._load(sid))
            self.stations[sid] = _Station(StationActing(site, supervisor, self.source,
                                                        self.boot))

    def _path(self, station: str) -> Path:
        return self.state_dir / f"staging-{station}.json"

    def _load(self, station: str) -> StagingState:
        """The saved staging state (runtimes, hold-outs, starts), or a new one."""
        path = self._path(station)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            state = StagingState.from_json(data)
        except FileNotFoundError:
            return StagingState()
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{path}: not a staging state file: {exc}") from None
        state.requirement = []  # a requirement from before the restart is no average now
        return state

    def save(self, station: str) -> None:
        """Write a station's staging state atomically."""
        state = self.stations[station].acting.supervisor.state
        _write_atomically(self._path(station), json.dumps(state.to_json()))

    def cycle(self, feeds: dict[str, StationFeed], now: datetime, now_m: float,
              publish: Publish) -> dict[str, list[Event]]:
        """Run the cycles that are due and give up unanswered writes; events per station."""
        events: dict[str, list[Event]] = {}
        for written_id, written in list(self.waiting.items()):
            if now - written.sent_at > timedelta(seconds=self._lifetime(written.station)
                                                 + ANSWER_GRACE_S):
                del self.waiting[written_id]
                told = self.stations[written.station].acting.unanswered(written, now)
                if told is not None:
                    events.setdefault(written.station, []).append(told)
                log.warning("%s: %s := %s not answered", written.station, written.point,
                            written.value)
        holds = self._holds() if any(now_m >= s.due for s in self.stations.values()) else {}
        for sid, station in self.stations.items():
            if now_m < station.due:
                continue
            station.due = max(station.due + station.acting.params.cycle_s, now_m)
            feed = feeds[sid]
            in_flight = frozenset(w.point for w in self.waiting.values() if w.station == sid)
            writes, made = station.acting.cycle(feed.latest, feed.alive, feed.heard_at, now,
                                                in_flight, holds=holds.get(sid, {}))
            for write in writes:
                self._send(sid, write.point, write.value, now, publish)
            if made:
                events.setdefault(sid, []).extend(made)
                self.save(sid)
                for event in made:
                    log.info("%s: staging %s: %s", sid, event.data.get("condition"),
                             event.data.get("text"))
        return events

    def _holds(self) -> Holds:
        """The operators' holds (the last readable ones while the file cannot be read)."""
        try:
            self._held = load_holds(self.state_dir)
        except HoldsFileError as error:
            if str(error) != self._unreadable:
                log.warning("staging holds: %s; keeping the last ones read", error)
            self._unreadable = str(error)
        else:
            self._unreadable = ""
        return self._held

    def _lifetime(self, station: str) -> float:
        supervision = self.stations[station].acting.site.station.supervision
        timeout = supervision.heartbeat_timeout_s if supervision else 30.0
        return min(30.0, timeout)

    def _send(self, station: str, point: str, value: float | int | bool, now: datetime,
              publish: Publish) -> None:
        command: Command = sign_command(
            self.signer.key, self.signer.key_id, ROLE, id=f"ctl-{uuid.uuid4().hex[:20]}",
            point=point, value=value, origin=self.source[:64], issued=now,
            expires=now + timedelta(seconds=self._lifetime(station)))
        if publish(topic(station, Topic.CMD), command.model_dump_json().encode()):
            self.waiting[command.id] = Written(station, point, value, now)
        else:
            log.warning("%s: %s := %s could not be sent", station, point, value)

    def answered(self, ack: CommandAck) -> tuple[str, Event] | None:
        """Take a gateway's answer; the station and an event when the write was not done."""
        written = self.waiting.pop(ack.id, None)
        if written is None:
            return None  # another signer's command, or one given up already
        event = self.stations[written.station].acting.answered(written, ack)
        if event is not None:
            log.warning("%s: %s", written.station, event.data["text"])
            return written.station, event
        return None
