import itertools
import math

import numpy as np
import pytest

from plant.models.borehole import (
    annulus_profile_c,
    borehole_outlet_temp_c,
    erfc,
    exp1,
    expected_outlet_decline,
    finite_line_source_response,
    fluid_temps_for_extraction,
    ground_modes,
    initial_ground_state,
    line_source_response,
    profile_at_depth_c,
    step_ground,
    undisturbed_mean_temp_c,
    wall_temp_at_depth_c,
)
from plant.site import BoreholeField, CoaxialBorehole

# Case 1.32 (Xiji, 003 L2914-2926, L2841): 2500 m, Ø 220 mm bit, heat flow ~67 mW/m²;
# with a conductivity of 2.2 W/(m·K) (sandstone/mudstone) the gradient is 67e-3/2.2 = 3.05 K/100 m.
CONDUCTIVITY = 2.2
CASE = CoaxialBorehole(
    id="DBHE1", kind="coaxial_borehole", depth_m=2500.0, surface_ground_temp_c=9.0,
    geothermal_gradient_k_per_100m=67e-3 / CONDUCTIVITY * 100.0, rated_flow_m3h=36.0,
    rated_extraction_kw=550.0, ground_conductivity_w_per_mk=CONDUCTIVITY,
    ground_heat_capacity_mj_per_m3k=2.3, borehole_diameter_m=0.22,
)
FIELD = BoreholeField(
    id="BF1", kind="borehole_field", borehole_count=100, depth_m=120.0, spacing_m=5.0,
    undisturbed_ground_temp_c=10.0, rated_flow_m3h=150.0,
)


def test_exp1_against_numerical_integral() -> None:
    for x in (1e-4, 0.01, 0.3, 1.0, 1.7, 5.0, 20.0):
        s = np.logspace(np.log10(x), np.log10(x + 60.0), 400001)
        integral = np.trapezoid(np.exp(-s) / s, s)
        assert exp1(np.array([x]))[0] == pytest.approx(integral, rel=1e-5)


def test_erfc_against_math() -> None:
    x = np.linspace(0.0, 6.0, 61)
    assert erfc(x) == pytest.approx([math.erfc(v) for v in x], abs=2e-7)


def test_finite_line_source_limits_and_a_direct_double_integral() -> None:
    k, alpha, h = 1.8, 1.8 / 2.2e6, 120.0
    # short times: the infinite line source, less the end effects (~ thermal reach / H)
    week = np.array([7 * 86400.0])
    fls = finite_line_source_response(week, 0.075, h, alpha, k)[0]
    assert fls == pytest.approx(line_source_response(week, 0.075, alpha, k)[0], rel=0.01)
    # very long times: a steady state, unlike the infinite line source
    late = finite_line_source_response(np.array([3e10, 3e11]), 0.075, h, alpha, k)
    assert late[1] == pytest.approx(late[0], rel=0.02)
    # a direct double integral over source and receiver depths, with the mirror image
    t, d = 3.15e8, 5.0
    z = np.linspace(0.0, h, 801)
    zs, zr = np.meshgrid(z, z)
    direct = np.hypot(d, zr - zs)
    mirror = np.hypot(d, zr + zs)
    scale = 2.0 * math.sqrt(alpha * t)
    kernel = erfc(direct / scale) / direct - erfc(mirror / scale) / mirror
    inner = np.trapezoid(kernel, z, axis=1)
    reference = np.trapezoid(inner, z) / h / (4 * math.pi * k)
    assert finite_line_source_response(np.array([t]), d, h, alpha, k)[0] == pytest.approx(
        reference, rel=2e-3)


@pytest.mark.parametrize("b", [CASE, FIELD], ids=["coaxial", "field"])
def test_modes_reproduce_the_line_source(b: CoaxialBorehole | BoreholeField) -> None:
    t = np.logspace(np.log10(3600), np.log10(50 * 3.15e7), 60)
    k = b.ground_conductivity_w_per_mk
    alpha = k / (b.ground_heat_capacity_mj_per_m3k * 1e6)
    if isinstance(b, CoaxialBorehole):
        reference = line_source_response(t, 0.11, alpha, k)
    else:
        # brute-force superposition of finite line sources over every pair of the 10 × 10 grid
        xy = np.array([(i * 5.0, j * 5.0) for i in range(10) for j in range(10)])
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        d = np.where(d == 0, 0.075, d).ravel()
        unique, counts = np.unique(np.round(d, 9), return_counts=True)
        reference = sum(
            c * finite_line_source_response(t, float(x), 120.0, alpha, k, points=2000)
            for x, c in zip(unique, counts, strict=True)
        ) / 100
    assert ground_modes(b).step_response(t) == pytest.approx(reference, rel=5e-3)


