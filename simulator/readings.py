"""What every measurand of every kind of equipment reads in the station model.

:func:`reader` returns a function giving the true value of one measurand of one piece of
equipment, in the first unit of its quantity (°C, m³/h, MPa, m, kW, kWh, m³, %, Hz, A, h, mg/L);
:mod:`simulator.points` converts it to the point's unit and adds noise and faults.
"""

from __future__ import annotations

from collections.abc import Callable

from plant.measurands import Measurand
from plant.site import (
    BoreholeField,
    CoaxialBorehole,
    ElectricityMeter,
    Filter,
    GroundTempBorehole,
    HeatMeter,
    HeatPump,
    MonitoringWell,
    Network,
    PlateExchanger,
    ProductionWell,
    Pump,
    ReinjectionWell,
    Substation,
    Valve,
    WaterTreatment,
    Weather,
)
from simulator.equipment import SURFACE_ROCK_TEMP_C, PumpUnit, electric_current_a, pressure_mpa
from simulator.station import LOOP_STATIC_MPA, NETWORK_STATIC_MPA, StationModel, Value

M = Measurand
Reader = Callable[[], Value]

TREATED_WATER_TDS_MG_L = 300.0
GEOTHERMAL_WATER_TDS_MG_L = 1500.0
"""Dissolved solids: no site file gives them, so fixed plausible values are served."""
POSITION_FACTORS = {"centre": 1.0, "edge": 0.6, "outside": 0.15}
"""Share of a field's mean wall cooling a ground-temperature borehole sees, by position."""
SHALLOW_GRADIENT_K_PER_M = 0.03


def reader(model: StationModel, equipment_id: str, measurand: Measurand,
           depth_m: float | None = None) -> Reader:
    """A function returning the true value of one measurand of one piece of equipment.

    Raise KeyError when the model has no such value.
    """
    item = model.site.equipment_by_id(equipment_id)
    build = _READERS.get(type(item))
    if build is None:
        raise KeyError(f"no readings for a {item.kind}")
    found = build(model, equipment_id, measurand, depth_m)
    if found is None:
        raise KeyError(f"the simulator has no {measurand} for a {item.kind}")
    return found


def _pump_reader(unit: Callable[[], PumpUnit], measurand: Measurand) -> Reader | None:
    table: dict[Measurand, Reader] = {
        M.RUN_STATE: lambda: unit().speed_hz > 0.0,
        M.RUN_COMMAND: lambda: unit().run_command,
        M.REMOTE_MODE: lambda: unit().remote_run or unit().remote_speed,
        M.FAULT: lambda: unit().failed,
        M.SPEED: lambda: unit().speed_hz,
        M.SPEED_SETPOINT: lambda: unit().speed_setpoint_hz,
        M.ELECTRIC_POWER: lambda: unit().power_kw,
        M.ELECTRIC_ENERGY: lambda: unit().energy_kwh,
        M.CURRENT: lambda: electric_current_a(unit().power_kw),
        M.RUN_HOURS: lambda: unit().run_hours,
        M.FLOW: lambda: unit().flow_m3h,
        M.DIFFERENTIAL_PRESSURE: lambda: pressure_mpa(unit().head_m),
    }
    return table.get(measurand)


def _geotherm_c(model: StationModel, depth_m: float) -> float:
    wells = list(model.wells.values())
    if not wells:
        return SURFACE_ROCK_TEMP_C + SHALLOW_GRADIENT_K_PER_M * depth_m
    gradient = sum((w.spec.reservoir_temp_c - SURFACE_ROCK_TEMP_C) / w.spec.depth_m
                   for w in wells) / len(wells)
    return SURFACE_ROCK_TEMP_C + gradient * depth_m


