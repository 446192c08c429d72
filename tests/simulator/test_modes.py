"""Operating modes: the local logic switches them by its own conditions and follows their
line-ups (valves, units that may run)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from plant.measurands import Measurand
from plant.site import load_site
from simulator.local_control import PlantState, next_mode
from simulator.sim import StationSim
from tests.simulator.helpers import FIELD, SITES, site

TONGWEI = SITES / "hand-written" / "tongwei-school.yaml"
ALL = frozenset({"direct_supply", "heat_pump_supply", "cooling", "antifreeze_standby"})


def state(**changes: bool) -> PlantState:
    base = {"heating_season": True, "comfort": True, "cooling": False, "direct_holds": False,
            "units_running": False, "short": False}
    return PlantState(**{**base, **changes})


@pytest.mark.parametrize(("kinds", "current", "changes", "expected"), [
    (ALL, None, {"heating_season": False}, None),  # out of season
    (ALL, None, {"heating_season": False, "cooling": True}, "cooling"),
    # out of season the anti-freeze guard heats with the standby, else with the heating modes
    (ALL, None, {"heating_season": False, "comfort": False, "guarding": True},
     "antifreeze_standby"),
    (ALL - {"antifreeze_standby"}, None, {"heating_season": False, "comfort": False,
                                          "guarding": True}, "heat_pump_supply"),
    (ALL - {"antifreeze_standby"}, "direct_supply", {"heating_season": False, "comfort": False,
                                                     "guarding": True}, "direct_supply"),
    (ALL, "heat_pump_supply", {"comfort": False}, "antifreeze_standby"),  # outside school hours
    (ALL - {"antifreeze_standby"}, None, {"comfort": False}, "heat_pump_supply"),
    (ALL, "antifreeze_standby", {}, "heat_pump_supply"),  # the school day begins
    (ALL, "heat_pump_supply", {"direct_holds": True, "units_running": True}, "heat_pump_supply"),
    (ALL, "heat_pump_supply", {"direct_holds": True}, "direct_supply"),  # units staged down
    (ALL, "direct_supply", {}, "direct_supply"),
    (ALL, "direct_supply", {"short": True}, "heat_pump_supply"),  # direct supply falls short
    (ALL - {"heat_pump_supply"}, "direct_supply", {"short": True}, "direct_supply"),
    (frozenset({"heat_pump_supply"}), None, {"direct_holds": True}, "heat_pump_supply"),
])
def test_next_mode_follows_season_schedule_and_direct_supply_priority(
        kinds: frozenset[str], current: str | None, changes: dict[str, bool],
        expected: str | None) -> None:
    assert next_mode(kinds, current, state(**changes)) == expected  # type: ignore[arg-type]


def test_a_school_outside_its_hours_stands_by_and_its_guard_heats_with_the_standby_units(
        ) -> None:
    # 003 L2497: heated in school hours only, otherwise against frost
    sim = StationSim(load_site(TONGWEI), seed=2, start=datetime(2026, 1, 5, tzinfo=UTC),
                     warm_up_s=3600.0)
    model = sim.model
    by_hour: dict[bool, Counter[str | None]] = {True: Counter(), False: Counter()}
    for _ in range(int(2 * 86400 / 600)):
        sim.advance(600.0)
        local = model.now.astimezone(model._local_zone)
        school = local.weekday() < 5 and "06:30" <= f"{local:%H:%M}" < "18:00"
        by_hour[school][model.mode] += 1
    assert set(by_hour[True]) == {"heat_pump_supply"}
    assert set(by_hour[False]) == {"antifreeze_standby"}


def test_a_commanded_valve_is_left_alone_until_handed_back() -> None:
    sim = StationSim(site(FIELD), seed=1, start=datetime(2026, 1, 12, tzinfo=UTC),
                     warm_up_s=600.0)
    model = sim.model
    model.command("V-CT", Measurand.VALVE_POSITION_SETPOINT, 40.0)
    sim.advance(300.0)
    assert model.mode == "heat_pump_supply"
    assert model.valves["V-CT"].setpoint_pct == 40.0  # the operator's, not the mode's
    model.hand_back()
    sim.advance(300.0)
    assert model.valves["V-CT"].setpoint_pct == 100.0  # lined up again: loop on the ground
