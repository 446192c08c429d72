"""Economic model of the Heilongjiang plan, equations (6-1)…(6-4), and price sensitivity.

Cash flows are per m² heated, one value per year from year 0 (the investment) on, in CNY/m².
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DISCOUNT_RATE = 0.08
"""i0 of (6-1)…(6-3), also the benchmark IRR (004 L1884, L815)."""


def present_value_factor(rate: float, year: float) -> float:
    """(P/F, i, t) = (1 + i)^−t."""
    return float((1.0 + rate) ** -year)


def capital_recovery_factor(rate: float, years: int) -> float:
    """(A/P, i, n) = i(1+i)^n/((1+i)^n − 1): equal annual value of a present amount."""
    if years <= 0:
        raise ValueError(f"service life {years} must be positive")
    if rate == 0.0:
        return 1.0 / years
    growth = (1.0 + rate) ** years
    return rate * growth / (growth - 1.0)


def annualised_cost(outflows: Sequence[float], rate: float = DISCOUNT_RATE) -> float:
    """(6-1) AC = [Σ CO_t·(P/F, i, t)]·(A/P, i, n) over years 0…n of the outflows."""
    years = len(outflows) - 1
    present = math.fsum(co * present_value_factor(rate, t) for t, co in enumerate(outflows))
    return present * capital_recovery_factor(rate, years)


def net_present_value(net_flows: Sequence[float], rate: float = DISCOUNT_RATE) -> float:
    """(6-2) NPV = Σ (CI_t − CO_t)·(1 + i)^−t."""
    return math.fsum(f * present_value_factor(rate, t) for t, f in enumerate(net_flows))


def dynamic_payback_years(net_flows: Sequence[float], rate: float = DISCOUNT_RATE) -> float | None:
    """(6-3) years until the discounted net flows add up to zero; None if they never do.

    Interpolated linearly within the year the cumulative value crosses zero.
    """
    cumulative = 0.0
    for year, flow in enumerate(net_flows):
        discounted = flow * present_value_factor(rate, year)
        if cumulative < 0.0 <= cumulative + discounted and year > 0:
            return year - 1 + (-cumulative / discounted)
        cumulative += discounted
    return None


def internal_rate_of_return(net_flows: Sequence[float]) -> float | None:
    """(6-4) the rate at which NPV = 0 (bisection on −99 %…100 %); None if there is none."""
    low, high = -0.99, 1.0
    f_low, f_high = net_present_value(net_flows, low), net_present_value(net_flows, high)
    if f_low * f_high > 0.0:
        return None
    for _ in range(200):
        mid = 0.5 * (low + high)
        f_mid = net_present_value(net_flows, mid)
        if (f_mid > 0.0) == (f_low > 0.0):
            low, f_low = mid, f_mid
        else:
            high = mid
        if high - low < 1e-10:
            break
    return 0.5 * (low + high)


@dataclass(frozen=True)
class Component:
    """One investment item: its capex (CNY/m²) and service life (years, Table 6-2)."""

    capex_cny_per_m2: float
    life_years: int


def cash_outflows(
    components: Sequence[Component], operating_cost: float, years: int
) -> list[float]:
    """Outflows of years 0…n: capex at 0 and at every renewal inside the period, then opex."""
    flows = [0.0] * (years + 1)
    for item in components:
        for start in range(0, years, item.life_years):
            flows[start] += item.capex_cny_per_m2
    for year in range(1, years + 1):
        flows[year] += operating_cost
    return flows


def component_annualised_cost(components: Sequence[Component], operating_cost: float,
                              rate: float = DISCOUNT_RATE) -> float:
    """AC with each component recovered over its own life: Σ CRF(i, n_c)·capex_c + opex."""
    return math.fsum(capital_recovery_factor(rate, c.life_years) * c.capex_cny_per_m2
                     for c in components) + operating_cost


def price_sensitivity(operating_cost: float, base_price: float, new_price: float) -> float:
    """Change of AC when the electricity price moves (AC is linear in price, 004 L2146)."""
    return operating_cost * (new_price / base_price - 1.0)
