"""Climate curve and heating schedule as pure functions, shared by the simulator's PLC logic and
the supervisory controller so both decide on equal terms."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from plant.site import WEEKDAYS, Climate, HeatPump, Schedule, Site, Staging, Station

EMITTER_EXPONENT = 1.3
"""Radiator output exponent (EN 442)."""
BUILDING_TIME_CONSTANT_S = 40 * 3600.0
"""Thermal time constant of the heated buildings (capacity over heat-loss conductance)."""
HEAT_PUMP_START_S = 120.0
"""How long a started heat pump runs at minimum-load power before it heats (assumed, not a seed
figure: pressures build and the refrigerant settles)."""
HEAT_PUMP_RAMP_PER_S = 1.0 / 300.0
"""How fast a started heat pump may load up (full capacity five minutes after start)."""


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


@dataclass(frozen=True)
class Heating:
    """What the station heats for now: comfort, the anti-freeze guard, or nothing."""

    season: bool
    """The climate's calendar heating season."""
    comfort: bool
    """Comfort heating: the season and an occupied period (every hour, without a schedule)."""
    guarding: bool
    """The anti-freeze guard holds: the coldest room fell below its threshold plus the guard's
    margin and has not yet risen the band above the threshold."""

    @property
    def on(self) -> bool:
        """The plant heats: for comfort, or because the guard, which always wins, asks."""
        return self.comfort or self.guarding

    @property
    def guard_alone(self) -> bool:
        """Only the anti-freeze guard asks for heat (comfort heating is off)."""
        return self.guarding and not self.comfort


def heating_wanted(station: Station, local: datetime, coldest_room_c: float,
                   guarding: bool) -> Heating:
    """Comfort heating and the anti-freeze guard at this local time and coldest room.

    Comfort heating runs in the calendar heating season, in the schedule's occupied periods
    (every hour without a schedule). The anti-freeze guard, which always wins, heats all year,
    in and out of the season: from the moment the coldest room falls below its threshold plus
    :func:`guard_margin_k`, so its units heat before the room reaches the threshold, until it
    is the band above the threshold (:attr:`plant.site.Station.antifreeze_guard`).
    """
    season = in_heating_season(station.climate, local)
    schedule = station.schedule
    comfort = season and (schedule is None or occupied(schedule, local))
    guard = station.antifreeze_guard
    if coldest_room_c < guard.indoor_c + guard_margin_k(station):
        guarding = True
    elif coldest_room_c >= guard.indoor_c + guard.band_k:
        guarding = False
    return Heating(season, comfort, guarding)


def guard_lead_s(station: Station) -> float:
    """Longest the guard's line-up may take to heat once the guard asks: a unit stopped just
    before waits out its compressor's minimum off time, then starts and loads up to full."""
    protection = (station.staging or Staging()).compressor_off_min_s
    return protection + HEAT_PUMP_START_S + 1.0 / HEAT_PUMP_RAMP_PER_S


def guard_margin_k(station: Station) -> float:
    """How far above its threshold the guard engages: what unheated rooms at the threshold
    cool at the design outdoor temperature in :func:`guard_lead_s`."""
    lost_k = station.antifreeze_guard.indoor_c - station.climate.design_outdoor_temp_c
    return lost_k / BUILDING_TIME_CONSTANT_S * guard_lead_s(station)


def guard_load_kw(station: Station) -> float:
    """Heat that holds the coldest room at the top of the guard's band at design outdoor
    temperature (the design load scaled by the indoor-outdoor difference)."""
    design_out = station.climate.design_outdoor_temp_c
    guard = station.antifreeze_guard
    return station.design_heat_load_kw * (guard.indoor_c + guard.band_k - design_out) / (
        station.indoor_design_temp_c - design_out)


def guard_lineup(site: Site, unavailable: Collection[str] = ()) -> frozenset[str]:
    """The fewest heat pumps, in the order the station starts them (by cascade stage, then as
    the site file lists them), whose rated heat carries :func:`guard_load_kw`; all of them
    when together they cannot. A unit ``unavailable`` (tripped, locked out by its protection)
    is passed over, so the next one stands in for it."""
    load = guard_load_kw(site.station)
    units = sorted((e for e in site.equipment
                    if isinstance(e, HeatPump) and e.id not in unavailable),
                   key=lambda hp: hp.stage)
    chosen: list[str] = []
    rated = 0.0
    for hp in units:
        if rated >= load:
            break
        chosen.append(hp.id)
        rated += hp.rated_heat_kw
    return frozenset(chosen)


def guard_units(site: Site, heating: Heating,
                unavailable: Collection[str] = ()) -> frozenset[str] | None:
    """The heat pumps that may run while the anti-freeze guard heats alone (None: any).

    A site with an anti-freeze standby mode guards with that mode's units, in and out of the
    season. Out of the season a site without it guards with its heating modes (direct supply
    first where it has it) and :func:`guard_lineup`, staged to the load from none or one unit
    up, a unit ``unavailable`` replaced by the next; in the season such a site guards with its
    heating modes and every unit, as it always has.
    """
    if not heating.guard_alone:
        return None
    standby = next((m for m in site.modes if m.kind == "antifreeze_standby"), None)
    if standby is not None:
        return frozenset(standby.units)
    return None if heating.season else guard_lineup(site, unavailable)


def in_heating_season(climate: Climate, local: datetime) -> bool:
    """True while the calendar heating season of the climate is on (local wall time)."""
    month, day = (int(part) for part in climate.heating_season_start.split("-"))
    start = datetime(local.year, month, day)
    naive = local.replace(tzinfo=None)
    if start > naive:
        start = datetime(local.year - 1, month, day)
    return (naive - start).total_seconds() < climate.heating_season_days * 86400.0
