"""Mutable state of the simulated equipment: pumps, wells, boreholes, exchangers, heat pumps.

Each class holds what one piece of equipment is doing now and knows only its own local
physics (a pump's affinity laws, a well's drawdown, a reinjection well's injectivity). How they
are connected into a station is :mod:`simulator.station`'s job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from plant.models.borehole import (
    Borehole,
    GroundState,
    annulus_profile_c,
    initial_ground_state,
    profile_at_depth_c,
    wall_temp_at_depth_c,
)
from plant.models.heat_pump import (
    carnot_fraction,
    design_pressure_ratio,
    expected_cop,
    max_evaporating_temp_c,
    standing_power_share,
)
from plant.models.water import density_kg_m3, specific_heat_kj_per_kgk
from plant.site import (
    BoreholeField,
    CoaxialBorehole,
    HeatPump,
    PlateExchanger,
    ProductionWell,
    ReinjectionWell,
)

GRAVITY_M_S2 = 9.81
SUPPLY_VOLTAGE_V = 400.0
POWER_FACTOR = 0.85
SPEED_RAMP_HZ_PER_S = 1.0
"""How fast a variable-frequency drive follows its speed setpoint."""
WELLHEAD_HEAD_M = 30.0
"""Head a production pump delivers above ground at rated flow (separator and filters)."""
WELLBORE_LOSS_W_PER_M = 30.0
"""Heat lost by rising geothermal water to the colder rock around the upper well."""
WELLHEAD_TIME_CONSTANT_S = 900.0
SURFACE_ROCK_TEMP_C = 12.0
"""Rock temperature near the surface, where a stopped well's water cools towards."""
MAX_INJECTION_HEAD_M = 100.0
"""Wellhead pressure head a pressurised reinjection well may use (about 1 MPa)."""


@lru_cache(maxsize=8192)
def _volumetric_heat_kj_per_m3k(temp_key: int) -> float:
    temp = temp_key / 10.0
    return float(density_kg_m3(temp)) * float(specific_heat_kj_per_kgk(temp))


@lru_cache(maxsize=8192)
def _density(temp_key: int) -> float:
    return float(density_kg_m3(temp_key / 10.0))


def volume_flow_at(flow_m3h: float, defined_at_c: float, at_c: float) -> float:
    """A volume flow given at one temperature, expressed at another (same mass flow)."""
    def key(temp: float) -> int:
        return round(min(max(temp, 0.5), 149.0) * 10.0)
    return flow_m3h * _density(key(defined_at_c)) / _density(key(at_c))


def capacity_rate_kw_per_k(flow_m3h: float, temp_c: float) -> float:
    """Heat capacity rate of a water stream in kW/K (properties at 0.1 K resolution)."""
    temp = min(max(temp_c, 0.5), 149.0)
    return flow_m3h * _volumetric_heat_kj_per_m3k(round(temp * 10.0)) / 3600.0


def pressure_mpa(head_m: float) -> float:
    """Pressure of a water column of ``head_m`` metres in MPa."""
    return 1000.0 * GRAVITY_M_S2 * head_m / 1e6


def electric_current_a(power_kw: float) -> float:
    """Line current of a three-phase motor drawing ``power_kw``."""
    return power_kw * 1000.0 / (math.sqrt(3.0) * SUPPLY_VOLTAGE_V * POWER_FACTOR)


def approach(value: float, target: float, rate: float, dt_s: float) -> float:
    """Move ``value`` towards ``target`` by at most ``rate``·``dt_s``."""
    step = rate * dt_s
    if value < target:
        return min(target, value + step)
    return max(target, value - step)


def lag(value: float, target: float, time_constant_s: float, dt_s: float) -> float:
    """First-order lag towards ``target``, exact for a constant target over ``dt_s``."""
    return target + (value - target) * math.exp(-dt_s / time_constant_s)


