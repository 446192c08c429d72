"""Command signers for gateway tests: an operator, a controller limited to set-points, a stranger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.commands import CommandPolicy, TrustedKey
from plant.signing import public_key_text, sign_command

OPERATOR = Ed25519PrivateKey.generate()
CONTROLLER = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()
"""A key no policy trusts."""

POLICY = CommandPolicy(
    keys={"op-test": TrustedKey(public_key=public_key_text(OPERATOR.public_key()),
                                roles=("operator",)),
          "ctl-test": TrustedKey(public_key=public_key_text(CONTROLLER.public_key()),
                                 roles=("controller",))},
    roles={"operator": ("*",), "controller": ("*.speed_setpoint", "*.supply_temp_setpoint")},
    max_lifetime_s=120, clock_tolerance_s=5)

KEYS = {"op-test": OPERATOR, "ctl-test": CONTROLLER}


def signed(point: str, value: object, ident: str, *, expires_in: float = 30.0,
           issued_in: float = 0.0, key: str = "op-test", role: str = "operator",
           private_key: Ed25519PrivateKey | None = None) -> bytes:
    """A command payload signed as ``role`` by ``key`` (or by ``private_key`` under that id)."""
    issued = datetime.now(UTC) + timedelta(seconds=issued_in)
    expires = datetime.now(UTC) + timedelta(seconds=expires_in)
    if not isinstance(value, bool | int | float):
        # a wrongly typed value cannot be signed through the model: sign a stand-in, then swap
        payload = json.loads(signed(point, 0.0, ident, expires_in=expires_in, key=key,
                                    role=role, private_key=private_key))
        payload["value"] = value
        return json.dumps(payload).encode()
    command = sign_command(private_key or KEYS[key], key, role, id=ident, point=point,
                           value=value, origin="test", issued=issued, expires=expires)
    return command.model_dump_json().encode()