def _production_well(model: StationModel, ident: str, m: Measurand,
                     depth: float | None) -> Reader | None:
    well = model.wells[ident]
    if m is M.TEMP_AT_DEPTH:
        z = (depth or 0.0) / well.spec.depth_m

        def profile() -> float:
            if well.flow_m3h > 0:
                return well.wellhead_temp_c + (well.spec.reservoir_temp_c
                                               - well.wellhead_temp_c) * min(z, 1.0)
            return _geotherm_c(model, depth or 0.0)
        return profile
    table: dict[Measurand, Reader] = {
        M.WELLHEAD_TEMP: lambda: well.wellhead_temp_c,
        M.FLOW: lambda: well.flow_m3h,
        M.WELLHEAD_PRESSURE: lambda: well.wellhead_pressure_mpa,
        M.WATER_LEVEL: lambda: well.level_m,
        M.VOLUME: lambda: well.volume_m3,
        M.TDS: lambda: GEOTHERMAL_WATER_TDS_MG_L,
    }
    return table.get(m) or _pump_reader(lambda: well.pump, m)


def _reinjection_well(model: StationModel, ident: str, m: Measurand,
                      depth: float | None) -> Reader | None:
    well = model.reinjection[ident]
    if m is M.TEMP_AT_DEPTH:
        def profile() -> float:
            rock = _geotherm_c(model, depth or 0.0)
            if well.flow_m3h > 0:
                return well.injection_temp_c + 0.1 * (rock - well.injection_temp_c)
            return rock
        return profile
    table: dict[Measurand, Reader] = {
        M.INJECTION_TEMP: lambda: well.injection_temp_c,
        M.FLOW: lambda: well.flow_m3h,
        M.WELLHEAD_PRESSURE: lambda: well.wellhead_pressure_mpa,
        M.WATER_LEVEL: lambda: well.level_m,
        M.VOLUME: lambda: well.volume_m3,
    }
    return table.get(m) or _pump_reader(lambda: well.pump, m)


def _monitoring_well(model: StationModel, ident: str, m: Measurand,
                     depth: float | None) -> Reader | None:
    if m is M.TEMP_AT_DEPTH:
        return lambda: _geotherm_c(model, depth or 0.0)
    if m is M.WATER_LEVEL:
        def level() -> float:
            wells = list(model.wells.values())
            if not wells:
                return 10.0
            static = sum(w.spec.static_level_m for w in wells) / len(wells)
            interference = sum(0.1 * w.flow_m3h / w.spec.specific_capacity_m3h_per_m
                               for w in wells)
            return static + interference
        return level
    return None


def _borehole(model: StationModel, ident: str, m: Measurand,
              depth: float | None) -> Reader | None:
    bh = model.boreholes[ident]
    if m is M.TEMP_AT_DEPTH:
        z = min(depth or 0.0, bh.spec.depth_m)
        return lambda: bh.depth_temp_c(z)
    table: dict[Measurand, Reader] = {
        M.INLET_TEMP: lambda: bh.inlet_temp_c,
        M.OUTLET_TEMP: lambda: bh.outlet_temp_c,
        M.FLOW: lambda: bh.flow_m3h,
        M.PRESSURE: lambda: LOOP_STATIC_MPA + pressure_mpa(model.loop_head_m),
        M.DIFFERENTIAL_PRESSURE: lambda: pressure_mpa(model.loop_head_m),
        M.HEAT_POWER: lambda: bh.heat_kw,
        M.HEAT_ENERGY: lambda: bh.heat_kwh,
        M.HEAT_REJECTED_ENERGY: lambda: bh.rejected_kwh,
    }
    return table.get(m)


def _ground_temp(model: StationModel, ident: str, m: Measurand,
                 depth: float | None) -> Reader | None:
    item = model.site.equipment_by_id(ident)
    if m is not M.GROUND_TEMP or not isinstance(item, GroundTempBorehole):
        return None
    field_state = model.boreholes.get(item.field)
    factor = POSITION_FACTORS[item.position]
    z = depth or 0.0

    def ground() -> float:
        if field_state is None or not isinstance(field_state.spec, BoreholeField):
            return SURFACE_ROCK_TEMP_C + SHALLOW_GRADIENT_K_PER_M * z
        base = (field_state.spec.undisturbed_ground_temp_c
                + SHALLOW_GRADIENT_K_PER_M * (z - 50.0))
        return base - factor * field_state.ground.wall_drop_k
    return ground


