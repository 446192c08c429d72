"""The realistic station files in sites/: they load, carry every required point, and bind sanely."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from geoscada.cli import main as geoscada
from plant.measurands import AT_DEPTH, COMMANDS, Measurand
from plant.site import (
    CoaxialBorehole,
    GroundTempBorehole,
    HeatMeter,
    HeatPump,
    ModbusBinding,
    ModbusDevice,
    OpcUaBinding,
    OpcUaDevice,
    PlateExchanger,
    ProductionWell,
    Pump,
    ReinjectionWell,
    Site,
    load_site,
)

SITES_DIR = Path(__file__).resolve().parents[2] / "sites"
SITE_FILES = sorted(SITES_DIR.glob("*.yaml"))
M = Measurand

# station id -> (kind, Modbus port, OPC UA port), as agreed with the simulator
EXPECTED = {
    "hydrothermal-doublet": ("hydrothermal", 15020, 14840),
    "deep-borehole-school": ("deep_borehole", 15021, 14841),
    "shallow-field": ("shallow_field", 15022, 14842),
}

RAW_LIMITS = {"int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1),
              "int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1)}


@functools.cache
def loaded(path: Path) -> Site:
    """Each site file is validated once per test session (sites are frozen)."""
    return load_site(path)


@pytest.fixture(params=SITE_FILES, ids=[p.stem for p in SITE_FILES])
def site(request: pytest.FixtureRequest) -> Site:
    path: Path = request.param
    return loaded(path)


def has(site: Site, kind: str, measurand: Measurand,
        where: Callable[[object], bool] = lambda _: True) -> bool:
    """True if some equipment of ``kind`` matching ``where`` has a point of ``measurand``."""
    return any(
        point.measurand is measurand and item.kind == kind and where(item)
        for item in site.equipment for point in site.points_of(item.id)
    )


def measurands_of(site: Site, equipment_id: str) -> set[Measurand]:
    return {p.measurand for p in site.points_of(equipment_id)}


def test_all_three_stations_are_present() -> None:
    ids = {loaded(p).station.id for p in SITE_FILES}
    assert ids == set(EXPECTED)


def test_geoscada_check_accepts_every_site(capsys: pytest.CaptureFixture[str]) -> None:
    assert geoscada(["check", *map(str, SITE_FILES)]) == 0
    assert capsys.readouterr().out.count("ok: ") == len(SITE_FILES)


def test_station_kind_size_and_citations(site: Site) -> None:
    kind, _, _ = EXPECTED[site.station.id]
    assert site.station.kind == kind
    assert 150 <= len(site.points) <= 410
    assert site.station.sources
    for source in site.station.sources:
        assert re.match(r"^00[0-4] L\d+", source), source


def test_devices_ports_and_endpoints(site: Site) -> None:
    _, modbus_port, opc_port = EXPECTED[site.station.id]
    modbus = [d for d in site.devices if isinstance(d, ModbusDevice)]
    opc = [d for d in site.devices if isinstance(d, OpcUaDevice)]
    assert len(modbus) >= 2 and len(opc) == 1
    assert {(d.host, d.port) for d in modbus} == {("127.0.0.1", modbus_port)}
    assert len({d.unit_id for d in modbus}) == len(modbus)
    assert opc[0].endpoint == f"opc.tcp://127.0.0.1:{opc_port}/geoscada/{site.station.id}"
    for device in site.devices:
        assert site.points_on(device.id), f"device {device.id} has no points"


REQUIRED_ALL: list[tuple[str, str, Measurand, Callable[[object], bool]]] = [
    ("source-side heat, instantaneous", "heat_meter", M.HEAT_POWER,
     lambda e: isinstance(e, HeatMeter) and e.location == "source"),
    ("source-side heat, cumulative", "heat_meter", M.HEAT_ENERGY,
     lambda e: isinstance(e, HeatMeter) and e.location == "source"),
    ("source supply temperature", "heat_meter", M.SUPPLY_TEMP,
     lambda e: isinstance(e, HeatMeter) and e.location == "source"),
    ("source return temperature", "heat_meter", M.RETURN_TEMP,
     lambda e: isinstance(e, HeatMeter) and e.location == "source"),
    ("source flow", "heat_meter", M.FLOW,
     lambda e: isinstance(e, HeatMeter) and e.location == "source"),
    ("user-side heat, instantaneous", "heat_meter", M.HEAT_POWER,
     lambda e: isinstance(e, HeatMeter) and e.location == "user"),
    ("user-side heat, cumulative", "heat_meter", M.HEAT_ENERGY,
     lambda e: isinstance(e, HeatMeter) and e.location == "user"),
    ("user supply temperature", "network", M.SUPPLY_TEMP, lambda _: True),
    ("user return temperature", "network", M.RETURN_TEMP, lambda _: True),
    ("user supply pressure", "network", M.SUPPLY_PRESSURE, lambda _: True),
    ("user return pressure", "network", M.RETURN_PRESSURE, lambda _: True),
    ("user flow", "network", M.FLOW, lambda _: True),
    ("network supply setpoint", "network", M.SUPPLY_TEMP_SETPOINT, lambda _: True),
    ("valve position", "valve", M.VALVE_POSITION, lambda _: True),
    ("filter pressure drop", "filter", M.DIFFERENTIAL_PRESSURE, lambda _: True),
    ("make-up water flow", "water_treatment", M.MAKEUP_FLOW, lambda _: True),
    ("make-up water volume", "water_treatment", M.MAKEUP_VOLUME, lambda _: True),
    ("water treatment running", "water_treatment", M.RUN_STATE, lambda _: True),
    ("outdoor temperature", "weather", M.OUTDOOR_TEMP, lambda _: True),
    ("station electricity, power", "electricity_meter", M.ELECTRIC_POWER, lambda _: True),
    ("station electricity, energy", "electricity_meter", M.ELECTRIC_ENERGY, lambda _: True),
]

REQUIRED_BY_KIND: dict[str, list[tuple[str, str, Measurand]]] = {
    "hydrothermal": [
        ("well-side temperature", "production_well", M.WELLHEAD_TEMP),
        ("well-side flow", "production_well", M.FLOW),
        ("well-side pressure", "production_well", M.WELLHEAD_PRESSURE),
        ("well-side water level", "production_well", M.WATER_LEVEL),
        ("well water quality", "production_well", M.TDS),
        ("temperature at depth, production wells", "production_well", M.TEMP_AT_DEPTH),
        ("reinjection flow", "reinjection_well", M.FLOW),
        ("reinjection temperature", "reinjection_well", M.INJECTION_TEMP),
        ("reinjection pressure", "reinjection_well", M.WELLHEAD_PRESSURE),
        ("reinjection water level", "reinjection_well", M.WATER_LEVEL),
        ("temperature at depth, reinjection wells", "reinjection_well", M.TEMP_AT_DEPTH),
        ("temperature at depth, monitoring wells", "monitoring_well", M.TEMP_AT_DEPTH),
        ("monitoring-well water level", "monitoring_well", M.WATER_LEVEL),
        ("exchanger primary in", "plate_exchanger", M.PRIMARY_IN_TEMP),
        ("exchanger primary out", "plate_exchanger", M.PRIMARY_OUT_TEMP),
        ("exchanger secondary in", "plate_exchanger", M.SECONDARY_IN_TEMP),
        ("exchanger secondary out", "plate_exchanger", M.SECONDARY_OUT_TEMP),
        ("exchanger primary flow", "plate_exchanger", M.PRIMARY_FLOW),
    ],
    "deep_borehole": [
        ("borehole outlet temperature", "coaxial_borehole", M.OUTLET_TEMP),
        ("borehole inlet temperature", "coaxial_borehole", M.INLET_TEMP),
        ("borehole flow", "coaxial_borehole", M.FLOW),
        ("source supply pressure", "coaxial_borehole", M.PRESSURE),
        ("source pressure difference", "coaxial_borehole", M.DIFFERENTIAL_PRESSURE),
        ("extracted heat, instantaneous", "coaxial_borehole", M.HEAT_POWER),
        ("extracted heat, cumulative", "coaxial_borehole", M.HEAT_ENERGY),
        ("temperature at depth", "coaxial_borehole", M.TEMP_AT_DEPTH),
    ],
    "shallow_field": [
        ("field inlet temperature", "borehole_field", M.INLET_TEMP),
        ("field outlet temperature", "borehole_field", M.OUTLET_TEMP),
        ("field flow", "borehole_field", M.FLOW),
        ("field pressure", "borehole_field", M.PRESSURE),
        ("winter heat extraction", "borehole_field", M.HEAT_ENERGY),
        ("summer heat rejection", "borehole_field", M.HEAT_REJECTED_ENERGY),
        ("ground temperature at depth", "ground_temp_borehole", M.GROUND_TEMP),
    ],
}


def missing_categories(site: Site) -> list[str]:
    """Names of the required measurement categories that no point of the site provides."""
    missing = [name for name, kind, measurand, where in REQUIRED_ALL
               if not has(site, kind, measurand, where)]
    missing += [name for name, kind, measurand in REQUIRED_BY_KIND[site.station.kind]
                if not has(site, kind, measurand)]
    return missing


def test_every_required_measurand_category_is_present(site: Site) -> None:
    missing = missing_categories(site)
    assert not missing, f"{site.station.id} lacks: {', '.join(missing)}"


def test_a_missing_category_is_noticed(site: Site) -> None:
    kept = tuple(p for p in site.points
                 if p.measurand not in (M.SUPPLY_PRESSURE, M.MAKEUP_VOLUME))
    assert missing_categories(site.model_copy(update={"points": kept})) == [
        "user supply pressure", "make-up water volume"]


def test_every_substation_has_a_typical_room_and_its_supply_and_return(site: Site) -> None:
    substations = [e for e in site.equipment if e.kind == "substation"]
    assert len(substations) >= 2
    for item in substations:
        assert {M.INDOOR_TEMP, M.SUPPLY_TEMP, M.RETURN_TEMP, M.SUPPLY_PRESSURE,
                M.RETURN_PRESSURE, M.FLOW, M.HEAT_POWER, M.HEAT_ENERGY, M.VALVE_POSITION,
                M.VALVE_POSITION_SETPOINT} <= measurands_of(site, item.id), item.id


DRIVEN = {M.RUN_STATE, M.FAULT, M.RUN_COMMAND, M.ELECTRIC_POWER, M.ELECTRIC_ENERGY}


def test_every_heat_pump_has_states_commands_and_electricity(site: Site) -> None:
    pumps = [e for e in site.equipment if isinstance(e, HeatPump)]
    assert pumps
    for item in pumps:
        needed = DRIVEN | {M.SUPPLY_TEMP_SETPOINT, M.EVAPORATOR_IN_TEMP, M.EVAPORATOR_OUT_TEMP,
                           M.CONDENSER_IN_TEMP, M.CONDENSER_OUT_TEMP, M.HEAT_POWER}
        assert needed <= measurands_of(site, item.id), item.id


def test_every_pump_and_well_pump_has_states_commands_and_electricity(site: Site) -> None:
    driven = [e for e in site.equipment if e.kind in ("pump", "production_well")]
    assert driven
    for item in driven:
        assert DRIVEN | {M.SPEED, M.SPEED_SETPOINT} <= measurands_of(site, item.id), item.id


def test_every_valve_can_be_positioned(site: Site) -> None:
    for item in (e for e in site.equipment if e.kind == "valve"):
        assert {M.VALVE_POSITION, M.VALVE_POSITION_SETPOINT} <= measurands_of(site, item.id)


def test_commands_are_writable_with_limits_inside_the_range(site: Site) -> None:
    commands = [p for p in site.points if p.measurand in COMMANDS]
    assert {p.measurand for p in commands} == set(COMMANDS)
    for point in commands:
        assert point.writable, point.id
        if point.dtype == "bool":
            continue
        assert point.limits is not None, point.id
        assert point.range[0] <= point.limits.min < point.limits.max <= point.range[1]
    assert all(p.measurand in COMMANDS for p in site.points if p.writable)


def test_commands_live_in_writable_tables(site: Site) -> None:
    for point in site.points:
        if not isinstance(point.binding, ModbusBinding):
            continue
        if point.measurand in (M.RUN_COMMAND, M.REMOTE_MODE):
            assert point.binding.table == "coil", point.id
        elif point.writable:
            assert point.binding.table == "holding_register", point.id
        elif point.dtype == "bool":
            assert point.binding.table == "discrete_input", point.id
        else:
            assert point.binding.table == "input_register", point.id


def test_scaled_registers_can_hold_the_whole_range(site: Site) -> None:
    scaled = 0
    for point in site.points:
        binding = point.binding
        if not isinstance(binding, ModbusBinding) or binding.type in ("bool", "float32"):
            continue
        low, high = RAW_LIMITS[binding.type]
        raw = [(v - binding.offset) / binding.scale for v in point.range]
        assert low <= min(raw) and max(raw) <= high, point.id
        scaled += binding.scale != 1.0
    assert scaled >= 10, "scaled 16-bit registers should be exercised"


def test_register_conventions_are_exercised(site: Site) -> None:
    bindings = [p.binding for p in site.points if isinstance(p.binding, ModbusBinding)]
    tables = {b.table for b in bindings}
    types = {b.type for b in bindings}
    assert tables == {"coil", "discrete_input", "input_register", "holding_register"}
    assert {"float32", "int16", "uint16", "uint32", "bool"} <= types
    assert {b.word_order for b in bindings if b.width == 2} == {"big", "little"}


def test_device_registers_are_mostly_contiguous(site: Site) -> None:
    for device in site.devices:
        spans: dict[str, list[tuple[int, int]]] = {}
        for point in site.points_on(device.id):
            if isinstance(point.binding, ModbusBinding):
                b = point.binding
                spans.setdefault(b.table, []).append((b.address, b.address + b.width))
        for table, used in spans.items():
            occupied = sum(high - low for low, high in used)
            extent = max(high for _, high in used) - min(low for low, _ in used)
            assert occupied / extent >= 0.6, f"{device.id} {table}: {occupied}/{extent}"


def test_deadbands_are_smaller_than_the_span(site: Site) -> None:
    for point in site.points:
        low, high = point.range
        assert point.deadband < 0.05 * (high - low), point.id


def test_depth_profiles_are_polled_slowly(site: Site) -> None:
    profiles = [p for p in site.points if p.measurand in AT_DEPTH]
    assert len(profiles) >= 5
    assert all(p.poll_group == "slow" for p in profiles)
    assert site.poll_groups["slow"] > site.poll_groups["fast"]


def test_opcua_points_use_their_point_id_as_node_id(site: Site) -> None:
    opc = [p for p in site.points if isinstance(p.binding, OpcUaBinding)]
    assert opc
    for point in opc:
        assert isinstance(point.binding, OpcUaBinding)
        assert point.binding.node_id == f"ns=2;s={point.id}"
    equipment_ids = {e.id for e in site.equipment}
    assert not equipment_ids & set(site.points_by_id), "object and variable NodeIds would clash"
    assert site.station.id not in equipment_ids


def test_installed_heat_covers_the_design_load(site: Site) -> None:
    direct = sum(e.rated_heat_kw for e in site.equipment
                 if isinstance(e, PlateExchanger) and e.stage == 1)
    pumps = sum(e.rated_heat_kw for e in site.equipment if isinstance(e, HeatPump))
    assert direct + pumps >= site.station.design_heat_load_kw


def test_substations_do_not_exceed_the_heated_area(site: Site) -> None:
    areas = sum(getattr(e, "heated_area_m2", 0.0) for e in site.equipment
                if e.kind == "substation")
    assert 0 < areas <= site.station.heated_area_m2


def by_id(station_id: str) -> Site:
    return next(s for s in map(loaded, SITE_FILES) if s.station.id == station_id)


def test_hydrothermal_cascade_stages_balance() -> None:
    site = by_id("hydrothermal-doublet")
    for stage in (2, 3):
        (exchanger,) = [e for e in site.equipment
                        if isinstance(e, PlateExchanger) and e.stage == stage]
        evaporators = sum(e.rated_heat_kw * (1 - 1 / e.rated_cop) for e in site.equipment
                          if isinstance(e, HeatPump) and e.stage == stage)
        # the heat pumps of a stage draw what that stage's exchanger passes on
        assert evaporators == pytest.approx(exchanger.rated_heat_kw, rel=0.15), stage


def test_hydrothermal_reinjection_can_take_all_production() -> None:
    site = by_id("hydrothermal-doublet")
    production = [e for e in site.equipment if isinstance(e, ProductionWell)]
    reinjection = [e for e in site.equipment if isinstance(e, ReinjectionWell)]
    assert len(production) == 2 and 2 <= len(reinjection) <= 3
    assert {e.aquifer for e in production} == {e.aquifer for e in reinjection}
    assert sum(e.rated_flow_m3h for e in reinjection) >= sum(e.rated_flow_m3h for e in production)
    stages = {e.stage for e in site.equipment if isinstance(e, HeatPump)}
    assert stages == {2, 3}
    exchangers = {e.stage for e in site.equipment if isinstance(e, PlateExchanger)}
    assert 1 in exchangers
    sizes = sorted(e.rated_heat_kw for e in site.equipment if isinstance(e, HeatPump))
    assert sizes[0] < sizes[-1] / 2, "a big + small unit mix"


def test_deep_borehole_matches_case_1_32() -> None:
    site = by_id("deep-borehole-school")
    (borehole,) = [e for e in site.equipment if isinstance(e, CoaxialBorehole)]
    (unit,) = [e for e in site.equipment if isinstance(e, HeatPump)]
    assert borehole.depth_m == 2500 and unit.rated_heat_kw == 735
    heat_flow = borehole.geothermal_gradient_k_per_100m / 100 * borehole.ground_conductivity_w_per_mk
    assert heat_flow == pytest.approx(0.067, rel=0.02)  # 003 L2841: ~67 mW/m2
    at_2000 = borehole.surface_ground_temp_c + borehole.geothermal_gradient_k_per_100m * 20
    assert 60 <= at_2000 <= 70  # 003 L2804
    climate = site.station.climate
    assert (climate.design_outdoor_temp_c, climate.mean_heating_season_outdoor_temp_c,
            climate.heating_season_days, climate.heating_season_start) == (-13.2, -1.9, 180,
                                                                          "10-15")
    assert (site.station.heated_area_m2, site.station.design_supply_temp_c,
            site.station.design_return_temp_c) == (13215, 60, 45)
    # demand and loop flow from the 2022-23 meters: 182,232 kWh in four months, x1.5 for the
    # season (003 L3081), SCOP 4.66 and COP 5.21 (L3072), mean loop ΔT 12.5 K (L3057)
    season_heat_kwh = site.station.design_heat_load_kw * (18 + 1.9) / (18 + 13.2) * 180 * 24
    assert season_heat_kwh == pytest.approx(182_232 * 1.5 * 4.66, rel=0.01)
    extraction_kw = season_heat_kwh / (180 * 24) * (1 - 1 / 5.21)
    assert borehole.rated_flow_m3h * 1.15 * 12.5 == pytest.approx(extraction_kw, rel=0.01)


def test_shallow_field_has_both_seasons_and_ground_monitoring() -> None:
    site = by_id("shallow-field")
    assert site.station.climate.cooling_season_days > 0
    assert site.station.cooling_index_w_per_m2 > 0
    boreholes = [e for e in site.equipment if isinstance(e, GroundTempBorehole)]
    assert {e.position for e in boreholes} == {"centre", "edge", "outside"}
    fields = {e.id for e in site.equipment if e.kind == "borehole_field"}
    assert {e.field for e in boreholes} <= fields
    for item in boreholes:
        depths = sorted(p.depth_m or 0 for p in site.points_of(item.id))
        assert depths == sorted(item.sensor_depths_m)
        assert depths[0] <= 5 and depths[-1] >= 100, "frost layer to the bottom of the loop"


def test_readme_point_counts_are_current() -> None:
    readme = (SITES_DIR / "README.md").read_text(encoding="utf-8")
    for path in SITE_FILES:
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{path.name}`"))
        assert row.rstrip(" |").endswith(f"| {len(loaded(path).points)}"), path.name


WIRE_TO_WATER_EFFICIENCY = 0.80
"""A generous combined pump and motor efficiency: no motor may need more to reach its duty."""


@pytest.mark.parametrize("path", SITE_FILES, ids=lambda p: p.stem)
def test_every_pump_motor_can_drive_its_duty_point(path: Path) -> None:
    for pump in (e for e in load_site(path).equipment if isinstance(e, Pump)):
        hydraulic_kw = 1000.0 * 9.81 * pump.rated_flow_m3h / 3600.0 * pump.rated_head_m / 1000.0
        assert pump.rated_kw >= hydraulic_kw / WIRE_TO_WATER_EFFICIENCY, (
            f"{path.name}: {pump.id} needs {hydraulic_kw:.1f} kW of water power at "
            f"{pump.rated_flow_m3h} m³/h and {pump.rated_head_m} m; a {pump.rated_kw} kW motor "
            "cannot deliver it"
        )
