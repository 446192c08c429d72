"""``geoscada controller``'s runtime: follow the stations, evaluate the alarms, publish events.

Three threads: paho's network loop hands every message to a queue; the history worker reads
the windowed rules' history windows from the historian's database (read-only) and keeps their
latest observations; the evaluator takes what arrived, evaluates the rules and alarms of every
station that sent data within the last 0.1 s (and, once a period, of every station not
evaluated for a period: time alone moves delays and shelves on), writes the station's state
file (alarm statuses and the new events together, atomically) and only then publishes the
events at QoS 1. An event leaves the state
file when the broker acknowledges it to a subscriber; until then it is published again, after a
reconnect, every ``resend_s`` and after a restart, and the historian's ``(station, event id)``
key stores it once. A restart, kill -9 included, reads the state files back: no alarm state is
lost and no transition is raised twice (an evaluation whose state was not written is simply
made again, with the same sequence numbers).
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ValidationError

from controller import alarms, history, holds
from controller.actions import INBOX, AlarmAction, apply
from controller.alarms import AlarmError, AlarmRecord, AlarmSpec, AlarmStatus, Observation
from controller.commander import Commander, Signer
from controller.feed import StationFeed, holds_for_s
from controller.holds import HoldAction
from controller.instant import InstantRules, instant_rules
from controller.rules import (
    AlarmRule,
    AlarmSettings,
    configure,
    flag_points,
    observe_window,
    plant_flags,
    refresh_s,
    site_alarms,
)
from controller.store import StateDir, StationState
from plant.contract import (
    RETAINED,
    Birth,
    CommandAck,
    DataBatch,
    Death,
    Event,
    RebirthRequest,
    Topic,
    parse_topic,
    subscription,
    topic,
    utc_now,
)
from plant.site import Point, Site
from runtime.mqtt import BrokerSettings, delivered, new_client

log = logging.getLogger(__name__)

HISTORY_STALE_S = 180.0
"""A windowed rule's observation older than its refresh period and this is not used: the
alarm freezes and says why."""
BATCH_WAIT_S = 0.1
"""How long new data may wait before its station is evaluated (batches arriving together are
evaluated together)."""
FOLLOWED: dict[Topic, type[BaseModel]] = {Topic.BIRTH: Birth, Topic.DEATH: Death,
                                          Topic.DATA: DataBatch}
"""The message kinds the controller reads, and their payloads."""


@dataclass(frozen=True)
class ControllerSettings:
    """Everything one controller process needs."""

    sites: tuple[Site, ...]
    broker: BrokerSettings
    db: str
    state_dir: Path
    source: str = "geoscada-controller"
    """The controller's identity: events' ``source`` and its MQTT client id."""
    alarm_settings: Mapping[str, Mapping[str, AlarmSettings]] = field(default_factory=dict)
    """Per station: alarm settings keyed by rule name or alarm id."""
    period_s: float = 1.0
    resend_s: float = 5.0
    startup_grace_s: float = 30.0
    """A station not yet heard of in full is first evaluated this long after the start."""
    signer: Signer | None = None
    """The key the controller signs its writes with; needed when a site has ``staging``."""


@dataclass
class _Station:
    site: Site
    rules: tuple[AlarmRule, ...]
    specs: dict[str, AlarmSpec]
    feed: StationFeed
    state: StationState
    windowed: dict[str, tuple[Observation, float]] = field(default_factory=dict)
    """Alarm id -> the windowed rule's latest observation and when it was made (monotonic)."""
    sent_at: dict[str, float] = field(default_factory=dict)
    alive: bool | None = None
    ready: bool = False
    evaluated_at: float = -float("inf")
    published_on: int = -1
    """The connection the station's pending events were last all sent on."""
    refresh_s: dict[str, float] = field(default_factory=dict)
    """Windowed alarm id -> how often the history worker evaluates it again."""
    instant: InstantRules | None = None
    order: list[AlarmSpec] = field(default_factory=list)
    """The alarms, root causes first (``alarms.evaluation_order``)."""
    flag_points: tuple[Point, ...] = ()
    observed: dict[str, Observation] = field(default_factory=dict)
    """The observations the saved statuses have taken (an alarm given the same one again,
    with nothing pending, is not stepped)."""

    def __post_init__(self) -> None:
        self.refresh_s = {r.spec.id: refresh_s(r) for r in self.rules if r.rule.windowed}
        self.instant = instant_rules(self.rules, self.site.full_refresh_s)
        self.order = alarms.evaluation_order(list(self.specs.values()))
        self.flag_points = flag_points(self.site)


