"""A heating season of each demo station with faults scheduled, in process, in 30-minute steps.

Every injected fault must be detected by its alarm, annunciated between the fault's start and a
day after its end; every other annunciation is counted as a false alarm and reported per rule;
the alarm KPIs are computed from the season's journal. The printed report is what
docs/controller.md records (run with ``-s`` to see it).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.alarms import AlarmRecord
from controller.kpi import alarm_kpis
from controller.rules import RULES, AlarmSettings, configure, site_alarms
from plant.models.water import flow_for_heat_m3h
from plant.site import Site, load_site
from simulator.faults import FaultSpec
from tests.controller.season import Injected, Season, Skew, run_season
from tests.controller.test_rules import ROOT

STEP_S = 1800.0

pytestmark = pytest.mark.slow
DAY = 86400.0
GRACE_S = DAY
"""An alarm up to a day after a fault ends still belongs to it (its off-delay, its window)."""

NEW_RULES = {"injectivity", "reinjection_capacity", "cop_residual", "time_to_limit", "stuck",
             "drift", "clock_offset"}
"""The model-backed and instrument-health rules whose false alarms must be none. Not the plate
exchangers' fouling rule: the simulator caps an isolating exchanger's heat at what the network
asks without lowering its flows, so heat ÷ LMTD is not its conductance there, and those false
alarms on the doublet (``HX3``) are reported, not asserted (docs/controller.md)."""


def _leak_m3h(site: Site) -> float:
    """A leak of 2 % of the design circulation: twice the make-up alarm's limit."""
    s = site.station
    return 0.02 * flow_for_heat_m3h(s.design_heat_load_kw, s.design_supply_temp_c,
                                    s.design_return_temp_c)


def _fault(kind: str, target: str, day: float, days: float, rate: float = 0.0,
           value: float | None = None) -> FaultSpec:
    return FaultSpec(kind=kind, target=target, at_s=day * DAY, duration_s=days * DAY, rate=rate,
                     value=value)


def _schedule(site: Site) -> list[Injected]:
    """About ten faults over the season, two weeks apart, each with the alarms that detect it."""
    station = site.station.id
    leak = _leak_m3h(site)
    skew = Injected(Skew(at_s=0.0, duration_s=DAY, offset_s=30.0), (f"{station}.clock_offset",))
    if station == "deep-borehole-school":
        faults = [
            Injected(_fault("heat_pump_degradation", "HP1", 10, 5, value=0.3), ("HP1.cop_low",)),
            Injected(_fault("filter_fouling", "F-S1", 25, 12, rate=0.01),
                     ("F-S1.dp_forecast", "F-S1.filter_dp")),
            Injected(_fault("makeup_leak", "WT1", 45, 2, rate=leak), ("NET.makeup_share",)),
            Injected(_fault("sensor_stuck", "NET.supply_temp", 60, 1), ("NET.stuck",)),
            Injected(_fault("sensor_drift", "NET.return_temp", 75, 2, rate=0.1),
                     ("NET.return_temp.drift",)),
            Injected(_fault("heat_pump_trip", "HP1", 90, 0.25), ("HP1.fault",)),
            Injected(_fault("sensor_dead", "F-U1.differential_pressure", 105, 1),
                     ("F-U1.instrument",)),
            Injected(_fault("device_silent", "hpc", 120, 2 / 24), ("hpc.comm",)),
        ]
        day = 135
    elif station == "hydrothermal-doublet":
        faults = [
            Injected(_fault("reinjection_clogging", "RW1", 10, 10, rate=0.1),
                     ("RW1.injectivity",)),
            Injected(_fault("plate_fouling", "HX1-1", 30, 8, rate=0.3), ("HX1-1.fouling",)),
            Injected(_fault("heat_pump_degradation", "HP2-1", 50, 5, value=0.3),
                     ("HP2-1.cop_low",)),
            Injected(_fault("filter_fouling", "F-F1", 70, 10, rate=0.01),
                     ("F-F1.dp_forecast", "F-F1.filter_dp")),
            Injected(_fault("well_pump_failure", "PW1", 90, 0.25), ("PW1.fault",)),
            Injected(_fault("makeup_leak", "WT1", 110, 2, rate=leak), ("NET.makeup_share",)),
            Injected(_fault("sensor_stuck", "NET.supply_temp", 130, 1), ("NET.stuck",)),
        ]
        day = 150
    else:
        faults = [
            Injected(_fault("heat_pump_degradation", "HP1", 10, 5, value=0.3), ("HP1.cop_low",)),
            Injected(_fault("filter_fouling", "F-G1", 25, 10, rate=0.01),
                     ("F-G1.dp_forecast", "F-G1.filter_dp")),
            Injected(_fault("makeup_leak", "WT1", 45, 2, rate=leak), ("NET.makeup_share",)),
            Injected(_fault("sensor_drift", "NET.supply_temp", 60, 2, rate=0.1),
                     ("NET.supply_temp.drift",)),
            Injected(_fault("heat_pump_trip", "HP2", 75, 0.25), ("HP2.fault",)),
            Injected(_fault("sensor_stuck", "NET.return_temp", 90, 1), ("NET.stuck",)),
        ]
        day = 105
    spec = skew.spec
    assert isinstance(spec, Skew)
    return [*faults, Injected(Skew(day * DAY, spec.duration_s, spec.offset_s), skew.detected_by)]


