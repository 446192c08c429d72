"""The station's equipment, built from its site file: states, pump duties, zones and design flows.

:func:`build_plant` is pure construction: it reads the site and returns a :class:`Plant` whose
parts the hydraulics (:mod:`simulator.hydraulics`), the thermal solution (:mod:`simulator.heat`)
and the local logic then step. A pump's duty follows from its role and what it serves: the
wells' own production and reinjection pumps; a pump serving a heat pump, or the exchanger
feeding its evaporator, runs with that unit; reinjection boosters; and circulation groups
(network, each borehole's loop) run by the duty logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plant.site import (
    BoreholeField,
    CoaxialBorehole,
    Filter,
    HeatPump,
    PlateExchanger,
    ProductionWell,
    Pump,
    ReinjectionWell,
    Site,
    Substation,
    Valve,
    ValveRole,
)
from simulator.equipment import (
    BoreholeState,
    ExchangerState,
    HeatPumpState,
    ProductionWellState,
    PumpUnit,
    ReinjectionWellState,
    ZoneState,
    capacity_rate_kw_per_k,
)

CHILLED_SUPPLY_C = 7.0
CHILLED_DESIGN_DT_K = 5.0
"""Chilled-water design supply and temperature rise (7/12 °C); site files give heating only."""


@dataclass
class ValveState:
    """A motorised valve following its position setpoint; its role says what it governs."""

    spec: Valve
    setpoint_pct: float = 100.0
    position_pct: float = 100.0
    remote: bool = False
    """Written by a command: the operating modes leave it alone until handed back."""

    @classmethod
    def build(cls, spec: Valve) -> ValveState:
        """A valve in its normal position: open, or closed for a bypass."""
        normal = 100.0 if spec.normally_open else 0.0
        return cls(spec, normal, normal)

    def governs(self, role: ValveRole, equipment_id: str | None) -> bool:
        """True if this valve has the role and serves this equipment (or everything)."""
        return self.spec.role == role and (
            self.spec.serves is None or equipment_id is None or self.spec.serves == equipment_id)


@dataclass
class PumpGroup:
    """Pumps of one circulation duty (network or source loop) and the flow they must give."""

    pumps: list[PumpUnit] = field(default_factory=list)
    required_m3h: float = 0.0


@dataclass
class Plant:
    """Every piece of a station's equipment as the simulation steps it, and its design flows."""

    wells: dict[str, ProductionWellState] = field(default_factory=dict)
    reinjection: dict[str, ReinjectionWellState] = field(default_factory=dict)
    boreholes: dict[str, BoreholeState] = field(default_factory=dict)
    exchangers: dict[str, ExchangerState] = field(default_factory=dict)
    heat_pumps: dict[str, HeatPumpState] = field(default_factory=dict)
    pumps: dict[str, PumpUnit] = field(default_factory=dict)
    pump_roles: dict[str, str] = field(default_factory=dict)
    valves: dict[str, ValveState] = field(default_factory=dict)
    zones: dict[str, ZoneState] = field(default_factory=dict)
    filters: list[Filter] = field(default_factory=list)
    user_group: PumpGroup = field(default_factory=PumpGroup)
    """The network's circulation pumps."""
    source_groups: dict[str, PumpGroup] = field(default_factory=dict)
    """Each borehole's own loop pumps."""
    source_spare: PumpGroup = field(default_factory=PumpGroup)
    """Loop pumps serving no one borehole: they carry the boreholes without pumps of their own."""
    orphan_boreholes: list[str] = field(default_factory=list)
    companions: list[tuple[PumpUnit, list[str]]] = field(default_factory=list)
    """Pumps that run with heat pumps, and the units each runs with."""
    boosters: list[PumpUnit] = field(default_factory=list)
    """Reinjection-line boosters."""
    other_pumps: list[tuple[str, PumpUnit]] = field(default_factory=list)
    """Pumps of any other role (make-up among them), by role."""
    stage_order: list[int] = field(default_factory=list)
    hp_order: list[HeatPumpState] = field(default_factory=list)
    """Heat pumps in stage order: the order the local logic starts them in."""
    has_direct_exchangers: bool = False
    heating_flow_m3h: float = 0.0
    cooling_design_kw: float = 0.0
    cooling_flow_m3h: float = 0.0
    can_cool: bool = False
    valve_cache: dict[tuple[ValveRole, str | None], float] = field(default_factory=dict)
    """Open fractions by (role, equipment) at the valves' present positions."""

    @property
    def kind(self) -> str:
        """``hydrothermal`` with production wells, else ``loop`` (a borehole loop)."""
        return "hydrothermal" if self.wells else "loop"

    def all_pumps(self) -> list[PumpUnit]:
        """Every pump unit, the wells' own included (a unit may appear twice)."""
        units = list(self.pumps.values())
        units += [w.pump for w in self.wells.values()]
        units += [r.pump for r in self.reinjection.values()]
        return units


