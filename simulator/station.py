"""Time-stepped physical model of one station, with the local PLC logic that runs it.

One step (:meth:`StationModel.advance`) does, in order: weather; local PLC decisions (season,
duty pumps, heat-pump staging — each yields to a command written by a remote controller);
drives and valves moving towards their setpoints; hydraulics (well flows and drawdown, loop
and network flows); the thermal solution of source stream, exchanger stages, heat pumps and
user network; the ground; the buildings; meters.

Thermal solution. The source stream (geothermal water from the production wells, or the
closed loop through the boreholes) passes the stages in ``stage`` order. A plate exchanger
whose stage no heat pump shares is a *direct* exchanger: it heats the network's return water,
never above the supply target (its primary bypass opens). An exchanger sharing a stage with
heat pumps isolates their evaporators from the source water; it costs them its approach. Heat
pumps sit in parallel on the network after the direct exchangers, each taking a share of the
flow in proportion to its rating and heating it to its setpoint within its capacity; their COP
comes from :mod:`plant.models.heat_pump` at the current evaporator and condenser outlet
temperatures and load. The evaporators take the heat from the source stream, so

    source heat + compressor electricity = heat into the network + station pipe loss

holds exactly in every step (:meth:`StationModel.energy_balance`). Pump work is not added to
the water (it is under 1 % of the heat). Borehole outlets come from :mod:`plant.models.borehole`,
stepped with the heat actually extracted.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from plant.heating import EMITTER_EXPONENT
from plant.measurands import Measurand
from plant.models.borehole import borehole_outlet_temp_c, step_ground
from plant.models.water import heat_power_kw
from plant.site import (
    BoreholeField,
    CoaxialBorehole,
    ElectricityMeter,
    Filter,
    HeatMeter,
    HeatPump,
    ModeKind,
    Network,
    PlateExchanger,
    ProductionWell,
    Pump,
    ReinjectionWell,
    Site,
    Substation,
    Valve,
    ValveRole,
)
from simulator.climate import OutdoorWeather
from simulator.equipment import (
    BoreholeState,
    ExchangerState,
    HeatPumpState,
    ProductionWellState,
    PumpUnit,
    ReinjectionWellState,
    ZoneState,
    approach,
    capacity_rate_kw_per_k,
    counterflow_effectiveness,
    lag,
    pressure_mpa,
    volume_flow_at,
)
from simulator.local_control import (
    Heartbeat,
    PlantState,
    climate_curve_c,
    disarmed,
    heartbeat_written,
    heating_wanted,
    next_mode,
    occupied,
    supervisor_silent,
)

M = Measurand
Value = float | bool

BUILDING_TIME_CONSTANT_S = 40 * 3600.0
"""Thermal time constant of the heated buildings (capacity over heat-loss conductance)."""
OUTDOOR_DAMPING_S = 3 * 3600.0
"""Time constant of the damped outdoor temperature the heating curve follows."""
PLANT_ROOM_TEMP_C = 20.0
STATION_LOSS_FRACTION = 0.01
"""Station pipework heat loss at design supply temperature, as a fraction of design load."""
HEAT_PUMP_RAMP_PER_S = 1.0 / 300.0
HEAT_PUMP_START_S = 120.0
"""How long a started unit runs at minimum-load power before it heats (assumed, not a seed
figure: pressures build and the refrigerant settles)."""
"""How fast a started heat pump may load up (full capacity five minutes after start)."""
MAX_CONDENSER_LIFT_K = 10.0
"""How far above its rated sink temperature a heat pump can heat."""
FREEZE_GUARD_K = 4.0
"""How far above its fluid's freezing point a unit holds its evaporator's leaving water: the
middle of the 3–5 K by which the fluid's freezing point lies below the lowest design water
temperature (004 L2370)."""
LOW_EVAPORATOR_TRIP_K = 0.2
"""An evaporator held at its freezing guard (within 0.2 K) trips the unit."""


def _exchanged_kw(ua: float, c_hot: float, c_cold: float, t_hot: float, t_cold: float
                  ) -> float:
    """Heat a counterflow exchanger moves at these capacity rates and inlet temperatures."""
    return counterflow_effectiveness(ua, c_hot, c_cold) * min(c_hot, c_cold) * (t_hot - t_cold)


def _primary_for(ua: float, c_hot: float, c_cold: float, t_hot: float, t_cold: float, *,
                 wanted_kw: float) -> float:
    """The hot-side capacity rate, at most ``c_hot``, at which the exchanger moves ``wanted_kw``.

    The heat grows with the hot-side rate, so bisection finds it (to 0.01 % of ``c_hot``).
    """
    low, high = 0.0, c_hot
    while high - low > 1e-4 * c_hot:
        middle = 0.5 * (low + high)
        if _exchanged_kw(ua, middle, c_cold, t_hot, t_cold) < wanted_kw:
            low = middle
        else:
            high = middle
    return high


def freeze_guard_c(spec: HeatPump) -> float:
    """Lowest evaporator leaving-water temperature the unit allows (freeze protection)."""
    return spec.source_freezing_point_c + FREEZE_GUARD_K
HIGH_CONDENSER_TRIP_MARGIN_K = 0.2
"""A condenser held at its limit (within 0.2 K) trips the unit on high pressure."""
CHILLED_SUPPLY_C = 7.0
CHILLED_DESIGN_DT_K = 5.0
"""Chilled-water design supply and temperature rise (7/12 °C); site files give heating only."""
COOLING_INDOOR_C = 26.0
"""Indoor temperature cooling holds (GB 50736 comfort, summer)."""
FAN_COIL_DESIGN_EXCESS_K = COOLING_INDOOR_C - (CHILLED_SUPPLY_C + CHILLED_DESIGN_DT_K / 2.0)
MIN_CHILLED_C = 4.0
MAX_CONDENSER_OUT_C = 45.0
THERMOSTAT_TIME_CONSTANT_S = 3600.0
FAN_COIL_STANDBY = 0.02
"""Share of their full exchange fan coils keep when their thermostats are satisfied."""
"""How fast room thermostats pull an over-warm room back to the cooling setpoint."""
"""Highest condenser leaving-water temperature when rejecting heat to the source loop."""
STAGE_UP_DELAY_S = 300.0
HANDBACK_RAMP_K_PER_S = 2.0 / 600.0
"""How fast the local supply target moves from a handed-back remote setpoint to the heating
curve: the 2 K step the setpoint points allow, every ten minutes."""
STAGE_DOWN_DELAY_S = 900.0
STAGE_DOWN_MARGIN = 0.85
STAGE_UP_SHORT_K = 0.5
"""How far below its target the supply must be to count as short of heat."""
VALVE_RATE_PCT_PER_S = 1.0
NETWORK_STATIC_MPA = 0.15
LOOP_STATIC_MPA = 0.3
EXCHANGER_DESIGN_DP_KPA = 50.0
LEAKAGE_FRACTION = 1e-4
"""Make-up water needed, as a fraction of the circulating flow (normal losses)."""
METER_FLOW_SIGMA = 0.003
METER_TEMP_SIGMA_K = 0.02
METER_MIN_DT_K = 0.2
"""Temperature difference below which a heat meter registers nothing (start threshold)."""
WARM_UP_STEP_S = 60.0


class CommandError(ValueError):
    """A command the station cannot take (unknown target or measurand, bad value)."""


@dataclass
class ValveState:
    """A motorised valve following its position setpoint; its role says what it governs."""

    spec: Valve
    setpoint_pct: float = 100.0
    position_pct: float = 100.0
    remote: bool = False
    """Written by a command: the operating modes leave it alone until handed back."""

    @classmethod
    def build(cls, spec: Valve) -> ValveState:
        """A valve in its normal position: open, or closed for a bypass."""
        normal = 100.0 if spec.normally_open else 0.0
        return cls(spec, normal, normal)

    def governs(self, role: ValveRole, equipment_id: str | None) -> bool:
        """True if this valve has the role and serves this equipment (or everything)."""
        return self.spec.role == role and (
            self.spec.serves is None or equipment_id is None or self.spec.serves == equipment_id)


@dataclass
class HeatMeterState:
    """A heat meter integrating its own (noisy) readings of flow and two temperatures."""

    source: Callable[[], tuple[float, float, float, float]]
    flow_m3h: float = 0.0
    supply_c: float = 0.0
    return_c: float = 0.0
    heat_kw: float = 0.0
    heat_kwh: float = 0.0
    volume_m3: float = 0.0


@dataclass
class ElectricityMeterState:
    """An electricity meter summing the power of the equipment in its scope."""

    sources: list[Callable[[], float]]
    power_kw: float = 0.0
    energy_kwh: float = 0.0


@dataclass
class EnergyBalance:
    """Cumulative model energies: source + compressor electricity = delivered + losses."""

    source_kwh: float = 0.0
    compressor_kwh: float = 0.0
    plant_output_kwh: float = 0.0
    delivered_kwh: float = 0.0
    loss_kwh: float = 0.0
    pump_kwh: float = 0.0
    produced_m3: float = 0.0
    reinjected_m3: float = 0.0
    overflow_m3: float = 0.0

    @property
    def residual_kwh(self) -> float:
        """What the balance misses (zero up to rounding)."""
        return self.source_kwh + self.compressor_kwh - self.delivered_kwh - self.loss_kwh


@dataclass
class _Staging:
    up_s: float = 0.0
    down_s: float = 0.0
    order: int = 0


@dataclass
class _Group:
    """Pumps of one circulation duty (network or source loop) and the flow they must give."""

    pumps: list[PumpUnit] = field(default_factory=list)
    required_m3h: float = 0.0


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
        self.antifreeze_guarding = False
        self._modes = {m.kind: m for m in site.modes}
        self._mode_valves = {v for m in site.modes for v in (*m.open, *m.closed)}
        self.mode: ModeKind | None = None
        """The operating mode the local logic runs (None: the site names none for the case)."""
        self._local_zone = ZoneInfo(station.timezone)
        self.cooling_on = False
        self._setpoint_mode = "heating"
        self.remote_supply_setpoint_c: float | None = None
        self.heartbeat = Heartbeat()
        self.watchdog_takeovers = 0
        """Times the local logic took the station back from a silent supervisor."""
        self.last_takeover: tuple[datetime, datetime] | None = None
        """The last watchdog take-over: when the heartbeat last changed before it, and when."""
        self._handback_from_c: float | None = None
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
        self._starting: list[HeatPumpState] = []
        self.loss_kw = 0.0
        self.plant_output_kw = 0.0
        self.delivered_kw = 0.0
        self.source_kw = 0.0
        self.overflow_m3h = 0.0
        self.balance = EnergyBalance()
        self._staging = _Staging()
        self._build_equipment()
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

    # ------------------------------------------------------------------ construction

    def _build_equipment(self) -> None:
        site = self.site
        station = site.station
        self.wells: dict[str, ProductionWellState] = {}
        self.reinjection: dict[str, ReinjectionWellState] = {}
        self.boreholes: dict[str, BoreholeState] = {}
        self.exchangers: dict[str, ExchangerState] = {}
        self.heat_pumps: dict[str, HeatPumpState] = {}
        self.pumps: dict[str, PumpUnit] = {}
        self.pump_roles: dict[str, str] = {}
        self.valves: dict[str, ValveState] = {}
        self.zones: dict[str, ZoneState] = {}
        self.heat_meters: dict[str, HeatMeterState] = {}
        self.electricity_meters: dict[str, ElectricityMeterState] = {}
        equipment = site.equipment
        hp_stages = {e.stage for e in equipment if isinstance(e, HeatPump)}
        for item in equipment:
            if isinstance(item, ProductionWell):
                self.wells[item.id] = ProductionWellState.build(item)
            elif isinstance(item, CoaxialBorehole | BoreholeField):
                self.boreholes[item.id] = BoreholeState.build(item)
            elif isinstance(item, PlateExchanger):
                self.exchangers[item.id] = ExchangerState(item, item.stage in hp_stages)
            elif isinstance(item, HeatPump):
                self.heat_pumps[item.id] = HeatPumpState.build(item)
            elif isinstance(item, Valve):
                self.valves[item.id] = ValveState.build(item)
        self.kind = "hydrothermal" if self.wells else "loop"
        # pumps: production and reinjection pumps are the wells' own; a pump serving a heat
        # pump (or the exchanger feeding its evaporator) runs with it; the rest circulate
        spare_wells = list(self.wells.values())
        reinjection_pumps: dict[str, PumpUnit] = {}
        reinjection_ids = [e.id for e in equipment if isinstance(e, ReinjectionWell)]
        hp_by_stage: dict[int, list[str]] = {}
        for item in equipment:
            if isinstance(item, HeatPump):
                hp_by_stage.setdefault(item.stage, []).append(item.id)
        self.user_group = _Group()
        self.source_groups: dict[str, _Group] = {b: _Group() for b in self.boreholes}
        self.source_spare = _Group()
        self.companions: list[tuple[PumpUnit, list[str]]] = []
        self.boosters: list[PumpUnit] = []
        self.other_pumps: list[tuple[str, PumpUnit]] = []
        for item in equipment:
            if not isinstance(item, Pump):
                continue
            self.pump_roles[item.id] = item.role
            if item.role == "production" and spare_wells:
                well = self.wells.get(item.serves or "") or spare_wells[0]
                if well in spare_wells:
                    spare_wells.remove(well)
                well.pump.id = item.id
                well.pump.vfd = item.vfd
                well.pump.min_speed_hz = item.min_speed_hz
                well.pump.max_speed_hz = item.max_speed_hz
                well.pump.speed_setpoint_hz = item.max_speed_hz
                self.pumps[item.id] = well.pump
                continue
            unit = PumpUnit(item.id, item.rated_flow_m3h, item.rated_head_m, item.rated_kw,
                            item.vfd, item.min_speed_hz, item.max_speed_hz,
                            speed_setpoint_hz=item.max_speed_hz)
            self.pumps[item.id] = unit
            serves = item.serves or ""
            if item.role == "reinjection" and serves in reinjection_ids:
                reinjection_pumps.setdefault(serves, unit)
            elif item.role in ("reinjection", "booster"):
                self.boosters.append(unit)
            elif serves in self.heat_pumps:
                self.companions.append((unit, [serves]))
            elif serves in self.exchangers and self.exchangers[serves].serves_heat_pumps:
                stage = self.exchangers[serves].spec.stage
                self.companions.append((unit, hp_by_stage.get(stage, [])))
                self.exchangers[serves].loop_pumps.append(unit)
            elif item.role == "user_circulation":
                self.user_group.pumps.append(unit)
            elif item.role == "source_circulation" and self.boreholes:
                self.source_groups.get(serves, self.source_spare).pumps.append(unit)
            else:
                self.other_pumps.append((item.role, unit))
        for item in equipment:
            if isinstance(item, ReinjectionWell):
                self.reinjection[item.id] = ReinjectionWellState.build(
                    item, reinjection_pumps.get(item.id))
        for well in self.wells.values():
            self.pumps.setdefault(well.spec.id, well.pump)
        # zones: one per substation, or the whole station
        cp_design = capacity_rate_kw_per_k(1.0, 0.5 * (station.design_supply_temp_c
                                                     + station.design_return_temp_c))
        design_dt = station.design_supply_temp_c - station.design_return_temp_c
        substations = [e for e in equipment if isinstance(e, Substation)]
        areas = [(s.id, s.heated_area_m2) for s in substations] or [
            ("station", station.heated_area_m2)]
        total_area = sum(a for _, a in areas)
        for zone_id, area in areas:
            load = station.design_heat_load_kw * area / total_area
            self.zones[zone_id] = ZoneState(zone_id, area, load, load / (cp_design * design_dt),
                                            station.indoor_design_temp_c)
        self.heating_flow_m3h = sum(z.design_flow_m3h for z in self.zones.values())
        cooling_kw = station.cooling_index_w_per_m2 * station.heated_area_m2 / 1000.0
        self.cooling_design_kw = cooling_kw
        self.cooling_flow_m3h = cooling_kw / (capacity_rate_kw_per_k(1.0, CHILLED_SUPPLY_C)
                                              * CHILLED_DESIGN_DT_K)
        self.can_cool = (not self.wells and cooling_kw > 0
                         and station.climate.cooling_season_days > 0)
        self.user_group.required_m3h = self.heating_flow_m3h
        for bh_id, group in self.source_groups.items():
            group.required_m3h = self.boreholes[bh_id].spec.rated_flow_m3h
        orphans = [b for b, g in self.source_groups.items() if not g.pumps]
        self.source_spare.required_m3h = sum(self.boreholes[b].spec.rated_flow_m3h
                                             for b in orphans)
        self._orphan_boreholes = orphans
        self._stage_order = sorted(
            {e.spec.stage for e in self.exchangers.values()}
            | {h.spec.stage for h in self.heat_pumps.values()})
        self._hp_order = sorted(self.heat_pumps.values(), key=lambda h: h.spec.stage)
        hp_stages = {h.spec.stage for h in self.heat_pumps.values()}
        self._has_direct_exchangers = any(e.spec.stage not in hp_stages
                                          for e in self.exchangers.values())
        for item in equipment:
            if isinstance(item, HeatMeter):
                self.heat_meters[item.id] = HeatMeterState(self._meter_source(item))
            elif isinstance(item, ElectricityMeter):
                self.electricity_meters[item.id] = ElectricityMeterState(
                    self._power_sources(item.scope))
        self.filters = [e for e in equipment if isinstance(e, Filter)]

    def _meter_source(self, meter: HeatMeter) -> Callable[[], tuple[float, float, float, float]]:
        """(volume flow, supply, return, temperature the flow is given at) a meter sees."""
        serves = meter.serves
        if serves in self.heat_pumps:
            hp = self.heat_pumps[serves]
            return lambda: (hp.condenser_flow_m3h, hp.condenser_out_c, hp.condenser_in_c,
                            hp.condenser_in_c)
        if serves in self.exchangers:
            hx = self.exchangers[serves]
            return lambda: (hx.secondary_flow_m3h, hx.secondary_out_c, hx.secondary_in_c,
                            hx.secondary_in_c)
        if serves in self.zones:
            zone = self.zones[serves]
            return lambda: (zone.flow_m3h, zone.supply_c, zone.return_c, self.return_c)
        if serves in self.boreholes:
            bh = self.boreholes[serves]
            return lambda: (bh.flow_m3h, bh.outlet_temp_c, bh.inlet_temp_c, bh.outlet_temp_c)
        if serves in self.wells:
            well = self.wells[serves]
            return lambda: (well.flow_m3h, well.wellhead_temp_c, self.injection_temp_c,
                            well.wellhead_temp_c)
        if meter.location == "source" or (meter.location == "exchanger" and not self.exchangers):
            return lambda: (self.source_flow_m3h, self.source_supply_c, self.source_return_c,
                            self.source_supply_c)
        if meter.location == "exchanger":
            hx = next(iter(self.exchangers.values()))
            return lambda: (hx.secondary_flow_m3h, hx.secondary_out_c, hx.secondary_in_c,
                            hx.secondary_in_c)
        if meter.location == "heat_pump" and self.heat_pumps:
            return lambda: (
                sum(h.condenser_flow_m3h for h in self.heat_pumps.values()),
                self.plant_supply_c, self.heat_pump_inlet_c, self.heat_pump_inlet_c)
        return lambda: (self.network_flow_m3h, self.station_supply_c, self.network_return_c,
                        self.network_return_c)

    def _power_sources(self, scope: tuple[str, ...]) -> list[Callable[[], float]]:
        sources: list[Callable[[], float]] = []
        wanted = set(scope)
        for hp_id, hp in self.heat_pumps.items():
            if not wanted or hp_id in wanted:
                sources.append(lambda hp=hp: hp.power_kw)  # type: ignore[misc]
        seen: set[int] = set()
        for pump_id, unit in self.pumps.items():
            owners = {pump_id}
            owners |= {w for w, s in self.wells.items() if s.pump is unit}
            owners |= {r for r, s in self.reinjection.items() if s.pump is unit}
            if id(unit) in seen or (wanted and not owners & wanted):
                continue
            seen.add(id(unit))
            sources.append(lambda unit=unit: unit.power_kw)  # type: ignore[misc]
        for rw_id, rw in self.reinjection.items():
            if id(rw.pump) in seen or (wanted and rw_id not in wanted):
                continue
            seen.add(id(rw.pump))
            sources.append(lambda rw=rw: rw.pump.power_kw)  # type: ignore[misc]
        return sources

    # ------------------------------------------------------------------ derived streams

    @property
    def source_flow_m3h(self) -> float:
        """Flow of the source stream: produced geothermal water or the borehole loop."""
        if self.wells:
            return sum(w.flow_m3h for w in self.wells.values())
        return sum(b.flow_m3h for b in self.boreholes.values())

    @property
    def source_supply_c(self) -> float:
        """Temperature of the source stream arriving at the plant."""
        return self._source_in_c

    @property
    def source_return_c(self) -> float:
        """Temperature of the source stream leaving the plant."""
        return self._source_out_c

    @property
    def injection_temp_c(self) -> float:
        """Temperature of the water sent to the reinjection wells."""
        return self._source_out_c

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

    _source_in_c = 20.0
    _source_out_c = 15.0
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
        self._watchdog()
        self._local_control(dt_s)
        self._actuators(dt_s)
        self._hydraulics(dt_s)
        self._thermal(dt_s)
        self._reinjection(dt_s)
        self._staging_logic(dt_s)
        self._meters(dt_s)

    def _local_control(self, dt_s: float) -> None:
        outdoor = self.weather.temp_c
        if self.damped_outdoor_c is None:
            self.damped_outdoor_c = outdoor
        self.damped_outdoor_c = lag(self.damped_outdoor_c, outdoor, OUTDOOR_DAMPING_S, dt_s)
        # the station's schedule: comfort heating in its occupied periods, an anti-freeze
        # guard that always wins outside them (simulator.local_control)
        coldest = min(z.indoor_temp_c for z in self.zones.values())
        wanted, self.antifreeze_guarding = heating_wanted(
            self.site.station.schedule, self.now.astimezone(self._local_zone), coldest,
            self.antifreeze_guarding)
        season = self.weather.in_heating_season(self.now)
        self.heating_on = season and wanted
        self.cooling_on = (self.can_cool and not self.heating_on
                           and self.weather.in_cooling_season(self.now))
        mode = "cooling" if self.cooling_on else "heating"
        if self.remote_supply_setpoint_c is not None and self._setpoint_mode == mode:
            self.supply_target_c = self.remote_supply_setpoint_c
        elif self.cooling_on:
            self.supply_target_c = CHILLED_SUPPLY_C
        else:
            self.supply_target_c = self.heating_curve_c(self.damped_outdoor_c)
        if self._handback_from_c is not None and self.remote_supply_setpoint_c is None:
            # handed back: the target walks from the remote setpoint to the local one
            local_target = self.supply_target_c
            self.supply_target_c = approach(self._handback_from_c, local_target,
                                            HANDBACK_RAMP_K_PER_S, dt_s)
            self._handback_from_c = None if self.supply_target_c == local_target else (
                self.supply_target_c)
        self.user_group.required_m3h = (self.cooling_flow_m3h if self.cooling_on
                                        else self.heating_flow_m3h)
        if self._modes:
            self._choose_mode(season)
        on = self.plant_on
        for well in self.wells.values():
            if not well.pump.remote_run:
                well.pump.run_command = self.heating_on
            if not well.pump.remote_speed:
                well.pump.speed_setpoint_hz = well.pump.max_speed_hz
        for group in (self.user_group, self.source_spare, *self.source_groups.values()):
            self._duty(group, on)
        for role, unit in self.other_pumps:
            if not unit.remote_run:
                unit.run_command = on and role != "makeup"
        for unit in self.boosters:
            if not unit.remote_run:
                unit.run_command = self.heating_on
        for unit, served in self.companions:
            if not unit.remote_run:
                unit.run_command = any(self.heat_pumps[h].running for h in served)
            if not unit.remote_speed and unit.vfd and served:
                # the loop pump slows to the design flow of the units running on it
                rated = [self.heat_pumps[h].spec.design_evaporator_flow_m3h for h in served]
                running = sum(r for h, r in zip(served, rated, strict=True)
                              if self.heat_pumps[h].running)
                unit.speed_setpoint_hz = min(max(unit.max_speed_hz * running / sum(rated),
                                                 unit.min_speed_hz), unit.max_speed_hz)
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

    def _choose_mode(self, season: bool) -> None:
        """Switch operating mode by the local conditions and line its valves up."""
        schedule = self.site.station.schedule
        comfort = schedule is None or occupied(schedule, self.now.astimezone(self._local_zone))
        short = (self.plant_supply_c < self.supply_target_c - STAGE_UP_SHORT_K
                 and self.network_flow_m3h > 0)
        state = PlantState(
            heating_season=season, comfort=comfort, cooling=self.cooling_on,
            direct_holds=self.direct_supply_holds,
            units_running=any(h.running and not h.remote_run for h in self.heat_pumps.values()),
            short=short)
        self.mode = next_mode(frozenset(self._modes), self.mode, state)
        mode = self._modes.get(self.mode) if self.mode is not None else None
        for ident in self._mode_valves:
            valve = self.valves[ident]
            if valve.remote:
                continue
            if mode is not None and ident in mode.open:
                valve.setpoint_pct = 100.0
            elif mode is not None and ident in mode.closed:
                valve.setpoint_pct = 0.0
            else:
                valve.setpoint_pct = 100.0 if valve.spec.normally_open else 0.0

    def mode_allows(self, hp: HeatPumpState) -> bool:
        """True when the operating mode lets the local logic run this unit (always, without
        modes)."""
        if not self._modes:
            return True
        mode = self._modes.get(self.mode) if self.mode is not None else None
        return mode is not None and hp.spec.id in mode.units

    @property
    def direct_supply_holds(self) -> bool:
        """True when the direct exchangers alone hold the heating supply target.

        Direct supply has priority (003 L2625): the heat pumps then stage down, one by one,
        and start again only when the exchangers fall short.
        """
        return (self.heating_on and self._has_direct_exchangers
                and self.heat_pump_inlet_c >= self.supply_target_c - STAGE_UP_SHORT_K)

    @property
    def plant_on(self) -> bool:
        """True in the heating season, or in the cooling season of a station that cools."""
        return self.heating_on or self.cooling_on

    def heating_curve_c(self, outdoor_c: float) -> float:
        """Supply temperature that lets design-sized emitters meet the load at this outdoor temp."""
        return climate_curve_c(self.site.station, outdoor_c)

    def _duty(self, group: _Group, on: bool) -> None:
        """Run enough pumps of a group, in file order, to give its required flow."""
        needed = group.required_m3h if on else 0.0
        # running pumps first: taking a group back never swaps a running pump for another
        available = sorted((p for p in group.pumps if not p.failed and not p.remote_run),
                           key=lambda p: not p.running)
        remote_flow = sum(p.rated_flow_m3h for p in group.pumps if p.remote_run and p.running)
        running: list[PumpUnit] = []
        total = remote_flow
        for unit in available:
            if total >= needed:
                break
            running.append(unit)
            total += unit.rated_flow_m3h
        for unit in available:
            unit.run_command = unit in running
            if not unit.remote_speed and running:
                share = (needed - remote_flow) / sum(p.rated_flow_m3h for p in running)
                unit.speed_setpoint_hz = min(max(share * unit.max_speed_hz, unit.min_speed_hz),
                                             unit.max_speed_hz)

    def _actuators(self, dt_s: float) -> None:
        for unit in {id(p): p for p in self.pumps.values()}.values():
            unit.ramp(dt_s)
        self._valve_cache: dict[tuple[ValveRole, str | None], float] = {}
        for valve in self.valves.values():
            valve.position_pct = approach(valve.position_pct, valve.setpoint_pct,
                                          VALVE_RATE_PCT_PER_S, dt_s)
        for zone in self.zones.values():
            zone.valve_pct = approach(zone.valve_pct, zone.valve_setpoint_pct,
                                      VALVE_RATE_PCT_PER_S, dt_s)
        for hp in self.heat_pumps.values():
            if hp.running and not hp.was_running:
                hp.starting_s = HEAT_PUMP_START_S
                hp.starts += 1
            hp.was_running = hp.running
            if hp.running and hp.starting_s > 0.0:
                hp.run_hours += dt_s / 3600.0
                continue
            if hp.running:
                floor = hp.spec.min_load_pct / 100.0
                hp.capacity_ratio = min(1.0, max(hp.capacity_ratio, floor)
                                        + HEAT_PUMP_RAMP_PER_S * dt_s)
                hp.run_hours += dt_s / 3600.0
            else:
                hp.capacity_ratio = 0.0

    def _valve_ratio(self, role: ValveRole, equipment_id: str | None = None) -> float:
        """Open fraction of the flow path the valves of this role leave to this equipment."""
        key = (role, equipment_id)
        cached = self._valve_cache.get(key)
        if cached is not None:
            return cached
        ratio = 1.0
        for valve in self.valves.values():
            if valve.governs(role, equipment_id):
                ratio *= valve.position_pct / 100.0
        self._valve_cache[key] = ratio
        return ratio

    def _exchanger_ratio(self, exchanger: ExchangerState, *, direct: bool) -> float:
        """Open fraction of an exchanger's primary branch (unnamed valves: direct ones only)."""
        ratio = 1.0
        for valve in self.valves.values():
            if valve.spec.role == "exchanger" and (
                    valve.spec.serves == exchanger.spec.id
                    or (valve.spec.serves is None and direct)):
                ratio *= valve.position_pct / 100.0
        return ratio

    def _bypass_ratio(self) -> float:
        """Open fraction of the network's differential-pressure bypass (parallel valves add)."""
        bypasses = [v for v in self.valves.values() if v.spec.role == "bypass"]
        return min(1.0, sum(v.position_pct / 100.0 for v in bypasses))

    def _group_flow(self, group: _Group) -> tuple[float, float]:
        """Flow and head of a circulation group (implicit pump when the site lists none)."""
        if not group.pumps:
            return (group.required_m3h if self.plant_on else 0.0), 0.0
        flow = 0.0
        head = 0.0
        for unit in group.pumps:
            unit_flow, unit_head = unit.circulation_point()
            flow += unit_flow
            head = max(head, unit_head)
        return flow, head

    def _hydraulics(self, dt_s: float) -> None:
        for well_id, well in self.wells.items():
            well.settle(self._valve_ratio("production", well_id), dt_s)
        # network: the buildings take what their valves let through; an open bypass passes
        # the part of the pump flow they refuse back to the return main
        pump_flow, head = self._group_flow(self.user_group)
        pump_flow *= self._valve_ratio("network")
        design_total = sum(z.design_flow_m3h for z in self.zones.values())
        self.network_flow_m3h = 0.0
        for zone in self.zones.values():
            zone.flow_m3h = pump_flow * zone.design_flow_m3h / design_total * zone.valve_pct / 100
            self.network_flow_m3h += zone.flow_m3h
        self.bypass_flow_m3h = (pump_flow - self.network_flow_m3h) * self._bypass_ratio()
        self.plant_flow_m3h = self.network_flow_m3h + self.bypass_flow_m3h
        for unit in self.user_group.pumps:
            unit_flow, unit_head = unit.circulation_point()
            share = self.plant_flow_m3h / pump_flow if pump_flow > 0 else 0.0
            unit.deliver(unit_flow * share, unit_head, dt_s)
        self.network_head_m = head
        # source loop: each borehole gets the flow of the pumps serving it
        head = 0.0
        spare_flow, spare_head = self._group_flow(self.source_spare)
        orphan_rated = sum(self.boreholes[b].spec.rated_flow_m3h for b in self._orphan_boreholes)
        for bh_id, bh in self.boreholes.items():
            group = self.source_groups[bh_id]
            open_ratio = (self._valve_ratio("source_loop", bh_id)
                          * self._valve_ratio("cooling_tower_changeover", bh_id))
            if group.pumps:
                flow, group_head = self._group_flow(group)
                bh.flow_m3h = flow * open_ratio
                head = max(head, group_head)
            else:
                bh.flow_m3h = spare_flow * bh.spec.rated_flow_m3h / orphan_rated * open_ratio
                head = max(head, spare_head)
        for group in (self.source_spare, *self.source_groups.values()):
            for unit in group.pumps:
                unit.deliver(*unit.circulation_point(), dt_s)
        self.loop_head_m = head
        for _role, unit in [*self.other_pumps, *((None, u) for u, _ in self.companions)]:
            flow, other_head = unit.circulation_point()
            unit.deliver(flow, other_head, dt_s)

    # ------------------------------------------------------------------ thermal solution

    def _zone_returns(self, dt_s: float) -> float:
        """Return temperature of each zone's emitters at the last supply; the mixed return."""
        flow_total = 0.0
        weighted = 0.0
        station = self.site.station
        design_mean = 0.5 * (station.design_supply_temp_c + station.design_return_temp_c)
        for zone in self.zones.values():
            supply = self.station_supply_c
            if zone.flow_m3h <= 0.0:
                zone.return_c = lag(zone.return_c, zone.indoor_temp_c, 3600.0, dt_s)
                continue
            capacity = capacity_rate_kw_per_k(zone.flow_m3h, supply)
            design_excess = design_mean - station.indoor_design_temp_c
            back = min(max(zone.return_c, zone.indoor_temp_c), supply)
            for _ in range(6):
                excess = max(0.5 * (supply + back) - zone.indoor_temp_c, 0.0)
                emitted = zone.design_load_kw * (excess / design_excess) ** EMITTER_EXPONENT
                residual = emitted - capacity * (supply - back)
                slope = (0.5 * EMITTER_EXPONENT * zone.design_load_kw / design_excess
                         * (max(excess, 1e-6) / design_excess) ** (EMITTER_EXPONENT - 1.0)
                         + capacity)
                back -= residual / slope
                back = min(max(back, zone.indoor_temp_c), supply)
            zone.return_c = back
            flow_total += zone.flow_m3h
            weighted += zone.flow_m3h * back
        return weighted / flow_total if flow_total > 0 else self.return_c

    def _thermal(self, dt_s: float) -> None:
        if self.cooling_on:
            self._thermal_cooling(dt_s)
            return
        mixed_return = self.network_return_c = self._zone_returns(dt_s)
        user_flow = self.plant_flow_m3h
        if self.bypass_flow_m3h > 0:
            mixed_return = (self.network_flow_m3h * mixed_return
                            + self.bypass_flow_m3h * self.station_supply_c) / user_flow
        target = self.supply_target_c
        c_user = capacity_rate_kw_per_k(user_flow, mixed_return)
        if self.wells:
            flow = self.source_flow_m3h
            t_in = (sum(w.flow_m3h * w.wellhead_temp_c for w in self.wells.values()) / flow
                    if flow > 0 else self._source_in_c)
            result = self._plant(t_in, flow, mixed_return, c_user, target)
        else:
            result = self._loop_plant(mixed_return, c_user, target, dt_s)
        t_plant, source_kw, compressor_kw = result
        self.plant_supply_c = t_plant
        self.plant_output_kw = c_user * (t_plant - mixed_return) if user_flow > 0 else 0.0
        station = self.site.station
        if user_flow > 0:
            excess = max(t_plant - PLANT_ROOM_TEMP_C, 0.0)
            self.loss_kw = (STATION_LOSS_FRACTION * station.design_heat_load_kw * excess
                            / (station.design_supply_temp_c - PLANT_ROOM_TEMP_C))
            self.loss_kw = min(self.loss_kw, max(self.plant_output_kw, 0.0))
            self.station_supply_c = t_plant - self.loss_kw / c_user
        else:
            self.loss_kw = 0.0
        self.delivered_kw = self.plant_output_kw - self.loss_kw
        self.return_c = mixed_return
        self.source_kw = source_kw
        # buildings
        for zone in self.zones.values():
            zone.supply_c = self.station_supply_c
            share = zone.flow_m3h / user_flow if user_flow > 0 else 0.0
            # returns were solved on the last supply: one now above it delivers nothing
            zone.heat_kw = max(c_user * share * (self.station_supply_c - zone.return_c), 0.0)
            zone.heat_kwh += zone.heat_kw * dt_s / 3600.0
            conductance = zone.design_load_kw / (station.indoor_design_temp_c
                                                 - station.climate.design_outdoor_temp_c)
            equilibrium = self.weather.temp_c + zone.heat_kw / conductance
            zone.indoor_temp_c = lag(zone.indoor_temp_c, equilibrium, BUILDING_TIME_CONSTANT_S,
                                     dt_s)
            dp = pressure_mpa(self.network_head_m)
            zone.return_pressure_mpa = NETWORK_STATIC_MPA
            zone.supply_pressure_mpa = NETWORK_STATIC_MPA + 0.6 * dp
        hours = dt_s / 3600.0
        b = self.balance
        b.source_kwh += source_kw * hours
        b.compressor_kwh += compressor_kw * hours
        b.plant_output_kwh += self.plant_output_kw * hours
        b.delivered_kwh += self.delivered_kw * hours
        b.loss_kwh += (self.loss_kw + self.start_loss_kw) * hours

    def _thermal_cooling(self, dt_s: float) -> None:
        """Summer: heat pumps chill the network and reject the heat into the borehole loop."""
        self.start_loss_kw = 0.0  # start-up losses are counted in heating only
        station = self.site.station
        user_flow = self.plant_flow_m3h
        flow_total = weighted = 0.0
        for zone in self.zones.values():
            if zone.flow_m3h <= 0.0:
                zone.return_c = lag(zone.return_c, zone.indoor_temp_c, 3600.0, dt_s)
                continue
            # fan coils: output proportional to indoor air minus mean water temperature
            supply = self.station_supply_c
            capacity = capacity_rate_kw_per_k(zone.flow_m3h, supply)
            design = self.cooling_design_kw * zone.area_m2 / station.heated_area_m2
            k = design / FAN_COIL_DESIGN_EXCESS_K
            full = (k * zone.indoor_temp_c + supply * (capacity - k / 2.0)) / (capacity + k / 2.0)
            # room thermostats throttle the fan coils to what holds the cooling setpoint
            conductance = design / max(
                station.climate.design_cooling_outdoor_temp_c - COOLING_INDOOR_C, 1.0)
            hold = max(0.0, conductance * (self.weather.temp_c - COOLING_INDOOR_C)
                       + conductance * (zone.indoor_temp_c - COOLING_INDOOR_C)
                       * BUILDING_TIME_CONSTANT_S / THERMOSTAT_TIME_CONSTANT_S)
            wanted = supply + hold / capacity
            standby = supply + FAN_COIL_STANDBY * (full - supply)
            zone.return_c = max(min(full, wanted), standby)
            flow_total += zone.flow_m3h
            weighted += zone.flow_m3h * zone.return_c
        if flow_total > 0:
            self.network_return_c = weighted / flow_total
        flow_total += self.bypass_flow_m3h
        weighted += self.bypass_flow_m3h * self.station_supply_c
        mixed_return = weighted / flow_total if flow_total > 0 else self.return_c
        c_user = capacity_rate_kw_per_k(user_flow, mixed_return)
        t_plant, source_kw, compressor_kw = self._loop_plant(
            mixed_return, c_user, self.supply_target_c, dt_s, plant=self._chiller)
        self.plant_supply_c = self.station_supply_c = t_plant
        self.plant_output_kw = c_user * (t_plant - mixed_return) if user_flow > 0 else 0.0
        self.loss_kw = 0.0
        self.delivered_kw = self.plant_output_kw
        self.return_c = mixed_return
        self.source_kw = source_kw
        conductance = self.cooling_design_kw / max(
            station.climate.design_cooling_outdoor_temp_c - COOLING_INDOOR_C, 1.0)
        for zone in self.zones.values():
            zone.supply_c = t_plant
            share = zone.flow_m3h / user_flow if user_flow > 0 else 0.0
            zone.heat_kw = c_user * share * (t_plant - zone.return_c)
            zone_conductance = conductance * zone.area_m2 / station.heated_area_m2
            equilibrium = self.weather.temp_c + zone.heat_kw / zone_conductance
            zone.indoor_temp_c = lag(zone.indoor_temp_c, equilibrium, BUILDING_TIME_CONSTANT_S,
                                     dt_s)
        hours = dt_s / 3600.0
        b = self.balance
        b.source_kwh += source_kw * hours
        b.compressor_kwh += compressor_kw * hours
        b.plant_output_kwh += self.plant_output_kw * hours
        b.delivered_kwh += self.delivered_kw * hours

    def _chiller(self, t_src: float, src_flow: float, t_return: float, c_user: float,
                 target: float) -> tuple[float, float, float]:
        """Heat pumps in cooling: (chilled supply °C, source kW (< 0: rejected), power kW)."""
        self._source_in_c = t_src
        c_src = capacity_rate_kw_per_k(src_flow, t_src)
        running = [h for h in self._hp_order if h.running]
        for hp in self.heat_pumps.values():
            if not hp.running or c_user <= 0:
                hp.heat_kw = hp.evaporator_kw = hp.power_kw = hp.cop = 0.0
                hp.condenser_flow_m3h = hp.evaporator_flow_m3h = 0.0
                hp.evaporator_in_c = hp.evaporator_out_c = t_return
        self.heat_pump_inlet_c = t_return
        if not running or c_user <= 0:
            self._source_out_c = t_src
            return t_return, 0.0, 0.0
        rated_running = sum(h.spec.rated_heat_kw for h in running)
        user_flow = self.plant_flow_m3h
        # chilled water through the evaporators, rejected heat through the condensers: each at
        # most its design flow, the rest passing the units in the header's bypass
        chilled_design = sum(h.spec.design_evaporator_flow_m3h for h in running)
        chilled_through = min(1.0, user_flow / chilled_design)
        for hp in running:
            share = hp.spec.rated_heat_kw / rated_running
            flow = hp.spec.design_evaporator_flow_m3h * chilled_through
            c_i = capacity_rate_kw_per_k(flow, t_return)
            setpoint = hp.setpoint_c if hp.setpoint_c is not None and hp.setpoint_c < 20 \
                else None
            if setpoint is not None:
                wanted = c_i * (t_return - max(setpoint, MIN_CHILLED_C))
            else:
                wanted = c_user * (t_return - max(target, MIN_CHILLED_C)) * share
            floor = hp.spec.min_load_pct / 100.0 * hp.spec.rated_heat_kw
            capacity = hp.capacity_ratio * hp.spec.rated_heat_kw
            limit = max(c_i * (t_return - MIN_CHILLED_C), 0.0)
            hp.heat_kw = max(min(max(wanted, floor), capacity, limit), 0.0)
            hp.evaporator_kw = hp.heat_kw
            hp.evaporator_flow_m3h = flow
            hp.evaporator_in_c = t_return
            hp.evaporator_out_c = t_return - hp.heat_kw / c_i if c_i > 0 else t_return
        rejected_total = compressor = 0.0
        for stage in sorted({h.spec.stage for h in running}):
            units = [h for h in running if h.spec.stage == stage]
            design = sum(h.spec.design_condenser_flow_m3h for h in units)
            through = min(1.0, src_flow / design) if design > 0 else 0.0
            for hp in units:
                hp.condenser_flow_m3h = hp.spec.design_condenser_flow_m3h * through
                hp.condenser_in_c = t_src
            rejected = 0.0
            for _ in range(3):
                rejected = 0.0
                for hp in units:
                    c_cond = capacity_rate_kw_per_k(hp.condenser_flow_m3h, t_src)
                    # a heating COP at these outlets less one is the cooling EER
                    eer = max(hp.cop_at(hp.evaporator_out_c, hp.condenser_out_c, hp.load_ratio)
                              - 1.0, 0.5)
                    hp.power_kw = hp.heat_kw / eer
                    allowed = c_cond * (MAX_CONDENSER_OUT_C - t_src) if c_cond > 0 else 0.0
                    if hp.heat_kw + hp.power_kw > allowed:
                        scale = max(allowed, 0.0) / (hp.heat_kw + hp.power_kw)
                        hp.evaporator_out_c = hp.evaporator_in_c - (
                            hp.evaporator_in_c - hp.evaporator_out_c) * scale
                        hp.heat_kw *= scale
                        hp.evaporator_kw = hp.heat_kw
                        hp.power_kw *= scale
                    hp.condenser_out_c = (t_src + (hp.heat_kw + hp.power_kw) / c_cond
                                          if c_cond > 0 else t_src)
                    rejected += hp.heat_kw + hp.power_kw
            for hp in units:
                hp.cop = hp.heat_kw / hp.power_kw if hp.power_kw > 0 else 0.0
                compressor += hp.power_kw
            rejected_total += rejected
            t_src = t_src + rejected / c_src if c_src > 0 else t_src
        self._source_out_c = t_src
        supply = t_return - sum(h.heat_kw for h in running) / c_user
        return supply, -rejected_total, compressor

    def _direct_stage(self, stage: int, source: tuple[float, float, float],
                      user: tuple[float, float, float], target: float) -> tuple[
                          float, float, float]:
        """Heat a direct exchanger stage moves; returns (heat, source out, user out)."""
        t_src, c_src, src_flow = source
        t_user, c_user, user_flow = user
        group = [x for x in self.exchangers.values()
                 if x.spec.stage == stage and not x.serves_heat_pumps]
        if not group:
            return 0.0, t_src, t_user
        heat = 0.0
        ua_total = sum(x.ua_kw_per_k for x in group)
        opening = sum(x.ua_kw_per_k * self._exchanger_ratio(x, direct=True)
                      for x in group) / ua_total
        c_primary = c_src * opening
        if c_src > 0 and c_user > 0 and t_src > t_user and opening > 0:
            heat = _exchanged_kw(ua_total, c_primary, c_user, t_src, t_user)
            wanted = max(0.0, c_user * (target - t_user))
            if heat > wanted:
                # the primary control valve throttles until the exchangers move what the
                # network asks: less primary flow through them, the rest sent past
                c_primary = _primary_for(ua_total, c_primary, c_user, t_src, t_user,
                                         wanted_kw=wanted)
                heat = _exchanged_kw(ua_total, c_primary, c_user, t_src, t_user)
        t_src_out = t_src - heat / c_src if c_src > 0 else t_src
        t_user_out = t_user + heat / c_user if c_user > 0 else t_user
        # the exchangers' own primary outlet, before the water sent past them rejoins
        t_primary_out = t_src - heat / c_primary if c_primary > 0 else t_src
        through = c_primary / c_src if c_src > 0 else 0.0
        for x in group:
            share = x.ua_kw_per_k / ua_total
            x.heat_kw = heat * share
            x.primary_in_c, x.primary_out_c = t_src, t_primary_out
            x.secondary_in_c, x.secondary_out_c = t_user, t_user_out
            x.primary_flow_m3h = src_flow * share * through
            x.secondary_flow_m3h = user_flow * share
            design_flow = max(self.user_group.required_m3h * share, 1e-6)
            x.dp_kpa = EXCHANGER_DESIGN_DP_KPA * (x.secondary_flow_m3h / design_flow) ** 2
        return heat, t_src_out, t_user_out

    def _plant(self, t_src: float, src_flow: float, t_return: float, c_user: float,
               target: float) -> tuple[float, float, float]:
        """Solve exchangers and heat pumps on a source stream: (supply °C, source kW, power kW)."""
        self._source_in_c = t_src
        c_src = capacity_rate_kw_per_k(src_flow, t_src)
        user_flow = self.plant_flow_m3h
        t_user = t_return
        source_kw = 0.0
        hp_stages = {h.spec.stage for h in self.heat_pumps.values()}
        for stage in self._stage_order:
            if stage in hp_stages:
                continue
            heat, t_src, t_user = self._direct_stage(stage, (t_src, c_src, src_flow),
                                                     (t_user, c_user, user_flow), target)
            source_kw += heat
        self.heat_pump_inlet_c = t_user
        running = [h for h in self._hp_order if h.running]
        for hp in self.heat_pumps.values():
            if not hp.running or c_user <= 0:
                hp.heat_kw = hp.evaporator_kw = hp.power_kw = hp.cop = 0.0
                hp.condenser_flow_m3h = hp.evaporator_flow_m3h = 0.0
                hp.condenser_in_c = hp.condenser_out_c = t_user
        # a unit that has just started draws its minimum-load power while its refrigerant
        # circuit settles, and gives the water nothing yet: the start's cost goes to the room
        self.start_loss_kw = 0.0
        self._starting = [h for h in running if h.starting_s > 0.0] if c_user > 0 else []
        if c_user > 0:
            for hp in running:
                if hp.starting_s > 0.0:
                    hp.heat_kw = hp.evaporator_kw = hp.cop = 0.0
                    hp.power_kw = (hp.spec.min_load_pct / 100.0 * hp.spec.rated_heat_kw
                                   / hp.spec.rated_cop)
                    hp.condenser_flow_m3h = hp.evaporator_flow_m3h = 0.0
                    hp.condenser_in_c = hp.condenser_out_c = t_user
                    self.start_loss_kw += hp.power_kw
            running = [h for h in running if h.starting_s <= 0.0]
        rated_running = sum(h.spec.rated_heat_kw for h in running)
        supply = t_user
        compressor_kw = 0.0
        if running and c_user > 0:
            # condensers in parallel, each on its own design flow at most; the rest of the
            # plant flow passes them in the header's bypass and mixes in after. Each unit
            # carries its rating's share of the heat the supply target asks for (or heats its
            # own flow to a written leaving-water setpoint), within its condenser limit.
            design_total = sum(h.spec.design_condenser_flow_m3h for h in running)
            through = min(1.0, user_flow / design_total)
            for hp in running:
                flow = hp.spec.design_condenser_flow_m3h * through
                c_i = capacity_rate_kw_per_k(flow, t_user)
                ceiling = hp.spec.rated_sink_out_temp_c + MAX_CONDENSER_LIFT_K
                if hp.setpoint_c is not None:
                    wanted = c_i * (min(hp.setpoint_c, ceiling) - t_user)
                else:
                    wanted = c_user * (target - t_user) * hp.spec.rated_heat_kw / rated_running
                floor = hp.spec.min_load_pct / 100.0 * hp.spec.rated_heat_kw
                capacity = hp.capacity_ratio * hp.spec.rated_heat_kw
                heat = min(max(wanted, floor), capacity, max(c_i * (ceiling - t_user), 0.0))
                hp.heat_kw = max(heat, 0.0)
                hp.condenser_flow_m3h = flow
                hp.condenser_in_c = t_user
                hp.condenser_out_c = t_user + hp.heat_kw / c_i
            # evaporators, stage by stage along the source stream; an isolating exchanger
            # whose units all stand still moves nothing
            stages = {h.spec.stage for h in running} | {h.spec.stage for h in self._starting}
            for x in self.exchangers.values():
                if x.serves_heat_pumps and x.spec.stage not in stages:
                    x.heat_kw = x.primary_flow_m3h = x.secondary_flow_m3h = x.dp_kpa = 0.0
            for stage in sorted({h.spec.stage for h in running}):
                units = [h for h in running if h.spec.stage == stage]
                t_src = self._evaporator_stage(stage, units, t_src, c_src, src_flow)
            for hp in running:
                source_kw += hp.evaporator_kw
                compressor_kw += hp.power_kw
            supply = t_user + sum(h.heat_kw for h in running) / c_user
        self._source_out_c = t_src
        return supply, source_kw, compressor_kw + self.start_loss_kw

    def _evaporator_stage(self, stage: int, units: list[HeatPumpState], t_src: float,
                          c_src: float, src_flow: float) -> float:
        """Take the evaporator heat of one stage's heat pumps from the source stream.

        Behind an isolating exchanger the stage's loop pumps share their flow among the running
        evaporators by design flow (the pumps slow down when units stop). Fed directly, each
        running evaporator takes at most its design flow and the rest of the stream passes the
        units in the header's bypass, rejoining after them.
        """
        isolating = [x for x in self.exchangers.values()
                     if x.spec.stage == stage and x.serves_heat_pumps]
        hx_rated = sum(x.spec.rated_heat_kw for x in isolating)
        opening = (sum(x.spec.rated_heat_kw * self._exchanger_ratio(x, direct=False)
                       for x in isolating) / hx_rated) if hx_rated else 1.0
        approach_k = max((x.spec.design_approach_k for x in isolating), default=0.0)
        loop_flow = sum(u.flow_m3h for x in isolating for u in x.loop_pumps)
        # a unit still starting up has its evaporator open: it takes its share of the flow
        sharing = units + [h for h in self._starting if h.spec.stage == stage]
        design = {hp.spec.id: hp.spec.design_evaporator_flow_m3h for hp in sharing}
        total_design = sum(design.values())
        if isolating and loop_flow > 0:
            for hp in sharing:
                hp.evaporator_flow_m3h = loop_flow * design[hp.spec.id] / total_design
        else:
            through = min(1.0, src_flow / total_design) if total_design > 0 else 0.0
            for hp in sharing:
                hp.evaporator_flow_m3h = design[hp.spec.id] * through
        direct = not isolating
        t_out = t_src
        source_out = min(h.evaporator_out_c for h in units)
        for _ in range(3):
            total_evap = 0.0
            for hp in units:
                at = hp.evaporator_out_c if direct else source_out
                hp.cop = hp.cop_at(at, hp.condenser_out_c, hp.load_ratio)
                hp.evaporator_kw = hp.heat_kw * (1.0 - 1.0 / hp.cop)
                if direct:
                    # an evaporator may not leave below the freezing guard: the unit throttles
                    c_evap = capacity_rate_kw_per_k(hp.evaporator_flow_m3h, t_src)
                    allowed = max(c_evap * (t_src - freeze_guard_c(hp.spec)), 0.0)
                    if hp.evaporator_kw > allowed:
                        self._throttle(hp, allowed / hp.evaporator_kw)
                    hp.evaporator_out_c = (t_src - hp.evaporator_kw / c_evap if c_evap > 0
                                           else t_src)
                total_evap += hp.evaporator_kw
            if not direct:
                if c_src <= 0:
                    scale = 0.0
                elif total_evap <= 0.0:
                    scale = 1.0
                else:
                    lift_k = approach_k * (total_evap / hx_rated if hx_rated else 0.0)
                    guard = max(freeze_guard_c(hp.spec) for hp in units)
                    allowed = c_src * opening * (t_src - guard - lift_k)
                    scale = 1.0 if total_evap <= allowed else max(allowed, 0.0) / total_evap
                if scale < 1.0:
                    for hp in units:
                        self._throttle(hp, scale)
                    total_evap *= scale
            t_out = t_src - total_evap / c_src if c_src > 0 else t_src
            lift_k = approach_k * (total_evap / hx_rated if hx_rated else 0.0)
            source_out = t_out - lift_k
        for hp in units:
            hp.power_kw = hp.heat_kw - hp.evaporator_kw
            if direct:
                hp.evaporator_in_c = t_src
                continue
            hp.evaporator_out_c = source_out
            c_evap = capacity_rate_kw_per_k(hp.evaporator_flow_m3h, source_out)
            hp.evaporator_in_c = source_out + (hp.evaporator_kw / c_evap if c_evap > 0 else 0.0)
        evap_flow_total = sum(hp.evaporator_flow_m3h for hp in units)
        for x in isolating:
            share = x.spec.rated_heat_kw / hx_rated
            x.heat_kw = sum(h.evaporator_kw for h in units) * share
            x.primary_in_c, x.primary_out_c = t_src, t_out
            x.secondary_out_c = source_out + (t_src - t_out)
            x.secondary_in_c = source_out
            x.primary_flow_m3h = src_flow * share * self._exchanger_ratio(x, direct=False)
            x.secondary_flow_m3h = evap_flow_total * share
            x.dp_kpa = EXCHANGER_DESIGN_DP_KPA * min(1.5, x.heat_kw / x.spec.rated_heat_kw) ** 2
        return t_out

    @staticmethod
    def _throttle(hp: HeatPumpState, scale: float) -> None:
        """Scale a unit's heat (and so its condenser rise and evaporator heat) down."""
        hp.heat_kw *= scale
        hp.condenser_out_c = hp.condenser_in_c + (hp.condenser_out_c - hp.condenser_in_c) * scale
        hp.evaporator_kw *= scale

    def _loop_plant(self, t_return: float, c_user: float, target: float, dt_s: float,
                    plant: Callable[[float, float, float, float, float],
                                    tuple[float, float, float]] | None = None) -> tuple[
            float, float, float]:
        """Solve a closed borehole loop together with the plant it feeds (or is cooled by)."""
        plant = plant or self._plant
        loop_flow = sum(b.flow_m3h for b in self.boreholes.values())
        # a borehole whose valve is shut stands still while the others carry the loop
        for bh in self.boreholes.values():
            if not bh.flow_m3h > 0.0:
                bh.heat_kw = 0.0
                bh.ground = step_ground(bh.spec, bh.ground, 0.0, dt_s)
                bh.outlet_temp_c = lag(bh.outlet_temp_c, bh.inlet_temp_c, 3600.0, dt_s)
        if loop_flow <= 0.0:
            return plant(self._source_in_c, 0.0, t_return, c_user, target)
        flowing = [b for b in self.boreholes.values() if b.flow_m3h > 0.0]
        inlet_guess = self._source_out_c
        offset = gain = 0.0
        for bh in flowing:
            weight = bh.flow_m3h / loop_flow
            low = borehole_outlet_temp_c(bh.spec, bh.ground, inlet_guess, bh.flow_m3h)
            high = borehole_outlet_temp_c(bh.spec, bh.ground, inlet_guess + 1.0, bh.flow_m3h)
            gain += weight * (high - low)
            offset += weight * (low - (high - low) * inlet_guess)
        outlet = offset + gain * inlet_guess
        result = (self.plant_supply_c, 0.0, 0.0)
        for _ in range(3):
            result = plant(outlet, loop_flow, t_return, c_user, target)
            c_src = capacity_rate_kw_per_k(loop_flow, outlet)
            extracted = result[1]
            outlet = (offset - gain * extracted / c_src) / (1.0 - gain)
        outlet = self._source_in_c
        inlet = self._source_out_c
        for bh in flowing:
            bh.inlet_temp_c = inlet
            bh.outlet_temp_c = outlet
            bh.heat_kw = result[1] * bh.flow_m3h / loop_flow
            hours = dt_s / 3600.0
            if bh.heat_kw >= 0:
                bh.heat_kwh += bh.heat_kw * hours
            else:
                bh.rejected_kwh -= bh.heat_kw * hours
            bh.ground = step_ground(bh.spec, bh.ground, bh.heat_kw, dt_s, bh.flow_m3h)
        return result

    # ------------------------------------------------------------------ wells and staging

    def _reinjection(self, dt_s: float) -> None:
        hours = dt_s / 3600.0
        if not self.wells:
            return
        produced = self.source_flow_m3h
        wells = list(self.reinjection.values())
        # a throttled inlet valve limits what its well takes; the others take the rest
        capacity = [w.capacity_m3h() * self._valve_ratio("reinjection", ident)
                    for ident, w in self.reinjection.items()]
        total_capacity = sum(capacity)
        # the reinjection line's booster pumps carry the water to the wells: with every one
        # stopped or failed, what is produced overflows (is discharged) instead
        carried = not self.boosters or any(u.running for u in self.boosters)
        taken = min(produced, total_capacity) if carried else 0.0
        self.overflow_m3h = produced - taken
        for well, cap in zip(wells, capacity, strict=True):
            flow = taken * cap / total_capacity if total_capacity > 0 else 0.0
            well.settle(flow, self.injection_temp_c, dt_s)
        boosting = [u for u in self.boosters if u.running]
        for unit in self.boosters:
            if unit in boosting and taken > 0:
                flow = taken / len(boosting)
                unit.speed_hz = unit.max_speed_hz * min(1.0, flow / unit.rated_flow_m3h)
                unit.deliver(flow, unit.rated_head_m * (flow / unit.rated_flow_m3h) ** 2, dt_s)
            else:
                unit.deliver(0.0, 0.0, dt_s)
        self.balance.produced_m3 += produced * hours
        self.balance.reinjected_m3 += taken * hours
        self.balance.overflow_m3 += self.overflow_m3h * hours

    def _staging_logic(self, dt_s: float) -> None:
        """Local PLC: stage heat pumps up when short of the target, down when over-supplied."""
        st = self._staging
        for hp in self.heat_pumps.values():
            # protection: a unit unloads to hold its freezing guard and its condenser limit;
            # held there below its minimum load it can unload no further, and its own
            # low-temperature or high-pressure switch trips it
            cornered = hp.running and hp.starting_s <= 0.0 and hp.heat_kw < (
                0.99 * hp.spec.min_load_pct / 100.0 * hp.spec.rated_heat_kw)
            hp.protect(cornered and hp.evaporator_out_c
                       <= freeze_guard_c(hp.spec) + LOW_EVAPORATOR_TRIP_K,
                       cornered and hp.condenser_out_c >= (
                           hp.spec.rated_sink_out_temp_c + MAX_CONDENSER_LIFT_K
                           - HIGH_CONDENSER_TRIP_MARGIN_K), dt_s)
        local = [h for h in self._hp_order
                 if not h.remote_run and not h.faulted and self.mode_allows(h)]
        for hp in self.heat_pumps.values():
            if hp.faulted and not hp.remote_run:
                hp.run_command = False
        if not self.plant_on or not local:
            st.up_s = st.down_s = 0.0
            return
        running = [h for h in local if h.run_command]
        error = self.plant_supply_c - self.supply_target_c
        if self.cooling_on:  # too warm is short of cooling
            error = -error
        short = error < -STAGE_UP_SHORT_K and self.network_flow_m3h > 0
        saturated = all(h.capacity_ratio >= 1.0 and h.heat_kw >= 0.98 * h.spec.rated_heat_kw
                        for h in self.heat_pumps.values() if h.running)
        st.up_s = st.up_s + dt_s if short and saturated else 0.0
        if st.up_s >= STAGE_UP_DELAY_S or (short and not any(
                h.running for h in self.heat_pumps.values())):
            idle = [h for h in local if not h.run_command]
            if idle:
                st.order += 1
                idle[0].run_command = True
                idle[0].started_order = st.order
            st.up_s = 0.0
            return
        if not running:
            st.down_s = 0.0
            return
        last = max(running, key=lambda h: h.started_order)
        total_heat = sum(h.heat_kw for h in self.heat_pumps.values() if h.running)
        rest = sum(h.spec.rated_heat_kw for h in self.heat_pumps.values()
                   if h.running and h is not last)
        over = error > 2.0
        surplus = total_heat < STAGE_DOWN_MARGIN * rest or over or self.direct_supply_holds
        st.down_s = st.down_s + dt_s if surplus else 0.0
        if st.down_s >= STAGE_DOWN_DELAY_S:
            last.run_command = False
            st.down_s = 0.0

    def _meters(self, dt_s: float) -> None:
        hours = dt_s / 3600.0
        gauss = self.rng.gauss
        meters = list(self.heat_meters.values())
        for meter in meters:
            flow, supply, back, given_at = meter.source()
            # the flow sensor sits in the return, where the same mass flow has another volume
            flow = volume_flow_at(flow, given_at, back)
            meter.flow_m3h = max(0.0, flow * (1.0 + gauss(0.0, METER_FLOW_SIGMA)))
            meter.supply_c = supply + gauss(0.0, METER_TEMP_SIGMA_K)
            meter.return_c = back + gauss(0.0, METER_TEMP_SIGMA_K)
        if meters:
            heats = heat_power_kw(np.array([m.flow_m3h for m in meters]),
                                  np.array([m.supply_c for m in meters]),
                                  np.array([m.return_c for m in meters]))
            for meter, measured in zip(meters, heats.tolist(), strict=True):
                # a heat meter registers heat only, above its start threshold; a chilled-water
                # flow, or one without a temperature difference, reads zero power
                rise = meter.supply_c - meter.return_c
                heat = measured if rise >= METER_MIN_DT_K else 0.0
                meter.heat_kw = heat
                meter.heat_kwh += heat * hours
                meter.volume_m3 += meter.flow_m3h * hours
        for emeter in self.electricity_meters.values():
            emeter.power_kw = sum(source() for source in emeter.sources)
            emeter.energy_kwh += emeter.power_kw * hours
        for hp in self.heat_pumps.values():
            hp.energy_kwh += hp.power_kw * hours
            if hp.running and hp.starting_s > 0.0:  # the start-up ends after this step
                hp.starting_s = max(hp.starting_s - dt_s, 0.0)
            if not self.cooling_on:
                hp.heat_kwh += hp.heat_kw * hours
        self.makeup_m3h = LEAKAGE_FRACTION * (self.network_flow_m3h + sum(
            b.flow_m3h for b in self.boreholes.values()))
        self.makeup_m3 += self.makeup_m3h * hours
        self.balance.pump_kwh += sum(
            p.power_kw for p in {id(u): u for u in self._all_pumps()}.values()) * hours

    def _all_pumps(self) -> list[PumpUnit]:
        units = list(self.pumps.values())
        units += [w.pump for w in self.wells.values()]
        units += [r.pump for r in self.reinjection.values()]
        return units

    # ------------------------------------------------------------------ faults and commands

    def trip_heat_pump(self, equipment_id: str, tripped: bool) -> None:
        """Trip (or release) a heat pump."""
        self.heat_pumps[equipment_id].tripped = tripped

    def fail_pump(self, equipment_id: str, failed: bool) -> None:
        """Fail (or repair) a well pump or any pump."""
        if equipment_id in self.wells:
            self.wells[equipment_id].pump.failed = failed
        elif equipment_id in self.reinjection:
            self.reinjection[equipment_id].pump.failed = failed
        else:
            self.pumps[equipment_id].failed = failed

    def clog_reinjection(self, equipment_id: str, loss_per_day: float) -> None:
        """Add (or, negative, remove) a fractional injectivity loss per day."""
        well = self.reinjection[equipment_id]
        well.clogging_per_day = max(0.0, well.clogging_per_day + loss_per_day)

    def command(self, equipment_id: str, measurand: Measurand, value: Value) -> None:
        """Apply a written command, which from now on overrides the local PLC for that actuator.

        ``remote_mode`` false hands a unit (or, on the network, the station's supply setpoint)
        back to the local logic; true takes it without changing what it does. ``heartbeat``
        tells the watchdog the supervisor is alive.
        """
        if measurand is M.HEARTBEAT:
            self.heartbeat = heartbeat_written(self.heartbeat, round(float(value)), self.now)
            return
        if measurand is M.REMOTE_MODE:
            self._remote_mode(equipment_id, bool(value))
            return
        if measurand is M.RUN_COMMAND:
            on = bool(value)
            if equipment_id in self.heat_pumps:
                hp = self.heat_pumps[equipment_id]
                hp.run_command, hp.remote_run = on, True
                if on:
                    self._staging.order += 1
                    hp.started_order = self._staging.order
                return
            unit = self._pump_of(equipment_id)
            unit.run_command, unit.remote_run = on, True
            return
        if measurand is M.SPEED_SETPOINT:
            unit = self._pump_of(equipment_id)
            unit.speed_setpoint_hz, unit.remote_speed = float(value), True
            return
        if measurand is M.VALVE_POSITION_SETPOINT:
            if equipment_id in self.valves:
                self.valves[equipment_id].setpoint_pct = float(value)
                self.valves[equipment_id].remote = True
            elif equipment_id in self.zones:
                self.zones[equipment_id].valve_setpoint_pct = float(value)
                self.zones[equipment_id].remote_valve = True
            else:
                raise CommandError(f"{equipment_id} has no valve")
            return
        if measurand is M.SUPPLY_TEMP_SETPOINT:
            if equipment_id in self.heat_pumps:
                self.heat_pumps[equipment_id].setpoint_c = float(value)
            else:
                self.remote_supply_setpoint_c = float(value)
                self._setpoint_mode = "cooling" if self.cooling_on else "heating"
            return
        raise CommandError(f"measurand {measurand} is not a command")

    def _remote_mode(self, equipment_id: str, remote: bool) -> None:
        if equipment_id in self.heat_pumps:
            hp = self.heat_pumps[equipment_id]
            hp.remote_run = remote
            if not remote:
                hp.setpoint_c = None
            return
        if any(isinstance(e, Network) and e.id == equipment_id for e in self.site.equipment):
            if remote:
                self.remote_supply_setpoint_c = self.supply_target_c
                self._setpoint_mode = "cooling" if self.cooling_on else "heating"
            elif self.remote_supply_setpoint_c is not None:
                self._handback_from_c = self.supply_target_c
                self.remote_supply_setpoint_c = None
            return
        unit = self._pump_of(equipment_id)
        unit.remote_run = unit.remote_speed = remote

    def remote(self, equipment_id: str) -> bool:
        """True when a unit (or, on the network, the supply setpoint) is under remote control."""
        if equipment_id in self.heat_pumps:
            return self.heat_pumps[equipment_id].remote_run
        if any(isinstance(e, Network) and e.id == equipment_id for e in self.site.equipment):
            return self.remote_supply_setpoint_c is not None
        unit = self._pump_of(equipment_id)
        return unit.remote_run or unit.remote_speed

    def hand_back(self) -> None:
        """Give every unit and the supply setpoint back to the local logic, as they are now.

        Bumpless: no unit is started or stopped here; the local logic goes on from the running
        units (its staging timers start from zero) and walks the supply target to its own.
        """
        for hp in self.heat_pumps.values():
            hp.remote_run = False
            hp.setpoint_c = None
        for unit in self._all_pumps():
            unit.remote_run = unit.remote_speed = False
        for zone in self.zones.values():
            zone.remote_valve = False
        for valve in self.valves.values():
            valve.remote = False
        if self.remote_supply_setpoint_c is not None:
            self._handback_from_c = self.supply_target_c
            self.remote_supply_setpoint_c = None

    def _watchdog(self) -> None:
        supervision = self.site.station.supervision
        if supervision is None:
            return
        if supervisor_silent(self.heartbeat, self.now, supervision.heartbeat_timeout_s):
            if self.heartbeat.changed_at is not None:
                self.last_takeover = (self.heartbeat.changed_at, self.now)
            self.hand_back()
            self.heartbeat = disarmed(self.heartbeat)
            self.watchdog_takeovers += 1

    def _pump_of(self, equipment_id: str) -> PumpUnit:
        if equipment_id in self.pumps:
            return self.pumps[equipment_id]
        if equipment_id in self.wells:
            return self.wells[equipment_id].pump
        if equipment_id in self.reinjection:
            return self.reinjection[equipment_id].pump
        raise CommandError(f"{equipment_id} has no pump")

    def energy_balance(self) -> EnergyBalance:
        """Cumulative model energies since the warm-up ended."""
        return self.balance

    def reader(self, equipment_id: str, measurand: Measurand,
               depth_m: float | None = None) -> Callable[[], Value]:
        """A function giving one measurand's true value (see :func:`simulator.readings.reader`)."""
        from simulator.readings import reader  # readings builds on this module

        return reader(self, equipment_id, measurand, depth_m)
