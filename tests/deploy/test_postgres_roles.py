"""deploy/postgres-setup.sql: the historian migrates and writes as the ingest role; the query and
report roles read and can change nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from geoscada.services import LOOPBACK, PostgresCluster
from historian.schema import migrate

pytestmark = pytest.mark.integration

SETUP = Path(__file__).parents[2] / "deploy" / "postgres-setup.sql"


def as_role(cluster: PostgresCluster, role: str, database: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"postgresql://{role}@{LOOPBACK}:{cluster.port}/{database}",
                           autocommit=True, connect_timeout=10)


@pytest.mark.parametrize("postgres", ["timescaledb"], indirect=True)
def test_roles_have_least_privilege(postgres: PostgresCluster, database: str) -> None:
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed")
    name = database.rsplit("/", 1)[1]
    for _ in range(2):  # idempotent
        result = subprocess.run([psql, "-X", "-q", "-v", f"db={name}", "-f", str(SETUP),
                                 database], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    postgres.execute(f'ALTER DATABASE "{name}" OWNER TO geoscada_ingest')

    with as_role(postgres, "geoscada_ingest", name) as ingest:
        features = migrate(ingest)
        assert features.timescaledb
        attributes = ingest.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                                    "WHERE rolname = current_user").fetchone()
        assert attributes == (False, False, False)
    tables = _tables(postgres, name)
    assert "samples" in tables
    for reader in ("geoscada_query", "geoscada_report"):
        with as_role(postgres, reader, name) as conn:
            for table in tables:
                conn.execute(f'SELECT count(*) FROM "{table}"')
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM samples")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE mine (x int)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DROP TABLE samples")


def _tables(cluster: PostgresCluster, database: str) -> list[str]:
    with psycopg.connect(cluster.dsn_for(database), connect_timeout=10) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return [str(row[0]) for row in rows]
