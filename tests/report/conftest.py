"""Fixtures of the report tests: one simulated heating season in a database per module."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from geoscada.services import PostgresCluster
from plant.site import Site, load_site
from report.periods import parse_period
from report.synthetic import Season, SeasonWriter, Trip

SITE = Path(__file__).resolve().parents[2] / "sites" / "hydrothermal-doublet.yaml"
ZONE = ZoneInfo("Asia/Shanghai")
_names = itertools.count()


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """A station-local time."""
    return datetime(year, month, day, hour, tzinfo=ZONE)


@dataclass(frozen=True)
class SeasonDb:
    """The season written, where it was written, and the site it belongs to."""

    dsn: str
    site: Site
    season: Season
    writer: SeasonWriter


def doublet_season(site: Site) -> Season:
    """The doublet's 2025-2026 season with its events (see tests/report/test_reports.py)."""
    period = parse_period("2025-2026-season", site.station.timezone, site.station.climate)
    return Season(
        start=period.start, end=period.end,
        # the gateway is down 36 h inside December
        outage=(local(2025, 12, 10), local(2025, 12, 11, 12)),
        bad=[
            ("PW1.flow", local(2025, 11, 20, 9), local(2025, 11, 20, 12)),  # 3 h
            ("RW1.flow", local(2026, 3, 5), local(2026, 3, 9)),  # 96 h: March 87 %
            ("RW3.flow", local(2026, 4, 10), local(2026, 4, 18)),  # 8 days of 25: April < 80 %
        ],
        trips=[
            # the reinjection pump of RW3 trips for 6 h
            Trip("RW3.flow", local(2026, 1, 10, 2), local(2026, 1, 10, 8), 0.0),
            # RW1 throttled for 4 h before its meter fails in March
            Trip("RW1.flow", local(2026, 3, 2, 10), local(2026, 3, 2, 14), 30.0),
        ],
        clogging_well="RW2",
    )


@pytest.fixture(scope="module")
def season_db(postgres: PostgresCluster) -> Iterator[SeasonDb]:
    """A database holding the doublet's simulated season, written through the historian."""
    name = f"report_{os.getpid()}_{next(_names)}"
    dsn = postgres.create_database(name)
    site = load_site(SITE)
    season = doublet_season(site)
    writer = SeasonWriter(site, season)
    writer.write(dsn)
    yield SeasonDb(dsn, site, season, writer)
    if postgres.running:
        postgres.drop_database(name)
