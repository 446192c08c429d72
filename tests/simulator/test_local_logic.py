"""The local PLC's staging and duty decisions, decided from tables with no station around them."""

from __future__ import annotations

import pytest

from simulator.local_control import (
    STAGE_DOWN_DELAY_S,
    STAGE_UP_DELAY_S,
    DutyPump,
    Staging,
    StagingMeasurements,
    StagingUnit,
    duty,
    held_at_limit,
    loop_flows_m3h,
    stage,
)


def unit(ident: str, *, on: bool, heat_kw: float = 0.0, rated_kw: float = 1000.0,
         capacity: float = 0.0, order: int = 0, limited: bool = False) -> StagingUnit:
    """A heat pump as staging sees it (running when commanded on)."""
    return StagingUnit(ident, on, on, heat_kw, rated_kw, capacity, order, limited)


def plant(supply_c: float, *, target_c: float = 50.0, direct_holds: bool = False
          ) -> StagingMeasurements:
    """A heating plant with flow in its network."""
    return StagingMeasurements(supply_c, target_c, False, 100.0, True, direct_holds)


def test_short_with_nothing_running_starts_the_first_local_unit_at_once() -> None:
    units = [unit("A", on=False), unit("B", on=False)]
    decision = stage(Staging(), units, ["B", "A"], plant(45.0), 60.0)
    assert decision.start == "B" and decision.stop is None
    assert decision.timers == Staging(0.0, 0.0, 1)


def test_short_at_full_capacity_waits_the_stage_up_delay_then_starts_the_next() -> None:
    units = [unit("A", on=True, heat_kw=1000.0, capacity=1.0, order=1), unit("B", on=False)]
    timers = Staging(order=1)
    for _ in range(round(STAGE_UP_DELAY_S / 60.0) - 1):
        decision = stage(timers, units, ["A", "B"], plant(45.0), 60.0)
        assert decision.start is None
        timers = decision.timers
    decision = stage(timers, units, ["A", "B"], plant(45.0), 60.0)
    assert decision.start == "B" and decision.timers.order == 2


def test_short_below_full_capacity_starts_nothing() -> None:
    units = [unit("A", on=True, heat_kw=600.0, capacity=0.6, order=1), unit("B", on=False)]
    decision = stage(Staging(up_s=10 * STAGE_UP_DELAY_S, order=1), units, ["A", "B"],
                     plant(45.0), 60.0)
    assert decision.start is None and decision.timers.up_s == 0.0


@pytest.mark.parametrize(("supply_c", "heat_kw", "direct", "stops"), [
    (50.0, 800.0, False, True),    # 800 kW: under 85 % of what the first alone gives
    (50.0, 1800.0, False, False),  # the last started is needed
    (53.0, 1800.0, False, True),   # over the target by more than 2 K
    (50.0, 1800.0, True, True),    # direct supply holds the target
])
def test_the_last_started_unit_stops_after_the_stage_down_delay_when_not_needed(
        supply_c: float, heat_kw: float, direct: bool, stops: bool) -> None:
    units = [unit("A", on=True, heat_kw=heat_kw / 2, capacity=1.0, order=1),
             unit("B", on=True, heat_kw=heat_kw / 2, capacity=1.0, order=2)]
    measured = plant(supply_c, direct_holds=direct)
    timers = Staging(order=2)
    steps = round(STAGE_DOWN_DELAY_S / 60.0)
    for _ in range(steps - 1):
        decision = stage(timers, units, ["A", "B"], measured, 60.0)
        assert decision.stop is None
        timers = decision.timers
    assert stage(timers, units, ["A", "B"], measured, 60.0).stop == ("B" if stops else None)


def test_out_of_season_resets_the_timers_and_keeps_the_start_count() -> None:
    off = StagingMeasurements(40.0, 50.0, False, 0.0, False, False)
    decision = stage(Staging(100.0, 200.0, 7), [unit("A", on=False)], ["A"], off, 60.0)
    assert decision == type(decision)(Staging(0.0, 0.0, 7))


def pump(*, running: bool = False, failed: bool = False, remote: bool = False) -> DutyPump:
    """A 100 m³/h pump, 20–50 Hz."""
    return DutyPump(100.0, running, failed, remote, remote, 20.0, 50.0)


