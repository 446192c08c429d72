"""Detached Ed25519 signatures over report files, with the operator's report-signing key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from plant.signing import load_public_key, public_key_text

SIGNATURE_SUFFIX = ".sig"


class SignatureError(ValueError):
    """A signature or key that cannot be used, or a file that does not match its signature."""


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key (PEM, as ``geoscada pki`` writes signers); refuse a file
    others may read."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"cannot read the signing key {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise SignatureError(f"signing key {path} may be read by others (mode "
                             f"{mode & 0o777:o}); make it 600")
    try:
        key = serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError):
        raise SignatureError(f"{path} is not a PEM private key without a password") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path} is not an Ed25519 key")
    return key


def read_public_key(path: Path) -> Ed25519PublicKey:
    """Read a public key: base64 of the raw 32 bytes (as the command policy lists keys) or PEM."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise SignatureError(f"cannot read the public key {path}: {exc.strerror}") from None
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise SignatureError(f"{path} is not an Ed25519 public key")
        return key
    try:
        return load_public_key(text)
    except ValueError as exc:
        raise SignatureError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class Signature:
    """A detached signature: the signed file's SHA-256, the signer's public key and the
    signature over the file's bytes."""

    sha256: str
    public_key: str
    signature: str

    def to_bytes(self) -> bytes:
        """The signature file's content."""
        return (json.dumps({"algorithm": "Ed25519", "public_key": self.public_key,
                            "sha256": self.sha256, "signature": self.signature},
                           sort_keys=True, indent=2) + "\n").encode()


def sign(data: bytes, key: Ed25519PrivateKey) -> Signature:
    """Sign a file's bytes (Ed25519 is deterministic: the same bytes, the same signature)."""
    return Signature(hashlib.sha256(data).hexdigest(), public_key_text(key.public_key()),
                     base64.b64encode(key.sign(data)).decode())


def parse_signature(text: bytes) -> Signature:
    """Read a signature file; SignatureError naming what is wrong."""
    try:
        data = json.loads(text)
        if data.get("algorithm") != "Ed25519":
            raise SignatureError("the signature file's algorithm is not Ed25519")
        return Signature(str(data["sha256"]), str(data["public_key"]), str(data["signature"]))
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        if isinstance(exc, SignatureError):
            raise
        raise SignatureError(f"not a report signature file: {exc}") from None


def verify(data: bytes, signature: Signature, trusted: Ed25519PublicKey) -> None:
    """Check a file against its signature and the trusted key; SignatureError if it fails."""
    if signature.public_key != public_key_text(trusted):
        raise SignatureError("the file was signed by another key than the trusted one")
    if hashlib.sha256(data).hexdigest() != signature.sha256:
        raise SignatureError("the file's SHA-256 differs from the signed one: it was changed")
    try:
        raw = base64.b64decode(signature.signature, validate=True)
        trusted.verify(raw, data)
    except (binascii.Error, ValueError, InvalidSignature):
        raise SignatureError("the signature does not match the file") from None


def write_new_key(path: Path) -> Ed25519PublicKey:
    """Make an operator's report-signing key, mode 600; refuse to overwrite one."""
    key = Ed25519PrivateKey.generate()
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SignatureError(f"{path} exists; a signing key is never overwritten") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return key.public_key()
