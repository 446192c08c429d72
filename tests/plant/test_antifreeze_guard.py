"""The anti-freeze guard as pure functions: where its threshold and band come from, when it
heats in and out of the heating season, and the units it heats with."""

from __future__ import annotations

from datetime import datetime

import pytest

from plant.heating import (
    guard_lead_s,
    guard_lineup,
    guard_load_kw,
    guard_margin_k,
    guard_units,
    heating_wanted,
)
from plant.site import Site, Station, load_site
from tests.simulator.helpers import FIELD, SCHOOL, SITES

TONGWEI = SITES / "hand-written" / "tongwei-school.yaml"
AFTER_THE_SEASON = datetime(2026, 3, 20, 3, 0)
"""Local time five days after the shallow field's season (15 November to 15 March) ended."""
IN_THE_SEASON = datetime(2026, 1, 17, 3, 0)
"""A Saturday night in January, inside every demo station's season."""
FIELD_MARGIN_K = (5.0 - -7.0) / (40 * 3600.0) * (1200.0 + 120.0 + 300.0)
"""The shallow field's rooms at 5 °C, −7 °C outside, cool over the buildings' 40 h time constant
while a unit waits out its 1,200 s minimum off time (G36 ``minOffTime``), starts (120 s) and
loads up (300 s): 0.135 K."""


def _with(station: Station, **changes: object) -> Station:
    return Station.model_validate({**station.model_dump(), **changes})


def test_a_station_without_a_guard_key_keeps_5_c_and_2_k() -> None:
    # GB 50736-2012 duty heating: 5 °C; the 2 K band is an assumption (docs/simulator.md)
    station = load_site(FIELD).station
    assert (station.antifreeze_guard.indoor_c, station.antifreeze_guard.band_k) == (5.0, 2.0)
    own = _with(station, antifreeze={"indoor_c": 8.0, "band_k": 3.0}).antifreeze_guard
    assert (own.indoor_c, own.band_k) == (8.0, 3.0)


def test_a_schedule_sets_what_it_names_and_takes_the_rest_from_the_station() -> None:
    station = _with(load_site(SCHOOL).station, antifreeze={"indoor_c": 6.0, "band_k": 3.0})
    threshold_only = _with(station, schedule={"occupied": [{"start": "07:00", "end": "17:00"}],
                                              "antifreeze_indoor_c": 8.0})
    assert (threshold_only.antifreeze_guard.indoor_c,
            threshold_only.antifreeze_guard.band_k) == (8.0, 3.0)
    neither = _with(station, schedule={"occupied": [{"start": "07:00", "end": "17:00"}]})
    assert neither.antifreeze_guard == station.antifreeze


def test_the_guard_engages_ahead_of_its_threshold_by_the_cooling_while_its_units_come() -> None:
    field = load_site(FIELD).station
    assert field.staging is None  # the compressors' protection times are G36's defaults
    assert guard_lead_s(field) == 1620.0
    assert guard_margin_k(field) == pytest.approx(FIELD_MARGIN_K)
    assert guard_margin_k(field) == pytest.approx(0.135)
    # a higher threshold loses faster; shorter protection times bring the heat sooner
    warmer = _with(field, antifreeze={"indoor_c": 8.0, "band_k": 2.0})
    assert guard_margin_k(warmer) == pytest.approx(15.0 / 144_000 * 1620)
    quicker = _with(field, staging={"compressor_off_min_s": 600.0})
    assert guard_margin_k(quicker) == pytest.approx(12.0 / 144_000 * 1020)


@pytest.mark.parametrize(("coldest_c", "guarding", "expected"), [
    (12.0, False, (False, False)),  # warm rooms: nothing heats out of season
    (5.0 + FIELD_MARGIN_K + 0.005, False, (False, False)),  # above threshold and margin
    (5.0 + FIELD_MARGIN_K - 0.005, False, (True, True)),  # inside the margin: the guard heats
    (5.0, False, (True, True)),
    (4.9, False, (True, True)),
    (6.9, True, (True, True)),  # ... until the band above the threshold
    (7.0, True, (False, False)),
    (6.0, False, (False, False)),  # inside the band, falling: not yet
])
def test_out_of_season_the_guard_heats_from_its_margin_until_the_band_above(
        coldest_c: float, guarding: bool, expected: tuple[bool, bool]) -> None:
    station = load_site(FIELD).station  # no schedule: heated around the clock in the season
    heating = heating_wanted(station, AFTER_THE_SEASON, coldest_c, guarding)
    assert not heating.season and not heating.comfort  # never comfort out of season
    assert (heating.on, heating.guarding) == expected


def test_in_the_season_comfort_heats_whatever_the_guard_says() -> None:
    station = load_site(FIELD).station
    for coldest_c, guarding in ((20.0, False), (4.0, False), (6.0, True)):
        heating = heating_wanted(station, IN_THE_SEASON, coldest_c, guarding)
        assert heating.season and heating.comfort and heating.on
        assert not heating.guard_alone


def test_the_guard_line_up_carries_the_guard_load_at_design_outdoor_temperature() -> None:
    field: Site = load_site(FIELD)
    # 267,300 m² × 39.3 W/m² holds 20 °C at −7 °C; the guard's top, 7 °C, takes 14/27 of it
    assert guard_load_kw(field.station) == pytest.approx(267_300 * 39.3e-3 * 14 / 27)
    # 5,447 kW: one 4,500 kW centrifugal unit is short, two carry it (stage 1, file order)
    assert guard_lineup(field) == frozenset({"HP1", "HP2"})
    alone = heating_wanted(field.station, AFTER_THE_SEASON, 4.0, False)
    assert guard_units(field, alone) == frozenset({"HP1", "HP2"})
    comfort = heating_wanted(field.station, IN_THE_SEASON, 4.0, False)
    assert guard_units(field, comfort) is None  # comfort heating stages every unit


def test_in_the_season_a_site_without_a_standby_mode_guards_with_every_unit() -> None:
    school = load_site(SCHOOL)
    scheduled = school.model_copy(update={"station": _with(
        school.station, schedule={"occupied": [{"start": "07:00", "end": "17:00"}]})})
    saturday_night = heating_wanted(scheduled.station, IN_THE_SEASON, 4.0, False)
    assert saturday_night.guard_alone and saturday_night.season
    assert guard_units(scheduled, saturday_night) is None


def test_a_site_with_an_anti_freeze_standby_guards_with_its_units_all_year() -> None:
    tongwei = load_site(TONGWEI)
    for local in (IN_THE_SEASON, datetime(2026, 6, 20, 3, 0)):
        heating = heating_wanted(tongwei.station, local, 4.0, False)
        assert heating.guard_alone
        assert guard_units(tongwei, heating) == frozenset({"HP1"})


def test_a_unit_out_of_the_guards_line_up_is_replaced_by_the_next_in_start_order() -> None:
    field: Site = load_site(FIELD)
    assert guard_lineup(field, {"HP1"}) == frozenset({"HP2", "HP3"})
    assert guard_lineup(field, {"HP1", "HP2", "HP3"}) == frozenset({"HP4", "HP5"})
    alone = heating_wanted(field.station, AFTER_THE_SEASON, 4.0, False)
    assert guard_units(field, alone, {"HP2"}) == frozenset({"HP1", "HP3"})
