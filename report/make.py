"""Make a report from the historian: read its inputs, then compute it with the pure builders."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import Connection

from plant.site import Site
from report import source
from report.energy import EnergyParameters, build_energy_report, energy_meters
from report.model import Report
from report.periods import PeriodError, ReportPeriod, parse_period
from report.reinjection import ReinjectionParameters, build_reinjection_report, required_points

QUERY = {
    "hourly_means": "historian.query.aggregates(point, start, end, 1 h): time-weighted mean",
    "missing_time": "gap_ledger: session_death, unfilled seq_gap, the point's bad_quality "
                    "spans; time before the station's first record or after as_of",
    "meter_totals": "historian.query.counter_total(meter, month start, month end)",
}


def default_as_of(period: ReportPeriod, now: datetime | None = None) -> datetime:
    """The period's end, or the last whole hour before now for a period still running."""
    moment = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    return min(period.end, max(period.start, moment))


def _inputs(conn: Connection[Any], site: Site, period: ReportPeriod, as_of: datetime
            ) -> dict[str, Any]:
    station = site.station.id
    _, announced = source.station_record(conn, station)
    site_hash = hashlib.sha256(site.model_dump_json().encode()).hexdigest()
    return {
        "station": station,
        "station_name": site.station.name,
        "period": {"label": period.label, "kind": period.kind, "timezone": period.timezone,
                   "start": period.start.astimezone(UTC).isoformat(),
                   "end": period.end.astimezone(UTC).isoformat()},
        "as_of": as_of.astimezone(UTC).isoformat(),
        "site_sha256": site_hash,
        "site_matches_station_birth": site_hash == announced,
        "query": QUERY,
        "data_watermark": source.data_watermark(conn, station, period.end),
        "code": source.code_version(),
    }


def _period(conn: Connection[Any], site: Site, text: str, as_of: datetime | None
            ) -> tuple[ReportPeriod, datetime, bool]:
    timezone, _ = source.station_record(conn, site.station.id)
    period = parse_period(text, timezone, site.station.climate)
    moment = default_as_of(period) if as_of is None else as_of
    if moment < period.end:
        # a period still running is reported up to the last whole hour before as_of: the
        # hours still to come are neither measured nor missing
        hours = int(max(0.0, (moment - period.start).total_seconds()) // 3600)
        if hours < 1:
            raise PeriodError(f"period {text} has no whole hour of data before "
                              f"{moment.isoformat()}")
        return replace(period, end=period.start + timedelta(hours=hours)), moment, True
    return period, moment, False


def reinjection_report(conn: Connection[Any], site: Site, period_text: str, *,
                       as_of: datetime | None = None,
                       parameters: ReinjectionParameters | None = None) -> Report:
    """The reinjection compliance report of the site's station for a period."""
    period, moment, running = _period(conn, site, period_text, as_of)
    meters = source.meter_hours(conn, site.station.id, required_points(site), period.hours(),
                                moment)
    report = build_reinjection_report(site, period, meters, _inputs(conn, site, period, moment),
                                      parameters=parameters)
    return _with_notes(report, running)


def energy_report(conn: Connection[Any], site: Site, period_text: str, *,
                  as_of: datetime | None = None,
                  parameters: EnergyParameters | None = None) -> Report:
    """The energy and carbon report of the site's station for a period."""
    period, moment, running = _period(conn, site, period_text, as_of)
    chosen = energy_meters(site)
    blocks = [*period.months(), (period.label, period.start, period.end)]
    totals = source.meter_totals(conn, site.station.id, chosen.counters(), blocks, moment)
    heat = source.meter_hours(conn, site.station.id, list(chosen.heat_pump_heat),
                              period.hours(), moment)
    report = build_energy_report(site, period, totals, heat, _inputs(conn, site, period, moment),
                                 parameters=parameters)
    return _with_notes(report, running)


def _with_notes(report: Report, running: bool) -> Report:
    notes: list[str] = []
    if not report.inputs.get("site_matches_station_birth"):
        notes.append("WARNING: the site file differs from the one the station's gateway "
                     "announced in its birth; the well definitions used here may not be the "
                     "station's.")
    if running:
        notes.append(f"The period has not ended: this report covers it up to "
                     f"{report.inputs['period']['end']} (UTC).")
    return replace(report, statements=(*notes, *report.statements)) if notes else report
