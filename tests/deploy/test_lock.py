"""Reproducible installs: the lock file pins every dependency within pyproject's ranges, the
set-up installs from it, and this environment runs the locked versions."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[2]


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (ROOT / "requirements.lock").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock: {line!r} is not pinned with =="
        pins[canonicalize_name(name)] = version
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in
            [*project["dependencies"], *project["optional-dependencies"]["dev"]]]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{requirement.name}=={pins[name]} is outside pyproject's {requirement.specifier}")


def test_the_set_up_installs_with_the_lock_as_constraint() -> None:
    setup = (ROOT / "deploy" / "setup.sh").read_text()
    installs = [line for line in setup.splitlines() if re.search(r"pip install .*-e ", line)]
    assert installs and all("--constraint requirements.lock" in line for line in installs)


def test_this_environment_runs_the_locked_versions() -> None:
    for name, version in locked().items():
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, " \
                                                  f"locked {version}"
