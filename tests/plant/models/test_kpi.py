"""Station KPIs against independent calculations on synthetic data."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iapws import IAPWS97

from plant.models.heat_sources import HeatSource
from plant.models.kpi import (
    avoided,
    cop_series,
    efficiency,
    ground_heat_balance,
    heat_kwh,
    integrate_kwh,
    reinjection_ratio,
    reinjection_ratio_windows,
    specific_per_m2,
)

RNG = np.random.default_rng(42)
DAY = 86400


def _day_of_heat() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(0, DAY, 10.0)
    flow = 65.0 + 5.0 * np.sin(2 * np.pi * t / DAY)
    back = 45.0 + RNG.normal(0, 0.2, t.size)
    supply = back + 12.0 + 3.0 * np.cos(2 * np.pi * t / DAY)
    good = RNG.random(t.size) > 0.05
    return flow, supply, back, good


def test_heat_of_a_day_matches_iapws_enthalpy_sum() -> None:
    flow, supply, back, good = _day_of_heat()
    total = heat_kwh(flow, supply, back, 10.0, good)
    # independent: mass at the return meter × IAPWS-IF97 enthalpy difference, sample by sample
    step = 40  # every 40th sample keeps the reference fast; scale its duration to match
    idx = np.flatnonzero(good)[::step]
    reference = 0.0
    for i in idx:
        w_back = IAPWS97(T=back[i] + 273.15, P=0.5)
        w_supply = IAPWS97(T=supply[i] + 273.15, P=0.5)
        reference += flow[i] / 3600 * w_back.rho * (w_supply.h - w_back.h) * 10.0 * step / 3600
    assert total.value == pytest.approx(reference, rel=5e-3)
    assert total.coverage == pytest.approx(good.mean())


def test_bad_samples_are_excluded_not_zeroed() -> None:
    power = np.array([100.0, 100.0, 0.0, 100.0])
    good = np.array([True, True, True, False])
    total = integrate_kwh(power, 900.0, good)
    assert total.value == pytest.approx(50.0)
    assert total.coverage == pytest.approx(0.75)
    assert integrate_kwh(np.array([100.0, math.nan]), 3600.0).value == pytest.approx(100.0)


def test_irregular_durations_and_mask_shape_checked() -> None:
    total = integrate_kwh(np.array([10.0, 20.0]), np.array([3600.0, 1800.0]))
    assert total.value == pytest.approx(20.0)
    with pytest.raises(ValueError, match="shape"):
        integrate_kwh(np.array([1.0, 2.0]), 1.0, np.array([True]))


def test_cop_and_scop_boundaries_like_case_132() -> None:
    # case 1.32 reports COP 5.21 and SCOP 4.66 (003 L3072); pick pump energies that give them
    heat = 5126.91e3 / 3.6  # kWh
    unit = heat / 5.21
    pumps = heat / 4.66 - unit
    result = efficiency(heat, unit, source_pumps_kwh=pumps * 0.4, user_pumps_kwh=pumps * 0.6)
    assert result.unit_cop == pytest.approx(5.21)
    assert result.unit_cop > result.scop_with_source_pumps > result.system_scop
    assert result.system_scop == pytest.approx(4.66)
    with pytest.raises(ValueError, match="positive"):
        efficiency(heat, 0.0)


def test_cop_series_is_nan_while_stopped() -> None:
    series = cop_series(np.array([500.0, 0.0, 300.0]), np.array([100.0, 0.0, 0.5]), 1.0)
    assert series[0] == 5.0 and np.isnan(series[1]) and np.isnan(series[2])


def test_reinjection_ratio_against_a_loop() -> None:
    n = 5000
    produced = RNG.uniform(50, 90, n)
    reinjected = produced * RNG.uniform(0.9, 1.0, n)
    good_p = RNG.random(n) > 0.1
    good_r = RNG.random(n) > 0.1
    result = reinjection_ratio(produced, reinjected, 60.0, good_p, good_r)
    p_sum = r_sum = 0.0
    used = 0
    for i in range(n):
        if good_p[i] and good_r[i]:
            p_sum += produced[i] / 60
            r_sum += reinjected[i] / 60
            used += 1
    assert result.produced_m3 == pytest.approx(p_sum)
    assert result.ratio == pytest.approx(r_sum / p_sum)
    assert result.coverage == pytest.approx(used / n)


def test_lost_reinjection_meter_is_not_a_deficit() -> None:
    produced = np.full(100, 80.0)
    reinjected = np.full(100, 80.0)
    reinjected[50:] = 0.0  # the meter failed and reads zero, flagged bad
    good = np.ones(100, dtype=bool)
    good_r = np.arange(100) < 50
    result = reinjection_ratio(produced, reinjected, 1.0, good, good_r)
    assert result.ratio == pytest.approx(1.0)
    assert result.coverage == pytest.approx(0.5)


def test_reinjection_windows_match_per_window_ratio() -> None:
    t = np.arange(0, 3 * 3600, 30.0)
    produced = np.full(t.size, 60.0)
    reinjected = np.where(t < 3600, 60.0, np.where(t < 7200, 45.0, 30.0))
    good = RNG.random(t.size) > 0.2
    starts, ratio, coverage = reinjection_ratio_windows(
        t, produced, reinjected, 3600.0, production_good=good)
    assert starts.tolist() == [0.0, 3600.0, 7200.0]
    assert ratio == pytest.approx([1.0, 0.75, 0.5])
    for w in range(3):
        in_window = (t >= w * 3600) & (t < (w + 1) * 3600)
        assert coverage[w] == pytest.approx(good[in_window].mean())


def test_specific_consumption_and_avoided_coal() -> None:
    assert specific_per_m2(5126.91, 13215.0) == pytest.approx(0.388, rel=1e-3)
    heat = 1000.0
    result = avoided(heat, 200.0)
    coal = result[HeatSource.COAL_BOILER]
    # independent: 1.05 × heat / 0.70 in MJ over 29.307 MJ/kgce, minus 200 kWh × 0.307
    assert coal.coal_kgce == pytest.approx(1.05 * heat / 0.7 * 3.6 / 29.307 - 200 * 0.307)
    assert coal.co2_t == pytest.approx(coal.coal_kgce / 1000 * 2.47)
    assert result[HeatSource.ELECTRIC_BOILER].comparison_kgce == pytest.approx(1.05 * heat * 0.307)


def test_ground_balance_of_a_year() -> None:
    hours = np.arange(8760)
    ground = np.where(hours < 4380, 100.0, -40.0)
    balance = ground_heat_balance(ground, 3600.0)
    assert balance.extracted_kwh == pytest.approx(438000.0)
    assert balance.rejected_kwh == pytest.approx(175200.0)
    assert balance.imbalance == pytest.approx(0.6)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 500.0), min_size=2, max_size=50), st.floats(1.0, 3600.0))
def test_energy_is_additive_over_split_intervals(power: list[float], dt: float) -> None:
    series = np.array(power)
    whole = integrate_kwh(series, dt).value
    half = len(series) // 2
    parts = integrate_kwh(series[:half], dt).value if half else 0.0
    parts += integrate_kwh(series[half:], dt).value
    assert whole == pytest.approx(parts, abs=1e-9)
