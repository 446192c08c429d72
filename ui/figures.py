"""The overview's station figures: which points make heat, COP and the reinjection ratio.

Pure functions of the site file. The page computes the live figures from the live values of
these points (a sum, or a ratio of sums, of good values only); today's reinjection ratio
comes from the historian's hourly rollups since the station's local midnight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from plant.site import HeatMeter, HeatPump, Network, ProductionWell, ReinjectionWell, Site


@dataclass(frozen=True)
class StationFigures:
    """Points behind a station's overview figures (empty tuples: the station has none)."""

    heat: tuple[str, ...]
    """Heat delivered to users now (kW): the user-side heat meters, else the network header."""
    heat_pump_heat: tuple[str, ...]
    heat_pump_electric: tuple[str, ...]
    """COP now = Σ heat-pump heat ÷ Σ heat-pump electric power."""
    production_flow: tuple[str, ...]
    reinjection_flow: tuple[str, ...]
    """Reinjection ratio = Σ reinjection-well flow ÷ Σ production-well flow."""

    @property
    def has_reinjection(self) -> bool:
        """True for a station that produces from wells and reinjects."""
        return bool(self.production_flow and self.reinjection_flow)


def station_figures(site: Site) -> StationFigures:
    """Pick the points of each overview figure from the site's equipment."""
    have = site.points_by_id

    def points(kind: type, measurand: str, *, location: str | None = None) -> tuple[str, ...]:
        return tuple(f"{e.id}.{measurand}" for e in site.equipment
                     if isinstance(e, kind) and f"{e.id}.{measurand}" in have
                     and (location is None or getattr(e, "location", None) == location))

    heat = points(HeatMeter, "heat_power", location="user") or points(Network, "heat_power")
    return StationFigures(
        heat=heat,
        heat_pump_heat=points(HeatPump, "heat_power"),
        heat_pump_electric=points(HeatPump, "electric_power"),
        production_flow=points(ProductionWell, "flow"),
        reinjection_flow=points(ReinjectionWell, "flow"),
    )


def good_sum(values: Mapping[str, Mapping[str, object]], names: Sequence[str]) -> float | None:
    """Σ of the good, numeric values of these points; None when any is missing or not good."""
    total = 0.0
    for name in names:
        sample = values.get(name)
        value = sample.get("v") if sample else None
        if sample is None or sample.get("q") != "good" or isinstance(value, bool) \
                or not isinstance(value, int | float):
            return None
        total += float(value)
    return total if names else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator ÷ denominator, None when either is unknown or the denominator is not > 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def local_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of the station's local day containing ``now``, in UTC."""
    local = now.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)
