import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plant.models.heat_pump import (
    STANDARD_PRESSURE_RATIO,
    carnot_cop,
    carnot_fraction,
    cop_from_rating,
    design_pressure_ratio,
    expected_cop,
    fraction_from_history,
    max_evaporating_temp_c,
    over_compression_ratio,
    saturation_pressure_ratio,
    standing_power_share,
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


def test_r134a_saturation_pressures_match_the_refrigerant_tables() -> None:
    # ASHRAE Handbook Fundamentals, R134a: 20 °C 571.7 kPa, 40 °C 1016.6 kPa, -10 °C 200.6 kPa
    assert saturation_pressure_ratio(20.0, 40.0) == pytest.approx(1016.6 / 571.7, rel=0.01)
    assert saturation_pressure_ratio(-10.0, 40.0) == pytest.approx(1016.6 / 200.6, rel=0.02)


def test_a_fixed_built_in_ratio_costs_work_off_its_design_ratio_only() -> None:
    built_in = design_pressure_ratio(16.0, 60.0)
    assert over_compression_ratio(built_in, built_in) == pytest.approx(1.0)
    assert over_compression_ratio(0.6 * built_in, built_in) > 1.05
    assert over_compression_ratio(1.4 * built_in, built_in) > 1.0


def test_no_lift_floor_and_a_finite_cop_at_no_lift() -> None:
    # the COP keeps rising as the lift shrinks, with no floor, and stays finite at no lift
    # (water warmer on the source side than on the sink side is a zero refrigerant lift); the
    # expansion valve's limit is set out of the way here
    unit = HP.model_copy(update={"max_evaporating_temp_c": 60.0})
    cops = [float(cop_from_rating(unit, 30.0, 30.0 + lift)) for lift in (12.0, 8.0, 4.0, 1.0)]
    assert all(a < b for a, b in itertools.pairwise(cops))
    at_no_lift = float(cop_from_rating(unit, 40.0, 34.0))
    assert np.isfinite(at_no_lift) and cops[-1] < at_no_lift < 25.0


def test_a_source_warmer_than_the_valves_limit_evaporates_at_the_limit() -> None:
    # rated 16 °C leaving water: refrigerant at 13 °C, the MOP 10 K above it by default
    assert max_evaporating_temp_c(HP) == pytest.approx(23.0)
    at_limit = float(cop_from_rating(HP, 23.0 + 3.0 * 0.5, 40.0, 0.5))
    warmer = [float(cop_from_rating(HP, source, 40.0, 0.5)) for source in (30.0, 45.0, 60.0)]
    assert warmer == pytest.approx([at_limit] * 3)
    assert float(cop_from_rating(HP, 20.0, 40.0, 0.5)) < at_limit
    # a site states its compressor's own envelope
    wider = HP.model_copy(update={"max_evaporating_temp_c": 30.0})
    assert float(cop_from_rating(wider, 30.0, 40.0, 0.5)) > at_limit


def test_standing_power_is_a_tenth_of_the_rated_input_at_every_lift() -> None:
    # EN 14825's default Cd = 0.9: a tenth of the full-load input stands at part load. At the
    # rated lift the power at half load is close to EN 14825's 0.9·0.5 + 0.1 of full power
    # (a little less: the standing power's heat is recovered in the condenser)
    rated_kw = 735.0 / 5.2
    half = 0.5 * 735.0 / float(cop_from_rating(HP, 16.0, 60.0, 0.5))
    assert standing_power_share(5.2) * 735.0 == pytest.approx(0.1 * rated_kw)
    assert 0.50 * rated_kw < half < 0.55 * rated_kw
    # at a small lift the standing power stays: the same 25 % load costs more than a tenth of
    # the rated input, so the COP stays far below the cycle's
    small_lift = 0.25 * 735.0 / float(cop_from_rating(HP, 30.0, 36.0, 0.25))
    assert small_lift > 0.1 * rated_kw
    assert float(cop_from_rating(HP, 30.0, 36.0, 0.25)) < float(cop_from_rating(HP, 30.0, 36.0, 1.0))
    with pytest.raises(ValueError, match="above 0"):
        cop_from_rating(HP, 30.0, 36.0, 0.0)


def test_fraction_refuses_cop_above_carnot() -> None:
    with pytest.raises(ValueError, match="Carnot"):
        carnot_fraction(20.0, 10.0, 60.0)


def test_fraction_recovered_from_history() -> None:
    rng = np.random.default_rng(1)
    source = rng.uniform(5, 30, 500)
    sink = source + rng.uniform(15, 50, 500)
    load = rng.uniform(0.3, 1.0, 500)
    cop = np.asarray(expected_cop(source, sink, 0.47, load, 3.2, standing_share=0.02))
    assert fraction_from_history(source, sink, cop, load, 3.2,
                                 standing_share=0.02) == pytest.approx(0.47)


temps = st.floats(-5.0, 60.0)


@given(temps, st.floats(5.0, 60.0), st.floats(0.05, 0.9), st.floats(0.05, 1.0),
       st.floats(0.0, 0.04))
def test_cop_above_one_and_below_carnot(source: float, lift: float, fraction: float, load: float,
                                        standing: float) -> None:
    cop = expected_cop(source, source + lift, fraction, load, standing_share=standing)
    assert 1.0 < cop < carnot_cop(source, source + lift)


@given(temps, st.floats(5.0, 60.0), st.floats(0.1, 20.0), st.floats(0.05, 0.9))
def test_cop_falls_as_lift_grows(source: float, lift: float, more: float, fraction: float) -> None:
    assert expected_cop(source, source + lift + more, fraction, standing_share=0.02) < expected_cop(
        source, source + lift, fraction, standing_share=0.02
    )


def test_vectorised_matches_scalar() -> None:
    source = np.array([5.0, 15.0, 25.0])
    sink = np.array([45.0, 55.0, 65.0])
    vec = np.asarray(cop_from_rating(HP, source, sink, np.array([0.5, 0.8, 1.0])))
    scal = [cop_from_rating(HP, float(a), float(b), c) for a, b, c in zip(source, sink, [0.5, 0.8, 1.0], strict=True)]
    assert vec == pytest.approx(scal)


def test_one_value_path_is_bit_identical_to_the_array_path() -> None:
    """A single operating point in plain floats gives exactly the array's element, lift by lift."""
    sources = np.arange(-8.0, 40.0, 0.7)
    lifts = np.concatenate(([-5.0, -1e-9, 0.0, 1e-9, 1e-7], np.arange(0.3, 70.0, 1.9)))
    loads = np.array([0.01, 0.05, 0.1, 0.2, 0.37, 0.5, 0.83, 1.0, 1.4])
    source, lift, load = (a.ravel() for a in np.meshgrid(sources, lifts, loads))
    sink = source + lift
    checked = 0
    for max_evaporating in (np.inf, 12.0):
        for fraction, built_in, standing in ((0.5, STANDARD_PRESSURE_RATIO, 0.0),
                                             (0.43, 2.7, standing_power_share(4.5))):
            array = expected_cop(source, sink, fraction, load, built_in,
                                 standing_share=standing, max_evaporating_c=max_evaporating)
            for i in range(source.size):
                one = expected_cop(float(source[i]), float(sink[i]), fraction, float(load[i]),
                                   built_in, standing_share=standing,
                                   max_evaporating_c=max_evaporating)
                assert type(one) is float
                assert one == array[i], (source[i], sink[i], load[i])
                checked += 1
    assert checked == 4 * sources.size * lifts.size * loads.size