def test_duty_runs_enough_pumps_in_file_order_running_ones_first() -> None:
    plan = duty([pump(), pump(running=True), pump()], 150.0)
    assert plan == [(True, 37.5), (True, 37.5), (False, 37.5)]
    plan = duty([pump(), pump(), pump(running=True)], 80.0)
    assert plan == [(False, 40.0), (False, 40.0), (True, 40.0)]


def test_duty_leaves_failed_and_remote_pumps_alone_and_counts_a_remote_one_running() -> None:
    plan = duty([pump(failed=True), pump(running=True, remote=True), pump(), pump()], 150.0)
    assert plan == [None, None, (True, 25.0), (False, 25.0)]


def test_duty_with_no_flow_wanted_stops_every_local_pump() -> None:
    assert duty([pump(running=True), pump()], 0.0) == [(False, None), (False, None)]


def test_borehole_loops_give_the_running_evaporators_their_design_flow() -> None:
    # two loops rated 800 and 400 m³/h; units of 600 and 200 m³/h design evaporator flow
    units = [(600.0, True), (200.0, False)]
    assert loop_flows_m3h([800.0, 400.0], units) == pytest.approx([400.0, 200.0])
    # both running: 800 m³/h, shared 2 : 1
    assert loop_flows_m3h([800.0, 400.0], [(600.0, True), (200.0, True)]) == pytest.approx(
        [800.0 * 2 / 3, 800.0 / 3])
    # more than the loops are rated for: each gives its rated flow, no more
    assert loop_flows_m3h([800.0, 400.0], [(600.0, True)] * 3) == [800.0, 400.0]
    # no unit runs: the loops stand
    assert loop_flows_m3h([800.0, 400.0], [(600.0, False)]) == [0.0, 0.0]


def test_short_with_the_running_unit_held_at_its_freezing_guard_starts_the_next() -> None:
    # the unit has unloaded to 600 kW to keep its evaporator water at the guard: another
    # evaporator shares the source, so the next unit starts after the stage-up delay
    units = [unit("A", on=True, heat_kw=600.0, capacity=1.0, order=1, limited=True),
             unit("B", on=False)]
    timers = Staging(order=1)
    for _ in range(round(STAGE_UP_DELAY_S / 60.0) - 1):
        decision = stage(timers, units, ["A", "B"], plant(45.0), 60.0)
        assert decision.start is None
        timers = decision.timers
    assert stage(timers, units, ["A", "B"], plant(45.0), 60.0).start == "B"


@pytest.mark.parametrize(("supply_c", "stops"), [
    (50.0, False),  # on target: the low heat is the guard's, not a surplus
    (53.0, True),   # over the target by more than 2 K
])
def test_a_unit_held_at_its_limit_is_not_taken_for_a_surplus(supply_c: float,
                                                              stops: bool) -> None:
    units = [unit("A", on=True, heat_kw=400.0, capacity=1.0, order=1, limited=True),
             unit("B", on=True, heat_kw=400.0, capacity=1.0, order=2)]
    timers = Staging(order=2)
    for _ in range(round(STAGE_DOWN_DELAY_S / 60.0)):
        decision = stage(timers, units, ["A", "B"], plant(supply_c), 60.0)
        timers = decision.timers
    assert (decision.stop == "B") is stops


@pytest.mark.parametrize(("evaporator_c", "condenser_c", "starting_s", "held"), [
    (2.1, 45.0, 0.0, True),    # within 0.2 K of its 2 °C freezing guard
    (2.5, 45.0, 0.0, False),
    (6.0, 56.9, 0.0, True),    # at its condenser limit of 57 °C
    (2.0, 45.0, 60.0, False),  # still starting: not yet loaded
])
def test_held_at_limit_by_the_evaporator_guard_or_the_condenser_limit(
        evaporator_c: float, condenser_c: float, starting_s: float, held: bool) -> None:
    assert held_at_limit(running=True, starting_s=starting_s, evaporator_out_c=evaporator_c,
                         freeze_guard_c=2.0, condenser_out_c=condenser_c,
                         condenser_limit_c=57.0) is held
    assert not held_at_limit(running=False, starting_s=0.0, evaporator_out_c=2.0,
                             freeze_guard_c=2.0, condenser_out_c=57.0, condenser_limit_c=57.0)
