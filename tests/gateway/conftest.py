"""Fixtures for gateway tests: the test site file."""

from __future__ import annotations

from pathlib import Path

import pytest

from plant.site import Site, load_site

SITE_FILE = Path(__file__).parent / "site_files" / "two_plcs.yaml"


@pytest.fixture
def site() -> Site:
    return load_site(SITE_FILE)
