"""The Jining shallow field (case 1.19, 003 L72-229) against an independent ground calculation.

The oracle is Claesson & Javed's (2011) closed form of the finite line source averaged over a
borehole's length, ``(1/H)∫ exp(−d²s²)·(4·ierf(Hs) − ierf(2Hs))/s² ds`` from ``1/√(4αt)``,
integrated by scipy's adaptive quadrature and superposed over every pair of boreholes of the
zone's 30 × 30 grid. The model computes the same physics another way (an integral over depth
separation on a fixed grid, the neighbours' finite-length correction interpolated in
log-distance, the sum fitted to first-order modes), so agreement checks the g-function, the
interference of the 5 m grid and the fluid's exchange with the wall.

With the model confirmed, the same oracle answers why the field once ran out of heat: the
buildings asked 54 % more heat in a season than the design's own figure (003 L140) that the
field was sized for (L142).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from plant.models.borehole import (
    FIELD_RB_MK_PER_W,
    fluid_temps_for_extraction,
    ground_modes,
    initial_ground_state,
    step_ground,
)
from plant.models.demand import heat_index_for_season_w_per_m2
from plant.site import BoreholeField, HeatPump, load_site
from simulator.climate import fit_seasonal_curve

SITE = load_site(Path(__file__).resolve().parents[3] / "sites" / "shallow-field.yaml")
ZONES = [e for e in SITE.equipment if isinstance(e, BoreholeField)]
ZONE = ZONES[0]
UNITS = [e for e in SITE.equipment if isinstance(e, HeatPump)]
DESIGN_SEASON_HEAT_KWH = 20_922_000.0  # 003 L140: 2092.2e4 kWh, internal gains off
DESIGN_LOAD_KW = 16_200.0  # 003 L84
BOREHOLE_RADIUS_M = 0.075  # Ø150 mm (003 L144)
FREEZE_GUARD_C = 2.0  # evaporators leave at 2 °C at the lowest (sites/shallow-field.yaml)


def _ierf(x: float) -> float:
    return x * math.erf(x) - (1.0 - math.exp(-x * x)) / math.sqrt(math.pi)


def _mean_fls(distance_m: float, length_m: float, diffusivity: float, t_s: float) -> float:
    """Claesson & Javed: mean rise along a borehole per unit (q'/4πk) of a parallel line."""
    def integrand(s: float) -> float:
        return (math.exp(-(distance_m * s) ** 2)
                * (4.0 * _ierf(length_m * s) - _ierf(2.0 * length_m * s)) / (s * s))

    value, _ = quad(integrand, 1.0 / math.sqrt(4.0 * diffusivity * t_s), math.inf,
                    limit=400, epsabs=0.0, epsrel=1e-9)
    return float(value) / length_m


@cache
def _oracle_g(t_s: float) -> float:
    """Mean wall drop of the zone's boreholes in K per W/m, all pairs of the square grid."""
    side = math.isqrt(ZONE.borehole_count)
    assert side * side == ZONE.borehole_count
    k = ZONE.ground_conductivity_w_per_mk
    alpha = k / (ZONE.ground_heat_capacity_mj_per_m3k * 1e6)
    h = ZONE.depth_m
    pairs: dict[int, float] = {}
    for dx in range(-side + 1, side):
        for dy in range(-side + 1, side):
            if dx or dy:
                d2 = dx * dx + dy * dy
                pairs[d2] = pairs.get(d2, 0.0) + (side - abs(dx)) * (side - abs(dy))
    total = _mean_fls(BOREHOLE_RADIUS_M, h, alpha, t_s) * ZONE.borehole_count
    for d2, count in pairs.items():
        total += count * _mean_fls(ZONE.spacing_m * math.sqrt(d2), h, alpha, t_s)
    return total / ZONE.borehole_count / (4.0 * math.pi * k)


@pytest.mark.parametrize("days", [1.0, 10.0, 30.0, 121.0, 365.0])
def test_the_zone_g_function_is_the_superposed_finite_line_sources(days: float) -> None:
    model = float(ground_modes(ZONE).step_response(np.array([days * 86400.0]))[0])
    assert model == pytest.approx(_oracle_g(days * 86400.0), rel=0.005)


def test_fluid_leaves_the_zone_by_its_wall_temperature_and_borehole_resistance() -> None:
    extraction_kw = 2800.0  # a third of a cold day's evaporator heat
    days = 30
    state = initial_ground_state(ZONE)
    for _ in range(days):
        state = step_ground(ZONE, state, extraction_kw, 86400.0, ZONE.rated_flow_m3h)
    inlet, outlet = fluid_temps_for_extraction(ZONE, state, extraction_kw, ZONE.rated_flow_m3h)
    # uniform wall: T_out = T_w − (T_w − T_in)·exp(−L/(Rb·C)), with water at 5 °C
    length = ZONE.borehole_count * ZONE.depth_m
    per_metre = extraction_kw * 1000.0 / length
    wall = ZONE.undisturbed_ground_temp_c - per_metre * _oracle_g(days * 86400.0)
    capacity = ZONE.rated_flow_m3h / 3600.0 * 999.97 * 4202.0
    ntu = length / (FIELD_RB_MK_PER_W * capacity)
    oracle_inlet = wall - extraction_kw * 1000.0 / (capacity * (1.0 - math.exp(-ntu)))
    assert inlet == pytest.approx(oracle_inlet, abs=0.05)
    assert outlet - inlet == pytest.approx(extraction_kw * 1000.0 / capacity, abs=0.01)


def _season_heat_kwh(heat_index_w_per_m2: float) -> float:
    """Heat the simulator's buildings ask in a season: one conductance, heated around the clock."""
    station = SITE.station
    climate = station.climate
    conductance = heat_index_w_per_m2 * station.heated_area_m2 / 1000.0 / (
        station.indoor_design_temp_c - climate.design_outdoor_temp_c)
    return (conductance * (station.indoor_design_temp_c
                           - climate.mean_heating_season_outdoor_temp_c)
            * climate.heating_season_days * 24.0)


def test_the_buildings_ask_the_design_season_heat_the_field_was_sized_for() -> None:
    assert _season_heat_kwh(SITE.station.heat_index_w_per_m2) == pytest.approx(
        DESIGN_SEASON_HEAT_KWH, rel=0.002)
    # the 16,200 kW design load as an around-the-clock conductance asks 54 % more
    peak_index = DESIGN_LOAD_KW * 1000.0 / SITE.station.heated_area_m2
    assert _season_heat_kwh(peak_index) / DESIGN_SEASON_HEAT_KWH == pytest.approx(1.54, abs=0.01)


def _lowest_field_inlet_c(season_heat_kwh: float) -> float:
    """Lowest daily field inlet over the season: daily loads superposed on the oracle's g."""
    climate = SITE.station.climate
    curve = fit_seasonal_curve(climate)
    days = climate.heating_season_days
    first = curve.coldest_day_of_year - days / 2.0
    outdoor = np.array([curve.daily_mean_c(first + d + 0.5) for d in range(days)])
    shape = SITE.station.indoor_design_temp_c - outdoor
    heat_kw = season_heat_kwh * shape / (shape.sum() * 24.0)
    rated_cop = UNITS[0].rated_cop
    length = sum(z.borehole_count * z.depth_m for z in ZONES)
    per_metre = heat_kw * (1.0 - 1.0 / rated_cop) * 1000.0 / length
    nodes = np.geomspace(1.0, days + 1.0, 25)
    g_nodes = np.array([_oracle_g(n * 86400.0) for n in nodes])
    g = np.interp(np.log(np.arange(1, days + 1)), np.log(nodes), g_nodes)
    steps = np.diff(np.concatenate(([0.0], per_metre)))
    flow = sum(z.rated_flow_m3h for z in ZONES)
    capacity = flow / 3600.0 * 999.97 * 4202.0
    ntu = length / (FIELD_RB_MK_PER_W * capacity)
    inlets = []
    for day in range(days):
        wall = ZONES[0].undisturbed_ground_temp_c - float(
            np.dot(steps[:day + 1], g[day::-1]))
        inlets.append(wall - float(per_metre[day]) * length
                      / (capacity * (1.0 - math.exp(-ntu))))
    return min(inlets)


def test_the_field_carries_its_design_season_and_not_one_half_as_large_again() -> None:
    design = _lowest_field_inlet_c(DESIGN_SEASON_HEAT_KWH)
    peak_index = DESIGN_LOAD_KW * 1000.0 / SITE.station.heated_area_m2
    around_the_clock = _lowest_field_inlet_c(_season_heat_kwh(peak_index))
    assert design > FREEZE_GUARD_C + 2.0  # 4.1 °C
    assert around_the_clock < FREEZE_GUARD_C - 2.0  # −1.2 °C: below the units' guard


CLIMATE = {"indoor_temp_c": 20.0, "mean_season_temp_c": 0.0, "design_outdoor_temp_c": -10.0}


def test_heat_index_for_a_season_inverts_the_season_heat_and_refuses_bad_input() -> None:
    index = heat_index_for_season_w_per_m2(1_000_000.0, 10_000.0, 100, **CLIMATE)
    assert index == pytest.approx(1_000_000.0 / (100 * 24 * 20.0) * 30.0 * 1000.0 / 10_000.0)
    with pytest.raises(ValueError, match="heating-season mean"):
        heat_index_for_season_w_per_m2(1.0, 1.0, 1.0, **{**CLIMATE, "mean_season_temp_c": -12.0})
    with pytest.raises(ValueError, match="positive"):
        heat_index_for_season_w_per_m2(0.0, 1.0, 1.0, **CLIMATE)
