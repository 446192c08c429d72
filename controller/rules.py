"""Monitoring rules from the seed documents, as pure functions of a station's samples.

Each rule is a row of :data:`RULES`, citing its source line (``file:line`` in the seed
documents). A configured alarm is an :class:`AlarmRule`: the :class:`~controller.alarms.AlarmSpec`
the engine runs, the points the rule reads (by role) and its parameters. :func:`site_alarms`
derives every station's alarms from its site file, so a new reinjection well or filter gets its
rules without anyone writing them. :func:`observe` evaluates an instantaneous rule on the latest
samples; :func:`observe_window` a windowed one on history windows (regular grids of values with
their quality, as the historian's rollups give them).

Quality first: an input that is missing, stale or not good makes the observation not good, with
the input and the reason, so the engine neither fires nor clears the alarm on it (and the
instrument alarm of that equipment says why; a device that stops answering altogether is one
root-cause alarm that suppresses those instrument alarms); a windowed figure resting on too
little good data is not good either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from controller.alarms import AlarmSpec, Observation, Priority
from controller.expect import (
    borehole_outlet_expected_c,
    clean_conductance_kw_per_k,
    cop_expected,
    days_to_limit,
    exchanger_conductance_kw_per_k,
    flat_line,
    injectivity_index,
    mean_offset,
    rated_built_in_ratio,
    rated_fraction,
    rated_standing_share,
    reinjection_capacity_m3h,
    trend,
)
from plant.contract import Quality, Reason, Sample
from plant.heating import climate_curve_c, emitter_share
from plant.measurands import Measurand
from plant.models.heat_pump import max_evaporating_temp_c
from plant.models.kpi import reinjection_ratio
from plant.models.water import flow_for_heat_m3h
from plant.site import (
    CoaxialBorehole,
    Filter,
    GroundTempBorehole,
    HeatMeter,
    HeatPump,
    PlateExchanger,
    Point,
    ProductionWell,
    ReinjectionWell,
    Site,
    Station,
)
from plant.units import TO_BASE

M = Measurand
SEED_003 = "003_650ce909837e5072.txt"
SEED_001 = "001_4fc3fc127faa1013.txt"
SEED_002 = "002_af74a1b5d40b30ab.txt"
DIGEST = "digest.md"

CLOCK_OFFSET_POINT = "gateway.clock_offset"
"""The health point in which each gateway publishes its clock's offset from the historians'."""

MAX_INJECTION_HEAD_M = 100.0
"""Wellhead pressure head allowed on a pressurised reinjection well: a choice (10 bar)."""

STUCK_MEASURANDS = frozenset({
    M.WELLHEAD_TEMP, M.INJECTION_TEMP, M.INLET_TEMP, M.OUTLET_TEMP, M.SUPPLY_TEMP, M.RETURN_TEMP,
    M.EVAPORATOR_OUT_TEMP, M.CONDENSER_OUT_TEMP, M.PRIMARY_IN_TEMP, M.PRIMARY_OUT_TEMP,
    M.SECONDARY_IN_TEMP, M.SECONDARY_OUT_TEMP, M.OUTDOOR_TEMP, M.FLOW, M.WATER_LEVEL,
    M.WELLHEAD_PRESSURE, M.DIFFERENTIAL_PRESSURE, M.HEAT_POWER, M.COP, M.MAKEUP_FLOW,
})
"""Measured values that always move a little on a live sensor (checked for a flat line)."""

COMM_REASONS = frozenset({Reason.TIMEOUT, Reason.COMM_LOST, Reason.NOT_CONNECTED})
"""Why a gateway marks a point it could not read because the device did not answer."""

BOREHOLE_REFRESH_S = 3600.0
"""How often the deep borehole's outlet is compared with its ground model: the model over the
season costs about 1.5 s CPU per evaluation, and a decline over months needs no fresher look."""

@dataclass(frozen=True)
class Rule:
    """One monitoring rule: what it watches, which way it alarms, where it comes from."""

    name: str
    summary: str
    sources: tuple[str, ...]
    """Seed citations as ``file:line`` (the digest's line where the source file is withheld)."""
    direction: Literal["high", "low"]
    windowed: bool = False
    category: Literal["process", "instrument"] = "process"
    """Instrument-health alarms are kept apart from process alarms (they say a value is wrong,
    not that the plant is)."""


RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule("antifreeze", "loop water within the margin of its freezing point (R18)",
         (f"{SEED_003}:3049", f"{DIGEST}:458"), "low"),
    Rule("filter_dp", "filter or strainer differential pressure above its alarm value (R16)",
         (f"{DIGEST}:438", f"{SEED_003}:579"), "high"),
    Rule("makeup_share", "make-up water above 1 % of the circulating flow (R22)",
         (f"{SEED_003}:3269",), "high", windowed=True),
    Rule("small_dt_large_flow", "network ΔT far below design while the flow is at design (R15)",
         (f"{DIGEST}:433",), "low"),
    Rule("climate_curve", "supply temperature off the climate curve (R17)",
         (f"{SEED_003}:3001", f"{SEED_003}:3271"), "high", windowed=True),
    Rule("reinjection_ratio", "reinjected below produced volume over a window (R2, R3)",
         (f"{SEED_001}:133", f"{SEED_002}:216", f"{SEED_003}:261"), "low", windowed=True),
    Rule("equipment_fault", "equipment reports a fault (trip)", (f"{SEED_003}:3049",), "high"),
    Rule("injectivity", "a reinjection well takes less flow per metre of rise than designed "
         "(reinjection decline)", (f"{SEED_001}:133", f"{DIGEST}:1894"), "low"),
    Rule("reinjection_capacity", "production above the reinjection wells' measured capacity "
         "(以灌定采)", (f"{SEED_002}:216", f"{DIGEST}:1896"), "high"),
    Rule("cop_residual", "heat-pump COP below the model's expectation for its temperatures "
         "and load", (f"{SEED_003}:1190", f"{SEED_003}:3136"), "low"),
    Rule("plate_approach", "plate exchanger conductance below clean at its best over the "
         "window: fouling", (f"{DIGEST}:1911", f"{SEED_003}:504"), "low", windowed=True),
    Rule("time_to_limit", "a trend will cross its alarm limit soon (filter ΔP)",
         (f"{DIGEST}:1894", f"{SEED_003}:579"), "low", windowed=True),
    Rule("ground_temp", "ground inside a borehole field cooled below the undisturbed ground",
         (f"{SEED_003}:80", f"{DIGEST}:1902"), "high", windowed=True),
    Rule("borehole_outlet", "deep-borehole outlet below the ground model's for its load "
         "history (decline, or no recovery since last season)",
         (f"{SEED_003}:3057", f"{SEED_003}:2529"), "low", windowed=True),
    # instrument health: from the alarm anchors, not the seeds
    Rule("instrument", "an input of the equipment's rules is missing, stale or not good",
         (), "high", category="instrument"),
    Rule("device_comm", "a device does not answer: a point lost to communication, or none usable",
         (), "high", category="instrument"),
    Rule("stuck", "a sensor reads the same value throughout the window (flat-lined)",
         (), "high", windowed=True, category="instrument"),
    Rule("drift", "a sensor has drifted from a redundant one at the same place",
         (), "high", windowed=True, category="instrument"),
    Rule("clock_offset", "an edge gateway's clock is off the historians'",
         (), "high", category="instrument"),
)}


