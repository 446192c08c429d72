"""Typed site configuration: one YAML file per station, validated when loaded.

A site file has five sections: ``station`` (identity, climate, buildings), ``poll_groups``
(name -> period), ``devices`` (the PLCs, controllers and meters the gateway talks to),
``equipment`` (what the plant is made of) and ``points`` (what is measured or commanded, and
where it lives on a device). Any error stops loading with one line naming the file, the line,
the key and the problem (:class:`SiteFileError`).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from plant.measurands import ALLOWED, AT_DEPTH, COMMANDS, COUNTERS, QUANTITY, Measurand
from plant.units import UNITS, Quantity, units_of

IDENT = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
POINT_IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
STATION_IDENT = r"^[a-z0-9][a-z0-9-]*$"

Ident = Annotated[str, Field(pattern=IDENT, max_length=64)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]

_WATER_KWH_PER_M3K = 1.15
"""Water near 40 °C in kWh/(m³·K) (992 kg/m³ × 4.18 kJ/(kg·K)), for design flows."""
FREEZE_GUARD_K = 4.0
"""How far above its fluid's freezing point a unit holds its evaporator's leaving water: the
middle of the 3–5 K by which the fluid's freezing point lies below the lowest design water
temperature (004 L2370)."""
LOWEST_WATER_K = 3.0
"""The least of 004 L2370's 3–5 K between the fluid's freezing point and the lowest design
water temperature: the source's protective limit above the freezing point."""


class SiteFileError(ValueError):
    """A site file that cannot be used; the message is one line naming file, key and problem."""


class _KeyValueError(ValueError):
    """A whole-model check that blames one key of the model it checks."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class _Frozen(BaseModel):
    # allow_inf_nan=False: a NaN or infinite number is never a usable range, scale or rating
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- station


class Climate(_Frozen):
    """Outdoor design conditions and heating season, as in the Heilongjiang plan's Table 4-1."""

    city: str
    design_outdoor_temp_c: Annotated[float, Field(ge=-50, le=10)]
    mean_heating_season_outdoor_temp_c: Annotated[float, Field(ge=-30, le=15)]
    heating_season_days: Annotated[int, Field(ge=30, le=270)]
    heating_season_start: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")]
    daily_swing_k: Annotated[float, Field(ge=0, le=30)] = 8.0
    cooling_season_days: Annotated[int, Field(ge=0, le=200)] = 0
    design_cooling_outdoor_temp_c: Annotated[float, Field(ge=20, le=45)] = 33.0

    @model_validator(mode="after")
    def _mean_above_design(self) -> Climate:
        if self.mean_heating_season_outdoor_temp_c <= self.design_outdoor_temp_c:
            raise ValueError("mean heating-season temperature must be above the design temperature")
        return self


