"""The overview's figures and the mimic's layout, from the demo stations' site files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from plant.site import load_site
from ui.app import format_value
from ui.figures import good_sum, local_midnight, ratio, station_figures
from ui.mimic import COLUMNS, layout

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
