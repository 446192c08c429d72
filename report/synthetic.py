"""A synthetic heating season of a station's wells and meters, written through the historian's
store: the reports' tests and benchmark read it back. Deterministic; events are explicit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from historian.store import Inbound, Store
from plant.contract import (
    Birth,
    DataBatch,
    Death,
    PointInfo,
    Quality,
    Reason,
    Sample,
    Topic,
    topic,
)
from plant.measurands import COUNTERS
from plant.site import Site
from report.energy import energy_meters

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Trip:
    """A point held at ``value`` over a span (a pump trip or a throttled well)."""

    point: str
    start: datetime
    end: datetime
    value: float


@dataclass
class Season:
    """What happens in the season: a station outage, bad-quality spans, trips, clogging."""

    start: datetime
    end: datetime
    outage: Span | None = None
    bad: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    trips: list[Trip] = field(default_factory=list)
    clogging_well: str | None = None
    clogging_head_m: tuple[float, float] = (10.0, 20.0)
    flow_period_s: int = 300
    slow_period_s: int = 900
    meter_period_s: int = 3600
    points: tuple[str, ...] = ()


PRODUCTION_M3H = 100.0
HEAT_GJ_PER_H = 36.0
HEAT_PUMP_KW = 1000.0
ELECTRIC_KWH_PER_H = {"heat_pump": 200.0, "production_well": 50.0, "pump": 20.0}


def season_points(site: Site) -> list[str]:
    """The points the season writes: the wells' flows, temperatures and levels, every energy
    meter and the heat pumps' heat power."""
    from report.reinjection import required_points

    meters = energy_meters(site)
    return [*required_points(site), *meters.counters(), *meters.heat_pump_heat]


def point_info(site: Site, name: str, period_s: float) -> PointInfo:
    """The birth metadata of one of the site's points."""
    point = site.point(name)
    kind = site.equipment_by_id(point.equipment).kind
    return PointInfo(id=point.id, equipment=point.equipment, equipment_kind=kind,
                     measurand=point.measurand, unit=point.unit, dtype=point.dtype,
                     range=point.range, counter=point.measurand in COUNTERS,
                     rollover=point.rollover, period_s=period_s)


