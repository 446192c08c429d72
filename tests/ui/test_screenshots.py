"""Where the browser tests' screenshots go: pytest's temporary folder, and the folder
``GEOSCADA_UI_SCREENSHOTS`` names only for tests that passed; a bad folder is refused by name.

The fixture runs in a pytest of its own over two tests with a stand-in page (a Playwright page's
``screenshot(path=..., full_page=...)`` writing known bytes), so no browser is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.screenshots import VARIABLE, requested_folder

ROOT = Path(__file__).resolve().parents[2]
TESTS = '''
from pathlib import Path


class Page:
    def screenshot(self, path: str, full_page: bool) -> None:
        assert full_page
        Path(path).write_bytes(b"drawn")


def test_passes(screenshot):
    assert screenshot(Page(), "good").read_bytes() == b"drawn"


def test_fails(screenshot):
    screenshot(Page(), "broken")
    raise AssertionError("the page was wrong")
'''


def _run_pytest(folder: Path, value: str | None) -> subprocess.CompletedProcess[str]:
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_pages.py").write_text(TESTS)
    env = {key: text for key, text in os.environ.items() if key != VARIABLE}
    env["PYTHONPATH"] = str(ROOT)
    if value is not None:
        env[VARIABLE] = value
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.ui.screenshots", "-p",
         "no:cacheprovider", "--basetemp", str(folder / "basetemp"), "test_pages.py"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_unset_or_empty_asks_for_no_folder_and_a_folder_must_exist(tmp_path: Path) -> None:
    assert requested_folder(None) is None
    assert requested_folder(" ") is None
    assert requested_folder(str(tmp_path)) == tmp_path
    with pytest.raises(ValueError, match=f"{VARIABLE}='docs/iu' is not an existing folder"):
        requested_folder("docs/iu")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(ValueError, match="is not an existing folder"):
        requested_folder(str(tmp_path / "file.png"))


def test_by_default_screenshots_stay_in_the_temporary_folder(tmp_path: Path) -> None:
    run = _run_pytest(tmp_path, None)
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    taken = sorted(p.name for p in (tmp_path / "basetemp").rglob("*.png"))
    assert taken == ["broken.png", "good.png"]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == []


def test_the_named_folder_gets_the_pictures_of_passed_tests_only(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "broken.png").write_bytes(b"as committed")
    run = _run_pytest(tmp_path, "docs")  # relative to where pytest runs
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert (docs / "good.png").read_bytes() == b"drawn"
    assert (docs / "broken.png").read_bytes() == b"as committed"


def test_a_missing_folder_fails_the_tests_with_its_name(tmp_path: Path) -> None:
    run = _run_pytest(tmp_path, "docs/iu")
    assert "2 errors" in run.stdout, run.stdout + run.stderr
    assert run.stdout.count(f"{VARIABLE}='docs/iu' is not an existing folder") >= 2
    assert not (tmp_path / "docs").exists()