@dataclass
class PumpUnit:
    """A pump and its drive: commanded by the local PLC or, once written, by a remote command."""

    id: str
    rated_flow_m3h: float
    rated_head_m: float
    rated_kw: float
    vfd: bool = True
    min_speed_hz: float = 20.0
    max_speed_hz: float = 50.0
    run_command: bool = False
    speed_setpoint_hz: float = 50.0
    remote_run: bool = False
    remote_speed: bool = False
    failed: bool = False
    speed_hz: float = 0.0
    flow_m3h: float = 0.0
    head_m: float = 0.0
    power_kw: float = 0.0
    energy_kwh: float = 0.0
    run_hours: float = 0.0

    @property
    def running(self) -> bool:
        """True when commanded on and not failed."""
        return self.run_command and not self.failed

    @property
    def speed_ratio(self) -> float:
        """Actual speed as a fraction of full speed."""
        return self.speed_hz / self.max_speed_hz

    def ramp(self, dt_s: float) -> None:
        """Move the drive towards its setpoint (or to standstill when stopped or failed)."""
        if not self.running:
            target = 0.0
        elif self.vfd:
            target = min(max(self.speed_setpoint_hz, self.min_speed_hz), self.max_speed_hz)
        else:
            target = self.max_speed_hz
        self.speed_hz = approach(self.speed_hz, target, SPEED_RAMP_HZ_PER_S, dt_s)

    def deliver(self, flow_m3h: float, head_m: float, dt_s: float) -> None:
        """Record the operating point the hydraulics gave this pump and integrate its meters."""
        self.flow_m3h = flow_m3h
        self.head_m = head_m
        # nameplate power at the rated duty point; elsewhere power follows flow × head
        # (constant efficiency), which with the affinity laws is the cube of the speed
        duty = (flow_m3h / self.rated_flow_m3h) * (max(head_m, 0.0) / self.rated_head_m)
        self.power_kw = self.rated_kw * duty if flow_m3h > 0 else 0.0
        self.energy_kwh += self.power_kw * dt_s / 3600.0
        if self.speed_hz > 0.0:
            self.run_hours += dt_s / 3600.0

    def circulation_point(self) -> tuple[float, float]:
        """Flow and head at the current speed on a system curve through the rated point."""
        ratio = self.speed_ratio
        return self.rated_flow_m3h * ratio, self.rated_head_m * ratio * ratio


@dataclass
class ProductionWellState:
    """A production well: its submersible pump, drawdown and wellhead conditions."""

    spec: ProductionWell
    pump: PumpUnit
    flow_m3h: float = 0.0
    level_m: float = 0.0
    wellhead_temp_c: float = 0.0
    wellhead_pressure_mpa: float = 0.0
    volume_m3: float = 0.0

    @classmethod
    def build(cls, spec: ProductionWell) -> ProductionWellState:
        """A stopped well at static level."""
        rated_head = (spec.static_level_m + spec.rated_flow_m3h / spec.specific_capacity_m3h_per_m
                      + WELLHEAD_HEAD_M)
        pump = PumpUnit(spec.id, spec.rated_flow_m3h, rated_head, spec.pump_rated_kw)
        return cls(spec, pump, level_m=spec.static_level_m,
                   wellhead_temp_c=spec.reservoir_temp_c - 2.0)

    def settle(self, valve_ratio: float, dt_s: float) -> None:
        """Flow, drawdown, wellhead temperature and pressure at the pump's speed."""
        spec = self.spec
        ratio = self.pump.speed_ratio
        self.flow_m3h = spec.rated_flow_m3h * ratio * valve_ratio
        self.level_m = spec.static_level_m + self.flow_m3h / spec.specific_capacity_m3h_per_m
        pump_head = self.pump.rated_head_m * ratio * ratio
        self.wellhead_pressure_mpa = max(0.0, pressure_mpa(pump_head - self.level_m))
        if self.flow_m3h > 0.0:
            capacity = capacity_rate_kw_per_k(self.flow_m3h, spec.reservoir_temp_c)
            loss_k = WELLBORE_LOSS_W_PER_M * spec.depth_m / 1000.0 / capacity
            room = spec.reservoir_temp_c - SURFACE_ROCK_TEMP_C
            target = spec.reservoir_temp_c - min(loss_k, room)
        else:
            target = SURFACE_ROCK_TEMP_C + 0.5 * (spec.reservoir_temp_c - SURFACE_ROCK_TEMP_C)
        self.wellhead_temp_c = lag(self.wellhead_temp_c, target, WELLHEAD_TIME_CONSTANT_S, dt_s)
        self.pump.deliver(self.flow_m3h, pump_head, dt_s)
        self.volume_m3 += self.flow_m3h * dt_s / 3600.0