@dataclass(frozen=True)
class AlarmRule:
    """A configured alarm: the engine's spec, the points the rule reads and its parameters."""

    spec: AlarmSpec
    inputs: Mapping[str, tuple[str, ...]]
    """Role -> point ids (several for sums such as all reinjection wells)."""
    params: Mapping[str, float] = field(default_factory=dict)
    model: CoaxialBorehole | None = None
    """The equipment's model where the rule needs more than numbers (a deep borehole)."""

    @property
    def rule(self) -> Rule:
        """The rule this alarm applies."""
        return RULES[self.spec.rule]

    def points(self) -> tuple[str, ...]:
        """Every point the rule reads."""
        return tuple(p for ids in self.inputs.values() for p in ids)


@dataclass(frozen=True)
class Window:
    """A history window of one point on a regular grid: values, quality, step."""

    values: NDArray[np.float64]
    good: NDArray[np.bool_]
    step_s: float

    def __post_init__(self) -> None:
        if self.values.shape != self.good.shape or self.values.ndim != 1:
            raise ValueError(f"window values {self.values.shape} and quality "
                             f"{self.good.shape} must be one-dimensional and alike")
        if not self.step_s > 0:
            raise ValueError(f"window step must be positive, not {self.step_s}")

    @property
    def usable(self) -> NDArray[np.bool_]:
        """Samples that are good and finite."""
        return self.good & np.isfinite(self.values)


# --------------------------------------------------------------------------- inputs


def _bad(point: str, sample: Sample | None, now: datetime, stale_after_s: float) -> str:
    """Why a sample cannot be used ('' when it can)."""
    if sample is None:
        return f"{point}: no sample"
    if sample.q is not Quality.GOOD:
        reason = f", {sample.r.value}" if sample.r else ""
        return f"{point}: {sample.q.value}{reason}"
    if sample.v is None:
        return f"{point}: no value"
    age = (now - sample.t).total_seconds()
    if age > stale_after_s:
        return f"{point}: stale ({age:.0f} s old)"
    return ""


def _read(rule: AlarmRule, latest: Mapping[str, Sample], now: datetime
          ) -> tuple[dict[str, float], dict[str, float | bool | None], str]:
    """Values by role (first point of each), values by point id, and why not good ('')."""
    stale_after_s = rule.params.get("stale_after_s", 60.0)
    by_role: dict[str, float] = {}
    by_point: dict[str, float | bool | None] = {}
    problems = []
    for role, points in rule.inputs.items():
        for point in points:
            sample = latest.get(point)
            by_point[point] = None if sample is None else sample.v
            problem = _bad(point, sample, now, stale_after_s)
            if problem:
                problems.append(problem)
            elif role not in by_role and sample is not None and sample.v is not None:
                by_role[role] = float(sample.v)
    return by_role, by_point, "; ".join(problems)


def _unsafe(rule: AlarmRule, why: str, values: dict[str, float | bool | None]) -> Observation:
    return Observation(value=None, limit=rule.params.get("limit", math.nan), good=False,
                       why=why, values=values)


# --------------------------------------------------------------------------- instant rules


def _antifreeze(rule: AlarmRule, v: dict[str, float]) -> Observation:
    limit = rule.params["freezing_point_c"] + rule.params["margin_k"]
    return Observation(value=v["temp"], limit=limit,
                       detail=f"{v['temp']:.1f} °C, alarm below {limit:.1f} °C "
                              f"(freezing point {rule.params['freezing_point_c']:g} °C "
                              f"+ {rule.params['margin_k']:g} K)")


def _filter_dp(rule: AlarmRule, v: dict[str, float]) -> Observation:
    limit = rule.params["alarm_kpa"]
    return Observation(value=v["dp"], limit=limit,
                       detail=f"ΔP {v['dp']:.1f} kPa, alarm above {limit:g} kPa")


def _small_dt(rule: AlarmRule, v: dict[str, float]) -> Observation:
    """ΔT against what the network gives at design flow for today's weather.

    On its climate curve a network at design flow carries the weather's share of the design
    load with that share of the design ΔT (quality control, :func:`climate_curve_c`); a network
    whose flow follows the load keeps about the design ΔT and is below the flow floor at part
    load. Either way, a ΔT under half of the curve's at design flow means the network pumps at
    least twice what the weather's load needs.
    """
    p = rule.params
    dt = v["supply"] - v["return"]
    share = 1.0
    if "outdoor" in v:
        indoor, design = p["indoor_c"], p["design_outdoor_c"]
        share = min(max((indoor - v["outdoor"]) / (indoor - design), 0.0), 1.0)
    # a supply below the curve is a shortage of heat, not of ΔT: its emitters take less at
    # design flow, and a network that gets less heat shows a smaller ΔT however it pumps
    supplied = emitter_share(v["supply"], p["indoor_c"], p["design_supply_c"],
                             p["design_return_c"])
    short = supplied < share
    expected = min(share, supplied) * p["design_dt_k"]
    limit = p["dt_fraction"] * expected
    flow_floor = p["flow_fraction"] * p["design_flow_m3h"]
    weather = (f" ({share:.0%} of the design load at {v['outdoor']:.1f} °C outdoors)"
               if "outdoor" in v else "")
    gives = (f"its emitters take {supplied:.0%} of the design load from a {v['supply']:.1f} °C "
             f"supply{weather}: {expected:.1f} K at design flow" if short else
             f"the curve gives {expected:.1f} K at design flow{weather}")
    return Observation(value=dt, limit=limit, applicable=v["flow"] >= flow_floor,
                       detail=f"ΔT {dt:.1f} K at {v['flow']:.0f} m³/h; {gives}; alarm below "
                              f"{limit:.1f} K while the flow is at least {flow_floor:.0f} m³/h")


def _fault(rule: AlarmRule, v: dict[str, float]) -> Observation:
    return Observation(value=v["fault"], limit=0.5, detail="fault" if v["fault"] else "no fault")


def _injectivity(rule: AlarmRule, v: dict[str, float]) -> Observation:
    p = rule.params
    limit = p["limit"]
    applicable = v["flow"] >= p["min_flow_m3h"]
    index = injectivity_index(v["flow"], p["static_level_m"], v["level"] * p["m_per_unit"],
                              v["pressure"] * p["kpa_per_unit"])
    if index is None or not applicable:
        return Observation(value=None, limit=limit, applicable=False,
                           detail=f"{v['flow']:.0f} m³/h: too little flow to judge")
    share = index / p["design_index"]
    return Observation(value=share, limit=limit,
                       detail=f"injectivity {index:.2f} m³/h per m, {share:.0%} of the design "
                              f"{p['design_index']:g}; alarm below {limit:.0%}")


