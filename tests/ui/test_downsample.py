"""The trend tool's pure logic: request limits, missing spans, lines that never cross a gap."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from historian.query import GapEntry, PointRef
from ui.downsample import (
    MAX_PERIOD,
    Missing,
    TrendRequestError,
    Window,
    line_with_gaps,
    merge,
    missing_spans,
    parse_points,
    parse_span,
    parse_window,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("15m", timedelta(minutes=15)), ("15min", timedelta(minutes=15)),
    ("8h", timedelta(hours=8)), ("1.5h", timedelta(minutes=90)), ("7d", timedelta(days=7)),
    ("2w", timedelta(days=14)), ("1y", timedelta(days=365)), ("90s", timedelta(seconds=90)),
])
def test_spans_in_the_plant_units(text: str, expected: timedelta) -> None:
    assert parse_span(text) == expected


@pytest.mark.parametrize(("start", "to", "span", "width", "says"), [
    (None, None, "10000y", None, "longer than 50 years"),
    ("0001-01-01T00:00:00Z", None, None, None, "at most 50 years"),
    (None, None, "1e9y", None, "not a duration"),
    (None, None, "99999999999y", None, "longer than 50 years"),
    (None, None, "-1h", None, "not a duration"),
    (None, None, "1 fortnight", None, "not a duration"),
    ("2026-01-15T00:00:00", None, None, None, "must carry a time zone"),
    ("yesterday", None, None, None, "is not a time"),
    ("2026-01-15T00:00:00Z", "2026-01-14T00:00:00Z", None, None, "is empty"),
    ("2026-01-15T00:00:00Z", "2026-01-15T00:00:30Z", None, None, "at least 60 s"),
    ("2026-01-15T00:00:00Z", None, "1h", None, "either from or span"),
    (None, None, "1h", "wide", "not a whole number"),
    (None, None, "1h", "50", "outside 100..4000"),
    (None, None, "1h", "100000", "outside 100..4000"),
])
def test_malformed_or_unreasonable_periods_are_refused_with_the_reason(
    start: str | None, to: str | None, span: str | None, width: str | None, says: str
) -> None:
    with pytest.raises(TrendRequestError, match=says):
        parse_window(start, to, span, width, NOW)


def test_a_period_defaults_to_the_last_hour_and_reads_the_chosen_level() -> None:
    window = parse_window(None, None, None, None, NOW)
    assert (window.start, window.end, window.width) == (NOW - timedelta(hours=1), NOW, 1000)
    assert window.source == "raw"  # 3.6 s per column: finer than any rollup
    year = parse_window(None, "2026-01-01T00:00:00+08:00", "1y", "1000", NOW)
    assert year.end == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert year.source == "1h"  # 8.76 h per column
    assert parse_window(None, None, "7d", "1000", NOW).source == "1m"  # 10 min per column
    assert parse_window(None, None, "30d", "1000", NOW).source == "15m"  # 43 min per column
    assert parse_window(None, None, "50y", "500", NOW).source == "1d"
    assert parse_window(None, None, "50y", "500", NOW).end - NOW == timedelta(0)
    assert timedelta(days=50 * 365) == MAX_PERIOD


def test_points_are_named_station_slash_point_without_repeats() -> None:
    assert parse_points(["st-a/PW1.flow", "st-a/PW1.flow", " st-b/T1 "]) == [
        PointRef("st-a", "PW1.flow"), PointRef("st-b", "T1")]
    with pytest.raises(TrendRequestError, match="at least one point"):
        parse_points([])
    with pytest.raises(TrendRequestError, match="station/point"):
        parse_points(["PW1.flow"])
    with pytest.raises(TrendRequestError, match="at most 8 points"):
        parse_points([f"st/p{i}" for i in range(9)])


def _entry(kind: str, start: datetime | None, end: datetime | None,
           filled: datetime | None = None) -> GapEntry:
    return GapEntry(kind, "st", 1, None, None, None, start, end, "lost", 1, filled)


def test_missing_spans_take_outages_unfilled_gaps_and_bad_runs_clipped_to_the_window() -> None:
    window = Window(T0, T0 + timedelta(days=1), 1000)
    horizon = T0 + timedelta(hours=20)
    h = timedelta(hours=1)
    ledger = [
        _entry("session_death", T0 - h, T0 + h),            # began before the window
        _entry("seq_gap", T0 + 2 * h, T0 + 3 * h),
        _entry("seq_gap", T0 + 4 * h, T0 + 5 * h, filled=T0 + 6 * h),  # replayed: not missing
        _entry("counter_suspect", T0 + 7 * h, T0 + 7 * h),
        _entry("session_death", T0 + 19 * h, None),          # still open: ends now
    ]
    bad = [(T0 + 8 * h, T0 + 9 * h)]
    assert missing_spans(ledger, bad, window, horizon) == [
        Missing(T0, T0 + h, "outage", "lost"),
        Missing(T0 + 2 * h, T0 + 3 * h, "seq_gap", "lost"),
        Missing(T0 + 8 * h, T0 + 9 * h, "bad_quality", None),
        Missing(T0 + 19 * h, horizon, "outage", "lost"),
    ]


def test_a_line_breaks_inside_an_outage_and_keeps_the_samples_around_it() -> None:
    s = timedelta(seconds=1)
    vertices = [(T0 + i * s, float(i)) for i in range(10)]
    line = line_with_gaps(vertices, [(T0 + 3 * s, T0 + 6 * s)])
    t = [(moment - T0.timestamp()) for moment in line.times]
    assert t == [0, 1, 2, 3, 4.5, 6, 7, 8, 9]
    assert line.values == [0, 1, 2, 3, None, 6, 7, 8, 9]
    nan_free = line_with_gaps([(T0, float("nan")), (T0 + s, 1.0)], [])
    assert nan_free.values == [1.0]


def _crosses(times: list[float], values: list[float | None], gaps: list[tuple[float, float]]
             ) -> bool:
    """Whether any drawn segment (two neighbouring values) overlaps a gap's inside."""
    for i in range(len(times) - 1):
        if values[i] is None or values[i + 1] is None:
            continue
        if any(a < times[i + 1] and b > times[i] for a, b in gaps):
            return True
    return False


@settings(max_examples=100, deadline=None)
@given(
    moments=st.lists(st.integers(0, 1000), min_size=0, max_size=60, unique=True),
    gap_bounds=st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 200)), max_size=6),
)
def test_no_segment_of_a_line_ever_crosses_a_missing_span(
    moments: list[int], gap_bounds: list[tuple[int, int]]
) -> None:
    rng = random.Random(len(moments))
    vertices = [(T0 + timedelta(seconds=m), rng.uniform(-5, 5)) for m in moments]
    gaps = [(T0 + timedelta(seconds=a), T0 + timedelta(seconds=a + n)) for a, n in gap_bounds]
    line = line_with_gaps(vertices, gaps)
    base = T0.timestamp()
    gap_s = [(a.timestamp() - base, b.timestamp() - base) for a, b in gaps]
    times = [t - base for t in line.times]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert not _crosses(times, line.values, gap_s)
    kept = {t for t, v in zip(times, line.values, strict=True) if v is not None}
    outside = {m for m in moments if not any(a < m < b for a, b in gap_s)}
    assert kept == outside


def test_merge_joins_overlapping_spans() -> None:
    h = timedelta(hours=1)
    assert merge([(T0 + 3 * h, T0 + 4 * h), (T0, T0 + 2 * h), (T0 + h, T0 + 2 * h),
                  (T0 + 3 * h, T0 + 5 * h)]) == [(T0, T0 + 2 * h), (T0 + 3 * h, T0 + 5 * h)]
