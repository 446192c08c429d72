"""Staging, condition by condition, timer by timer, with a fake clock.

Every expectation is the G36 rule written out by hand (stage up after 900 s above the staging
part-load ratio, failsafe 2.5 K short for 900 s, 900 s minimum stage runtime, compressor
600 s on / 1200 s off / 3 starts per hour, rotation at 240 h) and checked against the decisions
the pure function returns; the plant is a few lines here that run what was commanded.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from controller.staging import (
    Decision,
    GroundLoop,
    StageTable,
    StagingInputs,
    StagingState,
    UnitKind,
    UnitReading,
    _chained,
    _cheapest_by_pairs,
    capacity_at_guard_kw,
    cheapest_of_every_order,
    ground_loop,
    hold_out,
    order_count,
    rotation_order,
    source_limit_c,
    source_out_at,
    stage_table,
    step,
    wall_c,
)
from plant.models.heat_pump import cop_from_rating
from plant.site import BoreholeField, HeatPump, PlateExchanger, Pump, Site, Staging, load_site

SITES = Path(__file__).resolve().parents[2] / "sites"
G36 = Staging()


def site(name: str) -> Site:
    return load_site(SITES / f"{name}.yaml")


@dataclass
class Plant:
    """Units that run as commanded (a trip overrides), and a clock."""

    table: StageTable
    params: Staging = G36
    state: StagingState = field(default_factory=StagingState)
    now: float = 0.0
    running: dict[str, bool] = field(default_factory=dict)
    tripped: set[str] = field(default_factory=set)
    decisions: list[tuple[float, Decision]] = field(default_factory=list)
    starts: dict[str, list[float]] = field(default_factory=dict)
    stops: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind in self.table.kinds:
            for unit in kind.units:
                self.running.setdefault(unit.id, False)

    def run(self, seconds: float, required_kw: float | Callable[[float], float], *,
            supply_short_k: float = 0.0, heating: bool = True, source_out_c: float | None = None,
            exchangers_short_k: float | None = None, lineup: frozenset[str] | None = None,
            source_in_c: float | None = None, evaporator_out_c: float | None = None,
            heat_kw: float = 0.0, dt: float = 10.0) -> list[Decision]:
        """Step for ``seconds``; returns the decisions taken meanwhile. Every running unit
        reads ``heat_kw`` and its evaporator leaving at ``evaporator_out_c``."""
        taken: list[Decision] = []
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now += dt
            need = required_kw(self.now) if callable(required_kw) else required_kw
            units = {u: UnitReading(running=on and u not in self.tripped,
                                    available=u not in self.tripped,
                                    heat_kw=heat_kw if on else 0.0,
                                    evaporator_out_c=evaporator_out_c if on else None)
                     for u, on in self.running.items()}
            inputs = StagingInputs(self.now, need, 45.0 - supply_short_k, 45.0, heating, units,
                                   source_out_c, exchangers_short_k, lineup, source_in_c)
            for decision in step(self.table, self.state, inputs, self.params):
                taken.append(decision)
                self.decisions.append((self.now, decision))
                for u in decision.start:
                    self.running[u] = True
                    self.starts.setdefault(u, []).append(self.now)
                for u in decision.stop:
                    if self.running[u]:
                        self.stops.setdefault(u, []).append(self.now)
                    self.running[u] = False
            for u in self.tripped:
                self.running[u] = False
        return taken

    def on(self) -> set[str]:
        return {u for u, r in self.running.items() if r}


def shallow(params: Staging = G36) -> Plant:
    return Plant(stage_table(site("shallow-field"), params), params)


def entering_as_now(params: Staging = G36) -> Plant:
    """The shallow field's units on a source that enters the evaporators as it does now
    whatever runs: the prediction of a station whose evaporators draw on no borehole field
    (its stage table without :class:`GroundLoop`)."""
    return Plant(replace(stage_table(site("shallow-field"), params), ground=None), params)


AT_2_5_C = Staging(source_out_min_c=2.5)
"""A site's own source limit, 0.5 K above the shallow field's 2 °C freezing guard."""


# ------------------------------------------------------------------ stage tables


def unit(station: Site, unit_id: str) -> HeatPump:
    return next(e for e in station.equipment if isinstance(e, HeatPump) and e.id == unit_id)


def electricity_by_hand(station: Site, units: list[str], load_kw: float) -> float:
    """A stage's electricity written out from the site: each unit's compressor at the COP
    model's published point (its share of the load by rating, its evaporator's rated inlet
    and design flow, so the source leaves warmer by (1 − PLR) × the rated drop), the pumps
    that serve it at their rated power, and the loops whose speed follows the evaporators'
    design flow, at the cube of their speed ratio."""
    hps = [unit(station, u) for u in units]
    plr = min(load_kw / sum(h.rated_heat_kw for h in hps), 1.0)
    power = 0.0
    for h in hps:
        cop = float(cop_from_rating(h, h.rated_source_out_temp_c
                                    + (1.0 - plr) * h.rated_evaporator_dt_k,
                                    h.rated_sink_out_temp_c, plr))
        power += h.rated_heat_kw * plr / cop
    pumps = [e for e in station.equipment if isinstance(e, Pump)]
    power += sum(p.rated_kw for p in pumps if p.serves in units)
    fields = {e.id for e in station.equipment if isinstance(e, BoreholeField)}
    loops = [p for p in pumps if p.role == "source_circulation" and p.serves in fields]
    flow = sum(h.design_evaporator_flow_m3h for h in hps)
    # the station's PLC slows a borehole loop's pump to its share, not below its minimum speed
    power += sum(p.rated_kw * min(max(flow / sum(q.rated_flow_m3h for q in loops),
                                      p.min_speed_hz / p.max_speed_hz), 1.0) ** 3
                 for p in loops)
    stages = {e.id: e.stage for e in station.equipment if isinstance(e, PlateExchanger)}
    for p in pumps:
        if p.serves in stages:
            fed = [h for h in station.equipment
                   if isinstance(h, HeatPump) and h.stage == stages[p.serves]]
            running = sum(h.design_evaporator_flow_m3h for h in hps if h in fed)
            if running:
                ratio = max(running / sum(h.design_evaporator_flow_m3h for h in fed),
                            p.min_speed_hz / p.max_speed_hz)
                power += p.rated_kw * min(ratio, 1.0) ** 3
    return power


def test_shallow_field_adds_big_units_first_each_at_its_full_load() -> None:
    field = site("shallow-field")
    table = stage_table(field, G36)
    # four 4500 kW centrifugals and one 1689 kW screw (003 L152): one unit more each stage,
    # the big ones first, the screw fourth; each stage's next is dearer up to its full load
    assert [s.capacity_kw for s in table.stages] == [0, 4500, 9000, 13500, 15189, 19689]
    assert [s.plr_staging for s in table.stages[1:-1]] == [1.0] * 4
    # the next stage at the full load of the one before costs more, by hand
    for before, after in [(["HP1"], ["HP1", "HP2"]),
                          (["HP1", "HP2"], ["HP1", "HP2", "HP3"]),
                          (["HP1", "HP2", "HP3"], ["HP1", "HP2", "HP3", "HP5"]),
                          (["HP1", "HP2", "HP3", "HP5"], ["HP1", "HP2", "HP3", "HP4", "HP5"])]:
        full = sum(unit(field, u).rated_heat_kw for u in before)
        assert electricity_by_hand(field, before, full) < electricity_by_hand(field, after, full)


def test_doublet_stages_lead_with_the_efficient_units() -> None:
    table = stage_table(site("hydrothermal-doublet"), G36)
    names = [k.rating.id for k in table.kinds]
    steps = [[b - a for a, b in zip(lo.counts, hi.counts, strict=True)]
             for lo, hi in itertools.pairwise(table.stages)]
    # the stage-2 units on the warmer source (COP 5.5) before the stage-3 ones (COP 4.6), one
    # unit more each stage
    assert all(sorted(step) == [0, 0, 1] for step in steps)
    assert [names[step.index(1)] for step in steps] == ["HP2-1", "HP2-1", "HP3-1", "HP3-2"]
    assert [s.capacity_kw for s in table.stages] == [0, 2000, 4000, 5200, 5900]


def test_doublet_first_stage_hands_over_where_two_units_are_cheaper() -> None:
    doublet = site("hydrothermal-doublet")
    crossover = stage_table(doublet, G36).stages[1].plr_staging * 2000.0
    # below it one 2000 kW unit carries the load on less electricity than two, above it two
    # do (their evaporators' drop and approaches halve, the loop pump speeds up), by hand
    one, two = ["HP2-1"], ["HP2-1", "HP2-2"]
    assert 1000.0 < crossover < 2000.0
    below, above = 0.99 * crossover, 1.01 * crossover
    assert electricity_by_hand(doublet, one, below) < electricity_by_hand(doublet, two, below)
    assert electricity_by_hand(doublet, one, above) > electricity_by_hand(doublet, two, above)


def doublet_on_heat_pumps(params: Staging = G36) -> Plant:
    """The doublet's heat-pump stages on their own (no exchangers in front of them)."""
    return Plant(stage_table(site("hydrothermal-doublet"), params), params)


