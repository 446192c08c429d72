"""The overview's figures and the mimic's layout, from the demo stations' site files."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from plant.site import load_site
from ui.app import format_value
from ui.figures import good_sum, local_midnight, ratio, station_figures
from ui.mimic import BOX_H, BOX_W, COLUMNS, drawn_pipes, layout, pipes

SITES = [Path(__file__).resolve().parents[2] / "sites" / name for name in
         ("hydrothermal-doublet.yaml", "deep-borehole-school.yaml", "shallow-field.yaml")]


def test_figures_name_the_meters_of_each_station() -> None:
    doublet, school, field = (station_figures(load_site(path)) for path in SITES)
    assert doublet.has_reinjection
    assert set(doublet.production_flow) == {"PW1.flow", "PW2.flow"}
    assert set(doublet.reinjection_flow) == {"RW1.flow", "RW2.flow", "RW3.flow"}
    assert not school.has_reinjection and not field.has_reinjection
    assert school.heat == ("HM-USR.heat_power",)
    assert len(field.heat_pump_heat) == len(field.heat_pump_electric) == 5


def test_a_figure_needs_every_value_good() -> None:
    values = {"a": {"v": 2.0, "q": "good"}, "b": {"v": 3, "q": "good"},
              "c": {"v": 9.0, "q": "uncertain"}, "d": {"v": True, "q": "good"}}
    assert good_sum(values, ["a", "b"]) == 5.0
    assert good_sum(values, ["a", "c"]) is None
    assert good_sum(values, ["a", "missing"]) is None
    assert good_sum(values, ["d"]) is None
    assert good_sum(values, []) is None
    assert ratio(6.0, 2.0) == 3.0
    assert ratio(6.0, 0.0) is None and ratio(None, 2.0) is None


def test_today_starts_at_the_stations_local_midnight() -> None:
    now = datetime(2026, 1, 15, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert local_midnight(now, ZoneInfo("Asia/Shanghai")) == datetime(2026, 1, 14, 16, 0,
                                                                      tzinfo=UTC)
    after = datetime(2026, 1, 15, 16, 30, tzinfo=UTC)  # 00:30 the next local day
    assert local_midnight(after, ZoneInfo("Asia/Shanghai")) == datetime(2026, 1, 15, 16, 0,
                                                                        tzinfo=UTC)


def test_the_mimic_places_every_piece_of_equipment_once_in_flow_order() -> None:
    for path in SITES:
        site = load_site(path)
        mimic = layout(site)
        assert sorted(i.equipment for i in mimic.items) == sorted(e.id for e in site.equipment)
        places = {(i.x, i.y) for i in mimic.items}
        assert len(places) == len(mimic.items)
        assert all(i.x + 170 <= mimic.width and i.y + 78 <= mimic.height for i in mimic.items)
        for item in mimic.items:
            assert all(v.point in site.points_by_id for v in item.values)
            assert len(item.values) <= 3
    doublet = {i.equipment: i for i in layout(load_site(SITES[0])).items}
    column = {title: x for title, x in layout(load_site(SITES[0])).headings}
    assert doublet["PW1"].x == column[COLUMNS[0][0]]
    assert doublet["HP2-1"].x == column["Conversion"]
    assert doublet["SS1"].x == column["Users"]
    assert [v.point for v in doublet["PW1"].values][:2] == ["PW1.flow", "PW1.wellhead_temp"]
    assert doublet["P-RJ1"].run_state == "P-RJ1.run_state"


def test_values_are_written_with_their_units() -> None:
    assert format_value(61.234, "degC") == "61.2 °C"
    assert format_value(4.567, "1") == "4.57"
    assert format_value(1234.5, "kW") == "1234 kW"
    assert format_value(True) == "on"
    assert format_value(None, "kW") == "—"


def _reach(edges: set[tuple[str, str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        here = todo.pop()
        for a, b in edges:
            if a == here and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def test_the_pipes_follow_the_water_of_each_station() -> None:
    doublet, school, field = (load_site(path) for path in SITES)
    flows = {p.start + ">" + p.end for p in pipes(doublet)}
    # geothermal water: both wells into the direct exchangers, then the cascade, then back down
    assert {"PW1>V-HX1", "PW2>V-HX1", "V-HX1>HX1-1", "V-HX1>HX1-2", "HX1-1>HX2", "HX2>HX3",
            "HX3>P-RJ1", "P-RJ1>V-RW1", "V-RW1>RW1", "V-RW3>RW3"} <= flows
    # the stage exchangers feed their heat pumps' evaporators through their pumps
    assert {"HX2>P-E2", "P-E2>HP2-1", "P-E2>HP2-2", "HX3>P-E3", "P-E3>HP3-2"} <= flows
    assert "HX2>P-E3" not in flows and "HX1-1>P-E2" not in flows
    edges = {(p.start, p.end) for p in pipes(doublet) if not p.back}
    for producer in ("HX1-1", "HP2-1", "HP3-2"):
        assert {"NET", "SS1", "SS2", "SS3"} <= _reach(edges, producer)
    assert "PW1" not in _reach(edges, "NET")  # the user side never flows into the wells
    assert {"RW1", "RW2", "RW3"} <= _reach(edges, "PW2")
    piped = {name for p in pipes(doublet) for name in (p.start, p.end)}
    assert not piped & {"MW1", "F-C1", "HM-GEO", "EM-MAIN", "WX"}  # instruments, not pipes

    loop = {(p.start, p.end, p.back) for p in pipes(school)}
    assert {("BH1", "P-S1", False), ("P-S1", "HP1", False), ("HP1", "BH1", True),
            ("WT1", "P-MS", False), ("P-MS", "BH1", False)} <= loop
    ground = {(p.start, p.end) for p in pipes(field) if not p.back}
    back = {(p.start, p.end) for p in pipes(field) if p.back}
    for bore in ("BF-A", "BF-B", "BF-C"):
        assert {f"HP{n}" for n in range(1, 6)} <= _reach(ground, bore)
        assert {(f"HP{n}", bore) for n in range(1, 6)} <= back
    for site in (doublet, school, field):
        ids = {e.id for e in site.equipment}
        assert all(p.start in ids and p.end in ids and p.start != p.end for p in pipes(site))


def test_pipes_run_in_the_gaps_and_never_across_a_symbol() -> None:
    for path in SITES:
        site = load_site(path)
        mimic = layout(site)
        boxes = [(i.x, i.y, i.x + BOX_W, i.y + BOX_H) for i in mimic.items]
        placed = {i.equipment: i for i in mimic.items}
        for drawn in drawn_pipes(site, mimic):
            points = drawn.points
            start, end = placed[drawn.pipe.start], placed[drawn.pipe.end]
            # it leaves its start's side and ends on its end's side
            assert points[0][0] in (start.x, start.x + BOX_W)
            assert start.y < points[0][1] < start.y + BOX_H
            assert points[-1][0] in (end.x, end.x + BOX_W)
            assert end.y < points[-1][1] < end.y + BOX_H
            for (x0, y0), (x1, y1) in itertools.pairwise(points):
                assert x0 == x1 or y0 == y1, drawn  # right angles only
                for left, top, right, bottom in boxes:
                    inside_x = max(min(x0, x1), left) < min(max(x0, x1), right) \
                        if x0 != x1 else left < x0 < right
                    inside_y = max(min(y0, y1), top) < min(max(y0, y1), bottom) \
                        if y0 != y1 else top < y0 < bottom
                    assert not (inside_x and inside_y), (drawn.pipe, (left, top))
            assert drawn.path.startswith("M")