BuildingType = Literal["new_residential", "existing_residential", "new_public", "existing_public"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")]


class OccupiedPeriod(_Frozen):
    """Local times on given weekdays when the buildings are heated to comfort."""

    days: tuple[Weekday, ...] = WEEKDAYS
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _start_before_end(self) -> OccupiedPeriod:
        if self.start >= self.end:
            raise _KeyValueError("end", f"end {self.end} must be after start {self.start}")
        return self


class Holiday(_Frozen):
    """Days (inclusive, "MM-DD", may wrap the new year) with no comfort heating at all."""

    first: MonthDay
    last: MonthDay


class AntifreezeGuard(_Frozen):
    """The guard that keeps the buildings from freezing all year, whatever else is off.

    It heats from the moment the coldest room falls below ``indoor_c`` plus a margin until it
    is ``band_k`` above ``indoor_c``, in and out of the heating season, in and out of a
    schedule's occupied periods. The margin is no key: it is what unheated rooms at
    ``indoor_c`` lose at the design outdoor temperature while the guard's units wait out their
    minimum off time, start and load up (:func:`plant.heating.guard_margin_k`), so the rooms
    never reach ``indoor_c``, the floor the guard protects.
    """

    indoor_c: Annotated[float, Field(ge=2)] = 5.0
    """Threshold (GB 50736-2012 duty heating holds 5 °C in a heated public building of
    a cold region outside its hours of use); at least 2 °C, so water in emitters and pipes stays
    clear of 0 °C; below the indoor design temperature."""
    band_k: Annotated[float, Field(gt=0, le=10)] = 2.0
    """How far above the threshold the coldest room must be before the guard lets go (assumed:
    no seed or standard gives it; 2 K keeps a building's guard from cycling every few minutes)."""


class Schedule(_Frozen):
    """When the buildings are heated to comfort; outside it an anti-freeze guard always wins.

    Outside the occupied periods, and on holidays, the plant stands by: it heats only while the
    coldest room is below ``antifreeze_indoor_c`` and until it is ``antifreeze_band_k`` above
    (where the schedule leaves them out, the station's ``antifreeze`` guard's).
    """

    occupied: tuple[OccupiedPeriod, ...] = Field(min_length=1)
    holidays: tuple[Holiday, ...] = ()
    antifreeze_indoor_c: Annotated[float, Field(ge=2, le=12)] | None = None
    antifreeze_band_k: Annotated[float, Field(gt=0, le=10)] | None = None


class Staging(_Frozen):
    """Supervisory heat-pump staging of a station, after ASHRAE Guideline 36.

    Each parameter keeps the default of the G36 block named beside it (Modelica Buildings
    Library, CDL); a station that has no ``staging`` key is staged by its local logic alone.
    """

    capacity_average_s: Annotated[float, Field(gt=0, le=3600)] = 300.0
    """Rolling average of the capacity requirement (``avePer``, ``dtMea``)."""
    plr_staging: Annotated[float, Field(gt=0, le=1)] | None = None
    """Staging part-load ratio of every stage (``plrSta``); None: each stage's own, the load
    above which the next stage carries it on less electricity (at most its full load)."""
    plr_hysteresis: Annotated[float, Field(ge=0, le=0.5)] = 0.05
    """Part-load ratio hysteresis for staging down (``effConSigDif``)."""
    efficiency_delay_s: Annotated[float, Field(ge=0, le=7200)] = 900.0
    """How long the part-load ratio must stay above (or, down, below) its SPLR (``dtRun``)."""
    failsafe_dt_k: Annotated[float, Field(gt=0, le=20)] = 2.5
    """Supply shortfall below setpoint that stages up (``dTHea``)."""
    failsafe_delay_s: Annotated[float, Field(ge=0, le=7200)] = 900.0
    """How long the shortfall must hold (``dtPri``, ``faiSafTruDelay``)."""
    stage_runtime_min_s: Annotated[float, Field(ge=0, le=7200)] = 900.0
    """Minimum runtime of each stage (``dtRunSta``, ``delayStaCha``)."""
    compressor_on_min_s: Annotated[float, Field(ge=0, le=7200)] = 600.0
    """Minimum compressor on time (``minOnTime``, Wüllhorst 2021)."""
    compressor_off_min_s: Annotated[float, Field(ge=0, le=7200)] = 1200.0
    """Minimum compressor off time (``minOffTime``)."""
    compressor_starts_per_hour_max: Annotated[int, Field(ge=1, le=12)] = 3
    """Most starts of one compressor in any hour (``maxCycRat``)."""
    rotation_runtime_s: Annotated[float, Field(gt=0)] = 864_000.0
    """Staging runtime after which the lead passes to the next unit (``stagingRuntime``)."""
    exchanger_small_dt_k: Annotated[float, Field(gt=0, le=10)] = 1.0
    """Exchangers alone: supply short by this much for the long delay stages up (``smallTDif``)."""
    exchanger_large_dt_k: Annotated[float, Field(gt=0, le=20)] = 2.0
    """Exchangers alone: supply short by this much for the short delay stages up (``largeTDif``)."""
    exchanger_long_delay_s: Annotated[float, Field(ge=0, le=7200)] = 1200.0
    """Delay of the small shortfall (``longTDelay``)."""
    exchanger_short_delay_s: Annotated[float, Field(ge=0, le=7200)] = 600.0
    """Delay of the large shortfall (``shortTDelay``)."""
    source_out_min_c: Annotated[float, Field(ge=-5, le=30)] | None = None
    """Protective limit of the source leaving the evaporators into the ground (the loop's
    coldest water). Default: the lowest design water temperature the units' fluid allows, its
    freezing point plus 3 K (the least of 004 L2370's 3–5 K), below the units' own freezing
    guard (:data:`FREEZE_GUARD_K`): staging's backstop should a unit's guard not hold."""
    source_recovery_k: Annotated[float, Field(ge=0, le=10)] = 2.0
    """How far above its limit the source must be again before a stage may come down."""
    reinjection_margin: Annotated[float, Field(gt=0, le=1)] = 0.95
    """Share of the measured reinjection capacity production may use."""
    cycle_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    """How often the live controller runs a staging step and writes the heartbeat; at most
    half the station's heartbeat timeout, so one lost heartbeat never hands the station back."""


class Supervision(_Frozen):
    """How the station's PLC watches a supervisory controller that commands it."""

    heartbeat_timeout_s: Annotated[float, Field(gt=0, le=3600)]
    """Silence of the heartbeat after which the station's local logic takes every unit back."""


class Station(_Frozen):
    """Identity, location, climate and heated buildings of one station."""

    id: Annotated[str, Field(pattern=STATION_IDENT, max_length=48)]
    name: str
    kind: Literal["hydrothermal", "deep_borehole", "shallow_field"]
    province: str = ""
    timezone: str = "Asia/Shanghai"
    climate: Climate
    heated_area_m2: PositiveFloat
    building_type: BuildingType
    heat_index_w_per_m2: Annotated[float, Field(gt=5, le=150)]
    cooling_index_w_per_m2: Annotated[float, Field(ge=0, le=200)] = 0.0
    indoor_design_temp_c: Annotated[float, Field(ge=14, le=26)] = 18.0
    design_supply_temp_c: Annotated[float, Field(gt=20, le=130)]
    design_return_temp_c: Annotated[float, Field(gt=10, le=100)]
    sources: tuple[str, ...] = ()
    """Where the station's numbers come from, as seed citations such as ``003 L2740``."""
    schedule: Schedule | None = None
    """When comfort heating runs; without one the buildings are heated around the clock."""
    antifreeze: AntifreezeGuard = AntifreezeGuard()
    """The anti-freeze guard, which heats all year (a schedule may set its own threshold and
    band)."""
    staging: Staging | None = None
    """Supervisory staging of the heat pumps; without it the local logic stages them."""
    supervision: Supervision | None = None
    """The supervisory heartbeat watchdog; without it a remote command holds until handed back."""

    @model_validator(mode="after")
    def _supply_above_return(self) -> Station:
        if self.design_supply_temp_c <= self.design_return_temp_c:
            raise ValueError("design supply temperature must be above design return temperature")
        return self

    @model_validator(mode="after")
    def _guard_below_comfort(self) -> Station:
        guard = self.antifreeze_guard
        design = self.indoor_design_temp_c
        schedule = self.schedule
        threshold_key = ("schedule" if schedule and schedule.antifreeze_indoor_c is not None
                         else "antifreeze")
        if guard.indoor_c >= design:
            raise _KeyValueError(threshold_key, f"anti-freeze threshold {guard.indoor_c:g} °C "
                                 f"must be below the indoor design temperature {design:g} °C")
        band_key = ("schedule" if schedule and schedule.antifreeze_band_k is not None
                    else "antifreeze")
        if guard.indoor_c + guard.band_k > design:
            raise _KeyValueError(band_key, f"the anti-freeze guard heats up to "
                                 f"{guard.indoor_c + guard.band_k:g} °C (threshold "
                                 f"{guard.indoor_c:g} °C + band {guard.band_k:g} K), above the "
                                 f"indoor design temperature {design:g} °C")
        # imported here: plant.heating imports this module for Station
        from plant.heating import guard_margin_k

        margin = guard_margin_k(self)
        if guard.band_k <= margin:
            raise _KeyValueError(band_key, f"the anti-freeze guard's band {guard.band_k:g} K "
                                 f"must be wider than its margin {margin:.2f} K (what unheated "
                                 f"rooms at {guard.indoor_c:g} °C lose at the design outdoor "
                                 f"temperature while its units come to heat): it would let go "
                                 f"below where it engages")
        return self

    @property
    def antifreeze_guard(self) -> AntifreezeGuard:
        """The guard in force: the station's, with what its schedule sets instead."""
        schedule = self.schedule
        if schedule is None or (schedule.antifreeze_indoor_c is None
                                and schedule.antifreeze_band_k is None):
            return self.antifreeze
        return AntifreezeGuard.model_construct(
            indoor_c=(self.antifreeze.indoor_c if schedule.antifreeze_indoor_c is None
                      else schedule.antifreeze_indoor_c),
            band_k=(self.antifreeze.band_k if schedule.antifreeze_band_k is None
                    else schedule.antifreeze_band_k))

    @model_validator(mode="after")
    def _staging_watched(self) -> Station:
        if self.staging is None:
            return self
        if self.supervision is None:
            raise ValueError("staging needs supervision.heartbeat_timeout_s: a station the "
                             "controller stages must fall back to its local logic when the "
                             "controller falls silent")
        if self.staging.cycle_s > self.supervision.heartbeat_timeout_s / 2:
            raise ValueError(f"staging.cycle_s {self.staging.cycle_s:g} s is more than half "
                             f"supervision.heartbeat_timeout_s "
                             f"{self.supervision.heartbeat_timeout_s:g} s")
        return self

    @property
    def design_heat_load_kw(self) -> float:
        """Design heat load from heated area and heat index."""
        return self.heated_area_m2 * self.heat_index_w_per_m2 / 1000.0


# --------------------------------------------------------------------------- devices


class ModbusDevice(_Frozen):
    """A Modbus TCP or RTU slave: a PLC, a heat-pump controller, a meter concentrator."""

    id: Ident
    protocol: Literal["modbus"]
    name: str = ""
    transport: Literal["tcp", "rtu"] = "tcp"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    serial_port: str = ""
    baudrate: Annotated[int, Field(ge=1200, le=115200)] = 9600
    unit_id: Annotated[int, Field(ge=0, le=247)]
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 1.0
    max_block_registers: Annotated[int, Field(ge=1, le=125)] = 100
    max_block_bits: Annotated[int, Field(ge=1, le=2000)] = 800

    @model_validator(mode="after")
    def _rtu_needs_serial_port(self) -> ModbusDevice:
        if self.transport == "rtu" and not self.serial_port:
            raise ValueError("a Modbus RTU device needs serial_port")
        return self


class OpcUaDevice(_Frozen):
    """An OPC UA server."""

    id: Ident
    protocol: Literal["opcua"]
    name: str = ""
    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://[^\s/:]+(:\d{1,5})?(/\S*)?$")]
    namespace_uri: str = "urn:geoscada:station"
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 4.0

    @model_validator(mode="after")
    def _policy_and_mode_agree(self) -> OpcUaDevice:
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ValueError("security_policy and security_mode must both be None or both be set")
        return self


Device = Annotated[ModbusDevice | OpcUaDevice, Field(discriminator="protocol")]


# --------------------------------------------------------------------------- equipment


class _Equipment(_Frozen):
    id: Ident
    name: str = ""


class ProductionWell(_Equipment):
    """A geothermal production well with a submersible pump."""

    kind: Literal["production_well"]
    aquifer: str
    depth_m: PositiveFloat
    reservoir_temp_c: Annotated[float, Field(gt=10, le=200)]
    static_level_m: NonNegativeFloat
    specific_capacity_m3h_per_m: PositiveFloat
    rated_flow_m3h: PositiveFloat
    pump_rated_kw: PositiveFloat


class ReinjectionWell(_Equipment):
    """A reinjection well returning cooled water to its aquifer."""

    kind: Literal["reinjection_well"]
    aquifer: str
    depth_m: PositiveFloat
    static_level_m: NonNegativeFloat
    injectivity_m3h_per_m: PositiveFloat
    rated_flow_m3h: PositiveFloat
    pressurised: bool = False


class MonitoringWell(_Equipment):
    """A well carrying temperature sensors at several depths and a level gauge."""

    kind: Literal["monitoring_well"]
    aquifer: str = ""
    depth_m: PositiveFloat
    sensor_depths_m: tuple[PositiveFloat, ...] = ()


class CoaxialBorehole(_Equipment):
    """A deep (1-3 km) coaxial closed-loop borehole heat exchanger."""

    kind: Literal["coaxial_borehole"]
    depth_m: Annotated[float, Field(ge=500, le=4000)]
    surface_ground_temp_c: Annotated[float, Field(ge=-5, le=30)]
    geothermal_gradient_k_per_100m: Annotated[float, Field(gt=0.5, le=10)]
    rated_flow_m3h: PositiveFloat
    rated_extraction_kw: PositiveFloat
    ground_conductivity_w_per_mk: Annotated[float, Field(gt=0.2, le=8)] = 2.5
    ground_heat_capacity_mj_per_m3k: Annotated[float, Field(gt=0.5, le=5)] = 2.3
    borehole_diameter_m: Annotated[float, Field(gt=0.05, le=0.6)] = 0.2
    neighbour_distances_m: tuple[Annotated[float, Field(ge=2, le=500)], ...] = ()
    """Distance to each other coaxial borehole of the same field; each is taken to draw as much
    heat per metre as this one (they share one loop), so its cooling reaches this one's wall."""


class BoreholeField(_Equipment):
    """A shallow (<= 200 m) closed-loop borehole field."""

    kind: Literal["borehole_field"]
    borehole_count: Annotated[int, Field(ge=1, le=10000)]
    depth_m: Annotated[float, Field(gt=10, le=300)]
    spacing_m: Annotated[float, Field(gt=1, le=20)] = 5.0
    undisturbed_ground_temp_c: Annotated[float, Field(ge=0, le=30)]
    rated_flow_m3h: PositiveFloat
    ground_conductivity_w_per_mk: Annotated[float, Field(gt=0.2, le=8)] = 1.8
    ground_heat_capacity_mj_per_m3k: Annotated[float, Field(gt=0.5, le=5)] = 2.2


class GroundTempBorehole(_Equipment):
    """A borehole with ground-temperature sensors at several depths."""

    kind: Literal["ground_temp_borehole"]
    field: Ident
    position: Literal["centre", "edge", "outside"] = "centre"
    depth_m: PositiveFloat
    sensor_depths_m: tuple[PositiveFloat, ...] = ()


class PlateExchanger(_Equipment):
    """A plate heat exchanger; ``stage`` orders exchangers and heat pumps in a cascade."""

    kind: Literal["plate_exchanger"]
    stage: Annotated[int, Field(ge=1, le=9)]
    rated_heat_kw: PositiveFloat
    design_approach_k: Annotated[float, Field(gt=0, le=20)] = 3.0


class HeatPump(_Equipment):
    """A heat pump with its rated point; ``stage`` orders it in a cascade."""

    kind: Literal["heat_pump"]
    stage: Annotated[int, Field(ge=1, le=9)]
    rated_heat_kw: PositiveFloat
    rated_cop: Annotated[float, Field(gt=1, le=12)]
    rated_source_out_temp_c: Annotated[float, Field(ge=-10, le=60)]
    rated_sink_out_temp_c: Annotated[float, Field(ge=20, le=95)]
    min_load_pct: Annotated[float, Field(ge=0, le=100)] = 25.0
    rated_evaporator_dt_k: Annotated[float, Field(ge=1, le=20)] = 5.0
    """Evaporator water cooling at the rated point; with the rating it sets the design flow."""
    rated_condenser_dt_k: Annotated[float, Field(ge=1, le=25)] = 5.0
    """Condenser water heating at the rated point (EN 14511's water rating: 5 K)."""
    compressor: Literal["screw", "scroll", "centrifugal"] = "screw"
    """Compressor type; screw and scroll are positive displacement for staging (G36)."""
    source_freezing_point_c: Annotated[float, Field(ge=-40, le=0)] = 0.0
    """Freezing point of the fluid through the evaporator: 0 °C for water; a ground loop
    carrying antifreeze states its own (3–5 K below the loop's lowest design water
    temperature, 004 L2370)."""
    max_evaporating_temp_c: Annotated[float, Field(ge=-30, le=60)] | None = None
    """Evaporating temperature at the expansion valve's maximum operating pressure (MOP), the top
    of the compressor's envelope: a warmer source still evaporates there. Default: the rated
    evaporating temperature plus 10 K (plant.models.heat_pump)."""

    @property
    def freeze_guard_c(self) -> float:
        """Lowest evaporator leaving-water temperature the unit allows (its freezing guard)."""
        return self.source_freezing_point_c + FREEZE_GUARD_K

    @property
    def design_condenser_flow_m3h(self) -> float:
        """Condenser water flow that carries the rated heat at the rated temperature rise."""
        return self.rated_heat_kw / (_WATER_KWH_PER_M3K * self.rated_condenser_dt_k)

    @property
    def design_evaporator_flow_m3h(self) -> float:
        """Evaporator water flow that gives up the rated source heat at the rated drop."""
        source_kw = self.rated_heat_kw * (1.0 - 1.0 / self.rated_cop)
        return source_kw / (_WATER_KWH_PER_M3K * self.rated_evaporator_dt_k)

    @model_validator(mode="after")
    def _sink_above_source(self) -> HeatPump:
        if self.rated_sink_out_temp_c <= self.rated_source_out_temp_c:
            raise ValueError("rated sink outlet temperature must be above the source outlet")
        # imported here: plant.models.heat_pump imports this module for HeatPump
        from plant.models.heat_pump import EVAPORATOR_APPROACH_K, carnot_fraction

        rated_evaporating = self.rated_source_out_temp_c - EVAPORATOR_APPROACH_K
        if (self.max_evaporating_temp_c is not None
                and self.max_evaporating_temp_c < rated_evaporating):
            raise _KeyValueError(
                "max_evaporating_temp_c",
                f"{self.max_evaporating_temp_c} °C is below the rated evaporating temperature "
                f"{rated_evaporating:g} °C (rated source leaving water less the "
                f"{EVAPORATOR_APPROACH_K:g} K approach): the unit could not reach its rating")

        try:
            carnot_fraction(self.rated_cop, self.rated_source_out_temp_c,
                            self.rated_sink_out_temp_c)
        except ValueError as exc:
            raise _KeyValueError("rated_cop", f"{exc}: no heat pump reaches it") from None
        return self


class Pump(_Equipment):
    """A pump, optionally on a variable-frequency drive."""

    kind: Literal["pump"]
    role: Literal["production", "reinjection", "source_circulation", "user_circulation",
                  "makeup", "booster"]
    serves: Ident | None = None
    rated_kw: PositiveFloat
    rated_flow_m3h: PositiveFloat
    rated_head_m: PositiveFloat
    vfd: bool = True
    min_speed_hz: Annotated[float, Field(ge=0, le=60)] = 20.0
    max_speed_hz: Annotated[float, Field(gt=0, le=60)] = 50.0


ValveRole = Literal["production", "reinjection", "exchanger", "network", "bypass",
                    "source_loop", "cooling_tower_changeover"]
"""What a valve does to the plant's flows (docs/site-guide.md, "Valves"):

* ``production``: on a production well's discharge (``serves`` the well) or on the production
  main (no ``serves``); closing it throttles that production, and with it the reinjection;
* ``reinjection``: the inlet of one reinjection well (``serves`` it, required); closing it sends
  the produced water to the other reinjection wells, as far as they can take it;
* ``exchanger``: the primary control valve of a plate exchanger (``serves`` it; without
  ``serves``, of every exchanger that heats the network directly); closing it sends the source
  water past the exchanger;
* ``network``: isolation of the user network's supply main; closing it stops the buildings'
  flow;
* ``bypass``: the differential-pressure bypass between the supply and return mains, normally
  closed; open, it passes the pump flow the buildings' valves refuse;
* ``source_loop``: isolation of a borehole loop (``serves`` a borehole or field, or all);
  closing it stops that loop's flow;
* ``cooling_tower_changeover``: sends the ground loop's flow to the cooling tower as it closes
  (``serves`` a borehole or field, or all); the tower itself is not simulated.
"""

VALVE_SERVES: dict[str, tuple[str, ...]] = {
    "production": ("production_well",),
    "reinjection": ("reinjection_well",),
    "exchanger": ("plate_exchanger",),
    "network": ("network",),
    "bypass": ("network",),
    "source_loop": ("coaxial_borehole", "borehole_field"),
    "cooling_tower_changeover": ("coaxial_borehole", "borehole_field"),
}
"""The equipment kinds a valve of each role may serve."""


class Valve(_Equipment):
    """A motorised valve; its typed ``role`` says which flows it governs."""

    kind: Literal["valve"]
    role: ValveRole
    serves: Ident | None = None

    @model_validator(mode="after")
    def _reinjection_names_its_well(self) -> Valve:
        if self.role == "reinjection" and self.serves is None:
            raise _KeyValueError("serves", "a reinjection valve must name the reinjection "
                                           "well it feeds")
        return self

    @property
    def normally_open(self) -> bool:
        """True for every role but the bypass, which is closed in normal operation."""
        return self.role != "bypass"


class Filter(_Equipment):
    """A strainer or filter, whose pressure drop tells when it needs backwashing."""

    kind: Literal["filter"]
    grade: Literal["coarse", "fine"]
    mesh_um: PositiveFloat
    clean_dp_kpa: PositiveFloat
    alarm_dp_kpa: PositiveFloat


class WaterTreatment(_Equipment):
    """Softening and make-up water treatment."""

    kind: Literal["water_treatment"]
    treatment: Literal["softener", "deaerator", "dosing", "sand_removal", "degassing"]


class HeatMeter(_Equipment):
    """A heat meter (flow, supply and return temperature, integrated heat)."""

    kind: Literal["heat_meter"]
    location: Literal["source", "user", "exchanger", "heat_pump", "substation"]
    serves: Ident | None = None


class ElectricityMeter(_Equipment):
    """An electricity meter over a set of equipment (empty scope means the whole station)."""

    kind: Literal["electricity_meter"]
    scope: tuple[Ident, ...] = ()


class Substation(_Equipment):
    """A user substation or building entry with its heated area."""

    kind: Literal["substation"]
    heated_area_m2: PositiveFloat


class Weather(_Equipment):
    """The station's outdoor weather sensors."""

    kind: Literal["weather"]


class Network(_Equipment):
    """The station's outgoing user network header (supply and return mains)."""

    kind: Literal["network"]


Equipment = Annotated[
    ProductionWell | ReinjectionWell | MonitoringWell | CoaxialBorehole | BoreholeField
    | GroundTempBorehole | PlateExchanger | HeatPump | Pump | Valve | Filter | WaterTreatment
    | HeatMeter | ElectricityMeter | Substation | Weather | Network,
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- operating modes

ModeKind = Literal["direct_supply", "heat_pump_supply", "cooling", "antifreeze_standby"]
"""What a mode does (docs/site-guide.md, "Operating modes"):

* ``direct_supply``: the source heats the network through the direct exchangers alone, no heat
  pump runs (the cases' start and end of the season, 003 L2567, L2625);
* ``heat_pump_supply``: the heat pumps in ``units`` run behind the direct exchangers, if any;
* ``cooling``: the heat pumps in ``units`` chill the network and reject into the ground loop;
* ``antifreeze_standby``: outside the schedule's occupied periods the plant stands by and only
  the units in ``units`` may run for the anti-freeze guard (003 L2497).
"""

HEATING_MODES: frozenset[str] = frozenset({"direct_supply", "heat_pump_supply",
                                           "antifreeze_standby"})
"""Modes that heat the network from the source."""


class OperatingMode(_Frozen):
    """A named line-up of the plant: the valves it opens and closes, the units that may run."""

    id: Ident
    kind: ModeKind
    name: str = ""
    open: tuple[Ident, ...] = ()
    """Valves opened in this mode (their position setpoint goes to 100 %)."""
    closed: tuple[Ident, ...] = ()
    """Valves closed in this mode (0 %)."""
    units: tuple[Ident, ...] = ()
    """Heat pumps the local logic may run in this mode; the others stay off."""


# --------------------------------------------------------------------------- points

RegisterType = Literal["bool", "int16", "uint16", "int32", "uint32", "float32"]
REGISTER_WORDS: dict[str, int] = {
    "bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
}


class ModbusBinding(_Frozen):
    """Where a point lives on a Modbus device; engineering value = raw * scale + offset."""

    protocol: Literal["modbus"]
    device: Ident
    table: Literal["coil", "discrete_input", "input_register", "holding_register"]
    address: Annotated[int, Field(ge=0, le=65535)]
    type: RegisterType = "float32"
    scale: float = 1.0
    offset: float = 0.0
    word_order: Literal["big", "little"] = "big"

    @model_validator(mode="before")
    @classmethod
    def _bits_default_to_bool(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" not in data and data.get("table") in (
            "coil", "discrete_input"
        ):
            return {**data, "type": "bool"}
        return data

    @property
    def is_bit(self) -> bool:
        """True for coils and discrete inputs."""
        return self.table in ("coil", "discrete_input")

    @property
    def width(self) -> int:
        """Number of registers (or bits) the point occupies."""
        return 1 if self.is_bit else REGISTER_WORDS[self.type]

    @model_validator(mode="after")
    def _consistent(self) -> ModbusBinding:
        if self.is_bit and self.type != "bool":
            raise ValueError(f"a {self.table} holds a single bit: type must be bool")
        if self.scale == 0:
            raise ValueError("scale must not be zero")
        if self.address + self.width > 65536:
            raise ValueError(f"address {self.address} + {self.width} registers passes 65535")
        return self


NODE_ID = re.compile(r"^ns=\d{1,5};(s=.+|i=\d+|g=[0-9a-fA-F-]{36}|b=[A-Za-z0-9+/=]+)$")


class OpcUaBinding(_Frozen):
    """Where a point lives on an OPC UA server."""

    protocol: Literal["opcua"]
    device: Ident
    node_id: str
    mode: Literal["subscribe", "poll"] = "subscribe"

    @field_validator("node_id")
    @classmethod
    def _node_id_syntax(cls, value: str) -> str:
        if not NODE_ID.match(value):
            raise ValueError(f"{value!r} is not an OPC UA NodeId such as 'ns=2;s=PW1.flow'")
        return value


Binding = Annotated[ModbusBinding | OpcUaBinding, Field(discriminator="protocol")]


class WriteLimits(_Frozen):
    """Bounds a command's value must respect; ``max_step`` bounds one change."""

    min: float
    max: float
    max_step: PositiveFloat | None = None

    @model_validator(mode="after")
    def _ordered(self) -> WriteLimits:
        if self.min >= self.max:
            raise ValueError(f"limits min {self.min} must be below max {self.max}")
        return self


class Point(_Frozen):
    """One measured or commanded value of a piece of equipment."""

    id: Annotated[str, Field(pattern=POINT_IDENT, max_length=96)]
    equipment: Ident
    measurand: Measurand
    unit: str
    dtype: Literal["float", "int", "bool"] = "float"
    range: tuple[float, float]
    depth_m: PositiveFloat | None = None
    binding: Binding
    deadband: NonNegativeFloat = 0.0
    poll_group: Ident = "fast"
    writable: bool = False
    limits: WriteLimits | None = None
    rollover: PositiveFloat | None = None
    """For a meter: the value after which its register wraps to 0."""
    reset_point: Annotated[str, Field(pattern=POINT_IDENT, max_length=96)] | None = None
    """For a meter: a point whose value changes whenever the meter is reset to 0."""
    description: str = ""

    @property
    def quantity(self) -> Quantity:
        """The physical quantity this point measures."""
        return QUANTITY[self.measurand]

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        quantity = QUANTITY[self.measurand]
        if self.unit not in UNITS:
            raise ValueError(f"unit {self.unit!r} is unknown (known: {', '.join(UNITS)})")
        if UNITS[self.unit][0] is not quantity:
            raise ValueError(
                f"unit {self.unit!r} is not a unit of {quantity} for measurand "
                f"{self.measurand} (expected one of: {', '.join(units_of(quantity))})"
            )
        if (quantity is Quantity.STATE) != (self.dtype == "bool"):
            raise ValueError(f"measurand {self.measurand} needs dtype "
                             f"{'bool' if quantity is Quantity.STATE else 'float or int'}")
        low, high = self.range
        if low >= high:
            raise ValueError(f"range low {low} must be below high {high}")
        if self.measurand in AT_DEPTH and self.depth_m is None:
            raise ValueError(f"measurand {self.measurand} needs depth_m")
        if self.measurand not in COUNTERS and (self.rollover or self.reset_point):
            raise ValueError(
                f"rollover and reset_point are for meters; measurand {self.measurand} is not "
                f"a counter (counters: {', '.join(sorted(COUNTERS))})"
            )
        if self.reset_point == self.id:
            raise ValueError("a meter cannot be its own reset_point")
        if self.writable:
            self._check_writable()
        elif self.limits is not None:
            raise ValueError("limits given on a point that is not writable")
        return self

    def write_refusal(self, value: float | int | bool, current: float | int | bool | None
                      ) -> tuple[str, str] | None:
        """Why this point may not take ``value`` from ``current`` as (code, detail): codes
        ``not_writable``, ``wrong_type``, ``out_of_limits``, ``step_too_large``; None if it may."""
        if not self.writable:
            return "not_writable", f"point {self.id} is not writable"
        if self.dtype == "bool":
            if not isinstance(value, bool):
                return "wrong_type", f"point {self.id} takes true or false"
            return None
        if isinstance(value, bool):
            return "wrong_type", f"point {self.id} takes a number, not a boolean"
        if self.dtype == "int" and float(value) != round(value):
            return "wrong_type", f"point {self.id} takes an integer"
        limits = self.limits
        assert limits is not None  # the schema requires limits on writable numeric points
        if not limits.min <= value <= limits.max:
            return "out_of_limits", f"{value} outside limits {limits.min}..{limits.max}"
        if limits.max_step is not None:
            if current is None or isinstance(current, bool):
                return ("step_too_large",
                        f"no current value to check max_step {limits.max_step} against")
            if abs(value - current) > limits.max_step:
                return ("step_too_large",
                        f"change {current} -> {value} exceeds max_step {limits.max_step}")
        return None

    def _check_writable(self) -> None:
        if self.measurand not in COMMANDS:
            raise ValueError(
                f"measurand {self.measurand} cannot be written (writable measurands: "
                f"{', '.join(sorted(COMMANDS))})"
            )
        if isinstance(self.binding, ModbusBinding) and self.binding.table in (
            "input_register", "discrete_input"
        ):
            raise ValueError(f"a writable point cannot live in a read-only {self.binding.table}")
        if self.dtype != "bool":
            if self.limits is None:
                raise ValueError("a writable point needs limits: {min, max}")
            low, high = self.range
            if self.limits.min < low or self.limits.max > high:
                raise ValueError(f"limits {self.limits.min}..{self.limits.max} "
                                 f"lie outside range {low}..{high}")


# --------------------------------------------------------------------------- site


class Site(_Frozen):
    """A whole station: identity, devices, equipment and points."""

    station: Station
    poll_groups: dict[Ident, Annotated[float, Field(ge=0.1, le=3600)]] = Field(
        default_factory=lambda: {"fast": 1.0, "slow": 10.0}
    )
    full_refresh_s: Annotated[float, Field(ge=1, le=86400)] = 300.0
    devices: tuple[Device, ...]
    equipment: tuple[Equipment, ...]
    points: tuple[Point, ...]
    modes: tuple[OperatingMode, ...] = ()
    """Named operating modes; without them the local logic runs every unit and leaves the
    valves where they are."""

    @model_validator(mode="after")
    def _references(self) -> Site:
        for error in _cross_check(self):
            raise error
        return self

    @cached_property
    def points_by_id(self) -> dict[str, Point]:
        """Points keyed by id."""
        return {p.id: p for p in self.points}

    def point(self, point_id: str) -> Point:
        """Return the point with this id; raise KeyError if none."""
        return self.points_by_id[point_id]

    def equipment_by_id(self, equipment_id: str) -> Equipment:
        """Return the equipment with this id; raise KeyError if none."""
        for item in self.equipment:
            if item.id == equipment_id:
                return item
        raise KeyError(equipment_id)

    def device(self, device_id: str) -> ModbusDevice | OpcUaDevice:
        """Return the device with this id; raise KeyError if none."""
        for item in self.devices:
            if item.id == device_id:
                return item
        raise KeyError(device_id)

    def points_of(self, equipment_id: str) -> tuple[Point, ...]:
        """Return the points of one piece of equipment, in file order."""
        return tuple(p for p in self.points if p.equipment == equipment_id)

    def points_on(self, device_id: str) -> tuple[Point, ...]:
        """Return the points bound to one device, in file order."""
        return tuple(p for p in self.points if p.binding.device == device_id)

class _KeyedError(ValueError):
    """A cross-reference error that knows the key path it belongs to."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _duplicates(
    section: str, ids: Iterable[str]
) -> Iterator[_KeyedError]:
    seen: set[str] = set()
    for index, ident in enumerate(ids):
        if ident in seen:
            yield _KeyedError((section, index, "id"), f"duplicate {section} id {ident!r}")
        seen.add(ident)


def _cross_check(site: Site) -> Iterator[_KeyedError]:
    yield from _duplicates("devices", (d.id for d in site.devices))
    yield from _duplicates("equipment", (e.id for e in site.equipment))
    yield from _duplicates("points", (p.id for p in site.points))
    devices = {d.id: d for d in site.devices}
    kinds = {e.id: e.kind for e in site.equipment}
    for index, item in enumerate(site.equipment):
        refs: list[tuple[str, str | None]] = []
        if isinstance(item, GroundTempBorehole):
            refs.append(("field", item.field))
        if isinstance(item, Pump | HeatMeter):
            refs.append(("serves", item.serves))
        if isinstance(item, Valve) and item.serves is not None:
            wanted = VALVE_SERVES[item.role]
            if kinds.get(item.serves, wanted[0]) not in wanted:
                yield _KeyedError(
                    ("equipment", index, "serves"),
                    f"a {item.role} valve serves a {' or '.join(wanted)}, "
                    f"not the {kinds[item.serves]} {item.serves!r}",
                )
            refs.append(("serves", item.serves))
        if isinstance(item, ElectricityMeter):
            refs.extend(("scope", ident) for ident in item.scope)
        for key, ref in refs:
            if ref is not None and ref not in kinds:
                yield _KeyedError(("equipment", index, key), f"unknown equipment {ref!r}")
    spans: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    node_ids: dict[tuple[str, str], str] = {}
    for index, point in enumerate(site.points):
        loc: tuple[str | int, ...] = ("points", index)
        if point.equipment not in kinds:
            yield _KeyedError((*loc, "equipment"), f"unknown equipment {point.equipment!r}")
            continue
        kind = kinds[point.equipment]
        if point.measurand not in ALLOWED[kind]:
            yield _KeyedError(
                (*loc, "measurand"),
                f"a {kind} has no measurand {point.measurand} "
                f"(allowed: {', '.join(sorted(ALLOWED[kind]))})",
            )
        if point.poll_group not in site.poll_groups:
            yield _KeyedError((*loc, "poll_group"), f"unknown poll group {point.poll_group!r}")
        if point.reset_point is not None and point.reset_point not in site.points_by_id:
            yield _KeyedError((*loc, "reset_point"), f"unknown point {point.reset_point!r}")
        binding = point.binding
        device = devices.get(binding.device)
        if device is None:
            yield _KeyedError((*loc, "binding", "device"), f"unknown device {binding.device!r}")
            continue
        if device.protocol != binding.protocol:
            yield _KeyedError(
                (*loc, "binding", "protocol"),
                f"device {device.id!r} speaks {device.protocol}, not {binding.protocol}",
            )
            continue
        if isinstance(binding, ModbusBinding):
            spans.setdefault((binding.device, binding.table), []).append(
                (binding.address, binding.address + binding.width - 1, index))
        else:
            node = (binding.device, binding.node_id)
            if node in node_ids:
                yield _KeyedError(
                    (*loc, "binding", "node_id"),
                    f"node {binding.node_id} is already bound to point {node_ids[node]!r}",
                )
            node_ids[node] = point.id
    yield from _overlaps(site.points, spans)
    yield from _mode_errors(site)


def _mode_errors(site: Site) -> Iterator[_KeyedError]:
    """Modes that name unknown or wrong equipment, or line up valves against their roles."""
    yield from _duplicates("modes", (m.id for m in site.modes))
    items = {e.id: e for e in site.equipment}
    hp_stages = {e.stage for e in site.equipment if isinstance(e, HeatPump)}
    direct = {e.id for e in site.equipment
              if isinstance(e, PlateExchanger) and e.stage not in hp_stages}
    kinds_seen: set[str] = set()
    for index, mode in enumerate(site.modes):
        loc: tuple[str | int, ...] = ("modes", index)
        if mode.kind in kinds_seen:
            yield _KeyedError((*loc, "kind"), f"a second {mode.kind} mode: one mode per kind")
        kinds_seen.add(mode.kind)
        if mode.kind == "direct_supply" and not direct:
            yield _KeyedError((*loc, "kind"), "a direct_supply mode needs a plate exchanger at a "
                                              "stage no heat pump shares")
        if mode.kind == "cooling" and site.station.kind == "hydrothermal":
            yield _KeyedError((*loc, "kind"), "a hydrothermal station does not cool")
        for key in ("open", "closed"):
            for j, ident in enumerate(getattr(mode, key)):
                item = items.get(ident)
                if item is None:
                    yield _KeyedError((*loc, key, j), f"unknown valve {ident!r}")
                elif not isinstance(item, Valve):
                    yield _KeyedError((*loc, key, j), f"{ident!r} is a {item.kind}, not a valve")
                elif key == "closed" and ident in mode.open:
                    yield _KeyedError((*loc, key, j), f"valve {ident!r} is both open and closed")
                elif key == "closed":
                    problem = _closing_contradicts(mode.kind, item, direct)
                    if problem is not None:
                        yield _KeyedError((*loc, key, j), f"a {mode.kind} mode cannot close "
                                                          f"{item.role} valve {ident!r}: {problem}")
        for j, ident in enumerate(mode.units):
            item = items.get(ident)
            if item is None:
                yield _KeyedError((*loc, "units", j), f"unknown heat pump {ident!r}")
            elif not isinstance(item, HeatPump):
                yield _KeyedError((*loc, "units", j),
                                  f"{ident!r} is a {item.kind}, not a heat pump")
            elif mode.kind == "direct_supply":
                yield _KeyedError((*loc, "units", j),
                                  f"a direct_supply mode runs no heat pump, not {ident!r}")
        if mode.kind in ("heat_pump_supply", "cooling") and not mode.units:
            yield _KeyedError((*loc, "units"), f"a {mode.kind} mode needs at least one heat pump")


def _closing_contradicts(kind: str, valve: Valve, direct: set[str]) -> str | None:
    """Why closing this valve defeats a mode of this kind, or None."""
    if valve.role == "network":
        return "it isolates the network the mode supplies"
    if kind in HEATING_MODES and valve.role == "cooling_tower_changeover":
        return "it sends the ground loop to the cooling tower"
    if valve.role == "production" and valve.serves is None:
        return "it stops the production the mode draws on"
    if valve.role == "source_loop" and valve.serves is None:
        return "it stops the ground loop the mode draws on"
    if kind == "direct_supply" and valve.role == "exchanger" and (
            valve.serves is None or valve.serves in direct):
        return "direct supply passes the direct exchangers"
    return None


def _overlaps(
    points: Sequence[Point], spans: dict[tuple[str, str], list[tuple[int, int, int]]]
) -> Iterator[_KeyedError]:
    """Register spans that overlap, each reported on the later point in file order.

    Sorted by start address, a span overlaps an earlier one exactly when it starts at or before
    the highest end seen so far: O(n log n) instead of comparing every pair.
    """
    found: list[tuple[int, int]] = []
    for area in spans.values():
        area.sort()
        reach: tuple[int, int, int] | None = None
        for span in area:
            if reach is not None and span[0] <= reach[1]:
                found.append((max(span[2], reach[2]), min(span[2], reach[2])))
            if reach is None or span[1] > reach[1]:
                reach = span
    for later, earlier in sorted(found):
        binding, other = points[later].binding, points[earlier].binding
        assert isinstance(binding, ModbusBinding) and isinstance(other, ModbusBinding)
        yield _KeyedError(
            ("points", later, "binding", "address"),
            f"{binding.table} {binding.address}..{binding.address + binding.width - 1} on device "
            f"{binding.device!r} overlaps point {points[earlier].id!r} at "
            f"{other.address}..{other.address + other.width - 1}",
        )


# --------------------------------------------------------------------------- loading


def _line_of(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """Follow a key path through the YAML node tree; return the 1-based line it reaches."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next((kv for kv in node.value if getattr(kv[0], "value", None) == key), None)
            if pair is None:
                break
            line = pair[0].start_mark.line + 1
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _key_path(loc: Sequence[str | int], data: Any) -> tuple[str, tuple[str | int, ...]]:
    """Render a pydantic location as ``points[3](PW1.flow).unit``, dropping union tags."""
    parts: list[str] = []
    clean: list[str | int] = []
    node = data
    for key in loc:
        if isinstance(node, dict) and key in (node.get("kind"), node.get("protocol")):
            # a discriminated-union tag (equipment kind, binding protocol): not a real key
            continue
        clean.append(key)
        if isinstance(key, int):
            label = f"[{key}]"
            child = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(child, dict) and isinstance(child.get("id"), str):
                label += f"({child['id']})"
            parts.append(label)
            node = child
        else:
            parts.append(("." if parts else "") + key)
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)", tuple(clean)


# libyaml's safe loader when PyYAML was built with it: pure-Python parsing dominates load time.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a site file is parsed and validated.

    A site file becomes hundreds of thousands of small objects that all stay alive; the collector
    would rescan them again and again (it tripled the time to load 16 k points).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class _ScalarTags:
    """Memoised implicit tags of plain scalars, and no path resolvers (the safe loader has none).

    A site file repeats the same few hundred scalars (units, tables, types, device ids) tens of
    thousands of times; resolving each through the regular expressions again dominated parsing.
    """

    _tags: dict[tuple[str, tuple[bool, bool]], str]

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """Path resolvers are not used by the safe loader."""

    def ascend_resolver(self) -> None:
        """Path resolvers are not used by the safe loader."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        """The tag of a node, from the memo for plain scalars."""
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)  # type: ignore[misc, no-any-return]
        try:
            tags = self._tags
        except AttributeError:
            tags = self._tags = {}
        key = (value, implicit)
        tag = tags.get(key)
        if tag is None:
            tag = tags[key] = super().resolve(kind, value, implicit)  # type: ignore[misc]
        return tag


def _parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once into YAML nodes (for error lines) and build the data from those same nodes."""
    loader = type("_SiteLoader", (_ScalarTags, _LOADER), {})(text)
    try:
        root = loader.get_single_node()
        return root, None if root is None else _Builder(loader).build(root)
    finally:
        loader.dispose()


_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{name}" for name in ("str", "seq", "map"))
_SPECIAL_KEYS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})
_BUILDING = object()


