"""Building heat demand: design heat index q_s to seasonal heat-consumption index q_h.

The plan uses two indices per building type (digest §3.3.1): the design heating index q_s
(Table 4-2) sizes plant, the seasonal heat-consumption index q_h prices energy, but q_h is
never printed. Its rule is derived from the plan's own tables (docs/models.md, "Hidden
assumptions"): the degree-day ratio at 18 °C indoors minus a constant allowance per building
type, ``q_h = q_s·(18 − t_a)/(18 − t_d) − Δ``.
"""

from __future__ import annotations

from plant.site import BuildingType

BUILDING_TYPES: tuple[BuildingType, ...] = (
    "new_residential", "existing_residential", "new_public", "existing_public",
)
"""The plan's four building types in its order A, B, C, D."""

BUILDING_LETTER: dict[BuildingType, str] = dict(zip(BUILDING_TYPES, "ABCD", strict=True))
"""The plan's letters for the building types (Tables 4-4, 6-4)."""

INDOOR_TEMP_C = 18.0
"""Indoor design temperature of the degree-day ratio."""

ALLOWANCE_W_PER_M2: dict[BuildingType, float] = {
    # least-squares fits to the plan's tables, see docs/models.md "Hidden assumptions"
    "new_residential": 3.0,  # Table 4-10, 10 cities, residuals ≤ 0.07 W/m²
    "existing_residential": 4.6,  # Table 4-4 type B, 5 cities, residuals ≤ 0.11 W/m²
    "new_public": 4.0,  # Table 4-12, 10 cities, residuals ≤ 0.17 W/m²
    "existing_public": 4.1,  # Table 4-4 type D, 5 cities, residuals ≤ 0.13 W/m²
}
"""Δ of the q_h rule per building type (W/m²); read as internal gains, unstated in the plan."""


def degree_day_ratio(mean_season_temp_c: float, design_outdoor_temp_c: float) -> float:
    """(18 − t_a)/(18 − t_d): mean seasonal load as a share of the design load."""
    if mean_season_temp_c <= design_outdoor_temp_c:
        raise ValueError("the heating-season mean must be above the design outdoor temperature")
    return (INDOOR_TEMP_C - mean_season_temp_c) / (INDOOR_TEMP_C - design_outdoor_temp_c)


def heat_consumption_w_per_m2(
    heat_index_w_per_m2: float,
    mean_season_temp_c: float,
    design_outdoor_temp_c: float,
    building: BuildingType,
) -> float:
    """Seasonal heat-consumption index q_h = q_s·(18 − t_a)/(18 − t_d) − Δ(building), W/m²."""
    ratio = degree_day_ratio(mean_season_temp_c, design_outdoor_temp_c)
    return heat_index_w_per_m2 * ratio - ALLOWANCE_W_PER_M2[building]


def season_hours(heating_days: float) -> float:
    """Heating period T in hours (the plan runs 24 h a day)."""
    return heating_days * 24.0


def heat_index_for_season_w_per_m2(
    season_heat_kwh: float,
    heated_area_m2: float,
    heating_days: float,
    *,
    indoor_temp_c: float,
    mean_season_temp_c: float,
    design_outdoor_temp_c: float,
) -> float:
    """Design heat index (W/m²) of buildings heated around the clock that use a season's heat.

    Their loss is one conductance: the season's heat over its degree-hours
    ``(indoor − t_a)·T``, times ``(indoor − t_d)`` at the design outdoor temperature.
    """
    if not season_heat_kwh > 0.0 or not heated_area_m2 > 0.0 or not heating_days > 0.0:
        raise ValueError("season heat, heated area and heating days must be positive")
    if not design_outdoor_temp_c < mean_season_temp_c < indoor_temp_c:
        raise ValueError(f"the heating-season mean {mean_season_temp_c} °C must lie between the "
                         f"design outdoor {design_outdoor_temp_c} °C and indoor "
                         f"{indoor_temp_c} °C temperatures")
    conductance_kw_per_k = season_heat_kwh / (
        season_hours(heating_days) * (indoor_temp_c - mean_season_temp_c))
    return conductance_kw_per_k * (indoor_temp_c - design_outdoor_temp_c) * 1000.0 / heated_area_m2
