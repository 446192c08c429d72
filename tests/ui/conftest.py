"""One demo-like stack for all browser tests, and a Playwright page on Debian's Chromium.

``ui_stack`` runs ``geoscada demo`` (simulator, secure broker, PostgreSQL, gateways, historian,
controller and the UI) on free loopback ports in a private folder, once per test session, and
waits until the UI answers and every station is alive on its live stream. ``browser`` (per module) is a
headless ``/usr/bin/chromium`` driven by Playwright (never a downloaded browser); ``page`` is a
fresh browser context per test; ``logged_in`` logs a demo user in through the login form.
``screenshot`` (``tests/ui/screenshots.py``) saves pictures in pytest's temporary folder, and in
the folder ``GEOSCADA_UI_SCREENSHOTS`` names (``docs/ui`` to refresh the docs) once a test passed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from geoscada.demo import database_dir
from geoscada.services import free_port

# a conftest's names are what pytest sees: the hook and fixtures are used by being here
from tests.ui.screenshots import (  # noqa: F401
    pytest_runtest_makereport,
    screenshot,
    screenshot_folder,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
STATIONS = ("hydrothermal-doublet", "deep-borehole-school", "shallow-field")
START_TIMEOUT_S = 240.0

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@dataclass
class UiStack:
    """The running demo: the UI's address, the users' passwords, the simulator's control API."""

    url: str
    credentials: dict[str, str]
    control_url: str
    workdir: Path
    process: subprocess.Popen[bytes]

    def plant_values(self, station: str) -> dict[str, Any]:
        """The simulator's current values of a station (the plant's truth)."""
        with urllib.request.urlopen(f"{self.control_url}/stations/{station}/values",
                                    timeout=10) as answer:
            values: dict[str, Any] = json.loads(answer.read())
        return values

    def fault(self, station: str, spec: dict[str, Any]) -> str:
        """Inject a fault in the plant now; return its id."""
        request = urllib.request.Request(
            f"{self.control_url}/stations/{station}/faults", data=json.dumps(spec).encode(),
            method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            ident: str = json.loads(answer.read())["id"]
        return ident

    def clear_fault(self, station: str, fault_id: str) -> None:
        """End an injected fault."""
        request = urllib.request.Request(
            f"{self.control_url}/stations/{station}/faults/{fault_id}", method="DELETE")
        with urllib.request.urlopen(request, timeout=10):
            pass


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def ui_stack(service_root: Path) -> Iterator[UiStack]:
    """The demo with its UI, started once for every browser test of the session."""
    workdir = service_root / "ui-demo"
    workdir.mkdir()
    ui_port, control_port = free_port(), free_port()
    log = workdir / "demo.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "geoscada.cli", "demo", "--workdir", str(workdir),
             "--broker-port", str(free_port()), "--db-port", str(free_port()),
             "--control-port", str(control_port), "--modbus-port", "0", "--opcua-port", "0",
             "--ui-port", str(ui_port), "--duration", "3600"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    stack = UiStack(f"http://127.0.0.1:{ui_port}", {}, f"http://127.0.0.1:{control_port}",
                    workdir, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        credentials = workdir / "ui" / "credentials"
        while not (credentials.exists() and _answers(f"{stack.url}/login")):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the demo's UI did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        stack.credentials = dict(line.split(" ", 1) for line in
                                 credentials.read_text().splitlines() if line)
        yield stack
    finally:
        _stop(process)
        if os.geteuid() == 0:
            shutil.rmtree(database_dir(workdir).parent, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright, for one test module at a time.

    Playwright's sync API keeps an event loop running in this thread while it is started, and
    ``asyncio.run`` refuses to start inside it: held for the session, it broke every asyncio
    test that pytest's grouping by database flavour ran after a browser test.
    """
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: deploy/setup.sh installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()
    # what follows this module may run asyncio tests: the loop Playwright ran must be gone
    assert asyncio.run(asyncio.sleep(0, result=True)), "an event loop is still running"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def logged_in(ui_stack: UiStack, page: Any) -> Callable[[str], Any]:
    """Log a demo user in through the login form; return the page on the overview."""

    def log_in(user: str) -> Any:
        page.goto(f"{ui_stack.url}/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", ui_stack.credentials[user])
        page.click("button[type=submit]")
        page.wait_for_url(f"{ui_stack.url}/")
        return page

    return log_in

