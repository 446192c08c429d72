"""A fault-free week of every demo station reads within every point's range.

The oracle is the gateway's own quality rule (``gateway.quality.range_quality``): a reading
outside its point's range is uncertain, further out bad. Only declared faults may produce such
readings, so a week of normal operation must produce none.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.quality import range_quality
from plant.contract import Quality
from simulator.sim import StationSim
from tests.simulator.helpers import DOUBLET, FIELD, SCHOOL, site

WEEK_S = 7 * 86400.0
SAMPLE_S = 300.0  # one reading of every point each 5 minutes: 2016 samples a point


def out_of_range(path: Path, start: datetime) -> Counter[str]:
    """Readings that are not good over one week, by point, and heat-pump protection trips."""
    sim = StationSim(site(path), seed=11, start=start)
    points = sim.table.points
    seen: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for _ in range(int(WEEK_S / SAMPLE_S)):
        sim.advance(SAMPLE_S)
        for point, value in zip(points, sim.readings(), strict=True):
            quality, _, detail = range_quality(point, value)
            if value is None or quality is not Quality.GOOD:
                seen[point.id] += 1
                examples[point.id] = detail or "no reading"
    found = Counter({f"{k}: {examples[k]}": n for k, n in seen.items()})
    for ident, hp in sim.model.heat_pumps.items():
        if hp.protection_trips:
            found[f"{ident}: tripped by its own protection"] = hp.protection_trips
    return found


MIDWINTER = datetime(2026, 1, 12, tzinfo=UTC)
SHOULDER = datetime(2025, 11, 16, tzinfo=UTC)  # mild: heat pumps at part load or idle
SUMMER = datetime(2026, 7, 13, tzinfo=UTC)  # the shallow field cools


@pytest.mark.slow
@pytest.mark.parametrize(("path", "start"), [
    (DOUBLET, MIDWINTER), (SCHOOL, MIDWINTER), (FIELD, MIDWINTER),
    (DOUBLET, SHOULDER), (SCHOOL, SHOULDER), (FIELD, SHOULDER),
    (FIELD, SUMMER),
], ids=lambda v: v.stem if isinstance(v, Path) else f"{v:%d-%b}")
def test_a_fault_free_week_reads_within_every_range(path: Path, start: datetime) -> None:
    assert out_of_range(path, start) == Counter()