def station_rules(site: Site, settings: Mapping[str, AlarmSettings]) -> tuple[AlarmRule, ...]:
    """A station's alarms: the site's defaults with its settings applied (order checked)."""
    rules = configure(site_alarms(site), settings)
    alarms.evaluation_order([r.spec for r in rules])
    return rules


def _summary(row: AlarmRecord) -> str:
    move = (f"{row.from_state.value} -> {row.to_state.value}"
            if row.from_state is not row.to_state else row.to_state.value)
    who = f" by {row.user}" if row.user else ""
    return f"{row.station}/{row.alarm}: {row.trigger.value}{who}, {move}: {row.text}"


class Controller:
    """One controller process following every configured station."""

    def __init__(self, settings: ControllerSettings) -> None:
        self.settings = settings
        self._dir = StateDir(settings.state_dir)
        (settings.state_dir / INBOX).mkdir(exist_ok=True)
        self.stations: dict[str, _Station] = {}
        for site in settings.sites:
            sid = site.station.id
            if sid in self.stations:
                raise ValueError(f"station {sid} is configured twice")
            rules = station_rules(site, settings.alarm_settings.get(sid, {}))
            self.stations[sid] = _Station(site, rules, {r.spec.id: r.spec for r in rules},
                                          StationFeed(sid, site.full_refresh_s),
                                          self._dir.load(sid))
        unknown = sorted(set(settings.alarm_settings) - set(self.stations))
        if unknown:
            raise ValueError(f"alarm settings for stations not configured: {', '.join(unknown)}")
        self._commander = _commander(settings)
        self._answers: list[CommandAck] = []
        self._inbound: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self._lock = threading.Lock()
        """Guards what the network thread hands over; never held while calling paho, whose
        PUBACK callback runs under paho's own lock."""
        self._generation = 0
        """Counts connections: an acknowledgement counts only on the connection it came on."""
        self._in_flight: dict[tuple[int, int], tuple[str, str]] = {}
        """(generation, message id) -> (station, event id); the evaluator's thread only."""
        self._acked: list[tuple[int, int, bool]] = []
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._started = time.monotonic()
        self._complained: set[str] = set()
        self._client = self._make_client()
        self._threads: list[threading.Thread] = []

    # -- MQTT ------------------------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        client = new_client(self.settings.broker, self.settings.source, reconnect=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def _on_connect(self, client: paho.Client, userdata: object, flags: Any,
                    reason: ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        client.subscribe([(subscription(kind, sid), 1)
                          for sid in self.stations for kind in FOLLOWED]
                         + [(subscription(Topic.ACK, sid), 1) for sid in self._acting()])
        # gateways report by exception: ask each for every point once, so a (re)started
        # controller knows the values that have not changed lately
        request = RebirthRequest(origin=self.settings.source).model_dump_json().encode()
        for sid in self.stations:
            client.publish(topic(sid, Topic.REBIRTH), request, qos=1)
        with self._lock:
            self._generation += 1
        self._connected.set()
        log.info("connected to broker %s:%d", self.settings.broker.host,
                 self.settings.broker.port)

    def _on_disconnect(self, client: paho.Client, userdata: object, flags: Any,
                       reason: ReasonCode, properties: Properties | None) -> None:
        if self._connected.is_set() and not self._stop.is_set():
            log.warning("lost the broker connection: %s", reason)
        self._connected.clear()

    def _on_message(self, client: paho.Client, userdata: object,
                    message: paho.MQTTMessage) -> None:
        self._inbound.put((message.topic, bytes(message.payload), bool(message.retain)))

    def _on_publish(self, client: paho.Client, userdata: object, mid: int,
                    reason: ReasonCode, properties: Properties | None) -> None:
        with self._lock:
            self._acked.append((self._generation, mid, delivered(reason)))

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect and start the history worker and the evaluator."""
        self._client.connect_async(self.settings.broker.host, self.settings.broker.port,
                                   keepalive=self.settings.broker.keepalive_s)
        self._client.loop_start()
        for name, target in (("controller-history", self._history_loop),
                             ("controller-evaluate", self._evaluate_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the broker connection is up."""
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """Stop evaluating, write the state and disconnect."""
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        for sid, station in self.stations.items():
            self._dir.save(sid, station.state)
        self._client.disconnect()
        self._client.loop_stop()
        self._stopped.set()

    def run_forever(self) -> None:
        """Run until :meth:`stop` (called from another thread) has finished."""
        self.start()
        self._stopped.wait()

    def _evaluate_loop(self) -> None:
        period = self.settings.period_s
        next_full = time.monotonic()
        failing = ""
        while not self._stop.is_set():
            full = time.monotonic() >= next_full
            try:
                self.tick(utc_now(), full=full)
            except Exception as error:  # a bug or a full disk must not stop every station
                if repr(error) != failing:
                    log.exception("evaluation failed; trying again until it works")
                failing = repr(error)
            else:
                if failing:
                    log.warning("evaluation works again")
                failing = ""
            if full:
                next_full = max(next_full + period, time.monotonic())
            self._stop.wait(min(BATCH_WAIT_S, max(0.0, next_full - time.monotonic())))

    # -- one evaluation --------------------------------------------------------------------------

    def tick(self, now: datetime, *, full: bool = True) -> None:
        """Take what arrived, apply operator actions, evaluate, write, publish.

        Stations with new data are evaluated at once; ``full`` also evaluates every station
        not evaluated for a period (time alone moves delays and shelves on). A station's new
        state is kept, and an operator is answered, only once its state file holds it: if the
        write fails, the same work is done again next time.
        """
        fresh = self._take_messages()
        acked = self._take_acks()
        requests = self._take_actions(now)
        staged = self._stage(now)
        due = time.monotonic() - 0.9 * self.settings.period_s
        for sid, station in self.stations.items():
            statuses = dict(station.state.statuses)
            answers: list[tuple[Path, dict[str, Any]]] = []
            rows: list[AlarmRecord] = []
            for path, action in requests.get(sid, []):
                answers.append((path, self._act(station, action, statuses, now, rows)))
            held = False
            observed = station.observed
            if sid in fresh or (full and station.evaluated_at <= due):
                station.evaluated_at = time.monotonic()
                before = statuses
                statuses, evaluated, observed = self._evaluate(station, statuses, now)
                rows += evaluated
                held = any(_held(statuses[a]) != _held(before[a]) if a in before else True
                           for a in statuses)
            pending = dict(station.state.pending)
            for event_id in acked.get(sid, ()):
                pending.pop(event_id, None)
                station.sent_at.pop(event_id, None)
            for row in rows:
                event = row.to_event(self.settings.source)
                pending[event.id] = event
            for event in staged.get(sid, ()):
                pending[event.id] = event
            state = StationState(statuses, pending)
            if rows or held or acked.get(sid) or staged.get(sid):
                self._dir.save(sid, state)
            station.state = state
            station.observed = observed
            for row in rows:
                log.info("%s", _summary(row))
            for path, answer in answers:
                _answer(path, answer)
            self._publish(sid, station)

    def _evaluate(self, station: _Station, statuses: dict[str, AlarmStatus], now: datetime
                  ) -> tuple[dict[str, AlarmStatus], list[AlarmRecord], dict[str, Observation]]:
        feed = station.feed
        if not station.ready:
            # judge a station once every point has been heard of (or the grace has run out),
            # so a start or restart never journals inputs as missing that are only not here yet
            waited = time.monotonic() - self._started
            if len(feed.latest) < len(station.site.points) and \
                    waited < self.settings.startup_grace_s:
                return statuses, [], station.observed
            station.ready = True
        alive = feed.alive
        if alive != station.alive:
            if station.alive is not None or not alive:
                log.info("%s: gateway %s", feed.station, "online" if alive else "offline")
            station.alive = alive
        assert station.instant is not None
        # only the rules whose inputs changed, or may have gone stale, are observed again
        observations = station.instant.observe(feed, now)
        with self._lock:
            windowed = dict(station.windowed)
        now_m = time.monotonic()
        for alarm, (seen, made) in windowed.items():
            # a history worker that stopped answering must not hold the alarm as it was
            stale_s = HISTORY_STALE_S + station.refresh_s.get(alarm, 0.0)
            observations[alarm] = seen if now_m - made <= stale_s else Observation(
                value=None, limit=seen.limit, good=False,
                why=f"history not refreshed for {now_m - made:.0f} s")
        flags = plant_flags(station.site, feed.view(now, station.instant.fresh_s), now,
                            points=station.flag_points)
        statuses, rows = alarms.evaluate(station.order, statuses, observations, flags, now,
                                         ordered=True, previous=station.observed)
        return statuses, rows, observations

    def _publish(self, sid: str, station: _Station) -> None:
        if not self._connected.is_set():
            return
        with self._lock:
            generation = self._generation
        everything = station.published_on != generation  # a new connection: send all again
        station.published_on = generation
        now = time.monotonic()
        for event_id, event in list(station.state.pending.items()):
            last = station.sent_at.get(event_id)
            if not everything and last is not None and now - last < self.settings.resend_s:
                continue
            info = self._client.publish(topic(sid, Topic.EVENT),
                                        event.model_dump_json().encode(), qos=1)
            if info.rc == paho.MQTT_ERR_SUCCESS:
                self._in_flight[(generation, info.mid)] = (sid, event_id)
            station.sent_at[event_id] = now

    # -- inputs ----------------------------------------------------------------------------------

    def _complain(self, key: str, message: str, *args: object) -> None:
        """Log a problem once per key: state changes, not repetitions."""
        if key not in self._complained:
            self._complained.add(key)
            log.warning(message, *args)

    def _take_messages(self) -> set[str]:
        """Take what arrived; return the stations with new live data."""
        fresh: set[str] = set()
        while True:
            try:
                name, payload, retained = self._inbound.get_nowait()
            except queue.Empty:
                return fresh
            try:
                sid, kind = parse_topic(name)
            except ValueError as error:
                self._complain(f"topic {name}", "ignored: %s", error)
                continue
            station = self.stations.get(sid)
            if station is None:
                continue
            if retained and kind not in RETAINED:
                self._complain(f"retained {name}", "ignored a retained message on %s", name)
                continue
            if kind is Topic.ACK:
                self._take_answer(sid, payload)
                continue
            model = FOLLOWED.get(kind)
            if model is None:
                continue
            try:
                message = model.model_validate_json(payload)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                self._complain(f"bad {sid} {kind}", "%s: malformed %s message (%s: %s); "
                               "ignoring such messages", sid, kind.value, where, first["msg"])
                continue
            if isinstance(message, DataBatch):
                if message.station == sid:
                    station.feed.take(message)
                    fresh.add(sid)
            elif isinstance(message, Birth):
                station.feed.take_birth(message)
            elif isinstance(message, Death):
                station.feed.take_death(message)

    # -- staging -------------------------------------------------------------------------------

    def _acting(self) -> list[str]:
        """The stations this controller stages."""
        return [] if self._commander is None else list(self._commander.stations)

    def _take_answer(self, sid: str, payload: bytes) -> None:
        if self._commander is None or sid not in self._commander.stations:
            return
        try:
            ack = CommandAck.model_validate_json(payload)
        except ValidationError:
            self._complain(f"bad {sid} ack", "%s: malformed command ack; ignoring such", sid)
            return
        self._answers.append(ack)

    def _stage(self, now: datetime) -> dict[str, list[Event]]:
        """Run the staging cycles that are due (only while connected: a write that cannot
        leave must not be taken as made); the events they give, per station."""
        commander = self._commander
        if commander is None:
            return {}
        events: dict[str, list[Event]] = {}
        answers, self._answers = self._answers, []
        for ack in answers:
            answered = commander.answered(ack)
            if answered is not None:
                events.setdefault(answered[0], []).append(answered[1])
        if self._connected.is_set():
            def publish(name: str, payload: bytes) -> bool:
                info = self._client.publish(name, payload, qos=1)
                return info.rc == paho.MQTT_ERR_SUCCESS

            feeds = {sid: self.stations[sid].feed for sid in commander.stations}
            for sid, made in commander.cycle(feeds, now, time.monotonic(), publish).items():
                events.setdefault(sid, []).extend(made)
        return events

    def _take_acks(self) -> dict[str, list[str]]:
        with self._lock:
            acked, self._acked = self._acked, []
            generation = self._generation
        result: dict[str, list[str]] = {}
        for sent_on, mid, ok in acked:
            found = self._in_flight.pop((sent_on, mid), None)
            if found is not None and ok:
                result.setdefault(found[0], []).append(found[1])
        if any(sent_on != generation for sent_on, _ in self._in_flight):
            # what went out on an older connection is published again on this one
            self._in_flight = {key: value for key, value in self._in_flight.items()
                               if key[0] == generation}
        return result

    def _take_actions(self, now: datetime) -> dict[str, list[tuple[Path, AlarmAction]]]:
        """Operator requests waiting in the inbox, by station; malformed ones, and staging
        holds, answered now."""
        found: dict[str, list[tuple[Path, AlarmAction]]] = {}
        for path in sorted((self.settings.state_dir / INBOX).glob("*.json")):
            if path.name.endswith(".result.json"):
                continue
            try:
                request = path.read_bytes()
                hold = _hold_or_none(request)
                if hold is not None:
                    self._hold(path, hold, now)
                    continue
                action = AlarmAction.model_validate_json(request)
            except (OSError, ValidationError) as error:
                _answer(path, {"ok": False, "error": f"not a valid alarm action: {error}"})
                continue
            if action.station not in self.stations:
                _answer(path, {"ok": False,
                               "error": f"station {action.station} is not followed here"})
                continue
            found.setdefault(action.station, []).append((path, action))
        return found

    def _hold(self, path: Path, action: HoldAction, now: datetime) -> None:
        """Record an operator's hold of a unit out of automatic staging (or its release)."""
        station = self.stations.get(action.station)
        if station is None:
            _answer(path, {"ok": False, "error": f"station {action.station} is not followed here"})
            return
        answer = holds.take(self.settings.state_dir, station.site, action, now)
        log.info("%s/%s: %s by %s: %s", action.station, action.unit,
                 "hold out" if action.held else "release", action.user, answer)
        _answer(path, answer)

    def _act(self, station: _Station, action: AlarmAction, statuses: dict[str, AlarmStatus],
             now: datetime, rows: list[AlarmRecord]) -> dict[str, Any]:
        spec = station.specs.get(action.alarm)
        if spec is None:
            return {"ok": False, "error": f"station {action.station} has no alarm {action.alarm}"}
        status = statuses.get(spec.id) or alarms.new_status(spec)
        try:
            status, done = apply(action, spec, status, now)
        except AlarmError as error:
            log.info("%s/%s: %s by %s refused: %s", action.station, action.alarm,
                     action.action, action.user, error)
            return {"ok": False, "error": str(error)}
        statuses[spec.id] = status
        rows.extend(done)
        return {"ok": True, "state": status.state.value}

    # -- history ---------------------------------------------------------------------------------

    def _history_loop(self) -> None:
        due: dict[tuple[str, str], float] = {}
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        while not self._stop.is_set():
            now_m = time.monotonic()
            for sid, station in self.stations.items():
                for rule in station.rules:
                    if not rule.rule.windowed or due.get((sid, rule.spec.id), 0.0) > now_m:
                        continue
                    key = (sid, rule.spec.id)
                    every = refresh_s(rule)
                    # a slow rule's second round falls somewhere in its period, so the rounds
                    # of many stations spread out instead of all coming due in the same minute
                    due[key] = now_m + (every if key in due else every * _spread(key))
                    try:
                        conn, observation = self._observe_history(conn, station, rule)
                    except Exception as error:  # one rule's bug must not stop the others
                        self._complain(f"history {sid} {rule.spec.id}",
                                       "%s/%s: history evaluation failed: %r", sid,
                                       rule.spec.id, error)
                        observation = Observation(value=None, limit=0.0, good=False,
                                                  why=f"history evaluation failed: {error}")
                    with self._lock:
                        station.windowed[rule.spec.id] = (observation, time.monotonic())
            self._stop.wait(1.0)
        if conn is not None:
            conn.close()

    def _observe_history(self, conn: psycopg.Connection[tuple[object, ...]] | None,
                         station: _Station, rule: AlarmRule
                         ) -> tuple[psycopg.Connection[tuple[object, ...]] | None, Observation]:
        sid = station.site.station.id
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(self.settings.db, autocommit=True, connect_timeout=5)
                conn.read_only = True
                conn.execute("SET statement_timeout = '30s'")
                if "database" in self._complained:
                    log.info("historian database reachable again")
                    self._complained.discard("database")
            found = history.windows(conn, sid, rule, utc_now(),
                                    holds_for_s(station.site.full_refresh_s))
            return conn, observe_window(rule, found, station.site.station)
        except psycopg.Error as error:
            self._complain("database", "historian database unavailable: %s", error)
            if conn is not None:
                conn.close()
            return None, Observation(value=None, limit=rule.params.get("limit", 0.0), good=False,
                                     why=f"history unavailable: {type(error).__name__}")


