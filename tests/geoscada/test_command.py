"""``geoscada command``: values parsed strictly; what it signs, a gateway with the pki's policy
accepts, as the signer's role."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.commands import CommandRefusedError, Refusal, load_policy, verify_command
from geoscada.command import build, parse_value
from geoscada.pki import Pki
from plant.contract import utc_now


@pytest.mark.parametrize(("text", "value"), [("true", True), ("False", False), ("42", 42),
                                             ("42.5", 42.5), ("-3e1", -30.0)])
def test_values(text: str, value: object) -> None:
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["85%", "", "nan", "inf", "yes"])
def test_bad_values_are_named(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("%", ".")):
        parse_value(text)


def test_signed_commands_verify_against_the_pki_policy(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    pki.init(["st-a"], ["127.0.0.1"])
    policy = load_policy(pki.policy)
    name, command = build(pki, "operator", ("st-a", "PW1.run_command", "true"), 30)
    assert name == "geoscada/v1/st-a/cmd" and command.role == "operator"
    verify_command(command, policy, utc_now())
    _, controller = build(pki, "controller", ("st-a", "PW1.speed_setpoint", "42"), 30)
    verify_command(controller, policy, utc_now())
    _, beyond = build(pki, "controller", ("st-a", "PW1.wellhead_temp", "1"), 30)
    with pytest.raises(CommandRefusedError) as raised:
        verify_command(beyond, policy, utc_now())
    assert raised.value.code is Refusal.ROLE_NOT_ALLOWED
    _, too_long = build(pki, "operator", ("st-a", "PW1.run_command", "true"), 3600)
    with pytest.raises(CommandRefusedError) as raised:
        verify_command(too_long, policy, utc_now())
    assert raised.value.code is Refusal.LIFETIME_TOO_LONG
