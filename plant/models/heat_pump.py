"""Expected heat-pump COP from source and sink temperatures, calibrated to the unit's rating.

Model (used alike by the simulator and the controller's "COP below expectation" alarm):

* the refrigerant evaporates below the evaporator's leaving water and condenses above the
  condenser's leaving water by the exchangers' approach, which at fixed conductance is
  proportional to the heat flux: ``T_evap = t_source,out − 3 K·PLR``,
  ``T_cond = t_sink,out + 3 K·PLR`` (3 K at full load, typical of plate and shell-and-tube
  units; :data:`EVAPORATOR_APPROACH_K`, :data:`CONDENSER_APPROACH_K`);
* Carnot heating COP on those refrigerant temperatures: ``COP_C = T_cond / (T_cond − T_evap)``
  in K;
* the unit achieves a fixed fraction ``f`` of the Carnot *heat-lifting* work, so
  ``COP = 1 + f·(COP_C − 1)``; written this way the heating COP is always > 1 (the compressor's
  work ends up as heat) and falls monotonically as the lift grows; at the rated point (full
  load, rated outlet temperatures) it returns the rated COP exactly (``f`` is calibrated
  there, :func:`carnot_fraction`);
* a compressor with a fixed built-in volume ratio is built for its rated pressure ratio; below
  it the gas is over-compressed and expands back, so the work does not fall with the lift any
  further. The refrigerant lift is floored at :data:`MIN_LIFT_FRACTION` of the rated
  refrigerant lift (:func:`min_lift_for`), and never below :data:`MIN_LIFT_K`;
* part load: the EN 14825 degradation ``PLF = PLR / (Cd·PLR + 1 − Cd)`` with ``Cd = 0.9`` on
  the lifting part, i.e. ``COP = 1 + f·(COP_C − 1)·PLF``; at full load ``PLF = 1``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from plant.models.water import KELVIN, FloatArray
from plant.site import HeatPump

MIN_LIFT_K = 5.0
"""Smallest refrigerant lift the model accepts in any case."""

MIN_LIFT_FRACTION = 0.5
"""Share of its rated refrigerant lift below which a unit's work stops falling with the lift."""

EVAPORATOR_APPROACH_K = 3.0
"""Leaving water minus evaporating temperature at full load."""

CONDENSER_APPROACH_K = 3.0
"""Condensing minus leaving water temperature at full load."""

DEGRADATION_CD = 0.9
"""EN 14825 default degradation coefficient for part-load cycling."""


def _out(value: NDArray[np.float64]) -> float | NDArray[np.float64]:
    return float(value) if value.ndim == 0 else value


def carnot_cop(source_out_c: FloatArray, sink_out_c: FloatArray,
               min_lift_k: float = MIN_LIFT_K) -> FloatArray:
    """Heating Carnot COP ``T_sink/(T_sink − T_source)`` in K, the lift floored at min_lift_k."""
    source = np.asarray(source_out_c, dtype=np.float64)
    sink = np.asarray(sink_out_c, dtype=np.float64)
    lift = np.maximum(sink - source, min_lift_k)
    return _out((sink + KELVIN) / lift)  # type: ignore[return-value]


def refrigerant_temps(
    source_out_c: FloatArray, sink_out_c: FloatArray,
    load_ratio: float | NDArray[np.float64] = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """Evaporating and condensing temperatures (°C) behind the exchangers' approaches."""
    plr = np.minimum(np.asarray(load_ratio, dtype=np.float64), 1.0)
    evaporating = np.asarray(source_out_c, dtype=np.float64) - EVAPORATOR_APPROACH_K * plr
    condensing = np.asarray(sink_out_c, dtype=np.float64) + CONDENSER_APPROACH_K * plr
    return _out(evaporating), _out(condensing)  # type: ignore[return-value]


def min_lift_for(rated_source_out_c: float, rated_sink_out_c: float) -> float:
    """Refrigerant lift below which a unit rated at these temperatures gains nothing more."""
    evaporating, condensing = refrigerant_temps(rated_source_out_c, rated_sink_out_c)
    return max(MIN_LIFT_FRACTION * (float(condensing) - float(evaporating)), MIN_LIFT_K)


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
    min_lift_k: float = MIN_LIFT_K,
) -> FloatArray:
    """Expected heating COP ``1 + f·(COP_C − 1)·PLF`` on refrigerant temperatures."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"Carnot fraction {fraction} must lie in (0, 1)")
    evaporating, condensing = refrigerant_temps(source_out_c, sink_out_c, load_ratio)
    ideal = np.asarray(carnot_cop(evaporating, condensing, min_lift_k), dtype=np.float64)
    plf = np.asarray(part_load_factor(load_ratio), dtype=np.float64)
    return _out(1.0 + fraction * (ideal - 1.0) * plf)  # type: ignore[return-value]


def cop_from_rating(
    hp: HeatPump,
    source_out_c: FloatArray,
    sink_out_c: FloatArray,
    load_ratio: float | NDArray[np.float64] = 1.0,
) -> FloatArray:
    """Expected COP of a configured heat pump, calibrated to its rated COP and temperatures."""
    fraction = carnot_fraction(hp.rated_cop, hp.rated_source_out_temp_c, hp.rated_sink_out_temp_c)
    floor = min_lift_for(hp.rated_source_out_temp_c, hp.rated_sink_out_temp_c)
    return expected_cop(source_out_c, sink_out_c, fraction, load_ratio, floor)


def fraction_from_history(
    source_out_c: NDArray[np.float64],
    sink_out_c: NDArray[np.float64],
    measured_cop: NDArray[np.float64],
    load_ratio: NDArray[np.float64] | float = 1.0,
) -> float:
    """Carnot fraction that best explains a unit's measured COPs (least squares on COP − 1)."""
    evaporating, condensing = refrigerant_temps(source_out_c, sink_out_c, load_ratio)
    ideal = np.asarray(carnot_cop(evaporating, condensing), dtype=np.float64)
    plf = np.asarray(part_load_factor(load_ratio), dtype=np.float64)
    x = (ideal - 1.0) * plf
    y = np.asarray(measured_cop, dtype=np.float64) - 1.0
    good = np.isfinite(x) & np.isfinite(y)
    if not np.any(good):
        raise ValueError("no finite COP samples to calibrate from")
    fraction = float(np.dot(x[good], y[good]) / np.dot(x[good], x[good]))
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"measured COPs imply a Carnot fraction {fraction:.3f} outside (0, 1)")
    return fraction
