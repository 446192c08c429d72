"""Ground models for closed-loop boreholes, cheap enough to step once per simulated second.

Deep coaxial boreholes (1-3 km) and shallow borehole fields share one ground model: the
borehole-wall temperature drop caused by the extraction history is the infinite line source
(ILS, Carslaw & Jaeger) response ``ΔT(t) = q'/(4πk)·E1(r²/(4αt))`` to each load step, plus, for a
field, the same response of every neighbour at its distance (spatial superposition on a square
grid). That step response is represented as a sum of first-order modes
``Σ aᵢ·(1 − exp(−t/τᵢ))`` with fixed log-spaced time constants (a Prony series, least-squares
fitted once per geometry), so a time step with a constant load is exact and costs O(modes):
``xᵢ ← aᵢ·q' + (xᵢ − aᵢ·q')·exp(−Δt/τᵢ)``.

The fluid sees the wall through a borehole thermal resistance Rb (m·K/W). For a coaxial
borehole the fluid flows down the annulus along a wall whose undisturbed temperature rises
linearly with depth, and up an insulated centre pipe whose heat loss is neglected; for a
field it sees a uniform wall temperature. Either way the outlet follows from an exact
solution of the fluid's energy balance, not from a fitted curve.

A coaxial borehole is split into segments of :data:`COAXIAL_SEGMENT_M`, each with its own
wall-response history, because the heat it gives is far from uniform: near the surface the
returning fluid is warmer than the rock and gives heat back, and most of the load is drawn
from the hot bottom, whose wall therefore cools most. One uniform wall drop would leave the
bottom too warm (the outlet too optimistic) and cool the top below anything physical. Vertical
conduction between segments is neglected (the segments are far longer than a season's
thermal reach).
Sign: extraction > 0 takes heat from the ground, < 0 rejects heat into it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache, cached_property

import numpy as np
from numpy.typing import NDArray

from plant.models.water import density_kg_m3, specific_heat_kj_per_kgk
from plant.site import BoreholeField, CoaxialBorehole

Borehole = CoaxialBorehole | BoreholeField

COAXIAL_RB_MK_PER_W = 0.04
"""Borehole resistance of a cemented steel-cased coaxial borehole in turbulent annulus flow.

Derivation (docs/models.md): the cement sheath between a 178 mm casing and a 220 mm hole gives
ln(220/178)/(2π·1.0 W/(m·K)) = 0.034 m·K/W; the annulus film at Re ≈ 6·10⁴ adds < 0.001.
"""

FIELD_RB_MK_PER_W = 0.10
"""Borehole resistance of a grouted single-U shallow borehole (ASHRAE typical 0.08-0.12)."""

COAXIAL_SEGMENT_M = 250.0
"""Length of one coaxial-borehole segment with its own wall history (10 for a 2500 m hole)."""

SHALLOW_BOREHOLE_RADIUS_M = 0.075
"""Radius of a shallow field borehole (150 mm drill bit), used for its wall response."""

_GAMMA = 0.5772156649015329
_TAU_S = np.logspace(1.0, 10.5, 39)  # 10 s ... 1000 years, 4 per decade
_FIT_TIMES_S = np.logspace(1.5, 9.7, 240)  # 30 s ... 160 years


def exp1(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Exponential integral E1(x) for x > 0 (Abramowitz & Stegun 5.1.53 and 5.1.56, < 2e-7)."""
    x = np.asarray(x, dtype=np.float64)
    small = x <= 1.0
    out = np.empty_like(x)
    xs = x[small]
    out[small] = -np.log(xs) + np.polyval(
        [0.00107857, -0.00976004, 0.05519968, -0.24991055, 0.99999193, -0.57721566], xs
    )
    xl = x[~small]
    num = np.polyval([1.0, 8.5733287401, 18.0590169730, 8.6347608925, 0.2677737343], xl)
    den = np.polyval([1.0, 9.5733223454, 25.6329561486, 21.0996530827, 3.9584969228], xl)
    with np.errstate(over="ignore", under="ignore"):
        out[~small] = num / den * np.exp(-xl) / xl
    return out


def line_source_response(
    t_s: NDArray[np.float64], radius_m: float | NDArray[np.float64], diffusivity_m2_s: float,
    conductivity: float,
) -> NDArray[np.float64]:
    """Infinite line source temperature change in K per W/m at ``radius_m`` after ``t_s``."""
    t = np.asarray(t_s, dtype=np.float64)
    return exp1(radius_m**2 / (4.0 * diffusivity_m2_s * t)) / (4.0 * math.pi * conductivity)


