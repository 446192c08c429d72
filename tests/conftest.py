"""Shared fixtures: private Mosquitto and PostgreSQL instances, fresh databases, a thread-leak guard.

``postgres`` is parametrised over the database flavours: ``timescaledb`` (PostgreSQL 15 with the
extension preloaded) and ``postgres`` (plain PostgreSQL). ``GEOSCADA_TEST_DB=timescaledb`` or
``GEOSCADA_TEST_DB=postgres`` restricts the run to one flavour. A test may pin a flavour with
``@pytest.mark.parametrize("postgres", ["timescaledb"], indirect=True)``.

``make test`` runs the suite on two pytest-xdist workers (each with its own services): the
tests of one file stay on one worker, in order, and every browser test shares one worker, so
the one demo stack of ``tests/ui`` starts once.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from geoscada.services import Mosquitto, PostgresCluster

DB_FLAVOURS = ("timescaledb", "postgres")
THREAD_LEAK_GRACE_S = 3.0


def _flavours() -> list[str]:
    chosen = os.environ.get("GEOSCADA_TEST_DB", "").strip()
    if not chosen:
        return list(DB_FLAVOURS)
    if chosen not in DB_FLAVOURS:
        raise pytest.UsageError(
            f"GEOSCADA_TEST_DB={chosen!r} is not one of {', '.join(DB_FLAVOURS)}"
        )
    return [chosen]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each file's tests on one xdist worker, and every test of the UI's demo stack on one."""
    for item in items:
        group = "ui-stack" if "ui_stack" in getattr(item, "fixturenames", ()) else \
            item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker that lets a test keep threads running past its end."""
    config.addinivalue_line(
        "markers", "allow_thread_leak: the test may leave threads running after it ends"
    )


@pytest.fixture(scope="session")
def service_root() -> Iterator[Path]:
    """A directory for the session's private services, traversable by the postgres user."""
    root = Path(tempfile.mkdtemp(prefix="geoscada-test-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mosquitto(service_root: Path) -> Iterator[Mosquitto]:
    """A private Mosquitto broker on a free loopback port, persistent, shared by the session."""
    broker = Mosquitto(service_root / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session", params=_flavours())
def postgres(request: pytest.FixtureRequest, service_root: Path) -> Iterator[PostgresCluster]:
    """A private PostgreSQL 15 cluster, with or without TimescaleDB (see the module docstring)."""
    flavour: str = request.param
    if flavour not in DB_FLAVOURS:
        raise ValueError(f"unknown database flavour {flavour!r}")
    cluster = PostgresCluster(
        service_root / f"pg-{flavour}", timescaledb=flavour == "timescaledb"
    )
    cluster.start()
    yield cluster
    cluster.stop("immediate")


_database_names = itertools.count()


@pytest.fixture
def database(postgres: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database in the session's cluster; yields its DSN."""
    name = f"test_{os.getpid()}_{next(_database_names)}"
    dsn = postgres.create_database(name)
    yield dsn
    if postgres.running:
        postgres.drop_database(name)


@pytest.fixture(autouse=True)
def no_thread_leak(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves threads running after it ends (with a short grace)."""
    before = set(threading.enumerate())
    yield
    if request.node.get_closest_marker("allow_thread_leak"):
        return
    deadline = time.monotonic() + THREAD_LEAK_GRACE_S
    leaked: list[threading.Thread] = []
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if leaked:
        names = ", ".join(sorted(t.name for t in leaked))
        pytest.fail(f"test left {len(leaked)} thread(s) running: {names}", pytrace=False)
