"""A fault-free week of every demo station reads within every point's range.

The oracle is the gateway's own quality rule (``gateway.quality.range_quality``): a reading
outside its point's range is uncertain, further out bad. Only declared faults may produce such
readings, so a week of normal operation must produce none.

The same weeks bound the heat pumps' COP by physics, not by the model: at every sample no unit
beats :data:`SECOND_LAW_CEILING` of the Carnot COP of its refrigerant temperatures (the leaving
water temperatures and the stated approaches), no unit's COP over the week reaches 8, and no
sample reaches 10.
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
SECOND_LAW_CEILING = 0.75
"""Best share of the Carnot COP of its refrigerant temperatures a vapour-compression unit
reaches: a compressor's isentropic efficiency of about 0.8 at best, less the throttling and
superheat losses of the cycle (stated here, not taken from the model)."""
APPROACH_K = 3.0
"""Refrigerant beyond the leaving water at full load, in proportion to the load (stated)."""


def carnot_ceiling(source_out_c: float, sink_out_c: float, load_ratio: float) -> float:
    """Physics' ceiling on a heat pump's COP at these leaving temperatures and load."""
    evaporating = source_out_c - APPROACH_K * min(load_ratio, 1.0) + 273.15
    condensing = sink_out_c + APPROACH_K * min(load_ratio, 1.0) + 273.15
    if condensing <= evaporating:
        return float("inf")
    return SECOND_LAW_CEILING * condensing / (condensing - evaporating)


def out_of_range(path: Path, start: datetime) -> tuple[Counter[str], list[str]]:
    """Readings that are not good over one week, by point, heat-pump protection trips, and the
    heat pumps' COPs that break a bound."""
    sim = StationSim(site(path), seed=11, start=start)
    points = sim.table.points
    seen: Counter[str] = Counter()
    examples: dict[str, str] = {}
    units = sim.model.heat_pumps
    begin = {ident: (hp.heat_kwh, hp.energy_kwh) for ident, hp in units.items()}
    cop_broken: list[str] = []
    for _ in range(int(WEEK_S / SAMPLE_S)):
        sim.advance(SAMPLE_S)
        for point, value in zip(points, sim.readings(), strict=True):
            quality, _, detail = range_quality(point, value)
            if value is None or quality is not Quality.GOOD:
                seen[point.id] += 1
                examples[point.id] = detail or "no reading"
        for ident, hp in units.items():
            if not (hp.running and hp.heat_kw > 0.0):
                continue
            ceiling = carnot_ceiling(hp.evaporator_out_c, hp.condenser_out_c, hp.load_ratio)
            if not hp.cop <= min(ceiling, 10.0):
                cop_broken.append(f"{sim.model.now:%d %b %H:%M} {ident}: COP {hp.cop:.2f} at "
                                  f"{hp.evaporator_out_c:.1f} -> {hp.condenser_out_c:.1f} °C, "
                                  f"{hp.load_ratio:.0%}, ceiling {ceiling:.2f}")
    found = Counter({f"{k}: {examples[k]}": n for k, n in seen.items()})
    for ident, hp in units.items():
        if hp.protection_trips:
            found[f"{ident}: tripped by its own protection"] = hp.protection_trips
        electricity = hp.energy_kwh - begin[ident][1]
        if electricity > 0.0 and (hp.heat_kwh - begin[ident][0]) / electricity >= 8.0:
            cop_broken.append(f"{ident}: week's COP "
                              f"{(hp.heat_kwh - begin[ident][0]) / electricity:.2f}")
    return found, cop_broken


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
    found, cop_broken = out_of_range(path, start)
    assert found == Counter()
    assert cop_broken == []
