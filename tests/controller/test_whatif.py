"""What-if preview against the season simulator: a heat pump out of service, a cold spell.

The oracle is the simulator (its buildings, hydraulics, exchangers and heat pumps stepped in
time); the preview is the quasi-steady model in controller.whatif. Both see the same weather
and the same unit out; the preview starts from the readings the supervisor had at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.supervisor import StagingSupervisor, supervisor_for
from controller.whatif import Proposal, preview
from plant.site import load_site
from plant.supervision import PlantView, Setpoint
from simulator.season import SeasonSettings, run_season
from simulator.sim import StationSim

SITES = Path(__file__).resolve().parents[2] / "sites"
START = datetime(2025, 12, 20, tzinfo=UTC)
COLD_C = -18.0


class Recorder:
    """The station's supervisor, keeping the last view and a copy of itself at that moment."""

    def __init__(self, inner: StagingSupervisor) -> None:
        self.inner = inner
        self.view: PlantView | None = None

    def step(self, view: PlantView) -> Sequence[Setpoint]:
        """Decide as the supervisor does; remember what was seen."""
        self.view = view
        return self.inner.step(view)


def test_preview_with_a_unit_out_agrees_with_the_simulator_on_electricity() -> None:
    doublet = load_site(SITES / "hydrothermal-doublet.yaml")
    hours = 12
    settle_days = 1.5
    times = tuple(START + timedelta(hours=h) for h in range(int(24 * settle_days) + hours + 2))
    weather = (times, tuple(COLD_C for _ in times))
    out = ("HP2-1",)

    def season(days: float, recorder: Recorder) -> float:
        settings = SeasonSettings(days=days, control="supervisory", start=START,
                                  units_out=out, weather=weather)
        return run_season(doublet, settings, recorder).electricity_kwh

    first = Recorder(supervisor_for(doublet))
    before = season(settle_days, first)
    after = season(settle_days + hours / 24.0, Recorder(supervisor_for(doublet)))
    simulated = after - before
    assert first.view is not None
    ahead = preview(first.inner, first.view,
                    Proposal(hours=hours, units_out=out, outdoor_forecast_c=[COLD_C] * hours))
    assert ahead.heat_pump_kwh > 0  # the heat pumps carry part of the load in this cold
    assert all("HP2-1" not in h.running for h in ahead.hours)
    assert ahead.electricity_kwh == pytest.approx(simulated, rel=0.05)
    assert ahead.reinjection_margin_m3h is not None and ahead.reinjection_margin_m3h > 0


def test_preview_of_the_shallow_field_with_a_unit_out_agrees_with_the_simulator() -> None:
    # a closed borehole loop and five units: the preview's stages, heat and electricity
    # against the stepped station, HP1 out at the field's −7 °C design temperature
    field = load_site(SITES / "shallow-field.yaml")
    start, hours, settle_days, cold, out = datetime(2026, 1, 10, tzinfo=UTC), 12, 1.5, -7.0, ("HP1",)
    times = tuple(start + timedelta(hours=h) for h in range(int(24 * settle_days) + hours + 2))
    weather = (times, tuple(cold for _ in times))

    def season(days: float, recorder: Recorder) -> tuple[float, float]:
        settings = SeasonSettings(days=days, control="supervisory", start=start,
                                  units_out=out, weather=weather)
        report = run_season(field, settings, recorder)
        return report.electricity_kwh, report.delivered_heat_kwh

    first = Recorder(supervisor_for(field))
    before = season(settle_days, first)
    after = season(settle_days + hours / 24.0, Recorder(supervisor_for(field)))
    assert first.view is not None
    ahead = preview(first.inner, first.view,
                    Proposal(hours=hours, units_out=out, outdoor_forecast_c=[cold] * hours))
    assert all("HP1" not in h.running and h.running for h in ahead.hours)
    assert ahead.electricity_kwh == pytest.approx(after[0] - before[0], rel=0.05)
    assert ahead.heat_kwh == pytest.approx(after[1] - before[1], rel=0.05)


def test_a_colder_forecast_costs_more_and_a_higher_supply_lowers_the_cop() -> None:
    doublet = load_site(SITES / "hydrothermal-doublet.yaml")
    sim = StationSim(doublet, start=START, warm_up_s=3600.0)
    view = PlantView(sim.station_id, sim.now, sim.values())
    sup = supervisor_for(doublet)
    sup.step(view)
    mild = preview(sup, view, Proposal(hours=6, outdoor_forecast_c=[-5.0] * 6))
    cold = preview(sup, view, Proposal(hours=6, outdoor_forecast_c=[-22.0] * 6))
    warmer = preview(sup, view, Proposal(hours=6, outdoor_forecast_c=[-22.0] * 6,
                                         supply_shift_k=3.0))
    assert cold.heat_kwh > mild.heat_kwh and cold.electricity_kwh > mild.electricity_kwh
    assert cold.cop is not None and warmer.cop is not None and warmer.cop < cold.cop
    assert sup.state.last_s == view.now.timestamp()  # the preview left the live state alone
