"""The pure builders on stations without wells or without heat-pump heat meters."""

from __future__ import annotations

from pathlib import Path

import pytest

from plant.site import load_site
from report.energy import build_energy_report, energy_meters
from report.inputs import MeterTotal
from report.periods import parse_period
from report.reinjection import build_reinjection_report
from report.render import FORMATS, render

SITES = Path(__file__).resolve().parents[2] / "sites"


@pytest.mark.parametrize("name", ["deep-borehole-school", "shallow-field"])
def test_a_station_without_wells_is_said_to_have_no_reinjection(name: str) -> None:
    site = load_site(SITES / f"{name}.yaml")
    period = parse_period("2026-01", site.station.timezone, site.station.climate)
    report = build_reinjection_report(site, period, {}, {"as_of": period.end.isoformat()})
    assert report.statements == ("The station has no production or reinjection wells: it "
                                 "neither produces nor reinjects geothermal water, and nothing "
                                 "here applies.",)
    assert report.table("volumes").rows == ()
    for fmt in FORMATS:
        assert render(report, fmt)


def test_heat_pump_figures_are_empty_not_zero_without_heat_meters() -> None:
    site = load_site(SITES / "deep-borehole-school.yaml")
    period = parse_period("2026-01", site.station.timezone, site.station.climate)
    meters = energy_meters(site)
    blocks = [*period.months(), (period.label, period.start, period.end)]
    length = (period.end - period.start).total_seconds()
    totals = {label: {n: MeterTotal(n, site.point(n).unit, 100.0, 0.0, length)
                      for n in meters.counters()} for label, _, _ in blocks}
    report = build_energy_report(site, period, totals, {}, {"as_of": period.end.isoformat()})
    row = dict(zip(report.table("energy").columns, report.table("energy").rows[-1],
                   strict=True))
    assert row["heat_pump_heat_kwh"] is None
    assert row["unit_cop"] is None and row["scop_with_source_pumps"] is None
    assert row["station_cop"] == pytest.approx(100.0 / 0.0036 / 100.0, abs=1e-3)
    assert any("no heat-power data of HP1.heat_power" in s for s in report.statements)
