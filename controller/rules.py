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
from plant.contract import Quality, Sample
from plant.measurands import Measurand
from plant.models.kpi import reinjection_ratio
from plant.models.water import flow_for_heat_m3h
from plant.site import Filter, HeatPump, Point, ProductionWell, ReinjectionWell, Site, Station
from plant.units import TO_BASE

M = Measurand
SEED_003 = "003_650ce909837e5072.txt"
SEED_001 = "001_4fc3fc127faa1013.txt"
SEED_002 = "002_af74a1b5d40b30ab.txt"
DIGEST = "digest.md"

EMITTER_EXPONENT = 1.3
"""Radiator output exponent (EN 442) behind the climate curve."""


@dataclass(frozen=True)
class Rule:
    """One monitoring rule: what it watches, which way it alarms, where it comes from."""

    name: str
    summary: str
    sources: tuple[str, ...]
    """Seed citations as ``file:line`` (the digest's line where the source file is withheld)."""
    direction: Literal["high", "low"]
    windowed: bool = False


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
    # instrument health: the quality overlay's own alarms, from the alarm anchors, not the seeds
    Rule("instrument", "an input of the equipment's rules is missing, stale or not good",
         (), "high"),
    Rule("device_comm", "no usable value from any point of a device (communication lost)",
         (), "high"),
)}


@dataclass(frozen=True)
class AlarmRule:
    """A configured alarm: the engine's spec, the points the rule reads and its parameters."""

    spec: AlarmSpec
    inputs: Mapping[str, tuple[str, ...]]
    """Role -> point ids (several for sums such as all reinjection wells)."""
    params: Mapping[str, float] = field(default_factory=dict)

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
    p = rule.params
    dt = v["supply"] - v["return"]
    limit = p["dt_fraction"] * p["design_dt_k"]
    flow_floor = p["flow_fraction"] * p["design_flow_m3h"]
    return Observation(value=dt, limit=limit, applicable=v["flow"] >= flow_floor,
                       detail=f"ΔT {dt:.1f} K at {v['flow']:.0f} m³/h; alarm below "
                              f"{limit:.1f} K while the flow is at least {flow_floor:.0f} m³/h")


def _fault(rule: AlarmRule, v: dict[str, float]) -> Observation:
    return Observation(value=v["fault"], limit=0.5, detail="fault" if v["fault"] else "no fault")


def _device_comm(rule: AlarmRule, latest: Mapping[str, Sample], now: datetime) -> Observation:
    stale_after_s = rule.params.get("stale_after_s", 60.0)
    points = rule.points()
    problems = [p for p in (_bad(p, latest.get(p), now, stale_after_s) for p in points) if p]
    share = len(problems) / len(points)
    detail = (f"{len(problems)} of {len(points)} points unusable"
              + (f", e.g. {problems[0]}" if problems else ""))
    return Observation(value=share, limit=0.999, detail=detail)


INSTANT: dict[str, Callable[[AlarmRule, dict[str, float]], Observation]] = {
    "antifreeze": _antifreeze,
    "filter_dp": _filter_dp,
    "small_dt_large_flow": _small_dt,
    "equipment_fault": _fault,
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


def climate_curve_c(station: Station, outdoor_c: float) -> float:
    """Supply temperature that lets design-sized emitters meet the load at this outdoor temp."""
    indoor = station.indoor_design_temp_c
    ratio = (indoor - outdoor_c) / (indoor - station.climate.design_outdoor_temp_c)
    ratio = min(max(ratio, 0.05), 1.2)
    design_mean = 0.5 * (station.design_supply_temp_c + station.design_return_temp_c)
    design_dt = station.design_supply_temp_c - station.design_return_temp_c
    emitters = float(ratio ** (1.0 / EMITTER_EXPONENT))
    return indoor + (design_mean - indoor) * emitters + 0.5 * design_dt * ratio


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
    raise ValueError(f"rule {rule.spec.rule!r} is not a windowed rule")


# --------------------------------------------------------------------------- plant states


def plant_flags(site: Site, latest: Mapping[str, Sample], now: datetime,
                stale_after_s: float = 60.0) -> dict[str, bool | None]:
    """Plant states alarms may be suppressed by: ``<equipment>.stopped`` and ``.tripped``.

    None when the state is unreadable, so a suppression is neither started nor ended on it.
    """
    flags: dict[str, bool | None] = {}
    for point in site.points:
        if point.measurand not in (M.RUN_STATE, M.FAULT):
            continue
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


def site_alarms(site: Site, *, freezing_point_c: float = 0.0,
                small_dt_rule: bool = True) -> tuple[AlarmRule, ...]:
    """Every alarm the rules give this station, with defaults derived from its site file.

    ``freezing_point_c`` is the loop fluid's (0 °C for water; lower with antifreeze);
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
                    {"freezing_point_c": freezing_point_c, "margin_k": 3.0}))
        if isinstance(item, Filter):
            dp = _point(site, item.id, M.DIFFERENTIAL_PRESSURE)
            if dp is not None:
                alarm_kpa = item.alarm_dp_kpa / _kpa(dp)
                alarms.append(AlarmRule(
                    _spec(site, f"{item.id}.filter_dp", item.id, "filter_dp",
                          f"{item.id} clogging: backwash or clean", deadband=0.05 * alarm_kpa,
                          on_delay_s=60.0, point=dp.id),
                    {"dp": (dp.id,)}, {"alarm_kpa": alarm_kpa}))
        if isinstance(item, ProductionWell | HeatPump):
            fault = _point(site, item.id, M.FAULT)
            if fault is not None:
                alarms.append(AlarmRule(
                    _spec(site, f"{item.id}.fault", item.id, "equipment_fault",
                          f"{item.id} tripped", priority=Priority.HIGH, point=fault.id),
                    {"fault": (fault.id,)}))
    alarms += _station_alarms(site, freezing_point_c, small_dt_rule)
    alarms += _instrument_alarms(site, alarms)
    return tuple(alarms)


def _flow_points(site: Site, kind: type[ProductionWell | ReinjectionWell]) -> tuple[str, ...]:
    return tuple(p.id for e in site.equipment if isinstance(e, kind)
                 for p in site.points_of(e.id) if p.measurand is M.FLOW)


def _station_alarms(site: Site, freezing_point_c: float, small_dt_rule: bool
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
            alarms.append(AlarmRule(
                _spec(site, f"{net}.small_dt", net, "small_dt_large_flow",
                      f"{net} small ΔT at large flow: pumping more than the load needs",
                      deadband=0.5, on_delay_s=1800.0, off_delay_s=600.0),
                {"supply": (supply.id,), "return": (ret.id,), "flow": (flow.id,)},
                {"design_dt_k": design_dt, "design_flow_m3h": design_flow,
                 "dt_fraction": 0.5, "flow_fraction": 0.9}))
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
        if alarm.rule.windowed:
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
                                    alarm.inputs, params))
    return tuple(result)
