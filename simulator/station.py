"""One station's model: the equipment, its local PLC logic, hydraulics, heat and meters.

:class:`StationModel` composes the parts, each in its own module:

- :mod:`simulator.build`: the equipment built from the site file, pumps given their duties;
- :mod:`simulator.local_control`: the local PLC's decisions as pure functions of (settings,
  measurements, time): schedule and season, operating mode, supply target, duty pumps, heat-pump
  staging and protection, watchdog;
- :mod:`simulator.hydraulics`: drives and valves moving, well, network and loop flows by the
  valves' typed roles, reinjection;
- :mod:`simulator.heat`: the thermal solution from the source stream to the buildings, with its
  exact energy balance;
- :mod:`simulator.meters`: heat and electricity meters and counters;
- :mod:`simulator.commands`: written commands, remote mode, hand-back, watchdog and faults.

One step (:meth:`StationModel.advance`) does, in order: weather; watchdog; local PLC decisions
(season, mode, duty pumps — each yields to a command written by a remote controller); drives and
valves moving towards their setpoints, heat pumps loading; hydraulics; the thermal solution;
reinjection; heat-pump staging and protection; meters.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from plant.heating import (
    BUILDING_TIME_CONSTANT_S,
    HEAT_PUMP_RAMP_PER_S,
    HEAT_PUMP_START_S,
    Heating,
)
from plant.measurands import Measurand
from plant.site import FREEZE_GUARD_K, ElectricityMeter, HeatMeter, ModeKind, Site
from simulator import commands, heat, hydraulics, local_control, meters
from simulator.build import (
    CHILLED_DESIGN_DT_K,
    CHILLED_SUPPLY_C,
    Plant,
    PumpGroup,
    ValveState,
    build_plant,
)
from simulator.climate import OutdoorWeather
from simulator.commands import CommandError
from simulator.equipment import HeatPumpState, lag
from simulator.heat import (
    COOLING_INDOOR_C,
    MAX_CONDENSER_LIFT_K,
    PLANT_ROOM_TEMP_C,
    STATION_LOSS_FRACTION,
    freeze_guard_c,
)
from simulator.hydraulics import LOOP_STATIC_MPA, NETWORK_STATIC_MPA, VALVE_RATE_PCT_PER_S
from simulator.local_control import (
    DutyPump,
    Heartbeat,
    PlantState,
    Staging,
    StagingMeasurements,
    StagingUnit,
    guard_units,
    heating_wanted,
    next_mode,
)
from simulator.meters import (
    ElectricityMeterState,
    EnergyBalance,
    HeatMeterState,
    meter_source,
    power_sources,
)

__all__ = ["BUILDING_TIME_CONSTANT_S", "CHILLED_DESIGN_DT_K", "CHILLED_SUPPLY_C",
           "COOLING_INDOOR_C", "FREEZE_GUARD_K", "HEAT_PUMP_RAMP_PER_S", "HEAT_PUMP_START_S",
           "LOOP_STATIC_MPA", "MAX_CONDENSER_LIFT_K", "NETWORK_STATIC_MPA", "PLANT_ROOM_TEMP_C",
           "STATION_LOSS_FRACTION", "VALVE_RATE_PCT_PER_S", "CommandError",
           "ElectricityMeterState", "EnergyBalance", "HeatMeterState", "StationModel",
           "Value", "ValveState", "freeze_guard_c"]

M = Measurand
Value = float | bool

OUTDOOR_DAMPING_S = 3 * 3600.0
"""Time constant of the damped outdoor temperature the heating curve follows."""
HIGH_CONDENSER_TRIP_MARGIN_K = 0.2
"""A condenser held at its limit (within 0.2 K) trips the unit on high pressure."""
WARM_UP_STEP_S = 60.0


class StationModel:
    """One station's physics and local control, advanced by :meth:`advance`."""

    def __init__(self, site: Site, *, seed: int = 0, start: datetime | None = None,
                 warm_up_s: float = 12 * 3600.0) -> None:
        self.site = site
        station = site.station
        self.rng = random.Random(f"{seed}:{station.id}")
        begin = start or datetime.now(UTC).replace(microsecond=0)
        if begin.tzinfo is None:
            raise ValueError("the start time must carry a time zone (UTC)")
        self.now = begin
        self.weather = OutdoorWeather(station.climate, station.timezone, self.rng)
        self.damped_outdoor_c: float | None = None
        self.heating_on = False
        self.heating = Heating(season=False, comfort=False, guarding=False)
        """Comfort heating and the anti-freeze guard (:func:`plant.heating.heating_wanted`)."""
        self.guard_units: frozenset[str] | None = None
        """The heat pumps the anti-freeze guard heating alone may run (None: any)."""
        self.modes = {m.kind: m for m in site.modes}
        self._mode_valves = {v for m in site.modes for v in (*m.open, *m.closed)}
        self.mode: ModeKind | None = None
        """The operating mode the local logic runs (None: the site names none for the case)."""
        self._local_zone = ZoneInfo(station.timezone)
        self.cooling_on = False
        self.setpoint_mode = "heating"
        """The season (heating or cooling) a remote supply setpoint was written for."""
        self.remote_supply_setpoint_c: float | None = None
        self.heartbeat = Heartbeat()
        self.watchdog_takeovers = 0
        """Times the local logic took the station back from a silent supervisor."""
        self.last_takeover: tuple[datetime, datetime] | None = None
        """The last watchdog take-over: when the heartbeat last changed before it, and when."""
        self.handback_from_c: float | None = None
        """Where the supply target walks from after a hand-back (None: not walking)."""
        self.supply_target_c = station.design_supply_temp_c
        self.plant_supply_c = station.design_supply_temp_c
        self.station_supply_c = station.design_supply_temp_c
        self.return_c = station.design_return_temp_c
        self.network_return_c = station.design_return_temp_c
        """The buildings' mixed return, before an open bypass warms it to the plant's return."""
        self.network_flow_m3h = 0.0
        self.bypass_flow_m3h = 0.0
        self.plant_flow_m3h = 0.0
        self.start_loss_kw = 0.0
        self.starting_units: list[HeatPumpState] = []
        """Heat pumps still in their start-up this step (they heat nothing yet)."""
        self.loss_kw = 0.0
        self.plant_output_kw = 0.0
        self.delivered_kw = 0.0
        self.source_kw = 0.0
        self.overflow_m3h = 0.0
        self.balance = EnergyBalance()
        self.staging = Staging()
        self.plant: Plant = build_plant(site)
        self._expose(self.plant)
        self.heat_meters: dict[str, HeatMeterState] = {}
        self.electricity_meters: dict[str, ElectricityMeterState] = {}
        for item in site.equipment:
            if isinstance(item, HeatMeter):
                self.heat_meters[item.id] = HeatMeterState(meter_source(self, item))
            elif isinstance(item, ElectricityMeter):
                self.electricity_meters[item.id] = ElectricityMeterState(
                    power_sources(self, item.scope))
        if warm_up_s > 0:
            self.now = begin - timedelta(seconds=warm_up_s)
            self.weather.advance(self.now, WARM_UP_STEP_S)
            if self.can_cool and self.weather.in_cooling_season(self.now):
                for zone in self.zones.values():
                    zone.indoor_temp_c = COOLING_INDOOR_C
            elapsed = 0.0
            while elapsed < warm_up_s:
                step = min(WARM_UP_STEP_S, warm_up_s - elapsed)
                self.advance(step)
                elapsed += step
            self.reset_counters()
        else:
            self.weather.advance(self.now, 1.0)

    def _expose(self, plant: Plant) -> None:
        """Name the plant's parts on the model, as readings, faults and tests reach them."""
        self.wells = plant.wells
        self.reinjection = plant.reinjection
        self.boreholes = plant.boreholes
        self.exchangers = plant.exchangers
        self.heat_pumps = plant.heat_pumps
        self.pumps = plant.pumps
        self.pump_roles = plant.pump_roles
        self.valves = plant.valves
        self.zones = plant.zones
        self.filters = plant.filters
        self.user_group: PumpGroup = plant.user_group
        self.kind = plant.kind
        self.heating_flow_m3h = plant.heating_flow_m3h
        self.cooling_design_kw = plant.cooling_design_kw
        self.cooling_flow_m3h = plant.cooling_flow_m3h
        self.can_cool = plant.can_cool

    # ------------------------------------------------------------------ derived streams

    @property
    def source_flow_m3h(self) -> float:
        """Flow of the source stream: produced geothermal water or the borehole loop."""
        return hydraulics.source_flow_m3h(self.plant)

    @property
    def source_supply_c(self) -> float:
        """Temperature of the source stream arriving at the plant."""
        return self.source_in_c

    @property
    def source_return_c(self) -> float:
        """Temperature of the source stream leaving the plant."""
        return self.source_out_c

    @property
    def injection_temp_c(self) -> float:
        """Temperature of the water sent to the reinjection wells."""
        return self.source_out_c

    # ------------------------------------------------------------------ stepping

    def reset_counters(self) -> None:
        """Zero every meter, counter and the energy balance (after the warm-up)."""
        self.balance = EnergyBalance()
        for unit in {id(p): p for p in self.pumps.values()}.values():
            unit.energy_kwh = unit.run_hours = 0.0
        for well in self.wells.values():
            well.volume_m3 = 0.0
            well.pump.energy_kwh = well.pump.run_hours = 0.0
        for rw in self.reinjection.values():
            rw.volume_m3 = 0.0
            rw.pump.energy_kwh = rw.pump.run_hours = 0.0
        for hp in self.heat_pumps.values():
            hp.energy_kwh = hp.heat_kwh = hp.run_hours = 0.0
        for bh in self.boreholes.values():
            bh.heat_kwh = bh.rejected_kwh = 0.0
        for zone in self.zones.values():
            zone.heat_kwh = 0.0
        for meter in self.heat_meters.values():
            meter.heat_kwh = meter.volume_m3 = 0.0
        for emeter in self.electricity_meters.values():
            emeter.energy_kwh = 0.0
        self.makeup_m3 = 0.0

    source_in_c = 20.0
    """Temperature of the source stream arriving at the plant (see :attr:`source_supply_c`)."""
    source_out_c = 15.0
    """Temperature of the source stream leaving the plant (see :attr:`source_return_c`)."""
    network_head_m = 0.0
    loop_head_m = 0.0
    heat_pump_inlet_c = 40.0
    makeup_m3 = 0.0
    makeup_m3h = 0.0

    def advance(self, dt_s: float) -> None:
        """Advance the station by ``dt_s`` simulated seconds."""
        if not dt_s > 0:
            raise ValueError(f"time step {dt_s} s must be positive")
        self.now += timedelta(seconds=dt_s)
        self.weather.advance(self.now, dt_s)
        commands.watchdog(self)
        self._local_control(dt_s)
        hydraulics.move_actuators(self.plant, dt_s)
        heat.load_heat_pumps(self.plant, dt_s)
        self._hydraulics(dt_s)
        heat.heat_step(self, dt_s)
        self._reinjection(dt_s)
        self._staging_logic(dt_s)
        meters.step_meters(self, dt_s)

    # ------------------------------------------------------------------ local logic, applied

    def _local_control(self, dt_s: float) -> None:
        """Season, schedule, supply target, mode and pump duties (see :mod:`local_control`)."""
        outdoor = self.weather.temp_c
        if self.damped_outdoor_c is None:
            self.damped_outdoor_c = outdoor
        self.damped_outdoor_c = lag(self.damped_outdoor_c, outdoor, OUTDOOR_DAMPING_S, dt_s)
        # comfort heating in the season's occupied periods, and an anti-freeze guard that
        # always wins, all year
        coldest = min(z.indoor_temp_c for z in self.zones.values())
        self.heating = heating_wanted(self.site.station, self.now.astimezone(self._local_zone),
                                      coldest, self.heating.guarding)
        self.heating_on = self.heating.on
        self.guard_units = guard_units(self.site, self.heating, frozenset(
            ident for ident, hp in self.heat_pumps.items() if hp.faulted))
        self.cooling_on = (self.can_cool and not self.heating_on
                           and self.weather.in_cooling_season(self.now))
        mode = "cooling" if self.cooling_on else "heating"
        remote = self.remote_supply_setpoint_c if self.setpoint_mode == mode else None
        self.supply_target_c = local_control.supply_target_c(
            self.site.station, self.damped_outdoor_c, cooling=self.cooling_on,
            remote_setpoint_c=remote)
        if self.handback_from_c is not None and self.remote_supply_setpoint_c is None:
            self.supply_target_c, self.handback_from_c = local_control.handed_back_target_c(
                self.handback_from_c, self.supply_target_c, dt_s)
        self.user_group.required_m3h = (self.cooling_flow_m3h if self.cooling_on
                                        else self.heating_flow_m3h)
        if self.modes:
            self._choose_mode()
        on = self.plant_on
        plant = self.plant
        for well in self.wells.values():
            if not well.pump.remote_run:
                well.pump.run_command = self.heating_on
            if not well.pump.remote_speed:
                well.pump.speed_setpoint_hz = well.pump.max_speed_hz
        self._loop_flows()
        for group in (plant.user_group, plant.source_spare, *plant.source_groups.values()):
            self._duty(group, on)
        for role, unit in plant.other_pumps:
            if not unit.remote_run:
                unit.run_command = on and role != "makeup"
        for unit in plant.boosters:
            if not unit.remote_run:
                unit.run_command = self.heating_on
        for unit, served in plant.companions:
            if not unit.remote_run:
                unit.run_command = any(self.heat_pumps[h].running for h in served)
            if not unit.remote_speed and unit.vfd and served:
                # the loop pump slows to the design flow of the units running on it
                unit.speed_setpoint_hz = local_control.companion_speed_hz(
                    unit.min_speed_hz, unit.max_speed_hz,
                    [(self.heat_pumps[h].spec.design_evaporator_flow_m3h,
                      self.heat_pumps[h].running) for h in served])
        for rw in self.reinjection.values():
            if rw.has_pump and not rw.pump.remote_run:
                rw.pump.run_command = self.heating_on
        if not on:
            for hp in self.heat_pumps.values():
                if not hp.remote_run:
                    hp.run_command = False
        for hp in self.heat_pumps.values():
            if not hp.remote_run and not self.mode_allows(hp):
                hp.run_command = False

    def _loop_flows(self) -> None:
        """The borehole loops give the design flow of the evaporators they feed straight.

        In heating, where no exchanger stands between the loop and the evaporators, each
        evaporator takes at most its design flow; the variable-speed loop pumps slow to it
        rather than send the rest round the header's bypass (003 L116-122, 004 L1712-1714).
        In cooling, or behind an isolating exchanger, the loops keep their rated flow.
        """
        plant = self.plant
        if not plant.boreholes:
            return
        groups = [(plant.source_groups[b], [b]) for b in plant.boreholes if b not in
                  plant.orphan_boreholes] + [(plant.source_spare, plant.orphan_boreholes)]
        rated = [sum(plant.boreholes[b].spec.rated_flow_m3h for b in served)
                 for _, served in groups]
        if self.cooling_on or any(x.serves_heat_pumps for x in plant.exchangers.values()):
            flows = rated
        else:
            flows = local_control.loop_flows_m3h(
                rated, [(h.spec.design_evaporator_flow_m3h, h.running)
                        for h in self.heat_pumps.values()])
        for (group, _), flow in zip(groups, flows, strict=True):
            group.required_m3h = flow

    def _choose_mode(self) -> None:
        """Switch operating mode by the local conditions and line its valves up."""
        short = (self.plant_supply_c < self.supply_target_c - local_control.STAGE_UP_SHORT_K
                 and self.network_flow_m3h > 0)
        heating = self.heating
        state = PlantState(
            heating_season=heating.season, comfort=heating.comfort, guarding=heating.guarding,
            cooling=self.cooling_on,
            direct_holds=self.direct_supply_holds,
            units_running=any(h.running and not h.remote_run for h in self.heat_pumps.values()),
            short=short)
        self.mode = next_mode(frozenset(self.modes), self.mode, state)
        mode = self.modes.get(self.mode) if self.mode is not None else None
        for ident in self._mode_valves:
            valve = self.valves[ident]
            if not valve.remote:
                valve.setpoint_pct = local_control.lineup_pct(mode, ident,
                                                              valve.spec.normally_open)

    def mode_allows(self, hp: HeatPumpState) -> bool:
        """True when the operating mode, and the anti-freeze guard heating alone, let the local
        logic run this unit (always, without modes and outside the guard)."""
        ident = hp.spec.id
        return local_control.mode_allows(self.modes, self.mode, ident) and (
            self.guard_units is None or ident in self.guard_units)

    @property
    def direct_supply_holds(self) -> bool:
        """True when the direct exchangers alone hold the heating supply target.

        Direct supply has priority (003 L2625): the heat pumps then stage down, one by one,
        and start again only when the exchangers fall short.
        """
        return (self.heating_on and self.plant.has_direct_exchangers
                and self.heat_pump_inlet_c
                >= self.supply_target_c - local_control.STAGE_UP_SHORT_K)

    @property
    def plant_on(self) -> bool:
        """True in the heating season, or in the cooling season of a station that cools."""
        return self.heating_on or self.cooling_on

    def heating_curve_c(self, outdoor_c: float) -> float:
        """Supply temperature that lets design-sized emitters meet the load at this outdoor temp."""
        return local_control.climate_curve_c(self.site.station, outdoor_c)

    def _duty(self, group: PumpGroup, on: bool) -> None:
        """Run enough pumps of a group to give its required flow (see :func:`duty`)."""
        plan = local_control.duty(
            [DutyPump(p.rated_flow_m3h, p.running, p.failed, p.remote_run, p.remote_speed,
                      p.min_speed_hz, p.max_speed_hz) for p in group.pumps],
            group.required_m3h if on else 0.0)
        for unit, decision in zip(group.pumps, plan, strict=True):
            if decision is None:
                continue
            unit.run_command, speed = decision
            if speed is not None:
                unit.speed_setpoint_hz = speed

    def _hydraulics(self, dt_s: float) -> None:
        flows = hydraulics.solve_flows(self.plant, self.plant_on, dt_s)
        self.network_flow_m3h = flows.network_flow_m3h
        self.bypass_flow_m3h = flows.bypass_flow_m3h
        self.plant_flow_m3h = flows.plant_flow_m3h
        self.network_head_m = flows.network_head_m
        self.loop_head_m = flows.loop_head_m

    def _reinjection(self, dt_s: float) -> None:
        if not self.wells:
            return
        hours = dt_s / 3600.0
        produced = self.source_flow_m3h
        result = hydraulics.reinject(self.plant, self.injection_temp_c, dt_s)
        self.overflow_m3h = result.overflow_m3h
        self.balance.produced_m3 += produced * hours
        self.balance.reinjected_m3 += result.taken_m3h * hours
        self.balance.overflow_m3 += self.overflow_m3h * hours

    def _staging_logic(self, dt_s: float) -> None:
        """Heat-pump protection and staging (see :func:`local_control.stage`), applied."""
        for hp in self.heat_pumps.values():
            low, high = local_control.protection_conditions(
                running=hp.running, starting_s=hp.starting_s, heat_kw=hp.heat_kw,
                min_load_pct=hp.spec.min_load_pct, rated_heat_kw=hp.spec.rated_heat_kw,
                evaporator_out_c=hp.evaporator_out_c, freeze_guard_c=freeze_guard_c(hp.spec),
                condenser_out_c=hp.condenser_out_c,
                condenser_trip_c=(hp.spec.rated_sink_out_temp_c + MAX_CONDENSER_LIFT_K
                                  - HIGH_CONDENSER_TRIP_MARGIN_K))
            hp.protect(low, high, dt_s)
        local = [h.spec.id for h in self.plant.hp_order
                 if not h.remote_run and not h.faulted and self.mode_allows(h)]
        for hp in self.heat_pumps.values():
            if hp.faulted and not hp.remote_run:
                hp.run_command = False
        units = [StagingUnit(ident, h.run_command, h.running, h.heat_kw, h.spec.rated_heat_kw,
                             h.capacity_ratio, h.started_order,
                             local_control.held_at_limit(
                                 running=h.running, starting_s=h.starting_s,
                                 evaporator_out_c=h.evaporator_out_c,
                                 freeze_guard_c=freeze_guard_c(h.spec),
                                 condenser_out_c=h.condenser_out_c,
                                 condenser_limit_c=(h.spec.rated_sink_out_temp_c
                                                    + MAX_CONDENSER_LIFT_K)))
                 for ident, h in self.heat_pumps.items()]
        decision = local_control.stage(
            self.staging, units, local,
            StagingMeasurements(self.plant_supply_c, self.supply_target_c, self.cooling_on,
                                self.network_flow_m3h, self.plant_on, self.direct_supply_holds),
            dt_s)
        self.staging = decision.timers
        if decision.start is not None:
            started = self.heat_pumps[decision.start]
            started.run_command = True
            started.started_order = decision.timers.order
        if decision.stop is not None:
            self.heat_pumps[decision.stop].run_command = False

    # ------------------------------------------------------------------ faults and commands

    def trip_heat_pump(self, equipment_id: str, tripped: bool) -> None:
        """Trip (or release) a heat pump."""
        commands.trip_heat_pump(self, equipment_id, tripped)

    def fail_pump(self, equipment_id: str, failed: bool) -> None:
        """Fail (or repair) a well pump or any pump."""
        commands.fail_pump(self, equipment_id, failed)

    def clog_reinjection(self, equipment_id: str, loss_per_day: float) -> None:
        """Add (or, negative, remove) a fractional injectivity loss per day."""
        commands.clog_reinjection(self, equipment_id, loss_per_day)

    def command(self, equipment_id: str, measurand: Measurand, value: Value) -> None:
        """Apply a written command (see :func:`simulator.commands.command`)."""
        commands.command(self, equipment_id, measurand, value)

    def remote(self, equipment_id: str) -> bool:
        """True when a unit (or, on the network, the supply setpoint) is under remote control."""
        return commands.is_remote(self, equipment_id)

    def hand_back(self) -> None:
        """Give every unit and the supply setpoint back to the local logic, as they are now."""
        commands.hand_back(self)

    def energy_balance(self) -> EnergyBalance:
        """Cumulative model energies since the warm-up ended."""
        return self.balance

    def reader(self, equipment_id: str, measurand: Measurand,
               depth_m: float | None = None) -> Callable[[], Value]:
        """A function giving one measurand's true value (see :func:`simulator.readings.reader`)."""
        from simulator.readings import reader  # readings builds on this module

        return reader(self, equipment_id, measurand, depth_m)
