"""Shallow and mid-deep borehole heating systems: (2-1), (4-11), (4-12) and the plan's sizing.

Per m² of heated building: the ground loop must deliver the evaporator share of the design
load, q_s·(COP−1)/COP, which at q_l W per metre of borehole needs L = q_s·(COP−1)/COP/q_l
metres; the heat pump uses q_h·T/(1000·COP) kWh. Loop pumps, plant room and collection-system
costs follow rules derived from the plan's tables (docs/models.md "Hidden assumptions").
"""

from __future__ import annotations

from typing import Literal

SystemKind = Literal["shallow", "deep"]

PUMP_KW_PER_W_M: dict[SystemKind, float] = {
    # derived: Tables 4-6/4-8 (48 rows, all within print rounding) and Table 4-4 (20 rows)
    "deep": 5.541e-5,
    "shallow": 3.493e-5,
}
"""Loop-pump power per m² per unit of (q_s·(COP−1)/COP in W/m²) × (borehole m/m²)."""

COLLECTION_CNY_PER_M: dict[SystemKind, float] = {
    "deep": 1000.0,  # 004 L2154 drilling and loop cost; Table 6-5 within 0.6 % (digest C7)
    "shallow": 140.0,  # derived: Table 6-4 capex / borehole length, 139.2-141.6 over 20 rows
}
"""Cost of drilling and loop per metre of borehole, CNY/m."""

PLANT_ROOM_CNY_PER_W_HEAT = 0.0301
PLANT_ROOM_CNY_PER_W_ELECTRIC = 3.4168
PLANT_ROOM_CNY_PER_KW_PUMP = 4193.0
"""Plant-room capex rule fitted jointly to Tables 6-4, 6-5 and 6-7 (68 rows, ≤ 1.4 %)."""


def evaporator_load_w_per_m2(heat_index_w_per_m2: float, cop: float) -> float:
    """Design heat the ground must supply per m² heated: q_s·(COP−1)/COP."""
    if cop <= 1.0:
        raise ValueError(f"COP {cop} must be above 1")
    return heat_index_w_per_m2 * (cop - 1.0) / cop


def loop_flow_kg_s_per_m2(heat_index_w_per_m2: float, cop: float, loop_delta_t_k: float,
                          water_cp_j_per_kgk: float = 4186.8) -> float:
    """(4-11) m_s = q_s·(COP−1)/(C·Δt·COP): ground-loop water flow per m² heated, kg/(s·m²)."""
    if loop_delta_t_k <= 0.0:
        raise ValueError(f"loop temperature difference {loop_delta_t_k} K must be positive")
    load = evaporator_load_w_per_m2(heat_index_w_per_m2, cop)
    return load / (water_cp_j_per_kgk * loop_delta_t_k)


def heat_pump_kwh_per_m2(heat_consumption_w_per_m2: float, hours: float, cop: float) -> float:
    """(4-12) w_hp = q_h·T/(1000·COP): heat-pump electricity per m² heated, kWh/m²."""
    return heat_consumption_w_per_m2 * hours / (1000.0 * cop)


def borehole_m_per_m2(heat_index_w_per_m2: float, cop: float, extraction_w_per_m: float) -> float:
    """Borehole length per m² heated, q_s·(COP−1)/COP/q_l (Table 4-4, digest C2)."""
    if extraction_w_per_m <= 0.0:
        raise ValueError(f"heat extraction {extraction_w_per_m} W/m must be positive")
    return evaporator_load_w_per_m2(heat_index_w_per_m2, cop) / extraction_w_per_m


def loop_pump_kw_per_m2(kind: SystemKind, heat_index_w_per_m2: float, cop: float,
                        extraction_w_per_m: float) -> float:
    """Design loop-pump power per m² heated (kW/m²), by the rule derived from Tables 4-4…4-8."""
    length = borehole_m_per_m2(heat_index_w_per_m2, cop, extraction_w_per_m)
    return PUMP_KW_PER_W_M[kind] * evaporator_load_w_per_m2(heat_index_w_per_m2, cop) * length


def collection_capex_cny_per_m2(kind: SystemKind, borehole_length_m_per_m2: float,
                                cost_cny_per_m: float | None = None) -> float:
    """Capex of the collection system (drilling and loop) per m² heated."""
    unit = COLLECTION_CNY_PER_M[kind] if cost_cny_per_m is None else cost_cny_per_m
    return unit * borehole_length_m_per_m2


def plant_room_capex_cny_per_m2(heat_index_w_per_m2: float, cop: float,
                                pump_kw_per_m2: float) -> float:
    """Capex of the heat-source plant room per m² heated: heat pumps, pumps, the rest."""
    return (PLANT_ROOM_CNY_PER_W_HEAT * heat_index_w_per_m2
            + PLANT_ROOM_CNY_PER_W_ELECTRIC * heat_index_w_per_m2 / cop
            + PLANT_ROOM_CNY_PER_KW_PUMP * pump_kw_per_m2)


def collection_capacity_gw(
    area_km2: float,
    extraction_w_per_m: float,
    depth_m: float,
    spacing_m: float,
    land_ratios: tuple[float, float, float] = (0.1, 0.3, 0.1),
) -> float:
    """(2-1) Q = ε1·ε2·ε3·S·q_l·L/(1000·D²): collection capacity of a region, GW."""
    e1, e2, e3 = land_ratios
    return e1 * e2 * e3 * area_km2 * extraction_w_per_m * depth_m / (1000.0 * spacing_m**2)
