"""Ed25519 signatures of commands: what a controller or UI signs and what a gateway verifies.

Pure functions over keys and :class:`~plant.contract.Command`; keys are read and written by the
PKI tool (``geoscada pki``). Public keys travel as base64 of the 32 raw bytes.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from plant.contract import Command, canonical_command

CONTROLLER_ROLE = "controller"
"""The role automatic staging signs in: the only one that commands a staged heat pump and the
only one that may hold one out of automatic staging at the gateway."""
STAGING_HOLD_PREFIX = "gateway.staging_hold."
"""``gateway.staging_hold.<unit>``: the gateway's own point saying a heat pump is held out of
automatic staging; only the controller writes it."""


def public_key_text(key: Ed25519PublicKey) -> str:
    """Base64 of a public key's 32 raw bytes, as a command policy lists it."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    """Read a public key from base64; raise ValueError naming what is wrong."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public key is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"public key has {len(raw)} bytes, an Ed25519 key has 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign_command(private_key: Ed25519PrivateKey, key_id: str, role: str, *, id: str,
                 point: str, value: float | int | bool, origin: str, issued: datetime,
                 expires: datetime) -> Command:
    """Make a command signed by ``private_key`` (known to gateways as ``key_id``) as ``role``."""
    unsigned = Command(id=id, point=point, value=value, origin=origin, issued=issued,
                       expires=expires, key=key_id, role=role)
    signature = private_key.sign(canonical_command(unsigned))
    return unsigned.model_copy(update={"sig": base64.b64encode(signature).decode()})


def signature_valid(command: Command, public_key: Ed25519PublicKey) -> bool:
    """True if the command's ``sig`` is the key's signature over its canonical encoding."""
    if command.sig is None:
        return False
    try:
        signature = base64.b64decode(command.sig, validate=True)
        public_key.verify(signature, canonical_command(command))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True