@dataclass
class ReinjectionWellState:
    """A reinjection well whose injectivity may decline as it clogs."""

    spec: ReinjectionWell
    pump: PumpUnit
    injectivity_m3h_per_m: float
    has_pump: bool
    clogging_per_day: float = 0.0
    flow_m3h: float = 0.0
    level_m: float = 0.0
    wellhead_pressure_mpa: float = 0.0
    injection_temp_c: float = 20.0
    volume_m3: float = 0.0

    @classmethod
    def build(cls, spec: ReinjectionWell, pump: PumpUnit | None) -> ReinjectionWellState:
        """A well at static level with its design injectivity."""
        # a pressurised well without a listed pump gets one sized for its rated flow at the
        # pressure limit, at an assumed 60 % wire-to-water efficiency
        sized_kw = (1000.0 * GRAVITY_M_S2 * spec.rated_flow_m3h / 3600.0 * MAX_INJECTION_HEAD_M
                    / 1000.0 / 0.6)
        unit = pump or PumpUnit(spec.id, spec.rated_flow_m3h, MAX_INJECTION_HEAD_M, sized_kw)
        return cls(spec, unit, spec.injectivity_m3h_per_m, pump is not None or spec.pressurised,
                   level_m=spec.static_level_m)

    def capacity_m3h(self) -> float:
        """Largest flow the well takes: water up to the wellhead, or up to the pressure limit."""
        head = self.spec.static_level_m
        if self.spec.pressurised and self.pump.running:
            head += MAX_INJECTION_HEAD_M
        return self.injectivity_m3h_per_m * head

    def settle(self, flow_m3h: float, injection_temp_c: float, dt_s: float) -> None:
        """Water level or wellhead pressure for the flow it takes; clogging lowers injectivity."""
        if self.clogging_per_day > 0.0:
            self.injectivity_m3h_per_m *= math.exp(-self.clogging_per_day * dt_s / 86400.0)
        self.flow_m3h = flow_m3h
        self.injection_temp_c = injection_temp_c
        rise = flow_m3h / self.injectivity_m3h_per_m
        self.level_m = max(0.0, self.spec.static_level_m - rise)
        over = max(0.0, rise - self.spec.static_level_m)
        self.wellhead_pressure_mpa = pressure_mpa(over)
        pumping = self.has_pump and self.pump.running and flow_m3h > 0.0
        self.pump.speed_hz = self.pump.max_speed_hz if pumping else 0.0
        if pumping:
            head = over + self.pump.rated_head_m * (flow_m3h / self.pump.rated_flow_m3h) ** 2
            self.pump.deliver(flow_m3h, head, dt_s)
        else:
            self.pump.deliver(0.0, 0.0, dt_s)
        self.volume_m3 += flow_m3h * dt_s / 3600.0


