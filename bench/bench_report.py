"""Benchmark: a heating-season reinjection report of one station from one-second data.

Fills the doublet's reinjection points (well flows, reinjection temperatures, water levels) with
one sample per second for ``--days`` days from the season's start and rolls them up
(``historian.bulk``: binary COPY, then the set-based rollup of each point's range), then
times the season's reinjection report (database reads and computation) and its PDF.

    .venv/bin/python bench/bench_report.py [--days 193] [--workers 2] [--plain]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg

from geoscada.services import PostgresCluster
from historian import bulk
from historian.bulk import Values
from plant.site import load_site
from report.make import reinjection_report
from report.periods import parse_period
from report.reinjection import required_points
from report.render import render
from report.synthetic import Season, SeasonWriter

SITE = Path(__file__).resolve().parents[1] / "sites" / "hydrothermal-doublet.yaml"
SEASON = "2025-2026-season"


def wave(name: str) -> Values:
    """A steady value with a slow wave, per kind of point."""
    if name.startswith("PW") and name.endswith(".flow"):
        return lambda t: 100 + 3 * np.sin(t / 3600.0)
    if name.endswith(".flow"):
        return lambda t: 66.667 + 2 * np.sin(t / 3600.0)
    if name.endswith(".injection_temp"):
        return lambda t: 18 + 0.5 * np.sin(t / 86400.0)
    return lambda t: 45 + 0.2 * np.sin(t / 86400.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=193, help="days of 1 s data (season: 193)")
    parser.add_argument("--workers", type=int, default=bulk.WORKERS,
                        help="connections loading and rolling up points side by side")
    parser.add_argument("--plain", action="store_true", help="plain PostgreSQL, no TimescaleDB")
    args = parser.parse_args()
    site = load_site(SITE)
    period = parse_period(SEASON, site.station.timezone, site.station.climate)
    names = [n for n in required_points(site) if not n.endswith(".wellhead_pressure")]
    workdir = Path(tempfile.mkdtemp(prefix="geoscada-bench-report-", dir="/tmp"))
    workdir.chmod(0o755)
    print(f"load average before: {os.getloadavg()}")
    cluster = PostgresCluster(workdir / "pg", timescaledb=not args.plain)
    try:
        cluster.start()
        dsn = cluster.create_database("bench")
        writer = SeasonWriter(site, Season(period.start, period.end, points=tuple(names)))
        end = min(period.end, period.start + timedelta(days=args.days))
        loaded = bulk.write_points(dsn, writer.birth(1, period.start),
                                   {name: wave(name) for name in names}, start=period.start,
                                   end=end, step=timedelta(seconds=1), workers=args.workers)
        print(f"loaded {loaded.rows:,} samples of {len(names)} points "
              f"({(end - period.start).days} days at 1 s) in {loaded.load_s:.0f} s; rolled up "
              f"{loaded.rollup_buckets:,} one-minute buckets in {loaded.rollup_s:.0f} s "
              f"(load average {os.getloadavg()[0]:.1f})")
        timings = []
        pdf_timings = []
        for _ in range(3):
            with psycopg.connect(dsn, options="-c jit=off") as conn:
                began = time.perf_counter()
                cpu = time.process_time()
                report = reinjection_report(conn, site, SEASON, as_of=period.end)
                timings.append((time.perf_counter() - began, time.process_time() - cpu))
            began = time.perf_counter()
            render(report, "pdf")
            pdf_timings.append(time.perf_counter() - began)
        walls = [w for w, _ in timings]
        print(f"season reinjection report: median {statistics.median(walls):.2f} s wall "
              f"(runs {', '.join(f'{w:.2f}' for w in walls)}), CPU of this process "
              f"{statistics.median([c for _, c in timings]):.2f} s; PDF "
              f"{statistics.median(pdf_timings):.2f} s")
        print(f"load average after: {os.getloadavg()}")
    finally:
        cluster.stop("immediate")
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
