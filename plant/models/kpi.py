"""Station KPIs from measurements: heat, COP, SCOP, reinjection ratio, coal and CO₂ avoided.

All functions are pure and vectorised over numpy arrays of samples. Quality is passed as a
boolean ``good`` mask per sample (True where the sample's quality is good); samples that are
not good are excluded, never zeroed, and each KPI reports its coverage: the share of the
interval backed by good samples. Sample durations ``dt_s`` are the time each sample stands
for (a scalar for a regular scan, or an array).

Boundaries of the efficiency figures (documented so reports and alarms agree):

* **unit COP** = heat delivered by the heat pumps ÷ heat-pump electricity;
* **SCOP with source pumps** adds the source-side (ground-loop or well) pumps;
* **system SCOP** adds the user-side circulation pumps too, as case 1.32 reports it
  (003 L3072: "host, user-side and source-side circulation pumps").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from plant.models.coal import electricity_kgce, emissions_t, source_kgce
from plant.models.heat_sources import COMPARISON_ALLOWANCE, EFFICIENCY, HeatSource
from plant.models.water import heat_power_kw

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class Total:
    """A quantity integrated over the good samples of an interval, with its coverage."""

    value: float
    coverage: float


def _mask(good: Mask | None, size: int) -> Mask:
    if good is None:
        return np.ones(size, dtype=np.bool_)
    mask = np.asarray(good, dtype=np.bool_)
    if mask.shape != (size,):
        raise ValueError(f"quality mask has shape {mask.shape}, samples have ({size},)")
    return mask


_BLOCK = 1 << 16  # samples per block: long series are summed in cache-sized pieces


def _sum_and_time(values: Array, dt_s: float | Array, good: Mask | None) -> tuple[float, float]:
    """Σ value·dt and Σ dt over samples that are good and finite, block by block."""
    scalar = np.ndim(dt_s) == 0
    weights = None if scalar else np.asarray(dt_s, dtype=np.float64)
    if weights is not None and weights.shape != values.shape:
        raise ValueError(f"durations have shape {weights.shape}, samples have {values.shape}")
    total = covered = 0.0
    for start in range(0, values.size, _BLOCK):
        block = slice(start, start + _BLOCK)
        chunk = values[block]
        usable = np.isfinite(chunk)
        if good is not None:
            usable &= good[block]
        if weights is None:
            total += float(np.sum(chunk, where=usable))
            covered += float(np.count_nonzero(usable))
        else:
            w = weights[block]
            total += float(np.sum(chunk * w, where=usable))
            covered += float(np.sum(w, where=usable))
    if scalar:
        total *= float(dt_s)
        covered *= float(dt_s)
    return total, covered


def _duration(dt_s: float | Array, size: int) -> float:
    if np.ndim(dt_s) == 0:
        return size * float(dt_s)
    return float(np.asarray(dt_s, dtype=np.float64).sum())


def integrate_kwh(power_kw: Array, dt_s: float | Array, good: Mask | None = None) -> Total:
    """Energy in kWh of a power series over its good, finite samples, with the time coverage."""
    power = np.asarray(power_kw, dtype=np.float64).reshape(-1)
    mask = None if good is None else _mask(good, power.size)
    total_time = _duration(dt_s, power.size)
    if total_time <= 0.0:
        raise ValueError("the interval has no duration")
    energy, covered = _sum_and_time(power, dt_s, mask)
    return Total(energy / 3600.0, covered / total_time)


def heat_kwh(
    flow_m3h: Array,
    supply_c: Array,
    return_c: Array,
    dt_s: float | Array,
    good: Mask | None = None,
) -> Total:
    """Heat delivered (kWh) from volume flow and supply/return temperatures, quality-aware."""
    power = np.asarray(heat_power_kw(np.asarray(flow_m3h, dtype=np.float64),
                                     np.asarray(supply_c, dtype=np.float64),
                                     np.asarray(return_c, dtype=np.float64)), dtype=np.float64)
    return integrate_kwh(power, dt_s, good)


def cop(heat_kwh_: float, electricity_kwh: float) -> float:
    """Coefficient of performance: heat delivered ÷ electricity used over the same interval."""
    if electricity_kwh <= 0.0:
        raise ValueError(f"electricity {electricity_kwh} kWh must be positive for a COP")
    return heat_kwh_ / electricity_kwh


def cop_series(heat_kw: Array, electric_kw: Array, min_electric_kw: float = 0.0) -> Array:
    """Instantaneous COP per sample; NaN where the unit draws no more than ``min_electric_kw``."""
    heat = np.asarray(heat_kw, dtype=np.float64)
    power = np.asarray(electric_kw, dtype=np.float64)
    if heat.shape != power.shape:
        raise ValueError("heat and electric power series must have the same shape")
    out = np.empty_like(heat)
    threshold = max(min_electric_kw, 0.0)
    flat_heat, flat_power, flat_out = heat.reshape(-1), power.reshape(-1), out.reshape(-1)
    for start in range(0, flat_out.size, _BLOCK):
        block = slice(start, start + _BLOCK)
        target = flat_out[block]
        target.fill(np.nan)
        np.divide(flat_heat[block], flat_power[block], out=target,
                  where=flat_power[block] > threshold)
    return out


@dataclass(frozen=True)
class Efficiency:
    """COP at the unit boundary and SCOP with source pumps and with all pumps."""

    unit_cop: float
    scop_with_source_pumps: float
    system_scop: float


def efficiency(heat_kwh_: float, heat_pump_kwh: float, source_pumps_kwh: float = 0.0,
               user_pumps_kwh: float = 0.0) -> Efficiency:
    """COP and SCOP at the three documented boundaries from energy totals of one interval."""
    return Efficiency(
        unit_cop=cop(heat_kwh_, heat_pump_kwh),
        scop_with_source_pumps=cop(heat_kwh_, heat_pump_kwh + source_pumps_kwh),
        system_scop=cop(heat_kwh_, heat_pump_kwh + source_pumps_kwh + user_pumps_kwh),
    )


@dataclass(frozen=True)
class Reinjection:
    """Reinjected ÷ produced volume over the time both flows were measured good."""

    ratio: float
    produced_m3: float
    reinjected_m3: float
    coverage: float


def reinjection_ratio(
    production_m3h: Array,
    reinjection_m3h: Array,
    dt_s: float | Array,
    production_good: Mask | None = None,
    reinjection_good: Mask | None = None,
) -> Reinjection:
    """Reinjection ratio over a window, using only samples where both flows are good.

    A sample with one flow bad is dropped from both sums, so a lost reinjection meter never
    shows up as a reinjection deficit (nor a lost production meter as a surplus); the
    coverage says how much of the window the ratio rests on. The ratio is NaN with no
    production in the good samples.
    """
    produced = np.asarray(production_m3h, dtype=np.float64)
    reinjected = np.asarray(reinjection_m3h, dtype=np.float64)
    if produced.shape != reinjected.shape:
        raise ValueError("production and reinjection series must have the same length")
    good_p = None if production_good is None else _mask(production_good, produced.size)
    good_r = None if reinjection_good is None else _mask(reinjection_good, produced.size)
    scalar = np.ndim(dt_s) == 0
    weights = None if scalar else np.broadcast_to(np.asarray(dt_s, dtype=np.float64),
                                                  produced.shape)
    total = _duration(dt_s, produced.size)
    if total <= 0.0:
        raise ValueError("the window has no duration")
    produced_m3 = reinjected_m3 = covered = 0.0
    for start in range(0, produced.size, _BLOCK):
        block = slice(start, start + _BLOCK)
        p, r = produced[block], reinjected[block]
        # a sample counts only where both flows are usable, in both sums
        both = np.isfinite(p) & np.isfinite(r)
        if good_p is not None:
            both &= good_p[block]
        if good_r is not None:
            both &= good_r[block]
        if weights is None:
            produced_m3 += float(np.sum(p, where=both))
            reinjected_m3 += float(np.sum(r, where=both))
            covered += float(np.count_nonzero(both))
        else:
            w = weights[block]
            produced_m3 += float(np.sum(p * w, where=both))
            reinjected_m3 += float(np.sum(r * w, where=both))
            covered += float(np.sum(w, where=both))
    if scalar:
        produced_m3 *= float(dt_s)
        reinjected_m3 *= float(dt_s)
        covered *= float(dt_s)
    produced_m3 /= 3600.0
    reinjected_m3 /= 3600.0
    ratio = reinjected_m3 / produced_m3 if produced_m3 > 0.0 else float("nan")
    coverage = covered / total
    return Reinjection(ratio, produced_m3, reinjected_m3, coverage)


def reinjection_ratio_windows(
    time_s: Array,
    production_m3h: Array,
    reinjection_m3h: Array,
    window_s: float,
    *,
    production_good: Mask | None = None,
    reinjection_good: Mask | None = None,
) -> tuple[Array, Array, Array]:
    """Reinjection ratio and coverage per fixed window: (window start, ratio, coverage).

    Each sample stands for the time to the next one (the last for the median spacing).
    """
    t = np.asarray(time_s, dtype=np.float64)
    if t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("times must be at least two and strictly increasing")
    dt = np.diff(t, append=t[-1] + np.median(np.diff(t)))
    produced = np.asarray(production_m3h, dtype=np.float64)
    reinjected = np.asarray(reinjection_m3h, dtype=np.float64)
    both = (_mask(production_good, t.size) & _mask(reinjection_good, t.size)
            & np.isfinite(produced) & np.isfinite(reinjected))
    index = ((t - t[0]) // window_s).astype(np.int64)
    count = int(index[-1]) + 1
    good_dt = np.where(both, dt, 0.0)
    prod = np.bincount(index, np.where(both, produced, 0.0) * good_dt, count)
    rein = np.bincount(index, np.where(both, reinjected, 0.0) * good_dt, count)
    covered = np.bincount(index, good_dt, count)
    span = np.bincount(index, dt, count)
    ratio = np.divide(rein, prod, out=np.full(count, np.nan), where=prod > 0.0)
    starts = t[0] + np.arange(count) * window_s
    return starts, ratio, np.divide(covered, span, out=np.zeros(count), where=span > 0.0)


def specific_per_m2(total: float, heated_area_m2: float) -> float:
    """A season's total (heat in GJ, electricity in kWh …) per m² heated."""
    if heated_area_m2 <= 0.0:
        raise ValueError(f"heated area {heated_area_m2} m² must be positive")
    return total / heated_area_m2


