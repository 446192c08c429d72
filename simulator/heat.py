"""Heat: the thermal solution of one step, from the source stream to the buildings.

The source stream (geothermal water from the production wells, or the closed loop through the
boreholes) passes the stages in ``stage`` order. A plate exchanger whose stage no heat pump
shares is a *direct* exchanger: it heats the network's return water, never above the supply
target (its primary bypass opens). An exchanger sharing a stage with heat pumps isolates their
evaporators from the source water; it costs them its approach. Heat pumps sit in parallel on the
network after the direct exchangers, each taking a share of the flow in proportion to its rating
and heating it to its setpoint within its capacity; their COP comes from
:mod:`plant.models.heat_pump` at the current evaporator and condenser outlet temperatures and
load. The evaporators take the heat from the source stream, so

    source heat + compressor electricity = heat into the network + station pipe loss

holds exactly in every step (:class:`simulator.meters.EnergyBalance`). Pump work is not added to
the water (it is under 1 % of the heat). Borehole outlets come from :mod:`plant.models.borehole`,
stepped with the heat actually extracted. In the cooling season the heat pumps chill the network
and reject their heat into the borehole loop.

The flows come from :mod:`simulator.hydraulics`, solved before; which units run is the local
logic's choice (:mod:`simulator.local_control`), made before and after.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol

from plant.heating import (
    BUILDING_TIME_CONSTANT_S,
    EMITTER_EXPONENT,
    HEAT_PUMP_RAMP_PER_S,
    HEAT_PUMP_START_S,
)
from plant.models.borehole import borehole_outlet_temp_c, step_ground
from plant.site import HeatPump
from simulator.build import CHILLED_DESIGN_DT_K, CHILLED_SUPPLY_C, Plant
from simulator.equipment import (
    HeatPumpState,
    capacity_rate_kw_per_k,
    counterflow_effectiveness,
    lag,
    pressure_mpa,
)
from simulator.hydraulics import NETWORK_STATIC_MPA, exchanger_ratio

if TYPE_CHECKING:
    from simulator.station import StationModel

class PlantSolver(Protocol):
    """The plant solved on one source stream: (supply °C, source kW, electricity kW)."""

    def __call__(self, t_src: float, src_flow: float, t_return: float, c_user: float, *,
                 target: float) -> tuple[float, float, float]:
        """Solve the plant on this source stream for this network return and target."""

PLANT_ROOM_TEMP_C = 20.0
STATION_LOSS_FRACTION = 0.01
"""Station pipework heat loss at design supply temperature, as a fraction of design load."""
MAX_CONDENSER_LIFT_K = 10.0
"""How far above its rated sink temperature a heat pump can heat."""
COOLING_INDOOR_C = 26.0
"""Indoor temperature cooling holds (GB 50736 comfort, summer)."""
FAN_COIL_DESIGN_EXCESS_K = COOLING_INDOOR_C - (CHILLED_SUPPLY_C + CHILLED_DESIGN_DT_K / 2.0)
MIN_CHILLED_C = 4.0
MAX_CONDENSER_OUT_C = 45.0
"""Highest condenser leaving-water temperature when rejecting heat to the source loop."""
THERMOSTAT_TIME_CONSTANT_S = 3600.0
"""How fast room thermostats pull an over-warm room back to the cooling setpoint."""
FAN_COIL_STANDBY = 0.02
"""Share of their full exchange fan coils keep when their thermostats are satisfied."""
EXCHANGER_DESIGN_DP_KPA = 50.0


def freeze_guard_c(spec: HeatPump) -> float:
    """Lowest evaporator leaving-water temperature the unit allows (freeze protection)."""
    return spec.freeze_guard_c


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


def load_heat_pumps(plant: Plant, dt_s: float) -> None:
    """Start-up timing, run hours and loading of the heat pumps after the run decisions."""
    for hp in plant.heat_pumps.values():
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


def zone_returns(model: StationModel, dt_s: float) -> float:
    """Return temperature of each zone's emitters at the last supply; the mixed return."""
    flow_total = 0.0
    weighted = 0.0
    station = model.site.station
    design_mean = 0.5 * (station.design_supply_temp_c + station.design_return_temp_c)
    for zone in model.zones.values():
        supply = model.station_supply_c
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
    return weighted / flow_total if flow_total > 0 else model.return_c


