"""The gateway runtime: one poller task per device, the spool forwarder, the broker link.

Pollers only read devices and hand readings over; quality rules, report-by-exception and
batching happen here, on one asyncio loop, so no lock is needed around the spool or the
sequence counter. A device that stops answering only ever delays its own poller.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import time
import zlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.clock_offset import ClockOffset, clock_offset_point
from gateway.commands import (
    CommandPolicy,
    CommandRefusedError,
    Refusal,
    SeenCommands,
    check_command,
    execute,
    parse_command,
    staged_units,
    staging_refusal,
    verify_command,
)
from gateway.driver import DRIVERS, DeviceError, DeviceState, Driver, PartialReadError
from gateway.forwarder import Forwarder, encode_samples
from gateway.health import DeviceHealth, SpoolHealth, health_points, health_readings
from gateway.quality import Reading, ReportFilter, checked
from gateway.spool import Spool
from plant.contract import (
    Birth,
    Command,
    CommandAck,
    Death,
    Outcome,
    PointInfo,
    Quality,
    Reason,
    RebirthRequest,
    Topic,
    Watermark,
    parse_topic,
    topic,
    utc_now,
)
from plant.measurands import COUNTERS
from plant.signing import CONTROLLER_ROLE, STAGING_HOLD_PREFIX
from plant.site import ModbusDevice, OpcUaDevice, Point, Site
from runtime.backoff import Backoff
from runtime.mqtt import BrokerLink, BrokerSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewaySettings:
    """How one gateway runs: broker, spool, state directory, pacing."""

    broker: BrokerSettings
    state_dir: Path
    spool_path: Path | None = None
    spool_max_bytes: int = 256 * 1024 * 1024
    spool_synchronous: str = "FULL"
    replay_rate: float = 100.0
    """Historical batches per second at most during a catch-up."""
    resend_after_s: float = 5.0
    """A batch published and not confirmed by a historian's watermark this long is resent."""
    max_inflight: int = 1000
    health_period_s: float = 5.0
    health_log_period_s: float = 60.0
    name: str = "geoscada-gateway"
    command_policy: CommandPolicy | None = None
    """Trusted signers and what each role may write; without one every command is refused."""
    opcua_first_use: bool = False
    """Pin an OPC UA server's certificate on first use (logging its fingerprint) instead of
    refusing a server the trust store does not hold."""
    rebirth_min_interval_s: float = 5.0
    """At most one rebirth per this many seconds: requests inside it share one deferred birth
    (a flood costs one birth, no requester is left without one)."""


def next_tick(now: float, period: float, offset: float) -> float:
    """The first moment after ``now`` on the grid ``k * period + offset``."""
    k = (now - offset) // period + 1
    return k * period + offset


def stagger(device_id: str, period: float) -> float:
    """A fixed, well-spread offset within the period, so devices do not poll all at once."""
    return (zlib.crc32(device_id.encode()) % 1000) / 1000 * period


@dataclass(frozen=True)
class Clock:
    """Where a poller reads the time: the monotonic clock schedules, the wall clock stamps."""

    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


# Share of the time to a device's next tick that one scan may take: the rest absorbs the
# loop's own jitter, so a scan that gives up still ends before the next one is due.
SCAN_SHARE = 0.8
MIN_SCAN_BUDGET_S = 0.05
# A driver that overruns its budget by this much more is cut off by the poller itself.
OVERRUN_GRACE_S = 1.0


