"""``geoscada pki``: a private CA, broker identities, the broker's ACL, command signers.

One directory holds everything a site needs (``geoscada pki init DIR SITE.yaml...``)::

    ca.crt, ca.key                     the private CA (replaceable by the operator's own)
    broker.crt, broker.key             the broker's TLS server certificate
    identities/NAME.{crt,key,password} one per gateway (``gateway-<station>``), the historian,
                                       the controller, the UI and the regulator export
    mosquitto/passwd, mosquitto/acl    Mosquitto's password file (hashed) and generated ACL
    signers/NAME.key                   Ed25519 command-signing keys (controller, operator)
    command-policy.yaml                what gateways trust: signer keys, roles, points

Private keys and passwords are written 0600 and never printed; the password file is hashed by
``mosquitto_passwd -U`` from a file, so no password ever appears on a command line. Running
``init`` again keeps what exists and adds what is missing (a new station's gateway).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from geoscada.services import write_private
from plant.contract import ROOT, Topic
from plant.signing import public_key_text

SERVICE_IDENTITIES = ("historian", "controller", "ui", "regulator")
"""Broker identities besides one per gateway."""
SIGNERS = {"controller": "controller", "operator": "operator"}
"""Command-signing key name -> its role."""
DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "operator": ("*",),
    "controller": ("*.run_command", "*.remote_mode", "*.heartbeat", "*.speed_setpoint",
                   "gateway.staging_hold.*"),
}
"""What each role may write (point id patterns); the operator edits command-policy.yaml. The
controller gets what staging writes: units' run commands and remote modes, the heartbeat,
production pumps' speeds and the gateway's record of the units held out of staging; not
supply or valve set-points, which it does not command. (The gateway lets no role but the
controller write a staging hold, whatever the patterns say.)"""
CA_DAYS = 3650
LEAF_DAYS = 825


def gateway_identity(station: str) -> str:
    """The broker user name of a station's gateway."""
    return f"gateway-{station}"


