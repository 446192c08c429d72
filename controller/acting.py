"""Supervisory staging of one live station: the stream's samples in, gateway writes out.

Pure (no clock, no I/O): :class:`StationActing` wraps a station's
:class:`controller.supervisor.StagingSupervisor` with what acting on a real plant adds to the
season simulator's loop:

* **Seeing.** A cycle runs only while the station's gateway is alive and every heat pump's run
  state (and, where the site has them, run command and remote mode) is known. A blind cycle
  writes nothing, the heartbeat included: the station's PLC then hands its units back to its
  own logic after its configured timeout, which is what should happen to a plant the
  controller cannot see.
* **Take-over without a bump.** On the first cycle, and whenever a unit it owns is found back in
  local mode (the PLC's watchdog handed it back, or someone switched it), the supervisor is
  seeded from the units' current run commands (:meth:`StagingSupervisor.take_over`), and the
  cycle writes those same run commands with remote mode true: nothing starts or stops because
  of the take-over, and the adopted stage starts its minimum runtime then.
* **Read-back.** A unit owned is one whose remote-mode write the gateway acknowledged; a run
  command the stream shows differing from staging's, after its write was answered, is written
  again.
* **Events.** Every staging decision, take-over, blind spell and refused or failed write is a
  contract event on the station's event topic, with the values behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller.holds import Hold, apply_holds, hold_event
from controller.supervisor import StagingSupervisor, decision_event
from plant.contract import CommandAck, Event, Outcome, Quality, Sample
from plant.measurands import Measurand
from plant.signing import STAGING_HOLD_PREFIX
from plant.site import Site, Staging
from plant.supervision import PlantView, Reading, Setpoint

M = Measurand
EVENT_KIND = "decision"
"""Events of the staging controller share the kind of staging decisions."""


def plant_view(station: str, samples: Mapping[str, Sample], now: datetime) -> PlantView:
    """The station as the supervisor reads it: each point's latest value, None when bad."""
    readings: dict[str, Reading | None] = {
        point: None if sample.q is Quality.BAD or sample.v is None else sample.v
        for point, sample in samples.items()}
    return PlantView(station, now, readings)


@dataclass
class Written:
    """A write the controller sent and has not yet seen answered."""

    station: str
    point: str
    value: Reading
    sent_at: datetime


