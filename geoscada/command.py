"""``geoscada command STATION POINT VALUE``: sign a command, send it, print the gateway's ack.

The command is signed with a signer key of a ``geoscada pki`` directory (its role read from the
command policy there) and published over TLS as a broker identity that may publish commands
(``ui`` by default). Exit status 0 when the gateway wrote and read back the value, 1 when it
refused or failed, 2 on bad arguments, 3 when no ack came in time.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.client import MQTTMessage

from geoscada.pki import Pki
from plant.contract import Command, CommandAck, Outcome, Topic, topic, utc_now
from plant.signing import sign_command
from runtime.mqtt import BrokerSettings, new_client


def parse_value(text: str) -> bool | int | float:
    """``true``/``false``, an integer or a number; raise ValueError naming the text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"value {text!r} is not true, false or a number") from None
    if not math.isfinite(number):
        raise ValueError(f"value {text!r} is not a finite number")
    return number


def signer_role(pki: Pki, signer: str) -> str:
    """The role the command policy gives a signer key; raise ValueError."""
    try:
        policy = yaml.safe_load(pki.policy.read_text(encoding="utf-8"))
        roles = policy["keys"][signer]["roles"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ValueError(f"{pki.policy}: no roles for signer {signer!r} ({exc})") from None
    return str(roles[0])


def sign(pki: Pki, signer: str, target: tuple[str, str, bool | int | float], *,
         lifetime_s: float, origin: str, role: str | None = None, id_prefix: str = "cli"
         ) -> tuple[str, Command]:
    """The topic and the command to write ``target`` (station, point, value), signed by a signer
    key of the PKI directory; raise ValueError naming what is wrong."""
    station, point, value = target
    key_path = pki.signer(signer)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise ValueError(f"signer key {key_path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"signer key {key_path} is not an Ed25519 key")
    issued = utc_now()
    command = sign_command(key, signer, role or signer_role(pki, signer),
                           id=f"{id_prefix}-{uuid.uuid4().hex[:16]}", point=point, value=value,
                           origin=origin, issued=issued,
                           expires=issued + timedelta(seconds=lifetime_s))
    return topic(station, Topic.CMD), command


def build(pki: Pki, signer: str, station_point_value: tuple[str, str, str],
          lifetime_s: float, role: str | None = None) -> tuple[str, Command]:
    """The topic and the signed command; raise ValueError naming what is wrong."""
    station, point, text = station_point_value
    return sign(pki, signer, (station, point, parse_value(text)), lifetime_s=lifetime_s,
                origin=f"geoscada command ({signer})", role=role)


def main(argv: Sequence[str]) -> int:
    """Sign, send, wait for the ack and print it."""
    parser = argparse.ArgumentParser(prog="geoscada command", description=__doc__.split("\n")[0])
    parser.add_argument("station")
    parser.add_argument("point")
    parser.add_argument("value", help="true, false or a number")
    parser.add_argument("--pki", type=Path, required=True, help="the geoscada pki directory")
    parser.add_argument("--broker", required=True, help="mqtts://host:port")
    parser.add_argument("--signer", default="operator", help="signer key name (signers/NAME.key)")
    parser.add_argument("--identity", default="ui", help="broker identity to publish as")
    parser.add_argument("--lifetime", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--wait", type=float, default=15.0, metavar="SECONDS",
                        help="how long to wait for the gateway's ack")
    args = parser.parse_args(list(argv))
    pki = Pki(args.pki)
    try:
        name, command = build(pki, args.signer, (args.station, args.point, args.value),
                              args.lifetime)
        settings = BrokerSettings.from_options(
            args.broker, client_id=f"geoscada-command-{uuid.uuid4().hex[:8]}",
            username=args.identity, password_file=pki.password(args.identity),
            tls_ca=pki.ca_cert, tls_cert=pki.cert(args.identity), tls_key=pki.key(args.identity))
    except ValueError as exc:
        print(f"geoscada command: {exc}", file=sys.stderr)
        return 2
    acked: list[CommandAck] = []
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client: object, userdata: object, message: MQTTMessage) -> None:
        try:
            ack = CommandAck.model_validate_json(message.payload)
        except ValueError:
            return
        if ack.id == command.id:
            acked.append(ack)
            done.set()

    client = new_client(settings)
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    try:
        client.connect(settings.host, settings.port)
    except OSError as exc:
        print(f"geoscada command: cannot reach {args.broker}: {exc}", file=sys.stderr)
        return 3
    client.loop_start()
    try:
        client.subscribe(topic(args.station, Topic.ACK), qos=1)
        subscribed.wait(5)
        client.publish(name, command.model_dump_json().encode(), qos=1).wait_for_publish(5)
        print(f"sent {command.id}: {args.station} {command.point} := {command.value} "
              f"(signed by {args.signer} as {command.role})")
        if not done.wait(args.wait):
            print(f"geoscada command: no ack within {args.wait:g} s", file=sys.stderr)
            return 3
    finally:
        client.disconnect()
        client.loop_stop()
    ack = acked[0]
    detail = f": {ack.reason}" if ack.reason else ""
    print(f"{ack.outcome.value}{detail} (read back {ack.readback})")
    return 0 if ack.outcome is Outcome.DONE else 1
