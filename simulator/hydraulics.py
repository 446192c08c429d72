"""Flows through the station: drives and valves moving, wells, network, borehole loop, reinjection.

Everything here works on a :class:`simulator.build.Plant` and the station's on/off state only
(no temperatures but the reinjected water's), so the hydraulics can be stepped and tested alone.
Valves act by their typed role: ``production`` throttles a well, ``network`` the user
circulation, ``source_loop`` and ``cooling_tower_changeover`` a borehole's loop, ``reinjection``
a reinjection well's intake, ``bypass`` opens the network's differential-pressure bypass and
``exchanger`` a plate exchanger's primary branch.
"""

from __future__ import annotations

from dataclasses import dataclass

from plant.site import ValveRole
from simulator.build import Plant, PumpGroup
from simulator.equipment import ExchangerState, approach

VALVE_RATE_PCT_PER_S = 1.0
NETWORK_STATIC_MPA = 0.15
LOOP_STATIC_MPA = 0.3


@dataclass(frozen=True)
class Flows:
    """The flows and heads of one hydraulic solution."""

    network_flow_m3h: float
    """Through the buildings."""
    bypass_flow_m3h: float
    """Through the network's bypass, back to the plant's return."""
    plant_flow_m3h: float
    """Through the plant: the buildings' flow and the bypass's."""
    network_head_m: float
    loop_head_m: float


@dataclass(frozen=True)
class Reinjected:
    """What the reinjection line took of the produced water in one step, and what overflowed."""

    taken_m3h: float
    overflow_m3h: float


def move_actuators(plant: Plant, dt_s: float) -> None:
    """Ramp the drives and move every valve towards its setpoint at its stroke rate."""
    for unit in {id(p): p for p in plant.pumps.values()}.values():
        unit.ramp(dt_s)
    plant.valve_cache = {}
    for valve in plant.valves.values():
        valve.position_pct = approach(valve.position_pct, valve.setpoint_pct,
                                      VALVE_RATE_PCT_PER_S, dt_s)
    for zone in plant.zones.values():
        zone.valve_pct = approach(zone.valve_pct, zone.valve_setpoint_pct,
                                  VALVE_RATE_PCT_PER_S, dt_s)


def valve_ratio(plant: Plant, role: ValveRole, equipment_id: str | None = None) -> float:
    """Open fraction of the flow path the valves of this role leave to this equipment."""
    key = (role, equipment_id)
    cached = plant.valve_cache.get(key)
    if cached is not None:
        return cached
    ratio = 1.0
    for valve in plant.valves.values():
        if valve.governs(role, equipment_id):
            ratio *= valve.position_pct / 100.0
    plant.valve_cache[key] = ratio
    return ratio


def exchanger_ratio(plant: Plant, exchanger: ExchangerState, *, direct: bool) -> float:
    """Open fraction of an exchanger's primary branch (unnamed valves: direct ones only)."""
    ratio = 1.0
    for valve in plant.valves.values():
        if valve.spec.role == "exchanger" and (
                valve.spec.serves == exchanger.spec.id
                or (valve.spec.serves is None and direct)):
            ratio *= valve.position_pct / 100.0
    return ratio


def bypass_ratio(plant: Plant) -> float:
    """Open fraction of the network's differential-pressure bypass (parallel valves add)."""
    bypasses = [v for v in plant.valves.values() if v.spec.role == "bypass"]
    return min(1.0, sum(v.position_pct / 100.0 for v in bypasses))


def group_flow(group: PumpGroup, plant_on: bool) -> tuple[float, float]:
    """Flow and head of a circulation group (implicit pump when the site lists none)."""
    if not group.pumps:
        return (group.required_m3h if plant_on else 0.0), 0.0
    flow = 0.0
    head = 0.0
    for unit in group.pumps:
        unit_flow, unit_head = unit.circulation_point()
        flow += unit_flow
        head = max(head, unit_head)
    return flow, head