def _explained(row: AlarmRecord, season: Season, faults: list[Injected]) -> bool:
    at = (row.t - season.start).total_seconds()
    return any(f.start_s <= at <= f.end_s + GRACE_S for f in faults)


def _report(season: Season, faults: list[Injected]) -> tuple[list[str], list[AlarmRecord]]:
    shown = [r for r in season.journal if r.annunciated]
    lines = [f"{season.site.station.id}: {(season.end - season.start).days} days, "
             f"{len(faults)} faults, {len(shown)} annunciations"]
    missed = []
    for fault in faults:
        hits = [r for r in shown if r.alarm in fault.detected_by
                and fault.start_s <= (r.t - season.start).total_seconds()
                <= fault.end_s + GRACE_S]
        kind = "clock_skew" if isinstance(fault.spec, Skew) else fault.spec.kind
        if not hits:
            missed.append(f"{kind} not detected by {fault.detected_by}")
            continue
        delay_h = ((hits[0].t - season.start).total_seconds() - fault.start_s) / 3600.0
        lines.append(f"  {kind:22} -> {hits[0].alarm:24} after {delay_h:6.2f} h")
    false = [r for r in shown if not _explained(r, season, faults)]
    per_rule: dict[str, int] = {}
    for row in false:
        per_rule[row.rule] = per_rule.get(row.rule, 0) + 1
    lines.append(f"  false alarms {len(false)}: {dict(sorted(per_rule.items()))}")
    kpis = alarm_kpis(season.journal, season.start, season.end)
    for position, kpi in kpis.items():
        top = ", ".join(f"{b.alarm} {b.count}" for b in kpi.bad_actors[:3])
        lines.append(f"  KPIs {position}: {kpi.alarms} alarms, {kpi.per_day.value:.2f}/day, "
                     f"peak {kpi.per_10min_peak} per 10 min, flood share "
                     f"{kpi.flood_share.value:.2%}, chattering {len(kpi.chattering)}, "
                     f"stale {len(kpi.stale)}, suppressed {kpi.suppressed}, top actors {top} "
                     f"({kpi.bad_actor_share.value:.0%})")
    return lines + missed, false


@pytest.mark.timeout(900)  # 40-130 s each on the shared 2 cores under load
@pytest.mark.parametrize("name", ["deep-borehole-school", "hydrothermal-doublet",
                                  "shallow-field"])
def test_a_season_with_faults_detects_every_fault(name: str) -> None:
    site = load_site(ROOT / "sites" / f"{name}.yaml")
    faults = _schedule(site)
    # the deep borehole's ground model over the season costs about a second per evaluation:
    # it has its own test (test_rules_on_simulator.py), not an hourly one here; a flat line
    # is judged on 10 samples at least, so over 6 h of 15-minute steps rather than 2 h
    alarms = configure(site_alarms(site), {
        "borehole_outlet": AlarmSettings(enabled=False),
        "stuck": AlarmSettings(params={"window_s": 6 * 3600.0})})
    season = run_season(site, faults, days=min(site.station.climate.heating_season_days, 160),
                        step_s=STEP_S, alarms=alarms)
    lines, false = _report(season, faults)
    print("\n".join(lines))
    assert not [line for line in lines if "not detected" in line], "\n".join(lines)
    # the model-backed and instrument-health rules raise nothing a fault does not explain
    assert [(r.alarm, r.t) for r in false if r.rule in NEW_RULES] == []
    if name == "shallow-field":  # its cold weeks are short of heat, not over-pumped
        assert [(r.alarm, r.t) for r in false if r.rule == "small_dt_large_flow"] == []
    if name == "hydrothermal-doublet":  # pinched direct exchangers are not judged fouled
        assert {r.alarm for r in false if r.rule == "plate_approach"} <= {"HX3.fouling"}
    assert {a.spec.rule for a in site_alarms(site)} <= set(RULES)
    assert season.end - season.start >= timedelta(days=120)
