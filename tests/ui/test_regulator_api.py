"""The regulator API served by the UI's application: a token reads only its stations, and
every read is audited (the API itself: tests/report/test_api.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from report.api import ensure_schema, issue_token
from tests.ui.apphelpers import UiHarness

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("postgres", ["postgres"], indirect=True)]


def test_the_ui_serves_the_regulator_api_when_configured(database: str, tmp_path: Path) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        ensure_schema(conn)
        token = issue_token(conn, "provincial bureau", ["hydrothermal-doublet"],
                            timedelta(days=30))
    bearer = {"Authorization": f"Bearer {token}"}
    client = UiHarness(tmp_path / "ui").client(regulator_database=database)
    answer = client.get("/regulator/stations", headers=bearer)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"regulator": "provincial bureau",
                             "stations": ["hydrothermal-doublet"]}
    other = client.get("/regulator/stations/shallow-field/indicators",
                       params={"period": "2026-01"}, headers=bearer)
    assert other.status_code == 403
    assert client.get("/regulator/stations").status_code == 401
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT status FROM report_audit ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [200, 403, 401]
    without = UiHarness(tmp_path / "plain").client()
    assert without.get("/regulator/stations", headers=bearer).status_code == 404
