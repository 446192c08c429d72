"""The systemd units: valid for systemd, dedicated users, hardened, secrets only as credentials."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = sorted((Path(__file__).parents[2] / "deploy" / "systemd").glob("*.service"))
EXECUTABLE = "/opt/geoscada/.venv/bin/geoscada"


def test_there_is_a_unit_per_service() -> None:
    names = {unit.name for unit in UNITS}
    assert {"geoscada-gateway@.service", "geoscada-historian.service",
            "geoscada-controller.service", "geoscada-simulator.service"} <= names


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_accepts_the_unit_without_a_warning(unit: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    name = unit.name.replace("@.service", "@test.service")
    # the program is installed only on a target machine; systemd checks that it exists
    (tmp_path / name).write_text(unit.read_text().replace(EXECUTABLE, "/bin/true"))
    result = subprocess.run([analyze, "verify", str(tmp_path / name)], capture_output=True,
                            text=True, check=False, cwd=tmp_path)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_unit_runs_as_its_own_user_hardened(unit: Path) -> None:
    text = unit.read_text()
    users = re.findall(r"^User=(\S+)$", text, re.M)
    assert len(users) == 1 and users[0].startswith("geoscada-"), users
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                    "PrivateTmp=yes", "CapabilityBoundingSet=\n", "UMask=0077"):
        assert setting in text, f"{unit.name} lacks {setting.strip()}"


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_secrets_are_credentials_never_arguments(unit: Path) -> None:
    text = unit.read_text()
    for option in ("--password-file", "--tls-key"):
        for value in re.findall(rf"{option} (\S+)", text):
            assert value.strip('"').startswith(("/run/credentials/%n/",
                                                "$CREDENTIALS_DIRECTORY/")), (option, value)
    assert "--password " not in text and "password=" not in text.lower()
    for dsn in re.findall(r"postgresql://\S+", text):
        assert "passfile=" in dsn and ":" not in dsn.split("@")[0].removeprefix(
            "postgresql://"), dsn