@dataclass
class BoreholeState:
    """A coaxial borehole or a borehole field with the ground around it."""

    spec: Borehole
    ground: GroundState
    flow_m3h: float = 0.0
    inlet_temp_c: float = 10.0
    outlet_temp_c: float = 10.0
    heat_kw: float = 0.0
    heat_kwh: float = 0.0
    rejected_kwh: float = 0.0
    _profile: tuple[GroundState, float, float, list[float]] | None = field(default=None,
                                                                         repr=False)

    def depth_temp_c(self, depth_m: float) -> float:
        """Loop fluid temperature at a depth in the annulus; the wall's when the loop stands."""
        if self.flow_m3h <= 0.0:
            return wall_temp_at_depth_c(self.spec, self.ground, depth_m)
        # a fibre logger reads every depth of one profile: compute it once per state
        cached = self._profile
        if (cached is None or cached[0] is not self.ground or cached[1] != self.inlet_temp_c
                or cached[2] != self.flow_m3h):
            profile = annulus_profile_c(self.spec, self.ground, self.inlet_temp_c, self.flow_m3h)
            cached = self._profile = (self.ground, self.inlet_temp_c, self.flow_m3h, profile)
        return profile_at_depth_c(self.spec, cached[3], depth_m)

    @classmethod
    def build(cls, spec: Borehole) -> BoreholeState:
        """A borehole in undisturbed ground, its loop at the mean ground temperature."""
        if isinstance(spec, CoaxialBorehole):
            gradient = spec.geothermal_gradient_k_per_100m / 100.0
            mean = spec.surface_ground_temp_c + gradient * spec.depth_m / 2.0
        else:
            mean = spec.undisturbed_ground_temp_c
        return cls(spec, initial_ground_state(spec), inlet_temp_c=mean, outlet_temp_c=mean)

    @property
    def is_field(self) -> bool:
        """True for a shallow borehole field."""
        return isinstance(self.spec, BoreholeField)


@dataclass
class ExchangerState:
    """A plate heat exchanger: counterflow effectiveness from its rated heat and approach."""

    spec: PlateExchanger
    serves_heat_pumps: bool
    primary_in_c: float = 20.0
    primary_out_c: float = 20.0
    secondary_in_c: float = 20.0
    secondary_out_c: float = 20.0
    primary_flow_m3h: float = 0.0
    secondary_flow_m3h: float = 0.0
    heat_kw: float = 0.0
    dp_kpa: float = 0.0
    loop_pumps: list[PumpUnit] = field(default_factory=list)
    fouling: float = 0.0
    """Fouling resistance as a multiple of the clean heat-transfer resistance (0: clean)."""

    @property
    def ua_kw_per_k(self) -> float:
        """Conductance: rated heat over design approach, lowered by fouling in series."""
        return self.spec.rated_heat_kw / self.spec.design_approach_k / (1.0 + self.fouling)


def counterflow_effectiveness(ua: float, c_hot: float, c_cold: float) -> float:
    """Effectiveness of a counterflow exchanger (ε-NTU)."""
    c_min, c_max = min(c_hot, c_cold), max(c_hot, c_cold)
    if c_min <= 0.0:
        return 0.0
    ntu = ua / c_min
    ratio = c_min / c_max
    if abs(1.0 - ratio) < 1e-6:
        return ntu / (1.0 + ntu)
    e = math.exp(-ntu * (1.0 - ratio))
    return (1.0 - e) / (1.0 - ratio * e)


PROTECTION_DELAY_S = 60.0
"""How long a low-evaporator or high-condenser condition lasts before the unit trips."""
PROTECTION_LOCKOUT_S = 900.0
"""How long a unit its protection tripped stays locked out before it may restart."""


