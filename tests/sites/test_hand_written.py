"""A station written by hand from docs/site-guide.md and case 1.30 (003 L2471-2640).

Its file validates, every Modbus point got its address from tools/assign_addresses.py, and a
simulated season, heated in school hours with a frost guard as the case is (003 L2497), says
plainly that two 1250 m coaxial boreholes cannot carry the school's 840 kW design load in this
model: the borehole outlet sinks towards the evaporator's freezing guard, the unit unloads to
hold it, the supply stays far below its target and the rooms cool below even the frost guard's
threshold. (The case also uses direct supply at the start and end of the season, 003 L2567:
a direct exchanger on the borehole loop says it in the schema, but with the boreholes this cold
it would have nothing to give, so the file has none.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway.quality import range_quality
from plant.contract import Quality
from plant.site import ModbusBinding, load_site
from simulator.sim import StationSim
from simulator.station import freeze_guard_c
from tools.assign_addresses import complete

TONGWEI = Path(__file__).resolve().parents[2] / "sites" / "hand-written" / "tongwei-school.yaml"
STEP_S = 900.0


def test_the_hand_written_station_validates_and_its_addresses_are_the_assigners() -> None:
    site = load_site(TONGWEI)
    assert site.station.design_heat_load_kw == 840.0
    assert all(isinstance(p.binding, ModbusBinding) for p in site.points)
    text = TONGWEI.read_text()
    assert complete(text, TONGWEI.name) == text  # nothing left to assign


def test_its_season_shows_that_the_boreholes_cannot_carry_the_load() -> None:
    sim = StationSim(load_site(TONGWEI), seed=3, start=datetime(2025, 11, 1, tzinfo=UTC))
    model, unit = sim.model, sim.model.heat_pumps["HP1"]
    shortfall, heating, coldest, at_guard, running = 0.0, 0, 99.0, 0, 0
    for _ in range(int(60 * 86400 / STEP_S)):  # November and December
        sim.advance(STEP_S)
        for point, value in zip(sim.table.points, sim.readings(), strict=True):
            assert range_quality(point, value)[0] is Quality.GOOD, (point.id, value)
        coldest = min(coldest, *(z.indoor_temp_c for z in model.zones.values()))
        if model.heating_on:
            heating += 1
            shortfall += model.supply_target_c - model.station_supply_c
        if unit.running:
            running += 1
            at_guard += unit.evaporator_out_c <= freeze_guard_c(unit.spec) + 0.5
    assert at_guard > 0.5 * running  # the unit is held at its freezing guard most of its time
    assert shortfall / heating > 10.0  # while heating, the supply misses its target by > 10 K
    guard = model.site.station.antifreeze_guard
    assert coldest < guard.indoor_c  # even the frost guard cannot hold the rooms
