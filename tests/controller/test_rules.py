"""Rules from the seeds: their citations, their figures on hand-made inputs, site defaults."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from controller.alarms import Observation, Priority, State, evaluate, evaluation_order
from controller.rules import (
    CLOCK_OFFSET_POINT,
    RULES,
    AlarmRule,
    AlarmSettings,
    Window,
    configure,
    observe,
    observe_window,
    plant_flags,
    refresh_s,
    site_alarms,
)
from plant.contract import Quality, Reason, Sample
from plant.heating import climate_curve_c, emitter_share
from plant.site import HeatPump, Site, load_site

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
SITES = {name: load_site(ROOT / "sites" / f"{name}.yaml")
         for name in ("hydrothermal-doublet", "deep-borehole-school", "shallow-field")}
DOUBLET, SCHOOL = SITES["hydrothermal-doublet"], SITES["deep-borehole-school"]


def _seeds() -> Path:
    """The seed documents lie beside the checkout (shared/seeds), or where GEOSCADA_SEEDS says."""
    if "GEOSCADA_SEEDS" in os.environ:
        return Path(os.environ["GEOSCADA_SEEDS"])
    for parent in ROOT.parents:
        if (parent / "shared" / "seeds" / "digest.md").exists():
            return parent / "shared" / "seeds"
    raise AssertionError("seed documents not found: set GEOSCADA_SEEDS")


# What each cited line must say, in the source's own words.
CITED = {
    "003_650ce909837e5072.txt:3049": "防冻报警",
    "digest.md:458": "freezing point should be 3–5 °C below",
    "digest.md:438": "differential pressure of water filters",
    "003_650ce909837e5072.txt:579": "过滤器",
    "003_650ce909837e5072.txt:3269": "正常补水量按循环水量的 1%",
    "digest.md:433": "小温差大流量",
    "003_650ce909837e5072.txt:3001": "出水温度",
    "003_650ce909837e5072.txt:3271": "气候补偿",
    "001_4fc3fc127faa1013.txt:133": "回灌",
    "002_af74a1b5d40b30ab.txt:216": "以灌定采",
    "003_650ce909837e5072.txt:261": "100% 回灌",
    "digest.md:1894": "injectivity index",
    "digest.md:1896": "production capped by measured reinjection capacity",
    "003_650ce909837e5072.txt:1190": "带病运行",
    "003_650ce909837e5072.txt:3136": "冷堆积",
    "digest.md:1911": "approach-temperature (fouling)",
    "003_650ce909837e5072.txt:504": "腐蚀性强",
    "003_650ce909837e5072.txt:80": "累计吸、排热量平衡",
    "digest.md:1902": "cold pit",
    "003_650ce909837e5072.txt:3057": "33.6℃",
    "003_650ce909837e5072.txt:2529": "恢复",
}


def test_every_rule_cites_lines_that_say_it() -> None:
    seeds = _seeds()
    cited = {source for rule in RULES.values() for source in rule.sources}
    assert cited == set(CITED)
    for source, words in CITED.items():
        name, line = source.rsplit(":", 1)
        text = (seeds / name).read_text(encoding="utf-8").splitlines()[int(line) - 1]
        assert words in text, f"{source} does not say {words!r}: {text[:120]!r}"


def sample(point: str, value: float | bool | None, *, age_s: float = 1.0,
           q: Quality = Quality.GOOD, r: Reason | None = None) -> Sample:
    return Sample(p=point, t=NOW - timedelta(seconds=age_s), v=value, q=q, r=r)


def alarm(site: Site, alarm_id: str) -> AlarmRule:
    return next(a for a in site_alarms(site) if a.spec.id == alarm_id)


# --------------------------------------------------------------------------- instant rules


def test_antifreeze_margin_from_the_freezing_point() -> None:
    rule = alarm(DOUBLET, "HP2-1.antifreeze")
    point = "HP2-1.evaporator_out_temp"
    seen = observe(rule, {point: sample(point, 2.9)}, NOW)
    assert (seen.value, seen.limit, seen.good) == (2.9, 3.0, True)
    assert rule.spec.point == point
    assert seen.values == {point: 2.9} and "freezing point 0 °C + 3 K" in seen.detail
    glycol = alarm(SITES["shallow-field"], "HP1.antifreeze")
    glycol_rule = AlarmRule(glycol.spec, glycol.inputs, {**glycol.params,
                                                         "freezing_point_c": -10.0})
    assert observe(glycol_rule, {"HP1.evaporator_out_temp": sample("x", 2.9)}, NOW).limit == -7.0


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ({}, "HP2-1.evaporator_out_temp: no sample"),
        ({"q": Quality.BAD, "r": Reason.COMM_LOST, "value": None},
         "HP2-1.evaporator_out_temp: bad, comm_lost"),
        ({"q": Quality.UNCERTAIN, "value": 2.0}, "HP2-1.evaporator_out_temp: uncertain"),
        ({"age_s": 300.0, "value": 2.0}, "HP2-1.evaporator_out_temp: stale (300 s old)"),
    ],
)
def test_an_unusable_input_makes_the_observation_unsafe_and_says_why(
    given: dict[str, Any], why: str
) -> None:
    rule = alarm(DOUBLET, "HP2-1.antifreeze")
    point = "HP2-1.evaporator_out_temp"
    latest = {point: sample(point, given.pop("value"), **given)} if given else {}
    seen = observe(rule, latest, NOW)
    assert (seen.good, seen.why, seen.value) == (False, why, None)
    others = {p: sample(p, 50.0) for p in ("HP2-1.condenser_out_temp", "HP2-1.cop", "HP2-1.load")}
    instrument = observe(alarm(DOUBLET, "HP2-1.instrument"),
                         {**latest, **others, "HP2-1.fault": sample("HP2-1.fault", False)}, NOW)
    assert instrument.good and instrument.value == 1.0 and instrument.detail == why


def test_filter_dp_against_the_sites_alarm_value() -> None:
    rule = alarm(DOUBLET, "F-F1.filter_dp")
    point = "F-F1.differential_pressure"
    assert observe(rule, {point: sample(point, 99.0)}, NOW).limit == 100.0
    assert rule.spec.deadband == pytest.approx(5.0)
    assert observe(rule, {point: sample(point, 101.0)}, NOW).value == 101.0


def test_small_dt_applies_only_at_large_flow() -> None:
    rule = alarm(DOUBLET, "NET.small_dt")
    design_flow = rule.params["design_flow_m3h"]
    # 290,000 m² at the site's heat index over 55/45 °C: flow = load / (ρ·c·ΔT)
    load_kw = DOUBLET.station.design_heat_load_kw
    assert design_flow == pytest.approx(load_kw / (4.19 * 988 / 3600 * 10), rel=0.01)

    station = DOUBLET.station
    design_outdoor = station.climate.design_outdoor_temp_c
    (outdoor_point,) = rule.inputs["outdoor"]

    def seen(supply: float, ret: float, flow: float, outdoor: float = design_outdoor
             ) -> tuple[float, float, bool]:
        o = observe(rule, {"NET.supply_temp": sample("s", supply),
                           "NET.return_temp": sample("r", ret),
                           "NET.flow": sample("f", flow),
                           outdoor_point: sample(outdoor_point, outdoor)}, NOW)
        assert o.value is not None
        return round(o.value, 9), round(o.limit, 9), o.applicable

    # at the design outdoor temperature the curve's ΔT is the design ΔT (10 K): alarm below 5 K
    assert seen(55.0, 51.0, design_flow) == (4.0, 5.0, True)
    assert seen(55.0, 51.0, 0.5 * design_flow) == (4.0, 5.0, False)
    assert seen(55.0, 51.0, design_flow, design_outdoor - 10.0)[1] == 5.0  # at most design
    # halfway to the indoor temperature the weather asks half the design load: on its curve at
    # design flow the network carries it with half the design ΔT, 5 K; alarm below 2.5 K
    halfway = 0.5 * (station.indoor_design_temp_c + design_outdoor)
    on_curve = climate_curve_c(station, halfway)
    assert seen(on_curve, on_curve - 4.0, design_flow, halfway) == (4.0, 2.5, True)
    assert seen(on_curve, on_curve - 2.0, design_flow, halfway) == (2.0, 2.5, True)  # twice


def test_small_dt_of_a_network_short_of_heat_is_not_over_pumping() -> None:
    """Below the curve the emitters take less at design flow: the ΔT follows the supply.

    The shallow field's cold weeks: at the design outdoor temperature a supply 5 K below the
    curve, at design flow, with half the design ΔT. Its emitters take only the share of the
    design load that supply gives, so the ΔT expected at design flow is that share of the
    design ΔT; half of it is the alarm limit. A network on its curve with that ΔT, or one
    short of heat whose ΔT is still far below what its supply gives, alarms.
    """
    site = load_site(ROOT / "sites" / "shallow-field.yaml")
    rule = alarm(site, "NET.small_dt")
    station = site.station
    design_flow = rule.params["design_flow_m3h"]
    design_dt = station.design_supply_temp_c - station.design_return_temp_c
    cold = station.climate.design_outdoor_temp_c
    (outdoor_point,) = rule.inputs["outdoor"]
    supply = station.design_supply_temp_c - 5.0

    def seen(supply_c: float, dt: float) -> Observation:
        return observe(rule, {"NET.supply_temp": sample("s", supply_c),
                              "NET.return_temp": sample("r", supply_c - dt),
                              "NET.flow": sample("f", design_flow),
                              outdoor_point: sample(outdoor_point, cold)}, NOW)

    share = emitter_share(supply, station.indoor_design_temp_c, station.design_supply_temp_c,
                          station.design_return_temp_c)
    # the share inverts the curve: where the weather asks that share, the curve gives the supply
    assert 0.5 < share < 0.9
    indoor = station.indoor_design_temp_c
    assert climate_curve_c(station, indoor - share * (indoor - cold)) == pytest.approx(supply)
    short = seen(supply, 0.5 * design_dt)
    assert short.limit == pytest.approx(0.5 * share * design_dt)
    assert not _exceeds_low(short), short.detail  # half the design ΔT: short of heat only
    assert "emitters take" in short.detail
    assert _exceeds_low(seen(supply, 0.4 * share * design_dt))  # still far below: pumping
    assert _exceeds_low(seen(station.design_supply_temp_c, 0.45 * design_dt))  # on the curve
    assert emitter_share(station.indoor_design_temp_c, 20.0, 55.0, 45.0) == 0.0


def _exceeds_low(observation: Observation) -> bool:
    assert observation.value is not None and observation.applicable
    return observation.value < observation.limit


def test_plant_flags_follow_run_state_and_fault_and_admit_ignorance() -> None:
    flags = plant_flags(SCHOOL, {
        "HP1.run_state": sample("HP1.run_state", False),
        "HP1.fault": sample("HP1.fault", None, q=Quality.BAD, r=Reason.TIMEOUT),
    }, NOW)
    assert flags["HP1.stopped"] is True and flags["HP1.tripped"] is None
    assert flags["P-U1.stopped"] is None


# --------------------------------------------------------------------------- windowed rules


def window(values: list[float], good: list[bool] | None = None, step_s: float = 60.0) -> Window:
    array = np.asarray(values, dtype=np.float64)
    mask = np.ones(array.size, dtype=np.bool_) if good is None else np.asarray(good)
    return Window(array, mask, step_s)


def reinjection_windows(rw2: list[float], rw2_good: list[bool] | None = None
                        ) -> dict[str, Window]:
    return {"PW1.flow": window([60.0] * 60), "PW2.flow": window([40.0] * 60),
            "RW1.flow": window([50.0] * 60), "RW2.flow": window(rw2, rw2_good),
            "RW3.flow": window([0.0] * 60)}


def test_reinjection_ratio_sums_every_reinjection_well() -> None:
    rule = alarm(DOUBLET, "hydrothermal-doublet.reinjection_1h")
    seen = observe_window(rule, reinjection_windows([45.0] * 60), DOUBLET.station)
    # produced 100 m³/h for an hour, reinjected 50 + 45 + 0 m³/h: 95 %
    assert seen.value == pytest.approx(0.95) and seen.limit == 0.98 and seen.good
    assert seen.values == {"production_m3": 100.0, "reinjection_m3": 95.0, "coverage": 1.0}


def test_a_lost_reinjection_meter_is_never_a_deficit() -> None:
    rule = alarm(DOUBLET, "hydrothermal-doublet.reinjection_1h")
    # RW2 reads zero while its meter is bad for 3 of 60 minutes: those minutes drop out
    flows = [45.0] * 57 + [0.0] * 3
    seen = observe_window(rule, reinjection_windows(flows, [True] * 57 + [False] * 3),
                          DOUBLET.station)
    assert seen.value == pytest.approx(0.95) and seen.values["coverage"] == pytest.approx(0.95)
    # bad for 12 minutes: 80 % coverage is too little to judge
    seen = observe_window(rule, reinjection_windows(
        flows, [True] * 48 + [False] * 12), DOUBLET.station)
    assert not seen.good and seen.value is None
    assert seen.why == ("coverage 80% of the window, below 90% "
                        "(RW2.flow good 80%, PW1.flow good 100%, PW2.flow good 100%)")


def test_no_production_means_no_reinjection_alarm() -> None:
    rule = alarm(DOUBLET, "hydrothermal-doublet.reinjection_1h")
    zero = {p: window([0.0] * 60) for p in rule.points()}
    seen = observe_window(rule, zero, DOUBLET.station)
    assert seen.good and not seen.applicable


def test_makeup_share_over_the_hour() -> None:
    rule = alarm(SCHOOL, "NET.makeup_share")
    # circulation 40 m³/h; make-up pump at 2 m³/h for 12 of 60 minutes: 0.4 m³ of 40 m³ = 1 %
    burst = [2.0] * 12 + [0.0] * 48
    seen = observe_window(rule, {"WT1.makeup_flow": window(burst),
                                 "NET.flow": window([40.0] * 60)}, SCHOOL.station)
    assert seen.value == pytest.approx(0.01) and seen.limit == 0.01
    leak = [2.0] * 15 + [0.0] * 45
    seen = observe_window(rule, {"WT1.makeup_flow": window(leak),
                                 "NET.flow": window([40.0] * 60)}, SCHOOL.station)
    assert seen.value == pytest.approx(0.0125)


def test_climate_curve_passes_through_the_design_point() -> None:
    station = SCHOOL.station
    design = climate_curve_c(station, station.climate.design_outdoor_temp_c)
    assert design == pytest.approx(station.design_supply_temp_c)
    temps = [climate_curve_c(station, t) for t in (-20.0, -10.0, 0.0, 10.0)]
    assert temps == sorted(temps, reverse=True)


def test_climate_curve_rule_on_three_hour_means() -> None:
    rule = alarm(SCHOOL, "NET.climate_curve")
    outdoor = [-3.0] * 90 + [-1.0] * 90
    target = climate_curve_c(SCHOOL.station, -2.0)
    on_curve = observe_window(rule, {"NET.supply_temp": window([target + 2.0] * 180),
                                     "WX.outdoor_temp": window(outdoor)}, SCHOOL.station)
    assert on_curve.value == pytest.approx(2.0) and on_curve.limit == 5.0
    off = observe_window(rule, {"NET.supply_temp": window([target - 6.0] * 180),
                                "WX.outdoor_temp": window(outdoor)}, SCHOOL.station)
    assert off.value == pytest.approx(6.0) and "below the curve" in off.detail
    mild = observe_window(rule, {"NET.supply_temp": window([30.0] * 180),
                                 "WX.outdoor_temp": window([16.0] * 180)}, SCHOOL.station)
    assert not mild.applicable


# --------------------------------------------------------------------------- site defaults


def _with_fourth_reinjection_well(site: Site) -> Site:
    data = site.model_dump(mode="json")
    data["equipment"].append({
        "id": "RW4", "kind": "reinjection_well", "aquifer": "Guantao", "depth_m": 1500.0,
        "static_level_m": 40.0, "injectivity_m3h_per_m": 3.0, "rated_flow_m3h": 60.0,
    })
    template = next(p for p in data["points"] if p["id"] == "RW3.flow")
    binding = {**template["binding"], "address": 9000}
    data["points"].append({**template, "id": "RW4.flow", "equipment": "RW4",
                           "binding": binding})
    return Site.model_validate(data)


def test_every_reinjection_well_gets_the_reinjection_rules() -> None:
    before = alarm(DOUBLET, "hydrothermal-doublet.reinjection_24h")
    assert before.inputs["reinjection"] == ("RW1.flow", "RW2.flow", "RW3.flow")
    assert before.inputs["production"] == ("PW1.flow", "PW2.flow")
    after = alarm(_with_fourth_reinjection_well(DOUBLET), "hydrothermal-doublet.reinjection_24h")
    assert after.inputs["reinjection"] == ("RW1.flow", "RW2.flow", "RW3.flow", "RW4.flow")
    assert after.params["window_s"] == 86400.0
    season = alarm(DOUBLET, "hydrothermal-doublet.reinjection_season")
    assert season.params["window_s"] == DOUBLET.station.climate.heating_season_days * 86400.0


@pytest.mark.parametrize("name", list(SITES))
def test_site_defaults_are_complete_and_consistent(name: str) -> None:
    site = SITES[name]
    alarms = site_alarms(site)
    evaluation_order([a.spec for a in alarms])
    for a in alarms:
        assert a.spec.station == site.station.id
        assert a.spec.source == " ".join(a.rule.sources)
        assert bool(a.rule.sources) == (a.rule.category == "process")
        assert a.spec.direction == a.rule.direction
        for point in a.points():
            # the gateway's own health point is not the plant's
            assert point == CLOCK_OFFSET_POINT or site.point(point).equipment
    rules = {a.spec.rule for a in alarms}
    assert {"antifreeze", "filter_dp", "makeup_share", "climate_curve", "instrument"} <= rules
    assert ("reinjection_ratio" in rules) == (name == "hydrothermal-doublet")
    filters = [e.id for e in site.equipment if e.kind == "filter"]
    assert sorted(a.spec.equipment for a in alarms if a.spec.rule == "filter_dp") == sorted(filters)


def test_a_station_steady_at_design_raises_nothing() -> None:
    """The instantaneous rules on a plant at its design point: every alarm stays normal."""
    station = SCHOOL.station
    hp = SCHOOL.equipment_by_id("HP1")
    assert isinstance(hp, HeatPump)
    alarms = site_alarms(SCHOOL)
    values: dict[str, float | bool] = {
        "HP1.evaporator_out_temp": 8.0, "HP1.fault": False,
        "F-S1.differential_pressure": 12.0, "F-U1.differential_pressure": 11.0,
        "NET.supply_temp": station.design_supply_temp_c,
        "NET.return_temp": station.design_return_temp_c,
        "NET.flow": alarm(SCHOOL, "NET.small_dt").params["design_flow_m3h"],
        "HP1.condenser_out_temp": hp.rated_sink_out_temp_c, "HP1.cop": hp.rated_cop,
        "HP1.load": 100.0, "gateway.clock_offset": 0.1,
        "WX.outdoor_temp": station.climate.design_outdoor_temp_c,
    }
    values["HP1.evaporator_out_temp"] = hp.rated_source_out_temp_c
    latest = {p: sample(p, v) for p, v in values.items()}
    observations = {a.spec.id: observe(a, latest, NOW) for a in alarms if not a.rule.windowed}
    statuses, rows = evaluate([a.spec for a in alarms], {}, observations, {}, NOW)
    assert rows == [] and {s.state for s in statuses.values()} == {State.NORMAL}
    # the evaporator water drops to 2.5 °C and stays: one high-priority alarm after a minute
    latest["HP1.evaporator_out_temp"] = sample("HP1.evaporator_out_temp", 2.5)
    for seconds in (1, 30, 61):
        now = NOW + timedelta(seconds=seconds)
        fresh = {p: s.model_copy(update={"t": now}) for p, s in latest.items()}
        observations = {a.spec.id: observe(a, fresh, now) for a in alarms if not a.rule.windowed}
        statuses, rows = evaluate([a.spec for a in alarms], statuses, observations, {}, now)
    assert [(r.alarm, r.to_state.value, r.priority.value) for r in rows] == [
        ("HP1.antifreeze", "unacknowledged", "high")]


def test_a_silent_device_is_one_alarm_and_its_equipment_stays_quiet() -> None:
    """The heat-pump controller stops answering: its comm alarm first, nothing else annunciated."""
    alarms = site_alarms(SCHOOL)
    specs = [a.spec for a in alarms]
    hpc = {p.id for p in SCHOOL.points_on("hpc")}
    healthy: dict[str, float | bool] = {
        "HP1.evaporator_out_temp": 8.0, "HP1.fault": False,
        "F-S1.differential_pressure": 12.0, "F-U1.differential_pressure": 11.0,
        "NET.supply_temp": 55.0, "NET.return_temp": 45.0, "NET.flow": 20.0,
        "HP1.run_state": True,
    }

    def run(seconds: int, silent: bool, statuses: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        now = NOW + timedelta(seconds=seconds)
        latest = {p.id: Sample(p=p.id, t=now, v=healthy.get(p.id, 1.0 if p.dtype != "bool" else False))
                  for p in SCHOOL.points}
        latest[CLOCK_OFFSET_POINT] = Sample(p=CLOCK_OFFSET_POINT, t=now, v=0.0)
        if silent:
            latest.update({p: Sample(p=p, t=now, v=None, q=Quality.BAD, r=Reason.COMM_LOST)
                           for p in hpc})
        observations = {a.spec.id: observe(a, latest, now) for a in alarms if not a.rule.windowed}
        return evaluate(specs, statuses, observations, plant_flags(SCHOOL, latest, now), now)

    statuses, rows = run(0, False, {})
    assert rows == []
    journal = []
    for seconds in (1, 5, 11, 12):
        statuses, rows = run(seconds, True, statuses)
        journal += rows
    shown = [(r.alarm, r.priority.value) for r in journal if r.annunciated]
    assert shown == [("hpc.comm", "high")]
    assert statuses["HP1.instrument"].state is State.SUPPRESSED
    assert statuses["HP1.antifreeze"].unsafe and statuses["HP1.antifreeze"].state is State.NORMAL
    first = [r.alarm for r in journal if r.trigger.value == "activate"]
    assert first[0] == "hpc.comm"
    statuses, rows = run(13, False, statuses)
    assert statuses["hpc.comm"].state is State.RTN_UNACKNOWLEDGED
    assert statuses["HP1.instrument"].state is State.NORMAL
    assert not any(r.annunciated for r in rows)


def test_a_silent_device_polled_in_groups_raises_its_comm_alarm_before_anything_else() -> None:
    """The doublet's well PLC (fast points each second, slow ones every 30 s) falls silent.

    On a fake clock the gateway's polls are replayed: a fast point reads comm_lost from the
    first poll after the silence, a slow one only at its next poll, up to 30 s later. The comm
    alarm comes first, the equipment's instrument alarms go to suppressed and are never shown,
    and when the PLC answers again nothing is annunciated while the slow points wait for their
    next poll.
    """
    alarms = site_alarms(DOUBLET)
    specs = [a.spec for a in alarms]
    plc = {p.id: DOUBLET.poll_groups[p.poll_group] for p in DOUBLET.points_on("plc-well")}
    assert set(plc.values()) == {1.0, 30.0}
    silent_from, silent_until = 100, 220
    normal: dict[str, float | bool] = {p.id: False if p.dtype == "bool" else 10.0
                                       for p in DOUBLET.points}
    latest = {p: Sample(p=p, t=NOW, v=v) for p, v in normal.items()}
    statuses: dict[str, Any] = {}
    journal = []
    comm_active_at = None
    for second in range(0, 320):
        now = NOW + timedelta(seconds=second)
        for point, period in plc.items():
            if second % int(period) == 7 % int(period):  # this point's poll is due
                if silent_from <= second < silent_until:
                    latest[point] = Sample(p=point, t=now, v=None, q=Quality.BAD,
                                           r=Reason.COMM_LOST)
                else:
                    latest[point] = Sample(p=point, t=now, v=normal[point])
        for point, held in list(latest.items()):  # every other point is read well
            if point not in plc:
                latest[point] = held.model_copy(update={"t": now})
        latest[CLOCK_OFFSET_POINT] = Sample(p=CLOCK_OFFSET_POINT, t=now, v=0.0)
        observations = {a.spec.id: observe(a, latest, now) for a in alarms
                        if not a.rule.windowed}
        statuses, rows = evaluate(specs, statuses, observations,
                                  plant_flags(DOUBLET, latest, now), now)
        journal += rows
        comm = observations["plc-well.comm"]
        if comm_active_at is None and comm.value is not None and comm.value > comm.limit:
            comm_active_at = second
    shown = [(r.alarm, (r.t - NOW).total_seconds()) for r in journal if r.annunciated]
    # the comm alarm one on-delay after the first fast point failed, and nothing else
    assert shown == [("plc-well.comm", silent_from + 10.0)]
    behind = {a.spec.id for a in alarms if a.spec.rule == "instrument"
              and "plc-well.comm" in a.spec.suppressed_when}
    assert {"PW1.instrument", "F-C1.instrument"} <= behind
    suppressed = {r.alarm for r in journal if r.to_state is State.SUPPRESSED}
    assert behind <= suppressed
    assert comm_active_at == silent_from
    # back: the comm alarm stays until the slow points were read again, then all is normal
    assert statuses["plc-well.comm"].state is State.RTN_UNACKNOWLEDGED
    assert not any(statuses[a].active for a in behind)
    assert all(statuses[a].state is State.NORMAL for a in behind)
    cleared = [(r.t - NOW).total_seconds() for r in journal
               if r.alarm == "plc-well.comm" and r.trigger.value == "clear"]
    assert cleared and silent_until < cleared[0] <= silent_until + 30


def test_the_deep_borehole_model_has_its_own_refresh_period() -> None:
    """The season-long ground model is evaluated hourly; every other windowed rule within 60 s."""
    every = {a.spec.id: refresh_s(a) for a in site_alarms(SCHOOL) if a.rule.windowed}
    assert every.pop("BH1.outlet_decline") == 3600.0
    assert every and all(2.0 <= s <= 60.0 for s in every.values())
    tuned = configure(site_alarms(SCHOOL), {"borehole_outlet": AlarmSettings(
        params={"refresh_s": 7200.0})})
    assert [refresh_s(a) for a in tuned if a.spec.rule == "borehole_outlet"] == [7200.0]


def test_site_settings_replace_defaults_by_rule_and_by_alarm() -> None:
    shallow = SITES["shallow-field"]
    alarms = configure(site_alarms(shallow), {
        "antifreeze": AlarmSettings(params={"freezing_point_c": -10.0}),
        "HP1.antifreeze": AlarmSettings(params={"freezing_point_c": -5.0}, priority=Priority.MEDIUM),
        "small_dt_large_flow": AlarmSettings(enabled=False),
        "NET.climate_curve": AlarmSettings(on_delay_s=3600.0),
    })
    by_id = {a.spec.id: a for a in alarms}
    limit = {i: observe(by_id[i], {p: sample(p, 5.0) for p in by_id[i].points()}, NOW).limit
             for i in ("HP1.antifreeze", "HP2.antifreeze")}
    assert limit == {"HP1.antifreeze": -2.0, "HP2.antifreeze": -7.0}
    assert by_id["HP1.antifreeze"].spec.priority is Priority.MEDIUM
    assert by_id["HP2.antifreeze"].spec.priority is Priority.HIGH
    assert "NET.small_dt" not in by_id and "NET.instrument" in by_id
    assert by_id["NET.climate_curve"].spec.on_delay_s == 3600.0


def test_misspelt_settings_are_refused_by_name() -> None:
    alarms = site_alarms(SCHOOL)
    with pytest.raises(ValueError, match=r"name no alarm or rule: HP1\.antifrieze"):
        configure(alarms, {"HP1.antifrieze": AlarmSettings(enabled=False)})
    with pytest.raises(ValueError, match=r"HP1.antifreeze: rule antifreeze has no parameter "
                                         r"freezing_c \(it has: freezing_point_c, margin_k\)"):
        configure(alarms, {"antifreeze": AlarmSettings(params={"freezing_c": -10.0})})
    with pytest.raises(ValidationError, match="priority"):
        AlarmSettings.model_validate({"priority": "urgent"})
    with pytest.raises(ValidationError, match="on_delay"):
        AlarmSettings.model_validate({"on_delay": 5})


def test_windows_on_different_grids_are_refused_by_name() -> None:
    rule = alarm(SCHOOL, "NET.makeup_share")
    with pytest.raises(ValueError, match=r"NET.makeup_share: history windows on different grids: "
                                         r"WT1.makeup_flow 60 × 60 s, NET.flow 59 × 60 s"):
        observe_window(rule, {"WT1.makeup_flow": window([1.0] * 60),
                              "NET.flow": window([40.0] * 59)}, SCHOOL.station)