def erfc(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Complementary error function for x ≥ 0 (Abramowitz & Stegun 7.1.26, error < 1.5e-7)."""
    x = np.asarray(x, dtype=np.float64)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                                                        + t * (-1.453152027 + t * 1.061405429))))
    with np.errstate(under="ignore"):
        return np.asarray(poly * np.exp(-x * x), dtype=np.float64)


def finite_line_source_response(
    t_s: NDArray[np.float64], distance_m: float, length_m: float, diffusivity_m2_s: float,
    conductivity: float, *, points: int = 400,
) -> NDArray[np.float64]:
    """Finite line source: mean temperature change in K per W/m along a borehole of length H.

    The source is a parallel line of the same length at ``distance_m``, from the surface down,
    with a mirror sink above it that keeps the surface at constant temperature (Eskilson 1987;
    Claesson & Javed 2011). The double integral over source and receiver depths reduces to
    one integral over their separation u, weighted by how often it occurs:

        ΔT = 1/(4πkH)·[2∫₀ᴴ (H−u)·g(u) du − ∫₀²ᴴ min(v, 2H−v)·g(v) dv],
        g(u) = erfc(√(d²+u²)/(2√(αt)))/√(d²+u²).

    It tends to the infinite line source at short times and to a steady state at long ones.
    """
    t = np.asarray(t_s, dtype=np.float64)[:, None]
    h = length_m
    first = min(distance_m, h) / 100.0
    u = np.concatenate(([0.0], np.geomspace(first, h, points)))
    v = np.concatenate(([0.0], np.geomspace(first, 2.0 * h, points)))
    scale = 1.0 / (2.0 * np.sqrt(diffusivity_m2_s * t))
    rho_u = np.hypot(distance_m, u)
    rho_v = np.hypot(distance_m, v)
    direct = np.trapezoid((h - u) * erfc(rho_u * scale) / rho_u, u, axis=1)
    image = np.trapezoid(np.minimum(v, 2.0 * h - v) * erfc(rho_v * scale) / rho_v, v, axis=1)
    return np.asarray((2.0 * direct - image) / (4.0 * math.pi * conductivity * h),
                      dtype=np.float64)


@dataclass(frozen=True)
class GroundModes:
    """First-order modes approximating a borehole's wall response to a unit load (K per W/m)."""

    gains: tuple[float, ...]
    time_constants_s: tuple[float, ...]

    def step_response(self, t_s: NDArray[np.float64]) -> NDArray[np.float64]:
        """Wall temperature drop in K per W/m after a unit step load held for ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64)[..., None]
        a = np.asarray(self.gains)
        tau = np.asarray(self.time_constants_s)
        return np.asarray(np.sum(a * (1.0 - np.exp(-t / tau)), axis=-1), dtype=np.float64)


def _fit_modes(target: NDArray[np.float64]) -> GroundModes:
    # relative least squares where the response matters; early times (ILS not valid yet) are
    # weighted as if they were 5 % of the one-year response so they do not dominate
    t = _FIT_TIMES_S
    floor = 0.05 * float(np.interp(3.15e7, t, target))
    weight = 1.0 / np.maximum(target, floor)
    basis = 1.0 - np.exp(-t[:, None] / _TAU_S[None, :])
    gains, *_ = np.linalg.lstsq(basis * weight[:, None], target * weight, rcond=None)
    return GroundModes(tuple(float(g) for g in gains), tuple(float(x) for x in _TAU_S))


def _grid_offsets(count: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Distinct neighbour offsets (in spacings) of a square-ish grid and how often each occurs."""
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    dx, dy = np.meshgrid(np.arange(-cols + 1, cols), np.arange(-rows + 1, rows))
    pairs = (cols - np.abs(dx)) * (rows - np.abs(dy))
    dist2 = (dx**2 + dy**2).ravel().astype(np.float64)
    weights = pairs.ravel().astype(np.float64) / (cols * rows)
    keep = dist2 > 0
    unique, inverse = np.unique(dist2[keep], return_inverse=True)
    return unique, np.bincount(inverse, weights=weights[keep]).astype(np.float64)


@cache
def _modes_for(
    radius_m: float, diffusivity: float, conductivity: float, neighbours_m: tuple[float, ...]
) -> GroundModes:
    """Coaxial: the infinite line source (depth ≫ any season's thermal reach), plus the line
    source of each neighbouring borehole of the field at its distance."""
    t = _FIT_TIMES_S
    target = line_source_response(t, radius_m, diffusivity, conductivity)
    for distance in neighbours_m:
        target = target + line_source_response(t, distance, diffusivity, conductivity)
    return _fit_modes(target)


@cache
def _field_modes_for(
    radius_m: float, length_m: float, diffusivity: float, conductivity: float, *, count: int,
    spacing_m: float,
) -> GroundModes:
    """Field: finite line sources, the borehole itself plus every neighbour on the grid.

    Neighbour distances are many; the finite-length correction (ILS − FLS) is smooth in
    log-distance, so it is computed at 24 distances and interpolated, then added to the exact
    ILS of each distance.
    """
    t = _FIT_TIMES_S
    target = finite_line_source_response(t, radius_m, length_m, diffusivity, conductivity)
    if count > 1:
        dist2, weight = _grid_offsets(count)
        distances = np.sqrt(dist2) * spacing_m
        nodes = np.geomspace(distances.min(), distances.max() * 1.0001, 24)
        correction = np.stack([
            line_source_response(t, float(d), diffusivity, conductivity)
            - finite_line_source_response(t, float(d), length_m, diffusivity, conductivity)
            for d in nodes
        ], axis=1)
        log_d = np.log(distances)
        log_nodes = np.log(nodes)
        fix = np.stack([np.interp(log_d, log_nodes, row) for row in correction])
        ils = line_source_response(t[:, None], distances[None, :], diffusivity, conductivity)
        target = target + (ils - fix) @ weight
    return _fit_modes(target)


def ground_modes(b: Borehole) -> GroundModes:
    """The wall-response modes of a configured coaxial borehole or borehole field."""
    k = b.ground_conductivity_w_per_mk
    alpha = k / (b.ground_heat_capacity_mj_per_m3k * 1e6)
    if isinstance(b, CoaxialBorehole):
        return _modes_for(b.borehole_diameter_m / 2.0, alpha, k,
                          tuple(sorted(b.neighbour_distances_m)))
    return _field_modes_for(SHALLOW_BOREHOLE_RADIUS_M, b.depth_m, alpha, k,
                            count=b.borehole_count, spacing_m=b.spacing_m)


def heat_exchange_length_m(b: Borehole) -> float:
    """Total borehole length exchanging heat with the ground."""
    if isinstance(b, CoaxialBorehole):
        return b.depth_m
    return b.borehole_count * b.depth_m


def undisturbed_mean_temp_c(b: Borehole) -> float:
    """Mean undisturbed ground temperature along the borehole length."""
    if isinstance(b, CoaxialBorehole):
        return b.surface_ground_temp_c + b.geothermal_gradient_k_per_100m * b.depth_m / 200.0
    return b.undisturbed_ground_temp_c


def segment_count(b: Borehole) -> int:
    """How many depth segments carry their own wall history (1 for a field)."""
    if isinstance(b, CoaxialBorehole):
        return max(1, round(b.depth_m / COAXIAL_SEGMENT_M))
    return 1


@dataclass(frozen=True)
class GroundState:
    """Ground around a borehole (field): per-segment, per-mode wall drops and the heat balance."""

    mode_drops_k: tuple[float, ...]
    """Wall drop of each mode, segment after segment from the top (segments × modes)."""
    segments: int = 1
    elapsed_s: float = 0.0
    extracted_kwh: float = 0.0
    rejected_kwh: float = 0.0

    @cached_property
    def segment_drops_k(self) -> tuple[float, ...]:
        """How far each segment's wall has cooled below undisturbed, from the top down."""
        per = len(self.mode_drops_k) // self.segments
        return tuple(math.fsum(self.mode_drops_k[i * per:(i + 1) * per])
                     for i in range(self.segments))

    @cached_property
    def wall_drop_k(self) -> float:
        """How far the mean borehole wall has cooled below undisturbed (negative: warmed)."""
        return math.fsum(self.mode_drops_k) / self.segments

    @property
    def net_extracted_kwh(self) -> float:
        """Heat extracted minus heat rejected since the start (the seasonal ground balance)."""
        return self.extracted_kwh - self.rejected_kwh


def initial_ground_state(b: Borehole) -> GroundState:
    """Undisturbed ground: no wall temperature drop, nothing extracted yet."""
    segments = segment_count(b)
    return GroundState(mode_drops_k=(0.0,) * (len(ground_modes(b).gains) * segments),
                       segments=segments)


@cache
def _decays(time_constants: tuple[float, ...], dt_s: float) -> NDArray[np.float64]:
    return np.exp(-dt_s / np.asarray(time_constants))


def _relax(modes: GroundModes, drops: NDArray[np.float64], shares_kw: NDArray[np.float64],
           length_m: float, dt_s: float) -> NDArray[np.float64]:
    """Each segment's mode drops after ``dt_s`` at a constant load (kW per segment)."""
    target = np.asarray(modes.gains)[None, :] * (shares_kw[:, None] * 1000.0 / length_m)
    decay = _decays(modes.time_constants_s, float(dt_s))[None, :]
    return np.asarray(target + (drops - target) * decay, dtype=np.float64)


@cache
def _stable_substep_s(gains: tuple[float, ...], time_constants_s: tuple[float, ...]) -> float:
    """Longest step over which a segment's share of the load may be held fixed.

    A segment that cools takes a smaller share, up to 1/Rb W/m per kelvin; held fixed for a
    step whose wall response exceeds a third of Rb the shares overshoot and oscillate.
    """
    limit = COAXIAL_RB_MK_PER_W / 3.0
    dt = 86400.0 * 365.0
    while dt > 1.0:
        response = float(np.sum(np.asarray(gains) * (1.0 - _decays(time_constants_s, dt))))
        if response <= limit:
            return dt
        dt /= 2.0
    return 1.0


def step_ground(b: Borehole, state: GroundState, extraction_kw: float, dt_s: float,
                flow_m3h: float | None = None) -> GroundState:
    """Advance the ground by ``dt_s`` under a constant extraction (kW; < 0 rejects heat).

    A coaxial borehole shares the extraction among its segments as the loop fluid does at
    ``flow_m3h`` (default: rated flow); the shares add up to ``extraction_kw`` exactly.
    """
    if not dt_s > 0.0:
        raise ValueError(f"time step {dt_s} s must be positive")
    if not math.isfinite(extraction_kw):
        raise ValueError(f"extraction {extraction_kw} kW is not a number")
    modes = ground_modes(b)
    drops = np.asarray(state.mode_drops_k).reshape(state.segments, -1)
    if state.segments == 1 or extraction_kw == 0.0:
        drops = _relax(modes, drops, np.full(state.segments, extraction_kw / state.segments),
                       heat_exchange_length_m(b) / state.segments, dt_s)
    else:
        flow = b.rated_flow_m3h if flow_m3h is None or flow_m3h <= 0.0 else flow_m3h
        substeps = math.ceil(dt_s / _stable_substep_s(modes.gains, modes.time_constants_s))
        for _ in range(substeps):
            current = replace(state, mode_drops_k=tuple(drops.ravel().tolist()))
            mean = _mean_guess(b, current)
            lines = _segment_lines(b, current, flow, mean)
            inlet, _ = _temps_for_extraction(lines, extraction_kw, flow, mean)
            profile = np.asarray(_march(lines, inlet))
            shares_kw = np.diff(profile) * _capacity_rate_w_per_k(flow, mean) / 1e3
            drops = _relax(modes, drops, shares_kw, heat_exchange_length_m(b) / state.segments,
                           dt_s / substeps)
    energy_kwh = extraction_kw * dt_s / 3600.0
    return GroundState(
        mode_drops_k=tuple(drops.ravel().tolist()),
        segments=state.segments,
        elapsed_s=state.elapsed_s + dt_s,
        extracted_kwh=state.extracted_kwh + max(energy_kwh, 0.0),
        rejected_kwh=state.rejected_kwh + max(-energy_kwh, 0.0),
    )


def _capacity_rate_w_per_k(flow_m3h: float, temp_c: float) -> float:
    if not flow_m3h > 0.0:
        raise ValueError(f"flow {flow_m3h} m³/h must be positive")
    mass = flow_m3h / 3600.0 * float(density_kg_m3(temp_c))
    return mass * float(specific_heat_kj_per_kgk(temp_c)) * 1000.0


def _segment_lines(b: Borehole, state: GroundState, flow_m3h: float, temp_c: float) -> list[
    tuple[float, float]
]:
    """Each segment's outlet = offset + gain·inlet, exact for a wall linear in depth."""
    capacity = _capacity_rate_w_per_k(flow_m3h, temp_c)
    length = heat_exchange_length_m(b) / state.segments
    rb = COAXIAL_RB_MK_PER_W if isinstance(b, CoaxialBorehole) else FIELD_RB_MK_PER_W
    if isinstance(b, CoaxialBorehole):
        surface = b.surface_ground_temp_c
        gradient = b.geothermal_gradient_k_per_100m / 100.0
    else:
        surface = b.undisturbed_ground_temp_c
        gradient = 0.0
    # dT/dz = λ·(T_wall(z) − T), T_wall = top + gradient·z, λ = 1/(Rb·C) per metre of borehole
    lam = 1.0 / (rb * capacity)
    gain = math.exp(-lam * length)
    lagged = gradient / lam
    lines = []
    for index, drop in enumerate(state.segment_drops_k):
        top = surface + gradient * index * length - drop
        lines.append((top + gradient * length - lagged - (top - lagged) * gain, gain))
    return lines


def _compose(lines: list[tuple[float, float]]) -> tuple[float, float]:
    """Outlet = offset + gain·inlet through all segments in turn."""
    offset, gain = 0.0, 1.0
    for seg_offset, seg_gain in lines:
        offset, gain = seg_offset + seg_gain * offset, seg_gain * gain
    return offset, gain


def _march(lines: list[tuple[float, float]], inlet_temp_c: float) -> list[float]:
    temps = [inlet_temp_c]
    for seg_offset, seg_gain in lines:
        temps.append(seg_offset + seg_gain * temps[-1])
    return temps


def _temps_for_extraction(lines: list[tuple[float, float]], extraction_kw: float,
                          flow_m3h: float, mean_c: float) -> tuple[float, float]:
    offset, gain = _compose(lines)
    rise = extraction_kw * 1000.0 / _capacity_rate_w_per_k(flow_m3h, mean_c)
    inlet = (offset - rise) / (1.0 - gain)
    return inlet, inlet + rise


def annulus_profile_c(b: Borehole, state: GroundState, inlet_temp_c: float,
                      flow_m3h: float) -> list[float]:
    """Fluid temperature at the top of the annulus and at the foot of every segment."""
    return _march(_segment_lines(b, state, flow_m3h, _mean_guess(b, state)), inlet_temp_c)


def wall_temp_at_depth_c(b: Borehole, state: GroundState, depth_m: float) -> float:
    """Borehole-wall temperature at a depth: undisturbed rock less its segment's drop."""
    length = heat_exchange_length_m(b)
    z = min(max(depth_m, 0.0), length)
    drop = state.segment_drops_k[min(int(z / length * state.segments), state.segments - 1)]
    if isinstance(b, CoaxialBorehole):
        return b.surface_ground_temp_c + b.geothermal_gradient_k_per_100m / 100.0 * z - drop
    return b.undisturbed_ground_temp_c - drop


def _mean_guess(b: Borehole, state: GroundState) -> float:
    return undisturbed_mean_temp_c(b) - state.wall_drop_k


def profile_at_depth_c(b: Borehole, profile_c: Sequence[float], depth_m: float) -> float:
    """Interpolate a profile from :func:`annulus_profile_c` at a depth."""
    depths = np.linspace(0.0, heat_exchange_length_m(b), len(profile_c))
    return float(np.interp(depth_m, depths, profile_c))


def borehole_outlet_temp_c(
    b: Borehole, state: GroundState, inlet_temp_c: float, flow_m3h: float
) -> float:
    """Fluid outlet temperature for an inlet temperature and total flow (m³/h) through the loop."""
    offset, gain = _compose(_segment_lines(b, state, flow_m3h, inlet_temp_c))
    return offset + gain * inlet_temp_c


def fluid_temps_for_extraction(
    b: Borehole, state: GroundState, extraction_kw: float, flow_m3h: float
) -> tuple[float, float]:
    """Inlet and outlet temperatures (°C) at which the loop delivers ``extraction_kw``."""
    mean_guess = _mean_guess(b, state)
    return _temps_for_extraction(_segment_lines(b, state, flow_m3h, mean_guess), extraction_kw,
                                 flow_m3h, mean_guess)


def expected_outlet_decline(
    b: Borehole,
    extraction_kw: Sequence[float] | NDArray[np.float64],
    dt_s: float,
    inlet_temp_c: float | Sequence[float] | NDArray[np.float64] | None = None,
    flow_m3h: float | None = None,
) -> NDArray[np.float64]:
    """Outlet temperature after each interval of a load history (one value per load).

    The ground is stepped with the given extractions. With ``inlet_temp_c`` (a value or one
    per interval) the outlet follows from that inlet and the flow; without it the inlet is
    solved so the loop delivers the given extraction. Flow defaults to the rated flow.
    """
    loads = np.asarray(extraction_kw, dtype=np.float64)
    flow = b.rated_flow_m3h if flow_m3h is None else flow_m3h
    inlets = None if inlet_temp_c is None else np.broadcast_to(
        np.asarray(inlet_temp_c, dtype=np.float64), loads.shape
    )
    state = initial_ground_state(b)
    out = np.empty_like(loads)
    for index, load in enumerate(loads):
        state = step_ground(b, state, float(load), dt_s, flow)
        if inlets is None:
            out[index] = fluid_temps_for_extraction(b, state, float(load), flow)[1]
        else:
            out[index] = borehole_outlet_temp_c(b, state, float(inlets[index]), flow)
    return out
