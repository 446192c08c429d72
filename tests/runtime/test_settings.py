"""Shared settings: secrets only from private files, passwords never printed, one log set-up."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runtime.mqtt import BrokerSettings
from runtime.settings import SecretError, read_secret, setup_logging


def secret_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secret"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_secret_is_the_first_line_of_a_private_file(tmp_path: Path) -> None:
    assert read_secret(secret_file(tmp_path, "  s3cret \nignored\n")) == "s3cret"


@pytest.mark.parametrize(("text", "mode", "fragment"), [
    ("s3cret", 0o644, "may be read by other users"),
    ("s3cret", 0o640, "chmod 600"),
    ("\n  \n", 0o600, "is empty"),
])
def test_an_unusable_secret_file_is_refused_by_name(tmp_path: Path, text: str, mode: int,
                                                    fragment: str) -> None:
    path = secret_file(tmp_path, text, mode)
    with pytest.raises(SecretError, match=fragment) as caught:
        read_secret(path, "--password-file")
    assert str(path) in str(caught.value) and "--password-file" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_missing_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="No such file"):
        read_secret(tmp_path / "nowhere")


def test_broker_settings_read_the_password_file_and_never_print_it(tmp_path: Path) -> None:
    settings = BrokerSettings.from_options("mqtts://broker.example:8884", username="gw",
                                           password_file=secret_file(tmp_path, "s3cret"))
    assert settings.password == "s3cret" and settings.tls and settings.port == 8884
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings)


@pytest.mark.parametrize(("options", "fragment"), [
    ({"password_file": Path("/x")}, "needs a username"),
    ({"tls_cert": Path("/x")}, "go together"),
    ({"tls_ca": Path("/nonexistent/ca.pem")}, "not a readable file"),
])
def test_broker_settings_name_the_wrong_option(options: dict[str, Path], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        BrokerSettings.from_options("mqtt://h:1", **options)  # type: ignore[arg-type]


def test_a_broker_url_must_be_mqtt_or_mqtts() -> None:
    with pytest.raises(ValueError, match="mqtt://host:port"):
        BrokerSettings.from_url("http://h:1")
    assert BrokerSettings.from_url("mqtts://h").port == 8883
    assert BrokerSettings.from_url("mqtt://h").port == 1883


def test_logging_refuses_an_unknown_level_and_quietens_libraries() -> None:
    with pytest.raises(ValueError, match="log level 'LOUD'"):
        setup_logging("LOUD")
    setup_logging("debug")
    assert logging.getLogger("pymodbus").level == logging.CRITICAL
