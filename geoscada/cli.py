"""Entry point of the ``geoscada`` command: one subcommand per service."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# Subcommand -> (module, summary). Each module exposes ``main(argv: Sequence[str]) -> int``.
# Modules are imported only when their subcommand runs, so one broken service never stops
# another from starting and ``geoscada check`` stays fast.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check": ("plant.check", "validate site files"),
    "sim": ("simulator.cli", "simulate stations over Modbus TCP and OPC UA"),
    "season": ("simulator.season_cli", "run a station's season in process, local or supervised"),
    "gateway": ("gateway.cli", "poll a station's devices and publish to MQTT"),
    "historian": ("historian.cli", "ingest MQTT into TimescaleDB"),
    "query": ("historian.query_cli", "query the historian"),
    "models": ("plant.models.cli", "compute the Heilongjiang plan's tables and station KPIs"),
    "controller": ("controller.cli", "evaluate the stations' alarms and publish their events"),
    "alarms": ("controller.alarms_cli", "list alarms and their KPIs; acknowledge, shelve, ..."),
    "demo": ("geoscada.demo", "bring up simulated stations and every service"),
    "pki": ("geoscada.pki", "private CA, broker identities and ACL, command signers"),
    "command": ("geoscada.command", "sign a command, send it to a gateway, print the ack"),
    "report": ("report.cli", "regulator reports: reinjection, energy/carbon, platform export"),
    "ui": ("ui.cli", "serve the operator web interface; add its users"),
}


def _usage() -> str:
    lines = ["usage: geoscada COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the subcommand named by the first argument."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"geoscada: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    run: Callable[[Sequence[str]], int] = module.main
    return run(rest)


if __name__ == "__main__":
    raise SystemExit(main())