def _exchanger(model: StationModel, ident: str, m: Measurand,
               depth: float | None) -> Reader | None:
    x = model.exchangers[ident]
    table: dict[Measurand, Reader] = {
        M.PRIMARY_IN_TEMP: lambda: x.primary_in_c,
        M.PRIMARY_OUT_TEMP: lambda: x.primary_out_c,
        M.SECONDARY_IN_TEMP: lambda: x.secondary_in_c,
        M.SECONDARY_OUT_TEMP: lambda: x.secondary_out_c,
        M.PRIMARY_FLOW: lambda: x.primary_flow_m3h,
        M.SECONDARY_FLOW: lambda: x.secondary_flow_m3h,
        M.DIFFERENTIAL_PRESSURE: lambda: x.dp_kpa / 1000.0,
        M.HEAT_POWER: lambda: x.heat_kw,
    }
    return table.get(m)


def _heat_pump(model: StationModel, ident: str, m: Measurand,
               depth: float | None) -> Reader | None:
    hp = model.heat_pumps[ident]
    table: dict[Measurand, Reader] = {
        M.EVAPORATOR_IN_TEMP: lambda: hp.evaporator_in_c,
        M.EVAPORATOR_OUT_TEMP: lambda: hp.evaporator_out_c,
        M.CONDENSER_IN_TEMP: lambda: hp.condenser_in_c,
        M.CONDENSER_OUT_TEMP: lambda: hp.condenser_out_c,
        M.EVAPORATOR_FLOW: lambda: hp.evaporator_flow_m3h,
        M.CONDENSER_FLOW: lambda: hp.condenser_flow_m3h,
        M.HEAT_POWER: lambda: hp.heat_kw,
        M.LOAD: lambda: 100.0 * hp.load_ratio,
        M.COP: lambda: hp.cop if hp.heat_kw > 0 else 0.0,
        M.SUPPLY_TEMP_SETPOINT: lambda: (hp.setpoint_c if hp.setpoint_c is not None
                                         else model.supply_target_c),
        M.RUN_STATE: lambda: hp.running and hp.heat_kw > 0,
        M.RUN_COMMAND: lambda: hp.run_command,
        M.REMOTE_MODE: lambda: hp.remote_run,
        M.FAULT: lambda: hp.faulted,
        M.ELECTRIC_POWER: lambda: hp.power_kw,
        M.ELECTRIC_ENERGY: lambda: hp.energy_kwh,
        M.CURRENT: lambda: electric_current_a(hp.power_kw),
        M.RUN_HOURS: lambda: hp.run_hours,
    }
    return table.get(m)


def _pump(model: StationModel, ident: str, m: Measurand, depth: float | None) -> Reader | None:
    return _pump_reader(lambda: model.pumps[ident], m)


def _valve(model: StationModel, ident: str, m: Measurand, depth: float | None) -> Reader | None:
    valve = model.valves[ident]
    table: dict[Measurand, Reader] = {
        M.VALVE_POSITION: lambda: valve.position_pct,
        M.VALVE_POSITION_SETPOINT: lambda: valve.setpoint_pct,
    }
    return table.get(m)


def _filter(model: StationModel, ident: str, m: Measurand, depth: float | None) -> Reader | None:
    item = model.site.equipment_by_id(ident)
    if m is not M.DIFFERENTIAL_PRESSURE or not isinstance(item, Filter):
        return None
    if model.wells:
        reference = sum(w.spec.rated_flow_m3h for w in model.wells.values())
    else:
        reference = max(model.user_group.required_m3h, 1e-6)

    def dp() -> float:
        flow = model.source_flow_m3h if model.wells else model.network_flow_m3h
        return item.clean_dp_kpa * (flow / reference) ** 2 / 1000.0
    return dp


def _water_treatment(model: StationModel, ident: str, m: Measurand,
                     depth: float | None) -> Reader | None:
    table: dict[Measurand, Reader] = {
        M.RUN_STATE: lambda: model.heating_on,
        M.FAULT: lambda: False,
        M.MAKEUP_FLOW: lambda: model.makeup_m3h,
        M.MAKEUP_VOLUME: lambda: model.makeup_m3,
        M.TDS: lambda: TREATED_WATER_TDS_MG_L,
    }
    return table.get(m)


