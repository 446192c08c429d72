"""``geoscada controller``: follow the stations, evaluate their alarms, publish the events."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import yaml

from controller.commander import Signer, load_signer_key
from controller.service import Controller, ControllerSettings, load_alarm_settings
from controller.store import StateError
from plant.site import load_site
from runtime.mqtt import BrokerSettings
from runtime.settings import setup_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geoscada controller",
        description="Evaluate every station's rules and alarms from its MQTT stream; publish "
                    "each alarm transition on the station's event topic; stage the heat pumps "
                    "of stations whose site has staging, through signed gateway commands.")
    parser.add_argument("--site", action="append", required=True, type=Path, metavar="SITE.yaml",
                        help="a station's site file (repeat for every station)")
    parser.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    parser.add_argument("--db", required=True,
                        help="the historian's database, read for history windows (read-only)")
    parser.add_argument("--state-dir", required=True, type=Path,
                        help="where alarm states and unacknowledged events are kept")
    parser.add_argument("--alarm-settings", type=Path,
                        help="YAML: station id -> alarm id or rule -> settings")
    parser.add_argument("--id", default=f"geoscada-controller-{socket.gethostname()}",
                        help="the controller's identity (MQTT client id, events' source)")
    parser.add_argument("--username", default=os.environ.get("GEOSCADA_MQTT_USERNAME"))
    parser.add_argument("--password-file", type=Path,
                        help="file holding the MQTT password (mode 600)")
    parser.add_argument("--tls-ca", type=Path, help="CA certificate of a TLS broker")
    parser.add_argument("--tls-cert", type=Path, help="client certificate (PEM) for the broker")
    parser.add_argument("--tls-key", type=Path, help="client private key (PEM) for the broker")
    parser.add_argument("--signer-key", type=Path,
                        help="Ed25519 key (PEM) the controller signs its writes with; needed "
                             "when a site has staging (geoscada pki: signers/controller.key)")
    parser.add_argument("--signer-id", default="controller",
                        help="the key's name in the gateways' command policy")
    parser.add_argument("--period", type=float, default=1.0, metavar="SECONDS",
                        help="evaluation period (default 1 s)")
    parser.add_argument("--log-level", default="INFO")
    return parser


def settings_from(args: argparse.Namespace) -> ControllerSettings:
    """Validated settings from the parsed arguments; raise ValueError naming what is wrong."""
    sites = []
    for path in args.site:
        sites.append(load_site(path))
    alarm_settings = {}
    if args.alarm_settings is not None:
        try:
            text = args.alarm_settings.read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{args.alarm_settings}: {error}") from None
        alarm_settings = load_alarm_settings(data, str(args.alarm_settings))
    if not args.period > 0:
        raise ValueError(f"--period must be positive, not {args.period}")
    broker = BrokerSettings.from_options(args.broker, client_id=args.id, username=args.username,
                                         password_file=args.password_file, tls_ca=args.tls_ca,
                                         tls_cert=args.tls_cert, tls_key=args.tls_key)
    signer = None if args.signer_key is None else Signer(load_signer_key(args.signer_key),
                                                          args.signer_id)
    return ControllerSettings(sites=tuple(sites), broker=broker, db=args.db,
                              state_dir=args.state_dir, source=args.id,
                              alarm_settings=alarm_settings, period_s=args.period,
                              signer=signer)


def main(argv: Sequence[str]) -> int:
    """Parse arguments, validate settings and run the controller until SIGTERM or SIGINT."""
    args = _parser().parse_args(list(argv))
    try:
        setup_logging(args.log_level)
        controller = Controller(settings_from(args))
    except (ValueError, OSError, StateError) as error:
        print(f"geoscada controller: {error}", file=sys.stderr)
        return 2

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=controller.stop, name="controller-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    controller.run_forever()
    return 0

