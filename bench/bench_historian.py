"""Historian benchmark: MQTT → committed rows against the idempotent-path ceiling, latency,
storage, one-year trend.

The ceiling that matters is the idempotent path the historian must take (binary COPY into a
staging table, then ``INSERT … ON CONFLICT (point_id, time) DO NOTHING``), measured in the same
run, in transactions of the historian's batch size; the raw COPY is printed beside it.

Run: .venv/bin/python bench/bench_historian.py [--stations 10 --points 200 --scans 300]
           [--plain] [--trend-days 365]

Everything runs on private instances (a Mosquitto and a PostgreSQL 15 cluster, with TimescaleDB
unless --plain) in a temporary directory, on loopback; the historian is a separate process
started with ``geoscada historian`` and its default settings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from geoscada.services import Mosquitto, PostgresCluster, timescaledb_installed
from historian import query, rollups
from historian.query import PointRef
from historian.schema import migrate
from historian.synthetic import Publisher, StationFeed
from plant.contract import Topic, topic


def scalar(dsn: str, statement: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(statement.encode()).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def copy_ceiling(dsn: str, rows: int) -> float:
    """Binary COPY of narrow sample rows straight into the samples table (same indexes)."""
    start = datetime(2025, 6, 1, tzinfo=UTC)
    with psycopg.connect(dsn) as conn:
        began = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
            "COPY samples (point_id, time, value, quality) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int4", "timestamptz", "float8", "int2"])
            for i in range(rows):
                copy.write_row((1 + i % 200, start + timedelta(seconds=i // 200), 1.5, 0))
        conn.commit()
        elapsed = time.perf_counter() - began
    return rows / elapsed


def idempotent_ceiling(dsn: str, rows: int, per_transaction: int = 50_000) -> float:
    """COPY into a staging table + INSERT … ON CONFLICT DO NOTHING, as the historian writes."""
    start = datetime(2025, 6, 1, tzinfo=UTC)
    with psycopg.connect(dsn) as conn:
        conn.execute("SET jit = off")
        conn.execute(
            "CREATE TEMP TABLE stage (point_id int4, time timestamptz, value float8,"
            " quality int2) ON COMMIT DELETE ROWS"
        )
        conn.commit()
        began = time.perf_counter()
        for first in range(0, rows, per_transaction):
            with conn.cursor() as cur:
                with cur.copy(
                    "COPY stage (point_id, time, value, quality) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["int4", "timestamptz", "float8", "int2"])
                    for i in range(first, min(rows, first + per_transaction)):
                        copy.write_row((1 + i % 200, start + timedelta(seconds=i // 200), 1.5, 0))
                cur.execute(
                    "INSERT INTO samples (point_id, time, value, quality)"
                    " SELECT point_id, time, value, quality FROM stage ORDER BY point_id, time"
                    " ON CONFLICT (point_id, time) DO NOTHING"
                )
            conn.commit()
        elapsed = time.perf_counter() - began
    return rows / elapsed


def start_historian(broker: str, dsn: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "geoscada.cli", "historian", "--broker", broker, "--db", dsn,
             "--client-id", "bench-historian"],
            stdout=out, stderr=subprocess.STDOUT,
        )


def wait_rows(dsn: str, target: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if scalar(dsn, "SELECT count(*) FROM samples") >= target:
            return time.perf_counter()
        time.sleep(0.05)
    raise SystemExit(f"only {scalar(dsn, 'SELECT count(*) FROM samples')} of {target} rows")


def throughput(
    broker: Mosquitto, dsn: str, stations: int, points: int, scans: int
) -> dict[str, float]:
    feeds = [StationFeed(f"bench-{i}", analogues=points - 2, meters=2) for i in range(stations)]
    payloads = []
    for step in range(scans):
        for feed in feeds:
            payloads.append(
                (topic(feed.station, Topic.DATA), feed.batch(step).model_dump_json().encode())
            )
    samples = scans * stations * points
    with Publisher(broker.url, client_id="bench-publisher") as publisher:
        for feed in feeds:
            publisher.publish(feed.birth())
        publisher.flush()
        began = time.perf_counter()
        for name, payload in payloads:
            publisher.publish_raw(name, payload)
        publisher.flush()
        published = time.perf_counter()
    done = wait_rows(dsn, samples, 600)
    return {
        "samples": samples,
        "messages": len(payloads),
        "samples_per_message": points,
        "publish_s": published - began,
        "ingest_s": done - began,
        "samples_per_s": samples / (done - began),
    }


def latency(broker: Mosquitto, dsn: str, count: int) -> dict[str, float]:
    feed = StationFeed(
        "bench-latency", analogues=198, meters=2, start=datetime(2026, 3, 1, tzinfo=UTC)
    )
    delays = []
    with Publisher(broker.url, client_id="bench-latency") as publisher, psycopg.connect(
        dsn, autocommit=True
    ) as conn:
        publisher.publish(feed.birth())
        publisher.flush()
        for _ in range(count):
            batch = feed.batch()
            sent = time.perf_counter()
            publisher.publish(batch)
            while True:
                row = conn.execute(
                    "SELECT 1 FROM received_batches WHERE station = 'bench-latency' AND seq = %s",
                    (batch.seq,),
                ).fetchone()
                if row:
                    break
                time.sleep(0.002)
            delays.append(time.perf_counter() - sent)
            time.sleep(0.05)
    delays.sort()
    return {
        "p50_ms": 1000 * statistics.median(delays),
        "p95_ms": 1000 * delays[int(0.95 * (len(delays) - 1))],
        "max_ms": 1000 * delays[-1],
    }


def storage(dsn: str, timescale: bool) -> dict[str, float]:
    size_sql = "hypertable_size('samples')" if timescale else "pg_total_relation_size('samples')"
    with psycopg.connect(dsn) as conn:
        size = conn.execute(f"SELECT {size_sql}").fetchone()
        rows = conn.execute("SELECT count(*) FROM samples").fetchone()
    assert size and rows
    return {"bytes": float(size[0]), "rows": float(rows[0]),
            "bytes_per_sample": float(size[0]) / float(rows[0])}


def year_trend(dsn: str, days: int) -> dict[str, float]:
    """Fill one point with 1 s data for ``days`` days, roll it up, time a 2000-point trend."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=days)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO stations (id) VALUES ('bench-year') ON CONFLICT DO NOTHING"
        )
        row = conn.execute(
            "INSERT INTO points (station, name, unit, dtype) VALUES"
            " ('bench-year', 'PW1.wellhead_temp', 'degC', 'float') RETURNING id"
        ).fetchone()
        assert row
        pid = int(row[0])
        began = time.perf_counter()
        day = start
        while day < end:
            conn.execute(
                "INSERT INTO samples (point_id, time, value, quality)"
                " SELECT %s, t, 55 + 8 * sin(extract(epoch FROM t) / 86400.0 * 2 * pi())"
                "  + 3 * sin(extract(epoch FROM t) / 600.0), 0"
                " FROM generate_series(%s, %s - interval '1 second', interval '1 second') t",
                (pid, day, day + timedelta(days=1)),
            )
            conn.execute(
                "INSERT INTO rollup_dirty (point_id, bucket) SELECT %s, b FROM generate_series("
                " %s, %s - interval '1 minute', interval '1 minute') b ON CONFLICT DO NOTHING",
                (pid, day, day + timedelta(days=1)),
            )
            day += timedelta(days=1)
        loaded = time.perf_counter() - began
    with psycopg.connect(dsn) as conn:
        rollups.prepare(conn)
        began = time.perf_counter()
        buckets = rollups.refresh_all(conn, limit=20000)
        rolled = time.perf_counter() - began
        point = PointRef("bench-year", "PW1.wellhead_temp")
        timings = []
        vertices = []
        for _ in range(5):
            began = time.perf_counter()
            vertices = query.trend(conn, point, start, end, 2000)
            timings.append(time.perf_counter() - began)
            conn.commit()
        raw_began = time.perf_counter()
        raw_rows = conn.execute(
            "SELECT count(*) FROM (SELECT width_bucket(extract(epoch FROM time - %(s)s), 0,"
            " extract(epoch FROM %(e)s - %(s)s), 1000) k, min(value), max(value)"
            " FROM samples WHERE point_id = %(p)s AND time >= %(s)s AND time < %(e)s"
            " GROUP BY k) x",
            {"s": start, "e": end, "p": pid},
        ).fetchone()
        raw_s = time.perf_counter() - raw_began
    return {
        "rows": days * 86400,
        "load_s": loaded,
        "rollup_buckets": buckets,
        "rollup_s": rolled,
        "trend_vertices": len(vertices),
        "trend_first_ms": 1000 * timings[0],
        "trend_median_ms": 1000 * statistics.median(timings),
        "raw_scan_trend_s": raw_s,
        "raw_scan_slots": float(raw_rows[0]) if raw_rows else 0.0,
    }


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--points", type=int, default=200, help="points per station scan")
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--trend-days", type=int, default=365)
    parser.add_argument("--plain", action="store_true", help="plain PostgreSQL, no TimescaleDB")
    args = parser.parse_args()
    timescale = not args.plain and timescaledb_installed()
    workdir = Path(tempfile.mkdtemp(prefix="geoscada-bench-", dir="/tmp"))
    workdir.chmod(0o755)
    print(f"load average before: {os.getloadavg()}")
    broker = Mosquitto(workdir / "broker")
    cluster = PostgresCluster(workdir / "pg", timescaledb=timescale)
    historian: subprocess.Popen[bytes] | None = None
    try:
        broker.start()
        cluster.start()
        dsn = cluster.create_database("bench")
        ceiling_dsn = cluster.create_database("ceiling")
        idempotent_dsn = cluster.create_database("idempotent")
        for target in (dsn, ceiling_dsn, idempotent_dsn):
            with psycopg.connect(target, autocommit=True) as conn:
                features = migrate(conn)
        print(f"database: PostgreSQL 15, {features}")
        ceiling = copy_ceiling(ceiling_dsn, 1_000_000)
        print(f"raw COPY ceiling: {ceiling:,.0f} rows/s")
        with psycopg.connect(idempotent_dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO stations (id) VALUES ('ceiling')")
            conn.execute(
                "INSERT INTO points (station, name) SELECT 'ceiling', 'p' || n"
                " FROM generate_series(1, 200) AS n"
            )
        idempotent = idempotent_ceiling(idempotent_dsn, 600_000)
        print(f"idempotent-path ceiling (COPY into staging + INSERT … ON CONFLICT, 50,000 rows"
              f" per transaction): {idempotent:,.0f} rows/s")
        historian = start_historian(broker.url, dsn, workdir / "historian.log")
        time.sleep(2)
        result = throughput(broker, dsn, args.stations, args.points, args.scans)
        print(
            f"MQTT → committed: {result['samples']:,} samples in {result['messages']:,} messages"
            f" of {result['samples_per_message']} samples; published in"
            f" {result['publish_s']:.1f} s, all committed after {result['ingest_s']:.1f} s:"
            f" {result['samples_per_s']:,.0f} samples/s"
            f" = {result['samples_per_s'] / idempotent:.0%} of the idempotent-path ceiling"
            f" ({result['samples_per_s'] / ceiling:.0%} of raw COPY)"
        )
        lat = latency(broker, dsn, args.latency_samples)
        print(
            f"publish → commit latency, {args.latency_samples} single 200-sample messages:"
            f" p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, max {lat['max_ms']:.0f} ms"
        )
        print(f"load average during ingest: {os.getloadavg()}")
        historian.terminate()
        historian.wait(60)
        historian = None
        store = storage(dsn, timescale)
        print(
            f"storage: {store['bytes'] / 1e6:.1f} MB for {store['rows']:,.0f} samples ="
            f" {store['bytes_per_sample']:.1f} bytes/sample (table + indexes)"
        )
        if args.trend_days:
            trend = year_trend(dsn, args.trend_days)
            print(
                f"{args.trend_days}-day trend of one 1 s point ({trend['rows']:,} rows; loaded in"
                f" {trend['load_s']:.0f} s; {trend['rollup_buckets']:,} minute buckets rolled up"
                f" in {trend['rollup_s']:.0f} s): {trend['trend_vertices']} vertices,"
                f" first {trend['trend_first_ms']:.0f} ms, median of 5"
                f" {trend['trend_median_ms']:.0f} ms; the same min/max scan over the raw rows"
                f" takes {trend['raw_scan_trend_s']:.1f} s"
            )
        print(f"load average after: {os.getloadavg()}")
    finally:
        if historian is not None:
            historian.terminate()
            historian.wait(60)
        cluster.stop()
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
