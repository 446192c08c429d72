"""The trend tool's pure logic: what a trend request asks for, which data level answers it, and
how the downsampled vertices become a line that breaks at every outage and bad-quality span.

The server sends at most two vertices per pixel column (the minimum and the maximum of each
slot, with their real times), read from the coarsest rollup finer than a slot
(``historian.query.trend``). A span the gap ledger calls missing (an outage of the station's
gateway, a sequence gap not filled yet, a bad-quality run of the point) gets a null in the line,
so the browser never draws across it, and comes back as a band to shade.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from historian.query import GapEntry, PointRef, QueryError, trend_level

Span = tuple[datetime, datetime]

MIN_PERIOD = timedelta(minutes=1)
MAX_PERIOD = timedelta(days=50 * 365)
"""Samples before 1990 are refused by the historian: fifty years hold any station's record."""
DEFAULT_SPAN = timedelta(hours=1)
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 100, 4000, 1000
MAX_POINTS = 8

_SPAN_UNITS = {
    "s": timedelta(seconds=1), "m": timedelta(minutes=1), "min": timedelta(minutes=1),
    "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1),
    "y": timedelta(days=365),
}
_SPAN = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,6})?)\s*(s|min|m|h|d|w|y)\s*$")


class TrendRequestError(ValueError):
    """A trend request that cannot be answered as asked; the message says what is wrong."""


@dataclass(frozen=True)
class Window:
    """The period of a trend and the pixel width it is drawn on."""

    start: datetime
    end: datetime
    width: int

    @property
    def max_points(self) -> int:
        """Vertices at most: a minimum and a maximum per pixel column."""
        return 2 * self.width

    @property
    def source(self) -> str:
        """The data level the trend is read from: a rollup's name, or ``raw``."""
        level = trend_level(self.end - self.start, self.width)
        return level.name if level is not None else "raw"


@dataclass(frozen=True)
class Missing:
    """A span of a point's trend with no valid data, and why."""

    start: datetime
    end: datetime
    kind: str
    """``outage`` (the station's gateway was disconnected), ``seq_gap`` (batches lost and not
    replayed yet) or ``bad_quality`` (the point's samples were bad)."""
    reason: str | None


@dataclass(frozen=True)
class Line:
    """A trend ready to draw: epoch seconds and values, None where the line must break."""

    times: list[float]
    values: list[float | None]


def parse_span(text: str) -> timedelta:
    """A span such as ``15m``, ``8h``, ``7d``, ``1y`` (m is minutes, y is 365 days)."""
    match = _SPAN.match(text)
    if match is None:
        raise TrendRequestError(
            f"span {text!r} is not a duration like 15m, 8h, 7d or 1y (s, m, h, d, w, y)")
    amount, unit = float(match.group(1)), match.group(2)
    days = amount * (_SPAN_UNITS[unit] / timedelta(days=1))
    if days > MAX_PERIOD / timedelta(days=1):
        raise TrendRequestError(f"span {text.strip()} is longer than {_years(MAX_PERIOD)}")
    return timedelta(days=days)


def parse_time(text: str, name: str, now: datetime) -> datetime:
    """``now`` or an ISO 8601 time with its zone, such as ``2026-01-15T06:00:00Z``."""
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return now
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise TrendRequestError(
            f"{name} {text!r} is not a time like 2026-01-15T06:00:00Z or 'now'") from None
    if moment.tzinfo is None:
        raise TrendRequestError(f"{name} {text!r} must carry a time zone (Z or +08:00)")
    return moment.astimezone(UTC)


def parse_window(
    start: str | None, end: str | None, span: str | None, width: str | None, now: datetime
) -> Window:
    """The period [start, end) and pixel width a request asks for, checked against the limits.

    The period is ``from``..``to``, or ``span`` back from ``to``; ``to`` defaults to now and
    ``span`` to an hour.
    """
    upper = parse_time(end, "to", now) if end else now
    if start and span:
        raise TrendRequestError("give either from or span, not both")
    try:
        lower = parse_time(start, "from", now) if start else upper - (
            parse_span(span) if span else DEFAULT_SPAN)
    except OverflowError:
        raise TrendRequestError(f"span {span} reaches before the year 1") from None
    if upper <= lower:
        raise TrendRequestError(f"the period {lower.isoformat()} .. {upper.isoformat()} is empty")
    if upper - lower < MIN_PERIOD:
        raise TrendRequestError(f"a trend covers at least {MIN_PERIOD.total_seconds():.0f} s")
    if upper - lower > MAX_PERIOD:
        raise TrendRequestError(
            f"a trend covers at most {_years(MAX_PERIOD)}; "
            f"{lower.date()} .. {upper.date()} is {_years(upper - lower)}")
    return Window(lower, upper, parse_width(width))