def _key_pem(key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GeoSCADA"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class Pki:
    """The files of one site's PKI directory."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        """The CA certificate every client verifies the broker with."""
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The CA's private key."""
        return self.root / "ca.key"

    @property
    def broker_cert(self) -> Path:
        """The broker's server certificate."""
        return self.root / "broker.crt"

    @property
    def broker_key(self) -> Path:
        """The broker's private key."""
        return self.root / "broker.key"

    @property
    def passwd(self) -> Path:
        """Mosquitto's (hashed) password file."""
        return self.root / "mosquitto" / "passwd"

    @property
    def acl(self) -> Path:
        """Mosquitto's generated ACL file."""
        return self.root / "mosquitto" / "acl"

    @property
    def policy(self) -> Path:
        """The command policy gateways load."""
        return self.root / "command-policy.yaml"

    def cert(self, identity: str) -> Path:
        """An identity's client certificate."""
        return self.root / "identities" / f"{identity}.crt"

    def key(self, identity: str) -> Path:
        """An identity's private key."""
        return self.root / "identities" / f"{identity}.key"

    def password(self, identity: str) -> Path:
        """The file holding an identity's broker password."""
        return self.root / "identities" / f"{identity}.password"

    def signer(self, name: str) -> Path:
        """A command-signing private key."""
        return self.root / "signers" / f"{name}.key"

    # ---------------------------------------------------------------- certificates

    def init_ca(self) -> None:
        """Make the CA unless one exists."""
        if self.ca_cert.exists() and self.ca_key.exists():
            return
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        name = _name("GeoSCADA private CA")
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .sign(key, hashes.SHA256()))
        write_private(self.ca_key, _key_pem(key))
        self.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def _issue(self, common_name: str, cert_path: Path, key_path: Path, *, server: bool,
               hosts: Sequence[str] = ()) -> None:
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self.ca_key}: the CA key must be an EC key")
        ca_cert = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder().subject_name(_name(common_name))
                   .issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if hosts:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        write_private(key_path, _key_pem(key))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue_broker(self, hosts: Sequence[str]) -> None:
        """Make the broker's server certificate for these host names and addresses."""
        if not self.broker_cert.exists():
            self._issue("GeoSCADA broker", self.broker_cert, self.broker_key, server=True,
                        hosts=hosts)

    def issue_identity(self, identity: str) -> None:
        """Make an identity's client certificate and broker password unless they exist."""
        if not self.cert(identity).exists() or not self.key(identity).exists():
            self._issue(identity, self.cert(identity), self.key(identity), server=False)
        if not self.password(identity).exists():
            write_private(self.password(identity), secrets.token_urlsafe(24).encode())

    def identities(self) -> list[str]:
        """Every identity issued so far."""
        return sorted(p.stem for p in (self.root / "identities").glob("*.password"))

    def write_passwd(self) -> None:
        """Write Mosquitto's password file with every identity (hashed, never on a command line)."""
        lines = [f"{name}:{self.password(name).read_text().strip()}" for name in self.identities()]
        write_private(self.passwd, ("\n".join(lines) + "\n").encode())
        result = subprocess.run(["mosquitto_passwd", "-U", str(self.passwd)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            self.passwd.unlink(missing_ok=True)  # never leave the plain-text file behind
            raise RuntimeError(f"mosquitto_passwd -U failed: {result.stderr.strip()}")

    # ---------------------------------------------------------------- command signers

    def issue_signer(self, name: str) -> Ed25519PrivateKey:
        """Make (or read) a command-signing key."""
        path = self.signer(name)
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path}: not an Ed25519 key")
            return key
        key = Ed25519PrivateKey.generate()
        write_private(path, _key_pem(key))
        return key

    def write_policy(self, signers: dict[str, str],
                     roles: dict[str, tuple[str, ...]] | None = None,
                     max_lifetime_s: float = 300.0, clock_tolerance_s: float = 5.0) -> None:
        """Write the command policy: each signer's public key and role, and the role rules."""
        keys = {name: {"public_key": public_key_text(self.issue_signer(name).public_key()),
                       "roles": [role]} for name, role in sorted(signers.items())}
        policy = {"max_lifetime_s": max_lifetime_s, "clock_tolerance_s": clock_tolerance_s,
                  "keys": keys,
                  "roles": {r: list(p) for r, p in (roles or DEFAULT_ROLES).items()}}
        self.policy.write_text("# Who may command the gateways: written by geoscada pki.\n"
                               + yaml.safe_dump(policy, sort_keys=False))

    # ---------------------------------------------------------------- everything

    def init(self, stations: Iterable[str], hosts: Sequence[str]) -> None:
        """Make (or complete) the whole directory for these stations."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        stations = sorted(set(stations))
        self.init_ca()
        self.issue_broker(hosts)
        for identity in [*map(gateway_identity, stations), *SERVICE_IDENTITIES]:
            self.issue_identity(identity)
        self.write_passwd()
        self.acl.write_text(acl_text(stations))
        if not self.policy.exists():
            self.write_policy(SIGNERS)


def _rule(access: str, kind: Topic | str, station: str = "+") -> str:
    name = kind.value if isinstance(kind, Topic) else kind
    return f"topic {access} {ROOT}/{station}/{name}"


def acl_text(stations: Iterable[str]) -> str:
    """The broker's ACL: what each identity may publish and read; everything else is denied."""
    lines = ["# GeoSCADA broker ACL, generated by `geoscada pki` from the site files.",
             "# Anything not granted here is denied. Regenerate after adding a station.", ""]
    for station in sorted(set(stations)):
        lines += [f"user {gateway_identity(station)}",
                  *(_rule("write", kind, station)
                    for kind in (Topic.BIRTH, Topic.DEATH, Topic.DATA, Topic.ACK)),
                  # read commands and rebirth requests; write only to clear a retained one
                  _rule("readwrite", Topic.CMD, station), _rule("read", "cmd/#", station),
                  _rule("readwrite", Topic.REBIRTH, station),
                  _rule("read", "rebirth/#", station),
                  _rule("read", Topic.WATERMARK, station), ""]
    lines += ["user historian",  # commands too: the audit trail keeps what was sent
              *(_rule("read", kind) for kind in (Topic.BIRTH, Topic.DEATH, Topic.DATA,
                                                 Topic.CMD, Topic.ACK, Topic.EVENT,
                                                 Topic.WATERMARK)),
              f"topic read $share/+/{ROOT}/+/{Topic.DATA.value}",
              _rule("write", Topic.WATERMARK), _rule("write", Topic.REBIRTH), ""]
    for identity, writes in (("controller", (Topic.CMD, Topic.EVENT, Topic.REBIRTH)),
                             ("ui", (Topic.CMD, Topic.REBIRTH))):
        lines += [f"user {identity}",
                  *(_rule("read", kind) for kind in (Topic.BIRTH, Topic.DEATH, Topic.DATA,
                                                     Topic.ACK, Topic.EVENT, Topic.WATERMARK)),
                  *(_rule("write", kind) for kind in writes), ""]
    lines += ["user regulator",
              *(_rule("read", kind) for kind in (Topic.BIRTH, Topic.DEATH, Topic.DATA,
                                                 Topic.EVENT)), ""]
    return "\n".join(lines)


def _stations(paths: Sequence[Path]) -> list[str]:
    from plant.site import load_site

    return [load_site(path).station.id for path in paths]


def main(argv: Sequence[str]) -> int:
    """``geoscada pki init|issue|acl``."""
    parser = argparse.ArgumentParser(prog="geoscada pki", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="make or complete a PKI directory for these sites")
    init.add_argument("dir", type=Path)
    init.add_argument("sites", nargs="+", type=Path, metavar="SITE.yaml")
    init.add_argument("--host", action="append", default=[],
                      help="broker host name or address for its certificate (repeatable; "
                           "default: this host's name, localhost and 127.0.0.1)")
    issue = sub.add_parser("issue", help="issue a broker identity (certificate and password)")
    issue.add_argument("dir", type=Path)
    issue.add_argument("identity")
    acl = sub.add_parser("acl", help="print the broker ACL for these sites")
    acl.add_argument("sites", nargs="+", type=Path, metavar="SITE.yaml")
    args = parser.parse_args(list(argv))
    try:
        if args.action == "acl":
            print(acl_text(_stations(args.sites)), end="")
            return 0
        pki = Pki(args.dir)
        if args.action == "init":
            hosts = args.host or [socket.gethostname(), "localhost", "127.0.0.1"]
            pki.init(_stations(args.sites), hosts)
        else:
            pki.init_ca()
            pki.issue_identity(args.identity)
            pki.write_passwd()
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"geoscada pki: {exc}", file=sys.stderr)
        return 2
    print(f"geoscada pki: {pki.root} holds the CA, broker and identity files "
          f"(private keys and passwords 0600)")
    return 0


def opcua_certificate(cert_path: Path, key_path: Path, application_uri: str, *,
                      server: bool) -> tuple[Path, Path]:
    """Make an OPC UA application certificate (DER) and its RSA key (PEM, 0600) unless they
    exist; return their paths. OPC UA's Basic256Sha256 needs RSA and the application URI in
    the certificate's subject alternative names."""
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    from asyncua.crypto.cert_gen import generate_private_key, generate_self_signed_app_certificate

    key = generate_private_key()
    host = socket.gethostname()
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri),
                                     x509.DNSName(host), x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = generate_self_signed_app_certificate(
        key, "GeoSCADA " + ("simulator" if server else "gateway"), {"organizationName":
                                                                     "GeoSCADA"},
        names, [usage, ExtendedKeyUsageOID.CLIENT_AUTH if server else
                ExtendedKeyUsageOID.SERVER_AUTH], days=LEAF_DAYS)
    write_private(key_path, key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return cert_path, key_path
