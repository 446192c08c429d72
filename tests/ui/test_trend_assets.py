"""The trend tool's front-end library is vendored, pinned and licensed, and served locally."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "ui" / "static" / "vendor" / "uplot"
TEMPLATE = Path(__file__).resolve().parents[2] / "ui" / "templates" / "trend.html"


def test_uplot_files_match_their_pinned_sums_and_carry_the_licence() -> None:
    pinned = (VENDOR / "PINNED").read_text(encoding="utf-8")
    assert re.search(r"^uPlot \d+\.\d+\.\d+ ", pinned)
    sums = re.findall(r"^([0-9a-f]{64})  (\S+)$", pinned, re.MULTILINE)
    assert {name for _, name in sums} == {"uPlot.iife.min.js", "uPlot.min.css"}
    for digest, name in sums:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (VENDOR / "LICENSE").read_text(encoding="utf-8")


def test_the_trend_page_loads_nothing_from_another_host() -> None:
    page = TEMPLATE.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