@dataclass(frozen=True)
class Avoided:
    """Standard coal (kgce) and CO₂ (t) avoided against one comparison heat source."""

    source: HeatSource
    comparison_kgce: float
    geothermal_kgce: float

    @property
    def coal_kgce(self) -> float:
        """(5-1) Q_s = Q_t − Q_r."""
        return self.comparison_kgce - self.geothermal_kgce

    @property
    def co2_t(self) -> float:
        """CO₂ avoided in tonnes."""
        return emissions_t(self.coal_kgce / 1000.0).co2_t


def avoided(heat_kwh_: float, electricity_kwh: float) -> dict[HeatSource, Avoided]:
    """Coal and CO₂ the station avoids against each comparison source, per (4-13)…(4-18), (5-1).

    The comparison source would consume 1.05·heat/η; the station's electricity counts at the
    grid's coal rate (4-18).
    """
    own = electricity_kgce(electricity_kwh)
    out = {}
    for source in HeatSource:
        energy = COMPARISON_ALLOWANCE * heat_kwh_ / EFFICIENCY[source]
        out[source] = Avoided(source, source_kgce(source, energy), own)
    return out


@dataclass(frozen=True)
class GroundBalance:
    """Heat taken from and put into a borehole field over a season, kWh."""

    extracted_kwh: float
    rejected_kwh: float
    coverage: float

    @property
    def imbalance(self) -> float:
        """(extracted − rejected) ÷ extracted: 0 is balanced, 1 is extraction only."""
        if self.extracted_kwh <= 0.0:
            return float("nan")
        return (self.extracted_kwh - self.rejected_kwh) / self.extracted_kwh


def ground_heat_balance(ground_kw: Array, dt_s: float | Array, good: Mask | None = None
                        ) -> GroundBalance:
    """Seasonal ground heat balance from a signed ground-loop heat series (> 0 extracting)."""
    power = np.asarray(ground_kw, dtype=np.float64)
    extracted = integrate_kwh(np.maximum(power, 0.0), dt_s, good)
    rejected = integrate_kwh(np.maximum(-power, 0.0), dt_s, good)
    return GroundBalance(extracted.value, rejected.value, extracted.coverage)
