"""Fault-free days of each demo station in process: no alarm, with every windowed rule judged.

The simulator's physics in 5-minute steps, its readings as the samples a gateway publishes,
every instantaneous rule at each step and every windowed rule each hour on ~30-bucket windows
of the run's own history (``tests/controller/season.py``), through the alarm engine. A day and a
half is what the longest windows the rules judge on need (the plate exchangers' three days and
the filters' forecast, at 50 % coverage); the last 12 hours are the stretch where every windowed
alarm but the season-long ones is judged on good data, and nothing may be annunciated anywhere
in the run. Two stretches per station: a mild one early in the season (part load: the network's
ΔT and the climate curve at small loads) and the coldest weeks (the heat pumps' evaporators at
their lowest, the anti-freeze margin).
"""

from __future__ import annotations

import pytest

from controller.rules import AlarmSettings, configure, site_alarms
from plant.site import load_site
from tests.controller.season import run_season
from tests.controller.test_rules import ROOT

DAYS = 1.5
STEP_S = 300.0
SEASON_LONG = {"borehole_outlet"}
"""The deep borehole's season-long ground model (1.5 s CPU a round) has its own test."""


@pytest.mark.parametrize("from_day", [3.0, 90.0], ids=["mild", "cold"])
@pytest.mark.parametrize("name", ["deep-borehole-school", "hydrothermal-doublet",
                                  "shallow-field"])
def test_fault_free_days_raise_no_alarm(name: str, from_day: float) -> None:
    site = load_site(ROOT / "sites" / f"{name}.yaml")
    alarms = configure(site_alarms(site), {rule: AlarmSettings(enabled=False)
                                           for rule in SEASON_LONG})
    season = run_season(site, [], days=DAYS, step_s=STEP_S, alarms=alarms, from_day=from_day)
    shown = [(r.alarm, r.t.isoformat(), r.text) for r in season.journal if r.annunciated]
    assert shown == []
    # every windowed alarm shorter than the run was judged on good data at its end
    unjudged = sorted(a.spec.id for a in alarms if a.rule.windowed
                      and a.params["window_s"] <= 3 * 86400.0
                      and season.statuses[a.spec.id].unsafe)
    assert unjudged == []
