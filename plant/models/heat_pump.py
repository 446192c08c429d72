"""Expected heat-pump COP from source and sink temperatures, calibrated to the unit's rating.

Model (used alike by the simulator and the controller's "COP below expectation" alarm):

* the refrigerant evaporates below the evaporator's leaving water and condenses above the
  condenser's leaving water by the exchangers' approach, which at fixed conductance is
  proportional to the heat flux: ``T_evap = t_source,out − 3 K·PLR``,
  ``T_cond = t_sink,out + 3 K·PLR`` (3 K at full load, typical of plate and shell-and-tube
  units; :data:`EVAPORATOR_APPROACH_K`, :data:`CONDENSER_APPROACH_K`);
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
* part load: the EN 14825 degradation ``PLF = PLR / (Cd·PLR + 1 − Cd)`` with ``Cd = 0.9`` on
  the lifting part, i.e. ``COP = 1 + f·(COP_C − 1)·PLF / r``; at full load ``PLF = 1``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from plant.models.water import KELVIN, FloatArray
from plant.site import HeatPump

EVAPORATOR_APPROACH_K = 3.0
"""Leaving water minus evaporating temperature at full load."""

CONDENSER_APPROACH_K = 3.0
"""Condensing minus leaving water temperature at full load."""

DEGRADATION_CD = 0.9
"""EN 14825 default degradation coefficient for part-load cycling."""

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
) -> tuple[FloatArray, FloatArray]:
    """Evaporating and condensing temperatures (°C) behind the exchangers' approaches."""
    plr = np.minimum(np.asarray(load_ratio, dtype=np.float64), 1.0)
    evaporating = np.asarray(source_out_c, dtype=np.float64) - EVAPORATOR_APPROACH_K * plr
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
    fraction = (rated_cop - 1.0) / (ideal - 1.0)
    if fraction >= 1.0:
        raise ValueError(
            f"rated COP {rated_cop} reaches the Carnot COP {ideal:.2f} of its rated "
            f"temperatures {rated_source_out_c} → {rated_sink_out_c} °C (refrigerant "
            f"{float(evaporating):g} → {float(condensing):g} °C behind "
            f"{EVAPORATOR_APPROACH_K:g} K approaches)"
        )
    return fraction


def part_load_factor(load_ratio: float | NDArray[np.float64]) -> float | NDArray[np.float64]:
    """EN 14825 part-load factor PLR/(Cd·PLR + 1 − Cd); 1 at full load, load ratio in (0, 1]."""
    plr = np.asarray(load_ratio, dtype=np.float64)
    if np.any(~(plr > 0.0)):
        raise ValueError("load ratio must be above 0 (a stopped unit has no COP)")
    plr = np.minimum(plr, 1.0)
    return _out(plr / (DEGRADATION_CD * plr + 1.0 - DEGRADATION_CD))


def expected_cop(
    source_out_c: FloatArray,
    sink_out_c: FloatArray,
    fraction: float,
    load_ratio: float | NDArray[np.float64] = 1.0,
    built_in_ratio: float = STANDARD_PRESSURE_RATIO,
) -> FloatArray:
    """Expected heating COP ``1 + f·(COP_C − 1)·PLF / r`` on refrigerant temperatures."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"Carnot fraction {fraction} must lie in (0, 1)")
    evaporating, condensing = refrigerant_temps(source_out_c, sink_out_c, load_ratio)
    lifting = _lifting_per_work(np.asarray(evaporating, dtype=np.float64),
                                np.asarray(condensing, dtype=np.float64), built_in_ratio)
    plf = np.asarray(part_load_factor(load_ratio), dtype=np.float64)
    return _out(1.0 + fraction * lifting * plf)  # type: ignore[return-value]


def cop_from_rating(
    hp: HeatPump,
    source_out_c: FloatArray,
    sink_out_c: FloatArray,
    load_ratio: float | NDArray[np.float64] = 1.0,
) -> FloatArray:
    """Expected COP of a configured heat pump, calibrated to its rated COP and temperatures."""
    fraction = carnot_fraction(hp.rated_cop, hp.rated_source_out_temp_c, hp.rated_sink_out_temp_c)
    built_in = design_pressure_ratio(hp.rated_source_out_temp_c, hp.rated_sink_out_temp_c)
    return expected_cop(source_out_c, sink_out_c, fraction, load_ratio, built_in)


def fraction_from_history(
    source_out_c: NDArray[np.float64],
    sink_out_c: NDArray[np.float64],
    measured_cop: NDArray[np.float64],
    load_ratio: NDArray[np.float64] | float = 1.0,
    built_in_ratio: float = STANDARD_PRESSURE_RATIO,
) -> float:
    """Carnot fraction that best explains a unit's measured COPs (least squares on COP − 1)."""
    evaporating, condensing = refrigerant_temps(source_out_c, sink_out_c, load_ratio)
    lifting = _lifting_per_work(np.asarray(evaporating, dtype=np.float64),
                                np.asarray(condensing, dtype=np.float64), built_in_ratio)
    plf = np.asarray(part_load_factor(load_ratio), dtype=np.float64)
    x = lifting * plf
    y = np.asarray(measured_cop, dtype=np.float64) - 1.0
    good = np.isfinite(x) & np.isfinite(y)
    if not np.any(good):
        raise ValueError("no finite COP samples to calibrate from")
    fraction = float(np.dot(x[good], y[good]) / np.dot(x[good], x[good]))
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"measured COPs imply a Carnot fraction {fraction:.3f} outside (0, 1)")
    return fraction
