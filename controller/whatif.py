"""What-if preview: the next hours of a station under a proposed change, without acting.

From the station's readings now (a :class:`plant.supervision.PlantView`) and a proposal — a
supply setpoint shift, heat pumps out of service, an outdoor forecast — the preview runs the
supervisor's own staging (a copy of its state, so the live one is untouched) against a
quasi-steady plant built from the performance models:

* the buildings ask for their conductance × (indoor design − outdoor), the conductance being
  the design load over the design temperature difference (the heat a held room loses);
* the direct plate exchangers keep giving what they give now, up to the demand; the heat
  pumps carry the rest, up to the capacity of the stage staging picks;
* the station's pipework loses 1 % of the design load at design supply, in proportion to the
  supply's excess over the plant room;
* each running heat pump's COP comes from :func:`plant.models.heat_pump.cop_from_rating` at
  the source leaving its evaporator and its condenser's excess over the setpoint (both as
  measured now; a stopped unit at its rated source), at its load ratio; a start costs its
  minimum-load power for the start-up time;
* pumps keep drawing what they draw now; the reinjection margin is the reinjection wells'
  measured capacity less production now.

It is a model, not the simulator: what it leaves out (building and ground dynamics, a source
that cools under a heavier load) is why it is checked against the season simulator
(docs/staging.md).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

from controller.staging import StagingInputs, UnitReading, step
from controller.supervisor import StagingSupervisor
from plant.heating import climate_curve_c
from plant.measurands import Measurand
from plant.models.heat_pump import cop_from_rating
from plant.site import HeatPump, Pump
from plant.supervision import PlantView

M = Measurand
STEP_S = 300.0
START_UP_S = 120.0
"""Start-up at minimum-load power before a unit heats (as the station's units do)."""
STATION_LOSS_FRACTION = 0.01
"""Station pipework loss at design supply, as a share of the design load (GB 50736 order)."""
PLANT_ROOM_TEMP_C = 20.0


@dataclass(frozen=True)
class Proposal:
    """A change to preview."""

    hours: int = 24
    units_out: tuple[str, ...] = ()
    supply_shift_k: float = 0.0
    """Added to the climate curve's supply setpoint."""
    outdoor_forecast_c: Sequence[float] = ()
    """Hourly outdoor temperatures from now on; without one the present temperature holds."""


@dataclass(frozen=True)
class HourAhead:
    """One hour of the preview."""

    hour: int
    outdoor_c: float
    supply_setpoint_c: float
    demand_kw: float
    heat_pump_heat_kw: float
    running: tuple[str, ...]
    electricity_kwh: float
    cop: float | None
    unmet_kwh: float


@dataclass(frozen=True)
class Preview:
    """The hours ahead and their totals."""

    hours: list[HourAhead] = field(default_factory=list)
    electricity_kwh: float = 0.0
    heat_pump_kwh: float = 0.0
    heat_kwh: float = 0.0
    unmet_kwh: float = 0.0
    starts: int = 0
    reinjection_margin_m3h: float | None = None

    @property
    def cop(self) -> float | None:
        """Heat-pump heat over heat-pump electricity over the preview."""
        hp_heat = sum(h.heat_pump_heat_kw for h in self.hours)
        return hp_heat / self.heat_pump_kwh if self.heat_pump_kwh > 0 else None


def _reading(view: PlantView, sup: StagingSupervisor, equipment: str,
             measurand: Measurand) -> float | None:
    point = sup.point(equipment, measurand)
    value = None if point is None else view.readings.get(point)
    return None if value is None else float(value)


def preview(sup: StagingSupervisor, view: PlantView, proposal: Proposal) -> Preview:
    """The next ``proposal.hours`` of the station under the proposal, staged as it would be."""
    site = sup.site
    station = site.station
    conductance = station.design_heat_load_kw / (
        station.indoor_design_temp_c - station.climate.design_outdoor_temp_c)
    pumps = [p for p in site.equipment if isinstance(p, Pump)]
    wells = sup.wells
    pump_kw = sum(_reading(view, sup, p.id, M.ELECTRIC_POWER) or 0.0
                  for p in [*pumps, *wells])
    exchangers_kw = sum(_reading(view, sup, hx.id, M.HEAT_POWER) or 0.0 for hx in sup.direct)
    outdoor_now = _reading(view, sup, sup.weather_id, M.OUTDOOR_TEMP) \
        if sup.weather_id else None
    forecast = list(proposal.outdoor_forecast_c) or [
        outdoor_now if outdoor_now is not None else station.climate.design_outdoor_temp_c]
    units: dict[str, HeatPump] = {hp.id: hp for hp in sup.heat_pumps}
    live = sup.inputs(view)
    source_out: dict[str, float] = {}
    lift: dict[str, float] = {}
    for hp in units.values():
        out = _reading(view, sup, hp.id, M.EVAPORATOR_OUT_TEMP)
        sink = _reading(view, sup, hp.id, M.CONDENSER_OUT_TEMP)
        on = live.units[hp.id].running
        # a running unit's own temperatures; a stopped one is assumed at its rated source
        source_out[hp.id] = out if on and out is not None else hp.rated_source_out_temp_c
        lift[hp.id] = sink - live.supply_setpoint_c if on and sink is not None else 0.0
    common = min((source_out[u] for u, r in live.units.items() if r.running),
                 default=max(source_out.values(), default=0.0))
    state = copy.deepcopy(sup.state)
    running = {u for u, r in state.units.items() if r.commanded}
    starts = 0
    hours: list[HourAhead] = []
    now = live.now_s
    for hour in range(proposal.hours):
        outdoor = forecast[min(hour, len(forecast) - 1)]
        setpoint = climate_curve_c(station, outdoor) + proposal.supply_shift_k
        demand = max(conductance * (station.indoor_design_temp_c - outdoor), 0.0)
        loss = STATION_LOSS_FRACTION * station.design_heat_load_kw * max(
            setpoint - PLANT_ROOM_TEMP_C, 0.0) / (station.design_supply_temp_c - PLANT_ROOM_TEMP_C)
        needed = max(demand + loss - exchangers_kw, 0.0)
        energy = hp_heat = unmet = 0.0
        for _ in range(int(3600 / STEP_S)):
            now += STEP_S
            capacity = sum(units[u].rated_heat_kw for u in running)
            given = min(needed, capacity)
            short_k = 0.0 if given >= needed or needed <= 0 else 5.0 * (1 - given / needed)
            readings = {u: UnitReading(u in running, u not in proposal.units_out,
                                       commanded=u in running) for u in units}
            inputs = StagingInputs(now, needed, setpoint - short_k, setpoint, live.heating,
                                   readings, common if running else None)
            for decision in step(sup.table, state, inputs, sup.params):
                running |= set(decision.start)
                running -= set(decision.stop)
                starts += len(decision.start)
                for u in decision.start:
                    hp = units[u]
                    floor = hp.min_load_pct / 100.0 or 0.1
                    cop = float(cop_from_rating(hp, source_out[u], setpoint + lift[u], floor))
                    energy += hp.rated_heat_kw * floor / cop * START_UP_S / 3600.0
            running -= set(proposal.units_out)
            capacity = sum(units[u].rated_heat_kw for u in running)
            given = min(needed, capacity)
            power = 0.0
            if given > 0:
                plr = given / capacity
                for u in running:
                    hp = units[u]
                    plr_unit = max(plr, hp.min_load_pct / 100.0, 1e-3)
                    cop = float(cop_from_rating(hp, source_out[u], setpoint + lift[u],
                                                plr_unit))
                    power += hp.rated_heat_kw * plr / cop
            hours_step = STEP_S / 3600.0
            energy += power * hours_step
            hp_heat += given * hours_step
            unmet += (needed - given) * hours_step
        hours.append(HourAhead(hour, outdoor, round(setpoint, 2), round(demand, 1),
                               round(hp_heat, 1), tuple(sorted(running)),
                               round(energy + pump_kw, 2),
                               round(hp_heat / energy, 2) if energy > 0 else None,
                               round(unmet, 1)))
    hp_kwh = sum(h.electricity_kwh for h in hours) - pump_kw * len(hours)
    capacity_m3h = sup.reinjection_capacity_m3h(view)
    produced = sum(_reading(view, sup, w.id, M.FLOW) or 0.0 for w in wells)
    return Preview(hours, sum(h.electricity_kwh for h in hours), hp_kwh,
                   sum(min(h.demand_kw, exchangers_kw) for h in hours)
                   + sum(h.heat_pump_heat_kw for h in hours),
                   sum(h.unmet_kwh for h in hours), starts,
                   None if capacity_m3h is None else capacity_m3h - produced)
