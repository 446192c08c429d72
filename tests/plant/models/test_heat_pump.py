import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plant.models.heat_pump import (
    MIN_LIFT_K,
    carnot_cop,
    carnot_fraction,
    cop_from_rating,
    expected_cop,
    fraction_from_history,
    part_load_factor,
)
from plant.site import HeatPump

HP = HeatPump(
    id="HP1", kind="heat_pump", stage=1, rated_heat_kw=735.0, rated_cop=5.2,
    rated_source_out_temp_c=16.0, rated_sink_out_temp_c=60.0,
)


def test_carnot_cop_on_kelvin() -> None:
    assert carnot_cop(10.0, 50.0) == pytest.approx(323.15 / 40.0)


def test_rated_point_returns_rated_cop() -> None:
    assert cop_from_rating(HP, 16.0, 60.0) == pytest.approx(5.2)


def test_small_lift_is_floored() -> None:
    assert carnot_cop(40.0, 41.0) == pytest.approx((41.0 + 273.15) / MIN_LIFT_K)


def test_part_load_factor_en14825() -> None:
    assert part_load_factor(1.0) == pytest.approx(1.0)
    assert part_load_factor(0.5) == pytest.approx(0.5 / (0.45 + 0.1))
    with pytest.raises(ValueError, match="above 0"):
        part_load_factor(0.0)


def test_fraction_refuses_cop_above_carnot() -> None:
    with pytest.raises(ValueError, match="Carnot"):
        carnot_fraction(20.0, 10.0, 60.0)


def test_fraction_recovered_from_history() -> None:
    rng = np.random.default_rng(1)
    source = rng.uniform(5, 30, 500)
    sink = source + rng.uniform(15, 50, 500)
    load = rng.uniform(0.3, 1.0, 500)
    cop = np.asarray(expected_cop(source, sink, 0.47, load))
    assert fraction_from_history(source, sink, cop, load) == pytest.approx(0.47)


temps = st.floats(-5.0, 60.0)


@given(temps, st.floats(5.0, 60.0), st.floats(0.05, 0.9), st.floats(0.05, 1.0))
def test_cop_above_one_and_below_carnot(source: float, lift: float, fraction: float, load: float) -> None:
    cop = expected_cop(source, source + lift, fraction, load)
    assert 1.0 < cop < carnot_cop(source, source + lift)


@given(temps, st.floats(5.0, 60.0), st.floats(0.1, 20.0), st.floats(0.05, 0.9))
def test_cop_falls_as_lift_grows(source: float, lift: float, more: float, fraction: float) -> None:
    assert expected_cop(source, source + lift + more, fraction) < expected_cop(
        source, source + lift, fraction
    )


def test_vectorised_matches_scalar() -> None:
    source = np.array([5.0, 15.0, 25.0])
    sink = np.array([45.0, 55.0, 65.0])
    vec = np.asarray(cop_from_rating(HP, source, sink, np.array([0.5, 0.8, 1.0])))
    scal = [cop_from_rating(HP, float(a), float(b), c) for a, b, c in zip(source, sink, [0.5, 0.8, 1.0], strict=True)]
    assert vec == pytest.approx(scal)
