"""Every format renders the same bytes in another process, at another time, with another hash
seed; the XLSX's zip entries and properties carry no wall-clock time."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from report.model import Report, Table
from report.render import render

SCRIPT = """
import hashlib
from report.model import Plot, Report, Table
from report.render import render
r = Report("reinjection", "T", {"as_of": "2026-02-01T00:00:00+00:00", "x": [1, 2]}, ("s",),
           (Table("t", "Title", ("a", "b"), (("x", 1.5), ("y", None))),),
           (Plot("p", "P", "u", ("d1", "d2", "d3"), (("s", (1.0, None, 2.0)),), 1.5),))
print(" ".join(hashlib.sha256(render(r, f)).hexdigest() for f in ("json", "csv", "xlsx", "pdf")))
"""


def _digests(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed,
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          check=True, env=env, timeout=120).stdout


def test_every_format_is_the_same_in_another_process_and_second() -> None:
    first = _digests("1")
    time.sleep(1.1)
    assert _digests("2") == first
    assert len(first.split()) == 4


def test_the_xlsx_carries_the_reports_time_and_no_other() -> None:
    report = Report("energy", "T", {"as_of": "2026-02-01T00:00:00+00:00"}, (),
                    (Table("t", "Title", ("a",), ((1,),)),))
    with zipfile.ZipFile(io.BytesIO(render(report, "xlsx"))) as book:
        assert {info.date_time for info in book.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = book.read("docProps/core.xml").decode()
    assert core.count("2026-02-01T00:00:00Z") == 2