def test_a_neighbouring_coaxial_borehole_adds_its_line_source_at_its_distance() -> None:
    # two coaxial boreholes 12.5 m apart (case 1.30 has them 10-15 m apart, 003 L2552-2556),
    # against the exponential integral by direct quadrature, E1(x) = ∫0^∞ exp(−x·e^u) du, not
    # the model's own series
    def exp1(x: np.ndarray) -> np.ndarray:
        out = []
        for value in x:
            u = np.linspace(0.0, math.log(60.0 / value) if value < 60.0 else 1.0, 40001)
            out.append(np.trapezoid(np.exp(-value * np.exp(u)), u))
        return np.array(out)

    pair = CASE.model_copy(update={"neighbour_distances_m": (12.5,)})
    k = CASE.ground_conductivity_w_per_mk
    alpha = k / (CASE.ground_heat_capacity_mj_per_m3k * 1e6)
    t = np.logspace(np.log10(3600), np.log10(50 * 3.15e7), 60)

    def ils(r: float) -> np.ndarray:
        return np.asarray(exp1(r * r / (4 * alpha * t)) / (4 * math.pi * k))

    assert ground_modes(pair).step_response(t) == pytest.approx(ils(0.11) + ils(12.5), rel=5e-3)
    # within a season the neighbour is not felt; after ten years it is
    season, decade = np.array([150 * 86400.0]), np.array([10 * 3.15e7])
    alone = ground_modes(CASE)
    assert ground_modes(pair).step_response(season)[0] < 1.01 * alone.step_response(season)[0]
    assert ground_modes(pair).step_response(decade)[0] > 1.1 * alone.step_response(decade)[0]


def test_stepping_matches_convolution_of_a_load_history() -> None:
    loads = [300.0, 0.0, 550.0, -100.0, 200.0]
    state = initial_ground_state(CASE)
    for load in loads:
        state = step_ground(CASE, state, load, 10 * 86400.0)
    # superposition of steps, each response from the analytic line source
    k, alpha = CONDUCTIVITY, CONDUCTIVITY / 2.3e6
    ends = np.arange(len(loads), 0, -1) * 10 * 86400.0
    steps = np.diff([0.0, *loads]) * 1000.0 / CASE.depth_m
    expected = sum(dq * line_source_response(np.array([t]), 0.11, alpha, k)[0] for dq, t in zip(steps, ends, strict=True))
    assert state.wall_drop_k == pytest.approx(expected, rel=5e-3)
    assert state.extracted_kwh == pytest.approx((300 + 550 + 200) * 240.0)
    assert state.rejected_kwh == pytest.approx(100 * 240.0)
    assert state.net_extracted_kwh == pytest.approx(950 * 240.0)


def test_step_refuses_bad_input() -> None:
    state = initial_ground_state(CASE)
    with pytest.raises(ValueError, match="positive"):
        step_ground(CASE, state, 100.0, 0.0)
    with pytest.raises(ValueError, match="not a number"):
        step_ground(CASE, state, math.nan, 1.0)


def test_undisturbed_borehole_outlet_and_energy_balance() -> None:
    state = initial_ground_state(CASE)
    assert undisturbed_mean_temp_c(CASE) == pytest.approx(9.0 + 3.045 * 12.5, rel=1e-3)
    outlet = borehole_outlet_temp_c(CASE, state, 10.0, 36.0)
    bottom = 9.0 + 3.045 * 25
    assert 10.0 < outlet < bottom
    inlet, out = fluid_temps_for_extraction(CASE, state, 400.0, 36.0)
    assert borehole_outlet_temp_c(CASE, state, inlet, 36.0) == pytest.approx(out, abs=0.05)