def _capacity(rule: AlarmRule, v: dict[str, float]) -> Observation:
    p = rule.params
    produced = sum(value for role, value in v.items() if role.startswith("production."))
    capacity = 0.0
    for well in (role.split(".", 1)[1] for role in v if role.startswith("flow.")):
        index = injectivity_index(v[f"flow.{well}"], p[f"static_level_m.{well}"],
                                  v[f"level.{well}"] * p[f"m_per_unit.{well}"],
                                  v[f"pressure.{well}"] * p[f"kpa_per_unit.{well}"])
        measured = index is not None and v[f"flow.{well}"] >= p[f"min_flow_m3h.{well}"]
        capacity += reinjection_capacity_m3h(
            index if measured and index is not None else p[f"design_index.{well}"],
            p[f"static_level_m.{well}"], p[f"max_head_m.{well}"])
    limit = p["limit"]
    applicable = produced >= p["min_flow_m3h"]
    share = produced / capacity if capacity > 0 else math.inf
    return Observation(value=share if applicable else None, limit=limit, applicable=applicable,
                       detail=f"production {produced:.0f} m³/h against a measured reinjection "
                              f"capacity of {capacity:.0f} m³/h ({share:.0%}); alarm above "
                              f"{limit:.0%}")


def _cop(rule: AlarmRule, v: dict[str, float]) -> Observation:
    p = rule.params
    load = v["load"] * p["ratio_per_unit"]
    limit = p["limit"]
    if load < p["min_load_ratio"] or v["cop"] <= 1.0:
        return Observation(value=None, limit=limit, applicable=False,
                           detail=f"load {load:.0%}: not running steadily")
    expected = cop_expected(p["fraction"], v["source"], v["sink"], load, p["built_in_ratio"],
                            standing_share=p["standing_share"],
                            max_evaporating_c=p["max_evaporating_c"])
    residual = v["cop"] / expected - 1.0
    return Observation(value=residual, limit=limit,
                       detail=f"COP {v['cop']:.2f} against {expected:.2f} expected at "
                              f"{v['source']:.1f} → {v['sink']:.1f} °C and {load:.0%} load "
                              f"({residual:+.0%}); alarm below {limit:+.0%}")


def _clock(rule: AlarmRule, v: dict[str, float]) -> Observation:
    limit = rule.params["limit_s"]
    return Observation(value=abs(v["offset"]), limit=limit,
                       detail=f"gateway clock {v['offset']:+.1f} s off the historians'; "
                              f"alarm beyond ±{limit:g} s")


def comm_problem(point: str, sample: Sample | None, now: datetime, stale_after_s: float
                 ) -> tuple[str, str]:
    """Why a device's point is unusable ('' when usable), and whether the device did not
    answer it (its text, else '')."""
    problem = _bad(point, sample, now, stale_after_s)
    if problem and sample is not None and sample.q is not Quality.GOOD \
            and sample.r in COMM_REASONS:
        return problem, f"{point}: {sample.r.value}"
    return problem, ""


def device_comm_observation(rule: AlarmRule, problems: Sequence[str], lost: Sequence[str]
                            ) -> Observation:
    """The device's comm alarm from its points' problems and those it did not answer."""
    count = len(rule.points())
    silent = bool(lost) or len(problems) == count
    detail = (f"{len(lost)} of {count} points not answered, {len(problems)} unusable"
              + (f", e.g. {(lost or problems)[0]}" if problems else ""))
    return Observation(value=1.0 if silent else len(problems) / count, limit=0.999,
                       detail=detail)


def _device_comm(rule: AlarmRule, latest: Mapping[str, Sample], now: datetime) -> Observation:
    """Active when the device does not answer: any point lost to communication, or none usable.

    A device polled in groups of different periods shows its silence first in its fast points;
    its slow points still hold their last good values until their next poll. Judging the device
    by every point would raise this root cause a slow poll period after the instrument alarms of
    its equipment, so one point the device did not answer is enough, and the alarm clears only
    once every point has been read again.
    """
    stale_after_s = rule.params.get("stale_after_s", 60.0)
    problems: list[str] = []
    lost: list[str] = []
    for point in rule.points():
        problem, unanswered = comm_problem(point, latest.get(point), now, stale_after_s)
        if problem:
            problems.append(problem)
        if unanswered:
            lost.append(unanswered)
    return device_comm_observation(rule, problems, lost)


INSTANT: dict[str, Callable[[AlarmRule, dict[str, float]], Observation]] = {
    "antifreeze": _antifreeze,
    "filter_dp": _filter_dp,
    "small_dt_large_flow": _small_dt,
    "equipment_fault": _fault,
    "injectivity": _injectivity,
    "reinjection_capacity": _capacity,
    "cop_residual": _cop,
    "clock_offset": _clock,
}


def observe(rule: AlarmRule, latest: Mapping[str, Sample], now: datetime) -> Observation:
    """Evaluate an instantaneous rule on the latest sample of each of its points."""
    if rule.spec.rule == "instrument":
        _, values, why = _read(rule, latest, now)
        return Observation(value=1.0 if why else 0.0, limit=0.5, values=values,
                           detail=why or "all inputs good")
    if rule.spec.rule == "device_comm":
        return _device_comm(rule, latest, now)
    by_role, values, why = _read(rule, latest, now)
    if why:
        return _unsafe(rule, why, values)
    return INSTANT[rule.spec.rule](rule, by_role).model_copy(update={"values": values})


# --------------------------------------------------------------------------- windowed rules


def _sum(windows: Sequence[Window]) -> Window:
    """Sum of several points on the same grid; a step counts only where every point is good."""
    values = np.sum([np.where(w.usable, w.values, 0.0) for w in windows], axis=0)
    good = np.logical_and.reduce([w.usable for w in windows])
    return Window(values, good, windows[0].step_s)


def _coverage_problem(rule: AlarmRule, coverage: float, windows: Mapping[str, Window]) -> str:
    needed = rule.params.get("min_coverage", 0.9)
    if coverage >= needed:
        return ""
    worst = sorted((float(w.usable.mean()) if w.usable.size else 0.0, point)
                   for point, w in windows.items())
    detail = ", ".join(f"{point} good {share:.0%}" for share, point in worst[:3])
    return f"coverage {coverage:.0%} of the window, below {needed:.0%} ({detail})"


def _group(rule: AlarmRule, role: str, windows: Mapping[str, Window]) -> Window:
    return _sum([windows[point] for point in rule.inputs[role]])


def _ratio_observation(rule: AlarmRule, windows: Mapping[str, Window], *, numerator: str,
                       denominator: str, label: str) -> Observation:
    """A volume ratio (numerator ÷ denominator) over the window, on steps where both are good."""
    top, bottom = _group(rule, numerator, windows), _group(rule, denominator, windows)
    result = reinjection_ratio(bottom.values, top.values, top.step_s, bottom.good, top.good)
    values: dict[str, float | bool | None] = {
        f"{denominator}_m3": round(result.produced_m3, 3),
        f"{numerator}_m3": round(result.reinjected_m3, 3),
        "coverage": round(result.coverage, 4),
    }
    why = _coverage_problem(rule, result.coverage, {p: windows[p] for p in rule.points()})
    limit = rule.params["limit"]
    if why:
        return Observation(value=None, limit=limit, good=False, why=why, values=values)
    applicable = result.produced_m3 >= rule.params.get("min_volume_m3", 1.0)
    ratio = result.ratio if applicable else None
    detail = (f"{label} {result.ratio:.1%} over the window (coverage {result.coverage:.0%}), "
              f"limit {limit:.1%}" if applicable else f"no {denominator} in the window")
    return Observation(value=ratio, limit=limit, applicable=applicable, detail=detail,
                       values=values)