@pytest.mark.parametrize(("share", "second"), [(1.02, True), (0.98, False)])
def test_the_second_unit_starts_above_the_crossover_after_900_s(share: float,
                                                                second: bool) -> None:
    plant = doublet_on_heat_pumps()
    load = share * plant.table.stages[1].plr_staging * 2000.0
    plant.run(1000, load)
    assert plant.state.stage == 1
    if not second:
        assert plant.run(7200, load) == []
        return
    # the first stage at 910 s (its condition held 900 s from the first average); the
    # condition holds again from the step after, 920 s, and stages up 900 s later
    assert plant.decisions[0][0] == pytest.approx(910.0)
    assert plant.run(810, load) == []
    up = plant.run(20, load)
    assert [(d.condition, d.stage_to) for d in up] == [("efficiency", 2)]


def test_the_second_unit_stops_below_the_crossover_less_the_hysteresis() -> None:
    plant = doublet_on_heat_pumps()
    crossover = plant.table.stages[1].plr_staging * 2000.0
    plant.run(4000, 1.05 * crossover)
    assert plant.state.stage == 2
    # between the crossover less 0.05 × 2000 kW and the crossover: the two carry on
    assert plant.run(7200, crossover - 50.0) == []
    down = plant.run(2000, crossover - 150.0)
    assert [(d.condition, d.stage_to) for d in down] == [("stage_down", 1)]


def test_an_explicit_plr_staging_is_g36s_one_splr_for_every_stage() -> None:
    g36 = Staging(plr_staging=0.9)
    assert [s.plr_staging for s in stage_table(site("shallow-field"), g36).stages] == [0.9] * 6
    # above the derived crossover and below 0.9 × 2000 kW: the derived stages up, 0.9 not
    derived, fixed = doublet_on_heat_pumps(), doublet_on_heat_pumps(g36)
    load = 1790.0
    assert derived.table.stages[1].plr_staging * 2000.0 < load < 0.9 * 2000.0
    derived.run(5000, load)
    fixed.run(5000, load)
    assert (derived.state.stage, fixed.state.stage) == (2, 1)
    assert fixed.run(2000, 1810.0)[-1].condition == "efficiency"


# ------------------------------------------------------------------ conditions and timers


