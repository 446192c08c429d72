"""Comparison heat sources of the Heilongjiang plan: boilers and CHP, equations (4-13)…(4-16).

Each gives the energy per m² a heat source consumes to deliver the building's seasonal heat
``q_h·T`` (W/m² × h), with the plan's unexplained 1.05 allowance (read as network losses).
"""

from __future__ import annotations

from enum import StrEnum

COMPARISON_ALLOWANCE = 1.05
"""The factor 1.05 in (4-13)…(4-16), unexplained in the plan (digest §3.3.3)."""


class HeatSource(StrEnum):
    """The plan's comparison heat sources, with their efficiencies."""

    COAL_BOILER = "coal_boiler"
    GAS_BOILER = "gas_boiler"
    ELECTRIC_BOILER = "electric_boiler"
    CHP = "chp"


EFFICIENCY: dict[HeatSource, float] = {
    HeatSource.COAL_BOILER: 0.70,  # (4-13) η_m
    HeatSource.GAS_BOILER: 0.90,  # (4-14) η_q
    # (4-15) states η_d = 98 %; the plan's tables use 100 % (digest C4e, Appendix A.1.1)
    HeatSource.ELECTRIC_BOILER: 1.00,
    HeatSource.CHP: 0.88,  # (4-16) η_rd
}
"""Efficiencies the plan's tables use."""

STATED_ELECTRIC_BOILER_EFFICIENCY = 0.98
"""η_d as printed in (4-15), kept for the corrected variant."""


def seasonal_heat_kwh_per_m2(heat_consumption_w_per_m2: float, hours: float) -> float:
    """Seasonal heat of the building q_h·T/1000 in kWh/m²."""
    return heat_consumption_w_per_m2 * hours / 1000.0


def source_energy_kwh_per_m2(
    source: HeatSource,
    heat_consumption_w_per_m2: float,
    hours: float,
    efficiency: float | None = None,
) -> float:
    """(4-13)…(4-16) Q = 1.05·q_h·T/(1000·η): energy a comparison source consumes, kWh/m²."""
    eta = EFFICIENCY[source] if efficiency is None else efficiency
    if not 0.0 < eta <= 1.2:
        raise ValueError(f"efficiency {eta} of {source} is not plausible")
    return COMPARISON_ALLOWANCE * seasonal_heat_kwh_per_m2(heat_consumption_w_per_m2, hours) / eta