def _commander(settings: ControllerSettings) -> Commander | None:
    """The staging of the stations whose sites ask for it; ValueError without a signer key."""
    staged = [s.station.id for s in settings.sites if s.station.staging is not None]
    if not staged:
        return None
    if settings.signer is None:
        raise ValueError(f"station {staged[0]} has staging: the controller needs its command "
                         "signing key (--signer-key) to act on it")
    return Commander(settings.sites, settings.signer, settings.state_dir, settings.source)


def _spread(key: tuple[str, str]) -> float:
    """A fraction in [0.5, 1) fixed by the key, for spreading periodic work in time."""
    digest = hashlib.sha256("/".join(key).encode()).digest()
    return 0.5 + 0.5 * int.from_bytes(digest[:8], "big") / 2**64


def _hold_or_none(request: bytes) -> HoldAction | None:
    """The request as a staging hold, or None when it is not one (an alarm action)."""
    try:
        return HoldAction.model_validate_json(request)
    except ValidationError:
        return None


def _answer(request: Path, answer: dict[str, Any]) -> None:
    """Write the answer to an operator's request beside it, then remove the request."""
    temporary = request.with_name(f".{request.stem}.result.tmp")
    temporary.write_text(json.dumps(answer), encoding="utf-8")
    temporary.replace(request.with_name(f"{request.stem}.result.json"))
    request.unlink(missing_ok=True)


def _held(status: AlarmStatus) -> tuple[object, ...]:
    """What of a status must survive a restart even when no row was written."""
    return (status.pending_since, status.active, status.unsafe, status.suppressed_by,
            status.state)


def load_alarm_settings(data: object, source: str) -> dict[str, dict[str, AlarmSettings]]:
    """Per-station alarm settings from a parsed YAML mapping; raise ValueError naming the key."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{source}: alarm settings must map station ids to settings")
    result: dict[str, dict[str, AlarmSettings]] = {}
    for station, entries in data.items():
        if not isinstance(entries, dict):
            raise ValueError(f"{source}: {station}: must map alarm ids or rules to settings")
        result[str(station)] = {}
        for key, value in entries.items():
            try:
                result[str(station)][str(key)] = AlarmSettings.model_validate(value)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"{source}: {station}.{key}.{where}: {first['msg']}") from None
    return result


def pending_events(state_dir: Path, stations: Sequence[str]) -> dict[str, list[Event]]:
    """Events of each station still waiting for the broker's acknowledgement (for tests/tools)."""
    store = StateDir(state_dir)
    return {sid: list(store.load(sid).pending.values()) for sid in stations}
