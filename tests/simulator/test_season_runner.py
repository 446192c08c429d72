"""``geoscada season``: the in-process season runner, its report and its supervisor plug-in.

The oracles stand outside the runner: a supervisor that only watches counts the starts it sees
in the run-state points, the readings show whether a written command held, and a weather file
shows up in the outdoor sensor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plant.site import Site
from plant.supervision import PlantView, Setpoint
from simulator.season import SeasonSettings, WeatherFileError, read_weather, run_season
from simulator.season_cli import main
from simulator.sim import StationSim
from tests.simulator.helpers import DOUBLET, SCHOOL, site

START = datetime(2025, 12, 1, tzinfo=UTC)


class Watcher:
    """Writes nothing; counts each unit's off→on transitions in what it reads."""

    def __init__(self, units: Sequence[str], extra: Sequence[Setpoint] = ()) -> None:
        self.units = units
        self.extra = list(extra)
        self.last: dict[str, bool] = {}
        self.starts = dict.fromkeys(units, 0)
        self.views: list[PlantView] = []

    def step(self, view: PlantView) -> Sequence[Setpoint]:
        """Count starts, hand out the writes given once."""
        self.views.append(view)
        for unit in self.units:
            running = view.reading(f"{unit}.run_state") is True
            if running and not self.last.get(unit, True):
                self.starts[unit] += 1
            self.last[unit] = running
        writes, self.extra = self.extra, []
        return writes


def test_starts_counted_by_the_runner_match_what_the_points_show() -> None:
    school = site(SCHOOL)
    watcher = Watcher(["HP1"])
    report = run_season(school, SeasonSettings(days=2, control="supervisory", start=START,
                                               step_s=300, control_interval_s=300), watcher)
    # the watcher sees the state before each step: the last step's start is not yet seen
    assert report.units["HP1"].starts in (watcher.starts["HP1"], watcher.starts["HP1"] + 1)
    assert report.units["HP1"].starts > 0
    assert 0 < report.units["HP1"].max_starts_in_hour <= report.units["HP1"].starts
    assert report.writes == 0
    assert report.scop is not None
    assert report.delivered_heat_kwh > 0
    assert report.scop == pytest.approx(report.delivered_heat_kwh / report.electricity_kwh)
    assert report.comfort_hours > 0
    assert report.min_source_in_c is not None and report.min_source_out_c is not None
    assert report.min_source_out_c < report.min_source_in_c + 1e-9


def test_a_supervisor_command_holds_and_a_refused_write_is_counted() -> None:
    school = site(SCHOOL)
    writes = [Setpoint("HP1.run_command", True),
              Setpoint("NET.supply_temp_setpoint", 99.0),  # above the point's 60 °C limit
              Setpoint("HP1.cop", 3.0)]                    # a reading, not writable
    watcher = Watcher(["HP1"], writes)
    report = run_season(school, SeasonSettings(days=1, control="supervisory", start=START,
                                               step_s=300, control_interval_s=300), watcher)
    assert report.writes == 3
    assert report.refused_writes == {"out_of_range": 1, "not_writable": 1}
    # held on by the command: never seen stopped after its start-up step (which gives no
    # heat yet), at most the one start it caused
    assert all(v.reading("HP1.run_state") is True for v in watcher.views[2:])
    assert report.units["HP1"].starts <= 1


def test_local_control_calls_no_supervisor_and_a_unit_out_never_runs() -> None:
    doublet = site(DOUBLET)
    watcher = Watcher([])
    report = run_season(doublet, SeasonSettings(days=1, start=START, units_out=("HP2-1",)),
                        watcher)
    assert watcher.views == []
    assert report.units["HP2-1"].starts == 0
    assert report.units["HP2-1"].heat_kwh == 0.0
    assert report.produced_m3 > 0
    assert report.reinjected_m3 + report.overflow_m3 == pytest.approx(report.produced_m3)
    with pytest.raises(ValueError, match="no heat pump"):
        run_season(doublet, SeasonSettings(days=1, start=START, units_out=("HP9",)))
    timeout = doublet.station.supervision
    assert timeout is not None
    with pytest.raises(ValueError, match="cannot keep the heartbeat"):
        run_season(doublet, SeasonSettings(days=1, start=START, control="supervisory",
                                           control_interval_s=timeout.heartbeat_timeout_s),
                   Watcher([]))


def _weather_file(path: Path, start: datetime, hours: int, temp: float) -> Path:
    rows = ["time,outdoor_temp_c"]
    rows += [f"{(start + timedelta(hours=h)).isoformat()},{temp}" for h in range(hours + 1)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_weather_file_drives_the_outdoor_sensor(tmp_path: Path) -> None:
    school: Site = site(SCHOOL)
    times, temps = read_weather(_weather_file(tmp_path / "w.csv", START, 24, -20.0))
    watcher = Watcher([])
    run_season(school, SeasonSettings(days=1, control="supervisory", start=START,
                                      weather=(tuple(times), tuple(temps))), watcher)
    outdoor = [v.reading("WX.outdoor_temp") for v in watcher.views]
    assert all(isinstance(t, float) and abs(t + 20.0) < 0.5 for t in outdoor)
    with pytest.raises(WeatherFileError, match="covers"):
        run_season(school, SeasonSettings(days=2, start=START,
                                          weather=(tuple(times), tuple(temps))))
    bad = tmp_path / "bad.csv"
    bad.write_text("time,outdoor_temp_c\n2025-12-01T00:00:00,nan\n", encoding="utf-8")
    with pytest.raises(WeatherFileError, match="offset"):
        read_weather(bad)


def test_the_command_writes_the_report_and_refuses_bad_input(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    out = tmp_path / "season.json"
    code = main([str(SCHOOL), "--days", "0.5", "--start", START.isoformat(), "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["station"] == "deep-borehole-school"
    assert set(report["units"]) == {"HP1"}
    assert "SCOP" in capsys.readouterr().out
    code = main([str(SCHOOL), "--days", "0.5", "--start", START.isoformat(),
                 "--control", "supervisory", "--out", str(out)])
    assert code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["control"] == "supervisory"
    capsys.readouterr()
    code = main([str(SCHOOL), "--days", "1", "--control", "supervisory",
                 "--supervisor", "no_such_module:factory", "--out", str(out)])
    assert code == 2
    assert "no_such_module" in capsys.readouterr().err


def test_the_lazy_view_reads_what_the_full_snapshot_reads() -> None:
    sim = StationSim(site(DOUBLET), seed=5, start=START, warm_up_s=600.0)
    for _ in range(3):
        sim.advance(60.0)
        lazy = sim.view()
        read = {point_id: lazy[point_id] for point_id in reversed(list(lazy))}
        assert read == sim.values()


def test_a_colder_climate_asks_for_more_heat() -> None:
    school = site(SCHOOL)
    reports = [run_season(school, SeasonSettings(days=1, start=START, climate_offset_k=offset))
               for offset in (0.0, -5.0)]
    assert reports[1].delivered_heat_kwh > 1.1 * reports[0].delivered_heat_kwh
