"""Command verification benchmark: what the gateway spends on each command before writing it.

Per command: parse the payload, verify the Ed25519 signature, role and time bounds against the
policy, and remember the id durably (SQLite, synchronous=FULL, on the state directory's disk).
Reported: the median and p99 time of each step and of the whole, over N commands.

    .venv/bin/python bench/bench_commands.py [--commands 2000] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.commands import (  # noqa: E402
    CommandPolicy,
    SeenCommands,
    TrustedKey,
    parse_command,
    verify_command,
)
from plant.contract import utc_now  # noqa: E402
from plant.signing import public_key_text, sign_command  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the seen-ids database lives (default: a temporary dir)")
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    policy = CommandPolicy(keys={"op": TrustedKey(public_key=public_key_text(key.public_key()),
                                                  roles=("operator",))},
                           roles={"operator": ("*",)})
    now = utc_now()
    payloads = [sign_command(key, "op", "operator", id=f"c{i}", point="PW1.speed_setpoint",
                             value=40.0 + i % 10, origin="bench", issued=now,
                             expires=now + timedelta(seconds=60)).model_dump_json().encode()
                for i in range(args.commands)]
    steps: dict[str, list[float]] = {"parse": [], "verify": [], "remember": [], "total": []}
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        seen = SeenCommands(Path(directory) / "seen.db")
        for payload in payloads:
            t0 = time.perf_counter()
            command = parse_command(payload)
            t1 = time.perf_counter()
            verify_command(command, policy, now)
            t2 = time.perf_counter()
            assert seen.remember(command.id, command.expires, now)
            t3 = time.perf_counter()
            for name, value in (("parse", t1 - t0), ("verify", t2 - t1),
                                ("remember", t3 - t2), ("total", t3 - t0)):
                steps[name].append(value * 1000)
        seen.close()
    print(f"{args.commands} commands; milliseconds per command (median / p99):")
    for name, values in steps.items():
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(f"  {name:<9} {statistics.median(values):7.3f} / {p99:7.3f}")


if __name__ == "__main__":
    main()