def _reinjection(rule: AlarmRule, windows: Mapping[str, Window]) -> Observation:
    return _ratio_observation(rule, windows, numerator="reinjection",
                              denominator="production", label="reinjection ratio")


def _makeup(rule: AlarmRule, windows: Mapping[str, Window]) -> Observation:
    return _ratio_observation(rule, windows, numerator="makeup", denominator="circulation",
                              label="make-up share of circulation")


def _climate(rule: AlarmRule, windows: Mapping[str, Window], station: Station) -> Observation:
    supply, outdoor = _group(rule, "supply", windows), _group(rule, "outdoor", windows)
    both = supply.usable & outdoor.usable
    coverage = float(both.mean()) if both.size else 0.0
    limit = rule.params["tolerance_k"]
    why = _coverage_problem(rule, coverage, {p: windows[p] for p in rule.points()})
    if why:
        return Observation(value=None, limit=limit, good=False, why=why)
    mean_supply = float(supply.values[both].mean())
    mean_outdoor = float(outdoor.values[both].mean())
    target = climate_curve_c(station, mean_outdoor)
    deviation = mean_supply - target
    heating = mean_outdoor < station.indoor_design_temp_c - rule.params.get("heating_below_k", 3.0)
    return Observation(
        value=abs(deviation), limit=limit, applicable=heating,
        values={"supply_c": round(mean_supply, 2), "outdoor_c": round(mean_outdoor, 2),
                "curve_c": round(target, 2)},
        detail=f"supply {mean_supply:.1f} °C is {abs(deviation):.1f} K "
               f"{'above' if deviation > 0 else 'below'} the curve's {target:.1f} °C "
               f"at {mean_outdoor:.1f} °C outdoors (tolerance {limit:g} K)",
    )


def _time_to_limit(rule: AlarmRule, windows: Mapping[str, Window]) -> Observation:
    p = rule.params
    window = windows[rule.inputs["value"][0]]
    horizon = p["horizon_days"]
    coverage = float(window.usable.mean()) if window.usable.size else 0.0
    why = _coverage_problem(rule, coverage, windows)
    if why:
        return Observation(value=None, limit=horizon, good=False, why=why)
    fitted = trend(window.values, window.usable, window.step_s)
    if fitted is None:
        return Observation(value=None, limit=horizon, good=False, why="too few samples")
    slope, now_value = fitted
    days = days_to_limit(slope, now_value, p["alarm_limit"], "high")
    shown = "never at this trend" if math.isinf(days) else f"in {days:.1f} days"
    return Observation(
        value=min(days, 1e6), limit=horizon,
        values={"slope_per_day": round(slope, 4), "trend_now": round(now_value, 3)},
        detail=f"trend {now_value:.1f} rising {slope:+.2f} a day reaches "
               f"{p['alarm_limit']:g} {shown}; warn within {horizon:g} days")


def _plate(rule: AlarmRule, windows: Mapping[str, Window]) -> Observation:
    """The best conductance over the window against the clean one.

    An exchanger that already gives what the network asks for is throttled, and its apparent
    conductance (heat ÷ LMTD) falls with the throttling; at its best over days (the cold hours)
    it works flat out, so the best is the conductance a fouling lowers. A bucket whose cold-end
    approach is under ``min_approach_k`` (the sensors' resolution) is pinched: the exchanger
    moves all its throttled primary brings, and heat ÷ LMTD only bounds its conductance from
    below, so it is not judged.
    """
    p = rule.params
    limit = p["limit"]
    got = {role: windows[rule.inputs[role][0]] for role in
           ("hot_in", "hot_out", "cold_in", "cold_out", "heat")}
    both = np.logical_and.reduce([w.usable for w in got.values()])
    coverage = float(both.mean()) if both.size else 0.0
    why = _coverage_problem(rule, coverage, windows)
    if why:
        return Observation(value=None, limit=limit, good=False, why=why)
    best: tuple[float, float, float] | None = None
    for i in np.flatnonzero(both):
        heat = float(got["heat"].values[i]) * p["kw_per_unit"]
        if heat < p["min_heat_kw"]:
            continue
        if float(got["hot_out"].values[i] - got["cold_in"].values[i]) < p["min_approach_k"]:
            continue  # pinched: heat ÷ LMTD only bounds the conductance from below
        ua = exchanger_conductance_kw_per_k(
            heat, *(float(got[r].values[i]) for r in ("hot_in", "hot_out", "cold_in", "cold_out")))
        if ua is not None and (best is None or ua > best[0]):
            best = (ua, heat, float(got["hot_out"].values[i] - got["cold_in"].values[i]))
    if best is None:
        return Observation(value=None, limit=limit, applicable=False,
                           detail="too little heat over the window to judge")
    ua, heat, approach = best
    share = ua / p["clean_ua_kw_per_k"]
    return Observation(value=share, limit=limit,
                       values={"ua_kw_per_k": round(ua, 1), "heat_kw": round(heat, 1)},
                       detail=f"best conductance {ua:.0f} kW/K over the window, {share:.0%} of "
                              f"clean (approach {approach:.1f} K at {heat:.0f} kW); alarm below "
                              f"{limit:.0%}")


def _ground_temp(rule: AlarmRule, windows: Mapping[str, Window]) -> Observation:
    limit = rule.params["max_drop_k"]
    inside, outside = _mean_of(rule, "borehole", windows), _mean_of(rule, "reference", windows)
    if inside is None or outside is None:
        return Observation(value=None, limit=limit, good=False,
                           why=_coverage_problem(rule, 0.0, windows) or "too few samples")
    drop = outside - inside
    return Observation(value=drop, limit=limit,
                       values={"field_c": round(inside, 2), "undisturbed_c": round(outside, 2)},
                       detail=f"ground {inside:.1f} °C, {drop:.1f} K below the undisturbed "
                              f"{outside:.1f} °C; alarm beyond {limit:g} K")


def _mean_of(rule: AlarmRule, role: str, windows: Mapping[str, Window]) -> float | None:
    """Mean over the window of the role's points, each needing enough good coverage."""
    means = []
    for point in rule.inputs[role]:
        window = windows[point]
        if not window.usable.size or window.usable.mean() < rule.params.get("min_coverage", 0.8):
            return None
        means.append(float(window.values[window.usable].mean()))
    return float(np.mean(means)) if means else None


def _filled(window: Window) -> NDArray[np.float64]:
    """Values with unusable steps carried from the nearest earlier usable one (or later)."""
    usable = window.usable
    if not usable.any():
        return np.zeros_like(window.values)
    index = np.where(usable, np.arange(usable.size), -1)
    np.maximum.accumulate(index, out=index)
    first = int(np.flatnonzero(usable)[0])
    index[index < 0] = first
    return window.values[index]


