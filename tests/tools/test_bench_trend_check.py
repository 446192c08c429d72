"""The point-year benchmark's browser check refuses a trend drawn otherwise than written."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_trend.py"
WIDTH = 1000
VERTICES = 2000


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_trend", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_trend"] = module
    spec.loader.exec_module(module)
    return module


bench = _bench()
WRITTEN = bench.history(30, 10)
START, END = WRITTEN.start.timestamp(), WRITTEN.end.timestamp()
GAPS = sorted([(a.timestamp(), b.timestamp(), "outage") for a, b in WRITTEN.outages]
              + [(a.timestamp(), b.timestamp(), "bad_quality") for a, b in WRITTEN.bad])


def _answer(points: list[tuple[float, float | None]]) -> dict[str, Any]:
    """The trend API's answer for one point with these vertices and the written gaps."""
    return {"series": [{
        "times": [t for t, _ in points], "values": [v for _, v in points], "vertices": VERTICES,
        "missing": [{"start": a, "end": b, "kind": kind} for a, b, kind in GAPS]}]}


def _drawn() -> list[tuple[float, float | None]]:
    """Vertices evenly over the period, none inside a gap, a null in the middle of each."""
    points: list[tuple[float, float | None]] = [
        (START + (END - START) * i / (VERTICES - 1), 50.0) for i in range(VERTICES)]
    points = [p for p in points if not any(a < p[0] < b for a, b, _ in GAPS)]
    points += [((a + b) / 2, None) for a, b, _ in GAPS]
    return sorted(points, key=lambda p: p[0])


def _ink() -> list[bool]:
    """Line ink in every pixel column but those of the gaps."""
    def column(x: int) -> float:
        return float(START + (x + 0.5) / WIDTH * (END - START))
    return [not any(a <= column(x) <= b for a, b, _ in GAPS) for x in range(WIDTH)]


def test_the_trend_as_written_passes() -> None:
    assert "broken at the outage and the bad day only" in bench.check_render(
        _answer(_drawn()), _ink(), WRITTEN)


@pytest.mark.parametrize("fault", ["blank column", "extra break", "hole", "short", "no gap"])
def test_a_trend_drawn_otherwise_fails_the_check(fault: str) -> None:
    points, ink = _drawn(), _ink()
    day = 86400.0
    if fault == "blank column":
        ink[WIDTH // 5] = False
    elif fault == "extra break":
        points = sorted([*points, (START + 3 * day, None)], key=lambda p: p[0])
    elif fault == "hole":
        points = [p for p in points if not START + 2 * day < p[0] < START + 4 * day]
    elif fault == "short":
        points = [p for p in points if p[0] < END - 3 * day]
    else:
        points = [p for p in points if p[1] is not None]
    with pytest.raises(bench.RenderError):
        bench.check_render(_answer(points), ink, WRITTEN)