@dataclass
class HeatPumpState:
    """A heat pump: run state, capacity ramp, and its operating point this step."""

    spec: HeatPump
    fraction: float
    run_command: bool = False
    remote_run: bool = False
    tripped: bool = False
    setpoint_c: float | None = None
    capacity_ratio: float = 0.0
    heat_kw: float = 0.0
    evaporator_kw: float = 0.0
    power_kw: float = 0.0
    cop: float = 0.0
    evaporator_in_c: float = 15.0
    evaporator_out_c: float = 12.0
    condenser_in_c: float = 40.0
    condenser_out_c: float = 45.0
    evaporator_flow_m3h: float = 0.0
    condenser_flow_m3h: float = 0.0
    energy_kwh: float = 0.0
    heat_kwh: float = 0.0
    run_hours: float = 0.0
    started_order: int = 0
    built_in_ratio: float = 3.0
    """Pressure ratio the compressor is built for (its rated point's)."""
    standing_share: float = 0.0
    max_evaporating_c: float = math.inf
    """Evaporating temperature the expansion valve's MOP holds the suction at."""
    starting_s: float = 0.0
    """Time left of the start-up, during which the unit draws power and gives no heat."""
    was_running: bool = False
    starts: int = 0
    protection: str | None = None
    """Why the unit's own protection has it locked out (None: it is not)."""
    lockout_s: float = 0.0
    protection_trips: int = 0
    last_protection: str | None = None
    _low_evaporator_s: float = 0.0
    _high_condenser_s: float = 0.0

    @classmethod
    def build(cls, spec: HeatPump) -> HeatPumpState:
        """A stopped unit calibrated to its rated point."""
        fraction = carnot_fraction(spec.rated_cop, spec.rated_source_out_temp_c,
                                   spec.rated_sink_out_temp_c)
        unit = cls(spec, fraction)
        unit.built_in_ratio = design_pressure_ratio(spec.rated_source_out_temp_c,
                                                    spec.rated_sink_out_temp_c)
        unit.standing_share = standing_power_share(spec.rated_cop)
        unit.max_evaporating_c = max_evaporating_temp_c(spec)
        return unit

    @property
    def faulted(self) -> bool:
        """True when tripped by a fault or locked out by its own protection."""
        return self.tripped or self.protection is not None

    @property
    def running(self) -> bool:
        """True when commanded on and not faulted."""
        return self.run_command and not self.faulted

    def protect(self, low_evaporator: bool, high_condenser: bool, dt_s: float) -> None:
        """The unit's protection: a condition held for its delay trips it into a lockout."""
        if self.protection is not None:
            self.lockout_s -= dt_s
            if self.lockout_s <= 0.0:
                self.protection, self.lockout_s = None, 0.0
            return
        self._low_evaporator_s = self._low_evaporator_s + dt_s if low_evaporator else 0.0
        self._high_condenser_s = self._high_condenser_s + dt_s if high_condenser else 0.0
        if self._low_evaporator_s >= PROTECTION_DELAY_S:
            self.protection = "low evaporator temperature"
        elif self._high_condenser_s >= PROTECTION_DELAY_S:
            self.protection = "high condenser pressure"
        else:
            return
        self.lockout_s = PROTECTION_LOCKOUT_S
        self.protection_trips += 1
        self.last_protection = self.protection
        self._low_evaporator_s = self._high_condenser_s = 0.0

    @property
    def load_ratio(self) -> float:
        """Heat output as a fraction of rated heat."""
        return self.heat_kw / self.spec.rated_heat_kw

    def cop_at(self, source_out_c: float, sink_out_c: float, load_ratio: float) -> float:
        """Expected COP at these outlet temperatures and load (plant.models.heat_pump)."""
        return float(expected_cop(source_out_c, sink_out_c, self.fraction,
                                  min(max(load_ratio, 0.01), 1.0), self.built_in_ratio,
                                  standing_share=self.standing_share,
                                  max_evaporating_c=self.max_evaporating_c))


@dataclass
class ZoneState:
    """A heated zone (a substation's buildings, or the whole station) with its emitters."""

    id: str
    area_m2: float
    design_load_kw: float
    design_flow_m3h: float
    indoor_temp_c: float
    valve_setpoint_pct: float = 100.0
    valve_pct: float = 100.0
    remote_valve: bool = False
    flow_m3h: float = 0.0
    supply_c: float = 50.0
    return_c: float = 40.0
    heat_kw: float = 0.0
    heat_kwh: float = 0.0
    supply_pressure_mpa: float = 0.0
    return_pressure_mpa: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)
