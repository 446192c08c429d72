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
from simulator.local_control import DutyPump, duty, loop_flows_m3h
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


WATER_KWH_PER_M3K = 4.18 * 1000.0 / 3600.0  # water at about 10 °C: 4.18 kJ/(kg·K), 1000 kg/m³
BIG_EVAPORATOR_M3H = 4500.0 * (1.0 - 1.0 / 4.6) / (WATER_KWH_PER_M3K * 5.0)
"""HP1-HP4: 4500 kW at COP 4.6, the evaporator's water 5 K colder out (site file)."""
SCREW_EVAPORATOR_M3H = 1689.0 * (1.0 - 1.0 / 4.4) / (WATER_KWH_PER_M3K * 5.0)
"""HP5: 1689 kW at COP 4.4, 5 K (site file)."""


@pytest.mark.parametrize("units", [("HP1",), ("HP1", "HP5"), ("HP1", "HP2", "HP3")])
def test_loop_pumps_give_the_running_evaporators_their_design_flow(units: tuple[str, ...]
                                                                   ) -> None:
    plant = build_plant(field_with_zone_a_valve())
    for ident in units:
        plant.heat_pumps[ident].run_command = True
    zones = ("BF-A", "BF-B", "BF-C")
    required = loop_flows_m3h(
        [plant.boreholes[z].spec.rated_flow_m3h for z in zones],
        [(h.spec.design_evaporator_flow_m3h, h.running) for h in plant.heat_pumps.values()])
    for zone, flow in zip(zones, required, strict=True):
        group = plant.source_groups[zone]
        plan = duty([DutyPump(p.rated_flow_m3h, p.running, p.failed, p.remote_run,
                              p.remote_speed, p.min_speed_hz, p.max_speed_hz)
                     for p in group.pumps], flow)
        for pump, decision in zip(group.pumps, plan, strict=True):
            assert decision is not None
            pump.run_command, speed = decision
            pump.speed_setpoint_hz = speed if speed is not None else pump.speed_setpoint_hz
    for _ in range(30):
        move_actuators(plant, 10.0)
    solve_flows(plant, True, 10.0)
    wanted = sum(SCREW_EVAPORATOR_M3H if u == "HP5" else BIG_EVAPORATOR_M3H for u in units)
    for zone in zones:
        # each zone's pump gives a third of the running evaporators' design flow (none passes
        # them in the bypass), but runs no slower than its 20 Hz of 50: 320 m³/h
        minimum = LOOP_PUMP_RATED_M3H * 20.0 / 50.0
        assert plant.boreholes[zone].flow_m3h == pytest.approx(max(wanted / 3, minimum),
                                                               rel=0.01)
        (pump,) = plant.source_groups[zone].pumps
        # on a system curve through the rated point: power with the cube of the flow
        ratio = pump.flow_m3h / LOOP_PUMP_RATED_M3H
        assert pump.power_kw == pytest.approx(90.0 * ratio ** 3)