def solve_flows(plant: Plant, plant_on: bool, dt_s: float) -> Flows:
    """Settle the wells, share the network and loop flows out, and run the pumps at them."""
    for well_id, well in plant.wells.items():
        well.settle(valve_ratio(plant, "production", well_id), dt_s)
    # network: the buildings take what their valves let through; an open bypass passes
    # the part of the pump flow they refuse back to the return main
    pump_flow, head = group_flow(plant.user_group, plant_on)
    pump_flow *= valve_ratio(plant, "network")
    design_total = sum(z.design_flow_m3h for z in plant.zones.values())
    network_flow_m3h = 0.0
    for zone in plant.zones.values():
        zone.flow_m3h = pump_flow * zone.design_flow_m3h / design_total * zone.valve_pct / 100
        network_flow_m3h += zone.flow_m3h
    bypass_flow_m3h = (pump_flow - network_flow_m3h) * bypass_ratio(plant)
    plant_flow_m3h = network_flow_m3h + bypass_flow_m3h
    for unit in plant.user_group.pumps:
        unit_flow, unit_head = unit.circulation_point()
        share = plant_flow_m3h / pump_flow if pump_flow > 0 else 0.0
        unit.deliver(unit_flow * share, unit_head, dt_s)
    network_head_m = head
    # source loop: each borehole gets the flow of the pumps serving it
    head = 0.0
    spare_flow, spare_head = group_flow(plant.source_spare, plant_on)
    orphan_rated = sum(plant.boreholes[b].spec.rated_flow_m3h for b in plant.orphan_boreholes)
    for bh_id, bh in plant.boreholes.items():
        group = plant.source_groups[bh_id]
        open_ratio = (valve_ratio(plant, "source_loop", bh_id)
                      * valve_ratio(plant, "cooling_tower_changeover", bh_id))
        if group.pumps:
            flow, group_head = group_flow(group, plant_on)
            bh.flow_m3h = flow * open_ratio
            head = max(head, group_head)
        else:
            bh.flow_m3h = spare_flow * bh.spec.rated_flow_m3h / orphan_rated * open_ratio
            head = max(head, spare_head)
    for group in (plant.source_spare, *plant.source_groups.values()):
        for unit in group.pumps:
            unit.deliver(*unit.circulation_point(), dt_s)
    for _role, unit in [*plant.other_pumps, *((None, u) for u, _ in plant.companions)]:
        flow, other_head = unit.circulation_point()
        unit.deliver(flow, other_head, dt_s)
    return Flows(network_flow_m3h, bypass_flow_m3h, plant_flow_m3h, network_head_m, head)


def source_flow_m3h(plant: Plant) -> float:
    """Flow of the source stream: produced geothermal water or the borehole loop."""
    if plant.wells:
        return sum(w.flow_m3h for w in plant.wells.values())
    return sum(b.flow_m3h for b in plant.boreholes.values())


def reinject(plant: Plant, injection_temp_c: float, dt_s: float) -> Reinjected:
    """Send the produced water down the reinjection wells, as far as they and the line take it."""
    produced = source_flow_m3h(plant)
    wells = list(plant.reinjection.values())
    # a throttled inlet valve limits what its well takes; the others take the rest
    capacity = [w.capacity_m3h() * valve_ratio(plant, "reinjection", ident)
                for ident, w in plant.reinjection.items()]
    total_capacity = sum(capacity)
    # the reinjection line's booster pumps carry the water to the wells: with every one
    # stopped or failed, what is produced overflows (is discharged) instead
    carried = not plant.boosters or any(u.running for u in plant.boosters)
    taken = min(produced, total_capacity) if carried else 0.0
    overflow_m3h = produced - taken
    for well, cap in zip(wells, capacity, strict=True):
        flow = taken * cap / total_capacity if total_capacity > 0 else 0.0
        well.settle(flow, injection_temp_c, dt_s)
    boosting = [u for u in plant.boosters if u.running]
    for unit in plant.boosters:
        if unit in boosting and taken > 0:
            flow = taken / len(boosting)
            unit.speed_hz = unit.max_speed_hz * min(1.0, flow / unit.rated_flow_m3h)
            unit.deliver(flow, unit.rated_head_m * (flow / unit.rated_flow_m3h) ** 2, dt_s)
        else:
            unit.deliver(0.0, 0.0, dt_s)
    return Reinjected(taken, overflow_m3h)
