"""An app on the demo's site files with users and a clock of the test's own (no broker)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from ui.app import create_app
from ui.auth import Role, User, hash_password, write_users
from ui.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
SITES = [ROOT / "sites" / name for name in
         ("hydrothermal-doublet.yaml", "deep-borehole-school.yaml", "shallow-field.yaml")]
PASSWORDS = {"operator": "operator-pass-1234", "engineer": "engineer-pass-1234",
             "admin": "admin-pass-12345", "regulator": "regulator-pass-1234"}


_HASHES: dict[str, str] = {}


def password_hash(name: str) -> str:
    """The argon2 hash of a test user's password, computed once (hashing is slow on purpose)."""
    if name not in _HASHES:
        _HASHES[name] = hash_password(PASSWORDS[name])
    return _HASHES[name]


@dataclass
class Clock:
    """Wall-clock seconds the test moves by hand."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class UiHarness:
    """The app, its settings file's folder and its clock."""

    directory: Path
    clock: Clock = field(default_factory=Clock)

    def write(self, **overrides: object) -> Path:
        """Write users, secret and settings; return the settings file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        secret = self.directory / "secret"
        secret.write_text(secrets.token_hex(32))
        secret.chmod(0o600)
        write_users(self.directory / "users.yaml", [
            User(name, Role(name), password_hash(name),
                 frozenset({"hydrothermal-doublet"}) if name == "regulator" else None)
            for name in PASSWORDS])
        settings = {"sites": [str(p) for p in SITES], "users_file": "users.yaml",
                    "audit_log": "audit.jsonl", "session_secret_file": "secret", **overrides}
        path = self.directory / "ui.yaml"
        path.write_text(yaml.safe_dump(settings))
        return path

    def client(self, **overrides: object) -> TestClient:
        """A test client of a fresh app (the live cache unfed)."""
        settings = load_settings(self.write(**overrides))
        return TestClient(create_app(settings, clock=self.clock, connect=False))


def login_token(client: TestClient) -> str:
    """Open the login form; return its CSRF token."""
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def log_in(client: TestClient, name: str, password: str | None = None) -> str:
    """Log in; return the session's CSRF token (from the overview page)."""
    answer = client.post("/login", data={"username": name,
                                         "password": password or PASSWORDS[name],
                                         "csrf_token": login_token(client)},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    page = client.get("/", headers={"accept": "text/html"})
    match = re.search(r'data-csrf="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)
