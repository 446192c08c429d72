"""The supervisor reading a station: reinjection limits on production, a bumpless take-over,
and a short season of the school against its local logic (the 180-day comparison of every
demo station is bench/bench_staging.py).

The readings come from the simulated station (as the gateway would publish them); where a case
needs wells that take less, those readings are set by hand and the expected speed worked out
here from the injectivity they imply.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.supervisor import decision_event, production_speed_hz, supervisor_for
from plant.contract import Event
from plant.site import load_site
from plant.supervision import PlantView, Setpoint
from simulator.season import SeasonSettings, run_season
from simulator.sim import StationSim

SITES = Path(__file__).resolve().parents[2] / "sites"
START = datetime(2025, 12, 20, tzinfo=UTC)


@pytest.mark.parametrize(("speed", "produced", "limit", "expected"), [
    (50.0, 220.0, 176.0, 40.0),   # flow follows speed: cut in the ratio limit/produced
    (40.0, 176.0, 220.0, 50.0),   # room again: given back, up to the maximum
    (50.0, 220.0, 22.0, 25.0),    # never below the minimum speed
    (0.0, 0.0, 100.0, 50.0),      # a stopped pump: nothing to scale from
])
def test_production_speed_follows_the_reinjection_limit(speed: float, produced: float,
                                                         limit: float, expected: float) -> None:
    assert production_speed_hz(speed, produced, limit, 25.0, 50.0) == pytest.approx(expected)


def doublet_view() -> tuple[StationSim, PlantView]:
    sim = StationSim(load_site(SITES / "hydrothermal-doublet.yaml"), start=START,
                     warm_up_s=3600.0)
    return sim, PlantView(sim.station_id, sim.now, sim.values())


def test_production_is_cut_to_what_the_reinjection_wells_take() -> None:
    sim, view = doublet_view()
    sup = supervisor_for(sim.site)
    produced = sum(float(view.readings[f"{w}.flow"] or 0.0) for w in ("PW1", "PW2"))
    assert produced > 150.0
    capacity = sup.reinjection_capacity_m3h(view)
    assert capacity is not None and capacity > produced  # the demo wells take it all
    assert not [s for s in sup.step(view) if "speed" in s.point]
    # clogged wells: each takes 30 m³/h with its water 25 m above static (level 30 m below
    # the wellhead, no pressure): 1.2 m³/h per m, 1.2 × 55 m = 66 m³/h each at most
    readings = dict(view.readings)
    for well in ("RW1", "RW2", "RW3"):
        readings.update({f"{well}.flow": 30.0, f"{well}.water_level": 30.0,
                         f"{well}.wellhead_pressure": 0.0})
    clogged = PlantView(view.station, view.now, readings)
    assert sup.reinjection_capacity_m3h(clogged) == pytest.approx(3 * 66.0)
    limit = 0.95 * 3 * 66.0
    assert produced > limit
    writes = [s for s in sup.step(clogged) if "speed" in s.point]
    speed = float(view.readings["PW1.speed_setpoint"] or 0.0)
    expected = max(speed * limit / produced, speed - 5.0)  # at most 5 Hz per write
    assert writes == [Setpoint("PW1.speed_setpoint", round(expected, 1)),
                      Setpoint("PW2.speed_setpoint", round(expected, 1))]


def test_take_over_writes_what_the_units_already_do() -> None:
    sim, view = doublet_view()
    sup = supervisor_for(sim.site)
    writes = sup.step(view)
    runs = {s.point: s.value for s in writes if s.point.endswith(".run_command")}
    assert runs == {f"{u}.run_command": bool(view.readings[f"{u}.run_command"])
                    for u in ("HP2-1", "HP2-2", "HP3-1", "HP3-2")}
    assert not [s for s in sup.step(view) if s.point.endswith(".run_command")]


def test_school_season_supervisory_against_local_logic() -> None:
    school = load_site(SITES / "deep-borehole-school.yaml")
    # the first days of the season, mild: the unit's heat is above the load and it cycles
    start = datetime(2025, 10, 15, tzinfo=UTC)
    local = run_season(school, SeasonSettings(days=3.0, control="local", start=start))
    supervised = run_season(school, SeasonSettings(days=3.0, control="supervisory", start=start),
                            supervisor_for(school))
    assert supervised.hours_below_setpoint <= local.hours_below_setpoint
    assert supervised.degree_hours_below_setpoint <= local.degree_hours_below_setpoint
    assert supervised.scop is not None and local.scop is not None
    assert supervised.scop >= local.scop
    assert supervised.units["HP1"].starts < local.units["HP1"].starts
    assert supervised.max_starts_in_hour <= 3
    assert supervised.antifreeze_violation_hours == 0.0
    assert supervised.reinjection_violation_hours == 0.0
    assert not supervised.refused_writes


def test_doublet_days_supervisory_against_local_logic() -> None:
    doublet = load_site(SITES / "hydrothermal-doublet.yaml")
    # early March: the exchangers carry most of the load and a heat pump joins each evening
    start = datetime(2026, 3, 1, tzinfo=UTC)
    local = run_season(doublet, SeasonSettings(days=3.0, control="local", start=start))
    supervised = run_season(doublet, SeasonSettings(days=3.0, control="supervisory",
                                                    start=start), supervisor_for(doublet))
    assert supervised.hours_below_setpoint <= local.hours_below_setpoint
    assert supervised.scop is not None and local.scop is not None
    assert supervised.scop >= local.scop
    assert (sum(u.starts for u in supervised.units.values())
            < sum(u.starts for u in local.units.values()))
    assert supervised.max_starts_in_hour <= 3
    assert supervised.antifreeze_violation_hours == 0.0
    assert supervised.reinjection_violation_hours == 0.0
    assert not supervised.refused_writes


def test_every_decision_becomes_an_event_with_its_condition_and_values() -> None:
    school = load_site(SITES / "deep-borehole-school.yaml")
    sup = supervisor_for(school)
    run_season(school, SeasonSettings(days=0.5, control="supervisory",
                                      start=datetime(2025, 10, 15, tzinfo=UTC)), sup)
    assert sup.log
    events = [decision_event(school.station.id, n, at, d, "controller-1")
              for n, (at, d) in enumerate(sup.log)]
    for (at, decision), event in zip(sup.log, events, strict=True):
        again = Event.model_validate_json(event.model_dump_json())
        assert again.kind == "decision" and again.t == at
        assert again.data["condition"] == decision.condition
        assert again.data["values"]["required_kw"] == decision.values["required_kw"]
        assert set(again.data["start"]) | set(again.data["stop"]) <= {"HP1"}
    assert len({e.id for e in events}) == len(events)
