"""The model-backed and instrument-health rules on hand-made samples and windows."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from controller.alarms import AlarmStatus, evaluate
from controller.rules import (
    CLOCK_OFFSET_POINT,
    AlarmSettings,
    Window,
    configure,
    observe,
    observe_window,
    plant_flags,
    site_alarms,
)
from plant.contract import Sample
from plant.site import HeatPump
from tests.controller.test_rules import DOUBLET, NOW, SCHOOL, SITES, alarm, sample

SHALLOW = SITES["shallow-field"]


def _window(values: list[float] | np.ndarray, step_s: float = 3600.0) -> Window:
    array = np.asarray(values, dtype=np.float64)
    return Window(array, np.isfinite(array), step_s)


@pytest.mark.parametrize(("level", "pressure_mpa", "share"), [
    (48.0, 0.0, 1.0),        # 70 m³/h with 7 m of rise: the design 10 m³/h per m
    (41.0, 0.0, 0.5),        # 14 m of rise: half the design
    (0.0, 0.0981, 70 / 65 / 10),  # water at the wellhead and 10 m of pressure on it
])
def test_injectivity_against_the_site_files_design(level: float, pressure_mpa: float,
                                                   share: float) -> None:
    rule = alarm(DOUBLET, "RW1.injectivity")
    latest = {"RW1.flow": sample("RW1.flow", 70.0), "RW1.water_level": sample(
        "RW1.water_level", level), "RW1.wellhead_pressure": sample("RW1.wellhead_pressure",
                                                                   pressure_mpa)}
    seen = observe(rule, latest, NOW)
    assert seen.good and seen.applicable
    assert seen.value == pytest.approx(share, rel=1e-3)
    assert seen.limit == 0.7
    # a well taking almost nothing is not judged
    latest["RW1.flow"] = sample("RW1.flow", 5.0)
    assert not observe(rule, latest, NOW).applicable


def test_production_above_the_measured_reinjection_capacity() -> None:
    rule = alarm(DOUBLET, f"{DOUBLET.station.id}.reinjection_capacity")
    latest = {f"PW{i}.flow": sample(f"PW{i}.flow", 100.0) for i in (1, 2)}
    for well in ("RW1", "RW2", "RW3"):
        # each well takes 200/3 m³/h with 50 m of rise: 4/3 m³/h per m, capacity 73.3 m³/h
        latest |= {f"{well}.flow": sample(f"{well}.flow", 200.0 / 3),
                   f"{well}.water_level": sample(f"{well}.water_level", 5.0),
                   f"{well}.wellhead_pressure": sample(f"{well}.wellhead_pressure", 0.0)}
    seen = observe(rule, latest, NOW)
    assert seen.value == pytest.approx(200.0 / (3 * 4 / 3 * 55.0))
    assert seen.value is not None and seen.value < 1.0
    # the wells clog to a third: capacity 73 m³/h for 200 produced
    for well in ("RW1", "RW2", "RW3"):
        latest[f"{well}.water_level"] = sample(f"{well}.water_level", 0.0)
        latest[f"{well}.wellhead_pressure"] = sample(f"{well}.wellhead_pressure", 1.0)
    seen = observe(rule, latest, NOW)
    assert seen.value is not None and seen.value > 1.0
    assert "reinjection capacity" in seen.detail


def _hp_samples(cop: float, load: float = 100.0, running: bool = True) -> dict[str, Sample]:
    hp = DOUBLET.equipment_by_id("HP2-1")
    assert isinstance(hp, HeatPump)
    values = {"HP2-1.evaporator_out_temp": hp.rated_source_out_temp_c,
              "HP2-1.condenser_out_temp": hp.rated_sink_out_temp_c, "HP2-1.cop": cop,
              "HP2-1.load": load, "HP2-1.run_state": running, "HP2-1.fault": False}
    return {p: sample(p, v) for p, v in values.items()}


def test_cop_below_the_model_at_the_rated_point() -> None:
    rule = alarm(DOUBLET, "HP2-1.cop_low")
    # at its rated temperatures and full load the model gives the rated COP 5.5
    seen = observe(rule, _hp_samples(5.5), NOW)
    assert seen.value == pytest.approx(0.0, abs=1e-9)
    seen = observe(rule, _hp_samples(4.4), NOW)
    assert seen.value == pytest.approx(-0.2)
    assert seen.value is not None and seen.value < seen.limit
    # a unit calibrated on its own history to a lower fraction is judged against that
    calibrated = configure([rule], {"HP2-1.cop_low": AlarmSettings(
        params={"fraction": rule.params["fraction"] * 0.739})})[0]
    assert observe(calibrated, _hp_samples(4.4), NOW).value == pytest.approx(0.0, abs=0.01)
    assert not observe(rule, _hp_samples(0.0, load=0.0), NOW).applicable


def test_a_stopped_or_tripped_unit_does_not_raise_low_cop() -> None:
    rules = [a for a in site_alarms(DOUBLET) if a.spec.id in ("HP2-1.cop_low", "HP2-1.fault")]
    specs = [a.spec for a in rules]
    statuses: dict[str, AlarmStatus] = {}
    rows = []
    for minutes in range(0, 120, 5):
        now = NOW + timedelta(minutes=minutes)
        latest = {p: s.model_copy(update={"t": now}) for p, s in _hp_samples(
            3.0, running=False).items()}
        observations = {a.spec.id: observe(a, latest, now) for a in rules}
        statuses, new = evaluate(specs, statuses, observations,
                                 plant_flags(DOUBLET, latest, now), now)
        rows += new
    assert not [r for r in rows if r.annunciated]
    assert statuses["HP2-1.cop_low"].state.value == "suppressed"


def test_plate_fouling_from_the_best_conductance_over_the_window() -> None:
    rule = alarm(DOUBLET, "HX1-1.fouling")
    n = 30
    # throttled most of the time (a third of the heat at the same temperatures), flat out once:
    # clean UA is 2800 kW / 3 K; at 3 K both ends the LMTD is 3 K
    heat = np.full(n, 2800.0 / 3)
    heat[10] = 2800.0
    windows = {"HX1-1.primary_in_temp": _window(np.full(n, 60.0)),
               "HX1-1.primary_out_temp": _window(np.full(n, 40.0)),
               "HX1-1.secondary_in_temp": _window(np.full(n, 37.0)),
               "HX1-1.secondary_out_temp": _window(np.full(n, 57.0)),
               "HX1-1.heat_power": _window(heat)}
    seen = observe_window(rule, windows, DOUBLET.station)
    assert seen.value == pytest.approx(1.0)
    # fouled: the same heat at its best needs 6 K at both ends
    windows["HX1-1.primary_out_temp"] = _window(np.full(n, 43.0))
    windows["HX1-1.secondary_in_temp"] = _window(np.full(n, 37.0))
    windows["HX1-1.secondary_out_temp"] = _window(np.full(n, 54.0))
    seen = observe_window(rule, windows, DOUBLET.station)
    assert seen.value == pytest.approx(0.5)
    assert seen.value is not None and seen.value < seen.limit


def test_a_pinched_exchanger_is_not_judged_fouled() -> None:
    """The doublet's stage-1 exchangers in the season's first days: approach 0.0 K at 2 MW.

    A throttled primary that leaves at the secondary's inlet temperature carries all the heat
    it brings; heat ÷ LMTD then only bounds the conductance from below (the cold end's
    difference is within the sensors' resolution), so such a bucket says nothing of fouling.
    """
    rule = alarm(DOUBLET, "HX1-1.fouling")
    n = 30
    clean = rule.params["clean_ua_kw_per_k"]
    # pinched: 10 K at the hot end, 0.05 K at the cold end, an LMTD of 9.95 / ln 200 = 1.878 K;
    # the heat that gives 60 % of the clean conductance
    heat = 0.6 * clean * 9.95 / math.log(200.0)
    windows = {"HX1-1.primary_in_temp": _window(np.full(n, 60.0)),
               "HX1-1.primary_out_temp": _window(np.full(n, 40.05)),
               "HX1-1.secondary_in_temp": _window(np.full(n, 40.0)),
               "HX1-1.secondary_out_temp": _window(np.full(n, 50.0)),
               "HX1-1.heat_power": _window(np.full(n, heat))}
    seen = observe_window(rule, windows, DOUBLET.station)
    assert not seen.applicable and seen.value is None
    # the same heat at a resolvable approach is judged: 1 K at the cold end
    windows["HX1-1.primary_out_temp"] = _window(np.full(n, 41.0))
    seen = observe_window(rule, windows, DOUBLET.station)
    lmtd = (10.0 - 1.0) / math.log(10.0)
    assert seen.value == pytest.approx(heat / lmtd / clean)


def test_filter_dp_forecast_warns_before_the_limit() -> None:
    rule = alarm(SCHOOL, "F-S1.dp_forecast")
    step = rule.params["window_s"] / 30
    days = np.arange(30) * step / 86400.0
    rising = _window(10.0 + 2.0 * days, step)
    seen = observe_window(rule, {"F-S1.differential_pressure": rising}, SCHOOL.station)
    # 30 kPa alarm; the trend stands at 10 + 2 × 2.9 = 15.8 kPa: 7.1 days to go, within 14
    assert seen.value == pytest.approx((30.0 - (10.0 + 2.0 * days[-1])) / 2.0)
    assert seen.value is not None and seen.value < seen.limit
    flat = _window(10.0 + 0.1 * np.sin(np.arange(30)), step)
    seen = observe_window(rule, {"F-S1.differential_pressure": flat}, SCHOOL.station)
    assert seen.value is not None and seen.value > seen.limit
    assert "F-S1.filter_dp" in rule.spec.suppressed_when


def test_stuck_and_drifting_sensors_are_instrument_alarms() -> None:
    stuck = alarm(SCHOOL, "NET.stuck")
    assert stuck.rule.category == "instrument"
    rng = np.random.default_rng(1)
    windows = {p: _window(50.0 + rng.normal(0.0, 0.05, 30)) for p in stuck.points()}
    assert observe_window(stuck, windows, SCHOOL.station).value == 0.0
    windows["NET.supply_temp"] = _window(np.full(30, 47.3))
    seen = observe_window(stuck, windows, SCHOOL.station)
    assert seen.value == 1.0 and "NET.supply_temp at 47.3" in seen.detail
    drift = alarm(SCHOOL, "NET.return_temp.drift")
    assert drift.rule.category == "instrument"
    base = 40.0 + rng.normal(0.0, 0.05, 30)
    pair = {"NET.return_temp": _window(base + 1.5), "HM-USR.return_temp": _window(base)}
    seen = observe_window(drift, pair, SCHOOL.station)
    assert seen.value == pytest.approx(1.5)
    assert seen.value is not None and seen.value > seen.limit
    flow = alarm(SCHOOL, "NET.flow.drift")
    flows = {"NET.flow": _window(np.full(30, 27.0) * 1.08), "HM-USR.flow": _window(
        np.full(30, 27.0))}
    assert observe_window(flow, flows, SCHOOL.station).value == pytest.approx(0.08)


def test_clock_offset_of_the_edge() -> None:
    rule = alarm(SHALLOW, f"{SHALLOW.station.id}.clock_offset")
    assert rule.rule.category == "instrument"
    for offset, value in ((0.2, 0.2), (-30.0, 30.0)):
        seen = observe(rule, {CLOCK_OFFSET_POINT: sample(CLOCK_OFFSET_POINT, offset)}, NOW)
        assert seen.value == pytest.approx(value)
    assert not observe(rule, {}, NOW).good


def test_ground_cooling_against_the_outside_borehole() -> None:
    rule = alarm(SHALLOW, "GT-AC.ground_cooling")
    windows = {p: _window(np.full(30, 13.0)) for p in rule.inputs["reference"]}
    windows |= {p: _window(np.full(30, 8.0)) for p in rule.inputs["borehole"]}
    seen = observe_window(rule, windows, SHALLOW.station)
    assert seen.value == pytest.approx(5.0)
    assert seen.value is not None and seen.value > seen.limit
