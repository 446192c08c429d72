"""The plan's formulas: cascade (4-1)…(4-10), systems (2-1), (4-11), (4-12), coal, economics."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plant.models.borehole_systems import (
    borehole_m_per_m2,
    collection_capacity_gw,
    heat_pump_kwh_per_m2,
    loop_flow_kg_s_per_m2,
)
from plant.models.cascade import (
    WATER_CP_J_PER_KGK,
    cascade_heat,
    pump_kwh_per_m2,
    stage_heat_pump_kwh_per_m2,
)
from plant.models.coal import electricity_kgce, emissions_t, fuel_kgce, substitution_kgce
from plant.models.demand import degree_day_ratio, heat_consumption_w_per_m2
from plant.models.economics import (
    Component,
    annualised_cost,
    capital_recovery_factor,
    cash_outflows,
    component_annualised_cost,
    dynamic_payback_years,
    internal_rate_of_return,
    net_present_value,
    price_sensitivity,
)
from plant.models.heat_sources import HeatSource, source_energy_kwh_per_m2

temps = st.floats(5.0, 95.0)
cops = st.floats(1.5, 8.0)


@given(st.floats(0.1, 200.0), st.lists(temps, min_size=4, max_size=4), cops, cops)
def test_cascade_energy_balance(flow: float, t: list[float], cop1: float, cop2: float) -> None:
    tg, t1, t2, th = sorted(t, reverse=True)
    heat = cascade_heat(mass_flow_kg_s=flow, t_direct_supply_c=tg, t_stage1_supply_c=t1,
                        t_stage2_supply_c=t2, t_return_c=th, cop_stage1=cop1, cop_stage2=cop2)
    electricity = heat.stage1_output_w / cop1 + heat.stage2_output_w / cop2
    geothermal = WATER_CP_J_PER_KGK * flow * (tg - th)
    # heat delivered = heat taken from the geothermal water + compressor work (first law)
    assert heat.total_w == pytest.approx(geothermal + electricity, rel=1e-9, abs=1e-6)
    if heat.total_w > 0:
        assert heat.stage1_share + heat.stage2_share <= 1.0 + 1e-12


def test_cascade_refuses_rising_temperatures() -> None:
    with pytest.raises(ValueError, match="fall"):
        cascade_heat(mass_flow_kg_s=1.0, t_direct_supply_c=40, t_stage1_supply_c=50,
                     t_stage2_supply_c=30, t_return_c=20, cop_stage1=4, cop_stage2=4)


def test_pump_and_stage_energy_units() -> None:
    # 1 (kg/h)/m² lifted 36.7 m for 3600 h at η 0.5: 1/3600 kg/s × 9.80665 × 36.7 m = 0.1 W
    assert pump_kwh_per_m2(flow_kg_h_per_m2=1.0, head_m=36.71, hours=3600.0,
                           pump_efficiency=0.5, motor_efficiency=1.0) == pytest.approx(0.72, rel=1e-3)
    assert stage_heat_pump_kwh_per_m2(20.0, 0.5, 4000.0, 4.0) == pytest.approx(10.0)


def test_capacity_formula_reproduces_tables_2_2_and_2_3() -> None:
    # digest C1: Harbin 11.2 GW, Qiqihar 12.1, Daqing 5.4, Suihua 5.2, Songnen 257.5
    assert collection_capacity_gw(53100, 25.0, 70, 5) == pytest.approx(11.2, abs=0.05)
    assert collection_capacity_gw(42469, 23.7, 100, 5) == pytest.approx(12.1, abs=0.05)
    assert collection_capacity_gw(21000, 23.7, 90, 5) == pytest.approx(5.4, abs=0.05)
    assert collection_capacity_gw(35000, 22.5, 55, 5) == pytest.approx(5.2, abs=0.05)
    assert collection_capacity_gw(116000, 148, 2000, 20) == pytest.approx(257.5, abs=0.05)


def test_borehole_sizing_like_table_4_4() -> None:
    assert borehole_m_per_m2(30, 3.39, 25.0) == pytest.approx(0.85, abs=0.005)  # digest C2
    assert heat_pump_kwh_per_m2(16.51, 176 * 24, 3.39) == pytest.approx(20.57, abs=0.01)
    # (4-11) with Δt = 5 K: 30·2.39/3.39 W/m² over C·Δt
    assert loop_flow_kg_s_per_m2(30, 3.39, 5.0) == pytest.approx(30 * 2.39 / 3.39 / (4186.8 * 5))


def test_heat_consumption_rule_for_harbin_new_residential() -> None:
    q_h = heat_consumption_w_per_m2(30.0, -9.4, -24.2, "new_residential")
    assert q_h == pytest.approx(16.51, abs=0.05)  # digest C6: 0.251 GJ over 176 days
    with pytest.raises(ValueError, match="above"):
        degree_day_ratio(-30.0, -20.0)


def test_comparison_sources_and_coal() -> None:
    heat = 0.251e9 / 3.6e6  # Harbin new residential, kWh/m²
    hours = 176 * 24
    q_h = heat * 1000 / hours
    coal = source_energy_kwh_per_m2(HeatSource.COAL_BOILER, q_h, hours)
    assert coal * 0.0036 == pytest.approx(0.3765, abs=5e-4)  # digest C4
    assert fuel_kgce(coal) == pytest.approx(12.85, abs=0.01)
    electric = source_energy_kwh_per_m2(HeatSource.ELECTRIC_BOILER, q_h, hours)
    assert electricity_kgce(electric) == pytest.approx(22.47, abs=0.01)  # digest C4e
    stated = source_energy_kwh_per_m2(HeatSource.ELECTRIC_BOILER, q_h, hours, efficiency=0.98)
    assert electricity_kgce(stated) == pytest.approx(22.93, abs=0.01)
    with pytest.raises(ValueError, match="plausible"):
        source_energy_kwh_per_m2(HeatSource.GAS_BOILER, q_h, hours, efficiency=0.0)


def test_substitution_and_emissions_like_chapter_5() -> None:
    # digest C9: Harbin 500×10⁴ m² × (12.84 − 4.56) kgce = 4.14×10⁴ tce; CO₂ 10.23×10⁴ t
    saved_t = 500e4 * substitution_kgce(12.84, 4.56) / 1000
    assert saved_t == pytest.approx(4.14e4, rel=2e-3)
    assert emissions_t(saved_t).co2_t == pytest.approx(10.23e4, rel=3e-3)


def test_capital_recovery_factor_values() -> None:
    assert capital_recovery_factor(0.08, 50) == pytest.approx(0.08174, abs=1e-5)  # digest C12
    assert capital_recovery_factor(0.0, 10) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="positive"):
        capital_recovery_factor(0.08, 0)


@given(st.floats(1.0, 1000.0), st.floats(0.0, 100.0), st.integers(1, 60), st.floats(0.01, 0.2))
def test_annualised_cost_of_investment_plus_constant_opex(capex: float, opex: float, n: int,
                                                          rate: float) -> None:
    flows = [capex] + [opex] * n
    expected = capex * capital_recovery_factor(rate, n) + opex
    assert annualised_cost(flows, rate) == pytest.approx(expected, rel=1e-9)


@given(st.floats(50.0, 500.0), st.floats(5.0, 80.0), st.integers(5, 50))
def test_irr_zeroes_npv_and_payback_is_consistent(capex: float, net: float, n: int) -> None:
    flows = [-capex] + [net] * n
    irr = internal_rate_of_return(flows)
    if irr is not None:
        assert abs(net_present_value(flows, irr)) < 1e-6 * capex
    payback = dynamic_payback_years(flows, 0.08)
    npv = net_present_value(flows, 0.08)
    assert (payback is not None) == (npv >= 0)
    if payback is not None:
        assert 0 < payback <= n
        assert net_present_value([-capex] + [net] * int(payback), 0.08) <= 1e-9


def test_components_renew_within_the_period() -> None:
    flows = cash_outflows([Component(100.0, 50), Component(20.0, 15)], 5.0, 50)
    assert flows[0] == 120.0 and flows[15] == 25.0 and flows[30] == 25.0 and flows[45] == 25.0
    assert flows[1] == 5.0
    ac = component_annualised_cost([Component(100.0, 50)], 5.0)
    assert ac == pytest.approx(100 * 0.081743 + 5.0, rel=1e-4)


def test_price_sensitivity_like_the_plan() -> None:
    # 004 L2148: Harbin Songnen AC 21.07 → 17.53 when the price goes 0.5758 → 0.35 (digest C13)
    assert 21.07 + price_sensitivity(9.03, 0.5758, 0.35) == pytest.approx(17.53, abs=0.01)


@given(st.floats(0.1, 1000.0), st.floats(2.0, 10.0), st.floats(10.0, 90.0), st.floats(1.0, 20.0))
def test_units_are_consistent(flow: float, factor: float, back: float, delta: float) -> None:
    from plant.models.coal import GJ_PER_KWH, STANDARD_COAL_MJ_PER_KGCE
    from plant.models.water import heat_power_kw

    # heat power is linear in volume flow; kWh and GJ agree; fuel coal is energy over q_ce
    q1 = heat_power_kw(flow, back + delta, back)
    assert heat_power_kw(flow * factor, back + delta, back) == pytest.approx(q1 * factor)
    energy_kwh = q1 * 1.0  # one hour
    assert fuel_kgce(energy_kwh) == pytest.approx(energy_kwh * GJ_PER_KWH * 1000.0
                                                  / STANDARD_COAL_MJ_PER_KGCE)
