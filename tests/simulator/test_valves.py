"""Typed valve roles: closing (or opening) a valve changes exactly the flows its role names.

Each test runs two copies of one station from the same seed and commands a valve in one of them
only; after the valve has travelled, every flow of the plant is compared between the two. The
flows the role governs must have moved as the role says; every other flow must be identical.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from plant.measurands import Measurand
from plant.site import SiteFileError, parse_site
from simulator.station import StationModel
from tests.simulator.helpers import DOUBLET, FIELD, MIDWINTER, SCHOOL

TRAVEL_S = 120.0  # a valve moves 1 %/s: fully across in 100 s
STEP_S = 10.0


def with_valves(path: Path, *lines: str) -> StationModel:
    """A station built from a site file with extra valves appended to its equipment."""
    text = path.read_text()
    extra = "".join(f"  - {line}\n" for line in lines)
    text = text.replace("\npoints:\n", f"\n{extra}points:\n", 1)
    return StationModel(parse_site(text, path.name), seed=5, start=MIDWINTER, warm_up_s=3600.0)


def flows(model: StationModel) -> dict[str, float]:
    """Every flow of the plant, by name."""
    out: dict[str, float] = {}
    for ident, well in model.wells.items():
        out[f"{ident}.flow"] = well.flow_m3h
    for ident, rw in model.reinjection.items():
        out[f"{ident}.flow"] = rw.flow_m3h
    out["overflow"] = model.overflow_m3h
    for ident, bh in model.boreholes.items():
        out[f"{ident}.flow"] = bh.flow_m3h
    for ident, hx in model.exchangers.items():
        out[f"{ident}.primary_flow"] = hx.primary_flow_m3h
        out[f"{ident}.secondary_flow"] = hx.secondary_flow_m3h
    for ident, hp in model.heat_pumps.items():
        out[f"{ident}.evaporator_flow"] = hp.evaporator_flow_m3h
        out[f"{ident}.condenser_flow"] = hp.condenser_flow_m3h
    for ident, zone in model.zones.items():
        out[f"{ident}.flow"] = zone.flow_m3h
    out["network"] = model.network_flow_m3h
    out["bypass"] = model.bypass_flow_m3h
    out["plant"] = model.plant_flow_m3h
    return out


def command_one(make: Callable[[], StationModel], valve: str, position: float,
                prepare: Callable[[StationModel], None] | None = None,
                ) -> tuple[dict[str, float], dict[str, float]]:
    """Flows of the untouched twin and of the twin whose valve was moved to ``position``."""
    twins = [make(), make()]
    for model in twins:
        if prepare is not None:
            prepare(model)
    twins[1].command(valve, Measurand.VALVE_POSITION_SETPOINT, position)
    elapsed = 0.0
    while elapsed < TRAVEL_S:
        for model in twins:
            model.advance(STEP_S)
        elapsed += STEP_S
    assert twins[1].valves[valve].position_pct == position
    return flows(twins[0]), flows(twins[1])


def changed(before: dict[str, float], after: dict[str, float]) -> set[str]:
    """Names of the flows that differ between the twins."""
    return {name for name in before if before[name] != pytest.approx(after[name], abs=1e-9)}


def starting(prefix: tuple[str, ...], names: dict[str, float], suffix: str = "") -> set[str]:
    """The flow names that start with one of the prefixes and end with the suffix."""
    return {n for n in names if n.startswith(prefix) and n.endswith(suffix)}


def test_production_valve_throttles_its_well_and_what_it_feeds() -> None:
    before, after = command_one(
        lambda: with_valves(DOUBLET, "{id: V-PW1, kind: valve, role: production, serves: PW1}"),
        "V-PW1", 0.0)
    assert before["PW1.flow"] > 0 and after["PW1.flow"] == 0.0
    reinjected = sum(after[n] for n in starting(("RW",), after)) + after["overflow"]
    assert reinjected == pytest.approx(sum(after[n] for n in starting(("PW",), after)))
    source_side = (starting(("PW1", "RW"), before) | starting(("HX",), before, ".primary_flow")
                   | {"overflow"})
    assert "PW1.flow" in changed(before, after) <= source_side
    assert changed(before, after) & starting(("RW",), before)


def test_reinjection_valve_sends_its_share_to_the_other_wells() -> None:
    before, after = command_one(lambda: with_valves(DOUBLET), "V-RW1", 0.0)
    assert before["RW1.flow"] > 0 and after["RW1.flow"] == 0.0
    assert after["RW2.flow"] > before["RW2.flow"] and after["RW3.flow"] > before["RW3.flow"]
    total = ("RW1.flow", "RW2.flow", "RW3.flow", "overflow")
    assert sum(after[n] for n in total) == pytest.approx(sum(before[n] for n in total))
    assert changed(before, after) <= set(total)


def test_exchanger_valve_sends_the_source_water_past_the_direct_exchangers() -> None:
    before, after = command_one(lambda: with_valves(DOUBLET), "V-HX1", 0.0)
    direct = {"HX1-1.primary_flow", "HX1-2.primary_flow"}
    assert all(before[n] > 0 and after[n] == 0.0 for n in direct)
    assert changed(before, after) == direct


def test_exchanger_valve_naming_one_exchanger_governs_only_it() -> None:
    before, after = command_one(
        lambda: with_valves(DOUBLET, "{id: V-HX2, kind: valve, role: exchanger, serves: HX2}"),
        "V-HX2", 0.0)
    assert before["HX2.primary_flow"] > 0
    assert changed(before, after) == {"HX2.primary_flow"}


def test_network_valve_stops_the_buildings_and_the_plant_flow_but_not_the_source() -> None:
    before, after = command_one(
        lambda: with_valves(SCHOOL, "{id: V-NET, kind: valve, role: network}"), "V-NET", 0.0)
    user_side = (starting(("SS-",), before) | {"network", "plant"}
                 | starting(("HP",), before, ".condenser_flow"))
    assert all(before[n] > 0 and after[n] == 0.0 for n in user_side)
    # with nothing to heat the unit makes no heat, and the model counts evaporator flow only
    # through a unit making heat; the borehole loop itself keeps its flow
    assert changed(before, after) == user_side | starting(("HP",), before, ".evaporator_flow")
    assert after["BH1.flow"] == before["BH1.flow"] > 0


def throttle_dormitories(model: StationModel) -> None:
    model.command("SS-DORM", Measurand.VALVE_POSITION_SETPOINT, 20.0)
    model.advance(TRAVEL_S)


def test_bypass_is_closed_in_normal_operation() -> None:
    model = with_valves(SCHOOL)
    assert model.valves["V-BYP"].position_pct == 0.0 and model.bypass_flow_m3h == 0.0
    assert model.plant_flow_m3h == model.network_flow_m3h > 0


def test_open_bypass_passes_what_the_buildings_refuse_and_leaves_them_their_flow() -> None:
    before, after = command_one(lambda: with_valves(SCHOOL), "V-BYP", 100.0,
                                prepare=throttle_dormitories)
    assert before["bypass"] == 0.0 and after["bypass"] > 0
    assert after["plant"] == pytest.approx(after["network"] + after["bypass"])
    assert after["network"] == before["network"]
    condensers = starting(("HP",), before, ".condenser_flow")
    assert all(after[n] > before[n] for n in condensers)
    assert changed(before, after) == {"bypass", "plant"} | condensers


def test_source_loop_valve_stops_the_borehole_loop_but_not_the_network() -> None:
    before, after = command_one(
        lambda: with_valves(SCHOOL, "{id: V-SRC, kind: valve, role: source_loop, serves: BH1}"),
        "V-SRC", 0.0)
    loop = {"BH1.flow"} | starting(("HP",), before, ".evaporator_flow")
    assert all(before[n] > 0 and after[n] == 0.0 for n in loop)
    assert changed(before, after) == loop


def test_source_loop_valve_naming_one_field_zone_governs_only_it() -> None:
    before, after = command_one(
        lambda: with_valves(FIELD, "{id: V-A, kind: valve, role: source_loop, serves: BF-A}"),
        "V-A", 0.0)
    assert before["BF-A.flow"] > 0 and after["BF-A.flow"] == 0.0
    evaporators = starting(("HP",), before, ".evaporator_flow")
    assert changed(before, after) <= {"BF-A.flow"} | evaporators
    assert after["BF-B.flow"] == before["BF-B.flow"] > 0


def test_cooling_tower_changeover_takes_the_loop_away_from_the_field() -> None:
    before, after = command_one(lambda: with_valves(FIELD), "V-CT", 0.0)
    fields = starting(("BF-",), before, ".flow")
    assert all(before[n] > 0 and after[n] == 0.0 for n in fields)
    assert changed(before, after) <= fields | starting(("HP",), before, ".evaporator_flow")


# ---------------------------------------------------------------------- the schema


@pytest.mark.parametrize(("line", "fragments"), [
    ("{id: V-X, kind: valve, role: supply}", ["V-X).role", "'production'", "'bypass'"]),
    ("{id: V-X, kind: valve, role: reinjection}", ["V-X).serves", "must name the reinjection"]),
    ("{id: V-X, kind: valve, role: reinjection, serves: PW1}",
     ["V-X).serves", "serves a reinjection_well, not the production_well 'PW1'"]),
    ("{id: V-X, kind: valve, role: source_loop, serves: NOPE}",
     ["V-X).serves", "unknown equipment 'NOPE'"]),
    ("{id: V-X, kind: valve}", ["V-X).role", "missing key 'role'"]),
])
def test_a_valve_role_must_be_one_of_the_typed_roles(line: str, fragments: list[str]) -> None:
    text = DOUBLET.read_text().replace("\npoints:\n", f"\n  - {line}\npoints:\n", 1)
    with pytest.raises(SiteFileError) as caught:
        parse_site(text, "doublet.yaml")
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)
