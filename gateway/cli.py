"""``geoscada gateway SITE.yaml --broker mqtt://...``: run one station's edge gateway."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.commands import load_policy
from gateway.config import EndpointError, load_endpoints_file, parse_override, with_endpoints
from gateway.runtime import Gateway, GatewaySettings
from plant.site import SiteFileError, load_site
from runtime.mqtt import BrokerSettings
from runtime.settings import read_secret, setup_logging

log = logging.getLogger("gateway")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geoscada gateway", description=__doc__)
    parser.add_argument("site", metavar="SITE.yaml", type=Path)
    parser.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    parser.add_argument("--endpoint", action="append", default=[], metavar="DEVICE=ENDPOINT",
                        help="override a device's endpoint (HOST:PORT or opc.tcp://...)")
    parser.add_argument("--endpoints-file", type=Path,
                        help="the simulator's --endpoints-out JSON file")
    parser.add_argument("--state-dir", type=Path,
                        help="spool and certificates (default: the spool's directory, or "
                             "./gateway-state/<station>)")
    parser.add_argument("--spool", type=Path, help="spool database (default: STATE_DIR/spool.db)")
    parser.add_argument("--spool-max-mb", type=float, default=256.0)
    parser.add_argument("--replay-rate", type=float, default=100.0,
                        help="historical batches per second at most while catching up")
    parser.add_argument("--resend-after", type=float, default=5.0, metavar="SECONDS",
                        help="resend a batch no historian has confirmed this long (stretched "
                             "to twice the recent confirmation delay)")
    parser.add_argument("--health-period", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument("--username")
    parser.add_argument("--password-file", type=Path)
    parser.add_argument("--tls-ca", type=Path, help="CA certificate for a TLS broker")
    parser.add_argument("--tls-cert", type=Path, help="client certificate (PEM) for the broker")
    parser.add_argument("--tls-key", type=Path, help="client private key (PEM) for the broker")
    parser.add_argument("--command-policy", type=Path, metavar="POLICY.yaml",
                        help="trusted command signers and what each role may write "
                             "(without it every command is refused)")
    parser.add_argument("--opcua-trust", choices=("pinned", "first-use"), default="pinned",
                        help="OPC UA server certificates: only those in STATE_DIR/opcua-trust "
                             "(default), or pin the first one a server offers and log it")
    parser.add_argument("--rebirth-interval", type=float, default=5.0, metavar="SECONDS",
                        help="refuse rebirth requests closer together than this")
    parser.add_argument("--client-id", default="")
    parser.add_argument("--log-level", default="INFO")
    return parser


def settings_from(args: argparse.Namespace, station: str) -> GatewaySettings:
    """Build the gateway's settings from parsed arguments; raise ValueError naming a problem."""
    password = None
    if args.password_file is not None:
        password = read_secret(args.password_file, "--password-file")
        if args.username is None:
            raise ValueError("--password-file needs --username")
    if (args.spool_max_mb <= 0 or args.replay_rate <= 0 or args.health_period <= 0
            or args.resend_after <= 0):
        raise ValueError("--spool-max-mb, --replay-rate, --resend-after and --health-period "
                         "must be positive")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    if args.rebirth_interval < 0:
        raise ValueError("--rebirth-interval must not be negative")
    policy = load_policy(args.command_policy) if args.command_policy is not None else None
    broker = BrokerSettings.from_url(
        args.broker, tls_ca=args.tls_ca, tls_cert=args.tls_cert, tls_key=args.tls_key,
        username=args.username, password=password,
        client_id=args.client_id or f"geoscada-gateway-{station}")
    state_dir = args.state_dir or (args.spool.parent if args.spool is not None
                                   else Path("gateway-state") / station)
    return GatewaySettings(broker=broker, state_dir=state_dir, spool_path=args.spool,
                           spool_max_bytes=int(args.spool_max_mb * 1024 * 1024),
                           replay_rate=args.replay_rate, health_period_s=args.health_period,
                           resend_after_s=args.resend_after,
                           name=f"geoscada-gateway/{station}", command_policy=policy,
                           rebirth_min_interval_s=args.rebirth_interval,
                           opcua_first_use=args.opcua_trust == "first-use")


def main(argv: Sequence[str]) -> int:
    """Run the gateway until SIGINT or SIGTERM."""
    args = _parser().parse_args(argv)
    try:
        setup_logging(args.log_level)
        site = load_site(args.site)
        overrides: dict[str, str] = {}
        if args.endpoints_file is not None:
            overrides.update(load_endpoints_file(args.endpoints_file, site.station.id))
        overrides.update(parse_override(text) for text in args.endpoint)
        site = with_endpoints(site, overrides)
        settings = settings_from(args, site.station.id)
    except (SiteFileError, EndpointError, ValueError) as exc:
        print(f"geoscada gateway: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_serve(Gateway(site, settings)))
    return 0


async def _serve(gateway: Gateway) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            log.error("second stop signal: exiting at once")
            os._exit(1)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    # SIGUSR1 prints every thread's stack to stderr, for a gateway that seems stuck
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    await gateway.run(stop)