def _borehole_outlet(rule: AlarmRule, windows: Mapping[str, Window]) -> Observation:
    p = rule.params
    limit = -p["tolerance_k"]
    if rule.model is None:
        raise ValueError(f"alarm {rule.spec.id}: the borehole's model is missing")
    heat, inlet, outlet = (windows[rule.inputs[role][0]] for role in ("heat", "inlet", "outlet"))
    both = heat.usable & inlet.usable & outlet.usable
    coverage = float(both.mean()) if both.size else 0.0
    why = _coverage_problem(rule, coverage, windows)
    if why:
        return Observation(value=None, limit=limit, good=False, why=why)
    recent = max(1, int(p["recent_s"] / outlet.step_s))
    tail = both[-recent:]
    loads = _filled(heat) * p["kw_per_unit"]
    if not tail.any() or float(loads[-recent:][tail].mean()) < p["min_heat_kw"]:
        return Observation(value=None, limit=limit, applicable=False,
                           detail="borehole not extracting heat lately")
    expected = borehole_outlet_expected_c(rule.model, loads, _filled(inlet), outlet.step_s)
    measured = float(outlet.values[-recent:][tail].mean())
    model = float(expected[-recent:][tail].mean())
    residual = measured - model
    return Observation(value=residual, limit=limit,
                       values={"outlet_c": round(measured, 2), "model_c": round(model, 2)},
                       detail=f"outlet {measured:.1f} °C against the model's {model:.1f} °C for "
                              f"this season's load ({residual:+.1f} K); alarm below "
                              f"{limit:+g} K")


def _stuck(rule: AlarmRule, windows: Mapping[str, Window]) -> Observation:
    p = rule.params
    flat, judged = [], 0
    for point in rule.inputs["points"]:
        window = windows[point]
        verdict = flat_line(window.values, window.usable, p["resolution"],
                            int(p["min_samples"]))
        if verdict is not None:
            judged += 1
        if verdict:
            flat.append(f"{point} at {window.values[window.usable][-1]:g}")
    if not judged:
        return Observation(value=None, limit=0.5, good=False,
                           why="too few good samples to judge any point")
    return Observation(value=float(len(flat)), limit=0.5,
                       detail=("flat-lined over the window: " + ", ".join(flat)) if flat
                       else f"{judged} points moving")


def _drift(rule: AlarmRule, windows: Mapping[str, Window]) -> Observation:
    p = rule.params
    a, b = (windows[rule.inputs[role][0]] for role in ("point", "reference"))
    offset = mean_offset(a.values, b.values, a.usable & b.usable, int(p["min_samples"]))
    limit = p["tolerance"]
    if offset is None:
        return Observation(value=None, limit=limit, good=False, why="too few good samples")
    if p.get("relative", 0.0):
        scale = float(np.mean(np.abs(b.values[a.usable & b.usable])))
        if scale < p["min_scale"]:
            return Observation(value=None, limit=limit, applicable=False,
                               detail="too little to compare")
        offset /= scale
    unit = " (share)" if p.get("relative", 0.0) else ""
    return Observation(value=abs(offset), limit=limit,
                       detail=f"{rule.inputs['point'][0]} reads {offset:+.3g}{unit} against "
                              f"{rule.inputs['reference'][0]} on average; alarm beyond "
                              f"{limit:g}")


WINDOWED: dict[str, Callable[[AlarmRule, Mapping[str, Window]], Observation]] = {
    "time_to_limit": _time_to_limit,
    "plate_approach": _plate,
    "ground_temp": _ground_temp,
    "borehole_outlet": _borehole_outlet,
    "stuck": _stuck,
    "drift": _drift,
}


def refresh_s(rule: AlarmRule) -> float:
    """How often a windowed rule is evaluated again: its own ``refresh_s``, else window ÷ 60.

    Window ÷ 60 lies between 2 s and 60 s; a rule whose evaluation is costly (the deep
    borehole's ground model over the season) sets a longer period of its own.
    """
    own = rule.params.get("refresh_s")
    if own is not None:
        return own
    return min(60.0, max(2.0, rule.params["window_s"] / 60.0))


def observe_window(rule: AlarmRule, windows: Mapping[str, Window], station: Station
                   ) -> Observation:
    """Evaluate a windowed rule on history windows of its points (keyed by point id)."""
    missing = [p for p in rule.points() if p not in windows]
    if missing:
        return _unsafe(rule, "no history for " + ", ".join(missing), {})
    grids = {p: (windows[p].values.size, windows[p].step_s) for p in rule.points()}
    if len(set(grids.values())) != 1:
        raise ValueError(f"alarm {rule.spec.id}: history windows on different grids: "
                         + ", ".join(f"{p} {n} × {step:g} s" for p, (n, step) in grids.items()))
    if rule.spec.rule == "reinjection_ratio":
        return _reinjection(rule, windows)
    if rule.spec.rule == "makeup_share":
        return _makeup(rule, windows)
    if rule.spec.rule == "climate_curve":
        return _climate(rule, windows, station)
    windowed = WINDOWED.get(rule.spec.rule)
    if windowed is not None:
        return windowed(rule, windows)
    raise ValueError(f"rule {rule.spec.rule!r} is not a windowed rule")


# --------------------------------------------------------------------------- plant states


def flag_points(site: Site) -> tuple[Point, ...]:
    """The points :func:`plant_flags` reads: run states and fault points."""
    return tuple(p for p in site.points if p.measurand in (M.RUN_STATE, M.FAULT))


def plant_flags(site: Site, latest: Mapping[str, Sample], now: datetime,
                stale_after_s: float = 60.0, *, points: Sequence[Point] | None = None
                ) -> dict[str, bool | None]:
    """Plant states alarms may be suppressed by: ``<equipment>.stopped`` and ``.tripped``.

    None when the state is unreadable, so a suppression is neither started nor ended on it.
    ``points`` are the site's :func:`flag_points`, when already known.
    """
    flags: dict[str, bool | None] = {}
    for point in flag_points(site) if points is None else points:
        sample = latest.get(point.id)
        known = not _bad(point.id, sample, now, stale_after_s)
        value = bool(sample.v) if known and sample is not None else None
        if point.measurand is M.RUN_STATE:
            flags[f"{point.equipment}.stopped"] = None if value is None else not value
        else:
            flags[f"{point.equipment}.tripped"] = value
    return flags


# --------------------------------------------------------------------------- site defaults


def _point(site: Site, equipment: str, measurand: Measurand) -> Point | None:
    return next((p for p in site.points_of(equipment) if p.measurand is measurand), None)


def _spec(site: Site, alarm: str, equipment: str, rule: str, title: str, *,
          priority: Priority = Priority.LOW, deadband: float = 0.0, on_delay_s: float = 0.0,
          off_delay_s: float = 0.0, suppressed_when: tuple[str, ...] = (),
          point: str = "") -> AlarmSpec:
    definition = RULES[rule]
    return AlarmSpec(
        station=site.station.id, id=alarm, equipment=equipment, rule=rule, title=title,
        priority=priority, direction=definition.direction, deadband=deadband,
        on_delay_s=on_delay_s, off_delay_s=off_delay_s, suppressed_when=suppressed_when,
        source=" ".join(definition.sources), point=point,
    )


