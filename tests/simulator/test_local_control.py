"""The local PLC's schedule logic, alone (pure functions), and followed by a simulated school."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plant.site import Holiday, OccupiedPeriod, Schedule, SiteFileError, Station, parse_site
from simulator.local_control import heating_wanted, occupied
from simulator.sim import StationSim
from simulator.station import StationModel
from tests.simulator.helpers import DOUBLET, SCHOOL, site

SCHOOL_HOURS = Schedule(
    occupied=(OccupiedPeriod(days=("mon", "tue", "wed", "thu", "fri"), start="06:30",
                             end="17:30"),),
    holidays=(Holiday(first="01-20", last="02-20"), Holiday(first="12-30", last="01-02")),
    antifreeze_indoor_c=5.0, antifreeze_band_k=2.0)


@pytest.mark.parametrize(("local", "expected"), [
    (datetime(2026, 1, 12, 6, 30), True),  # Monday, opening
    (datetime(2026, 1, 12, 17, 29), True),
    (datetime(2026, 1, 12, 17, 30), False),  # closing
    (datetime(2026, 1, 12, 3, 0), False),  # night
    (datetime(2026, 1, 17, 10, 0), False),  # Saturday
    (datetime(2026, 1, 21, 10, 0), False),  # winter holiday, a Wednesday
    (datetime(2026, 1, 1, 10, 0), False),  # holiday wrapping the new year
    (datetime(2025, 12, 29, 10, 0), True),  # the Monday before it
])
def test_occupied_follows_weekdays_hours_and_holidays(local: datetime, expected: bool) -> None:
    assert occupied(SCHOOL_HOURS, local) is expected


def _station(schedule: Schedule | None) -> Station:
    """The demo school's station (season 15 October to 12 April) with this schedule."""
    data = site(SCHOOL).station.model_dump()
    data["schedule"] = None if schedule is None else schedule.model_dump()
    return Station.model_validate(data)


def _wanted(schedule: Schedule | None, local: datetime, coldest_c: float,
            guarding: bool) -> tuple[bool, bool]:
    heating = heating_wanted(_station(schedule), local, coldest_c, guarding)
    return heating.on, heating.guarding


def test_without_a_schedule_the_buildings_are_heated_around_the_clock() -> None:
    assert _wanted(None, datetime(2026, 1, 17, 3, 0), 20.0, False) == (True, False)


def test_the_anti_freeze_guard_always_wins_with_its_band() -> None:
    saturday_night = datetime(2026, 1, 17, 3, 0)
    assert _wanted(SCHOOL_HOURS, saturday_night, 12.0, False) == (False, False)
    assert _wanted(SCHOOL_HOURS, saturday_night, 4.9, False) == (True, True)
    assert _wanted(SCHOOL_HOURS, saturday_night, 6.0, True) == (True, True)
    assert _wanted(SCHOOL_HOURS, saturday_night, 7.0, True) == (False, False)
    holiday = datetime(2026, 2, 3, 10, 0)
    assert _wanted(SCHOOL_HOURS, holiday, 4.0, False) == (True, True)


def test_a_period_ending_before_it_starts_is_refused_by_key() -> None:
    text = SCHOOL.read_text().replace(
        "poll_groups:",
        "  schedule: {occupied: [{start: \"17:30\", end: \"06:30\"}]}\npoll_groups:", 1)
    with pytest.raises(SiteFileError, match=r"station\.schedule\.occupied\[0\]\.end: end 06:30 "
                                            r"must be after start 17:30"):
        parse_site(text, "school.yaml")


def test_a_scheduled_school_heats_in_school_hours_and_guards_the_rest() -> None:
    text = SCHOOL.read_text().replace(
        "poll_groups:",
        "  schedule:\n"
        "    occupied: [{days: [mon, tue, wed, thu, fri], start: \"06:30\", end: \"17:30\"}]\n"
        "    antifreeze_indoor_c: 8\n"
        "poll_groups:", 1)
    scheduled = StationModel(parse_site(text, "school.yaml"), seed=1,
                             start=datetime(2026, 1, 9, tzinfo=UTC), warm_up_s=3600.0)
    always = StationModel(parse_site(SCHOOL.read_text(), "school.yaml"), seed=1,
                          start=datetime(2026, 1, 9, tzinfo=UTC), warm_up_s=3600.0)
    zone = scheduled._local_zone
    coldest, weekend_on, weekend_steps, school_on, school_steps = 99.0, 0, 0, 0, 0
    for _ in range(int(7 * 86400 / 600)):  # Friday 9 January to Friday 16 January
        for model in (scheduled, always):
            model.advance(600.0)
        local = scheduled.now.astimezone(zone)
        coldest = min(coldest, *(z.indoor_temp_c for z in scheduled.zones.values()))
        if local.weekday() >= 5:
            weekend_steps += 1
            weekend_on += scheduled.heating_on
        elif 7 <= local.hour < 17:
            school_steps += 1
            school_on += scheduled.heating_on
    assert school_on == school_steps  # every school hour heated
    assert weekend_on < 0.5 * weekend_steps  # most of the weekend off ...
    assert coldest > 8.0 - 1.0  # ... yet no room below the anti-freeze threshold (1 K lag)
    assert scheduled.balance.delivered_kwh < 0.8 * always.balance.delivered_kwh


def _units_and_supply(start: datetime) -> tuple[float, float, float, int]:
    """Two days of the doublet: the share of time a heat pump runs, the mean supply shortfall,
    the share of time in the direct-supply mode and the steps a unit ran in it."""
    sim = StationSim(site(DOUBLET), seed=5, start=start)
    model = sim.model
    steps = int(2 * 86400 / 300)
    running = direct = units_in_direct = 0
    shortfall = 0.0
    for _ in range(steps):
        sim.advance(300.0)
        unit_runs = any(h.running for h in model.heat_pumps.values())
        running += unit_runs
        direct += model.mode == "direct_supply"
        units_in_direct += model.mode == "direct_supply" and unit_runs
        shortfall += max(0.0, model.supply_target_c - model.station_supply_c)
        assert model.valves["V-HX1"].setpoint_pct == 100.0  # both modes keep stage 1 open
    return running / steps, shortfall / steps, direct / steps, units_in_direct


@pytest.mark.parametrize(("start", "units_run"), [
    (datetime(2025, 11, 16, tzinfo=UTC), False),  # start of the season: direct supply
    (datetime(2026, 1, 12, tzinfo=UTC), True),  # midwinter: the heat pumps lift the rest
    (datetime(2026, 3, 20, tzinfo=UTC), False),  # end of the season: direct supply again
], ids=["november", "january", "march"])
def test_direct_supply_has_priority_and_the_units_start_only_when_it_falls_short(
        start: datetime, units_run: bool) -> None:
    # 003 L2567, L2625: direct supply at the start and end of the season, the units only when
    # the load needs them; either way the supply holds its target
    share, shortfall, direct, units_in_direct = _units_and_supply(start)
    assert (share > 0.5) if units_run else (share < 0.1)
    assert shortfall < 0.5
    # the site's operating modes follow (003 L449): mostly direct supply at the start and end
    # of the season, mostly heat-pump supply in midwinter, and no unit runs in direct supply
    assert (direct < 0.5) if units_run else (direct > 0.9)
    assert units_in_direct == 0
