"""Expected heat-pump COP from source and sink temperatures, calibrated to the unit's rating.

Model (used alike by the simulator and the controller's "COP below expectation" alarm):

* the refrigerant evaporates below the evaporator's leaving water and condenses above the
  condenser's leaving water by the exchangers' approach, which at fixed conductance is
  proportional to the heat flux: ``T_evap = t_source,out − 3 K·PLR``,
  ``T_cond = t_sink,out + 3 K·PLR`` (3 K at full load, typical of plate and shell-and-tube
  units; :data:`EVAPORATOR_APPROACH_K`, :data:`CONDENSER_APPROACH_K`);
* the evaporating temperature goes no higher than the expansion valve's maximum operating
  pressure (MOP): above it the valve closes and starves the evaporator, so a warmer source
  raises the superheat, not the suction pressure (:func:`max_evaporating_temp_c`; the site's
  envelope, or the rated evaporating temperature plus :data:`MOP_MARGIN_K`);
* Carnot lifting COP on those refrigerant temperatures: ``T_evap / (T_cond − T_evap)`` in K;
* the unit achieves a fixed fraction ``f`` of it at its rated point, so the heating COP is
  ``1 + f·(COP_C − 1)``: always > 1 (the compressor's work ends up as heat); ``f`` is
  calibrated there (:func:`carnot_fraction`);
* away from its rated point a compressor with a fixed built-in volume ratio (screw, scroll) is
  built for the rated *pressure* ratio. Below it the gas is over-compressed and expands back
  into the discharge line, above it gas flows back into the pocket, so the work does not
  follow the ideal one (Trott & Welch, *Refrigeration and Air-Conditioning*, §4: the indicated
  efficiency has a sharp peak at the built-in ratio). Per unit of suction volume the ideal work
  is ``n·(π^(1/n) − 1)`` and the fixed-ratio work ``n·(π_i^(1/n) − 1) + (π − π_i)/v_i`` with
  ``n = κ/(κ − 1)``, ``v_i = π_i^(1/κ)`` (:func:`over_compression_ratio`); the lifting COP is
  divided by their ratio. Pressures follow the saturation curve of R134a
  (:func:`saturation_pressure_ratio`), the refrigerant of most such units. As the lift
  vanishes the work falls to that of pushing the gas through the built-in ratio and no
  further, so the COP stays finite without any floor on the lift, and a refrigerant cannot
  evaporate above its condensing temperature (a negative water lift is a zero refrigerant
  lift);
* part load: EN 14825 splits a unit's electric power at part load into a part that follows the
  load and a standing part, ``1 − Cd`` of the full-load power (default ``Cd = 0.9``). The
  standing part is held here as a power, ``(1 − Cd)`` of the *rated* input, at every lift: the
  losses it stands for (motor iron and friction, oil circulation, controls, unloading) belong to
  the machine, not to its pressure lift, and its heat ends in the condenser (semi-hermetic
  motor cooled by suction gas). The cycle lifts with the rest: ``W = (Q − W_s)/(1 + f·L) + W_s``
  with ``L`` the Carnot lifting COP over the over-compression ratio, so ``COP = Q / W``. At the
  rated point this is the rated COP; at small lifts and low load the standing power, not the
  vanishing ideal work, bounds the COP (:func:`standing_power_share`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import NDArray

from plant.models.water import KELVIN, FloatArray
from plant.site import HeatPump

EVAPORATOR_APPROACH_K = 3.0
"""Leaving water minus evaporating temperature at full load."""

CONDENSER_APPROACH_K = 3.0
"""Condensing minus leaving water temperature at full load."""

DEGRADATION_CD = 0.9
"""EN 14825 default degradation coefficient: ``1 − Cd`` of the full-load power is standing."""

MOP_MARGIN_K = 10.0
"""Default maximum operating pressure of the expansion valve, as evaporating temperature above
the rated one (an assumption, not a seed figure: a site states its compressor's envelope)."""

R134A_CLAPEYRON_K = float(np.log(1318.1 / 292.8) / (1.0 / 273.15 - 1.0 / 323.15))
"""Slope of ln p_sat against −1/T for R134a through its saturation pressures at 0 °C
(292.8 kPa) and 50 °C (1318.1 kPa), ASHRAE Handbook Fundamentals' refrigerant tables."""

R134A_KAPPA = 1.1
"""Isentropic exponent of R134a vapour at suction (cp/cv ≈ 1.1)."""

STANDARD_SOURCE_OUT_C = 7.0
STANDARD_SINK_OUT_C = 45.0
"""EN 14511's water-to-water rating W10/W45 (leaving 7 and 45 °C): the built-in ratio assumed
for a unit whose rating is not known (a history fit)."""


def _out(value: NDArray[np.float64]) -> float | NDArray[np.float64]:
    return float(value) if value.ndim == 0 else value


def carnot_cop(source_out_c: FloatArray, sink_out_c: FloatArray) -> FloatArray:
    """Heating Carnot COP ``T_sink/(T_sink − T_source)`` in K (infinite at no lift)."""
    source = np.asarray(source_out_c, dtype=np.float64)
    sink = np.asarray(sink_out_c, dtype=np.float64)
    lift = sink - source
    with np.errstate(divide="ignore"):
        return _out(np.where(lift > 0.0, (sink + KELVIN) / np.where(lift > 0.0, lift, 1.0),
                             np.inf))  # type: ignore[return-value]


def refrigerant_temps(
    source_out_c: FloatArray, sink_out_c: FloatArray,
    load_ratio: float | NDArray[np.float64] = 1.0,
    max_evaporating_c: float = np.inf,
) -> tuple[FloatArray, FloatArray]:
    """Evaporating and condensing temperatures (°C) behind the exchangers' approaches, the
    evaporating one held at the expansion valve's maximum operating pressure."""
    plr = np.minimum(np.asarray(load_ratio, dtype=np.float64), 1.0)
    evaporating = np.minimum(
        np.asarray(source_out_c, dtype=np.float64) - EVAPORATOR_APPROACH_K * plr,
        max_evaporating_c)
    condensing = np.asarray(sink_out_c, dtype=np.float64) + CONDENSER_APPROACH_K * plr
    return _out(evaporating), _out(condensing)  # type: ignore[return-value]


def saturation_pressure_ratio(evaporating_c: FloatArray, condensing_c: FloatArray) -> FloatArray:
    """Condensing over evaporating saturation pressure of R134a (Clausius–Clapeyron), ≥ 1."""
    t_evap = np.asarray(evaporating_c, dtype=np.float64) + KELVIN
    t_cond = np.maximum(np.asarray(condensing_c, dtype=np.float64) + KELVIN, t_evap)
    return _out(np.exp(R134A_CLAPEYRON_K * (1.0 / t_evap - 1.0 / t_cond)))  # type: ignore[return-value]


def design_pressure_ratio(rated_source_out_c: float, rated_sink_out_c: float) -> float:
    """Built-in pressure ratio of a compressor made for this rated point."""
    evaporating, condensing = refrigerant_temps(rated_source_out_c, rated_sink_out_c)
    return float(saturation_pressure_ratio(evaporating, condensing))


STANDARD_PRESSURE_RATIO = design_pressure_ratio(STANDARD_SOURCE_OUT_C, STANDARD_SINK_OUT_C)
"""Built-in pressure ratio assumed without a rating (EN 14511 W10/W45)."""


def _ideal_work(ratio: NDArray[np.float64]) -> NDArray[np.float64]:
    n = R134A_KAPPA / (R134A_KAPPA - 1.0)
    return np.asarray(n * (ratio ** (1.0 / n) - 1.0), dtype=np.float64)


def _fixed_ratio_work(ratio: NDArray[np.float64], built_in: float) -> NDArray[np.float64]:
    n = R134A_KAPPA / (R134A_KAPPA - 1.0)
    volume_ratio = built_in ** (1.0 / R134A_KAPPA)
    return np.asarray(n * (built_in ** (1.0 / n) - 1.0) + (ratio - built_in) / volume_ratio,
                      dtype=np.float64)


def over_compression_ratio(pressure_ratio: FloatArray, built_in_ratio: float) -> FloatArray:
    """Work of a fixed built-in-ratio compressor over the ideal one at this pressure ratio, ≥ 1."""
    ratio = np.maximum(np.asarray(pressure_ratio, dtype=np.float64), 1.0)
    ideal = _ideal_work(ratio)
    with np.errstate(divide="ignore"):
        return _out(np.where(ideal > 0.0, _fixed_ratio_work(ratio, built_in_ratio)
                             / np.where(ideal > 0.0, ideal, 1.0), np.inf))  # type: ignore[return-value]


def _lifting_per_work(evaporating_c: NDArray[np.float64], condensing_c: NDArray[np.float64],
                      built_in_ratio: float) -> NDArray[np.float64]:
    """Carnot lifting COP divided by the over-compression ratio, finite at no lift."""
    t_evap = evaporating_c + KELVIN
    t_cond = np.maximum(condensing_c + KELVIN, t_evap)
    lift = t_cond - t_evap
    ratio = np.asarray(saturation_pressure_ratio(evaporating_c, condensing_c), dtype=np.float64)
    small = lift < 1e-6
    # the ideal work per suction volume times the Carnot lifting COP tends to B/T_cond
    ideal_times_carnot = np.where(
        small, R134A_CLAPEYRON_K / t_cond,
        t_evap * _ideal_work(ratio) / np.where(small, 1.0, lift))
    return np.asarray(ideal_times_carnot / _fixed_ratio_work(ratio, built_in_ratio),
                      dtype=np.float64)


def carnot_fraction(rated_cop: float, rated_source_out_c: float, rated_sink_out_c: float) -> float:
    """Fraction ``f`` of the Carnot lifting COP reached at the rated point: (COP−1)/(COP_C−1)."""
    if rated_cop <= 1.0:
        raise ValueError(f"rated COP {rated_cop} must be above 1")
    evaporating, condensing = refrigerant_temps(rated_source_out_c, rated_sink_out_c)
    ideal = float(carnot_cop(evaporating, condensing))
    cycle = cycle_cop_at_rating(rated_cop)
    fraction = (cycle - 1.0) / (ideal - 1.0)
    if fraction >= 1.0:
        raise ValueError(
            f"rated COP {rated_cop} (its cycle without the standing losses {cycle:.2f}) "
            f"reaches the Carnot COP {ideal:.2f} of its rated "
            f"temperatures {rated_source_out_c} → {rated_sink_out_c} °C (refrigerant "
            f"{float(evaporating):g} → {float(condensing):g} °C behind "
            f"{EVAPORATOR_APPROACH_K:g} K approaches)"
        )
    return fraction


def max_evaporating_temp_c(hp: HeatPump) -> float:
    """Evaporating temperature at the unit's expansion-valve MOP: the site's, else the rated
    evaporating temperature plus :data:`MOP_MARGIN_K`."""
    if hp.max_evaporating_temp_c is not None:
        return hp.max_evaporating_temp_c
    return hp.rated_source_out_temp_c - EVAPORATOR_APPROACH_K + MOP_MARGIN_K


def standing_power_share(rated_cop: float) -> float:
    """Standing electric power per kW of rated heat: ``(1 − Cd)`` of the rated input."""
    if rated_cop <= 1.0:
        raise ValueError(f"rated COP {rated_cop} must be above 1")
    return (1.0 - DEGRADATION_CD) / rated_cop


def cycle_cop_at_rating(rated_cop: float) -> float:
    """COP of the cycle alone at the rated point: rated heat less the standing heat over the
    rated input less the standing power."""
    standing = 1.0 - DEGRADATION_CD
    return (rated_cop - standing) / (1.0 - standing)


def _load(load_ratio: float | NDArray[np.float64]) -> NDArray[np.float64]:
    plr = np.asarray(load_ratio, dtype=np.float64)
    if np.any(~(plr > 0.0)):
        raise ValueError("load ratio must be above 0 (a stopped unit has no COP)")
    return np.minimum(plr, 1.0)


def _cop(cycle: NDArray[np.float64], plr: NDArray[np.float64],
         standing_share: float) -> NDArray[np.float64]:
    """Heat over cycle work plus standing power, per kW of rated heat; 1 when the standing
    power alone is all the heat."""
    lifted = np.maximum(plr - standing_share, 0.0)
    return np.asarray(plr / (lifted / cycle + np.minimum(standing_share, plr)),
                      dtype=np.float64)


def _expected_cop_one(source_out_c: float, sink_out_c: float, load_ratio: float, *,
                      fraction: float, built_in_ratio: float, standing_share: float,
                      max_evaporating_c: float) -> float:
    """:func:`expected_cop` of one operating point in plain floats, step for step as the
    array path computes it (same operations in the same order, so bit-identical)."""
    # one value per call is the simulator's and the controller's use: the array round trips
    # cost many times the arithmetic. exp and power stay numpy's: its vectorised ones round
    # differently from the C library's in the last bit.
    if not load_ratio > 0.0:
        raise ValueError("load ratio must be above 0 (a stopped unit has no COP)")
    plr = min(load_ratio, 1.0)
    evaporating = min(source_out_c - EVAPORATOR_APPROACH_K * plr, max_evaporating_c)
    condensing = sink_out_c + CONDENSER_APPROACH_K * plr
    t_evap = evaporating + KELVIN
    t_cond = max(condensing + KELVIN, t_evap)
    lift = t_cond - t_evap
    ratio = float(np.exp(R134A_CLAPEYRON_K * (1.0 / t_evap - 1.0 / t_cond)))
    n = R134A_KAPPA / (R134A_KAPPA - 1.0)
    if lift < 1e-6:
        ideal_times_carnot = R134A_CLAPEYRON_K / t_cond
    else:
        ideal = n * (float(np.power(ratio, 1.0 / n)) - 1.0)
        ideal_times_carnot = t_evap * ideal / lift
    volume_ratio: float = built_in_ratio ** (1.0 / R134A_KAPPA)
    fixed_ratio: float = (n * (built_in_ratio ** (1.0 / n) - 1.0)
                          + (ratio - built_in_ratio) / volume_ratio)
    cycle = 1.0 + fraction * (ideal_times_carnot / fixed_ratio)
    lifted = max(plr - standing_share, 0.0)
    return plr / (lifted / cycle + min(standing_share, plr))


def expected_cop(
    source_out_c: FloatArray,
    sink_out_c: FloatArray,
    fraction: float,
    load_ratio: float | NDArray[np.float64] = 1.0,
    built_in_ratio: float = STANDARD_PRESSURE_RATIO,
    *,
    standing_share: float,
    max_evaporating_c: float = np.inf,
) -> FloatArray:
    """Expected heating COP: heat over ``(Q − W_s)/(1 + f·L) + W_s`` on refrigerant temperatures.

    ``standing_share`` is the standing power per kW of rated heat
    (:func:`standing_power_share`), ``load_ratio`` the heat over the rated heat,
    ``max_evaporating_c`` the evaporating temperature the expansion valve holds the suction
    at however warm the source (:func:`max_evaporating_temp_c`).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"Carnot fraction {fraction} must lie in (0, 1)")
    if not 0.0 <= standing_share < 1.0:
        raise ValueError(f"standing power share {standing_share} must lie in [0, 1)")
    if (isinstance(source_out_c, float | int) and isinstance(sink_out_c, float | int)
            and isinstance(load_ratio, float | int)
            and not math.isnan(source_out_c) and not math.isnan(sink_out_c)):
        return _expected_cop_one(
            float(source_out_c), float(sink_out_c), float(load_ratio), fraction=fraction,
            built_in_ratio=built_in_ratio, standing_share=standing_share,
            max_evaporating_c=max_evaporating_c)
    plr = _load(load_ratio)
    evaporating, condensing = refrigerant_temps(source_out_c, sink_out_c, plr, max_evaporating_c)
    lifting = _lifting_per_work(np.asarray(evaporating, dtype=np.float64),
                                np.asarray(condensing, dtype=np.float64), built_in_ratio)
    return _out(_cop(1.0 + fraction * lifting, plr, standing_share))  # type: ignore[return-value]


@functools.lru_cache(maxsize=256)
def _rating_calibration(rated_cop: float, rated_source_out_c: float,
                        rated_sink_out_c: float) -> tuple[float, float]:
    """Carnot fraction and built-in pressure ratio of a rating (a station has few ratings)."""
    return (carnot_fraction(rated_cop, rated_source_out_c, rated_sink_out_c),
            design_pressure_ratio(rated_source_out_c, rated_sink_out_c))


def cop_from_rating(
    hp: HeatPump,
    source_out_c: FloatArray,
    sink_out_c: FloatArray,
    load_ratio: float | NDArray[np.float64] = 1.0,
) -> FloatArray:
    """Expected COP of a configured heat pump, calibrated to its rated COP and temperatures."""
    fraction, built_in = _rating_calibration(hp.rated_cop, hp.rated_source_out_temp_c,
                                             hp.rated_sink_out_temp_c)
    return expected_cop(source_out_c, sink_out_c, fraction, load_ratio, built_in,
                        standing_share=standing_power_share(hp.rated_cop),
                        max_evaporating_c=max_evaporating_temp_c(hp))


def fraction_from_history(
    source_out_c: NDArray[np.float64],
    sink_out_c: NDArray[np.float64],
    measured_cop: NDArray[np.float64],
    load_ratio: NDArray[np.float64] | float = 1.0,
    built_in_ratio: float = STANDARD_PRESSURE_RATIO,
    *,
    standing_share: float,
) -> float:
    """Carnot fraction that best explains a unit's measured COPs (least squares on the cycle's
    lifting COP, the standing power taken off)."""
    plr = _load(load_ratio) * np.ones_like(np.asarray(measured_cop, dtype=np.float64))
    evaporating, condensing = refrigerant_temps(source_out_c, sink_out_c, plr)
    x = _lifting_per_work(np.asarray(evaporating, dtype=np.float64),
                          np.asarray(condensing, dtype=np.float64), built_in_ratio)
    measured = np.asarray(measured_cop, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cycle_work = plr / measured - standing_share
        y = (plr - standing_share) / cycle_work - 1.0
    good = np.isfinite(x) & np.isfinite(y) & (cycle_work > 0.0) & (plr > standing_share)
    if not np.any(good):
        raise ValueError("no finite COP samples to calibrate from")
    fraction = float(np.dot(x[good], y[good]) / np.dot(x[good], x[good]))
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"measured COPs imply a Carnot fraction {fraction:.3f} outside (0, 1)")
    return fraction
