"""The supervisory staging controller of one station: readings in, heat-pump commands out.

It reads a :class:`plant.supervision.PlantView` (points by id, as the gateway publishes them),
turns it into :class:`controller.staging.StagingInputs`, runs one staging step and returns the
run commands as :class:`plant.supervision.Setpoint` s. It is pure (no clock, no I/O): the
season simulator calls it in process, the live controller service around real gateways.

What it reads, by equipment and measurand from the site file:

* the capacity requirement: network flow × (supply setpoint − network return), less what the
  direct plate exchangers (a stage no heat pump shares) deliver — they always run first;
* the plant enable: the climate's heating season and the station's schedule, and the
  anti-freeze guard, which heats all year, with the units the station's PLC guards with
  (:mod:`plant.heating`, the same functions the station's PLC runs);
* each heat pump's run state, fault, heat and run command;
* the source entering and leaving the running evaporators, against the protective limit;
* production and reinjection wells: production is held below the reinjection wells' measured
  capacity (:func:`production_speed_hz`).

Every cycle it writes a new value to the station's supervisory heartbeat point, if the site
has one: the station's PLC hands its units back to its own logic when that falls silent.

The supply setpoint itself stays the station's climate curve (:func:`plant.heating.
climate_curve_c`, which the PLC computes); the supervisor owns the heat pumps and, where the
reinjection wells cannot take the production, the production pumps' speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from controller.expect import injectivity_index, reinjection_capacity_m3h
from controller.staging import (
    Decision,
    StageTable,
    StagingInputs,
    StagingState,
    UnitReading,
    UnitRecord,
    stage_table,
    step,
)
from plant.contract import Event
from plant.heating import Heating, guard_units, heating_wanted
from plant.measurands import Measurand
from plant.models.water import heat_power_kw
from plant.site import (
    HeatPump,
    PlateExchanger,
    ProductionWell,
    ReinjectionWell,
    Site,
    Staging,
)
from plant.supervision import PlantView, Reading, Setpoint
from plant.units import TO_BASE

M = Measurand
MAX_INJECTION_HEAD_M = 100.0
"""Wellhead pressure head allowed on a pressurised reinjection well (as the alarm rule)."""


def production_speed_hz(speed_hz: float, produced_m3h: float, limit_m3h: float,
                        min_hz: float, max_hz: float) -> float:
    """Production pump speed that brings production to the reinjection limit (affinity law).

    Flow scales with speed, so the speed is cut in the ratio limit/produced when production
    exceeds the limit, and given back the same way (up to ``max_hz``) when there is room.
    """
    if produced_m3h <= 0.0 or speed_hz <= 0.0:
        return max_hz
    return min(max(speed_hz * limit_m3h / produced_m3h, min_hz), max_hz)


@dataclass
class StagingSupervisor:
    """Supervisory staging of one station (implements :class:`plant.supervision.Supervisor`)."""

    site: Site
    params: Staging = field(default_factory=Staging)
    state: StagingState = field(default_factory=StagingState)
    log: list[tuple[datetime, Decision]] = field(default_factory=list)
    heating: Heating = field(default_factory=lambda: Heating(False, False, False))
    """Comfort heating and the anti-freeze guard as last judged (the guard's hysteresis)."""
    table: StageTable = field(init=False)
    _point: dict[tuple[str, Measurand], str] = field(init=False, default_factory=dict)
    _written: bool = field(init=False, default=False)
    _beats: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.table = stage_table(self.site, self.params)
        for point in self.site.points:
            self._point.setdefault((point.equipment, point.measurand), point.id)
        self._zone = ZoneInfo(self.site.station.timezone)
        self.heat_pumps = [e for e in self.site.equipment if isinstance(e, HeatPump)]
        shared = {hp.stage for hp in self.heat_pumps}
        self.direct = [e for e in self.site.equipment
                        if isinstance(e, PlateExchanger) and e.stage not in shared]
        self.wells = [e for e in self.site.equipment if isinstance(e, ProductionWell)]
        self.reinjection = [e for e in self.site.equipment if isinstance(e, ReinjectionWell)]
        self._zones = [p.id for p in self.site.points if p.measurand is M.INDOOR_TEMP]
        self._network_id = next((e.id for e in self.site.equipment if e.kind == "network"), "")
        self.weather_id = next((e.id for e in self.site.equipment if e.kind == "weather"), "")
        self._points = {p.id: p for p in self.site.points}
        self._heartbeat = next((p.id for p in self.site.points
                                if p.measurand.value == "heartbeat" and p.writable), None)
        # the points read every cycle, resolved once: (unit, run state, fault, heat, run
        # command, evaporator outlet and inlet) per heat pump, the network's, the direct
        # exchangers' heat
        self._unit_points = [
            (hp.id, self.point(hp.id, M.RUN_STATE), self.point(hp.id, M.FAULT),
             self.point(hp.id, M.HEAT_POWER), self.point(hp.id, M.RUN_COMMAND),
             self.point(hp.id, M.EVAPORATOR_OUT_TEMP), self.point(hp.id, M.EVAPORATOR_IN_TEMP))
            for hp in self.heat_pumps]
        self._network_points = [self.point(self._network_id, m) for m in (
            M.SUPPLY_TEMP, M.RETURN_TEMP, M.FLOW, M.SUPPLY_TEMP_SETPOINT)]
        self._direct_heat = [self.point(hx.id, M.HEAT_POWER) for hx in self.direct]

    def point(self, equipment: str, measurand: Measurand) -> str | None:
        """The id of an equipment's point for a measurand, if the site has one."""
        return self._point.get((equipment, measurand))

    def _read(self, view: PlantView, equipment: str, measurand: Measurand) -> Reading | None:
        point = self._point.get((equipment, measurand))
        return None if point is None else view.readings.get(point)

    def _number(self, view: PlantView, equipment: str, measurand: Measurand) -> float | None:
        value = self._read(view, equipment, measurand)
        return None if value is None else float(value)

    def inputs(self, view: PlantView) -> StagingInputs:
        """The staging inputs the readings give."""
        readings = view.readings

        def read(point: str | None) -> Reading | None:
            return None if point is None else readings.get(point)

        def number(point: str | None) -> float | None:
            value = None if point is None else readings.get(point)
            return None if value is None else float(value)

        supply, back, flow, setpoint = (number(p) for p in self._network_points)
        if setpoint is None:
            setpoint = self.site.station.design_supply_temp_c
        required = 0.0
        if flow is not None and back is not None:
            required = float(heat_power_kw(flow, setpoint, back)) if setpoint > back else 0.0
        for heat_point in self._direct_heat:
            required -= number(heat_point) or 0.0
        units: dict[str, UnitReading] = {}
        evaporators: list[float] = []
        inlets: list[float] = []
        for unit, state_point, fault_point, heat_point, command_point, out_point, in_point \
                in self._unit_points:
            state = read(state_point)
            fault = read(fault_point)
            heat = number(heat_point) or 0.0
            command = read(command_point)
            running = bool(state)
            out = number(out_point)
            units[unit] = UnitReading(running, state is not None and not bool(fault), heat,
                                      None if command is None else bool(command), out)
            record = self.state.units.get(unit)
            if record is not None and record.held_out and running:
                required -= heat  # the operator's unit carries its share
            if running and out is not None:
                evaporators.append(out)
            inlet = number(in_point)
            if running and inlet is not None:
                inlets.append(inlet)
        local = view.now.astimezone(self._zone)
        indoor = [float(v) for p in self._zones if (v := view.readings.get(p)) is not None]
        self.heating = heating_wanted(self.site.station, local,
                                      min(indoor) if indoor else 99.0, self.heating.guarding)
        lineup = guard_units(self.site, self.heating,
                             frozenset(u for u, r in units.items() if not r.available))
        # the guard alone enables the plant only while the network circulates: the station's
        # PLC, which runs the pumps, judges the same guard on its own sensors, and near the
        # band's edges the two may disagree for a cycle; no unit heats a standing network
        enabled = self.heating.comfort or (self.heating.guarding and (flow is None or flow > 0))
        short_k = None
        if self.direct:
            carried = float(heat_power_kw(flow, 1.0, 0.0)) if flow else 0.0
            short_k = required / carried if carried > 0 else 0.0
        return StagingInputs(view.now.timestamp(), required,
                             supply if supply is not None else setpoint, setpoint,
                             enabled, units, min(evaporators) if evaporators else None,
                             short_k, lineup, max(inlets) if inlets and evaporators else None)

    def take_over(self, view: PlantView) -> dict[str, bool]:
        """Seed staging from what the units do now, so the next step keeps them as they are.

        Each unit staging commands is taken as its run command reads (its run state where the
        command cannot be read); the stage they make starts its minimum runtime now, and the
        next :meth:`step` writes those same commands. Returns the run command taken per unit.
        """
        taken: dict[str, bool] = {}
        for hp in self.heat_pumps:
            record = self.state.units.setdefault(hp.id, UnitRecord())
            state = self._read(view, hp.id, M.RUN_STATE)
            command = self._read(view, hp.id, M.RUN_COMMAND)
            record.running = bool(state)
            if not record.held_out:
                record.commanded = bool(state) if command is None else bool(command)
                taken[hp.id] = record.commanded
        self.state.stage_since_s = view.now.timestamp()
        self.state.last_s = None  # the time away is no unit's runtime
        self._written = False
        return taken

    def step(self, view: PlantView) -> Sequence[Setpoint]:
        """One supervisory cycle: staging decisions as run commands, production within limits."""
        decisions = step(self.table, self.state, self.inputs(view), self.params)
        writes: list[Setpoint] = []
        if not self._written:  # take every unit over as it stands: no bump
            self._written = True
            writes += [Setpoint(self._point[(u, M.RUN_COMMAND)], record.commanded)
                       for u, record in sorted(self.state.units.items())
                       if not record.held_out and (u, M.RUN_COMMAND) in self._point]
        for decision in decisions:
            self.log.append((view.now, decision))
            writes += [Setpoint(self._point[(u, M.RUN_COMMAND)], True) for u in decision.start]
            writes += [Setpoint(self._point[(u, M.RUN_COMMAND)], False) for u in decision.stop]
        writes += self._production(view)
        if self._heartbeat is not None:  # a new value every cycle keeps the station ours
            self._beats = (self._beats + 1) % 65536
            writes.append(Setpoint(self._heartbeat, self._beats))
        return writes

    def reinjection_capacity_m3h(self, view: PlantView) -> float | None:
        """What the reinjection wells take at most now, from their measured injectivity."""
        if not self.reinjection:
            return None
        total = 0.0
        for well in self.reinjection:
            flow = self._number(view, well.id, M.FLOW)
            level = self._number(view, well.id, M.WATER_LEVEL)
            pressure = self._number(view, well.id, M.WELLHEAD_PRESSURE)
            design = well.injectivity_m3h_per_m
            index = None
            unit = self._points[self._point[(well.id, M.WELLHEAD_PRESSURE)]].unit \
                if (well.id, M.WELLHEAD_PRESSURE) in self._point else "MPa"
            if flow is not None and level is not None and pressure is not None:
                index = injectivity_index(flow, well.static_level_m, level,
                                          pressure * TO_BASE[unit] * 1000.0)  # MPa → kPa
            head = MAX_INJECTION_HEAD_M if well.pressurised else 0.0
            total += reinjection_capacity_m3h(index or design, well.static_level_m, head)
        return total

    def _production(self, view: PlantView) -> list[Setpoint]:
        capacity = self.reinjection_capacity_m3h(view)
        if capacity is None or not self.wells:
            return []
        limit = self.params.reinjection_margin * capacity
        flows = [self._number(view, w.id, M.FLOW) or 0.0 for w in self.wells]
        produced = sum(flows)
        writes: list[Setpoint] = []
        for well in self.wells:
            point = self._point.get((well.id, M.SPEED_SETPOINT))
            speed = self._number(view, well.id, M.SPEED_SETPOINT)
            if point is None or speed is None:
                continue
            bounds = self._points[point].limits
            low, high = (bounds.min, bounds.max) if bounds else (0.0, speed)
            target = production_speed_hz(speed, produced, limit, low, high)
            if bounds and bounds.max_step:
                target = min(max(target, speed - bounds.max_step), speed + bounds.max_step)
            if produced > limit or (produced < 0.97 * limit and target > speed + 0.5):
                writes.append(Setpoint(point, round(target, 1)))
        return writes


def decision_event(station: str, seq: int, at: datetime, decision: Decision,
                   source: str) -> Event:
    """A staging decision as a contract event (``kind`` decision): the condition that fired,
    the stages, the units started and stopped and the values behind it."""
    return Event(station=station, id=f"staging#{seq}", t=at, kind="decision", source=source,
                 data={"condition": decision.condition, "stage_from": decision.stage_from,
                       "stage_to": decision.stage_to, "start": list(decision.start),
                       "stop": list(decision.stop), "values": dict(decision.values),
                       "text": decision.detail})


def supervisor_for(site: Site) -> StagingSupervisor:
    """The station's supervisor with its site's staging parameters (G36 defaults if none)."""
    return StagingSupervisor(site, site.station.staging or Staging())