def _kpa(point: Point) -> float:
    """Factor from the point's pressure unit to kPa."""
    return TO_BASE[point.unit] / TO_BASE["kPa"]


def site_alarms(site: Site, *, freezing_point_c: float | None = None,
                small_dt_rule: bool = True) -> tuple[AlarmRule, ...]:
    """Every alarm the rules give this station, with defaults derived from its site file.

    ``freezing_point_c`` replaces the evaporator fluid's freezing point the site file states
    for each heat pump (``source_freezing_point_c``: 0 °C for water, lower with antifreeze);
    ``small_dt_rule`` False for networks designed for large flow and small ΔT (003 L2627).
    """
    alarms: list[AlarmRule] = []
    for item in site.equipment:
        if isinstance(item, HeatPump):
            temp = _point(site, item.id, M.EVAPORATOR_OUT_TEMP)
            if temp is not None:
                alarms.append(AlarmRule(
                    _spec(site, f"{item.id}.antifreeze", item.id, "antifreeze",
                          f"{item.id} evaporator water near freezing", priority=Priority.HIGH,
                          deadband=0.5, on_delay_s=60.0, point=temp.id),
                    {"temp": (temp.id,)},
                    {"freezing_point_c": item.source_freezing_point_c
                     if freezing_point_c is None else freezing_point_c, "margin_k": 3.0}))
        if isinstance(item, Filter):
            dp = _point(site, item.id, M.DIFFERENTIAL_PRESSURE)
            if dp is not None:
                alarm_kpa = item.alarm_dp_kpa / _kpa(dp)
                alarms.append(AlarmRule(
                    _spec(site, f"{item.id}.filter_dp", item.id, "filter_dp",
                          f"{item.id} clogging: backwash or clean", deadband=0.05 * alarm_kpa,
                          on_delay_s=60.0, point=dp.id),
                    {"dp": (dp.id,)}, {"alarm_kpa": alarm_kpa}))
        alarms += _model_alarms(site, item)
        if isinstance(item, ProductionWell | HeatPump):
            fault = _point(site, item.id, M.FAULT)
            if fault is not None:
                alarms.append(AlarmRule(
                    _spec(site, f"{item.id}.fault", item.id, "equipment_fault",
                          f"{item.id} tripped", priority=Priority.HIGH, point=fault.id),
                    {"fault": (fault.id,)}))
    alarms += _station_alarms(site, small_dt_rule)
    alarms += _capacity_alarms(site)
    alarms += _instrument_alarms(site, alarms)
    alarms += _health_alarms(site, alarms)
    return tuple(alarms)


def _factor(point: Point, unit: str) -> float:
    """Factor from the point's unit to ``unit`` (1 where the unit has no conversion)."""
    if point.unit == unit or point.unit not in TO_BASE:
        return 1.0
    return TO_BASE[point.unit] / TO_BASE[unit]


def _model_alarms(site: Site, item: object) -> list[AlarmRule]:
    """The model-backed alarms of one piece of equipment."""
    def points(*measurands: Measurand) -> list[Point] | None:
        found = [_point(site, item.id, m) for m in measurands]  # type: ignore[attr-defined]
        return None if any(p is None for p in found) else [p for p in found if p is not None]

    alarms: list[AlarmRule] = []
    if isinstance(item, HeatPump):
        found = points(M.EVAPORATOR_OUT_TEMP, M.CONDENSER_OUT_TEMP, M.COP, M.LOAD)
        if found is not None:
            source, sink, cop, load = found
            causes = [f"{item.id}.stopped"]
            if _point(site, item.id, M.FAULT) is not None:
                causes.append(f"{item.id}.fault")
            alarms.append(AlarmRule(
                _spec(site, f"{item.id}.cop_low", item.id, "cop_residual",
                      f"{item.id} COP below what its temperatures allow: check refrigerant "
                      f"charge and heat exchangers", priority=Priority.MEDIUM, deadband=0.03,
                      on_delay_s=1800.0, off_delay_s=600.0, suppressed_when=tuple(causes),
                      point=cop.id),
                {"source": (source.id,), "sink": (sink.id,), "cop": (cop.id,),
                 "load": (load.id,)},
                {"fraction": rated_fraction(item), "built_in_ratio": rated_built_in_ratio(item),
                 "standing_share": rated_standing_share(item),
                 "max_evaporating_c": max_evaporating_temp_c(item),
                 "limit": -0.15, "min_load_ratio": 0.2,
                 "ratio_per_unit": 0.01 if load.unit == "%" else 1.0}))
    if isinstance(item, PlateExchanger):
        found = points(M.PRIMARY_IN_TEMP, M.PRIMARY_OUT_TEMP, M.SECONDARY_IN_TEMP,
                       M.SECONDARY_OUT_TEMP, M.HEAT_POWER)
        if found is not None:
            hot_in, hot_out, cold_in, cold_out, heat = found
            alarms.append(AlarmRule(
                _spec(site, f"{item.id}.fouling", item.id, "plate_approach",
                      f"{item.id} fouled: approach wider than its load explains, clean it",
                      deadband=0.05, point=heat.id),
                {"hot_in": (hot_in.id,), "hot_out": (hot_out.id,), "cold_in": (cold_in.id,),
                 "cold_out": (cold_out.id,), "heat": (heat.id,)},
                {"clean_ua_kw_per_k": clean_conductance_kw_per_k(item.rated_heat_kw,
                                                                 item.design_approach_k),
                 "limit": 0.7, "min_heat_kw": 0.2 * item.rated_heat_kw, "min_approach_k": 0.5,
                 "kw_per_unit": _factor(heat, "kW"), "window_s": 3 * 86400.0,
                 "min_coverage": 0.5}))
    if isinstance(item, ReinjectionWell):
        found = points(M.FLOW, M.WATER_LEVEL, M.WELLHEAD_PRESSURE)
        if found is not None:
            flow, level, pressure = found
            alarms.append(AlarmRule(
                _spec(site, f"{item.id}.injectivity", item.id, "injectivity",
                      f"{item.id} reinjection declining: the well takes less per metre of "
                      f"rise (clogging)", priority=Priority.MEDIUM, deadband=0.05,
                      on_delay_s=3600.0, point=flow.id),
                {"flow": (flow.id,), "level": (level.id,), "pressure": (pressure.id,)},
                {"static_level_m": item.static_level_m,
                 "design_index": item.injectivity_m3h_per_m, "limit": 0.7,
                 "min_flow_m3h": 0.1 * item.rated_flow_m3h, "m_per_unit": 1.0,
                 "kpa_per_unit": _kpa(pressure)}))
    if isinstance(item, Filter):
        dp = _point(site, item.id, M.DIFFERENTIAL_PRESSURE)
        if dp is not None:
            alarms.append(AlarmRule(
                _spec(site, f"{item.id}.dp_forecast", item.id, "time_to_limit",
                      f"{item.id} will reach its ΔP alarm soon: plan a backwash",
                      deadband=1.0, on_delay_s=3600.0, suppressed_when=(f"{item.id}.filter_dp",),
                      point=dp.id),
                {"value": (dp.id,)},
                {"alarm_limit": item.alarm_dp_kpa / _kpa(dp), "horizon_days": 14.0,
                 "window_s": 3 * 86400.0, "min_coverage": 0.5}))
    if isinstance(item, CoaxialBorehole):
        found = points(M.HEAT_POWER, M.INLET_TEMP, M.OUTLET_TEMP)
        if found is not None:
            heat, inlet, outlet = found
            season_s = site.station.climate.heating_season_days * 86400.0
            alarms.append(AlarmRule(
                _spec(site, f"{item.id}.outlet_decline", item.id, "borehole_outlet",
                      f"{item.id} outlet colder than the ground model allows for this "
                      f"season's load", priority=Priority.MEDIUM, deadband=0.3,
                      point=outlet.id),
                {"heat": (heat.id,), "inlet": (inlet.id,), "outlet": (outlet.id,)},
                {"tolerance_k": 2.0, "recent_s": 6 * 3600.0,
                 "min_heat_kw": 0.1 * item.rated_extraction_kw, "kw_per_unit": _factor(heat, "kW"),
                 "window_s": season_s, "min_coverage": 0.8, "refresh_s": BOREHOLE_REFRESH_S},
                model=item))
    return alarms