def parse_width(text: str | None) -> int:
    """The chart's width in pixels, between MIN_WIDTH and MAX_WIDTH."""
    if text is None or text == "":
        return DEFAULT_WIDTH
    if not text.strip().isdigit():
        raise TrendRequestError(f"width {text!r} is not a whole number of pixels")
    width = int(text)
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise TrendRequestError(f"width {width} is outside {MIN_WIDTH}..{MAX_WIDTH} pixels")
    return width


def parse_points(texts: Sequence[str]) -> list[PointRef]:
    """The points asked for, ``station/point`` each, one to MAX_POINTS, without repeats."""
    if not texts:
        raise TrendRequestError("name at least one point, as point=station/point")
    if len(texts) > MAX_POINTS:
        raise TrendRequestError(f"a trend shows at most {MAX_POINTS} points, not {len(texts)}")
    points: list[PointRef] = []
    for text in texts:
        try:
            point = PointRef.parse(text.strip())
        except QueryError as error:
            raise TrendRequestError(str(error)) from None
        if point not in points:
            points.append(point)
    return points


def missing_spans(
    ledger: Iterable[GapEntry], bad: Iterable[Span], window: Window, horizon: datetime
) -> list[Missing]:
    """What a point lacks in the window: its station's outages and unfilled sequence gaps from
    the gap ledger, and its own bad spans; a span still open ends at ``horizon`` (now)."""
    spans: list[Missing] = []
    for entry in ledger:
        if entry.kind == "session_death" and entry.start_time is not None:
            spans.append(Missing(entry.start_time, entry.end_time or horizon, "outage",
                                 entry.reason))
        elif entry.kind == "seq_gap" and entry.filled_at is None:
            begin = entry.start_time or entry.end_time
            if begin is not None:
                spans.append(Missing(begin, entry.end_time or horizon, "seq_gap", entry.reason))
    spans += [Missing(a, b, "bad_quality", None) for a, b in bad]
    clipped = [
        Missing(max(s.start, window.start), min(s.end, window.end), s.kind, s.reason)
        for s in spans
    ]
    return sorted((s for s in clipped if s.end > s.start), key=lambda s: (s.start, s.end, s.kind))


def merge(spans: Iterable[Span]) -> list[Span]:
    """The union of spans as disjoint spans in time order (overlapping spans join)."""
    merged: list[Span] = []
    for a, b in sorted(spans):
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def line_with_gaps(vertices: Sequence[tuple[datetime, float]], missing: Iterable[Span]) -> Line:
    """The line through the vertices, broken by a null inside every missing span.

    Vertices strictly inside a missing span are dropped (a bad run has none; a sample the
    ledger calls missing is not drawn); the samples bounding it stay.
    """
    gaps = merge(missing)
    times: list[float] = []
    values: list[float | None] = []
    index = 0
    for moment, value in sorted(vertices):
        while index < len(gaps) and gaps[index][1] <= moment:
            _break(times, values, gaps[index])
            index += 1
        if index < len(gaps) and gaps[index][0] < moment:
            continue
        if not math.isfinite(value):
            continue
        times.append(moment.timestamp())
        values.append(value)
    for gap in gaps[index:]:
        _break(times, values, gap)
    return Line(times, values)


def _break(times: list[float], values: list[float | None], gap: Span) -> None:
    """A null at the middle of a gap: between the samples around it, whatever their times."""
    middle = gap[0] + (gap[1] - gap[0]) / 2
    times.append(middle.timestamp())
    values.append(None)


def _years(period: timedelta) -> str:
    years = period / timedelta(days=365)
    return f"{years:,.0f} years" if years >= 2 else f"{period.days} days"
