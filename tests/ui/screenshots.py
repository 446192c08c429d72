"""Screenshots of the browser tests: in pytest's temporary folder, in docs only when asked.

Every browser test that draws a page for the documentation takes a full-page screenshot through
the ``screenshot`` fixture. The pictures go to the session's temporary folder
(``tmp_path_factory``), so a test run never changes a tracked file. With
``GEOSCADA_UI_SCREENSHOTS`` naming an existing folder (``GEOSCADA_UI_SCREENSHOTS=docs/ui`` to
refresh the pictures of docs/ui.md), a test's pictures are also copied there, and only once that
test has passed: a failing or interrupted test leaves the folder as it was.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

VARIABLE = "GEOSCADA_UI_SCREENSHOTS"
Screenshot = Callable[[Any, str], Path]
_PASSED = pytest.StashKey[bool]()


def requested_folder(value: str | None) -> Path | None:
    """The folder the variable's value names for the pictures, or None when it is unset or empty."""
    if value is None or not value.strip():
        return None
    folder = Path(value)
    if not folder.is_dir():
        raise ValueError(f"{VARIABLE}={value!r} is not an existing folder "
                         f"(relative to {Path.cwd()}); unset it to keep screenshots out of the tree")
    return folder


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test itself passed, for the screenshot fixture's teardown."""
    report = yield
    if report.when == "call":
        item.stash[_PASSED] = report.passed
    return report


@pytest.fixture(scope="session")
def screenshot_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's screenshots are taken: a folder of pytest's temporary directory."""
    return tmp_path_factory.mktemp("ui-screenshots")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, screenshot_folder: Path) -> Iterator[Screenshot]:
    """Take a full-page screenshot ``NAME.png``; copied to the requested folder if the test passes."""
    try:
        target = requested_folder(os.environ.get(VARIABLE))
    except ValueError as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None
    taken: list[Path] = []

    def take(page: Any, name: str) -> Path:
        path = screenshot_folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    yield take
    if target is not None and request.node.stash.get(_PASSED, False):
        for path in taken:
            shutil.copyfile(path, target / path.name)
