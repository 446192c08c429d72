"""``geoscada historian``: bad options stop it at start with one line naming the problem."""

from __future__ import annotations

import pytest

from geoscada.cli import main as geoscada

BASE = ["historian", "--broker", "mqtt://127.0.0.1:1", "--db", "postgresql://x@127.0.0.1/x"]


@pytest.mark.parametrize(("args", "fragment"), [
    (["--username", "h", "--password-file", "/nonexistent/pw"], "--password-file /nonexistent"),
    (["--password-file", "/nonexistent/pw"], "needs --username"),
    (["--tls-cert", "/x.pem"], "go together"),
    (["--tls-ca", "/nonexistent/ca.pem"], "not a readable file"),
])
def test_bad_options_are_named(args: list[str], fragment: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert geoscada([*BASE, *args]) == 2
    error = capsys.readouterr().err.strip()
    assert fragment in error, error
