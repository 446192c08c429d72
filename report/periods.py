"""Report periods in the station's time zone: a month, a heating season or a year (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from plant.site import Climate


class PeriodError(ValueError):
    """A period that cannot be read or has no data time in it."""


@dataclass(frozen=True)
class ReportPeriod:
    """A named period with its bounds in UTC, cut at local midnight of the station's zone."""

    label: str
    kind: str
    start: datetime
    end: datetime
    timezone: str

    def months(self) -> list[tuple[str, datetime, datetime]]:
        """The calendar months (local) the period meets, each clipped to the period."""
        zone = ZoneInfo(self.timezone)
        local = self.start.astimezone(zone)
        first = local.date().replace(day=1)
        out: list[tuple[str, datetime, datetime]] = []
        lower = self.start
        while lower < self.end:
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            upper = min(self.end, _midnight(following, zone))
            out.append((f"{first.year:04d}-{first.month:02d}", lower, upper))
            lower, first = upper, following
        return out

    def hours(self) -> list[datetime]:
        """The start of every hour of the period (UTC)."""
        count = int((self.end - self.start).total_seconds() // 3600)
        return [self.start + timedelta(hours=i) for i in range(count)]


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_SEASON = re.compile(r"^(\d{4})-(\d{4})-season$")
_YEAR = re.compile(r"^(\d{4})$")


def parse_period(text: str, timezone: str, climate: Climate | None = None) -> ReportPeriod:
    """Read ``2026-01`` (month), ``2025-2026-season`` (heating season) or ``2026`` (year).

    A heating season starts on the climate's ``heating_season_start`` of the first year and
    lasts ``heating_season_days`` days; without a climate it runs 15 Oct to 15 Apr.
    """
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError) as exc:
        raise PeriodError(f"unknown time zone {timezone!r}") from exc
    if match := _MONTH.match(text):
        first = date(int(match[1]), int(match[2]), 1)
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return ReportPeriod(text, "month", _midnight(first, zone), _midnight(following, zone),
                            timezone)
    if match := _SEASON.match(text):
        year, second = int(match[1]), int(match[2])
        if second != year + 1:
            raise PeriodError(f"period {text!r}: a heating season spans two consecutive years, "
                              f"such as {year}-{year + 1}-season")
        if climate is not None:
            month, day = (int(part) for part in climate.heating_season_start.split("-"))
            begin = date(year, month, day)
            finish = begin + timedelta(days=climate.heating_season_days)
        else:
            begin, finish = date(year, 10, 15), date(second, 4, 15)
        return ReportPeriod(text, "season", _midnight(begin, zone), _midnight(finish, zone),
                            timezone)
    if match := _YEAR.match(text):
        year = int(match[1])
        return ReportPeriod(text, "year", _midnight(date(year, 1, 1), zone),
                            _midnight(date(year + 1, 1, 1), zone), timezone)
    raise PeriodError(f"period {text!r} is not a month (2026-01), a heating season "
                      "(2025-2026-season) or a year (2026)")
