"""The Heilongjiang plan's output tables, computed from its inputs and the model functions.

One code path serves every building type, so the tables the digest withholds (4-7, 4-9, 4-11,
4-13, 6-6, 6-8) come from the same functions as the printed ones. Nothing here reads a
printed output value. Units per m² of heated building and year: kWh, GJ, kgce, CNY.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from plant.models import borehole_systems as bs
from plant.models.coal import GJ_PER_KWH, electricity_kgce, emissions_t, source_kgce
from plant.models.demand import BUILDING_TYPES, heat_consumption_w_per_m2, season_hours
from plant.models.economics import (
    DISCOUNT_RATE,
    Component,
    cash_outflows,
    component_annualised_cost,
    dynamic_payback_years,
    internal_rate_of_return,
)
from plant.models.heat_sources import HeatSource, source_energy_kwh_per_m2
from plant.models.plan_data import PlanDataError, PlanInputs
from plant.site import BuildingType

ELECTRICITY_PRICE_CNY_PER_KWH = 0.5758
"""Commercial clean-heating tariff; the plan prices every building type at it (digest C11, C13)."""

HEAT_PUMP_ENERGY_ALLOWANCE = 1.05
"""Operating cost prices heat-pump electricity ×1.05 (digest C11, the 1.05 of (4-13)…(4-16))."""

CONNECTION_FEE_CNY_PER_M2 = 43.3
"""Year-0 credit the plan's AC and paybacks imply but never state (read as the 入网 connection
fee of Table 6-2, recovered over its 50-year life); derived in docs/models.md, C14/C15."""

SHALLOW_SPACING_M = 5.0
DEEP_SPACING_M = 20.0
"""Borehole spacing D of (2-1) (004 L554-560)."""

ZONING_AC_LIMIT = 30.0
"""AC (CNY/(m²·a)) up to which a new-residential zone is priority or moderate (004 L783-791)."""

PAYBACK_HORIZON_YEARS = 20
"""The plan prints ">20" for dynamic paybacks beyond 20 years."""

Cell = float | str | None
Row = dict[str, Cell]


@dataclass(frozen=True)
class TableSpec:
    """One of the plan's output tables: its title, columns and how to compute its rows."""

    id: str
    title: str
    columns: tuple[str, ...]
    rows: Callable[[PlanInputs], list[Row]]


@dataclass(frozen=True)
class SystemEnergy:
    """Electricity of a heat-pump system per m² heated and year, kWh."""

    borehole_m_per_m2: float
    heat_pump_kwh: float
    pumps_kwh: float
    pump_kw_per_m2: float

    @property
    def total_kwh(self) -> float:
        """Heat pump plus pumps."""
        return self.heat_pump_kwh + self.pumps_kwh


def seasonal_heat(inputs: PlanInputs, region: str, building: BuildingType) -> tuple[float, float]:
    """Heat-consumption index q_h (W/m²) and heating hours T used for a region's tables."""
    climate = inputs.climate_for(region)
    if climate.mean_season_temp_c is None:
        raise PlanDataError(f"climate.csv: {region}: heating-season mean temperature is missing")
    q_s = inputs.heat_index_for(region, building)
    q_h = heat_consumption_w_per_m2(q_s, climate.mean_season_temp_c,
                                    climate.design_outdoor_temp_c, building)
    return q_h, season_hours(climate.heating_days)


def system_energy(inputs: PlanInputs, kind: bs.SystemKind, region: str, building: BuildingType,
                  *, cop: float, extraction_w_per_m: float) -> SystemEnergy:
    """Borehole length and electricity of a shallow or deep system, (4-11), (4-12) and pumps."""
    q_s = inputs.heat_index_for(region, building)
    q_h, hours = seasonal_heat(inputs, region, building)
    pump_kw = bs.loop_pump_kw_per_m2(kind, q_s, cop, extraction_w_per_m)
    return SystemEnergy(
        borehole_m_per_m2=bs.borehole_m_per_m2(q_s, cop, extraction_w_per_m),
        heat_pump_kwh=bs.heat_pump_kwh_per_m2(q_h, hours, cop),
        pumps_kwh=pump_kw * hours,
        pump_kw_per_m2=pump_kw,
    )


