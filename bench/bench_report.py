"""Benchmark: a heating-season reinjection report of one station from one-second data.

Fills the doublet's reinjection points (well flows, reinjection temperatures, water levels) with
one sample per second for ``--days`` days from the season's start (binary COPY,
``historian.bulk``), rolls them up with the historian's rollup worker, then
times the season's reinjection report (database reads and computation) and its PDF.

    .venv/bin/python bench/bench_report.py [--days 193] [--plain]
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
from historian import bulk, rollups
from historian.bulk import Values
from historian.store import Inbound, Store
from plant.contract import Topic, topic
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
        store = Store(dsn)
        store.connect()
        store.write([Inbound(topic(site.station.id, Topic.BIRTH), b"",
                             writer.birth(1, period.start))])
        store.close()
        end = min(period.end, period.start + timedelta(days=args.days))
        began = time.perf_counter()
        with psycopg.connect(dsn, autocommit=True) as conn:
            ids: dict[str, int] = dict(conn.execute(
                "SELECT name, id FROM points WHERE station = %s", (site.station.id,)).fetchall())
            for name in names:
                bulk.load_series(conn, ids[name], start=period.start, end=end,
                                 step=timedelta(seconds=1), values=wave(name))
            rows = conn.execute("SELECT count(*) FROM samples").fetchone()
        loaded = time.perf_counter() - began
        print(f"loaded {rows[0] if rows else 0:,} samples of {len(names)} points "
              f"({(end - period.start).days} days at 1 s) in {loaded:.0f} s")
        with psycopg.connect(dsn) as conn:
            rollups.prepare(conn)
            began = time.perf_counter()
            buckets = rollups.refresh_all(conn, limit=20000)
            took = time.perf_counter() - began
            print(f"rolled up {buckets:,} one-minute buckets in {took:.0f} s")
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
