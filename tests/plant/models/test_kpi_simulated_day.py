"""Station KPIs from a simulated day of the hydrothermal doublet, against the simulator's totals."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from plant.measurands import Measurand
from plant.models.kpi import cop, efficiency, heat_kwh, integrate_kwh, reinjection_ratio
from plant.site import load_site
from simulator.station import StationModel

SITE = Path(__file__).parents[3] / "sites" / "hydrothermal-doublet.yaml"
STEP_S = 20.0


@pytest.fixture(scope="module")
def day() -> dict[str, object]:
    model = StationModel(load_site(SITE), seed=3, start=datetime(2024, 1, 10, tzinfo=UTC))
    wells = {kind: [e.id for e in model.site.equipment if e.kind == kind]
             for kind in ("production_well", "reinjection_well")}
    produced = [model.reader(w, Measurand.FLOW) for w in wells["production_well"]]
    reinjected = [model.reader(w, Measurand.FLOW) for w in wells["reinjection_well"]]
    meter = model.heat_meters["HM-USR"]
    series: dict[str, list[float]] = {k: [] for k in (
        "flow", "supply", "return", "hp_heat", "hp_power", "produced", "reinjected")}
    for _ in range(int(86400 / STEP_S)):
        model.advance(STEP_S)
        series["flow"].append(meter.flow_m3h)
        series["supply"].append(meter.supply_c)
        series["return"].append(meter.return_c)
        series["hp_heat"].append(sum(hp.heat_kw for hp in model.heat_pumps.values()))
        series["hp_power"].append(sum(hp.power_kw for hp in model.heat_pumps.values()))
        series["produced"].append(sum(float(r()) for r in produced))
        series["reinjected"].append(sum(float(r()) for r in reinjected))
    return {"model": model, **{k: np.array(v) for k, v in series.items()}}


@pytest.mark.slow
def test_heat_matches_the_meter_total_and_the_physics(day: dict[str, object]) -> None:
    model = day["model"]
    assert isinstance(model, StationModel)
    total = heat_kwh(day["flow"], day["supply"], day["return"], STEP_S)  # type: ignore[arg-type]
    assert total.coverage == 1.0
    assert total.value == pytest.approx(model.heat_meters["HM-USR"].heat_kwh, rel=1e-9)
    # the model's own delivered heat, free of meter noise
    assert total.value == pytest.approx(model.energy_balance().delivered_kwh, rel=0.01)


@pytest.mark.slow
def test_cop_and_scop_match_the_simulators_counters(day: dict[str, object]) -> None:
    model = day["model"]
    assert isinstance(model, StationModel)
    heat = integrate_kwh(day["hp_heat"], STEP_S).value  # type: ignore[arg-type]
    power = integrate_kwh(day["hp_power"], STEP_S).value  # type: ignore[arg-type]
    counters_heat = sum(hp.heat_kwh for hp in model.heat_pumps.values())
    balance = model.energy_balance()
    assert cop(heat, power) == pytest.approx(counters_heat / balance.compressor_kwh, rel=1e-6)
    delivered = heat_kwh(day["flow"], day["supply"], day["return"], STEP_S).value  # type: ignore[arg-type]
    station = efficiency(delivered, power, user_pumps_kwh=balance.pump_kwh)
    truth = balance.delivered_kwh / (balance.compressor_kwh + balance.pump_kwh)
    assert station.system_scop == pytest.approx(truth, rel=0.01)
    # the station's heat includes the direct exchangers, so its SCOP may exceed the units' COP
    assert 1.0 < station.system_scop < station.unit_cop


@pytest.mark.slow
def test_reinjection_ratio_survives_a_failed_meter(day: dict[str, object]) -> None:
    model = day["model"]
    assert isinstance(model, StationModel)
    balance = model.energy_balance()
    truth = balance.reinjected_m3 / balance.produced_m3
    produced = np.asarray(day["produced"])
    reinjected = np.asarray(day["reinjected"]).copy()
    result = reinjection_ratio(produced, reinjected, STEP_S)
    assert result.ratio == pytest.approx(truth, rel=1e-3)
    assert result.produced_m3 == pytest.approx(balance.produced_m3, rel=1e-3)
    # the reinjection meter fails for two hours: it reads 0 and the gateway marks it bad
    failed = slice(int(8 * 3600 / STEP_S), int(10 * 3600 / STEP_S))
    reinjected[failed] = 0.0
    good = np.ones(reinjected.size, dtype=bool)
    good[failed] = False
    flagged = reinjection_ratio(produced, reinjected, STEP_S, reinjection_good=good)
    assert flagged.ratio == pytest.approx(truth, rel=0.01)
    assert flagged.coverage == pytest.approx(22 / 24, abs=1e-3)
