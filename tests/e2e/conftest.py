"""Module-wide parts of the fault suite: a PostgreSQL cluster it may crash, the simulator."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from geoscada.services import PostgresCluster, timescaledb_installed
from tests.e2e.rig import SITE, Plant
from tests.gateway.procs import SimProcess

_names = itertools.count()


@pytest.fixture(scope="module")
def e2e_root() -> Iterator[Path]:
    """A directory for the module's processes, traversable by the postgres user."""
    root = Path(tempfile.mkdtemp(prefix="geoscada-e2e-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(e2e_root: Path) -> Iterator[PostgresCluster]:
    """The suite's own PostgreSQL (scenarios crash it), with TimescaleDB when installed."""
    flavour = os.environ.get("GEOSCADA_TEST_DB", "timescaledb")
    instance = PostgresCluster(e2e_root / "pg",
                               timescaledb=flavour == "timescaledb" and timescaledb_installed())
    instance.start()
    yield instance
    instance.stop("immediate")


@pytest.fixture(scope="module")
def sim(e2e_root: Path) -> Iterator[SimProcess]:
    """The simulated station's devices, shared by the scenarios."""
    process = SimProcess(e2e_root / "sim", SITE)
    yield process
    process.stop()


@pytest.fixture
def plant(e2e_root: Path, cluster: PostgresCluster, sim: SimProcess) -> Iterator[Plant]:
    """One scenario's broker, database and tap; gateways and historians started by the test."""
    name = f"e2e_{next(_names)}"
    made = Plant(e2e_root / name, cluster, sim, name)
    yield made
    made.close()