def test_rejection_warms_the_field_and_extraction_cools_it() -> None:
    cold = step_ground(FIELD, initial_ground_state(FIELD), 500.0, 90 * 86400.0)
    warm = step_ground(FIELD, initial_ground_state(FIELD), -500.0, 90 * 86400.0)
    assert cold.wall_drop_k > 0 > warm.wall_drop_k
    assert borehole_outlet_temp_c(FIELD, cold, 5.0, 150.0) < borehole_outlet_temp_c(
        FIELD, warm, 5.0, 150.0
    )


def test_field_neighbours_deepen_the_drop() -> None:
    single = FIELD.model_copy(update={"borehole_count": 1, "depth_m": 12000.0})
    year = 3.15e7
    assert ground_modes(FIELD).step_response(np.array([year]))[0] > ground_modes(single).step_response(
        np.array([year])
    )[0]


def test_case_132_outlet_decline_under_conduction() -> None:
    """Case 1.32 reports 33.6 → 27.7 °C over four months at ~548 kW (003 L3055-3072).

    Conduction alone cannot deliver 220 W/m from this borehole for four months (the line
    source needs ~60 K of wall cooling), so at the reported load the model falls far below
    the case; the case's temperature trajectory instead corresponds to 150-350 kW. This
    test pins both facts; docs/models.md explains the deviation.
    """
    hours = 120 * 24
    inlet = np.linspace(20.4, 15.9, hours)
    at_case_load = expected_outlet_decline(CASE, np.full(hours, 548.0), 3600.0, inlet)
    assert at_case_load[-1] < 27.7 - 10.0
    outlets = {
        q: expected_outlet_decline(CASE, np.full(hours, q), 3600.0, inlet)
        for q in (150.0, 350.0)
    }
    starts = [o[: 24 * 14].mean() for o in outlets.values()]
    ends = [o[-24 * 14 :].mean() for o in outlets.values()]
    assert min(starts) < 33.6 < max(starts)
    assert min(ends) < 27.7 < max(ends)
    for o in outlets.values():
        assert np.all(np.diff(o[24:]) < 0.01)  # the outlet only declines under steady load


def test_expected_outlet_decline_without_inlet_delivers_the_load() -> None:
    loads = np.full(48, 300.0)
    outlets = expected_outlet_decline(CASE, loads, 3600.0)
    assert outlets[-1] < outlets[0]


def test_coaxial_load_is_drawn_from_depth_and_the_shallow_rock_is_warmed() -> None:
    state = initial_ground_state(CASE)
    for _ in range(60):
        state = step_ground(CASE, state, 100.0, 86400.0, 20.0)
    drops = state.segment_drops_k
    assert len(drops) == 10
    # at light load the returning fluid is warmer than the shallow rock: the top gains heat
    assert drops[0] < 0.0
    assert all(b > a for a, b in itertools.pairwise(drops))
    # the segments share out the load exactly: the mean drop is the uniform-load response
    uniform = line_source_response(np.array([60 * 86400.0]), 0.11, CONDUCTIVITY / 2.3e6,
                                   CONDUCTIVITY)[0] * 100e3 / CASE.depth_m
    assert state.wall_drop_k == pytest.approx(uniform, rel=5e-3)
    assert state.extracted_kwh == pytest.approx(100.0 * 60 * 24)
    # a uniform wall drop would leave the hot bottom too warm: the outlet is lower than that
    assert wall_temp_at_depth_c(CASE, state, 2490.0) < 9.0 + 3.045 * 24.9 - state.wall_drop_k


def test_annulus_profile_runs_from_inlet_to_outlet() -> None:
    state = initial_ground_state(CASE)
    for _ in range(30):
        state = step_ground(CASE, state, 300.0, 86400.0, 20.0)
    inlet, outlet = fluid_temps_for_extraction(CASE, state, 300.0, 20.0)
    annulus = annulus_profile_c(CASE, state, inlet, 20.0)
    profile = [profile_at_depth_c(CASE, annulus, z) for z in range(0, 2501, 250)]
    assert profile[0] == pytest.approx(inlet)
    assert profile[-1] == pytest.approx(outlet, abs=0.05)
    assert profile[-1] > profile[5] > profile[1]