@dataclass(frozen=True)
class SystemEconomics:
    """Capex (CNY/m²), operating cost and annualised cost (CNY/(m²·a)), payback (years)."""

    capex_collection: float
    capex_plant_room: float
    operating_cost: float
    annualised_cost: float
    payback_years: float | None
    internal_rate_of_return: float | None = None

    @property
    def capex_total(self) -> float:
        """Collection system plus plant room."""
        return self.capex_collection + self.capex_plant_room


@dataclass(frozen=True)
class Prices:
    """Prices the economics depend on; the defaults are the plan's base case."""

    electricity_cny_per_kwh: float = ELECTRICITY_PRICE_CNY_PER_KWH
    drilling_cny_per_m: float | None = None
    """Drilling and loop cost; None takes the system kind's base (1000 deep, 140 shallow)."""


def system_economics(inputs: PlanInputs, kind: bs.SystemKind, region: str, building: BuildingType,
                     *, cop: float, energy: SystemEnergy, prices: Prices | None = None
                     ) -> SystemEconomics:
    """Capex, operating cost, (6-1) annualised cost and (6-3) dynamic payback of a system."""
    price = Prices() if prices is None else prices
    q_s = inputs.heat_index_for(region, building)
    collection = bs.collection_capex_cny_per_m2(kind, energy.borehole_m_per_m2,
                                                price.drilling_cny_per_m)
    room = bs.plant_room_capex_cny_per_m2(q_s, cop, energy.pump_kw_per_m2)
    opex = price.electricity_cny_per_kwh * (
        HEAT_PUMP_ENERGY_ALLOWANCE * energy.heat_pump_kwh + energy.pumps_kwh)
    lives = inputs.service_lives
    components = (Component(collection, lives["ground_heat_exchangers"]),
                  Component(room, lives["heat_pumps_pumps_controls"]))
    fee = Component(-CONNECTION_FEE_CNY_PER_M2, lives["grid_connection"])
    annualised = component_annualised_cost((*components, fee), opex, DISCOUNT_RATE)
    horizon = lives["ground_heat_exchangers"]
    revenue = inputs.tariffs[region].revenue_cny_per_m2(building)
    outflows = cash_outflows((*components, fee), opex, horizon)
    net = [(revenue if year else 0.0) - out for year, out in enumerate(outflows)]
    return SystemEconomics(collection, room, opex, annualised, dynamic_payback_years(net),
                           internal_rate_of_return(net))


def deep_economics(inputs: PlanInputs, region: str, basin: str, building: BuildingType,
                   prices: Prices | None = None) -> SystemEconomics:
    """Economics of one region's mid-deep system, optionally at other prices (sensitivity)."""
    site = next((s for s in inputs.deep_sites if (s.region, s.basin) == (region, basin)), None)
    if site is None:
        raise KeyError(f"no mid-deep conditions for {region} / {basin}")
    energy = system_energy(inputs, "deep", region, building, cop=site.cop,
                           extraction_w_per_m=site.extraction_w_per_m)
    return system_economics(inputs, "deep", region, building, cop=site.cop, energy=energy,
                            prices=prices)


# --------------------------------------------------------------------------- table rows


def _deep_energy_rows(building: BuildingType) -> Callable[[PlanInputs], list[Row]]:
    def rows(inputs: PlanInputs) -> list[Row]:
        out: list[Row] = []
        for site in inputs.deep_sites:
            energy = system_energy(inputs, "deep", site.region, building, cop=site.cop,
                                   extraction_w_per_m=site.extraction_w_per_m)
            out.append({"region": site.region, "basin": site.basin,
                        "heat_pump_kwh": energy.heat_pump_kwh, "pumps_kwh": energy.pumps_kwh,
                        "total_kwh": energy.total_kwh})
        return out
    return rows