@dataclass
class StationActing:
    """Acting on one station: cycles of the supervisor, take-overs, answers to its writes."""

    site: Site
    supervisor: StagingSupervisor
    source: str
    boot: str
    """Tells this run's event ids from an earlier run's (the historian stores an id once)."""
    owned: dict[str, datetime] = field(default_factory=dict)
    """Unit -> gateway time its remote mode true was confirmed."""
    confirmed: dict[str, datetime] = field(default_factory=dict)
    """Point -> gateway time of the last write the gateway confirmed."""
    blind: str = ""
    seq: int = 0
    cycled: bool = False
    last_cycle: datetime | None = None
    catching_up: datetime | None = None
    """After a silence longer than the heartbeat timeout: the stream must reach this time."""

    def __post_init__(self) -> None:
        ids = [hp.id for hp in self.supervisor.heat_pumps]
        self._failing: dict[str, str] = {}
        """Point -> why its writes fail, while they do (said once)."""
        self._remote = {u: p for u in ids if (p := self.supervisor.point(u, M.REMOTE_MODE))}
        self._command = {u: p for u in ids if (p := self.supervisor.point(u, M.RUN_COMMAND))}
        self._needed = [p for u in ids for m in (M.RUN_STATE, M.RUN_COMMAND, M.REMOTE_MODE)
                        if (p := self.supervisor.point(u, m)) is not None]
        network = next((e.id for e in self.site.equipment if e.kind == "network"), "")
        heartbeat = self.supervisor.point(network, M.HEARTBEAT)
        if heartbeat is not None:  # its device answers: the heartbeat can be written
            self._needed.append(heartbeat)

    @property
    def station(self) -> str:
        """The station's id."""
        return self.site.station.id

    @property
    def params(self) -> Staging:
        """The station's staging parameters."""
        return self.supervisor.params

    def _event(self, at: datetime, condition: str, text: str,
               values: Mapping[str, Any] | None = None) -> Event:
        self.seq += 1
        stage = self.supervisor.state.stage  # shaped as a decision that changes no stage
        return Event(station=self.station, id=f"staging-{self.boot}#{self.seq}", t=at,
                     kind=EVENT_KIND, source=self.source,
                     data={"condition": condition, "stage_from": stage, "stage_to": stage,
                           "start": [], "stop": [], "values": dict(values or {}),
                           "text": text})

    def cycle(self, samples: Mapping[str, Sample], alive: bool, heard: datetime | None,
              now: datetime, in_flight: frozenset[str], *,
              holds: Mapping[str, Hold] | None = None) -> tuple[list[Setpoint], list[Event]]:
        """One staging cycle: the writes to send and the events to publish.

        ``holds`` are the station's latest hold or release of each unit, with who made it:
        staging neither counts on nor commands a unit held out (it keeps what it does until
        someone commands it); a unit released is taken over as it then runs.

        ``heard`` is the time of the newest live sample: after a silence of the controller
        longer than the station's heartbeat timeout (a frozen process, a lost connection) the
        station has taken its units back, and nothing is decided on readings from before.
        """
        view = plant_view(self.station, samples, now)
        events: list[Event] = []
        timeout = self._timeout_s()
        if self.last_cycle is not None and self.cycled and \
                (now - self.last_cycle).total_seconds() > timeout:
            self.catching_up, self.cycled = now, False
            events.append(self._event(
                now, "silent", f"the controller was silent for "
                f"{(now - self.last_cycle).total_seconds():.0f} s, longer than the station's "
                f"{timeout:g} s heartbeat timeout: it takes the station over again once the "
                "readings are current"))
        self.last_cycle = now
        missing = [p for p in self._needed if view.readings.get(p) is None]
        why = "the gateway is offline" if not alive else (
            f"no reading of {', '.join(missing[:3])}" if missing else "")
        if not why and self.catching_up is not None:
            if heard is None or heard < self.catching_up:
                why = "readings from before the silence"
            else:
                self.catching_up = None
        if why:
            if why != self.blind:
                events.append(self._event(
                    now, "blind", f"staging paused, heartbeat not written: {why}; the "
                    f"station's local logic takes its units back after {timeout:g} s"))
            self.blind = why
            return [], events
        if self.blind:
            events.append(self._event(now, "seeing", "readings complete again; staging goes on"))
            self.blind = ""
        writes: list[Setpoint] = []
        lost = self._lost(samples, in_flight)
        holds = holds or {}
        changed = apply_holds(self.supervisor.state,
                              frozenset(u for u, hold in holds.items() if hold.held))
        for unit in changed:
            change = hold_event(unit, holds.get(unit))
            events.append(self._event(now, change.condition, change.text, change.values))
            if change.condition == "released":
                lost.add(unit)
        # the gateway holds its own record of the units held out, so that no signer but the
        # controller commands a staged unit and the controller none held out: told of every
        # change first, and of every unit when the controller starts
        told = [u for u in self._command if u in changed or not self.cycled]
        writes += [Setpoint(STAGING_HOLD_PREFIX + u, self._held_out(u)) for u in told]
        taken: dict[str, bool] | None = None
        if not self.cycled or lost:
            taken = self.supervisor.take_over(view)
            writes += [Setpoint(self._remote[u], True) for u in sorted(taken)
                       if u in self._remote and (u in lost or not self.cycled)]
        before = len(self.supervisor.log)
        writes += self.supervisor.step(view)
        if taken is not None:  # told after the step, which adopts the stage the units make
            events.append(self._event(
                now, "take-over", "taken over as the units run: "
                + (", ".join(f"{u} {'on' if on else 'off'}" for u, on in sorted(taken.items()))
                   or "no unit"),
                {"units": taken, "lost": sorted(lost), "first": not self.cycled}))
            self.cycled = True
        for at, decision in self.supervisor.log[before:]:
            self.seq += 1
            event = decision_event(self.station, self.seq, at, decision, self.source)
            events.append(event.model_copy(update={"id": f"staging-{self.boot}#{self.seq}"}))
        writes += self._again(samples, in_flight, {w.point for w in writes})
        # the gateway refuses a second write to a point while one is being made ("busy"): a
        # heartbeat still in flight is this cycle's heartbeat; a run command, written again
        # once its answer shows it was not carried out
        return [w for w in writes if w.point not in in_flight], events

    def _held_out(self, unit: str) -> bool:
        record = self.supervisor.state.units.get(unit)
        return record is not None and record.held_out

    def _timeout_s(self) -> float:
        supervision = self.site.station.supervision
        return supervision.heartbeat_timeout_s if supervision is not None else float("inf")

    def _lost(self, samples: Mapping[str, Sample], in_flight: frozenset[str]) -> set[str]:
        """Units staging commands that read local mode after their remote mode was confirmed."""
        lost: set[str] = set()
        for unit, point in self._remote.items():
            record = self.supervisor.state.units.get(unit)
            sample = samples.get(point)
            if record is None or record.held_out or sample is None or point in in_flight:
                continue
            owned = self.owned.get(unit)
            if not sample.v and (owned is None or sample.t > owned):
                lost.add(unit)
        return lost

    def _again(self, samples: Mapping[str, Sample], in_flight: frozenset[str],
               writing: set[str]) -> list[Setpoint]:
        """Run commands the stream shows differing from staging's after their write was
        answered: written again."""
        again: list[Setpoint] = []
        for unit, point in self._command.items():
            record = self.supervisor.state.units.get(unit)
            sample = samples.get(point)
            if record is None or record.held_out or sample is None or point in in_flight \
                    or point in writing:
                continue
            answered = self.confirmed.get(point)
            if bool(sample.v) != record.commanded and answered is not None \
                    and sample.t > answered:
                again.append(Setpoint(point, record.commanded))
        return again

    def answered(self, written: Written, ack: CommandAck) -> Event | None:
        """Take the gateway's answer to a write; an event when it was not carried out, once
        per point and reason until a write to that point is done again."""
        self.confirmed[written.point] = ack.t
        if ack.outcome is Outcome.DONE:
            self._failing.pop(written.point, None)
            for unit, point in self._remote.items():
                if point == written.point and written.value:
                    self.owned[unit] = ack.t
            return None
        code = ack.reason.split(":", 1)[0]
        if self._failing.get(written.point) == code:
            return None
        self._failing[written.point] = code
        return self._event(ack.t, "write-" + ack.outcome.value,
                           f"{written.point} := {written.value} {ack.outcome.value}: "
                           f"{ack.reason}", {"point": written.point, "value": written.value,
                                             "readback": ack.readback})

    def unanswered(self, written: Written, now: datetime) -> Event | None:
        """A write the gateway did not answer in time: an event, once per point until a write
        to it is done again."""
        if self._failing.get(written.point) == "unanswered":
            return None
        self._failing[written.point] = "unanswered"
        return self._event(now, "write-unanswered",
                           f"{written.point} := {written.value}: no answer from the gateway "
                           f"since {written.sent_at.isoformat()}",
                           {"point": written.point, "value": written.value})
