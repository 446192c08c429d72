"""Climate curve and heating schedule as pure functions, shared by the simulator's PLC logic and
the supervisory controller so both decide on equal terms."""

from __future__ import annotations

from datetime import datetime

from plant.site import WEEKDAYS, Climate, Schedule, Station

EMITTER_EXPONENT = 1.3
"""Radiator output exponent (EN 442)."""


def climate_curve_c(station: Station, outdoor_c: float) -> float:
    """Supply temperature that lets design-sized emitters meet the load at this outdoor temp."""
    indoor = station.indoor_design_temp_c
    ratio = (indoor - outdoor_c) / (indoor - station.climate.design_outdoor_temp_c)
    ratio = min(max(ratio, 0.05), 1.2)
    design_mean = 0.5 * (station.design_supply_temp_c + station.design_return_temp_c)
    design_dt = station.design_supply_temp_c - station.design_return_temp_c
    emitters = float(ratio ** (1.0 / EMITTER_EXPONENT))
    return indoor + (design_mean - indoor) * emitters + 0.5 * design_dt * ratio


def emitter_share(supply_c: float, indoor_c: float, design_supply_c: float,
                  design_return_c: float) -> float:
    """Share of the design load design-sized emitters give at design flow from this supply.

    The inverse of :func:`climate_curve_c` in its load ratio (EN 442 emitters, exponent 1.3,
    through the design point), found by bisection; 0 at or below the indoor temperature.
    """
    design_mean = 0.5 * (design_supply_c + design_return_c)
    design_dt = design_supply_c - design_return_c
    if supply_c <= indoor_c or design_mean <= indoor_c:
        return 0.0

    def supply_at(ratio: float) -> float:
        emitters = float(ratio ** (1.0 / EMITTER_EXPONENT))
        return indoor_c + (design_mean - indoor_c) * emitters + 0.5 * design_dt * ratio

    low, high = 0.0, 1.0
    while supply_at(high) < supply_c and high < 64.0:
        high *= 2.0
    for _ in range(50):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if supply_at(middle) < supply_c else (low, middle)
    return 0.5 * (low + high)


def occupied(schedule: Schedule, local: datetime) -> bool:
    """True when the local time lies in an occupied period on a day that is no holiday."""
    day = f"{local:%m-%d}"
    for holiday in schedule.holidays:
        wraps = holiday.first > holiday.last
        inside = (day >= holiday.first or day <= holiday.last) if wraps else (
            holiday.first <= day <= holiday.last)
        if inside:
            return False
    weekday = WEEKDAYS[local.weekday()]
    clock = f"{local:%H:%M}"
    return any(weekday in period.days and period.start <= clock < period.end
               for period in schedule.occupied)


def heating_wanted(schedule: Schedule | None, local: datetime, coldest_room_c: float,
                   guarding: bool) -> tuple[bool, bool]:
    """(heat now, anti-freeze guard active) in the heating season.

    Comfort heating runs in the occupied periods. Otherwise the anti-freeze guard, which always
    wins, heats from the moment the coldest room falls below its threshold until it is the
    band above it.
    """
    if schedule is None:
        return True, False
    low = schedule.antifreeze_indoor_c
    if coldest_room_c < low:
        guarding = True
    elif coldest_room_c >= low + schedule.antifreeze_band_k:
        guarding = False
    return occupied(schedule, local) or guarding, guarding


def in_heating_season(climate: Climate, local: datetime) -> bool:
    """True while the calendar heating season of the climate is on (local wall time)."""
    month, day = (int(part) for part in climate.heating_season_start.split("-"))
    start = datetime(local.year, month, day)
    naive = local.replace(tzinfo=None)
    if start > naive:
        start = datetime(local.year - 1, month, day)
    return (naive - start).total_seconds() < climate.heating_season_days * 86400.0