def _shallow_energy_rows(inputs: PlanInputs) -> list[Row]:
    out: list[Row] = []
    for site in inputs.shallow_sites:
        for building in BUILDING_TYPES:
            energy = system_energy(inputs, "shallow", site.region, building, cop=site.cop,
                                   extraction_w_per_m=site.extraction_w_per_m)
            out.append({"region": site.region, "building": building,
                        "extraction_w_per_m": site.extraction_w_per_m, "cop": site.cop,
                        "borehole_m_per_m2": energy.borehole_m_per_m2,
                        "heat_pump_kwh": energy.heat_pump_kwh, "pumps_kwh": energy.pumps_kwh,
                        "total_kwh": energy.total_kwh})
    return out


def _energy_and_coal_rows(building: BuildingType) -> Callable[[PlanInputs], list[Row]]:
    def rows(inputs: PlanInputs) -> list[Row]:
        shallow = {s.region: s for s in inputs.shallow_sites}
        out: list[Row] = []
        for site in inputs.deep_sites:
            q_h, hours = seasonal_heat(inputs, site.region, building)
            row: Row = {"region": site.region, "basin": site.basin,
                        "heat_gj": q_h * hours / 1000.0 * GJ_PER_KWH}
            for source in HeatSource:
                kwh = source_energy_kwh_per_m2(source, q_h, hours)
                row[f"{source}_gj"] = kwh * GJ_PER_KWH
                row[f"{source}_kgce"] = source_kgce(source, kwh)
            cascade = inputs.cascade.get(building) if site.region == "Daqing" else None
            row["cascade_gj"] = None if cascade is None else cascade.total_kwh * GJ_PER_KWH
            row["cascade_kgce"] = None if cascade is None else electricity_kgce(cascade.total_kwh)
            systems: list[tuple[str, SystemEnergy | None]] = [
                ("shallow", None if site.region not in shallow else system_energy(
                    inputs, "shallow", site.region, building, cop=shallow[site.region].cop,
                    extraction_w_per_m=shallow[site.region].extraction_w_per_m)),
                ("deep", system_energy(inputs, "deep", site.region, building, cop=site.cop,
                                   extraction_w_per_m=site.extraction_w_per_m)),
            ]
            for name, energy in systems:
                row[f"{name}_gj"] = None if energy is None else energy.total_kwh * GJ_PER_KWH
                row[f"{name}_kgce"] = None if energy is None else electricity_kgce(energy.total_kwh)
            out.append(row)
        return out
    return rows


def _payback_cell(years: float | None) -> Cell:
    if years is None or years > PAYBACK_HORIZON_YEARS:
        return f">{PAYBACK_HORIZON_YEARS}"
    return years


def _economics_row(econ: SystemEconomics) -> Row:
    return {"capex_collection": econ.capex_collection, "capex_plant_room": econ.capex_plant_room,
            "capex_total": econ.capex_total, "operating_cost": econ.operating_cost,
            "payback_years": _payback_cell(econ.payback_years),
            "annualised_cost": econ.annualised_cost}


def _deep_economics_rows(building: BuildingType) -> Callable[[PlanInputs], list[Row]]:
    def rows(inputs: PlanInputs) -> list[Row]:
        out: list[Row] = []
        for site in inputs.deep_sites:
            energy = system_energy(inputs, "deep", site.region, building, cop=site.cop,
                                   extraction_w_per_m=site.extraction_w_per_m)
            econ = system_economics(inputs, "deep", site.region, building, cop=site.cop,
                                    energy=energy)
            out.append({"region": site.region, "basin": site.basin, **_economics_row(econ)})
        return out
    return rows