def _ground_sensors(site: Site, borehole: GroundTempBorehole) -> tuple[str, ...]:
    return tuple(p.id for p in site.points_of(borehole.id) if p.measurand is M.GROUND_TEMP)


def _capacity_alarms(site: Site) -> list[AlarmRule]:
    """以灌定采: the production wells' flow against the reinjection wells' measured capacity."""
    alarms: list[AlarmRule] = []
    production = _flow_points(site, ProductionWell)
    inputs: dict[str, tuple[str, ...]] = {
        f"production.{site.point(p).equipment}": (p,) for p in production}
    params: dict[str, float] = {"limit": 1.0, "min_flow_m3h": 1.0}
    for well in (e for e in site.equipment if isinstance(e, ReinjectionWell)):
        flow, level = _point(site, well.id, M.FLOW), _point(site, well.id, M.WATER_LEVEL)
        pressure = _point(site, well.id, M.WELLHEAD_PRESSURE)
        if flow is None or level is None or pressure is None:
            return []
        inputs |= {f"flow.{well.id}": (flow.id,), f"level.{well.id}": (level.id,),
                   f"pressure.{well.id}": (pressure.id,)}
        params |= {f"static_level_m.{well.id}": well.static_level_m,
                   f"design_index.{well.id}": well.injectivity_m3h_per_m,
                   f"max_head_m.{well.id}": MAX_INJECTION_HEAD_M if well.pressurised else 0.0,
                   f"min_flow_m3h.{well.id}": 0.1 * well.rated_flow_m3h,
                   f"m_per_unit.{well.id}": 1.0, f"kpa_per_unit.{well.id}": _kpa(pressure)}
    if production and len(inputs) > len(production):
        station = site.station.id
        alarms.append(AlarmRule(
            _spec(site, f"{station}.reinjection_capacity", station, "reinjection_capacity",
                  "Production above what the reinjection wells can take: reduce production "
                  "(以灌定采)", priority=Priority.HIGH, deadband=0.02, on_delay_s=600.0),
            inputs, params))
    return alarms


def _health_alarms(site: Site, alarms: Sequence[AlarmRule]) -> list[AlarmRule]:
    """Instrument health beyond quality: flat-lined and drifting sensors, the edge's clock."""
    result: list[AlarmRule] = []
    watched: dict[str, list[str]] = {}
    for alarm in alarms:
        if alarm.rule.category == "instrument" or alarm.spec.rule == "borehole_outlet":
            continue
        for point in alarm.points():
            info = site.point(point)
            if info.dtype != "bool" and info.measurand in STUCK_MEASURANDS:
                ids = watched.setdefault(info.equipment, [])
                if point not in ids:
                    ids.append(point)
    for owner, ids in watched.items():
        result.append(AlarmRule(
            _spec(site, f"{owner}.stuck", owner, "stuck",
                  f"{owner} sensor flat-lined: its value no longer follows the plant"),
            {"points": tuple(ids)},
            {"resolution": 0.0, "min_samples": 10, "window_s": 2 * 3600.0,
             "min_coverage": 0.0}))
    networks = {e.id for e in site.equipment if e.kind == "network"}
    for meter in (e for e in site.equipment if isinstance(e, HeatMeter)):
        if meter.serves not in networks or meter.serves is None:
            continue
        for measurand, tolerance, relative in ((M.SUPPLY_TEMP, 1.0, 0.0),
                                               (M.RETURN_TEMP, 1.0, 0.0), (M.FLOW, 0.05, 1.0)):
            mine, theirs = _point(site, meter.id, measurand), _point(site, meter.serves,
                                                                      measurand)
            if mine is None or theirs is None:
                continue
            result.append(AlarmRule(
                _spec(site, f"{theirs.id}.drift", theirs.equipment, "drift",
                      f"{theirs.id} and {mine.id} disagree: one of them has drifted",
                      deadband=0.2 * tolerance, point=theirs.id),
                {"point": (theirs.id,), "reference": (mine.id,)},
                {"tolerance": tolerance, "relative": relative, "min_scale": 1.0,
                 "min_samples": 10, "window_s": 6 * 3600.0, "min_coverage": 0.5}))
    outside = [e for e in site.equipment
               if isinstance(e, GroundTempBorehole) and e.position == "outside"]
    for borehole in (e for e in site.equipment if isinstance(e, GroundTempBorehole)):
        reference = next((o for o in outside if o.field == borehole.field), None)
        reference = reference or (outside[0] if outside else None)
        if borehole.position == "outside" or reference is None:
            continue
        alarms_for = _ground_sensors(site, borehole)
        if alarms_for:
            result.append(AlarmRule(
                _spec(site, f"{borehole.id}.ground_cooling", borehole.id, "ground_temp",
                      f"{borehole.field} ground cooling down (cold pit): balance extraction "
                      f"with summer rejection", priority=Priority.MEDIUM, deadband=0.2),
                {"borehole": alarms_for, "reference": _ground_sensors(site, reference)},
                {"max_drop_k": 4.0, "window_s": 86400.0, "min_coverage": 0.8}))
    station = site.station.id
    result.append(AlarmRule(
        _spec(site, f"{station}.clock_offset", station, "clock_offset",
              "Gateway clock off: sample times cannot be trusted", priority=Priority.MEDIUM,
              deadband=0.5, on_delay_s=60.0, point=CLOCK_OFFSET_POINT),
        {"offset": (CLOCK_OFFSET_POINT,)}, {"limit_s": 5.0, "stale_after_s": 600.0}))
    return result


def _flow_points(site: Site, kind: type[ProductionWell | ReinjectionWell]) -> tuple[str, ...]:
    return tuple(p.id for e in site.equipment if isinstance(e, kind)
                 for p in site.points_of(e.id) if p.measurand is M.FLOW)