class _Builder:
    """Builds plain strings, lists and dicts straight from the nodes; the rest goes to the loader.

    PyYAML's generic constructor spends most of a large site file's load on bookkeeping for
    strings, lists and dicts; anything else (numbers, booleans, null, merge keys, explicit
    tags, unhashable keys) is left to the loader itself, so the result and the errors are the
    same as ``yaml.safe_load``'s.
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.built: dict[int, Any] = {}

    def build(self, node: yaml.Node) -> Any:
        """The Python value of one node (an alias yields the same object, as in PyYAML)."""
        tag, value = node.tag, node.value
        if tag == _STR and isinstance(node, yaml.ScalarNode):
            return value
        done = self.built.get(id(node), None)
        if done is _BUILDING:
            raise yaml.constructor.ConstructorError(
                None, None, "found a recursive alias", node.start_mark)
        if done is not None:
            return done
        self.built[id(node)] = _BUILDING
        result: Any
        if tag == _SEQ and isinstance(node, yaml.SequenceNode):
            result = [self.build(item) for item in value]
        elif tag == _MAP and isinstance(node, yaml.MappingNode) and not any(
            key.tag in _SPECIAL_KEYS for key, _ in value
        ):
            result = {}
            for key_node, value_node in value:
                key = self.build(key_node)
                try:
                    result[key] = self.build(value_node)
                except TypeError:
                    # an unhashable key: let the loader raise its own error
                    result = self.loader.construct_object(node, deep=True)
                    break
        else:
            result = self.loader.construct_object(node, deep=True)
        self.built[id(node)] = result
        return result


def parse_site(text: str, source: str = "<site>") -> Site:
    """Parse and validate a site file's text; raise SiteFileError with one clear line."""
    with _collector_paused():
        return _parse_site(text, source)