def _shallow_economics_rows(inputs: PlanInputs) -> list[Row]:
    out: list[Row] = []
    for site in inputs.shallow_sites:
        for building in BUILDING_TYPES:
            energy = system_energy(inputs, "shallow", site.region, building, cop=site.cop,
                                   extraction_w_per_m=site.extraction_w_per_m)
            econ = system_economics(inputs, "shallow", site.region, building, cop=site.cop,
                                    energy=energy)
            out.append({"region": site.region, "building": building, **_economics_row(econ)})
    return out


def _shallow_capacity_rows(inputs: PlanInputs) -> list[Row]:
    extraction = {s.region: s.extraction_w_per_m for s in inputs.shallow_sites}
    return [{"region": a.name, "area_km2": a.area_km2, "depth_m": a.depth_m,
             "extraction_w_per_m": extraction[a.name],
             "capacity_gw": bs.collection_capacity_gw(a.area_km2, extraction[a.name], a.depth_m,
                                                      SHALLOW_SPACING_M)}
            for a in inputs.shallow_areas]


def _deep_capacity_rows(inputs: PlanInputs) -> list[Row]:
    out: list[Row] = []
    for area in inputs.deep_areas:
        # a basin spanning several regions: mean of its Table 4-5 rows (e.g. Songnen 146-150 W/m)
        rates = [site.extraction_w_per_m for site in inputs.deep_sites
                 if site.basin == area.extraction_basin]
        rate = sum(rates) / len(rates)
        out.append({"basin": area.name, "area_km2": area.area_km2, "depth_m": area.depth_m,
                    "extraction_w_per_m": rate,
                    "capacity_gw": bs.collection_capacity_gw(area.area_km2, rate, area.depth_m,
                                                             DEEP_SPACING_M)})
    return out


def _irr_npv_rows(inputs: PlanInputs) -> list[Row]:
    """Table 3-5: new residential mid-deep zones (AC ≤ 30), ranked by annualised net value."""
    rows = []
    for site in inputs.deep_sites:
        econ = deep_economics(inputs, site.region, site.basin, "new_residential")
        if econ.annualised_cost > ZONING_AC_LIMIT:
            continue
        revenue = inputs.tariffs[site.region].revenue_cny_per_m2("new_residential")
        irr = econ.internal_rate_of_return
        rows.append({"region": site.region, "basin": site.basin,
                     "irr_pct": None if irr is None else irr * 100.0,
                     "npv": revenue - econ.annualised_cost})
    rows.sort(key=lambda r: -float(r["npv"] or 0.0))
    return [{**row, "rank": float(rank)} for rank, row in enumerate(rows, start=1)]


def _zone_rows(inputs: PlanInputs) -> list[Row]:
    """Chapter 5 and §6.3: coal and emissions avoided and investment of each planning zone."""
    coal = {(str(r["region"]), str(r["basin"])): r
            for r in _energy_and_coal_rows("new_residential")(inputs)}
    capex = {(str(r["region"]), str(r["basin"])): r
             for r in _deep_economics_rows("new_residential")(inputs)}
    out: list[Row] = []
    for zone in dict.fromkeys(z.zone for z in inputs.zones):
        members = [z for z in inputs.zones if z.zone == zone]
        saved_t = investment = 0.0
        for member in members:
            row = coal[(member.region, member.basin)]
            saved = float(row["coal_boiler_kgce"] or 0.0) - float(row["deep_kgce"] or 0.0)
            saved_t += member.area_10k_m2 * 1e4 * saved / 1000.0
            investment += member.area_10k_m2 * 1e4 * float(
                capex[(member.region, member.basin)]["capex_total"] or 0.0)
        emitted = emissions_t(saved_t)
        out.append({"zone": zone, "area_10k_m2": sum(m.area_10k_m2 for m in members),
                    "coal_saved_10k_tce": saved_t / 1e4, "co2_10k_t": emitted.co2_t / 1e4,
                    "so2_10k_t": emitted.so2_t / 1e4, "nox_10k_t": emitted.nox_t / 1e4,
                    "investment_100m_cny": investment / 1e8})
    return out


