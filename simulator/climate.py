"""Outdoor weather of a station: seasonal curve, synoptic spells and a daily swing.

The seasonal curve of daily-mean temperature is a cosine with its coldest day in the middle of
the heating season. Its two parameters are fitted so that the curve crosses +5 °C on the first
and last day of the heating season (the GB 50736 definition of the heating period: daily mean
at or below 5 °C) and its mean over the season equals the climate's mean heating-season
temperature. Spells of colder or milder weather are an Ornstein-Uhlenbeck process whose spread
is set so the design outdoor temperature (a daily mean not reached on about five days a year)
lies two standard deviations below the coldest point of the curve. A cosine daily swing peaks
at 15:00 local time. When the climate has a cooling season, the warm half of the year gets its
own amplitude, putting the warmest daily mean half a daily swing and one spell spread below
the cooling design temperature.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from plant.heating import in_heating_season
from plant.site import Climate

HEATING_LIMIT_C = 5.0
"""Daily mean outdoor temperature that starts and ends the heating period (GB 50736)."""

SPELL_TIME_CONSTANT_S = 3.0 * 86400.0
"""How long a cold or mild spell lasts (correlation time of the synoptic variation)."""

YEAR_DAYS = 365.0


@dataclass(frozen=True)
class SeasonalCurve:
    """Daily-mean outdoor temperature over the year: ``mean − amplitude·cos(2π(d − d₀)/365)``."""

    annual_mean_c: float
    amplitude_k: float
    coldest_day_of_year: float
    spell_sigma_k: float
    summer_amplitude_k: float | None = None
    """Amplitude of the warm half of the year when a cooling season is given (else symmetric)."""

    def daily_mean_c(self, day_of_year: float) -> float:
        """Seasonal daily-mean temperature on a (fractional) day of the year."""
        phase = 2.0 * math.pi * (day_of_year - self.coldest_day_of_year) / YEAR_DAYS
        swing = math.cos(phase)
        amplitude = self.amplitude_k
        if swing < 0.0 and self.summer_amplitude_k is not None:
            amplitude = self.summer_amplitude_k
        return self.annual_mean_c - amplitude * swing


def fit_seasonal_curve(climate: Climate) -> SeasonalCurve:
    """Fit the seasonal curve and spell spread to a station's climate (see module docstring)."""
    half = climate.heating_season_days / 2.0
    angle = 2.0 * math.pi * half / YEAR_DAYS
    edge = math.cos(angle)
    season_mean = math.sin(angle) / angle
    if season_mean - edge <= 0.0:
        raise ValueError(f"a heating season of {climate.heating_season_days} days is too long "
                         "to fit a seasonal curve")
    amplitude = (HEATING_LIMIT_C - climate.mean_heating_season_outdoor_temp_c) / (
        season_mean - edge
    )
    if amplitude <= 0.0:
        raise ValueError(f"mean heating-season temperature "
                         f"{climate.mean_heating_season_outdoor_temp_c} °C is not below "
                         f"{HEATING_LIMIT_C} °C")
    annual_mean = HEATING_LIMIT_C + amplitude * edge
    month, day = (int(part) for part in climate.heating_season_start.split("-"))
    start = date(2001, month, day).timetuple().tm_yday
    coldest = (start + half) % YEAR_DAYS
    coldest_curve = annual_mean - amplitude
    sigma = max(0.5, (coldest_curve - climate.design_outdoor_temp_c) / 2.0)
    summer = None
    if climate.cooling_season_days > 0:
        # the cooling design temperature is a hot-spell afternoon: the warmest daily mean of
        # the curve lies half a daily swing and one spell spread below it
        warmest = climate.design_cooling_outdoor_temp_c - climate.daily_swing_k / 2.0 - sigma
        summer = max(warmest - annual_mean, 0.0)
    return SeasonalCurve(annual_mean, amplitude, coldest, sigma, summer)


def day_of_year(moment: datetime) -> float:
    """Fractional day of the year (1.0 = 1 January 00:00) of a local time."""
    start = datetime(moment.year, 1, 1, tzinfo=moment.tzinfo)
    return 1.0 + (moment - start).total_seconds() / 86400.0


class OutdoorWeather:
    """Outdoor temperature and humidity of one station, advanced in time steps."""

    def __init__(self, climate: Climate, timezone: str, rng: random.Random) -> None:
        self.climate = climate
        self.curve = fit_seasonal_curve(climate)
        self._zone = ZoneInfo(timezone)
        self._rng = rng
        self.spell_k = rng.gauss(0.0, self.curve.spell_sigma_k)
        self.temp_c = 0.0
        self.humidity_pct = 60.0
        self.daily_mean_c = 0.0
        self._utc_offset = timedelta(0)
        self._offset_checked: datetime | None = None

    def local_time(self, now: datetime) -> datetime:
        """The station's local time for a UTC moment (offset refreshed once a day)."""
        checked = self._offset_checked
        if checked is None or abs((now - checked).total_seconds()) > 86400:
            offset = now.astimezone(self._zone).utcoffset()
            self._utc_offset = offset if offset is not None else timedelta(0)
            self._offset_checked = now
        return (now + self._utc_offset).replace(tzinfo=None)

    def in_heating_season(self, now: datetime) -> bool:
        """True while the calendar heating season of the climate is on."""
        return in_heating_season(self.climate, self.local_time(now))

    def in_cooling_season(self, now: datetime) -> bool:
        """True within the cooling season, centred on the warmest day of the seasonal curve."""
        days = self.climate.cooling_season_days
        if days <= 0:
            return False
        warmest = (self.curve.coldest_day_of_year + YEAR_DAYS / 2.0) % YEAR_DAYS
        distance = abs(day_of_year(self.local_time(now)) - warmest) % YEAR_DAYS
        return min(distance, YEAR_DAYS - distance) <= days / 2.0

    def advance(self, now: datetime, dt_s: float) -> None:
        """Move the weather to ``now``, ``dt_s`` seconds after the previous call."""
        decay = math.exp(-dt_s / SPELL_TIME_CONSTANT_S)
        spread = self.curve.spell_sigma_k * math.sqrt(max(0.0, 1.0 - decay * decay))
        self.spell_k = self.spell_k * decay + spread * self._rng.gauss(0.0, 1.0)
        local = self.local_time(now)
        doy = day_of_year(local)
        self.daily_mean_c = self.curve.daily_mean_c(doy) + self.spell_k
        hour = local.hour + local.minute / 60.0 + local.second / 3600.0
        swing = 0.5 * self.climate.daily_swing_k * math.cos(2.0 * math.pi * (hour - 15.0) / 24.0)
        self.temp_c = self.daily_mean_c + swing
        # relative humidity is highest at dawn when the air is coldest
        self.humidity_pct = min(98.0, max(20.0, 65.0 - 1.5 * swing))