def heat_step(model: StationModel, dt_s: float) -> None:
    """Solve one step's heat: buildings' returns, plant, supply, losses and energy balance."""
    if model.cooling_on:
        cooling_step(model, dt_s)
        return
    mixed_return = model.network_return_c = zone_returns(model, dt_s)
    user_flow = model.plant_flow_m3h
    if model.bypass_flow_m3h > 0:
        mixed_return = (model.network_flow_m3h * mixed_return
                        + model.bypass_flow_m3h * model.station_supply_c) / user_flow
    target = model.supply_target_c
    c_user = capacity_rate_kw_per_k(user_flow, mixed_return)
    if model.wells:
        flow = model.source_flow_m3h
        t_in = (sum(w.flow_m3h * w.wellhead_temp_c for w in model.wells.values()) / flow
                if flow > 0 else model.source_in_c)
        result = plant_heat(model, t_in, flow, mixed_return, c_user, target=target)
    else:
        result = loop_plant(model, mixed_return, c_user, target=target, dt_s=dt_s)
    t_plant, source_kw, compressor_kw = result
    model.plant_supply_c = t_plant
    model.plant_output_kw = c_user * (t_plant - mixed_return) if user_flow > 0 else 0.0
    station = model.site.station
    if user_flow > 0:
        excess = max(t_plant - PLANT_ROOM_TEMP_C, 0.0)
        model.loss_kw = (STATION_LOSS_FRACTION * station.design_heat_load_kw * excess
                        / (station.design_supply_temp_c - PLANT_ROOM_TEMP_C))
        model.loss_kw = min(model.loss_kw, max(model.plant_output_kw, 0.0))
        model.station_supply_c = t_plant - model.loss_kw / c_user
    else:
        model.loss_kw = 0.0
    model.delivered_kw = model.plant_output_kw - model.loss_kw
    model.return_c = mixed_return
    model.source_kw = source_kw
    # buildings
    for zone in model.zones.values():
        zone.supply_c = model.station_supply_c
        share = zone.flow_m3h / user_flow if user_flow > 0 else 0.0
        # returns were solved on the last supply: one now above it delivers nothing
        zone.heat_kw = max(c_user * share * (model.station_supply_c - zone.return_c), 0.0)
        zone.heat_kwh += zone.heat_kw * dt_s / 3600.0
        conductance = zone.design_load_kw / (station.indoor_design_temp_c
                                             - station.climate.design_outdoor_temp_c)
        equilibrium = model.weather.temp_c + zone.heat_kw / conductance
        zone.indoor_temp_c = lag(zone.indoor_temp_c, equilibrium, BUILDING_TIME_CONSTANT_S,
                                 dt_s)
        dp = pressure_mpa(model.network_head_m)
        zone.return_pressure_mpa = NETWORK_STATIC_MPA
        zone.supply_pressure_mpa = NETWORK_STATIC_MPA + 0.6 * dp
    hours = dt_s / 3600.0
    b = model.balance
    b.source_kwh += source_kw * hours
    b.compressor_kwh += compressor_kw * hours
    b.plant_output_kwh += model.plant_output_kw * hours
    b.delivered_kwh += model.delivered_kw * hours
    b.loss_kwh += (model.loss_kw + model.start_loss_kw) * hours


