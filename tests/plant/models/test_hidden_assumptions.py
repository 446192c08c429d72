"""The hidden assumptions in plant.models are what the plan's printed tables imply.

Each constant is re-derived here from the printed values by least squares, so a changed
constant or input file that no longer agrees with the plan fails loudly.
"""

import csv
import io
from importlib import resources

import numpy as np
import pytest

from plant.models.borehole_systems import PUMP_KW_PER_W_M, evaporator_load_w_per_m2
from plant.models.demand import ALLOWANCE_W_PER_M2, degree_day_ratio, season_hours
from plant.models.economics import capital_recovery_factor
from plant.models.plan import CONNECTION_FEE_CNY_PER_M2, compute_table
from plant.models.plan_data import load_plan_inputs
from plant.site import BuildingType

INPUTS = load_plan_inputs()
ROWS = list(csv.DictReader(io.StringIO(resources.files("plant.data.heilongjiang").joinpath(
    "printed_tables.csv").read_text(encoding="utf-8"))))


def _printed(table: str, column: str) -> list[dict[str, str]]:
    return [r for r in ROWS if r["table"] == table and r["column"] == column]


def _implied_allowance(region: str, building: BuildingType, q_h: float) -> float:
    climate = INPUTS.climate_for(region)
    assert climate.mean_season_temp_c is not None
    ratio = degree_day_ratio(climate.mean_season_temp_c, climate.design_outdoor_temp_c)
    return INPUTS.heat_index_for(region, building) * ratio - q_h


@pytest.mark.parametrize(("table", "building"), [("4-10", "new_residential"),
                                                 ("4-12", "new_public")])
def test_allowance_of_new_buildings_from_the_printed_heat(table: str, building: BuildingType) -> None:
    implied = []
    for row in {r["region"]: r for r in _printed(table, "heat_gj")}.values():
        if row["region"] == "Da Hinggan Ling":
            continue  # its mean temperature is itself derived from this rule
        hours = season_hours(INPUTS.climate_for(row["region"]).heating_days)
        q_h = float(row["value"]) * 1e9 / (hours * 3600)
        implied.append(_implied_allowance(row["region"], building, q_h))
    assert np.mean(implied) == pytest.approx(ALLOWANCE_W_PER_M2[building], abs=0.05)


@pytest.mark.parametrize("building", ["existing_residential", "existing_public"])
def test_allowance_of_existing_buildings_from_table_4_4(building: BuildingType) -> None:
    cops = {s.region: s.cop for s in INPUTS.shallow_sites}
    implied = []
    for row in _printed("4-4", "heat_pump_kwh"):
        if row["building"] != building:
            continue
        hours = season_hours(INPUTS.climate_for(row["region"]).heating_days)
        q_h = float(row["value"]) * cops[row["region"]] * 1000 / hours
        implied.append(_implied_allowance(row["region"], building, q_h))
    assert np.mean(implied) == pytest.approx(ALLOWANCE_W_PER_M2[building], abs=0.05)


def test_deep_pump_coefficient_from_tables_4_6_and_4_8() -> None:
    sites = {(s.region, s.basin): s for s in INPUTS.deep_sites}
    x, y = [], []
    for table, building in (("4-6", "new_residential"), ("4-8", "new_public")):
        for row in _printed(table, "pumps_kwh"):
            site = sites[(row["region"], row["basin"])]
            q_s = INPUTS.heat_index_for(row["region"], building)  # type: ignore[arg-type]
            load = evaporator_load_w_per_m2(q_s, site.cop)
            hours = season_hours(INPUTS.climate_for(row["region"]).heating_days)
            x.append(load * load / site.extraction_w_per_m * hours)
            y.append(float(row["value"]))
    fitted = float(np.dot(x, y) / np.dot(x, x))
    assert fitted == pytest.approx(PUMP_KW_PER_W_M["deep"], rel=2e-3)


def test_connection_fee_from_the_printed_annualised_costs() -> None:
    crf = capital_recovery_factor(0.08, 50)
    printed = {(r["table"], r["region"], r["basin"] or r["building"]): float(r["value"])
               for r in ROWS if r["column"] == "annualised_cost"}
    implied = []
    for table in ("6-4", "6-5", "6-7"):
        for row in compute_table(table, INPUTS):
            key = (table, str(row["region"]), str(row.get("basin") or row.get("building")))
            without_fee = float(row["annualised_cost"] or 0.0) + CONNECTION_FEE_CNY_PER_M2 * crf
            implied.append((without_fee - printed[key]) / crf)
    assert len(implied) == 68
    assert np.mean(implied) == pytest.approx(CONNECTION_FEE_CNY_PER_M2, abs=0.05)
