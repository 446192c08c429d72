"""The anti-freeze guard after the heating season, local logic and supervisory staging: a
cold spell past the shallow field's season end, on recorded weather in the season runner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from controller.supervisor import StagingSupervisor, supervisor_for
from plant.heating import guard_margin_k
from plant.site import Site, load_site
from plant.supervision import PlantView, Setpoint
from simulator.season import RecordedWeather, SeasonSettings, run_season
from simulator.sim import StationSim
from tests.simulator.helpers import FIELD

START = datetime(2026, 3, 20, tzinfo=UTC)
"""Five days after the shallow field's season (15 November to 15 March) ended."""
DAYS = 4
SPELL_C = -2.0
"""A March cold spell, 5 K above the site's −7 °C design outdoor temperature."""
STEP_S = 300.0
THRESHOLD_C, BAND_K = 5.0, 2.0
"""The station's guard (no ``antifreeze`` key: the schema's defaults)."""
LINE_UP = {"HP1", "HP2"}
"""The guard's line-up out of season (tests/plant/test_antifreeze_guard.py)."""
MARGIN_K = 0.135
"""How far above its threshold the guard engages (tests/plant/test_antifreeze_guard.py)."""


def _spell(temp_c: float) -> tuple[tuple[datetime, ...], tuple[float, ...]]:
    times = tuple(START + timedelta(hours=h) for h in range(24 * DAYS + 2))
    return times, tuple(temp_c for _ in times)


def _station(weather_c: float) -> StationSim:
    sim = StationSim(load_site(FIELD), seed=4, start=START, warm_up_s=0.0)
    times, temps = _spell(weather_c)
    sim.model.weather = RecordedWeather(sim.model.weather, times, temps)
    sim.model.weather.advance(sim.model.now, STEP_S)
    return sim


def test_after_the_season_the_local_guard_holds_a_cold_spell_with_its_line_up() -> None:
    sim = _station(SPELL_C)
    model = sim.model
    assert model.site.station.antifreeze_guard.indoor_c == THRESHOLD_C
    assert guard_margin_k(model.site.station) == pytest.approx(MARGIN_K)
    coldest = min(z.indoor_temp_c for z in model.zones.values())  # 20 °C at the start
    lowest, engaged, released, ran = coldest, 0, 0, set()
    for _ in range(int(DAYS * 86400 / STEP_S)):
        was = model.heating.guarding
        sim.advance(STEP_S)
        heating = model.heating
        assert not heating.season and not heating.comfort  # no comfort heating out of season
        assert model.heating_on == heating.guarding
        if heating.guarding and not was:
            engaged += 1
            assert THRESHOLD_C <= coldest < THRESHOLD_C + MARGIN_K  # the room before the step
        if was and not heating.guarding:
            released += 1
            assert coldest >= THRESHOLD_C + BAND_K
        if was and heating.guarding:
            assert coldest < THRESHOLD_C + BAND_K
        ran |= {ident for ident, hp in model.heat_pumps.items() if hp.running}
        coldest = min(z.indoor_temp_c for z in model.zones.values())
        lowest = min(lowest, coldest)
    assert engaged >= 2 and released >= 1
    assert lowest >= THRESHOLD_C  # the guard's units heat before a room reaches it
    assert ran and ran <= LINE_UP  # the guard's line-up, not the comfort one


def test_after_the_season_mild_weather_heats_nothing() -> None:
    sim = _station(12.0)
    for _ in range(int(2 * 86400 / STEP_S)):
        sim.advance(STEP_S)
        assert not sim.model.heating_on
    assert sim.model.balance.delivered_kwh == 0.0
    assert min(z.indoor_temp_c for z in sim.model.zones.values()) > THRESHOLD_C + BAND_K


@dataclass
class Watching:
    """The supervisor, and for every cycle its coldest indoor reading and guard after it."""

    inner: StagingSupervisor
    cycles: list[tuple[float, bool]] = field(default_factory=list)

    def step(self, view: PlantView) -> Sequence[Setpoint]:
        """One cycle of the supervisor, recorded."""
        writes = self.inner.step(view)
        indoor = [float(v) for p, v in view.readings.items()
                  if p.endswith(".indoor_temp") and v is not None]
        self.cycles.append((min(indoor), self.inner.heating.guarding))
        return writes


def test_after_the_season_the_supervisor_guards_as_the_local_logic_does() -> None:
    field_site: Site = load_site(FIELD)
    settings = SeasonSettings(days=DAYS, control="supervisory", start=START, step_s=STEP_S,
                              seed=4, weather=_spell(SPELL_C))
    watching = Watching(supervisor_for(field_site))
    supervised = run_season(field_site, settings, watching)
    local = run_season(field_site, SeasonSettings(days=DAYS, control="local", start=START,
                                                  step_s=STEP_S, seed=4,
                                                  weather=_spell(SPELL_C)))
    for report in (local, supervised):
        assert report.comfort_hours == 0.0
        assert report.min_indoor_c is not None
        assert report.min_indoor_c >= THRESHOLD_C
        assert report.antifreeze_violation_hours == 0.0
        ran = {u for u, f in report.units.items() if f.run_hours > 0}
        assert ran and ran <= LINE_UP
        assert report.max_starts_in_hour <= 3
    assert not supervised.refused_writes
    conditions = [d.condition for _, d in watching.inner.log]
    assert "plant_off" in conditions  # the guard let go and the units stopped
    was = False
    for coldest, guarding in watching.cycles:  # the supervisor's own hysteresis, on readings
        if guarding and not was:
            assert THRESHOLD_C <= coldest < THRESHOLD_C + MARGIN_K
        if was and not guarding:
            assert coldest >= THRESHOLD_C + BAND_K
        was = guarding


DESIGN_C = -7.0
"""The shallow field's design outdoor temperature: one 4,500 kW unit cannot hold 5 °C at it
(27 K of design load is 10,505 kW, 12 K of it 4,669 kW)."""


@pytest.mark.parametrize("control", ["local", "supervisory"])
def test_a_tripped_unit_of_the_guards_line_up_is_replaced_by_the_next(control: str) -> None:
    field_site: Site = load_site(FIELD)
    settings = SeasonSettings(days=DAYS, control=control,  # type: ignore[arg-type]
                              start=START, step_s=STEP_S, seed=4, weather=_spell(DESIGN_C),
                              units_out=("HP1",))
    report = run_season(field_site, settings,
                        supervisor_for(field_site) if control == "supervisory" else None)
    assert report.min_indoor_c is not None
    assert report.min_indoor_c >= THRESHOLD_C
    assert report.antifreeze_violation_hours == 0.0
    ran = {u for u, f in report.units.items() if f.run_hours > 0}
    assert ran == {"HP2", "HP3"}  # HP3 stands in for the tripped HP1
    assert report.max_starts_in_hour <= 3