def build_plant(site: Site) -> Plant:
    """The station's equipment in its normal state, its pumps given their duties."""
    station = site.station
    plant = Plant()
    equipment = site.equipment
    hp_stages = {e.stage for e in equipment if isinstance(e, HeatPump)}
    for item in equipment:
        if isinstance(item, ProductionWell):
            plant.wells[item.id] = ProductionWellState.build(item)
        elif isinstance(item, CoaxialBorehole | BoreholeField):
            plant.boreholes[item.id] = BoreholeState.build(item)
        elif isinstance(item, PlateExchanger):
            plant.exchangers[item.id] = ExchangerState(item, item.stage in hp_stages)
        elif isinstance(item, HeatPump):
            plant.heat_pumps[item.id] = HeatPumpState.build(item)
        elif isinstance(item, Valve):
            plant.valves[item.id] = ValveState.build(item)
    _assign_pumps(site, plant)
    # zones: one per substation, or the whole station
    cp_design = capacity_rate_kw_per_k(1.0, 0.5 * (station.design_supply_temp_c
                                                 + station.design_return_temp_c))
    design_dt = station.design_supply_temp_c - station.design_return_temp_c
    substations = [e for e in equipment if isinstance(e, Substation)]
    areas = [(s.id, s.heated_area_m2) for s in substations] or [
        ("station", station.heated_area_m2)]
    total_area = sum(a for _, a in areas)
    for zone_id, area in areas:
        load = station.design_heat_load_kw * area / total_area
        plant.zones[zone_id] = ZoneState(zone_id, area, load, load / (cp_design * design_dt),
                                         station.indoor_design_temp_c)
    plant.heating_flow_m3h = sum(z.design_flow_m3h for z in plant.zones.values())
    cooling_kw = station.cooling_index_w_per_m2 * station.heated_area_m2 / 1000.0
    plant.cooling_design_kw = cooling_kw
    plant.cooling_flow_m3h = cooling_kw / (capacity_rate_kw_per_k(1.0, CHILLED_SUPPLY_C)
                                           * CHILLED_DESIGN_DT_K)
    plant.can_cool = (not plant.wells and cooling_kw > 0
                      and station.climate.cooling_season_days > 0)
    plant.user_group.required_m3h = plant.heating_flow_m3h
    for bh_id, group in plant.source_groups.items():
        group.required_m3h = plant.boreholes[bh_id].spec.rated_flow_m3h
    orphans = [b for b, g in plant.source_groups.items() if not g.pumps]
    plant.source_spare.required_m3h = sum(plant.boreholes[b].spec.rated_flow_m3h
                                          for b in orphans)
    plant.orphan_boreholes = orphans
    plant.stage_order = sorted(
        {e.spec.stage for e in plant.exchangers.values()}
        | {h.spec.stage for h in plant.heat_pumps.values()})
    plant.hp_order = sorted(plant.heat_pumps.values(), key=lambda h: h.spec.stage)
    hp_stages = {h.spec.stage for h in plant.heat_pumps.values()}
    plant.has_direct_exchangers = any(e.spec.stage not in hp_stages
                                      for e in plant.exchangers.values())
    plant.filters = [e for e in equipment if isinstance(e, Filter)]
    return plant


def _assign_pumps(site: Site, plant: Plant) -> None:
    """Give every pump its duty; build the reinjection wells with their own pumps."""
    equipment = site.equipment
    # production and reinjection pumps are the wells' own; a pump serving a heat pump (or the
    # exchanger feeding its evaporator) runs with it; the rest circulate
    spare_wells = list(plant.wells.values())
    reinjection_pumps: dict[str, PumpUnit] = {}
    reinjection_ids = [e.id for e in equipment if isinstance(e, ReinjectionWell)]
    hp_by_stage: dict[int, list[str]] = {}
    for item in equipment:
        if isinstance(item, HeatPump):
            hp_by_stage.setdefault(item.stage, []).append(item.id)
    plant.source_groups = {b: PumpGroup() for b in plant.boreholes}
    for item in equipment:
        if not isinstance(item, Pump):
            continue
        plant.pump_roles[item.id] = item.role
        if item.role == "production" and spare_wells:
            well = plant.wells.get(item.serves or "") or spare_wells[0]
            if well in spare_wells:
                spare_wells.remove(well)
            well.pump.id = item.id
            well.pump.vfd = item.vfd
            well.pump.min_speed_hz = item.min_speed_hz
            well.pump.max_speed_hz = item.max_speed_hz
            well.pump.speed_setpoint_hz = item.max_speed_hz
            plant.pumps[item.id] = well.pump
            continue
        unit = PumpUnit(item.id, item.rated_flow_m3h, item.rated_head_m, item.rated_kw,
                        item.vfd, item.min_speed_hz, item.max_speed_hz,
                        speed_setpoint_hz=item.max_speed_hz)
        plant.pumps[item.id] = unit
        serves = item.serves or ""
        if item.role == "reinjection" and serves in reinjection_ids:
            reinjection_pumps.setdefault(serves, unit)
        elif item.role in ("reinjection", "booster"):
            plant.boosters.append(unit)
        elif serves in plant.heat_pumps:
            plant.companions.append((unit, [serves]))
        elif serves in plant.exchangers and plant.exchangers[serves].serves_heat_pumps:
            stage = plant.exchangers[serves].spec.stage
            plant.companions.append((unit, hp_by_stage.get(stage, [])))
            plant.exchangers[serves].loop_pumps.append(unit)
        elif item.role == "user_circulation":
            plant.user_group.pumps.append(unit)
        elif item.role == "source_circulation" and plant.boreholes:
            plant.source_groups.get(serves, plant.source_spare).pumps.append(unit)
        else:
            plant.other_pumps.append((item.role, unit))
    for item in equipment:
        if isinstance(item, ReinjectionWell):
            plant.reinjection[item.id] = ReinjectionWellState.build(
                item, reinjection_pumps.get(item.id))
    for well in plant.wells.values():
        plant.pumps.setdefault(well.spec.id, well.pump)
