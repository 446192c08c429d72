"""Retrofitted geothermal-water heat-pump cascade, equations (4-1)…(4-10) of the Heilongjiang plan.

The direct stage heats the user's water from t_1 to t_g through a plate exchanger; stages I and
II each cool the geothermal water further through an exchanger feeding a heat pump's evaporator.
Heat flows are in W, mass flows in kg/s, temperatures in °C, energies per m² in kWh/m².
"""

from __future__ import annotations

from dataclasses import dataclass

WATER_CP_J_PER_KGK = 4186.8
"""Specific heat C of water used by the plan's cascade formulas (J/(kg·K))."""

GRAVITY_M_S2 = 9.80665
"""g, which (4-8) omits as printed (digest Appendix A.1.13); included here explicitly."""


@dataclass(frozen=True)
class CascadeHeat:
    """Heat delivered by each stage of the cascade (W) and the stage shares of the total."""

    direct_w: float
    stage1_source_w: float
    stage1_output_w: float
    stage2_source_w: float
    stage2_output_w: float

    @property
    def total_w(self) -> float:
        """(4-6) Q_total = Q_z + Q_I' + Q_II'."""
        return self.direct_w + self.stage1_output_w + self.stage2_output_w

    @property
    def stage1_share(self) -> float:
        """φ_I = Q_I'/Q_total, used by (4-9)."""
        return self.stage1_output_w / self.total_w

    @property
    def stage2_share(self) -> float:
        """φ_II = Q_II'/Q_total, used by (4-10)."""
        return self.stage2_output_w / self.total_w


def heat_pump_output_w(source_heat_w: float, cop: float) -> float:
    """(4-3)/(4-5): a heat pump fed ``source_heat_w`` at its evaporator delivers Q·COP/(COP−1)."""
    if cop <= 1.0:
        raise ValueError(f"COP {cop} must be above 1")
    return source_heat_w * cop / (cop - 1.0)


def cascade_heat(
    *,
    mass_flow_kg_s: float,
    t_direct_supply_c: float,
    t_stage1_supply_c: float,
    t_stage2_supply_c: float,
    t_return_c: float,
    cop_stage1: float,
    cop_stage2: float,
) -> CascadeHeat:
    """(4-1)…(4-6): heat of the direct stage and of the two heat-pump stages."""
    if not t_direct_supply_c >= t_stage1_supply_c >= t_stage2_supply_c >= t_return_c:
        raise ValueError("cascade temperatures must fall t_g ≥ t_1 ≥ t_II ≥ t_h")
    c_m = WATER_CP_J_PER_KGK * mass_flow_kg_s
    direct = c_m * (t_direct_supply_c - t_stage1_supply_c)  # (4-1)
    stage1 = c_m * (t_stage1_supply_c - t_stage2_supply_c)  # (4-2)
    stage2 = c_m * (t_stage2_supply_c - t_return_c)  # (4-4)
    return CascadeHeat(
        direct_w=direct,
        stage1_source_w=stage1,
        stage1_output_w=heat_pump_output_w(stage1, cop_stage1),
        stage2_source_w=stage2,
        stage2_output_w=heat_pump_output_w(stage2, cop_stage2),
    )


def design_flow_kg_h_per_m2(
    heat_index_w_per_m2: float, heat_per_unit_flow_w_per_kg_h: float
) -> float:
    """(4-7) m_s = q_s / Q_unit: design water flow per m² heated, (kg/h)/m²."""
    return heat_index_w_per_m2 / heat_per_unit_flow_w_per_kg_h


def pump_kwh_per_m2(
    *,
    flow_kg_h_per_m2: float,
    head_m: float,
    hours: float,
    pump_efficiency: float,
    motor_efficiency: float,
    capacity_factor: float = 1.0,
) -> float:
    """(4-8) w_p = K·m_s·g·H·T/(3.6·10⁶·η₁·η₂): pump-motor electricity per m², kWh/m².

    ``flow_kg_h_per_m2`` is converted to kg/s; g is written out (the printed formula omits it).
    """
    power_w = capacity_factor * flow_kg_h_per_m2 / 3600.0 * GRAVITY_M_S2 * head_m
    return power_w * hours / (1000.0 * pump_efficiency * motor_efficiency)


def stage_heat_pump_kwh_per_m2(
    heat_consumption_w_per_m2: float, stage_share: float, hours: float, cop: float
) -> float:
    """(4-9)/(4-10) w = q_h·φ·T/(1000·COP): one stage's heat-pump electricity per m², kWh/m²."""
    return heat_consumption_w_per_m2 * stage_share * hours / (1000.0 * cop)