def _parse_site(text: str, source: str) -> Site:
    try:
        root, data = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SiteFileError(f"{source}{where}: (YAML): {problem}") from None
    if not isinstance(data, dict):
        raise SiteFileError(f"{source}: (top level): a site file must be a mapping of sections")
    try:
        return Site.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc: tuple[str | int, ...] = tuple(first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        inner = first.get("ctx", {}).get("error")
        if isinstance(inner, _KeyedError):
            loc, message = inner.loc, str(inner)
        elif isinstance(inner, _KeyValueError):
            loc, message = (*loc, inner.key), str(inner)
        if first["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        elif first["type"] == "missing":
            message = f"missing key {loc[-1]!r}"
        elif first["type"] == "union_tag_invalid":
            tag = first["ctx"]["discriminator"].strip("'")
            loc = (*loc, tag)
            message = f"unknown {tag} {first['ctx']['tag']!r} (expected one of: " \
                      f"{first['ctx']['expected_tags']})"
        path, clean = _key_path(loc, data)
        line = _line_of(root, clean)
        where = f":{line}" if line is not None else ""
        raise SiteFileError(f"{source}{where}: {path}: {message}") from None


def load_site(path: str | Path) -> Site:
    """Read and validate one site file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteFileError(f"{path}: cannot read: {exc}") from None
    return parse_site(text, str(path))