def cooling_step(model: StationModel, dt_s: float) -> None:
    """Summer: heat pumps chill the network and reject the heat into the borehole loop."""
    model.start_loss_kw = 0.0  # start-up losses are counted in heating only
    station = model.site.station
    user_flow = model.plant_flow_m3h
    flow_total = weighted = 0.0
    for zone in model.zones.values():
        if zone.flow_m3h <= 0.0:
            zone.return_c = lag(zone.return_c, zone.indoor_temp_c, 3600.0, dt_s)
            continue
        # fan coils: output proportional to indoor air minus mean water temperature
        supply = model.station_supply_c
        capacity = capacity_rate_kw_per_k(zone.flow_m3h, supply)
        design = model.cooling_design_kw * zone.area_m2 / station.heated_area_m2
        k = design / FAN_COIL_DESIGN_EXCESS_K
        full = (k * zone.indoor_temp_c + supply * (capacity - k / 2.0)) / (capacity + k / 2.0)
        # room thermostats throttle the fan coils to what holds the cooling setpoint
        conductance = design / max(
            station.climate.design_cooling_outdoor_temp_c - COOLING_INDOOR_C, 1.0)
        hold = max(0.0, conductance * (model.weather.temp_c - COOLING_INDOOR_C)
                   + conductance * (zone.indoor_temp_c - COOLING_INDOOR_C)
                   * BUILDING_TIME_CONSTANT_S / THERMOSTAT_TIME_CONSTANT_S)
        wanted = supply + hold / capacity
        standby = supply + FAN_COIL_STANDBY * (full - supply)
        zone.return_c = max(min(full, wanted), standby)
        flow_total += zone.flow_m3h
        weighted += zone.flow_m3h * zone.return_c
    if flow_total > 0:
        model.network_return_c = weighted / flow_total
    flow_total += model.bypass_flow_m3h
    weighted += model.bypass_flow_m3h * model.station_supply_c
    mixed_return = weighted / flow_total if flow_total > 0 else model.return_c
    c_user = capacity_rate_kw_per_k(user_flow, mixed_return)
    t_plant, source_kw, compressor_kw = loop_plant(
        model, mixed_return, c_user, target=model.supply_target_c, dt_s=dt_s,
        plant=partial(chiller, model))
    model.plant_supply_c = model.station_supply_c = t_plant
    model.plant_output_kw = c_user * (t_plant - mixed_return) if user_flow > 0 else 0.0
    model.loss_kw = 0.0
    model.delivered_kw = model.plant_output_kw
    model.return_c = mixed_return
    model.source_kw = source_kw
    conductance = model.cooling_design_kw / max(
        station.climate.design_cooling_outdoor_temp_c - COOLING_INDOOR_C, 1.0)
    for zone in model.zones.values():
        zone.supply_c = t_plant
        share = zone.flow_m3h / user_flow if user_flow > 0 else 0.0
        zone.heat_kw = c_user * share * (t_plant - zone.return_c)
        zone_conductance = conductance * zone.area_m2 / station.heated_area_m2
        equilibrium = model.weather.temp_c + zone.heat_kw / zone_conductance
        zone.indoor_temp_c = lag(zone.indoor_temp_c, equilibrium, BUILDING_TIME_CONSTANT_S,
                                 dt_s)
    hours = dt_s / 3600.0
    b = model.balance
    b.source_kwh += source_kw * hours
    b.compressor_kwh += compressor_kw * hours
    b.plant_output_kwh += model.plant_output_kw * hours
    b.delivered_kwh += model.delivered_kw * hours


def chiller(model: StationModel, t_src: float, src_flow: float, t_return: float, c_user: float,
            *, target: float) -> tuple[float, float, float]:
    """Heat pumps in cooling: (chilled supply °C, source kW (< 0: rejected), power kW)."""
    model.source_in_c = t_src
    c_src = capacity_rate_kw_per_k(src_flow, t_src)
    running = [h for h in model.plant.hp_order if h.running]
    for hp in model.heat_pumps.values():
        if not hp.running or c_user <= 0:
            hp.heat_kw = hp.evaporator_kw = hp.power_kw = hp.cop = 0.0
            hp.condenser_flow_m3h = hp.evaporator_flow_m3h = 0.0
            hp.evaporator_in_c = hp.evaporator_out_c = t_return
    model.heat_pump_inlet_c = t_return
    if not running or c_user <= 0:
        model.source_out_c = t_src
        return t_return, 0.0, 0.0
    rated_running = sum(h.spec.rated_heat_kw for h in running)
    user_flow = model.plant_flow_m3h
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
    model.source_out_c = t_src
    supply = t_return - sum(h.heat_kw for h in running) / c_user
    return supply, -rejected_total, compressor


