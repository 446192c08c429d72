"""Any sequence of accepted commands leaves the station physical: finite readings, exact balance."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.sim import StationSim
from tests.simulator.helpers import MIDWINTER, SCHOOL, site

SCHOOL_SITE = site(SCHOOL)
WRITABLE = [p for p in SCHOOL_SITE.points if p.writable]


@st.composite
def commands(draw: st.DrawFn) -> list[tuple[str, object]]:
    chosen = draw(st.lists(st.sampled_from(WRITABLE), min_size=1, max_size=6))
    result: list[tuple[str, object]] = []
    for point in chosen:
        if point.dtype == "bool":
            result.append((point.id, draw(st.booleans())))
        else:
            assert point.limits is not None
            result.append((point.id, draw(st.floats(point.limits.min, point.limits.max))))
    return result


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands())
def test_accepted_commands_keep_the_station_physical(sequence: list[tuple[str, object]]) -> None:
    sim = StationSim(SCHOOL_SITE, seed=1, start=MIDWINTER, warm_up_s=1800.0)
    for point_id, value in sequence:
        sim.write(point_id, value)
        sim.run(1800.0, 60.0)
    for point_id, value in sim.values().items():
        assert value is not None, point_id
        assert isinstance(value, bool) or math.isfinite(value), point_id
    balance = sim.model.energy_balance()
    assert abs(balance.residual_kwh) < 1e-6 * max(1.0, balance.delivered_kwh)
    for zone in sim.model.zones.values():
        assert -40.0 < zone.indoor_temp_c < 40.0
