"""Substitution tiers after Part 75 §75.33, and report periods in the station's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plant.site import load_site
from report.periods import PeriodError, parse_period
from report.substitution import MEASURED, Tier, substitute, tier_of
from tests.report.conftest import SITE


def test_tiers_at_their_boundaries() -> None:
    assert [tier_of(a) for a in (1.0, 0.95, 0.9499, 0.90, 0.8999, 0.80, 0.7999, 0.0)] == [
        Tier.AT_LEAST_95, Tier.AT_LEAST_95, Tier.FROM_90, Tier.FROM_90, Tier.FROM_80,
        Tier.FROM_80, Tier.BELOW_80, Tier.BELOW_80]


def test_a_short_gap_at_high_availability_gets_the_average_around_it() -> None:
    filled = substitute([10.0, 20.0, None, None, 40.0], 0.99, "high", 100.0)
    assert filled.values == (10.0, 20.0, 30.0, 30.0, 40.0)
    assert filled.methods[2] == "substituted (>=95%): before/after average"
    assert filled.methods[0] == MEASURED
    assert filled.substituted_hours == 2


def test_a_long_gap_leans_against_the_operator_in_both_directions() -> None:
    lookback = [float(v) for v in range(1, 101)]  # 1 .. 100
    gap = [None] * 25  # longer than 24 h
    # reinjection (favourable high): the lower of the average (100+1)/2 and the 10th percentile
    low = substitute([*lookback, *gap, 1.0], 0.96, "high", 500.0)
    assert low.values[100] == pytest.approx(10.9)  # numpy's 10th percentile of 1..100
    assert "10th percentile" in low.methods[100]
    # production (favourable low): the higher of the average and the 90th percentile
    high = substitute([*lookback, *gap, 1.0], 0.96, "low", 500.0)
    assert high.values[100] == pytest.approx(90.1)
    assert "90th percentile" in high.methods[100]


def test_the_90_to_95_tier_allows_8_hours_of_average_then_the_95th_percentile() -> None:
    lookback = [float(v) for v in range(1, 101)]
    short = substitute([*lookback, *[None] * 8, 50.0], 0.92, "low", 500.0)
    assert short.values[100] == pytest.approx(75.0)  # (100 + 50) / 2
    long = substitute([*lookback, *[None] * 9, 50.0], 0.92, "low", 500.0)
    assert long.values[100] == pytest.approx(95.05)


def test_80_to_90_takes_the_lookback_extreme_and_below_80_the_maximum_potential() -> None:
    series = [5.0, 9.0, 7.0, None, 8.0]
    assert substitute(series, 0.85, "high", 100.0).values[3] == 5.0
    assert substitute(series, 0.85, "low", 100.0).values[3] == 9.0
    assert substitute(series, 0.5, "high", 100.0).values[3] == 0.0
    assert substitute(series, 0.5, "low", 100.0).values[3] == 100.0
    assert substitute([None, None], 0.99, "low", 100.0).values == (100.0, 100.0)


def test_periods_are_cut_at_local_midnight() -> None:
    site = load_site(SITE)
    month = parse_period("2026-01", "Asia/Shanghai")
    assert month.start == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert month.end == datetime(2026, 1, 31, 16, tzinfo=UTC)
    season = parse_period("2025-2026-season", "Asia/Shanghai", site.station.climate)
    assert season.start == datetime(2025, 10, 14, 16, tzinfo=UTC)
    assert (season.end - season.start).days == site.station.climate.heating_season_days
    assert [label for label, _, _ in season.months()] == [
        "2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]
    year = parse_period("2026", "Europe/Berlin")
    assert len(year.hours()) == 8760
    for bad, message in (("2026-13", "not a month"), ("2025-2027-season", "consecutive"),
                         ("Jan", "not a month")):
        with pytest.raises(PeriodError, match=message):
            parse_period(bad, "Asia/Shanghai")
    with pytest.raises(PeriodError, match="time zone"):
        parse_period("2026", "Mars/Olympus")