class SeasonWriter:
    """Makes the season's values and writes them through a historian ``Store``."""

    def __init__(self, site: Site, season: Season) -> None:
        self.site = site
        self.season = season
        self.names = list(season.points) or [
            n for n in season_points(site) if not n.endswith(".wellhead_pressure")]
        self.production = [n for n in self.names if n.startswith("PW") and n.endswith(".flow")]
        self.reinjection = [n for n in self.names if n.startswith("RW") and n.endswith(".flow")]
        self.rate = {n: self._rate(n) for n in self.names if self._is_counter(n)}

    def _is_counter(self, name: str) -> bool:
        return self.site.point(name).measurand in COUNTERS

    def _rate(self, name: str) -> float:
        point = self.site.point(name)
        if point.measurand == "heat_energy":
            return HEAT_GJ_PER_H
        kind = self.site.equipment_by_id(point.equipment).kind
        if kind == "electricity_meter":
            return sum(self._rate(n) for n in self.names if self._is_counter(n)
                       and self.site.point(n).measurand == "electric_energy"
                       and self.site.equipment_by_id(self.site.point(n).equipment).kind
                       != "electricity_meter") + 10.0
        return ELECTRIC_KWH_PER_H.get(kind, 20.0)

    def period_of(self, name: str) -> int:
        """Seconds between two samples of a point."""
        if name.endswith(".flow"):
            return self.season.flow_period_s
        if self._is_counter(name) or name.endswith(".heat_power"):
            return self.season.meter_period_s
        return self.season.slow_period_s

    def value(self, name: str, moment: datetime) -> float:
        """The point's true value at a moment (counters: the reading)."""
        for trip in self.season.trips:
            if trip.point == name and trip.start <= moment < trip.end:
                return trip.value
        hours = (moment - self.season.start).total_seconds() / 3600.0
        if name in self.rate:
            return round(self.rate[name] * hours, 6)
        if name.endswith(".heat_power"):
            return HEAT_PUMP_KW
        if name in self.production:
            return PRODUCTION_M3H
        if name in self.reinjection:
            return PRODUCTION_M3H * len(self.production) / len(self.reinjection)
        well = name.split(".", maxsplit=1)[0]
        if name.endswith(".injection_temp"):
            return 18.0 + 0.5 * self.reinjection.index(f"{well}.flow")
        if name.endswith(".water_level"):
            static = self.site.equipment_by_id(well).static_level_m  # type: ignore[union-attr]
            first, last = self.season.clogging_head_m
            head = first
            if well == self.season.clogging_well:
                share = (moment - self.season.start) / (self.season.end - self.season.start)
                head = first + (last - first) * share
            return float(static) - head
        raise KeyError(name)

    def is_bad(self, name: str, moment: datetime) -> bool:
        """True inside one of the point's bad spans."""
        return any(p == name and a <= moment < b for p, a, b in self.season.bad)

    def in_outage(self, moment: datetime) -> bool:
        """True while the station's gateway is down."""
        outage = self.season.outage
        return outage is not None and outage[0] <= moment < outage[1]

    def samples(self, lo: datetime, hi: datetime) -> Iterator[Sample]:
        """The samples of [lo, hi) in time order."""
        step = timedelta(seconds=min(self.period_of(n) for n in self.names))
        moment = lo
        while moment < hi:
            if not self.in_outage(moment):
                offset = int((moment - self.season.start).total_seconds())
                for name in self.names:
                    if offset % self.period_of(name):
                        continue
                    if self.is_bad(name, moment):
                        yield Sample(p=name, t=moment, v=None, q=Quality.BAD,
                                     r=Reason.COMM_LOST)
                    else:
                        yield Sample(p=name, t=moment, v=self.value(name, moment))
            moment += step

    def birth(self, session: int, at: datetime) -> Birth:
        """The gateway's birth for one session."""
        site_hash = hashlib.sha256(self.site.model_dump_json().encode()).hexdigest()
        return Birth(
            station=self.site.station.id, session=session, bdseq=session, t=at,
            gateway="season", name=self.site.station.name, kind=self.site.station.kind,
            timezone=self.site.station.timezone, site_hash=site_hash,
            points=tuple(point_info(self.site, n, self.period_of(n)) for n in self.names))

    def write(self, dsn: str, batch: timedelta = timedelta(hours=1), per_write: int = 200) -> int:
        """Write the whole season; return the number of samples written."""
        station = self.site.station.id
        store = Store(dsn)
        store.connect()
        written = 0
        try:
            store.write([Inbound(topic(station, Topic.BIRTH), b"",
                                 self.birth(1, self.season.start))])
            session, seq = 1, 0
            pending: list[Inbound] = []
            moment = self.season.start
            outage = self.season.outage
            while moment < self.season.end:
                upper = min(moment + batch, self.season.end)
                if outage is not None and moment < outage[0] < upper:
                    upper = outage[0]
                if outage is not None and moment == outage[0]:
                    store.write(pending)
                    pending = []
                    death = Death(station=station, session=session, bdseq=session, t=moment)
                    store.write([Inbound(topic(station, Topic.DEATH), b"", death)])
                    session, seq = session + 1, 0
                    store.write([Inbound(topic(station, Topic.BIRTH), b"",
                                         self.birth(session, outage[1]))])
                    moment = outage[1]
                    continue
                samples = tuple(self.samples(moment, upper))
                if samples:
                    pending.append(Inbound(topic(station, Topic.DATA), b"", DataBatch(
                        station=station, session=session, seq=seq, samples=samples)))
                    seq += 1
                    written += len(samples)
                if len(pending) >= per_write:
                    store.write(pending)
                    pending = []
                moment = upper
            if pending:
                store.write(pending)
        finally:
            store.close()
        return written
