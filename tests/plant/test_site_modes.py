"""Operating modes in a site file: a sound line-up loads; each refused one names file, line and
problem in one line."""

from __future__ import annotations

import pytest

from plant.site import SiteFileError, parse_site
from tests.plant.test_site import TEXT, line_of

EQUIPMENT = """  - {id: HX1, kind: plate_exchanger, stage: 1, rated_heat_kw: 3000}
  - {id: V-HX1, kind: valve, role: exchanger, serves: HX1}
  - {id: V-NET, kind: valve, role: network}
  - {id: V-PRD, kind: valve, role: production}
  - {id: V-BYP, kind: valve, role: bypass}
points:"""

MODES = """modes:
  - {id: direct, kind: direct_supply, open: [V-HX1]}
  - {id: heat-pumps, kind: heat_pump_supply, open: [V-HX1, V-NET], units: [HP1]}
  - {id: standby, kind: antifreeze_standby, units: [HP1]}
"""


def with_modes(modes: str = MODES) -> str:
    """The schema tests' station with a direct exchanger, valves and these modes."""
    text = TEXT.replace("kind: heat_pump, stage: 1,", "kind: heat_pump, stage: 2,")
    text = text.replace("points:", EQUIPMENT, 1)
    return text + modes


def test_modes_load_with_their_line_ups() -> None:
    site = parse_site(with_modes(), "sites/modes.yaml")
    assert [m.kind for m in site.modes] == ["direct_supply", "heat_pump_supply",
                                            "antifreeze_standby"]
    assert site.modes[1].open == ("V-HX1", "V-NET") and site.modes[1].units == ("HP1",)


# (case, old mode line, new mode line, fragments the error must contain, line fragment)
REFUSED = [
    ("unknown valve", "open: [V-HX1]}", "open: [V-HX9]}",
     ["modes[0](direct).open[0]", "unknown valve 'V-HX9'"], "V-HX9"),
    ("not a valve", "open: [V-HX1]}", "open: [HX1]}",
     ["modes[0](direct).open[0]", "'HX1' is a plate_exchanger, not a valve"], "open: [HX1]"),
    ("unknown unit", "units: [HP1]}\n  - {id: standby", "units: [HP9]}\n  - {id: standby",
     ["modes[1](heat-pumps).units[0]", "unknown heat pump 'HP9'"], "HP9"),
    ("unit that is no heat pump", "kind: antifreeze_standby, units: [HP1]",
     "kind: antifreeze_standby, units: [PW1]",
     ["modes[2](standby).units[0]", "'PW1' is a production_well, not a heat pump"], "[PW1]"),
    ("valve open and closed", "open: [V-HX1, V-NET], units", "open: [V-HX1], closed: [V-HX1], units",
     ["modes[1](heat-pumps).closed[0]", "valve 'V-HX1' is both open and closed"], "closed: [V-HX1]"),
    ("network valve closed", "open: [V-HX1, V-NET], units", "closed: [V-NET], units",
     ["modes[1](heat-pumps).closed[0]", "a heat_pump_supply mode cannot close network valve "
      "'V-NET': it isolates the network the mode supplies"], "closed: [V-NET]"),
    ("direct exchanger closed in direct supply", "open: [V-HX1]}", "closed: [V-HX1]}",
     ["modes[0](direct).closed[0]", "cannot close exchanger valve 'V-HX1': direct supply "
      "passes the direct exchangers"], "closed: [V-HX1]"),
    ("production main closed", "kind: antifreeze_standby, units: [HP1]",
     "kind: antifreeze_standby, closed: [V-PRD], units: [HP1]",
     ["modes[2](standby).closed[0]", "production valve 'V-PRD': it stops the production"],
     "closed: [V-PRD]"),
    ("heat pump in direct supply", "open: [V-HX1]}", "open: [V-HX1], units: [HP1]}",
     ["modes[0](direct).units[0]", "a direct_supply mode runs no heat pump, not 'HP1'"],
     "kind: direct_supply"),
    ("heat-pump supply without units", "open: [V-HX1, V-NET], units: [HP1]}",
     "open: [V-HX1, V-NET]}",
     ["modes[1](heat-pumps).units", "a heat_pump_supply mode needs at least one heat pump"],
     "kind: heat_pump_supply"),
    ("two modes of one kind", "{id: standby, kind: antifreeze_standby",
     "{id: standby, kind: heat_pump_supply",
     ["modes[2](standby).kind", "a second heat_pump_supply mode"], "id: standby"),
    ("duplicate mode id", "{id: standby,", "{id: direct,",
     ["modes[2](direct).id", "duplicate modes id 'direct'"], "kind: antifreeze_standby"),
    ("cooling at a hydrothermal station", "{id: standby, kind: antifreeze_standby",
     "{id: standby, kind: cooling",
     ["modes[2](standby).kind", "a hydrothermal station does not cool"], "kind: cooling"),
    ("unknown mode kind", "kind: antifreeze_standby", "kind: night_setback",
     ["modes[2](standby).kind", "should be 'direct_supply'"], "night_setback"),
]


@pytest.mark.parametrize(("old", "new", "fragments", "line_fragment"),
                         [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_refused_mode_names_file_line_and_problem(
    old: str, new: str, fragments: list[str], line_fragment: str
) -> None:
    assert MODES.count(old) == 1, old
    text = with_modes(MODES.replace(old, new))
    with pytest.raises(SiteFileError) as caught:
        parse_site(text, "sites/bad.yaml")
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert message.startswith(f"sites/bad.yaml:{line_of(text, line_fragment)}: "), message


def test_direct_supply_needs_a_direct_exchanger() -> None:
    text = with_modes().replace("kind: heat_pump, stage: 2,", "kind: heat_pump, stage: 1,")
    with pytest.raises(SiteFileError, match=r"bad\.yaml:\d+: modes\[0\]\(direct\)\.kind: a "
                                            r"direct_supply mode needs a plate exchanger"):
        parse_site(text, "sites/bad.yaml")
