"""``geoscada historian``: run one historian process until SIGTERM or SIGINT."""

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

from pydantic import ValidationError

from historian.ingest import Historian
from historian.settings import HistorianSettings
from runtime.settings import read_secret, setup_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geoscada historian",
        description="Ingest the gateways' MQTT data into PostgreSQL/TimescaleDB.",
    )
    parser.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    parser.add_argument("--db", required=True, help="postgresql://user@host:port/database")
    parser.add_argument(
        "--client-id",
        default=f"geoscada-historian-{socket.gethostname()}",
        help="MQTT client id; keep it stable across restarts so the broker keeps the session",
    )
    parser.add_argument(
        "--group", help="shared-subscription group to split the data between historians"
    )
    parser.add_argument("--username", default=os.environ.get("GEOSCADA_MQTT_USERNAME"))
    parser.add_argument(
        "--password-file", type=Path,
        help="file holding the MQTT password (mode 600); never give a password as an argument",
    )
    parser.add_argument(
        "--password-env",
        default="GEOSCADA_MQTT_PASSWORD",
        help="environment variable holding the MQTT password, if no --password-file",
    )
    parser.add_argument("--tls-ca", type=Path, help="CA certificate of a TLS broker")
    parser.add_argument("--tls-cert", type=Path, help="client certificate (PEM) for the broker")
    parser.add_argument("--tls-key", type=Path, help="client private key (PEM) for the broker")
    parser.add_argument("--batch-max-wait", type=float, default=0.02, metavar="SECONDS")
    parser.add_argument("--batch-max-messages", type=int, default=2000)
    parser.add_argument("--rollup-interval", type=float, default=2.0, metavar="SECONDS")
    parser.add_argument("--raw-retention-days", type=float)
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: Sequence[str]) -> int:
    """Parse arguments, validate settings and run the historian."""
    args = _parser().parse_args(list(argv))
    try:
        setup_logging(args.log_level)
        if args.password_file is not None and args.username is None:
            raise ValueError("--password-file needs --username")
        if (args.tls_cert is None) != (args.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        password = (read_secret(args.password_file, "--password-file")
                    if args.password_file is not None else os.environ.get(args.password_env))
    except ValueError as error:
        print(f"geoscada historian: {error}", file=sys.stderr)
        return 2
    try:
        settings = HistorianSettings(
            broker=args.broker,
            db=args.db,
            client_id=args.client_id,
            group=args.group,
            username=args.username,
            password=password,
            tls_ca=args.tls_ca,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            batch_max_wait_s=args.batch_max_wait,
            batch_max_messages=args.batch_max_messages,
            rollup_interval_s=args.rollup_interval,
            raw_retention_days=args.raw_retention_days,
        )
    except ValidationError as error:
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"])
            print(f"geoscada historian: {where}: {item['msg']}", file=sys.stderr)
        return 2
    historian = Historian(settings)

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=historian.stop, name="historian-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    historian.run_forever()
    return 0