def _heat_meter(model: StationModel, ident: str, m: Measurand,
                depth: float | None) -> Reader | None:
    meter = model.heat_meters[ident]
    table: dict[Measurand, Reader] = {
        M.SUPPLY_TEMP: lambda: meter.supply_c,
        M.RETURN_TEMP: lambda: meter.return_c,
        M.FLOW: lambda: meter.flow_m3h,
        M.HEAT_POWER: lambda: meter.heat_kw,
        M.HEAT_ENERGY: lambda: meter.heat_kwh,
        M.VOLUME: lambda: meter.volume_m3,
    }
    return table.get(m)


def _electricity_meter(model: StationModel, ident: str, m: Measurand,
                       depth: float | None) -> Reader | None:
    meter = model.electricity_meters[ident]
    table: dict[Measurand, Reader] = {
        M.ELECTRIC_POWER: lambda: meter.power_kw,
        M.ELECTRIC_ENERGY: lambda: meter.energy_kwh,
        M.CURRENT: lambda: electric_current_a(meter.power_kw),
    }
    return table.get(m)


def _substation(model: StationModel, ident: str, m: Measurand,
                depth: float | None) -> Reader | None:
    zone = model.zones[ident]
    table: dict[Measurand, Reader] = {
        M.SUPPLY_TEMP: lambda: zone.supply_c,
        M.RETURN_TEMP: lambda: zone.return_c,
        M.SUPPLY_PRESSURE: lambda: zone.supply_pressure_mpa,
        M.RETURN_PRESSURE: lambda: zone.return_pressure_mpa,
        M.FLOW: lambda: zone.flow_m3h,
        M.HEAT_POWER: lambda: zone.heat_kw,
        M.HEAT_ENERGY: lambda: zone.heat_kwh,
        M.VALVE_POSITION: lambda: zone.valve_pct,
        M.VALVE_POSITION_SETPOINT: lambda: zone.valve_setpoint_pct,
        M.INDOOR_TEMP: lambda: zone.indoor_temp_c,
    }
    return table.get(m)


def _weather(model: StationModel, ident: str, m: Measurand,
             depth: float | None) -> Reader | None:
    table: dict[Measurand, Reader] = {
        M.OUTDOOR_TEMP: lambda: model.weather.temp_c,
        M.OUTDOOR_HUMIDITY: lambda: model.weather.humidity_pct,
    }
    return table.get(m)


def _network(model: StationModel, ident: str, m: Measurand,
             depth: float | None) -> Reader | None:
    table: dict[Measurand, Reader] = {
        M.SUPPLY_TEMP: lambda: model.station_supply_c,
        M.RETURN_TEMP: lambda: model.network_return_c,
        M.SUPPLY_PRESSURE: lambda: NETWORK_STATIC_MPA + pressure_mpa(model.network_head_m),
        M.RETURN_PRESSURE: lambda: NETWORK_STATIC_MPA,
        M.FLOW: lambda: model.network_flow_m3h,
        M.HEAT_POWER: lambda: model.delivered_kw,
        M.SUPPLY_TEMP_SETPOINT: lambda: model.supply_target_c,
        M.REMOTE_MODE: lambda: model.remote_supply_setpoint_c is not None,
        M.HEARTBEAT: lambda: model.heartbeat.value or 0,
    }
    return table.get(m)


_READERS: dict[type, Callable[[StationModel, str, Measurand, float | None], Reader | None]] = {
    ProductionWell: _production_well,
    ReinjectionWell: _reinjection_well,
    MonitoringWell: _monitoring_well,
    CoaxialBorehole: _borehole,
    BoreholeField: _borehole,
    GroundTempBorehole: _ground_temp,
    PlateExchanger: _exchanger,
    HeatPump: _heat_pump,
    Pump: _pump,
    Valve: _valve,
    Filter: _filter,
    WaterTreatment: _water_treatment,
    HeatMeter: _heat_meter,
    ElectricityMeter: _electricity_meter,
    Substation: _substation,
    Weather: _weather,
    Network: _network,
}