@dataclass
class DevicePoller:
    """Scans one device at its poll groups' periods and reconnects by the one backoff policy.

    A scan never outlives the device's poll period: reads get a timeout derived from the time to
    the next tick, and a connection attempt that takes longer carries on in the background while
    each tick reports the device's points bad. Any unexpected exception makes bad samples
    naming it and restarts the device link (or the whole scan loop) after the backoff delay.
    """

    device: ModbusDevice | OpcUaDevice
    points: Sequence[Point]
    periods: dict[str, float]
    driver: Driver
    emit: Callable[[list[Reading]], None]
    health: DeviceHealth = field(default_factory=DeviceHealth)
    backoff: Backoff = field(default_factory=Backoff)
    clock: Clock = field(default_factory=Clock)
    stopping: bool = False
    """Set before cancelling, so that a library that swallows the cancellation cannot keep
    the poller alive."""
    faults: int = 0
    """Unexpected exceptions survived since start."""
    _retry_at: float = 0.0
    _down_reason: str = ""
    _relink: bool = False
    """The link is in an unknown state (a cut-off read, an unexpected error): connect anew."""
    _connecting: asyncio.Task[None] | None = None
    _bad_at: dict[str, float] = field(default_factory=dict)
    """When each point was last reported bad (wall clock)."""
    _owed: set[str] = field(default_factory=set)
    """Poll groups whose last scan got no answer: read again at the first tick with the link
    up, not a whole period of their own later (a 30 s group would stay bad that long)."""

    async def run(self) -> None:
        """Scan forever (until cancelled), restarting the scan loop after any fault."""
        try:
            while not self.stopping:
                try:
                    await self._scan_forever()
                except Exception as exc:  # the poller must outlive any bug
                    self._fault("scan loop", exc, self.points)
                    await asyncio.sleep(self._retry_at - self.clock.monotonic())
        finally:
            if self._connecting is not None:
                self._connecting.cancel()
            await self.driver.close()

    async def _scan_forever(self) -> None:
        groups: dict[str, list[Point]] = {}
        for point in self.points:
            groups.setdefault(point.poll_group, []).append(point)
        fastest = min(self.periods[g] for g in groups)
        offset = stagger(self.device.id, fastest)
        due = {g: self._next_tick(self.periods[g], offset) for g in groups}
        while not self.stopping:
            now = self.clock.monotonic()
            ready = [g for g, at in due.items() if at <= now + 0.001]
            if not ready:
                await asyncio.sleep(min(due.values()) - now)
                continue
            for g in ready:
                due[g] = self._next_tick(self.periods[g], offset)
            budget = max(MIN_SCAN_BUDGET_S, SCAN_SHARE * (min(due.values()) - now))
            if self._owed and self._linked():
                ready += sorted(self._owed - set(ready))
            read = await self.scan([p for g in ready for p in groups[g]], budget)
            self._owed = self._owed - set(ready) if read else self._owed | set(ready)

    def _next_tick(self, period: float, offset: float) -> float:
        """The next tick on the wall-clock grid, as a moment of the monotonic clock.

        The grid is taken from the wall clock afresh at every tick, so a step of the wall clock
        (either way) moves the grid but never delays a scan by more than one period.
        """
        mono, wall = self.clock.monotonic(), self.clock.wall()
        return next_tick(wall, period, offset) - wall + mono

    def _linked(self) -> bool:
        connecting = self._connecting
        return ((connecting is None or connecting.done()) and not self._relink
                and self.driver.state is DeviceState.CONNECTED)

    async def scan(self, points: list[Point], budget: float | None = None) -> bool:
        """Read the points once (connecting first if needed) and emit one reading each; True
        if the device answered."""
        started = self.clock.monotonic()
        budget = self.device.timeout_s * 2 if budget is None else budget
        if not await self._link_up(budget):
            self._emit_bad(points)
            return False
        timeout = max(MIN_SCAN_BUDGET_S, min(self.device.timeout_s,
                                             budget - (self.clock.monotonic() - started)))
        try:
            readings = await asyncio.wait_for(self.driver.read(points, timeout),
                                              timeout + OVERRUN_GRACE_S)
        except PartialReadError as exc:
            readings, answered = exc.readings, False
            self._went_down(exc)
        except DeviceError as exc:
            readings, answered = self._bad(points, exc.reason, exc.detail), False
            self._went_down(exc)
        except TimeoutError:
            self._relink = True
            cut = DeviceError(Reason.TIMEOUT, f"no answer within {timeout:.2f} s")
            readings, answered = self._bad(points, cut.reason, cut.detail), False
            self._went_down(cut)
        except Exception as exc:  # a driver bug or an answer it did not expect
            self._fault("read", exc, points)
            return False
        else:
            if self._down_reason or not self.health.connected:
                log.info("device %s answering", self.device.id)
            self._down_reason = ""
            self.health.connected = True
            self.backoff.reset()
            answered = True
        self.health.poll_latency_s = self.clock.monotonic() - started
        self.health.errors = self.driver.errors + self.faults
        self._emit(readings)
        return answered

    def _emit(self, readings: list[Reading]) -> None:
        """Hand readings over, none stamped before the point's last bad report.

        A driver may hold a value it received while the poller was still reporting the point
        bad (an OPC UA notification that arrived while the session was being set up): stamped
        with its arrival, it would be older than the bad sample, and every consumer that keeps
        the newest sample would keep the bad one until the value moves or is refreshed. Such a
        reading is reported at the time it is handed over.
        """
        now = self.clock.wall()
        out = [replace(r, t=now) if r.t < self._bad_at.get(r.point, r.t) else r
               for r in readings]
        for reading in out:
            if reading.q is Quality.BAD:
                self._bad_at[reading.point] = reading.t
        self.emit(out)

    async def _link_up(self, budget: float) -> bool:
        """True if the driver is connected; waits at most ``budget`` for a connection attempt."""
        if self._connecting is None:
            if self.driver.state is DeviceState.CONNECTED and not self._relink:
                return True
            if self.clock.monotonic() < self._retry_at:
                return False
            self._connecting = asyncio.ensure_future(self._reconnect())
        done, _ = await asyncio.wait({self._connecting}, timeout=budget)
        if not done:
            return False
        task, self._connecting = self._connecting, None
        exc = task.exception()
        self.health.errors = self.driver.errors + self.faults
        if exc is None:
            self._relink = False
            return True
        if isinstance(exc, DeviceError):
            self._went_down(exc)
        else:
            self._fault("connect", exc, [])
        return False

    async def _reconnect(self) -> None:
        await self.driver.close()
        await self.driver.connect()

    def _went_down(self, exc: DeviceError) -> None:
        self.health.connected = False
        if self.driver.state is not DeviceState.CONNECTED or self._relink:
            self._retry_at = self.clock.monotonic() + self.backoff.next_delay()
        reason = f"{exc.reason.value}: {exc.detail}"
        if not self._down_reason:
            log.warning("device %s not answering: %s", self.device.id, reason)
        self._down_reason = reason

    def _fault(self, where: str, exc: BaseException, points: Sequence[Point]) -> None:
        """An exception nobody expected: bad samples naming it, then a fresh link after backoff."""
        self.faults += 1
        self._relink = True
        detail = f"{where}: {type(exc).__name__}: {exc}"[:200]
        if self._down_reason != f"{Reason.COMM_LOST.value}: {detail}":  # once per new fault
            log.error("device %s poller fault, restarting its link: %s", self.device.id, detail,
                      exc_info=exc)
            self._down_reason = f"{Reason.COMM_LOST.value}: {detail}"
        self._went_down(DeviceError(Reason.COMM_LOST, detail))
        self.health.errors = self.driver.errors + self.faults
        if points:
            try:
                self._emit(self._bad(points, Reason.COMM_LOST, detail))
            except Exception:  # the loop restarts and tries again
                log.exception("device %s: bad samples not recorded", self.device.id)

    def _bad(self, points: Sequence[Point], reason: Reason, detail: str | None) -> list[Reading]:
        now = self.clock.wall()
        return [Reading(p.id, now, None, Quality.BAD, reason, detail) for p in points]

    def _emit_bad(self, points: list[Point]) -> None:
        reason, _, detail = self._down_reason.partition(": ")
        if not reason:
            reason, detail = Reason.NOT_CONNECTED.value, "connecting"
        self._emit(self._bad(points, Reason(reason), detail or None))