def _station_alarms(site: Site, small_dt_rule: bool
                    ) -> list[AlarmRule]:
    alarms: list[AlarmRule] = []
    station = site.station
    production = _flow_points(site, ProductionWell)
    reinjection = _flow_points(site, ReinjectionWell)
    if production and reinjection:
        season_s = station.climate.heating_season_days * 86400.0
        windows = (("1h", "1 h", 3600.0, Priority.LOW, 0.01),
                   ("24h", "24 h", 86400.0, Priority.MEDIUM, 0.01),
                   ("season", "the season", season_s, Priority.MEDIUM, 0.005))
        for suffix, label, window_s, priority, deadband in windows:
            alarms.append(AlarmRule(
                _spec(site, f"{station.id}.reinjection_{suffix}", station.id,
                      "reinjection_ratio", f"Reinjection below production over {label}",
                      priority=priority, deadband=deadband),
                {"production": production, "reinjection": reinjection},
                {"limit": 0.98, "window_s": window_s, "min_coverage": 0.9,
                 "min_volume_m3": 1.0}))
    networks = [e.id for e in site.equipment if e.kind == "network"]
    makeups = [p for e in site.equipment if e.kind == "water_treatment"
               for p in site.points_of(e.id) if p.measurand is M.MAKEUP_FLOW]
    weather = next((p for p in site.points if p.measurand is M.OUTDOOR_TEMP), None)
    for net in networks:
        flow = _point(site, net, M.FLOW)
        supply = _point(site, net, M.SUPPLY_TEMP)
        ret = _point(site, net, M.RETURN_TEMP)
        if flow is not None and makeups:
            alarms.append(AlarmRule(
                _spec(site, f"{net}.makeup_share", net, "makeup_share",
                      f"{net} make-up above normal: look for a leak", priority=Priority.MEDIUM,
                      deadband=0.001),
                {"makeup": tuple(p.id for p in makeups), "circulation": (flow.id,)},
                {"limit": 0.01, "window_s": 3600.0, "min_coverage": 0.9, "min_volume_m3": 1.0}))
        if small_dt_rule and flow is not None and supply is not None and ret is not None:
            design_dt = station.design_supply_temp_c - station.design_return_temp_c
            design_flow = flow_for_heat_m3h(station.design_heat_load_kw,
                                            station.design_supply_temp_c,
                                            station.design_return_temp_c)
            inputs = {"supply": (supply.id,), "return": (ret.id,), "flow": (flow.id,)}
            if weather is not None:
                inputs["outdoor"] = (weather.id,)
            alarms.append(AlarmRule(
                _spec(site, f"{net}.small_dt", net, "small_dt_large_flow",
                      f"{net} small ΔT at large flow: pumping more than the load needs",
                      deadband=0.5, on_delay_s=1800.0, off_delay_s=600.0),
                inputs,
                {"design_dt_k": design_dt, "design_flow_m3h": design_flow,
                 "design_supply_c": station.design_supply_temp_c,
                 "design_return_c": station.design_return_temp_c,
                 "dt_fraction": 0.5, "flow_fraction": 0.9,
                 "indoor_c": station.indoor_design_temp_c,
                 "design_outdoor_c": station.climate.design_outdoor_temp_c}))
        if supply is not None and weather is not None:
            alarms.append(AlarmRule(
                _spec(site, f"{net}.climate_curve", net, "climate_curve",
                      f"{net} supply temperature off the climate curve", deadband=0.5,
                      on_delay_s=1800.0),
                {"supply": (supply.id,), "outdoor": (weather.id,)},
                {"tolerance_k": 5.0, "window_s": 3 * 3600.0, "min_coverage": 0.8}))
    return alarms


def _instrument_alarms(site: Site, alarms: Sequence[AlarmRule]) -> list[AlarmRule]:
    """One instrument alarm per equipment over the points its process alarms read.

    A device that falls silent is one root-cause alarm (``<device>.comm``, over all the
    device's points) that suppresses the instrument alarms of the equipment behind it.
    """
    points: dict[str, list[str]] = {}
    for alarm in alarms:
        if alarm.rule.windowed or alarm.rule.category == "instrument":
            continue
        for point in alarm.points():
            owner = site.point(point).equipment
            if point not in points.setdefault(owner, []):
                points[owner].append(point)
    devices = sorted({site.point(p).binding.device for ids in points.values() for p in ids})
    result = [
        AlarmRule(_spec(site, f"{device}.comm", device, "device_comm",
                        f"{device} not answering: its equipment's alarms cannot be evaluated",
                        priority=Priority.HIGH, on_delay_s=10.0),
                  {"points": tuple(p.id for p in site.points_on(device))})
        for device in devices
    ]
    for owner, ids in points.items():
        behind = tuple(sorted({f"{site.point(p).binding.device}.comm" for p in ids}))
        result.append(AlarmRule(
            _spec(site, f"{owner}.instrument", owner, "instrument",
                  f"{owner} instrument fault: its alarms cannot be evaluated", on_delay_s=10.0,
                  suppressed_when=behind),
            {"inputs": tuple(ids)}))
    return result


# --------------------------------------------------------------------------- per-site settings


class AlarmSettings(BaseModel):
    """What a site may change of a default alarm (or of every alarm of a rule)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None
    """False drops the alarm (e.g. small ΔT on a network designed for large flow)."""
    priority: Priority | None = None
    position: str | None = None
    deadband: Annotated[float, Field(ge=0)] | None = None
    on_delay_s: Annotated[float, Field(ge=0)] | None = None
    off_delay_s: Annotated[float, Field(ge=0)] | None = None
    latching: bool | None = None
    max_shelve_s: Annotated[float, Field(gt=0)] | None = None
    params: dict[str, float] = Field(default_factory=dict)
    """Rule parameters to replace (``freezing_point_c``, ``limit``, ``tolerance_k`` ...)."""


def configure(alarms: Sequence[AlarmRule], settings: Mapping[str, AlarmSettings]
              ) -> tuple[AlarmRule, ...]:
    """Apply a site's settings, keyed by alarm id or by rule name (an alarm id wins).

    A key that names no alarm or rule, or a parameter the rule does not have, is refused with
    an error naming it, so a misspelt setting never silently leaves the default in place.
    """
    ids = {a.spec.id for a in alarms}
    unknown = sorted(key for key in settings if key not in ids and key not in RULES)
    if unknown:
        raise ValueError(f"alarm settings name no alarm or rule: {', '.join(unknown)}")
    result = []
    for alarm in alarms:
        chosen = [settings[key] for key in (alarm.spec.rule, alarm.spec.id) if key in settings]
        spec, params, enabled = alarm.spec, dict(alarm.params), True
        for item in chosen:
            extra = sorted(set(item.params) - set(params))
            if extra:
                raise ValueError(f"alarm {spec.id}: rule {spec.rule} has no parameter "
                                 f"{', '.join(extra)} (it has: {', '.join(sorted(params))})")
            params.update(item.params)
            changes = {name: value for name, value in item.model_dump(
                exclude={"enabled", "params"}).items() if value is not None}
            spec = spec.model_copy(update=changes)
            enabled = enabled if item.enabled is None else item.enabled
        if enabled:
            result.append(AlarmRule(AlarmSpec.model_validate(spec.model_dump()),
                                    alarm.inputs, params, alarm.model))
    return tuple(result)
