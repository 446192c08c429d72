"""Model-backed expectations and instrument checks, as pure functions of measured values.

What the plant should do by physics (a reinjection well's injectivity, a plate exchanger's
conductance, a heat pump's COP at its temperatures and load, a borehole's outlet after its
load history), what a trend will reach, and whether a sensor has flat-lined or drifted from a
redundant one. :mod:`controller.rules` turns these into alarms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from plant.models.borehole import Borehole, expected_outlet_decline
from plant.models.heat_pump import (
    STANDARD_PRESSURE_RATIO,
    carnot_fraction,
    design_pressure_ratio,
    expected_cop,
    fraction_from_history,
    standing_power_share,
)
from plant.site import HeatPump

GRAVITY_M_S2 = 9.80665
WATER_DENSITY_KG_M3 = 1000.0


def head_m(pressure_kpa: float) -> float:
    """Height of a water column exerting this pressure."""
    return pressure_kpa * 1000.0 / (WATER_DENSITY_KG_M3 * GRAVITY_M_S2)


def injectivity_index(flow_m3h: float, static_level_m: float, level_m: float,
                      wellhead_kpa: float, min_rise_m: float = 0.5) -> float | None:
    """Flow taken per metre of water rise (level up from static, plus wellhead pressure).

    None when the rise is too small to divide by (a well taking almost nothing).
    """
    rise = static_level_m - level_m + head_m(wellhead_kpa)
    if rise < min_rise_m:
        return None
    return flow_m3h / rise


def reinjection_capacity_m3h(index_m3h_per_m: float, static_level_m: float,
                             max_wellhead_head_m: float = 0.0) -> float:
    """Largest flow a well takes: water up to the wellhead, plus any allowed wellhead pressure."""
    return index_m3h_per_m * (static_level_m + max_wellhead_head_m)


def log_mean_dt_k(hot_in_c: float, hot_out_c: float, cold_in_c: float,
                  cold_out_c: float) -> float | None:
    """Counterflow log-mean temperature difference; None when the ends cross or vanish."""
    hot_end = hot_in_c - cold_out_c
    cold_end = hot_out_c - cold_in_c
    if hot_end <= 0.0 or cold_end <= 0.0:
        return None
    if abs(hot_end - cold_end) < 1e-6:
        return hot_end
    return (hot_end - cold_end) / math.log(hot_end / cold_end)


def exchanger_conductance_kw_per_k(heat_kw: float, hot_in_c: float, hot_out_c: float,
                                   cold_in_c: float, cold_out_c: float) -> float | None:
    """Measured UA = heat ÷ LMTD; None when the temperatures give no LMTD."""
    lmtd = log_mean_dt_k(hot_in_c, hot_out_c, cold_in_c, cold_out_c)
    return None if lmtd is None else heat_kw / lmtd


def clean_conductance_kw_per_k(rated_heat_kw: float, design_approach_k: float) -> float:
    """Clean UA from the site file: rated heat over design approach (balanced counterflow)."""
    return rated_heat_kw / design_approach_k


def rated_fraction(hp: HeatPump) -> float:
    """The unit's Carnot fraction at its rated point (its COP model before any history)."""
    return carnot_fraction(hp.rated_cop, hp.rated_source_out_temp_c, hp.rated_sink_out_temp_c)


def rated_standing_share(hp: HeatPump) -> float:
    """The unit's standing power per kW of rated heat (plant.models.heat_pump)."""
    return standing_power_share(hp.rated_cop)


def rated_built_in_ratio(hp: HeatPump) -> float:
    """The pressure ratio the unit's compressor is built for (its rated point's)."""
    return design_pressure_ratio(hp.rated_source_out_temp_c, hp.rated_sink_out_temp_c)


def cop_expected(fraction: float, source_out_c: float, sink_out_c: float,
                 load_ratio: float, built_in_ratio: float = STANDARD_PRESSURE_RATIO,
                 *, standing_share: float = 0.0, max_evaporating_c: float = math.inf) -> float:
    """COP the unit should reach at these outlet temperatures and load (plant.models)."""
    return float(expected_cop(source_out_c, sink_out_c, fraction,
                              min(max(load_ratio, 0.01), 1.0), built_in_ratio,
                              standing_share=standing_share,
                              max_evaporating_c=max_evaporating_c))


