"""Fixtures of the historian tests: a broker per test, historians in-process or as processes."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from geoscada.services import Mosquitto, PostgresCluster
from historian.ingest import Historian
from historian.settings import HistorianSettings

_ids = itertools.count()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def count(dsn: str, query: str, *params: object) -> int:
    """Run a counting query; -1 when the database cannot be reached or the historian has not
    finished laying out its schema (tables and columns are added in steps)."""
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            row = conn.execute(query.encode(), params).fetchone()
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable,
            psycopg.errors.UndefinedColumn):
        return -1
    return int(row[0]) if row and row[0] is not None else 0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private broker for one test (retained births do not leak between tests)."""
    instance = Mosquitto(tmp_path / "broker")
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def historian_factory() -> Iterator[Callable[..., Historian]]:
    """Start in-process historians; every one is stopped at the end of the test."""
    started: list[Historian] = []

    def start(broker_url: str, dsn: str, **overrides: object) -> Historian:
        settings = HistorianSettings(
            broker=broker_url,
            db=dsn,
            client_id=str(overrides.pop("client_id", f"historian-{os.getpid()}-{next(_ids)}")),
            batch_max_wait_s=0.05,
            rollup_interval_s=0.5,
            retry_max_s=1.0,
            **overrides,
        )
        historian = Historian(settings)
        historian.start()
        started.append(historian)
        assert historian.wait_connected(10), "historian did not connect to the broker"
        return historian

    yield start
    for historian in started:
        historian.stop()


class HistorianProcess:
    """``geoscada historian`` as a child process, for kill -9 tests."""

    def __init__(self, broker_url: str, dsn: str, client_id: str, log: Path, *extra: str) -> None:
        self.args = [
            sys.executable, "-m", "geoscada.cli", "historian", "--broker", broker_url,
            "--db", dsn, "--client-id", client_id, "--batch-max-wait", "0.05",
            "--rollup-interval", "0.5", *extra,
        ]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> None:
        """SIGTERM and wait for a clean exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def historian_process(tmp_path: Path) -> Iterator[Callable[..., HistorianProcess]]:
    """Make historian child processes; all are stopped at the end of the test."""
    made: list[HistorianProcess] = []

    def make(broker_url: str, dsn: str, client_id: str, *extra: str) -> HistorianProcess:
        process = HistorianProcess(
            broker_url, dsn, client_id, tmp_path / f"{client_id}.log", *extra
        )
        made.append(process)
        return process

    yield make
    for process in made:
        process.terminate()


@pytest.fixture
def own_postgres(service_root: Path, request: pytest.FixtureRequest) -> Iterator[PostgresCluster]:
    """A cluster of this test's own (with TimescaleDB unless GEOSCADA_TEST_DB=postgres)."""
    flavour = os.environ.get("GEOSCADA_TEST_DB", "timescaledb")
    cluster = PostgresCluster(
        service_root / f"own-{request.node.name[:40]}-{next(_ids)}",
        timescaledb=flavour == "timescaledb",
    )
    cluster.start()
    yield cluster
    cluster.stop("immediate")