def direct_stage(model: StationModel, stage: int, source: tuple[float, float, float],
                  user: tuple[float, float, float], target: float) -> tuple[
                      float, float, float]:
    """Heat a direct exchanger stage moves; returns (heat, source out, user out)."""
    t_src, c_src, src_flow = source
    t_user, c_user, user_flow = user
    group = [x for x in model.exchangers.values()
             if x.spec.stage == stage and not x.serves_heat_pumps]
    if not group:
        return 0.0, t_src, t_user
    heat = 0.0
    ua_total = sum(x.ua_kw_per_k for x in group)
    opening = sum(x.ua_kw_per_k * exchanger_ratio(model.plant, x, direct=True)
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
        design_flow = max(model.user_group.required_m3h * share, 1e-6)
        x.dp_kpa = EXCHANGER_DESIGN_DP_KPA * (x.secondary_flow_m3h / design_flow) ** 2
    return heat, t_src_out, t_user_out


def plant_heat(model: StationModel, t_src: float, src_flow: float, t_return: float,
               c_user: float, *, target: float) -> tuple[float, float, float]:
    """Solve exchangers and heat pumps on a source stream: (supply °C, source kW, power kW)."""
    model.source_in_c = t_src
    c_src = capacity_rate_kw_per_k(src_flow, t_src)
    user_flow = model.plant_flow_m3h
    t_user = t_return
    source_kw = 0.0
    hp_stages = {h.spec.stage for h in model.heat_pumps.values()}
    for stage in model.plant.stage_order:
        if stage in hp_stages:
            continue
        heat, t_src, t_user = direct_stage(model, stage, (t_src, c_src, src_flow),
                                                 (t_user, c_user, user_flow), target)
        source_kw += heat
    model.heat_pump_inlet_c = t_user
    running = [h for h in model.plant.hp_order if h.running]
    for hp in model.heat_pumps.values():
        if not hp.running or c_user <= 0:
            hp.heat_kw = hp.evaporator_kw = hp.power_kw = hp.cop = 0.0
            hp.condenser_flow_m3h = hp.evaporator_flow_m3h = 0.0
            hp.condenser_in_c = hp.condenser_out_c = t_user
    # a unit that has just started draws its minimum-load power while its refrigerant
    # circuit settles, and gives the water nothing yet: the start's cost goes to the room
    model.start_loss_kw = 0.0
    model.starting_units = [h for h in running if h.starting_s > 0.0] if c_user > 0 else []
    if c_user > 0:
        for hp in running:
            if hp.starting_s > 0.0:
                hp.heat_kw = hp.evaporator_kw = hp.cop = 0.0
                hp.power_kw = (hp.spec.min_load_pct / 100.0 * hp.spec.rated_heat_kw
                               / hp.spec.rated_cop)
                hp.condenser_flow_m3h = hp.evaporator_flow_m3h = 0.0
                hp.condenser_in_c = hp.condenser_out_c = t_user
                model.start_loss_kw += hp.power_kw
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
        stages = {h.spec.stage for h in running} | {h.spec.stage for h in model.starting_units}
        for x in model.exchangers.values():
            if x.serves_heat_pumps and x.spec.stage not in stages:
                x.heat_kw = x.primary_flow_m3h = x.secondary_flow_m3h = x.dp_kpa = 0.0
        for stage in sorted({h.spec.stage for h in running}):
            units = [h for h in running if h.spec.stage == stage]
            t_src = evaporator_stage(model, stage, units, t_src, c_src=c_src, src_flow=src_flow)
        for hp in running:
            source_kw += hp.evaporator_kw
            compressor_kw += hp.power_kw
        supply = t_user + sum(h.heat_kw for h in running) / c_user
    model.source_out_c = t_src
    return supply, source_kw, compressor_kw + model.start_loss_kw


def evaporator_stage(model: StationModel, stage: int, units: list[HeatPumpState], t_src: float,
                     *, c_src: float, src_flow: float) -> float:
    """Take the evaporator heat of one stage's heat pumps from the source stream.

    Behind an isolating exchanger the stage's loop pumps share their flow among the running
    evaporators by design flow (the pumps slow down when units stop). Fed directly, each
    running evaporator takes at most its design flow and the rest of the stream passes the
    units in the header's bypass, rejoining after them.
    """
    isolating = [x for x in model.exchangers.values()
                 if x.spec.stage == stage and x.serves_heat_pumps]
    hx_rated = sum(x.spec.rated_heat_kw for x in isolating)
    opening = (sum(x.spec.rated_heat_kw * exchanger_ratio(model.plant, x, direct=False)
                   for x in isolating) / hx_rated) if hx_rated else 1.0
    approach_k = max((x.spec.design_approach_k for x in isolating), default=0.0)
    loop_flow = sum(u.flow_m3h for x in isolating for u in x.loop_pumps)
    # a unit still starting up has its evaporator open: it takes its share of the flow
    sharing = units + [h for h in model.starting_units if h.spec.stage == stage]
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
                    throttle(hp, allowed / hp.evaporator_kw)
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
                    throttle(hp, scale)
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
        x.primary_flow_m3h = src_flow * share * exchanger_ratio(model.plant, x, direct=False)
        x.secondary_flow_m3h = evap_flow_total * share
        x.dp_kpa = EXCHANGER_DESIGN_DP_KPA * min(1.5, x.heat_kw / x.spec.rated_heat_kw) ** 2
    return t_out


def throttle(hp: HeatPumpState, scale: float) -> None:
    """Scale a unit's heat (and so its condenser rise and evaporator heat) down."""
    hp.heat_kw *= scale
    hp.condenser_out_c = hp.condenser_in_c + (hp.condenser_out_c - hp.condenser_in_c) * scale
    hp.evaporator_kw *= scale


def loop_plant(model: StationModel, t_return: float, c_user: float, *, target: float,
               dt_s: float, plant: PlantSolver | None = None) -> tuple[float, float, float]:
    """Solve a closed borehole loop together with the plant it feeds (or is cooled by)."""
    plant = plant or partial(plant_heat, model)
    loop_flow = sum(b.flow_m3h for b in model.boreholes.values())
    # a borehole whose valve is shut stands still while the others carry the loop
    for bh in model.boreholes.values():
        if not bh.flow_m3h > 0.0:
            bh.heat_kw = 0.0
            bh.ground = step_ground(bh.spec, bh.ground, 0.0, dt_s)
            bh.outlet_temp_c = lag(bh.outlet_temp_c, bh.inlet_temp_c, 3600.0, dt_s)
    if loop_flow <= 0.0:
        return plant(model.source_in_c, 0.0, t_return, c_user, target=target)
    flowing = [b for b in model.boreholes.values() if b.flow_m3h > 0.0]
    inlet_guess = model.source_out_c
    offset = gain = 0.0
    for bh in flowing:
        weight = bh.flow_m3h / loop_flow
        low = borehole_outlet_temp_c(bh.spec, bh.ground, inlet_guess, bh.flow_m3h)
        high = borehole_outlet_temp_c(bh.spec, bh.ground, inlet_guess + 1.0, bh.flow_m3h)
        gain += weight * (high - low)
        offset += weight * (low - (high - low) * inlet_guess)
    outlet = offset + gain * inlet_guess
    result = (model.plant_supply_c, 0.0, 0.0)
    for _ in range(3):
        result = plant(outlet, loop_flow, t_return, c_user, target=target)
        c_src = capacity_rate_kw_per_k(loop_flow, outlet)
        extracted = result[1]
        outlet = (offset - gain * extracted / c_src) / (1.0 - gain)
    outlet = model.source_in_c
    inlet = model.source_out_c
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