def test_efficiency_condition_stages_up_after_900_s_above_the_splr() -> None:
    plant = shallow()
    plant.run(10, 0.0)
    assert plant.state.stage == 0
    # from no stage any requirement is above the SPLR; it holds from the first average > 0
    assert plant.run(900, 4600.0) == []
    up = plant.run(10, 4600.0)
    assert [d.condition for d in up] == ["efficiency"]
    assert plant.state.stage == 1 and plant.on() == {"HP1"}
    # 4600 kW is above the 4500 kW unit's full load, where the next stage becomes the
    # cheaper: the next stage after 900 s more (minimum stage runtime and condition together)
    assert plant.run(890, 4600.0) == []
    up = plant.run(20, 4600.0)
    assert [(d.condition, d.stage_to) for d in up] == [("efficiency", 2)]
    assert len(plant.on()) == 2 and "HP5" not in plant.on()


def test_efficiency_condition_needs_the_averaged_requirement() -> None:
    plant = shallow()
    plant.run(1000, 1000.0)
    assert plant.state.stage == 1
    # a 200 s peak to 9000 kW lifts the 300 s average above 0.9 × 4500 kW, not for 900 s
    peak = plant.run(1000, lambda t: 9000.0 if 1100 < t <= 1300 else 1000.0)
    assert peak == []


def test_failsafe_stages_up_when_supply_is_2_5_k_short_for_900_s() -> None:
    plant = shallow()
    plant.run(1000, 1000.0)
    assert plant.state.stage == 1
    assert plant.run(2000, 1000.0, supply_short_k=2.4) == []
    assert plant.run(900, 1000.0, supply_short_k=2.6) == []
    up = plant.run(10, 1000.0, supply_short_k=2.6)
    assert [d.condition for d in up] == ["failsafe"]
    assert up[0].values["supply_c"] == pytest.approx(42.4)


def test_exchangers_first_then_the_first_stage_after_1_k_for_1200_s() -> None:
    plant = Plant(stage_table(site("hydrothermal-doublet"), G36))
    # the exchangers leave 450 kW, less than the first stage's 500 kW minimum, the supply
    # 0.5 K short: they carry on alone
    assert plant.run(3000, 450.0, supply_short_k=0.5, exchangers_short_k=0.5) == []
    assert plant.run(1190, 450.0, supply_short_k=1.2, exchangers_short_k=1.2) == []
    up = plant.run(20, 450.0, supply_short_k=1.2, exchangers_short_k=1.2)
    assert [(d.condition, d.stage_to) for d in up] == [("exchangers_short", 1)]
    # 2 K short needs only 600 s
    plant = Plant(stage_table(site("hydrothermal-doublet"), G36))
    assert plant.run(590, 450.0, supply_short_k=2.1, exchangers_short_k=2.1) == []
    assert [d.condition for d in plant.run(20, 450.0, supply_short_k=2.1,
                                           exchangers_short_k=2.1)] == ["exchangers_short"]


@pytest.mark.parametrize(("left_kw", "starts"), [
    (450.0, False),   # below the 2000 kW unit's minimum (25 %, 500 kW): it would over-supply
    (500.0, True),    # its minimum output: it runs without over-supplying
    (600.0, True),
])
def test_first_stage_once_the_exchangers_leave_its_minimum_output(left_kw: float,
                                                                  starts: bool) -> None:
    plant = Plant(stage_table(site("hydrothermal-doublet"), G36))
    assert plant.table.stages[1].minimum_kw == pytest.approx(500.0)
    assert plant.run(3000, 400.0, supply_short_k=0.4, exchangers_short_k=0.4) == []
    # the 300 s average (30 samples) reaches 500 kW with the 15th sample of 600 kW, 150 s
    # after the rise (of 500 kW, with the 30th, 300 s after); then it must hold 900 s
    reached = {450.0: math.inf, 500.0: 300.0, 600.0: 150.0}[left_kw]
    short = (left_kw - 400.0) / 1000.0 + 0.4  # below the 1 K of the temperature rule
    if not starts:
        assert plant.run(7200, left_kw, supply_short_k=short, exchangers_short_k=short) == []
        return
    assert plant.run(reached + 890, left_kw, supply_short_k=short,
                     exchangers_short_k=short) == []
    up = plant.run(20, left_kw, supply_short_k=short, exchangers_short_k=short)
    assert [(d.condition, d.stage_to) for d in up] == [("exchangers_short", 1)]
    assert plant.decisions[-1][0] == pytest.approx(3000.0 + reached + 900.0)


def test_back_to_the_exchangers_when_the_stage_could_only_over_supply() -> None:
    plant = Plant(stage_table(site("hydrothermal-doublet"), G36))
    plant.run(1000, 800.0, supply_short_k=0.7, exchangers_short_k=0.7)
    assert plant.state.stage == 1
    # 550 kW left to it: above its 500 kW minimum, the unit stays for hours
    assert plant.run(7200, 550.0, exchangers_short_k=0.05) == []
    # 450 kW: at its minimum it would over-supply; the 300 s average passes below 500 kW with
    # the 16th sample (160 s), then 900 s
    assert plant.run(1050, 450.0, exchangers_short_k=0.4) == []
    down = plant.run(20, 450.0, exchangers_short_k=0.4)
    assert [(d.condition, d.stage_to) for d in down] == [("stage_down", 0)]
    # just down, the requirement held at the change for 900 s: the exchangers' stage waits
    assert plant.run(890, 600.0, supply_short_k=0.5, exchangers_short_k=0.5) == []


