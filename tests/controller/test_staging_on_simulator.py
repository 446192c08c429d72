"""Staging's prediction of a lower stage at its freezing guard, against the simulated station.

The shallow field's station runs in process (:class:`simulator.sim.StationSim`) on a cold
January day with its fields' walls cooled to about 5 °C, so that the units it is given run
held at their 2 °C freezing guard. The units are commanded as a supervisor does (run
commands, the heartbeat); after an hour the supervisor's readings give staging's prediction
of what one unit fewer would give at its guard (:func:`controller.staging.capacity_at_guard_kw`),
and then that unit is stopped: five minutes later (the unit's start-up and the loop pumps'
slow-down long past) the units left give what the simulator's own ground, loop and heat-pump
models let them. The prediction knows none of those models' code: only the site's fields,
their borehole resistance and the readings.

The fields' walls are set by hand (a drop held in the ground model's slowest mode, so the
hour before the stop is what cools them further); over the minutes after the stop they keep
cooling from that hour's load, so the simulated heat falls slowly with time, and the
comparison is made at five minutes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.staging import Stage, StageTable, capacity_at_guard_kw, held_at_guard
from controller.supervisor import supervisor_for
from plant.models.borehole import GroundState, ground_modes
from plant.site import load_site
from plant.supervision import PlantView
from simulator.sim import StationSim

SITE = load_site(Path(__file__).resolve().parents[2] / "sites" / "shallow-field.yaml")
UNITS = ("HP1", "HP2", "HP3", "HP4", "HP5")
WALL_DROP_K = 8.5
"""The fields' walls 8.5 K under the undisturbed 14 °C: about 5 °C after the hour's load."""


def _stage(table: StageTable, running: tuple[str, ...]) -> Stage:
    counts = tuple(sum(1 for u in kind.units if u.id in running) for kind in table.kinds)
    return next(s for s in table.stages if s.counts == counts)


@pytest.mark.parametrize(("running", "then"), [
    (("HP1", "HP2"), ("HP1",)),
    (("HP1", "HP2", "HP3"), ("HP1", "HP2")),
    (("HP1", "HP2", "HP3", "HP5"), ("HP1", "HP2", "HP3")),
    (UNITS, ("HP1", "HP2", "HP3", "HP5")),
])
def test_a_lower_stage_gives_at_its_guard_what_staging_predicted(
        running: tuple[str, ...], then: tuple[str, ...]) -> None:
    sim = StationSim(SITE, start=datetime(2027, 1, 10, tzinfo=UTC), warm_up_s=600.0)
    for bh in sim.model.boreholes.values():
        modes = len(ground_modes(bh.spec).gains)
        bh.ground = GroundState(mode_drops_k=(0.0,) * (modes - 1) + (WALL_DROP_K,))
    beats = 0

    def run(units: tuple[str, ...], seconds: float) -> None:
        nonlocal beats
        for unit in UNITS:
            sim.write(f"{unit}.run_command", unit in units)
        for _ in range(round(seconds / 60.0)):
            beats += 1
            sim.write("NET.heartbeat", beats)
            sim.run(60.0, 10.0)

    run(running, 3600.0)
    supervisor = supervisor_for(SITE)
    inputs = supervisor.inputs(PlantView(sim.station_id, sim.now, sim.values()))
    table = supervisor.table
    assert inputs.source_in_c is not None and inputs.source_out_c is not None
    for kind in table.kinds:  # every unit given is held at its guard
        for unit in kind.units:
            assert held_at_guard(kind.rating, inputs.units[unit.id]) == (unit.id in running)
    given = sum(r.heat_kw for r in inputs.units.values() if r.running)
    measured = {"heat_kw": given, "source_in_c": inputs.source_in_c,
                "source_out_c": inputs.source_out_c}
    predicted = capacity_at_guard_kw(table, _stage(table, running), _stage(table, then),
                                     **measured)
    as_now = capacity_at_guard_kw(replace(table, ground=None), _stage(table, running),
                                  _stage(table, then), **measured)

    run(then, 300.0)
    after = supervisor.inputs(PlantView(sim.station_id, sim.now, sim.values()))
    assert {u for u, r in after.units.items() if r.running} == set(then)
    assert all(held_at_guard(kind.rating, after.units[u.id]) for kind in table.kinds
               for u in kind.units if u.id in then)
    simulated = sum(h.heat_kw for h in sim.model.heat_pumps.values() if h.running)
    # measured 8 December 2026: 2669 against 2655 kW, 4874 / 4848, 6289 / 6359, 6725 / 6750;
    # the source taken as entering as now: 2477, 4219, 5912, 5533 kW
    assert predicted == pytest.approx(simulated, rel=0.02)
    assert as_now < 0.95 * simulated
