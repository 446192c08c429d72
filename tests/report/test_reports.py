"""Reports on a simulated heating season of the hydrothermal doublet, written through the
historian's store, judged by plain arithmetic on what was written.

The season (tests/report/conftest.py): two production wells at 100 m³/h and three reinjection
wells sharing 200 m³/h; a 36 h gateway outage in December; PW1's meter bad for 3 h in November;
RW3's reinjection pump off for 6 h in January; RW1 throttled to 30 m³/h for 4 h in March and
then its meter bad for 96 h; RW3's meter bad for 8 days in April; RW2 clogging (its head above
static rises from 10 to 20 m over the season at the same flow).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from historian import query
from plant.models.coal import POWER_COAL_KGCE_PER_KWH, STANDARD_COAL_MJ_PER_KGCE
from plant.signing import public_key_text
from report import signing
from report.export import ADAPTERS, indicators
from report.make import energy_report, reinjection_report
from report.model import Report
from report.periods import parse_period
from report.render import FORMATS, render
from report.synthetic import HEAT_GJ_PER_H
from tests.report.conftest import SeasonDb

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("postgres", ["postgres"], indirect=True)]

SEASON = "2025-2026-season"
FLOWS = ("PW1.flow", "PW2.flow", "RW1.flow", "RW2.flow", "RW3.flow")


def _overlap(a: datetime, b: datetime, lo: datetime, hi: datetime) -> float:
    return max(0.0, (min(b, hi) - max(a, lo)).total_seconds())


def _rows(report: Report, table: str) -> list[dict[str, object]]:
    t = report.table(table)
    return [dict(zip(t.columns, row, strict=True)) for row in t.rows]


@pytest.fixture(scope="module")
def reports(season_db: SeasonDb) -> tuple[Report, Report]:
    with psycopg.connect(season_db.dsn) as conn:
        return (reinjection_report(conn, season_db.site, SEASON),
                energy_report(conn, season_db.site, SEASON))


def test_availability_per_meter_equals_the_arithmetic_on_what_was_written(
        season_db: SeasonDb, reports: tuple[Report, Report]) -> None:
    period = parse_period(SEASON, "Asia/Shanghai", season_db.site.station.climate)
    season = season_db.season
    assert season.outage is not None
    got = {(r["period"], r["meter"]): r for r in _rows(reports[0], "availability")}
    with psycopg.connect(season_db.dsn) as conn:
        historian = query.coverage(conn, season_db.site.station.id, period.start, period.end,
                                   by=query.Period.MONTH, points=list(FLOWS),
                                   at=period.end + timedelta(days=1))
    for (label, lo, hi), month in zip(period.months(), historian, strict=True):
        length = (hi - lo).total_seconds()
        for meter in FLOWS:
            missing = _overlap(*season.outage, lo, hi) + sum(
                _overlap(a, b, lo, hi) for p, a, b in season.bad if p == meter)
            row = got[(label, meter)]
            assert row["availability_pct"] == pytest.approx(100 * (1 - missing / length),
                                                            abs=0.005), (label, meter)
            assert row["missing_h"] == pytest.approx(missing / 3600)
            # the historian's own coverage agrees
            point = next(p for p in month.points if p.point == meter)
            assert point.missing_s == pytest.approx(missing)


def test_a_gap_inside_one_month_is_reported_in_that_month_only(
        reports: tuple[Report, Report]) -> None:
    pw1 = {r["period"]: r["missing_h"] for r in _rows(reports[0], "availability")
           if r["meter"] == "PW1.flow"}
    assert pw1 == {"2025-10": 0.0, "2025-11": 3.0, "2025-12": 36.0, "2026-01": 0.0,
                   "2026-02": 0.0, "2026-03": 0.0, "2026-04": 0.0}
    rw1 = {r["period"]: r["missing_h"] for r in _rows(reports[0], "availability")
           if r["meter"] == "RW1.flow"}
    assert rw1["2026-03"] == 96.0
    assert rw1["2026-02"] == 0.0
    assert rw1["2026-04"] == 0.0


def test_substitution_follows_the_tiers(reports: tuple[Report, Report]) -> None:
    report = reports[0]
    avail = {(r["period"], r["meter"]): r for r in _rows(report, "availability")}
    volumes = {r["period"]: r for r in _rows(report, "volumes")}
    # November, PW1 3 h (>= 95 %, gap <= 24 h): the average of the hours around it, 100 m³/h
    assert avail[("2025-11", "PW1.flow")]["tier"] == ">=95%"
    assert volumes["2025-11"]["produced_substituted_m3"] == 300.0
    # December, every meter 36 h (95.2 %, gap > 24 h): the less favourable of the average and
    # the 90th (production) or 10th (reinjection) percentile: the steady flows themselves
    assert avail[("2025-12", "RW2.flow")]["tier"] == ">=95%"
    assert volumes["2025-12"]["produced_substituted_m3"] == 2 * 36 * 100.0
    assert volumes["2025-12"]["reinjected_substituted_m3"] == pytest.approx(36 * 200.0, abs=0.1)
    # March, RW1 96 h of 744 (87 %): the lowest measured hour of the month so far, the 30 m³/h
    # of the throttled hours
    assert avail[("2026-03", "RW1.flow")]["tier"] == "80-90%"
    assert avail[("2026-03", "RW1.flow")]["substituted_hours"] == 96
    assert volumes["2026-03"]["reinjected_substituted_m3"] == pytest.approx(96 * 30.0)
    # April, RW3 8 days of 25 (68 %): nothing reinjected is credited, and it is not certifiable
    assert avail[("2026-04", "RW3.flow")]["tier"] == "<80%"
    assert avail[("2026-04", "RW3.flow")]["certifiable"] == "no"
    assert volumes["2026-04"]["reinjected_substituted_m3"] == 0.0
    assert volumes["2026-04"]["reinjected_m3"] == pytest.approx(600 * 200.0 - 192 * 200 / 3,
                                                                abs=0.1)
    # every substituted hour is listed with its rule and value
    runs = _rows(report, "substitutions")
    assert {"meter": "PW1.flow", "from": "2025-11-20 09:00", "hours": 3,
            "rule": "substituted (>=95%): before/after average", "value_m3h": 100.0} in runs
    assert {"meter": "RW1.flow", "from": "2026-03-05 00:00", "hours": 96,
            "rule": "substituted (80-90%): lookback minimum", "value_m3h": 30.0} in runs
    assert {"meter": "RW3.flow", "from": "2026-04-10 00:00", "hours": 192,
            "rule": "substituted (<80%): maximum potential", "value_m3h": 0.0} in runs
    for meter in FLOWS:
        assert sum(int(str(r["hours"])) for r in runs if r["meter"] == meter) == sum(
            int(str(r["substituted_hours"])) for r in avail.values() if r["meter"] == meter)
    assert report.statements[0].startswith("NOT CERTIFIABLE")
    assert "RW3.flow in 2026-04" in report.statements[0]
    assert "RW1.flow" not in report.statements[0]


def test_a_reinjection_shortfall_shows_in_hours_below_threshold_and_the_decline(
        reports: tuple[Report, Report]) -> None:
    report = reports[0]
    station = {r["period"]: r for r in _rows(report, "station")}
    # the station's substituted volumes are its groups' (one aquifer here)
    volumes = {r["period"]: r for r in _rows(report, "volumes")}
    for label, row in station.items():
        assert row["reinjected_substituted_m3"] == volumes[label]["reinjected_substituted_m3"]
        assert row["produced_substituted_m3"] == volumes[label]["produced_substituted_m3"]
    january = station["2026-01"]
    # RW3's pump off for 6 h: a third of the reinjection missing, measured, in those hours only
    assert january["hours_below_threshold"] == 6
    assert january["hours_below_threshold_measured"] == 6
    assert january["produced_m3"] == 744 * 200.0
    assert january["reinjected_m3"] == pytest.approx(744 * 200.0 - 6 * 200 / 3, abs=0.1)
    for month in ("2025-10", "2025-11", "2025-12", "2026-02"):
        assert station[month]["hours_below_threshold"] == 0
    trend = {r["well"]: r for r in _rows(report, "injectivity")}
    assert trend["RW2"]["verdict"] == "declining"
    # head 10 → 20 m at the same flow halves the injectivity
    assert trend["RW2"]["change_pct"] == pytest.approx(-50.0, abs=3.0)
    assert trend["RW1"]["verdict"] == trend["RW3"]["verdict"] == "stable"
    assert any("RW2" in s and "decline" in s.lower() for s in report.statements)
    layer = _rows(report, "same_layer")
    assert layer == [{"aquifer": "Ordovician Majiagou karst", "production_wells": "PW1, PW2",
                      "reinjection_wells": "RW1, RW2, RW3", "same_layer": "yes"}]


def test_energy_figures_follow_the_meter_readings(season_db: SeasonDb,
                                                  reports: tuple[Report, Report]) -> None:
    energy = reports[1]
    rows = {r["period"]: r for r in _rows(energy, "energy")}
    period = parse_period(SEASON, "Asia/Shanghai", season_db.site.station.climate)
    hours = len(period.hours())
    # a meter's total is its last reading less its first (hourly readings from the start)
    heat_gj = HEAT_GJ_PER_H * (hours - 1)
    season = rows[SEASON]
    assert season["heat_delivered_gj"] == pytest.approx(heat_gj)
    hp_kwh = 4 * 200.0 * (hours - 1)
    assert season["electricity_heat_pumps_kwh"] == pytest.approx(hp_kwh)
    # pumps: 2 production wells at 50, reinjection booster and two source loops at 20 each
    assert season["electricity_source_pumps_kwh"] == pytest.approx((2 * 50 + 3 * 20) * (hours - 1))
    assert season["electricity_user_pumps_kwh"] == pytest.approx(5 * 20.0 * (hours - 1))
    station_kwh = (800 + 160 + 100 + 10) * (hours - 1)
    assert season["electricity_station_kwh"] == pytest.approx(station_kwh)
    heat_kwh = heat_gj / 0.0036
    assert season["station_cop"] == pytest.approx(heat_kwh / station_kwh, abs=1e-3)
    assert season["kgce_per_gj_grid"] == pytest.approx(
        station_kwh * POWER_COAL_KGCE_PER_KWH / heat_gj, abs=1e-3)
    area = season_db.site.station.heated_area_m2
    assert season["cost_cny_per_m2"] == pytest.approx(station_kwh * 0.5758 / area, abs=1e-3)
    # the heat pumps' heat: 4 x 1000 kW, the December outage substituted by the average
    assert season["heat_pump_heat_kwh"] == pytest.approx(4 * 1000.0 * hours)
    assert season["unit_cop"] == pytest.approx(4000.0 * hours / hp_kwh, abs=1e-3)
    coal = {r["comparison_source"]: r for r in _rows(energy, "coal")}
    comparison = 1.05 * heat_kwh / 0.70 * 3.6 / STANDARD_COAL_MJ_PER_KGCE
    own = station_kwh * POWER_COAL_KGCE_PER_KWH
    assert coal["coal_boiler"]["substituted_tce"] == pytest.approx((comparison - own) / 1000,
                                                                   abs=1e-3)
    assert coal["coal_boiler"]["co2_avoided_t"] == pytest.approx(
        (comparison - own) / 1000 * 2.47, abs=1e-2)
    months = [r for label, r in rows.items() if label != SEASON]
    assert sum(float(str(r["heat_delivered_gj"])) for r in months) == pytest.approx(heat_gj)


def test_the_same_report_twice_is_byte_identical_and_a_changed_byte_fails_verify(
        season_db: SeasonDb, reports: tuple[Report, Report], tmp_path: Path) -> None:
    with psycopg.connect(season_db.dsn) as conn:
        again = reinjection_report(conn, season_db.site, SEASON)
    assert again.digest == reports[0].digest
    key_path = tmp_path / "operator.key"
    public = signing.write_new_key(key_path)
    (tmp_path / "operator.pub").write_text(public_key_text(public) + "\n")
    for fmt in FORMATS:
        first, second = render(reports[0], fmt), render(again, fmt)
        assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest(), fmt
        out = tmp_path / f"report.{fmt}"
        out.write_bytes(first)
        sig = signing.sign(first, signing.load_private_key(key_path))
        Path(f"{out}.sig").write_bytes(sig.to_bytes())
        ok = _cli("verify", str(out), "--public-key", str(tmp_path / "operator.pub"))
        assert ok.returncode == 0, ok.stderr
        changed = bytearray(first)
        changed[len(changed) // 2] ^= 0x01
        out.write_bytes(bytes(changed))
        bad = _cli("verify", str(out), "--public-key", str(tmp_path / "operator.pub"))
        assert bad.returncode == 1
        assert "changed" in bad.stderr
    other = tmp_path / "other.key"
    signing.write_new_key(other)
    with pytest.raises(signing.SignatureError, match="another key"):
        signing.verify(first, signing.sign(first, signing.load_private_key(other)), public)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geoscada.cli", "report", *args],
                          capture_output=True, text=True, check=False, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])


def test_the_pdf_rendered_to_png_shows_its_tables_and_plots(reports: tuple[Report, Report],
                                                            tmp_path: Path) -> None:
    from PIL import Image

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(reports[0], "pdf"))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    for title in ("Station volumes and ratio", "Same-layer check", "Injectivity trend",
                  "Data availability per meter", "NOT CERTIFIABLE", reports[0].digest):
        assert title in text, title
    assert "RW3.flow" in text and "<80%" in text
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    plotted = 0
    for number, page in enumerate(pages, start=1):
        words = subprocess.run(["pdftotext", "-f", str(number), "-l", str(number), str(pdf),
                                "-"], capture_output=True, text=True, check=True).stdout
        if "Daily reinjection ratio" not in words and "Injectivity per" not in words:
            continue
        image = Image.open(page).convert("RGB")
        # the series are drawn in colour: count pixels that are not grey
        raw = image.tobytes()
        coloured = sum(1 for i in range(0, len(raw), 3)
                       if max(raw[i:i + 3]) - min(raw[i:i + 3]) > 60)
        assert coloured > 200, (page.name, coloured)
        plotted += 1
    assert plotted >= 1


def test_command_line_writes_signs_and_refuses_bad_input(season_db: SeasonDb,
                                                         tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    made = _cli("keygen", str(key))
    assert made.returncode == 0, made.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    out = tmp_path / "jan.json"
    common = ["--db", season_db.dsn, "--station", "hydrothermal-doublet", "--period", "2026-01"]
    run = _cli("reinjection", *common, "--format", "json", "--out", str(out),
               "--sign-key", str(key))
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert data["inputs"]["period"]["label"] == "2026-01"
    assert data["inputs"]["site_matches_station_birth"] is True
    assert _cli("verify", str(out), "--public-key", str(key.with_suffix(".pub"))).returncode == 0
    running = tmp_path / "running.json"
    run = _cli("reinjection", *common, "--format", "json", "--out", str(running),
               "--as-of", "2026-01-15T00:30:00+08:00")
    assert run.returncode == 0, run.stderr
    partial = json.loads(running.read_text())
    assert partial["inputs"]["period"]["end"] == "2026-01-14T16:00:00+00:00"
    assert any("has not ended" in s for s in partial["statements"])
    station_rows = next(r for r in partial["tables"] if r["name"] == "station")["rows"]
    assert station_rows[-1][9] == 14 * 24  # producing hours: 1 to 14 January
    platform = tmp_path / "jan-platform.csv"
    run = _cli("platform", *common, "--format", "csv", "--out", str(platform))
    assert run.returncode == 0, run.stderr
    assert platform.read_text().splitlines()[0] == "station,period,name,value,unit,certifiable"
    wrong = _cli("reinjection", "--db", season_db.dsn, "--station", "hydrothermal-doublet",
                 "--period", "January", "--out", str(tmp_path / "x.json"))
    assert wrong.returncode == 1
    assert "not a month" in wrong.stderr
    unknown = _cli("energy", "--db", season_db.dsn, "--station", "nowhere", "--period", "2026",
                   "--out", str(tmp_path / "y.json"))
    assert unknown.returncode == 1
    assert "no site file" in unknown.stderr


def test_platform_indicators_are_the_reports_figures(reports: tuple[Report, Report]) -> None:
    items = {i.name: i for i in indicators(*reports)}
    station = _rows(reports[0], "station")[-1]
    energy = _rows(reports[1], "energy")[-1]
    assert items["water_produced"].value == station["produced_m3"]
    assert items["water_reinjected"].value == station["reinjected_m3"]
    assert items["electricity"].value == energy["electricity_station_kwh"]
    assert items["system_efficiency"].value == energy["system_cop"]
    assert items["water_produced"].certifiable is False  # April's RW3
    data = json.loads(ADAPTERS["json"].render(list(items.values())))
    assert data["version"] == 1
    assert ADAPTERS["json"].render(list(items.values())) == ADAPTERS["json"].render(
        indicators(*reports))
