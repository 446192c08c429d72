"""The model-backed expectations and instrument checks, against hand-worked figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controller.expect import (
    calibrate_cop,
    cop_expected,
    days_to_limit,
    exchanger_conductance_kw_per_k,
    flat_line,
    head_m,
    injectivity_index,
    log_mean_dt_k,
    mean_offset,
    reinjection_capacity_m3h,
    trend,
)
from plant.models.heat_pump import design_pressure_ratio


def test_injectivity_is_flow_per_metre_of_rise() -> None:
    # 70 m³/h raising the water from 55 m down to 48 m: 7 m of rise
    assert injectivity_index(70.0, 55.0, 48.0, 0.0) == pytest.approx(10.0)
    # water at the wellhead and 98.0665 kPa on it: 55 m + 10 m of water
    assert head_m(98.0665) == pytest.approx(10.0)
    assert injectivity_index(130.0, 55.0, 0.0, 98.0665) == pytest.approx(2.0)
    # a well that barely takes anything cannot be judged
    assert injectivity_index(1.0, 55.0, 54.9, 0.0) is None
    assert reinjection_capacity_m3h(2.0, 55.0) == 110.0
    assert reinjection_capacity_m3h(2.0, 55.0, 100.0) == 310.0


def test_conductance_from_the_log_mean_temperature_difference() -> None:
    # balanced counterflow: both ends 3 K apart, so LMTD = 3 K
    assert log_mean_dt_k(60.0, 40.0, 37.0, 57.0) == pytest.approx(3.0)
    assert exchanger_conductance_kw_per_k(900.0, 60.0, 40.0, 37.0, 57.0) == pytest.approx(300.0)
    # ends 10 K and 5 K: (10 - 5) / ln 2
    assert log_mean_dt_k(60.0, 40.0, 35.0, 50.0) == pytest.approx(5.0 / math.log(2.0))
    # crossed temperatures have no LMTD
    assert log_mean_dt_k(40.0, 30.0, 35.0, 45.0) is None


def test_expected_cop_and_a_calibration_on_own_history() -> None:
    # 10 -> 45 °C water at full load: refrigerant 3 K beyond each, 7 -> 48 °C, so Carnot
    # 321.15 / 41; a fraction of 0.5 of the lifting part
    carnot = 321.15 / 41.0
    # at the pressure ratio its compressor is built for, so no over- or under-compression
    built_in = design_pressure_ratio(10.0, 45.0)
    assert cop_expected(0.5, 10.0, 45.0, 1.0, built_in) == pytest.approx(
        1.0 + 0.5 * (carnot - 1.0))
    rng = np.random.default_rng(3)
    source = rng.uniform(5.0, 15.0, 400)
    sink = rng.uniform(40.0, 50.0, 400)
    load = rng.uniform(0.3, 1.0, 400)
    truth = np.array([cop_expected(0.42, s, k, x) for s, k, x in zip(source, sink, load,
                                                                      strict=True)])
    measured = truth * (1.0 + rng.normal(0.0, 0.01, 400))
    measured[:50] = 0.0  # stopped: left out
    found = calibrate_cop(source, sink, measured, load)
    assert found.fraction == pytest.approx(0.42, rel=0.01)
    assert found.samples == 350
    assert 0.005 < found.residual_sd < 0.02
    with pytest.raises(ValueError, match="running samples"):
        calibrate_cop(source[:60], sink[:60], measured[:60], load[:60])


def test_trend_and_days_to_limit() -> None:
    # 10 kPa rising 2 kPa a day, sampled every 6 h over 3 days
    days = np.arange(13) * 0.25
    values = np.asarray(10.0 + 2.0 * days, dtype=np.float64)
    fitted = trend(values, np.ones(13, dtype=np.bool_), 6 * 3600.0)
    assert fitted is not None
    slope, now = fitted
    assert slope == pytest.approx(2.0) and now == pytest.approx(16.0)
    assert days_to_limit(slope, now, 30.0, "high") == pytest.approx(7.0)
    assert days_to_limit(-1.0, now, 30.0, "high") == math.inf
    assert days_to_limit(slope, 31.0, 30.0, "high") == 0.0
    assert days_to_limit(-0.5, 5.0, 3.0, "low") == pytest.approx(4.0)
    assert trend(values, np.zeros(13, dtype=np.bool_), 60.0) is None


def test_a_flat_line_and_an_offset_between_redundant_sensors() -> None:
    usable = np.ones(12, dtype=np.bool_)
    assert flat_line(np.full(12, 41.7), usable, 0.0, 10) is True
    assert flat_line(41.7 + np.linspace(0.0, 0.3, 12), usable, 0.0, 10) is False
    assert flat_line(np.zeros(12), usable, 0.0, 10) is False  # a stopped machine's zero
    assert flat_line(np.full(12, 41.7), usable, 0.0, 13) is None
    a = np.array([45.0, 46.0, 47.0, 48.0])
    b = a - 1.5
    assert mean_offset(a, b, np.ones(4, dtype=np.bool_), 3) == pytest.approx(1.5)
    assert mean_offset(a, b, np.array([True, False, False, True]), 3) is None