def test_stage_down_when_the_next_lower_stage_carries_the_load() -> None:
    plant = shallow()
    plant.run(2000, 4800.0)
    # 4800 kW is more than one 4500 kW unit gives: two big units
    assert plant.state.stage == 2
    # at 4300 kW one unit would run at 0.956, not below its 1.0 − 0.05: no stage-down
    assert plant.run(2000, 4300.0) == []
    # at 4200 kW, 0.933 < 0.95: the 300 s average (30 samples) passes below 0.95 × 4500 kW
    # with its 8th sample of 4200 kW, 80 s after the drop, and the condition holds 900 s
    assert plant.run(970, 4200.0) == []
    down = plant.run(20, 4200.0)
    assert [(d.condition, d.stage_to) for d in down] == [("stage_down", 1)]
    assert len(plant.on()) == 1 and "HP5" not in plant.on()


def test_requirement_is_held_for_900_s_after_a_stage_change() -> None:
    plant = shallow()
    up = plant.run(1000, 3000.0)
    assert [d.condition for d in up] == ["efficiency"]
    changed = next(t for t, d in plant.decisions if d.condition == "efficiency")
    # the load goes at once; G36 holds the 3000 kW of the change for dtRun (900 s), so the
    # stage-down timer starts only then and runs its own 900 s: down 1800 s after the change,
    # where the 300 s average alone would have allowed it after 300 + 900 s
    plant.run(changed + 1790 - plant.now, 0.0)
    assert plant.state.stage == 1
    down = plant.run(20, 0.0)
    assert [(d.condition, d.stage_to) for d in down] == [("stage_down", 0)]
    assert down[0].values["required_kw"] == 0.0


def test_no_stage_down_while_the_failsafe_holds() -> None:
    plant = shallow()
    plant.run(4000, 4800.0)
    during = plant.run(2000, 3000.0, supply_short_k=3.0)
    assert "stage_down" not in [d.condition for d in during]
    assert plant.run(1200, 3000.0)[-1].condition == "stage_down"  # once the supply recovers


def test_minimum_stage_runtime_holds_every_stage_900_s() -> None:
    plant = shallow()
    plant.run(19000, lambda t: 19000.0)
    changes = [t for t, d in plant.decisions
               if d.stage_from != d.stage_to and d.condition != "waiting"]
    assert len(changes) >= 5
    assert all(b - a >= 900 for a, b in itertools.pairwise(changes))


# ------------------------------------------------------------------ compressor protection