ENERGY_COLUMNS = ("region", "basin", "heat_pump_kwh", "pumps_kwh", "total_kwh")
COAL_COLUMNS = (
    "region", "basin", "heat_gj", "coal_boiler_gj", "coal_boiler_kgce", "gas_boiler_gj",
    "gas_boiler_kgce", "electric_boiler_gj", "electric_boiler_kgce", "chp_gj", "chp_kgce",
    "cascade_gj", "cascade_kgce", "shallow_gj", "shallow_kgce", "deep_gj", "deep_kgce",
)
ECONOMICS = ("capex_collection", "capex_plant_room", "capex_total", "operating_cost",
             "payback_years", "annualised_cost")
TITLES = {"new_residential": "new residential", "existing_residential": "existing residential",
          "new_public": "new public", "existing_public": "existing public"}

TABLES: dict[str, TableSpec] = {
    "2-2": TableSpec("2-2", "shallow borehole collection capacity (2-1), GW",
                     ("region", "area_km2", "depth_m", "extraction_w_per_m", "capacity_gw"),
                     _shallow_capacity_rows),
    "2-3": TableSpec("2-3", "mid-deep borehole collection capacity (2-1), GW",
                     ("basin", "area_km2", "depth_m", "extraction_w_per_m", "capacity_gw"),
                     _deep_capacity_rows),
    "3-5": TableSpec("3-5", "new residential mid-deep: IRR (%) and annualised NPV (CNY/(m²·a))",
                     ("region", "basin", "irr_pct", "npv", "rank"), _irr_npv_rows),
    "ch5": TableSpec("ch5", "planning zones to 2025: standard coal and emissions avoided "
                     "(10⁴ t/a, vs coal boilers) and investment (10⁸ CNY)",
                     ("zone", "area_10k_m2", "coal_saved_10k_tce", "co2_10k_t", "so2_10k_t",
                      "nox_10k_t", "investment_100m_cny"), _zone_rows),
    "4-4": TableSpec("4-4", "shallow borehole GSHP electricity, kWh/(m²·a)",
                     ("region", "building", "extraction_w_per_m", "cop", "borehole_m_per_m2",
                      "heat_pump_kwh", "pumps_kwh", "total_kwh"), _shallow_energy_rows),
    "6-4": TableSpec("6-4", "shallow borehole GSHP economics, CNY/m² and CNY/(m²·a)",
                     ("region", "building", *ECONOMICS), _shallow_economics_rows),
}
for _offset, _building in enumerate(BUILDING_TYPES):
    _name = TITLES[_building]
    TABLES[f"4-{6 + _offset}"] = TableSpec(
        f"4-{6 + _offset}", f"{_name}, mid-deep borehole electricity, kWh/(m²·a)",
        ENERGY_COLUMNS, _deep_energy_rows(_building))
    TABLES[f"4-{10 + _offset}"] = TableSpec(
        f"4-{10 + _offset}", f"{_name}, energy (GJ/(m²·a)) and standard coal (kgce/(m²·a))",
        COAL_COLUMNS, _energy_and_coal_rows(_building))
    TABLES[f"6-{5 + _offset}"] = TableSpec(
        f"6-{5 + _offset}", f"{_name}, mid-deep borehole economics, CNY/m² and CNY/(m²·a)",
        ("region", "basin", *ECONOMICS), _deep_economics_rows(_building))


def compute_table(table_id: str, inputs: PlanInputs) -> list[Row]:
    """Rows of one of the plan's tables, in the plan's order."""
    try:
        spec = TABLES[table_id]
    except KeyError:
        raise KeyError(f"unknown table {table_id!r} (known: {', '.join(sorted(TABLES))})") from None
    return spec.rows(inputs)
