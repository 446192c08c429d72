"""The web interface's typed settings: one YAML file, secrets in files of their own.

The file names the site files, the broker connection (as every service names it: URL, CA,
client certificate, user and password file), the historian's read-only database, the users
file, the audit log and the session secret's file. The UI refuses to start without a session
secret of its own: a missing, short or well-known secret is an error, never a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.mqtt import BrokerSettings
from runtime.settings import SecretError, read_secret

MIN_SECRET_CHARS = 32
WELL_KNOWN_SECRETS = frozenset({
    "changeme", "change-me", "change_me", "secret", "password", "default", "development",
    "insecure", "test", "demo",
})
"""Words of secrets copied from examples: a secret mostly made of them is refused."""


class SettingsError(ValueError):
    """Settings the UI cannot start with; the message names the key or file."""


class BrokerOptions(BaseModel):
    """How the UI reaches the broker, under its own identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    username: str | None = None
    password_file: Path | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_id: str = "geoscada-ui"

    def broker_settings(self) -> BrokerSettings:
        """The runtime's broker settings, the password read from its file."""
        return BrokerSettings.from_options(
            self.url, client_id=self.client_id, username=self.username,
            password_file=self.password_file, tls_ca=self.tls_ca, tls_cert=self.tls_cert,
            tls_key=self.tls_key)


class UiSettings(BaseModel):
    """Everything ``geoscada ui`` needs; ``session_secret`` is read from its file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sites: Annotated[tuple[Path, ...], Field(min_length=1)]
    users_file: Path
    audit_log: Path
    ended_sessions_file: Path | None = None
    """Where the sessions ended by logging out are kept across restarts; None: beside the
    audit log, as ``ended-sessions.json``."""
    session_secret: Annotated[str, Field(repr=False, min_length=MIN_SECRET_CHARS)]
    broker: BrokerOptions | None = None
    """None: no live data (pages render, values stay empty)."""
    database: str | None = None
    """Read-only DSN of the historian, for today's figures, trends and the ledger."""
    database_password_file: Path | None = None
    regulator_database: str | None = None
    """DSN of the historian's database with the rights of the regulator API (read reports,
    write its audit table); None: the UI serves no regulator API."""
    listen_host: str = "127.0.0.1"
    listen_port: Annotated[int, Field(ge=0, le=65535)] = 8480
    session_lifetime_s: Annotated[float, Field(gt=0, le=7 * 86400)] = 8 * 3600.0
    cookie_secure: bool = False
    """Send the session cookie over HTTPS only; on behind a TLS proxy."""
    login_failures_allowed: Annotated[int, Field(ge=1, le=100)] = 5
    login_window_s: Annotated[float, Field(gt=0)] = 300.0
    login_lockout_s: Annotated[float, Field(gt=0)] = 300.0
    controller_state_dir: Path | None = None
    """The controller's state directory: operator actions on alarms go to its inbox."""
    command_pki: Path | None = None
    """The ``geoscada pki`` directory holding the signer key commands from the UI are signed
    with and the command policy naming its role; None: no commands from the UI."""
    command_signer: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "operator"
    """The signer key's name (``signers/NAME.key``)."""
    live_history: Annotated[int, Field(ge=100, le=1_000_000)] = 20_000
    """Changes the live cache keeps so a reconnecting page resumes without a gap."""


def check_secret(value: str) -> None:
    """Refuse a secret that is short or well known; raise SettingsError."""
    if len(value) < MIN_SECRET_CHARS:
        raise SettingsError(f"session secret has {len(value)} characters; at least "
                            f"{MIN_SECRET_CHARS} are needed (e.g. `openssl rand -hex 32`)")
    rest = value.lower()
    for word in WELL_KNOWN_SECRETS:
        rest = rest.replace(word, "")
    if len(rest) < MIN_SECRET_CHARS // 2 or len(set(value)) < 8:
        raise SettingsError("session secret is made of well-known words or repeats; "
                            "generate one (e.g. `openssl rand -hex 32`)")


def load_settings(path: Path) -> UiSettings:
    """Read the settings file and the session secret's file; raise SettingsError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the settings must be a mapping")
    secret_file = data.pop("session_secret_file", None)
    if "session_secret" in data:
        raise SettingsError(f"{path}: session_secret: give session_secret_file, a file only "
                            "the UI may read; a secret is never written in the settings")
    if secret_file is None:
        raise SettingsError(f"{path}: session_secret_file is missing; the UI never starts "
                            "with a default secret")
    base = path.parent
    try:
        secret = read_secret(_relative(base, secret_file), "session secret file")
    except SecretError as exc:
        raise SettingsError(str(exc)) from None
    check_secret(secret)
    resolved = _resolve_paths(base, data)
    try:
        return UiSettings.model_validate({**resolved, "session_secret": secret})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise SettingsError(f"{path}: {key}: {first['msg']}") from None


def _relative(base: Path, value: Any) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else base / path


def _resolve_paths(base: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Paths in the file are relative to the file's folder."""
    out = dict(data)
    for key in ("users_file", "audit_log", "ended_sessions_file", "database_password_file",
                "controller_state_dir", "command_pki"):
        if out.get(key) is not None:
            out[key] = _relative(base, out[key])
    if isinstance(out.get("sites"), list):
        out["sites"] = [_relative(base, item) for item in out["sites"]]
    broker = out.get("broker")
    if isinstance(broker, dict):
        broker = dict(broker)
        for key in ("password_file", "tls_ca", "tls_cert", "tls_key"):
            if broker.get(key) is not None:
                broker[key] = _relative(base, broker[key])
        out["broker"] = broker
    return out
