"""Standard coal and emissions: equations (4-17), (4-18) and the substitution model (5-1).

Fuel energy (coal, gas, CHP heat) converts to standard coal by its calorific value; electricity
converts by the grid's coal rate for power supply. Emissions follow from standard coal with
the factors implied by the plan's chapter 5 results (digest §3.6).
"""

from __future__ import annotations

from dataclasses import dataclass

from plant.models.heat_sources import HeatSource

STANDARD_COAL_MJ_PER_KGCE = 29.307
"""q_ce of (4-17): calorific value of standard coal."""

POWER_COAL_KGCE_PER_KWH = 0.307
"""c_e of (4-18): national average standard coal per kWh of power supply (Yearbook 2018)."""

GJ_PER_KWH = 0.0036
"""Energy conversion: 1 kWh = 3.6 MJ."""


def fuel_kgce(energy_kwh: float) -> float:
    """(4-17) m_ce = Q/q_ce for fuel energy (coal, gas, CHP heat) given in kWh."""
    return energy_kwh * 3.6 / STANDARD_COAL_MJ_PER_KGCE


def electricity_kgce(
    energy_kwh: float, coal_rate_kgce_per_kwh: float = POWER_COAL_KGCE_PER_KWH
) -> float:
    """(4-18) m_ce = c_e·Q_d: standard coal behind electricity in kWh."""
    return energy_kwh * coal_rate_kgce_per_kwh


def source_kgce(source: HeatSource, energy_kwh: float) -> float:
    """Standard coal of a comparison source's energy: electric boilers by (4-18), others (4-17)."""
    if source is HeatSource.ELECTRIC_BOILER:
        return electricity_kgce(energy_kwh)
    return fuel_kgce(energy_kwh)


def substitution_kgce(conventional_kgce: float, geothermal_kgce: float) -> float:
    """(5-1) Q_s = Q_t − Q_r: conventional energy replaced by the geothermal system."""
    return conventional_kgce - geothermal_kgce


@dataclass(frozen=True)
class EmissionFactors:
    """Tonnes of pollutant per tonne of standard coal."""

    co2: float = 2.47  # implied by 004 L1815-1819; 003 L3114, L3301
    so2: float = 0.02  # 003 L3114, L3301 (004 implies 0.019-0.021)
    nox: float = 0.0015  # implied by 004 L1815-1819
    dust: float = 0.01  # 003 L3114, L3301


@dataclass(frozen=True)
class Emissions:
    """Emissions in tonnes."""

    co2_t: float
    so2_t: float
    nox_t: float
    dust_t: float


def emissions_t(coal_t: float, factors: EmissionFactors | None = None) -> Emissions:
    """Emissions (t) caused, or avoided, by ``coal_t`` tonnes of standard coal."""
    f = EmissionFactors() if factors is None else factors
    return Emissions(coal_t * f.co2, coal_t * f.so2, coal_t * f.nox, coal_t * f.dust)
