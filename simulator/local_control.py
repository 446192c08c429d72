"""The local PLC's decisions as pure functions of (settings, measurements, time).

Kept apart from the physics so a newcomer can read and test the logic alone, and so a
supervisory controller can be compared with it on equal terms.
"""

from __future__ import annotations

from datetime import datetime

from plant.site import WEEKDAYS, Schedule


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