@dataclass(frozen=True)
class CopCalibration:
    """A heat pump's COP model fitted on its own good history, with the scatter around it."""

    fraction: float
    """Carnot fraction explaining its measured COPs."""
    residual_sd: float
    """Standard deviation of measured ÷ expected − 1 over the calibration samples."""
    samples: int


def calibrate_cop(source_out_c: NDArray[np.float64], sink_out_c: NDArray[np.float64],
                  cop: NDArray[np.float64], load_ratio: NDArray[np.float64],
                  min_samples: int = 100, *, standing_share: float = 0.0) -> CopCalibration:
    """Fit the unit's Carnot fraction on samples where it ran; refuse too little history."""
    running = (np.isfinite(cop) & (cop > 1.0) & np.isfinite(load_ratio) & (load_ratio > 0.05)
               & np.isfinite(source_out_c) & np.isfinite(sink_out_c))
    count = int(running.sum())
    if count < min_samples:
        raise ValueError(f"{count} running samples to calibrate the COP on, "
                         f"{min_samples} needed")
    loads = np.minimum(load_ratio[running], 1.0)
    fraction = fraction_from_history(source_out_c[running], sink_out_c[running], cop[running],
                                     loads, standing_share=standing_share)
    expected = np.asarray(expected_cop(source_out_c[running], sink_out_c[running], fraction,
                                       loads, standing_share=standing_share), dtype=np.float64)
    residual = cop[running] / expected - 1.0
    return CopCalibration(fraction, float(residual.std()), count)


def trend(values: NDArray[np.float64], usable: NDArray[np.bool_], step_s: float
          ) -> tuple[float, float] | None:
    """Least-squares line through the usable samples: (slope per day, value at the window's end).

    None with fewer than three usable samples.
    """
    index = np.flatnonzero(usable)
    if index.size < 3:
        return None
    days = index * step_s / 86400.0
    slope, intercept = np.polyfit(days, values[index], 1)
    end_day = (values.size - 1) * step_s / 86400.0
    return float(slope), float(intercept + slope * end_day)


def days_to_limit(slope_per_day: float, now_value: float, limit: float,
                  direction: str) -> float:
    """Days until a linear trend crosses a limit (0 when already beyond, inf when heading away)."""
    beyond = now_value >= limit if direction == "high" else now_value <= limit
    if beyond:
        return 0.0
    towards = slope_per_day > 0.0 if direction == "high" else slope_per_day < 0.0
    if not towards:
        return math.inf
    return (limit - now_value) / slope_per_day


def flat_line(values: NDArray[np.float64], usable: NDArray[np.bool_], resolution: float,
              min_samples: int) -> bool | None:
    """True when a sensor has read the same non-zero value throughout; None: too few samples.

    An exact zero is left alone: it is what a stopped machine's flow or power reads.
    """
    good = values[usable]
    if good.size < min_samples:
        return None
    return bool(good.max() - good.min() <= resolution and np.any(good != 0.0))


def mean_offset(a: NDArray[np.float64], b: NDArray[np.float64], usable: NDArray[np.bool_],
                min_samples: int) -> float | None:
    """Mean of a − b over the samples where both are usable; None with too few."""
    if int(usable.sum()) < min_samples:
        return None
    return float(np.mean(a[usable] - b[usable]))


def borehole_outlet_expected_c(b: Borehole, extraction_kw: Sequence[float] | NDArray[np.float64],
                               inlet_c: Sequence[float] | NDArray[np.float64], step_s: float,
                               flow_m3h: float | None = None) -> NDArray[np.float64]:
    """Outlet the ground model gives after each interval of this load and inlet history."""
    return expected_outlet_decline(b, extraction_kw, step_s, inlet_temp_c=np.asarray(inlet_c),
                                   flow_m3h=flow_m3h)
