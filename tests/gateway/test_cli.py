"""``geoscada gateway``: bad input stops it at start with one line naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoscada.cli import main as geoscada
from tests.gateway.conftest import SITE_FILE


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--broker", "http://x"], "must look like mqtt://host:port"),
        (["--broker", "mqtt://h:1", "--endpoint", "plc9=h:1"], "unknown device 'plc9'"),
        (["--broker", "mqtt://h:1", "--endpoint", "plc1"], "DEVICE=HOST:PORT"),
        (["--broker", "mqtt://h:1", "--endpoint", "opc1=h:1"], "opc.tcp://"),
        (["--broker", "mqtt://h:1", "--password-file", "/nonexistent/pw"], "--password-file"),
        (["--broker", "mqtt://h:1", "--spool-max-mb", "0"], "must be positive"),
        (["--broker", "mqtt://h:1", "--endpoints-file", "/nonexistent.json"], "cannot read"),
    ],
)
def test_bad_arguments_are_named(args: list[str], fragment: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert geoscada(["gateway", str(SITE_FILE), *args]) == 2
    error = capsys.readouterr().err.strip()
    assert fragment in error and len(error.splitlines()) == 1


def test_bad_site_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(SITE_FILE.read_text().replace("unit_id: 1, timeout_s: 0.3}",
                                                    "unit_id: 900, timeout_s: 0.3}", 1))
    assert geoscada(["gateway", str(broken), "--broker", "mqtt://h:1"]) == 2
    error = capsys.readouterr().err.strip()
    assert "broken.yaml:" in error and "unit_id" in error
