"""Meters: heat meters integrating their own noisy readings, electricity meters, run counters.

Each heat meter is wired at construction to the stream it measures (:func:`meter_source`); each
step it reads flow and temperatures with sensor noise and integrates the heat it computes from
them, as a real meter does, so its totals differ from the model's own energy balance by the
meters' noise and start threshold only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from plant.models.water import heat_power_kw
from plant.site import HeatMeter
from simulator.equipment import volume_flow_at

if TYPE_CHECKING:
    from simulator.station import StationModel

LEAKAGE_FRACTION = 1e-4
"""Make-up water needed, as a fraction of the circulating flow (normal losses)."""
METER_FLOW_SIGMA = 0.003
METER_TEMP_SIGMA_K = 0.02
METER_MIN_DT_K = 0.2
"""Temperature difference below which a heat meter registers nothing (start threshold)."""


@dataclass
class HeatMeterState:
    """A heat meter integrating its own (noisy) readings of flow and two temperatures."""

    source: Callable[[], tuple[float, float, float, float]]
    flow_m3h: float = 0.0
    supply_c: float = 0.0
    return_c: float = 0.0
    heat_kw: float = 0.0
    heat_kwh: float = 0.0
    volume_m3: float = 0.0


@dataclass
class ElectricityMeterState:
    """An electricity meter summing the power of the equipment in its scope."""

    sources: list[Callable[[], float]]
    power_kw: float = 0.0
    energy_kwh: float = 0.0


@dataclass
class EnergyBalance:
    """Cumulative model energies: source + compressor electricity = delivered + losses."""

    source_kwh: float = 0.0
    compressor_kwh: float = 0.0
    plant_output_kwh: float = 0.0
    delivered_kwh: float = 0.0
    loss_kwh: float = 0.0
    pump_kwh: float = 0.0
    produced_m3: float = 0.0
    reinjected_m3: float = 0.0
    overflow_m3: float = 0.0

    @property
    def residual_kwh(self) -> float:
        """What the balance misses (zero up to rounding)."""
        return self.source_kwh + self.compressor_kwh - self.delivered_kwh - self.loss_kwh


def meter_source(model: StationModel, meter: HeatMeter
                 ) -> Callable[[], tuple[float, float, float, float]]:
    """(volume flow, supply, return, temperature the flow is given at) a meter sees."""
    serves = meter.serves
    if serves in model.heat_pumps:
        hp = model.heat_pumps[serves]
        return lambda: (hp.condenser_flow_m3h, hp.condenser_out_c, hp.condenser_in_c,
                        hp.condenser_in_c)
    if serves in model.exchangers:
        hx = model.exchangers[serves]
        return lambda: (hx.secondary_flow_m3h, hx.secondary_out_c, hx.secondary_in_c,
                        hx.secondary_in_c)
    if serves in model.zones:
        zone = model.zones[serves]
        return lambda: (zone.flow_m3h, zone.supply_c, zone.return_c, model.return_c)
    if serves in model.boreholes:
        bh = model.boreholes[serves]
        return lambda: (bh.flow_m3h, bh.outlet_temp_c, bh.inlet_temp_c, bh.outlet_temp_c)
    if serves in model.wells:
        well = model.wells[serves]
        return lambda: (well.flow_m3h, well.wellhead_temp_c, model.injection_temp_c,
                        well.wellhead_temp_c)
    if meter.location == "source" or (meter.location == "exchanger" and not model.exchangers):
        return lambda: (model.source_flow_m3h, model.source_supply_c, model.source_return_c,
                        model.source_supply_c)
    if meter.location == "exchanger":
        hx = next(iter(model.exchangers.values()))
        return lambda: (hx.secondary_flow_m3h, hx.secondary_out_c, hx.secondary_in_c,
                        hx.secondary_in_c)
    if meter.location == "heat_pump" and model.heat_pumps:
        return lambda: (
            sum(h.condenser_flow_m3h for h in model.heat_pumps.values()),
            model.plant_supply_c, model.heat_pump_inlet_c, model.heat_pump_inlet_c)
    return lambda: (model.network_flow_m3h, model.station_supply_c, model.network_return_c,
                    model.network_return_c)


def power_sources(model: StationModel, scope: tuple[str, ...]) -> list[Callable[[], float]]:
    """The power readings an electricity meter sums (every unit when its scope is empty)."""
    sources: list[Callable[[], float]] = []
    wanted = set(scope)
    for hp_id, hp in model.heat_pumps.items():
        if not wanted or hp_id in wanted:
            sources.append(lambda hp=hp: hp.power_kw)  # type: ignore[misc]
    seen: set[int] = set()
    for pump_id, unit in model.pumps.items():
        owners = {pump_id}
        owners |= {w for w, s in model.wells.items() if s.pump is unit}
        owners |= {r for r, s in model.reinjection.items() if s.pump is unit}
        if id(unit) in seen or (wanted and not owners & wanted):
            continue
        seen.add(id(unit))
        sources.append(lambda unit=unit: unit.power_kw)  # type: ignore[misc]
    for rw_id, rw in model.reinjection.items():
        if id(rw.pump) in seen or (wanted and rw_id not in wanted):
            continue
        seen.add(id(rw.pump))
        sources.append(lambda rw=rw: rw.pump.power_kw)  # type: ignore[misc]
    return sources

def step_meters(model: StationModel, dt_s: float) -> None:
    """Read and integrate every meter and counter over one step."""
    hours = dt_s / 3600.0
    gauss = model.rng.gauss
    meters = list(model.heat_meters.values())
    for meter in meters:
        flow, supply, back, given_at = meter.source()
        # the flow sensor sits in the return, where the same mass flow has another volume
        flow = volume_flow_at(flow, given_at, back)
        meter.flow_m3h = max(0.0, flow * (1.0 + gauss(0.0, METER_FLOW_SIGMA)))
        meter.supply_c = supply + gauss(0.0, METER_TEMP_SIGMA_K)
        meter.return_c = back + gauss(0.0, METER_TEMP_SIGMA_K)
    if meters:
        heats = heat_power_kw(np.array([m.flow_m3h for m in meters]),
                              np.array([m.supply_c for m in meters]),
                              np.array([m.return_c for m in meters]))
        for meter, measured in zip(meters, heats.tolist(), strict=True):
            # a heat meter registers heat only, above its start threshold; a chilled-water
            # flow, or one without a temperature difference, reads zero power
            rise = meter.supply_c - meter.return_c
            heat = measured if rise >= METER_MIN_DT_K else 0.0
            meter.heat_kw = heat
            meter.heat_kwh += heat * hours
            meter.volume_m3 += meter.flow_m3h * hours
    for emeter in model.electricity_meters.values():
        emeter.power_kw = sum(source() for source in emeter.sources)
        emeter.energy_kwh += emeter.power_kw * hours
    for hp in model.heat_pumps.values():
        hp.energy_kwh += hp.power_kw * hours
        if hp.running and hp.starting_s > 0.0:  # the start-up ends after this step
            hp.starting_s = max(hp.starting_s - dt_s, 0.0)
        if not model.cooling_on:
            hp.heat_kwh += hp.heat_kw * hours
    model.makeup_m3h = LEAKAGE_FRACTION * (model.network_flow_m3h + sum(
        b.flow_m3h for b in model.boreholes.values()))
    model.makeup_m3 += model.makeup_m3h * hours
    model.balance.pump_kwh += sum(
        p.power_kw for p in {id(u): u for u in model.plant.all_pumps()}.values()) * hours

