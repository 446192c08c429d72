"""Command verification at the gateway: signer, role, policy, time bounds, remembered ids."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from gateway.commands import (
    CommandRefusedError,
    Refusal,
    SeenCommands,
    load_policy,
    parse_command,
    verify_command,
)
from plant.contract import Command, canonical_command
from plant.signing import sign_command
from tests.gateway.signers import CONTROLLER, OPERATOR, POLICY, STRANGER, signed

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def make(point: str = "PW1.speed_setpoint", *, key: str = "op-test", role: str = "operator",
         issued_in: float = 0.0, lifetime: float = 30.0, private_key: object = None) -> Command:
    issued = NOW + timedelta(seconds=issued_in)
    keys = {"op-test": OPERATOR, "ctl-test": CONTROLLER}
    return sign_command(private_key or keys.get(key, STRANGER),  # type: ignore[arg-type]
                        key, role, id="c1", point=point, value=42.0, origin="test",
                        issued=issued, expires=issued + timedelta(seconds=lifetime))


def refusal(command: Command) -> Refusal | None:
    try:
        verify_command(command, POLICY, NOW)
    except CommandRefusedError as exc:
        return exc.code
    return None


def test_a_command_signed_by_a_trusted_key_in_an_allowed_role_passes() -> None:
    assert refusal(make()) is None
    assert refusal(make(key="ctl-test", role="controller")) is None


def test_an_unsigned_command_is_refused() -> None:
    unsigned = make().model_copy(update={"sig": None})
    assert refusal(unsigned) is Refusal.UNSIGNED
    assert refusal(make().model_copy(update={"key": None})) is Refusal.UNSIGNED


def test_a_command_signed_by_an_unknown_key_is_refused() -> None:
    assert refusal(make(key="nobody", private_key=STRANGER)) is Refusal.UNKNOWN_KEY


def test_a_stranger_signing_under_a_trusted_key_id_is_refused() -> None:
    assert refusal(make(private_key=STRANGER)) is Refusal.BAD_SIGNATURE


@pytest.mark.parametrize("field", ["value", "point", "expires", "role", "id"])
def test_any_change_after_signing_breaks_the_signature(field: str) -> None:
    good = make()
    changed = {"value": 43.0, "point": "PW1.run_command", "expires": good.expires +
               timedelta(seconds=1), "role": "controller", "id": "c2"}[field]
    assert refusal(good.model_copy(update={field: changed})) in (Refusal.BAD_SIGNATURE,)


def test_a_garbled_signature_is_refused_not_crashed() -> None:
    assert refusal(make().model_copy(update={"sig": "%%%"})) is Refusal.BAD_SIGNATURE
    short = base64.b64encode(b"x" * 10).decode()
    assert refusal(make().model_copy(update={"sig": short})) is Refusal.BAD_SIGNATURE


def test_a_role_not_allowed_for_the_point_is_refused() -> None:
    # the controller may write set-points, not start or stop the pump
    assert refusal(make("PW1.run_command", key="ctl-test", role="controller")) is \
        Refusal.ROLE_NOT_ALLOWED


def test_a_role_the_key_does_not_hold_is_refused() -> None:
    assert refusal(make(key="ctl-test", role="operator")) is Refusal.ROLE_NOT_ALLOWED


def test_time_bounds() -> None:
    assert refusal(make(issued_in=-60, lifetime=30)) is Refusal.EXPIRED
    assert refusal(make(issued_in=4)) is None  # within the clock tolerance
    assert refusal(make(issued_in=6)) is Refusal.ISSUED_IN_FUTURE
    assert refusal(make(lifetime=120)) is None
    assert refusal(make(lifetime=121)) is Refusal.LIFETIME_TOO_LONG
    assert refusal(make(issued_in=-1, lifetime=80 * 365 * 86400)) is Refusal.LIFETIME_TOO_LONG


def test_without_a_policy_every_command_is_refused() -> None:
    with pytest.raises(CommandRefusedError) as raised:
        verify_command(make(), None, NOW)
    assert raised.value.code is Refusal.NO_POLICY


def test_a_string_value_for_a_numeric_point_is_refused_as_malformed() -> None:
    with pytest.raises(CommandRefusedError) as raised:
        parse_command(signed("PW1.speed_setpoint", "85", "str"))
    assert raised.value.code is Refusal.MALFORMED and raised.value.command_id == "str"
    assert "value" in str(raised.value)


def test_the_canonical_encoding_is_the_same_after_the_wire() -> None:
    command = make()
    again = Command.model_validate_json(command.model_dump_json())
    assert canonical_command(again) == canonical_command(command)
    assert b"sig" not in canonical_command(command)


def test_seen_ids_survive_a_restart_and_are_forgotten_after_their_time(tmp_path: Path) -> None:
    path = tmp_path / "seen.db"
    seen = SeenCommands(path)
    assert seen.remember("a", NOW + timedelta(seconds=30), NOW)
    assert not seen.remember("a", NOW + timedelta(seconds=30), NOW)
    seen.close()
    seen = SeenCommands(path)
    assert not seen.remember("a", NOW + timedelta(seconds=30), NOW + timedelta(seconds=10))
    # past its time the id is dropped: the command would be refused as expired anyway
    later = NOW + timedelta(seconds=31)
    assert seen.remember("b", later + timedelta(seconds=30), later)
    assert len(seen) == 1
    seen.close()


def test_policy_files_are_checked_with_a_clear_error(tmp_path: Path) -> None:
    good = POLICY.model_dump(mode="json")
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(good))
    assert load_policy(path) == POLICY
    bad_role = {**good, "keys": {"k": {"public_key": good["keys"]["op-test"]["public_key"],
                                       "roles": ["janitor"]}}}
    path.write_text(yaml.safe_dump(bad_role))
    with pytest.raises(ValueError, match=r"keys\.k: role 'janitor' is not under roles"):
        load_policy(path)
    bad_key = {**good, "keys": {"k": {"public_key": "AAAA", "roles": ["operator"]}}}
    path.write_text(yaml.safe_dump(bad_key))
    with pytest.raises(ValueError, match=r"keys\.k\.public_key.*3 bytes"):
        load_policy(path)
    path.write_text(yaml.safe_dump({**good, "max_lifetime_s": 10 * 86400}))
    with pytest.raises(ValueError, match="max_lifetime_s"):
        load_policy(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
