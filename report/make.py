"""Make a report from the historian: read its inputs, then compute it with the pure builders."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from psycopg import Connection

from plant.site import Site
from report import source
from report.energy import EnergyParameters, build_energy_report, energy_meters
from report.model import Report
from report.periods import ReportPeriod, parse_period
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
            ) -> tuple[ReportPeriod, datetime]:
    timezone, _ = source.station_record(conn, site.station.id)
    period = parse_period(text, timezone, site.station.climate)
    moment = default_as_of(period) if as_of is None else as_of
    return period, moment


def reinjection_report(conn: Connection[Any], site: Site, period_text: str, *,
                       as_of: datetime | None = None,
                       parameters: ReinjectionParameters | None = None) -> Report:
    """The reinjection compliance report of the site's station for a period."""
    period, moment = _period(conn, site, period_text, as_of)
    meters = source.meter_hours(conn, site.station.id, required_points(site), period.hours(),
                                moment)
    report = build_reinjection_report(site, period, meters, _inputs(conn, site, period, moment),
                                      parameters=parameters)
    return _with_site_warning(report)


def energy_report(conn: Connection[Any], site: Site, period_text: str, *,
                  as_of: datetime | None = None,
                  parameters: EnergyParameters | None = None) -> Report:
    """The energy and carbon report of the site's station for a period."""
    period, moment = _period(conn, site, period_text, as_of)
    chosen = energy_meters(site)
    blocks = [*period.months(), (period.label, period.start, period.end)]
    totals = source.meter_totals(conn, site.station.id, chosen.counters(), blocks, moment)
    heat = source.meter_hours(conn, site.station.id, list(chosen.heat_pump_heat),
                              period.hours(), moment)
    report = build_energy_report(site, period, totals, heat, _inputs(conn, site, period, moment),
                                 parameters=parameters)
    return _with_site_warning(report)


def _with_site_warning(report: Report) -> Report:
    if report.inputs.get("site_matches_station_birth"):
        return report
    from dataclasses import replace

    return replace(report, statements=(
        "WARNING: the site file differs from the one the station's gateway announced in its "
        "birth; the well definitions used here may not be the station's.", *report.statements))
