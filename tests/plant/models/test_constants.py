"""constants.yaml (the cited record of the plan's constants) agrees with the code that uses them."""

from importlib import resources

import pytest
import yaml

from plant.models import borehole_systems, coal, demand, economics, heat_sources, plan
from plant.models.heat_sources import HeatSource

CONSTANTS = yaml.safe_load(
    resources.files("plant.data.heilongjiang").joinpath("constants.yaml").read_text("utf-8"))

IN_CODE = {
    "coal_boiler_efficiency": heat_sources.EFFICIENCY[HeatSource.COAL_BOILER],
    "gas_boiler_efficiency": heat_sources.EFFICIENCY[HeatSource.GAS_BOILER],
    "electric_boiler_efficiency": heat_sources.EFFICIENCY[HeatSource.ELECTRIC_BOILER],
    "electric_boiler_efficiency_stated": heat_sources.STATED_ELECTRIC_BOILER_EFFICIENCY,
    "chp_efficiency": heat_sources.EFFICIENCY[HeatSource.CHP],
    "comparison_multiplier": heat_sources.COMPARISON_ALLOWANCE,
    "standard_coal_mj_per_kgce": coal.STANDARD_COAL_MJ_PER_KGCE,
    "power_coal_kgce_per_kwh": coal.POWER_COAL_KGCE_PER_KWH,
    "discount_rate": economics.DISCOUNT_RATE,
    "commercial_tariff_cny_per_kwh": plan.ELECTRICITY_PRICE_CNY_PER_KWH,
    "deep_drilling_cny_per_m": borehole_systems.COLLECTION_CNY_PER_M["deep"],
    "indoor_design_temp_c": demand.INDOOR_TEMP_C,
    "co2_t_per_tce": coal.EmissionFactors().co2,
    "so2_t_per_tce": coal.EmissionFactors().so2,
    "nox_t_per_tce": coal.EmissionFactors().nox,
    "dust_t_per_tce": coal.EmissionFactors().dust,
}


@pytest.mark.parametrize("name", sorted(IN_CODE))
def test_code_uses_the_cited_value(name: str) -> None:
    assert CONSTANTS[name]["value"] == pytest.approx(IN_CODE[name])
    assert CONSTANTS[name]["source"]


def test_every_constant_is_cited() -> None:
    assert all(entry.get("source") for entry in CONSTANTS.values())
