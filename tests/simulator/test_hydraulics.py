"""The hydraulics alone: flows from pumps and valves, with no heat solution and no PLC logic.

The plant is built from a site file and its pumps are started by hand; only
:func:`simulator.hydraulics.solve_flows` runs. Expected flows come from the pumps' and
boreholes' rated flows in the site file.
"""

from __future__ import annotations

from functools import cache

import pytest

from plant.site import Site, parse_site
from simulator.build import Plant, build_plant
from simulator.hydraulics import Flows, move_actuators, solve_flows
from tests.simulator.helpers import FIELD

LOOP_PUMP_RATED_M3H = 800.0  # P-GA, P-GB, P-GC in the site file, one per borehole zone


@cache
def field_with_zone_a_valve() -> Site:
    """The shallow field with a motorised valve on zone A's loop (role ``source_loop``)."""
    text = FIELD.read_text().replace("\npoints:\n", (
        '\n  - {id: V-LA, name: "Zone A loop valve", kind: valve, role: source_loop,'
        " serves: BF-A}\npoints:\n"), 1)
    return parse_site(text, FIELD.name)


def running(site: Site, valve: str, position_pct: float) -> tuple[Plant, Flows]:
    """Every pump started at full speed, one valve moved; the flows once it has travelled."""
    plant = build_plant(site)
    for unit in plant.pumps.values():
        unit.run_command = True
    plant.valves[valve].setpoint_pct = position_pct
    for _ in range(30):  # 300 s: drives at speed, the valve across its stroke (1 %/s)
        move_actuators(plant, 10.0)
    assert plant.valves[valve].position_pct == position_pct
    return plant, solve_flows(plant, True, 10.0)


@pytest.mark.parametrize("position", [100.0, 50.0, 0.0])
def test_a_source_loop_valve_throttles_its_borehole_and_nothing_else(position: float) -> None:
    site = field_with_zone_a_valve()
    reference, reference_flows = running(site, "V-LA", 100.0)
    plant, flows = running(site, "V-LA", position)
    assert plant.boreholes["BF-A"].flow_m3h == pytest.approx(
        LOOP_PUMP_RATED_M3H * position / 100.0)
    for other in ("BF-B", "BF-C"):
        assert plant.boreholes[other].flow_m3h == pytest.approx(LOOP_PUMP_RATED_M3H)
        assert plant.boreholes[other].flow_m3h == reference.boreholes[other].flow_m3h
    assert flows.network_flow_m3h == reference_flows.network_flow_m3h > 0
    assert flows.bypass_flow_m3h == reference_flows.bypass_flow_m3h
    for zone in plant.zones:
        assert plant.zones[zone].flow_m3h == reference.zones[zone].flow_m3h