class Gateway:
    """Polls one station's devices and publishes to MQTT under the contract."""

    def __init__(self, site: Site, settings: GatewaySettings,
                 drivers: dict[str, Driver] | None = None) -> None:
        self.site = site
        self.settings = settings
        self.station = site.station.id
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.spool = Spool(settings.spool_path or settings.state_dir / "spool.db",
                           settings.spool_max_bytes, synchronous=settings.spool_synchronous)
        self.session = self.spool.next_session()
        self.bdseq = 0
        """The current connection's birth/death sequence; a new one for every connection."""
        self.site_hash = hashlib.sha256(site.model_dump_json().encode()).hexdigest()
        self.seq = 0
        self.link = BrokerLink(
            settings.broker, self,
            [f"{topic(self.station, Topic.CMD)}/#", f"{topic(self.station, Topic.REBIRTH)}/#",
             topic(self.station, Topic.WATERMARK)],
            max_inflight=settings.max_inflight,
        )
        self.forwarder = Forwarder(self.station, self.spool, self.link,
                                   replay_rate=settings.replay_rate,
                                   resend_after_s=settings.resend_after_s)
        self.filter = ReportFilter({p.id: p.deadband for p in site.points}, site.full_refresh_s)
        self.latest: dict[str, Reading] = {}
        self.clock_offset = ClockOffset()
        """The gateway's clock against the historians', from their watermarks' times."""
        self.drivers: dict[str, Driver] = {}
        self.pollers: dict[str, DevicePoller] = {}
        for device in site.devices:
            points = site.points_on(device.id)
            if not points:
                continue
            driver = (drivers or {}).get(device.id) or self._driver(device, points)
            self.drivers[device.id] = driver
            self.pollers[device.id] = DevicePoller(device, points, dict(site.poll_groups),
                                                   driver, self.record)
        self._tasks: set[asyncio.Task[None]] = set()
        self._link_task: asyncio.Task[None] | None = None
        self.seen = SeenCommands(settings.state_dir / "commands-seen.db")
        self._staged = staged_units(site)
        """The heat pumps automatic staging commands at this station (none without it)."""
        self._controller_heard: float | None = None
        """Monotonic time of the controller's last command carried out (None: none yet)."""
        self._busy: set[str] = set()
        """Points with a command being written: one command at a time per point."""
        self._last_rebirth = -float("inf")
        self._rebirth_pending: asyncio.TimerHandle | None = None
        self._rebirths_merged = 0

    def _driver(self, device: ModbusDevice | OpcUaDevice, points: Sequence[Point]) -> Driver:
        if isinstance(device, OpcUaDevice):
            from gateway.opcua import OpcUaDriver

            return OpcUaDriver(device, points, self.settings.state_dir,
                               first_use=self.settings.opcua_first_use)
        return DRIVERS[device.protocol](device, points, self.settings.state_dir)

    # ------------------------------------------------------------------ data path

    def record(self, readings: list[Reading]) -> None:
        """Apply quality rules and deadbands to one scan, and spool what must be reported."""
        points = self.site.points_by_id
        report: list[Reading] = []
        for reading in readings:
            point = points.get(reading.point)
            final = checked(point, reading) if point is not None else reading
            self.latest[final.point] = final
            if self.filter.due(final):
                report.append(final)
        if report:
            self.forwarder.submit(self.session, self.seq, encode_samples(report))
            self.seq += 1

    def birth(self) -> Birth:
        """The birth message: every plant point and every health point."""
        infos = [self._point_info(p) for p in self.site.points]
        infos += health_points(sorted(self.pollers), self.settings.health_period_s)
        infos.append(clock_offset_point(self.settings.health_period_s))
        station = self.site.station
        return Birth(station=self.station, session=self.session, bdseq=self.bdseq, t=utc_now(),
                     gateway=self.settings.name, name=station.name, kind=station.kind,
                     timezone=station.timezone, site_hash=self.site_hash, points=tuple(infos))

    def _point_info(self, point: Point) -> PointInfo:
        kind = self.site.equipment_by_id(point.equipment).kind
        limits = (point.limits.min, point.limits.max) if point.limits else None
        return PointInfo(id=point.id, equipment=point.equipment, equipment_kind=kind,
                         measurand=point.measurand.value, unit=point.unit, dtype=point.dtype,
                         range=point.range, writable=point.writable, limits=limits,
                         depth_m=point.depth_m, counter=point.measurand in COUNTERS,
                         rollover=point.rollover, reset_point=point.reset_point,
                         deadband=point.deadband,
                         period_s=self.site.poll_groups[point.poll_group])

    def _publish_birth(self) -> None:
        payload = self.birth().model_dump_json(exclude_none=True).encode()
        self.link.publish(topic(self.station, Topic.BIRTH), payload, retain=True)

    # ------------------------------------------------------------------ link events

    def will(self) -> tuple[str, bytes]:
        """The death message the broker publishes if the next connection dies (a new bdSeq)."""
        try:
            self.bdseq = self.spool.next_bdseq()
        except (sqlite3.Error, OSError) as exc:  # a full disk must not stop the connection
            self.bdseq += 1
            log.error("cannot store the bdSeq in the spool (%s); using %d", exc, self.bdseq)
        death = Death(station=self.station, session=self.session, bdseq=self.bdseq)
        return topic(self.station, Topic.DEATH), death.model_dump_json().encode()

    def connected(self) -> None:
        """Announce the session, then let data flow."""
        self._publish_birth()
        self.forwarder.connected()

    def disconnected(self) -> None:
        """Stop publishing; the spool keeps everything."""
        self.forwarder.disconnected()

    def acked(self, sent: tuple[int, int], ok: bool) -> None:
        """Pass acknowledgements of data batches to the forwarder."""
        self.forwarder.acked(sent, ok)

    def message(self, name: str, payload: bytes, retained: bool = False) -> None:
        """Handle a command or rebirth request; refuse anything else with a logged reason."""
        try:
            station, kind = parse_topic(name)
        except ValueError as exc:
            self._refuse_raw(f"unknown_topic: {exc}", payload)
            return
        if station != self.station:
            self._refuse_raw(f"unknown_topic: {name!r} is for station {station!r}", payload)
        elif retained and kind in (Topic.CMD, Topic.REBIRTH):
            self._refuse_retained(name, kind, payload)
        elif kind is Topic.REBIRTH:
            try:
                RebirthRequest.model_validate_json(payload or b"{}")
            except ValueError as exc:
                self._refuse_raw(f"malformed: rebirth request: {str(exc).splitlines()[0]}",
                                 payload)
                return
            self._rebirth_requested(payload)
        elif kind is Topic.CMD:
            self._spawn(self._command(payload))
        elif kind is Topic.WATERMARK:
            self._watermark(payload)
        else:
            self._refuse_raw(f"unknown_topic: the gateway does not take {kind.value}", payload)

    def _rebirth_requested(self, payload: bytes) -> None:
        """Serve at most one rebirth per interval; requests inside it share one deferred birth,
        so a flood costs one birth and no requester waits more than the interval."""
        if self._rebirth_pending is not None:
            self._rebirths_merged += 1
            return
        wait = self._last_rebirth + self.settings.rebirth_min_interval_s - time.monotonic()
        if wait <= 0:
            self._rebirth()
            return
        self._refuse_raw(f"rate_limited: rebirth requests closer than "
                         f"{self.settings.rebirth_min_interval_s:g} s; one birth follows in "
                         f"{wait:.1f} s for all of them", payload)
        self._rebirth_pending = asyncio.get_running_loop().call_later(wait, self._rebirth)

    def _rebirth(self) -> None:
        if self._rebirths_merged:
            log.warning("%d more rebirth requests within %g s served by one birth",
                        self._rebirths_merged, self.settings.rebirth_min_interval_s)
        self._rebirth_pending = None
        self._rebirths_merged = 0
        self._last_rebirth = time.monotonic()
        log.info("rebirth requested")
        self.filter.forget()
        self._publish_birth()

    def _refuse_retained(self, name: str, kind: Topic, payload: bytes) -> None:
        """Never act on a retained command or rebirth request; clear it from the broker."""
        if not payload:
            return  # the clearing message itself, or someone else's
        reason = (f"{Refusal.RETAINED.value}: a retained {kind.value} message is never acted "
                  "on; cleared from the broker")
        self._refuse_raw(reason, payload)
        if kind is Topic.CMD:
            try:
                command = parse_command(payload)
            except CommandRefusedError as exc:
                command_id, point = exc.command_id, exc.point
            else:
                command_id, point = command.id, command.point
            if command_id is not None:
                self._send_ack(CommandAck(id=command_id, point=point or "",
                                          outcome=Outcome.REFUSED, reason=reason, t=utc_now()))
        if self.link.publish(name, b"", retain=True) is None:
            log.warning("could not clear the retained message on %s: broker not connected", name)

    def _watermark(self, payload: bytes) -> None:
        """Take a historian's watermark: it confirms batches; its time tells the clock offset."""
        arrived = time.monotonic()
        try:
            mark = Watermark.model_validate_json(payload)
        except ValueError as exc:
            self._refuse_raw(f"malformed: watermark: {str(exc).splitlines()[0]}", payload)
            return
        self.clock_offset.observe(mark.t, arrived)
        self.forwarder.watermark(mark)

    def _refuse_raw(self, reason: str, payload: bytes) -> None:
        log.warning("refused message: %s; raw bytes: %r", reason, payload[:200])
        try:
            self.spool.log_command("refused", reason, payload)
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot log the refused message in the spool: %s", exc)

    # ------------------------------------------------------------------ commands

    async def _command(self, raw: bytes) -> None:
        try:
            command = parse_command(raw)
            now = utc_now()
            policy = self.settings.command_policy
            verify_command(command, policy, now)
            assert policy is not None
            forget_after = command.expires + timedelta(seconds=policy.clock_tolerance_s)
            if not self.seen.remember(command.id, forget_after, now):
                raise CommandRefusedError(Refusal.REPLAYED, f"command id {command.id!r} was "
                                          "seen before", command.id, command.point)
            if command.point.startswith(STAGING_HOLD_PREFIX):
                self._staging_hold(command, raw, now)
                return
            point = self.site.points_by_id.get(command.point)
            latest = self.latest.get(command.point)
            current = latest.v if latest is not None and latest.q is not Quality.BAD else None
            check_command(command, point, now, current)
            if point is not None and point.equipment in self._staged:
                staged = staging_refusal(self.site, command.point, command.role or "",
                                         self.spool.staging_holds(),
                                         controller_in_charge=self._controller_in_charge())
                if staged is not None:
                    raise CommandRefusedError(Refusal.STAGED, staged, command.id,
                                              command.point)
            if command.role == CONTROLLER_ROLE:
                self._controller_heard = time.monotonic()
            if command.point in self._busy:
                raise CommandRefusedError(Refusal.BUSY, f"another command to {command.point} "
                                          "is being written", command.id, command.point)
        except CommandRefusedError as exc:
            log.warning("command %s refused: %s; raw bytes: %r", exc.command_id, exc, raw[:200])
            self.spool.log_command("refused", str(exc), raw, command_id=exc.command_id,
                                   point=exc.point)
            if exc.command_id is not None:
                self._send_ack(CommandAck(id=exc.command_id, point=exc.point or "",
                                          outcome=Outcome.REFUSED, reason=str(exc), t=utc_now()))
            return
        assert point is not None
        log.info("command %s from %s (key %s as %s): %s := %s", command.id, command.origin,
                 command.key, command.role, point.id, command.value)
        self._busy.add(point.id)
        try:
            ack = await execute(command, point, self.drivers[point.binding.device])
        finally:
            self._busy.discard(point.id)
        log.info("command %s %s%s (read back %s)", command.id, ack.outcome.value,
                 f": {ack.reason}" if ack.reason else "", ack.readback)
        self.spool.log_command(ack.outcome.value, ack.reason, raw, command_id=command.id,
                               point=point.id, value=str(command.value),
                               origin=f"{command.key} as {command.role}: {command.origin}")
        self._send_ack(ack)

    def _controller_in_charge(self) -> bool:
        """The controller's commands keep coming: one within the station's heartbeat timeout
        (without supervision, a controller once heard stays in charge)."""
        if self._controller_heard is None:
            return False
        supervision = self.site.station.supervision
        return supervision is None or (time.monotonic() - self._controller_heard
                                       <= supervision.heartbeat_timeout_s)

    def _staging_hold(self, command: Command, raw: bytes, now: datetime) -> None:
        """Hold a heat pump out of automatic staging at the gateway, or release it: the
        controller relays an engineer's hold, so that no other signer may command a staged
        unit meanwhile; refused from anyone else."""
        unit = command.point.removeprefix(STAGING_HOLD_PREFIX)

        def refuse(code: Refusal, detail: str) -> CommandRefusedError:
            return CommandRefusedError(code, detail, command.id, command.point)

        if command.role != CONTROLLER_ROLE:
            raise refuse(Refusal.ROLE_NOT_ALLOWED,
                         f"only the {CONTROLLER_ROLE} holds a unit out of automatic staging")
        if unit not in self._staged:
            raise refuse(Refusal.UNKNOWN_POINT, f"{unit!r} is no heat pump automatic staging "
                         "commands at this station")
        if not isinstance(command.value, bool):
            raise refuse(Refusal.WRONG_TYPE, f"{command.point} takes true or false")
        if now >= command.expires:
            raise refuse(Refusal.EXPIRED, f"expired at {command.expires.isoformat()}")
        holds = self.spool.set_staging_hold(unit, command.value)
        self._controller_heard = time.monotonic()
        log.info("command %s from %s: %s %s automatic staging (held now: %s)", command.id,
                 command.origin, unit, "held out of" if command.value else "released to",
                 ", ".join(sorted(holds)) or "none")
        self.spool.log_command("done", "", raw, command_id=command.id, point=command.point,
                               value=str(command.value),
                               origin=f"{command.key} as {command.role}: {command.origin}")
        self._send_ack(CommandAck(id=command.id, point=command.point, outcome=Outcome.DONE,
                                  readback=unit in holds, t=utc_now()))

    def _send_ack(self, ack: CommandAck) -> None:
        mid = self.link.publish(topic(self.station, Topic.ACK),
                                ack.model_dump_json().encode())
        if mid is None:
            log.warning("ack of command %s not sent: broker not connected", ack.id)

    # ------------------------------------------------------------------ health

    def device_health(self) -> dict[str, DeviceHealth]:
        """Health of every polled device."""
        return {ident: poller.health for ident, poller in sorted(self.pollers.items())}

    def spool_health(self) -> SpoolHealth:
        """The spool's state now."""
        forwarder = self.forwarder
        return SpoolHealth(self.spool.depth, forwarder.oldest_unsent_age(),
                           self.spool.above_high_water,
                           self.spool.dropped + forwarder.held_dropped,
                           forwarder.watermark_age(), forwarder.held, forwarder.spool_error)

    async def _report_health(self) -> None:
        last_log = time.monotonic()
        high_water = False
        while True:
            await asyncio.sleep(self.settings.health_period_s)
            spool = self.spool_health()
            now = time.time()
            self.record([*health_readings(now, self.device_health(), spool),
                         self.clock_offset.reading(now, time.monotonic())])
            if spool.high_water != high_water:
                high_water = spool.high_water
                log.warning("spool %s its high-water mark: %d batches, %d bytes",
                            "passed" if high_water else "back below", spool.depth,
                            self.spool.size_bytes)
            if time.monotonic() - last_log >= self.settings.health_log_period_s:
                last_log = time.monotonic()
                devices = ", ".join(
                    f"{d} {'up' if h.connected else 'DOWN'} {h.poll_latency_s * 1000:.0f} ms "
                    f"{h.errors} errors" for d, h in self.device_health().items())
                log.info("health: %s; spool %d batches, oldest %.0f s, dropped %d", devices,
                         spool.depth, spool.oldest_age_s, spool.dropped)

    # ------------------------------------------------------------------ lifecycle

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway task failed", exc_info=task.exception())

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then say goodbye cleanly."""
        log.info("gateway for station %s: session %d, %d devices, %d points, spool %s "
                 "(%d batches waiting)", self.station, self.session, len(self.pollers),
                 len(self.site.points), self.spool.path, self.spool.depth)
        self._link_task = self._spawn(self.link.run())
        self._spawn(self.forwarder.run())
        self._spawn(self._report_health())
        for poller in self.pollers.values():
            self._spawn(self._keep_polling(poller))
        await stop.wait()
        await self.close()

    async def _keep_polling(self, poller: DevicePoller) -> None:
        """Run a device's poller; should it ever end while the gateway runs, start it again."""
        while not poller.stopping:
            try:
                await poller.run()
            except Exception:  # the poller handles its own faults; this is the last resort
                log.exception("device %s poller ended", poller.device.id)
            if not poller.stopping:
                poller.health.connected = False
                await asyncio.sleep(poller.backoff.next_delay())

    async def close(self) -> None:
        """Stop polling, publish the clean death, close the spool."""
        if self._rebirth_pending is not None:
            self._rebirth_pending.cancel()
        link_task = [t for t in [self._link_task] if t is not None]
        for poller in self.pollers.values():
            poller.stopping = True
        others = [t for t in self._tasks if t not in link_task]
        for task in others:
            task.cancel()
        if others:
            _, stuck = await asyncio.wait(others, timeout=5)
            if stuck:
                log.error("%d tasks did not stop within 5 s; stopping without them", len(stuck))
        await self.forwarder.settle()
        death = Death(station=self.station, session=self.session, bdseq=self.bdseq, t=utc_now(),
                      clean=True, last_seq=self.seq - 1)
        await self.link.stop((topic(self.station, Topic.DEATH),
                              death.model_dump_json().encode()))
        for task in link_task:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
        self.spool.close()
        self.seen.close()
        log.info("gateway for station %s stopped", self.station)
