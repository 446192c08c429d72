"""``geoscada sim``: simulate stations behind real Modbus TCP and OPC UA servers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from plant.site import SiteFileError, load_site
from simulator.control_api import ControlServer
from simulator.faults import FaultFileError, load_fault_schedule
from simulator.runtime import SimulatorHost
from simulator.sim import FaultTargetError

log = logging.getLogger("geoscada.sim")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geoscada sim", description=__doc__)
    parser.add_argument("sites", nargs="+", metavar="SITE.yaml")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per wall-clock second (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="noise and weather seed (default 0)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--modbus-port", type=int, default=None,
                        help="serve station i's Modbus devices on P+i (0: free ports)")
    parser.add_argument("--opcua-port", type=int, default=None,
                        help="serve station i's OPC UA server on P+i (0: free ports)")
    parser.add_argument("--certificate-dir", type=Path, default=None,
                        help="keep the OPC UA servers' certificates here (default: new ones in "
                             "a temporary directory on every start)")
    parser.add_argument("--faults", type=Path, default=None, help="fault schedule (YAML list)")
    parser.add_argument("--control-port", type=int, default=None,
                        help="serve the HTTP control API on this loopback port")
    parser.add_argument("--endpoints-out", type=Path, default=None,
                        help="write the bound endpoints as JSON to this file")
    parser.add_argument("--start", default=None,
                        help="simulated start time, ISO 8601 (default: now, UTC)")
    parser.add_argument("--step", type=float, default=1.0, help="simulation step in seconds")
    return parser


def _start_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def main(argv: Sequence[str]) -> int:
    """Run the simulator until SIGTERM or SIGINT."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("asyncua", "pymodbus"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # an OPC UA server without security says so once per start; the site file asked for it
    logging.getLogger("asyncua.server.server").setLevel(logging.ERROR)
    try:
        sites = [load_site(path) for path in args.sites]
        faults = load_fault_schedule(args.faults) if args.faults else []
        start = _start_time(args.start)
        host = SimulatorHost(sites, speed=args.speed, seed=args.seed, host=args.host,
                             modbus_port=args.modbus_port, opcua_port=args.opcua_port,
                             faults=faults, step_s=args.step, start=start,
                             certificate_dir=args.certificate_dir)
    except (SiteFileError, FaultFileError, FaultTargetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(host, args.control_port, args.endpoints_out))
    except OSError as exc:
        print(f"error: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(host: SimulatorHost, control_port: int | None, endpoints_out: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await host.start()
    control = None
    try:
        if control_port is not None:
            control = ControlServer(host, "127.0.0.1", control_port)
            await control.start()
            log.info("control API on http://127.0.0.1:%d", control.port)
        if endpoints_out is not None:
            temporary = endpoints_out.with_suffix(endpoints_out.suffix + ".tmp")
            temporary.write_text(json.dumps(host.endpoints(), indent=2))
            temporary.replace(endpoints_out)
        await stop.wait()
        log.info("stopping")
    finally:
        if control is not None:
            await control.stop()
        with contextlib.suppress(Exception):
            await host.stop()
