"""Missing-data substitution by availability tier, after 40 CFR Part 75 §75.33 (pure).

The worse a meter's availability, the less favourable to the operator the value put in place of
a missing hour: a quantity the operator wants high (reinjected volume) is substituted low, one
the operator wants low (produced volume) is substituted high. Below 80 % the substitute is the
maximum potential (the rated flow for production, nothing for reinjection) and the figure is
not certifiable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np

LOOKBACK_HOURS = 720
"""Quality-assured hours looked back over for percentiles and extremes (Part 75: 720 for SO2)."""

Favourable = Literal["high", "low"]
"""Which way a quantity flatters the operator: reinjected volume ``high``, produced ``low``."""


class Tier(StrEnum):
    """Availability tiers of §75.33."""

    AT_LEAST_95 = ">=95%"
    FROM_90 = "90-95%"
    FROM_80 = "80-90%"
    BELOW_80 = "<80%"


def tier_of(availability: float) -> Tier:
    """The tier of an availability given as a fraction (0.93 is 93 %)."""
    if availability >= 0.95:
        return Tier.AT_LEAST_95
    if availability >= 0.90:
        return Tier.FROM_90
    if availability >= 0.80:
        return Tier.FROM_80
    return Tier.BELOW_80


MEASURED = "measured"


@dataclass(frozen=True)
class Filled:
    """An hourly series with every missing hour substituted, and how each hour was got."""

    values: tuple[float, ...]
    methods: tuple[str, ...]

    @property
    def substituted_hours(self) -> int:
        """Hours that hold a substitute rather than a measurement."""
        return sum(1 for method in self.methods if method != MEASURED)


def substitute(
    values: Sequence[float | None],
    availability: float,
    favourable: Favourable,
    max_potential: float,
) -> Filled:
    """Fill every missing (None) hour by the rule of the availability's tier.

    * >= 95 %: a gap of at most 24 h gets the average of the hours just before and after it;
      a longer one the less favourable of that average and the 90th (10th) percentile of the
      lookback;
    * 90-95 %: likewise with 8 h and the 95th (5th) percentile;
    * 80-90 %: the lookback's maximum (minimum) hour;
    * < 80 %: the maximum potential value (for a quantity favourable high: 0).

    ``favourable`` names the direction that flatters the operator; every substitute leans the
    other way. With no measured hour at all, the maximum potential value is used.
    """
    tier = tier_of(availability)
    series = list(values)
    out = [0.0 if v is None else float(v) for v in series]
    methods = [MEASURED] * len(series)
    worst = 0.0 if favourable == "high" else max_potential

    def pick(a: float, b: float) -> float:
        return min(a, b) if favourable == "high" else max(a, b)

    i = 0
    while i < len(series):
        if series[i] is not None:
            i += 1
            continue
        j = i
        while j < len(series) and series[j] is None:
            j += 1
        length = j - i
        around = [v for v in (series[i - 1] if i > 0 else None,
                              series[j] if j < len(series) else None) if v is not None]
        average = sum(around) / len(around) if around else None
        earlier = [v for v in series[:i] if v is not None][-LOOKBACK_HOURS:]
        lookback = earlier or [v for v in series[j:] if v is not None][:LOOKBACK_HOURS]
        value: float
        if tier is Tier.BELOW_80 or (average is None and not lookback):
            value, method = worst, "maximum potential"
        elif tier is Tier.FROM_80:
            value = min(lookback) if favourable == "high" else max(lookback)
            method = "lookback minimum" if favourable == "high" else "lookback maximum"
        else:
            limit, pct = (24, 90.0) if tier is Tier.AT_LEAST_95 else (8, 95.0)
            rank = 100.0 - pct if favourable == "high" else pct
            if average is not None and length <= limit:
                value, method = average, "before/after average"
            else:
                percentile = float(np.percentile(lookback, rank)) if lookback else None
                if average is None:
                    value = percentile if percentile is not None else worst
                elif percentile is None:
                    value = average
                else:
                    value = pick(average, percentile)
                method = (f"{rank:.0f}th percentile" if value == percentile
                          else "before/after average")
        for k in range(i, j):
            out[k] = value
            methods[k] = f"substituted ({tier.value}): {method}"
        i = j
    return Filled(tuple(out), tuple(methods))