def test_compressor_protection_on_a_fast_cycling_load() -> None:
    eager = Staging(capacity_average_s=10, efficiency_delay_s=0, failsafe_delay_s=0,
                    stage_runtime_min_s=0)
    school = site("deep-borehole-school")
    plant = Plant(stage_table(school, eager), eager)
    # a load that comes and goes every 5 minutes for three hours
    plant.run(3 * 3600, lambda t: 600.0 if int(t // 300) % 2 == 0 else 0.0)
    starts, stops = plant.starts["HP1"], plant.stops.get("HP1", [])
    assert len(starts) >= 3
    for i, t in enumerate(starts):
        assert sum(1 for s in starts if t - 3600 < s <= t) <= 3, f"start {i}"
    for on, off in zip(starts, stops, strict=False):
        assert off - on >= 600  # minimum on
    for off, on in zip(stops, starts[1:], strict=False):
        assert on - off >= 1200  # minimum off
    waits = [d for _, d in plant.decisions if d.condition == "waiting"]
    assert waits and all("protection" in d.detail or "minimum on" in d.detail for d in waits)


def test_a_waiting_stage_change_is_said_once() -> None:
    eager = Staging(capacity_average_s=10, efficiency_delay_s=0, stage_runtime_min_s=0)
    plant = Plant(stage_table(site("deep-borehole-school"), eager), eager)
    plant.run(700, 600.0)
    plant.run(20, 0.0)
    assert plant.on() == set()
    plant.run(600, 600.0)  # 1200 s minimum off: it must wait, and say so once
    waits = [d for _, d in plant.decisions if d.condition == "waiting"]
    assert len(waits) == 1 and "HP1" in waits[0].detail
    assert plant.on() == set()
    plant.run(700, 600.0)
    assert plant.on() == {"HP1"}


# ------------------------------------------------------------------ availability and rotation


def test_a_tripped_unit_is_replaced_at_once_by_one_of_its_kind() -> None:
    plant = shallow()
    plant.run(3000, 4000.0)
    assert plant.state.stage == 1
    (big,) = plant.on()
    plant.tripped.add(big)
    swap = plant.run(10, 4000.0)
    assert [d.condition for d in swap] == ["unavailable"]
    assert len(plant.on()) == 1 and big not in plant.on() and "HP5" not in plant.on()
    # the tripped unit alarmed last: it goes to the back of the rotation
    plant.tripped.clear()
    bigs = [u.id for u in plant.table.kinds[0].units]
    assert rotation_order(plant.state, bigs, plant.now, G36)[-1] == big


def test_held_out_unit_is_neither_used_nor_commanded_and_leaves_no_hole() -> None:
    plant = shallow()
    hold_out(plant.state, "HP5", True)
    plant.run(4000, 7000.0)
    # without the screw the stages are 4500, 9000, ...: 7000 kW needs two big units
    assert plant.on() == {"HP1", "HP2"}
    assert all("HP5" not in d.start + d.stop for _, d in plant.decisions)
    hold_out(plant.state, "HP5", False)
    plant.running["HP5"] = False


def test_rotation_passes_the_lead_after_240_h_of_staging_runtime() -> None:
    plant = shallow()
    plant.run(1900, 4000.0)
    (lead,) = plant.on()
    assert plant.run(240 * 3600 - 2000, 4000.0, dt=300.0) == []
    plant.run(2400, 4000.0, dt=300.0)
    rotations = [d for _, d in plant.decisions if d.condition == "rotation"]
    assert len(rotations) == 1
    assert rotations[0].stop == (lead,) and lead not in plant.on()
    assert len(plant.on()) == 1
    assert plant.state.units[lead].lifetime_runtime_s == pytest.approx(
        plant.state.units[lead].staging_runtime_s)


def test_source_below_its_protective_limit_adds_a_stage_and_holds_it() -> None:
    plant = shallow(AT_2_5_C)
    plant.run(2000, 4000.0)
    assert plant.state.stage == 1
    # 4000 kW on one big unit, its evaporator leaving 2.3 °C: after 900 s a second joins
    assert plant.run(900, 4000.0, source_out_c=2.3) == []
    up = plant.run(10, 4000.0, source_out_c=2.3)
    assert [(d.condition, d.start) for d in up] == [("source_protection", ("HP2",))]
    # 3000 kW the lower stage would carry, but while the source stays below its limit no
    # stage comes down: the next is added every 900 s instead
    during = plant.run(2000, 3000.0, source_out_c=2.3)
    assert [(d.condition, d.start) for d in during] == [
        ("source_protection", ("HP3",)), ("source_protection", ("HP5",))]
    # above the limit but within 2 K of it: nothing added, nothing taken away yet
    assert plant.run(1300, 3000.0, source_out_c=4.0) == []
    # 2 K above it: one stage down every 900 s and more
    down = plant.run(1300, 3000.0, source_out_c=6.0)
    assert [(d.condition, d.stage_to, d.stop) for d in down] == [("stage_down", 3, ("HP5",))]


WATER_KWH_PER_M3K = 4.18 * 1000.0 / 3600.0  # 4.18 kJ/(kg·K), 1000 kg/m³
BIG_EVAPORATOR_M3H = 4500.0 * (1.0 - 1.0 / 4.6) / (WATER_KWH_PER_M3K * 5.0)
SCREW_EVAPORATOR_M3H = 1689.0 * (1.0 - 1.0 / 4.4) / (WATER_KWH_PER_M3K * 5.0)
"""Design evaporator flows of the shallow field's units: rated source heat at a 5 K drop."""


def test_source_protection_brings_in_the_stage_whose_evaporators_lift_the_source() -> None:
    plant = entering_as_now(AT_2_5_C)
    plant.run(2000, 4000.0)
    assert plant.on() == {"HP1"}
    # 5 °C in, 1 °C out of one big evaporator: the same heat over more design flow drops less
    two_big = 5.0 - 4.0 * BIG_EVAPORATOR_M3H / (2 * BIG_EVAPORATOR_M3H)
    assert two_big >= 2.5  # the next stage, a second big unit, would lift it
    assert plant.run(900, 4000.0, source_out_c=1.0, source_in_c=5.0) == []
    up = plant.run(10, 4000.0, source_out_c=1.0, source_in_c=5.0)
    assert [(d.condition, d.stage_to) for d in up] == [("source_protection", 2)]
    assert len(plant.on()) == 2 and "HP5" not in plant.on()
    # the load could come down to one big unit, but at 6 °C in and 4 °C out it would take the
    # same heat over half the flow and leave 6 − 2 × 2 = 2 °C, below the limit: the two stay
    assert plant.run(2000, 3000.0, source_out_c=4.0, source_in_c=6.0) == []
    # at 8 °C in and 6 °C out one big unit would leave 4 °C: down after 900 s
    down = plant.run(1000, 3000.0, source_out_c=6.0, source_in_c=8.0)
    assert [(d.condition, d.stage_to) for d in down] == [("stage_down", 1)]


def test_no_stage_is_added_when_none_would_lift_the_source() -> None:
    plant = entering_as_now(AT_2_5_C)
    plant.run(2000, 4000.0)
    # 3 °C in, 0.5 °C out: even all five evaporators would leave it under 2.5 °C
    every = 4 * BIG_EVAPORATOR_M3H + SCREW_EVAPORATOR_M3H
    assert 3.0 - 2.5 * BIG_EVAPORATOR_M3H / every < 2.5
    assert plant.run(3000, 4000.0, source_out_c=0.5, source_in_c=3.0) == []
    assert plant.on() == {"HP1"}


def test_what_a_lower_stage_gives_at_its_freezing_guard() -> None:
    table = entering_as_now().table
    two, one = table.stages[2], table.stages[1]
    assert two.capacity_kw == 9000.0 and one.capacity_kw == 4500.0
    # two big units give 3000 kW cooling the source from 5 °C to 3.5 °C; one big unit may cool
    # the same inlet to its 2 °C guard, twice the drop, over half the flow: 3000 × 2 × 0.5
    assert capacity_at_guard_kw(table, two, one, heat_kw=3000.0, source_in_c=5.0,
                                source_out_c=3.5) == pytest.approx(3000.0)
    # from 6 °C in: 3000 × 4 / 1.5 × 0.5 = 4000 kW; from 8 °C, 6000 kW, at most its 4500 kW
    assert capacity_at_guard_kw(table, two, one, heat_kw=3000.0, source_in_c=6.0,
                                source_out_c=4.5) == pytest.approx(4000.0)
    assert capacity_at_guard_kw(table, two, one, heat_kw=3000.0, source_in_c=8.0,
                                source_out_c=6.5) == pytest.approx(4500.0)


def test_a_unit_held_at_its_freezing_guard_is_judged_by_the_heat_it_gives() -> None:
    plant = shallow()
    plant.run(2000, 4000.0, evaporator_out_c=4.0, heat_kw=4000.0)
    assert plant.on() == {"HP1"}
    # the field's water freezes at -2 °C, so the unit's guard is 2 °C; leaving at 2.1 °C it is
    # held there and gives 3600 kW: 4000 kW asked is more than the stage can give now, and
    # after 900 s the next stage carries it (at 4000 of 4500 kW rated it would not stage up)
    assert unit(site("shallow-field"), "HP1").freeze_guard_c == -2.0 + 4.0
    assert plant.run(890, 4000.0, evaporator_out_c=2.1, heat_kw=3600.0) == []
    up = plant.run(20, 4000.0, evaporator_out_c=2.1, heat_kw=3600.0)
    assert [(d.condition, d.stage_to) for d in up] == [("efficiency", 2)]
    assert up[0].values["present_capacity_kw"] == 3600.0
    assert up[0].values["plr"] == pytest.approx(4000.0 / 3600.0, abs=1e-3)


def test_a_unit_above_its_guard_margin_counts_at_its_rating() -> None:
    plant = shallow()
    plant.run(2000, 4000.0, evaporator_out_c=4.0, heat_kw=4000.0)
    # 2.3 °C is more than 0.2 K above the 2 °C guard: the unit is not held, 4000 of 4500 kW
    assert plant.run(3000, 4000.0, evaporator_out_c=2.3, heat_kw=3600.0) == []
    assert plant.on() == {"HP1"}


def test_no_stage_down_to_a_stage_that_could_not_give_the_requirement_at_its_guard() -> None:
    plant = entering_as_now()
    plant.run(2000, 4800.0, evaporator_out_c=4.0, heat_kw=2400.0)
    assert len(plant.on()) == 2
    # 3000 kW one big unit would carry at its rating, but from 5 °C in it gives 3000 kW at its
    # guard (the test above): not below 0.95 of that, the two stay (the limit, 1 °C, would
    # not have kept them: one unit would leave 5 − 2 × 1.5 = 2 °C)
    assert plant.run(3000, 3000.0, source_in_c=5.0, source_out_c=3.5,
                     evaporator_out_c=3.5, heat_kw=1500.0) == []
    # from 6 °C in it gives 4000 kW: 3900 kW is above 0.95 of it, 3700 kW below, down after 900 s
    assert plant.run(3000, 3900.0, source_in_c=6.0, source_out_c=4.5,
                     evaporator_out_c=4.5, heat_kw=1500.0) == []
    down = plant.run(1300, 3700.0, source_in_c=6.0, source_out_c=4.5,
                     evaporator_out_c=4.5, heat_kw=1500.0)
    assert [(d.condition, d.stage_to) for d in down] == [("stage_down", 1)]


def test_no_stage_down_while_a_unit_is_held_and_the_inlet_is_not_read() -> None:
    plant = shallow()
    plant.run(2000, 4800.0, evaporator_out_c=4.0, heat_kw=2400.0)
    assert len(plant.on()) == 2
    # held at the guard, the units' heat says nothing of what one could carry
    assert plant.run(3000, 3000.0, evaporator_out_c=2.1, heat_kw=1500.0) == []
    down = plant.run(1000, 3000.0, evaporator_out_c=4.5, heat_kw=1500.0)
    assert [(d.condition, d.stage_to) for d in down] == [("stage_down", 1)]


# ------------------------------------------------------------------ the borehole loop
#
# Worked by hand from the site file and a steam table, not from the code: the shallow field
# has three fields of 900 boreholes × 120 m = 108,000 m, each rated 800 m³/h, its loop pump
# at least 20/50 of its 800 m³/h (320 m³/h); Rb 0.10 m·K/W (a grouted single U, the ground
# model's constant). Design evaporator flows: rated source heat over 1.15 kWh/(m³·K) × 5 K,
# a big unit 4500 × (1 − 1/4.6) / 5.75 = 612.48 m³/h, the screw 1689 × (1 − 1/4.4) / 5.75 =
# 226.98 m³/h. Water near 3-4 °C: 1000 kg/m³ × 4.206 kJ/(kg·K), so a capacity rate of
# 1.16833 kW/K per m³/h. A field at flow q gives C·(1 − exp(−L/(Rb·C))) per kelvin between
# its wall and its inlet (C its capacity rate): at 408.32 m³/h (two big units' flow shared by
# three fields) C = 477.05 kW/K, L/(Rb·C) = 108000 / (0.1 × 477050) = 2.2639, the three
# together 3 × 477.05 × (1 − e^−2.2639) = 1282.4 kW/K; at 320 m³/h (one big unit: 204 m³/h
# each, below the pumps' least) 3 × 373.87 × 0.94432 = 1059.2 kW/K, the evaporator taking
# its 612.48 m³/h (715.6 kW/K) of the loop's 960 (1121.6 kW/K), the rest in the bypass.

WATER_KW_PER_K_PER_M3H = 1000.0 * 4.206 / 3600.0


def test_the_shallow_fields_loop_from_the_site() -> None:
    loop = ground_loop(site("shallow-field"))
    assert loop == GroundLoop(((108_000.0, 800.0, 320.0),) * 3, 0.10)
    # a station without a borehole field keeps the source entering as now
    assert ground_loop(site("hydrothermal-doublet")) is None
    assert ground_loop(site("deep-borehole-school")) is None
    assert loop.flows_m3h(2 * 612.476) == pytest.approx((408.317,) * 3, rel=1e-5)
    assert loop.flows_m3h(612.476) == (320.0,) * 3
    assert loop.flows_m3h(4 * 612.476 + 226.980) == (800.0,) * 3
    assert loop.conductance_kw_per_k((408.3176,) * 3, 3.55) == pytest.approx(1282.4, rel=1e-3)
    assert loop.conductance_kw_per_k((320.0,) * 3, 3.55) == pytest.approx(1059.2, rel=1e-3)


# (running, other, inlet °C, outlet °C, heat kW) → the wall, what the other stage gives at its
# 2 °C guard, and (for the old rule's contrast) what the source entering as now would give:
#
# two big → one big, 5.0 in, 2.1 out, 6000 kW: the evaporators take 1431.2 × 2.9 = 4150.3 kW,
# the fields get 2.1 °C back (no bypass) and their wall is 2.1 + 4150.3 / 1282.4 = 5.3364 °C;
# one big unit leaving at 2.0 °C takes Q from a loop whose fields' inlet is 2.0 + Q/715.6 −
# Q/1121.6, so Q = 1059.2 × 3.3364 / (1 + 1059.2 × (1/715.6 − 1/1121.6)) = 2300.9 kW and
# gives 6000 × 2300.9 / 4150.3 = 3326.4 kW; the inlet as now, 6000 × 3.0/2.9 × 0.5 = 3103.4.
# three big → two big, 4.4 in, 2.0 out, 6450 kW: 2146.7 kW/K × 2.4 = 5152.2 kW, fields
# 1672.2 kW/K, wall 5.0812 °C; two big 1282.4 × 3.0812 / (1 + 0) = 3951.3 kW, 6450 ×
# 3951.3 / 5152.2 = 4946.6 kW; as now 6450 × 2.4/2.4 × 2/3 = 4300.0.
# four big and the screw → three big and the screw, 4.1 in, 2.0 out, 7400 kW: the loop at its
# rated 2400 m³/h (2804.0 kW/K), less than the 2676.9 m³/h design, takes 5888.4 kW, fields
# 1921.0 kW/K, wall 5.0653 °C; at 2064.4 m³/h (688.14 each) 1782.5 × 3.0653 = 5463.7 kW,
# 7400 × 5463.7 / 5888.4 = 6866.3 kW; as now 7400 × 2.1/2.1 × 2064.4/2676.9 = 5706.9.
LOWER_AT_GUARD = [
    ((2, 0), (1, 0), 5.0, 2.1, 6000.0, 5.3364, 3326.4, 3103.4),
    ((3, 0), (2, 0), 4.4, 2.0, 6450.0, 5.0812, 4946.6, 4300.0),
    ((4, 1), (3, 1), 4.1, 2.0, 7400.0, 5.0653, 6866.3, 5706.9),
]


@pytest.mark.parametrize(("running", "other", "inlet", "outlet", "heat", "wall", "gives",
                          "as_now"), LOWER_AT_GUARD)
def test_a_lower_stage_at_its_guard_on_the_borehole_loop(
        running: tuple[int, int], other: tuple[int, int], inlet: float, outlet: float,
        heat: float, wall: float, gives: float, as_now: float) -> None:
    table = shallow().table
    stages = {s.counts: s for s in table.stages}
    assert table.ground is not None
    assert wall_c(table.ground, table.kinds, running, inlet, outlet) == pytest.approx(
        wall, abs=2e-3)
    assert capacity_at_guard_kw(table, stages[running], stages[other], heat_kw=heat,
                                source_in_c=inlet, source_out_c=outlet) == pytest.approx(
        gives, rel=1e-3)
    assert capacity_at_guard_kw(entering_as_now().table, stages[running], stages[other],
                                heat_kw=heat, source_in_c=inlet,
                                source_out_c=outlet) == pytest.approx(as_now, rel=1e-4)


def test_the_source_another_stage_leaves_on_the_borehole_loop() -> None:
    table = shallow().table
    # one big unit, 5.0 in and 1.0 out: it takes 715.6 × 4 = 2862.3 kW; the loop's 960 m³/h
    # bring the fields 5.0 − 2862.3 / 1121.6 = 2.448 °C, their wall 2.448 + 2862.3 / 1059.2 =
    # 5.1504 °C. Two big units taking the same heat: the fields' inlet 5.1504 − 2862.3 /
    # 1282.4 = 2.9184 °C, the evaporators' outlet too (no bypass); the source entering as now
    # would have left 5 − 4/2 = 3.0 °C
    assert source_out_at(table.kinds, (1, 0), (2, 0), 5.0, 1.0, ground=table.ground) == pytest.approx(
        2.9184, abs=2e-3)
    assert source_out_at(table.kinds, (1, 0), (2, 0), 5.0, 1.0) == pytest.approx(3.0)
    # two big → one big, 5.0 in, 2.1 out (4150.3 kW, wall 5.3364 °C): the fields' inlet
    # 5.3364 − 4150.3 / 1059.2 = 1.4181 °C is the evaporator's outlet mixed with the bypass,
    # which leaves 4150.3 × (1/715.6 − 1/1121.6) = 2.0994 K colder: −0.681 °C (as now −0.8)
    assert source_out_at(table.kinds, (2, 0), (1, 0), 5.0, 2.1, ground=table.ground) == pytest.approx(
        -0.681, abs=2e-3)


def test_stage_down_where_the_borehole_loop_lets_the_lower_stage_carry() -> None:
    plant = shallow()
    # two big units give 1600 kW each cooling the source from 5.5 to 3.5 °C, 1 K clear of
    # their guard: the evaporators take 1431.2 × 2.0 = 2862.3 kW, the wall is 3.5 + 2862.3 /
    # 1282.4 = 5.7320 °C, and one big unit would take 1059.2 × 3.7320 / (1 + 1059.2 ×
    # (1/715.6 − 1/1121.6)) = 2573.8 kW at its guard, giving 3200 × 2573.8 / 2862.3 =
    # 2877.4 kW. 2750 kW is above 0.95 of it (2733.6 kW): the two stay; 2700 kW is below,
    # and the stage comes down after 900 s. With the source entering as now one unit would
    # give 3200 × 3.5/2.0 × 0.5 = 2800 kW, and the two would stay at 2700 kW (above 2660).
    # Taking the same 2862.3 kW one unit would leave the source at 5.7320 − 2862.3 / 1059.2
    # − 2862.3 × (1/715.6 − 1/1121.6) = 1.58 °C, above the 1 °C limit.
    assert two_at_5_5_c(plant, 3000, 2750.0) == []
    assert two_at_5_5_c(entering_as_now(), 3000, 2700.0) == []
    down = two_at_5_5_c(plant, 1300, 2700.0)
    assert [(d.condition, d.stage_to) for d in down] == [("stage_down", 1)]


def two_at_5_5_c(plant: Plant, seconds: float, required_kw: float) -> list[Decision]:
    """Two big units running at 1600 kW each, the source 5.5 °C in and 3.5 °C out."""
    if len(plant.on()) < 2:
        plant.run(2000, 4800.0, evaporator_out_c=4.0, heat_kw=2400.0)
    assert len(plant.on()) == 2
    return plant.run(seconds, required_kw, source_in_c=5.5, source_out_c=3.5,
                     evaporator_out_c=3.5, heat_kw=1600.0)


def test_the_default_source_limit_is_the_lowest_design_water_temperature() -> None:
    # 004 L2370: the fluid's freezing point 3-5 K below the lowest design water temperature;
    # the least margin: -2 + 3 = 1 °C on the shallow field's loop, 0 + 3 = 3 °C on water
    assert source_limit_c(stage_table(site("shallow-field"), G36), G36) == 1.0
    assert source_limit_c(stage_table(site("hydrothermal-doublet"), G36), G36) == 3.0
    assert source_limit_c(shallow(AT_2_5_C).table, AT_2_5_C) == 2.5
    plant = entering_as_now()
    plant.run(2000, 4000.0)
    # 1.5 °C leaving, above 1 °C: no source protection (nor efficiency, the unit not held)
    assert plant.run(3000, 4000.0, source_out_c=1.5, source_in_c=5.0) == []
    # 0.8 °C, below it: after 900 s the stage whose evaporators lift it (two: 5 − 4.2 / 2)
    assert plant.run(900, 4000.0, source_out_c=0.8, source_in_c=5.0) == []
    up = plant.run(10, 4000.0, source_out_c=0.8, source_in_c=5.0)
    assert [(d.condition, d.stage_to) for d in up] == [("source_protection", 2)]


def test_plant_off_stops_every_unit_after_its_minimum_on_time() -> None:
    plant = shallow()
    plant.run(910, 1500.0)
    assert plant.on() == {"HP1"}
    plant.run(100, 1500.0, heating=False)  # started 100 s ago: it must run its 600 s
    assert plant.on() == {"HP1"}
    plant.run(600, 1500.0, heating=False)
    assert plant.on() == set()


def test_a_line_up_bounds_the_stages_and_a_unit_left_out_is_replaced() -> None:
    plant = shallow()
    guard = frozenset({"HP1", "HP2"})  # the shallow field's anti-freeze line-up
    plant.run(6000, 12000.0, supply_short_k=3.0, lineup=guard)
    assert plant.on() == {"HP1", "HP2"}  # 12 MW asked, the line-up's two units give all
    assert all(set(d.start) <= guard for _, d in plant.decisions)
    swap = plant.run(10, 3000.0, lineup=frozenset({"HP5"}))
    assert [d.condition for d in swap] == ["unavailable"]
    assert "left the line-up" in swap[0].detail
    assert plant.on() == {"HP5"}


def test_takeover_adopts_what_runs_without_a_bump() -> None:
    plant = shallow()
    plant.running.update({"HP1": True, "HP2": True})
    assert plant.run(300, 5500.0) == []
    assert plant.state.stage == 2 and plant.on() == {"HP1", "HP2"}


def test_state_survives_a_json_round_trip() -> None:
    plant = shallow()
    plant.run(4000, 4800.0)
    text = json.dumps(plant.state.to_json())
    again = StagingState.from_json(json.loads(text))
    assert again == plant.state


def _kinds_of(station: str, counts: Sequence[int]) -> tuple[UnitKind, ...]:
    """The station's unit kinds with as many identical units of each as ``counts`` asks."""
    table = stage_table(site(station), G36)
    return tuple(UnitKind(k.rating, tuple(k.rating.model_copy(update={"id": f"{k.rating.id}-{i}"})
                                          for i in range(n)), k.pumps_kw)
                 for k, n in zip(table.kinds, counts, strict=True))


@pytest.mark.parametrize(("station", "counts"), [
    ("hydrothermal-doublet", (2, 1, 1)), ("hydrothermal-doublet", (2, 2, 2)),
    ("hydrothermal-doublet", (3, 2, 1)), ("hydrothermal-doublet", (1, 3, 2)),
    ("shallow-field", (4, 1)), ("shallow-field", (4, 3)), ("shallow-field", (2, 5)),
])
def test_pricing_stage_pairs_finds_the_chain_every_order_finds(
        station: str, counts: tuple[int, ...]) -> None:
    loops = stage_table(site(station), G36).loops
    kinds = _kinds_of(station, counts)
    every = cheapest_of_every_order(kinds, G36, loops)
    pairs = _cheapest_by_pairs(kinds, G36, loops)
    assert [s.counts for s in pairs.stages] == [s.counts for s in every.stages]
    assert [s.plr_staging for s in pairs.stages] == pytest.approx(
        [s.plr_staging for s in every.stages])


def test_a_site_of_many_unit_kinds_gets_its_table_without_pricing_every_order() -> None:
    # four kinds of three units each can be added in 12!/(3!)^4 = 369,600 orders
    doublet = _kinds_of("hydrothermal-doublet", (3, 3, 3))
    kinds = (*doublet, _kinds_of("shallow-field", (1, 3))[1])
    full = tuple(len(k.units) for k in kinds)
    assert order_count(full) == 369_600
    table = _chained(kinds, G36, ())
    chain = [s.counts for s in table.stages]
    assert chain[0] == (0, 0, 0, 0) and chain[-1] == full
    assert all(sorted(b - a for a, b in zip(lo, hi, strict=True)) == [0, 0, 0, 1]
               for lo, hi in itertools.pairwise(chain))  # one unit more each stage
    assert all(0.0 < s.plr_staging <= 1.0 for s in table.stages[1:])
