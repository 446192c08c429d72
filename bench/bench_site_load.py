"""Benchmark: validate each site file in sites/, and one synthetic station of about 16 k points.

The synthetic station repeats every point of sites/shallow-field.yaml under new ids and new
register addresses on the same five devices until it holds at least 16,000 points.

Run: .venv/bin/python bench/bench_site_load.py [repeats]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

import plant.site
from plant.site import load_site, parse_site

SITES = sorted((Path(__file__).resolve().parent.parent / "sites").glob("*.yaml"))
BIG_TEMPLATE = Path(__file__).resolve().parent.parent / "sites" / "shallow-field.yaml"
BIG_POINTS = 16_000


def big_site_text(template: Path = BIG_TEMPLATE, points: int = BIG_POINTS) -> str:
    """A valid site file repeating the template's points until it holds ``points`` of them.

    The copies stay on the template's devices: each copy's registers follow the previous copy's
    in the same table and its OPC UA node ids get a suffix, so every device table holds
    thousands of bindings, as one large PLC would.
    """
    data: dict[str, Any] = yaml.safe_load(template.read_text())
    rows = data["points"]
    ends: dict[tuple[str, str], int] = {}
    for row in rows:
        binding = row["binding"]
        if binding["protocol"] == "modbus":
            key = (binding["device"], binding["table"])
            width = 2 if binding.get("type", "float32").endswith("32") else 1
            ends[key] = max(ends.get(key, 0), binding["address"] + width)
    copies = -(-points // len(rows))
    data["points"] = []
    for k in range(copies):
        for row in rows:
            binding = dict(row["binding"])
            if binding["protocol"] == "modbus":
                binding["address"] += k * ends[(binding["device"], binding["table"])]
            else:
                binding["node_id"] = f"{binding['node_id']}-{k}"
            data["points"].append({**row, "id": f"{row['id']}-{k}", "binding": binding})
    return yaml.safe_dump(data, sort_keys=False)


def best_of(load: Any, repeats: int, clock: Any = time.perf_counter) -> float:
    """The fastest of ``repeats`` calls of ``load()``, in seconds of ``clock``."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        load()
        best = min(best, clock() - start)
    return best


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    loaders = {"libyaml": getattr(yaml, "CSafeLoader", None), "pure Python": yaml.SafeLoader}
    print(f"load average {os.getloadavg()[0]:.2f}; best of {repeats}")
    print(f"{'site file':32} {'points':>6} " + " ".join(f"{name:>12}" for name in loaders))
    for path in SITES:
        timings = []
        for loader in loaders.values():
            if loader is None:
                timings.append("n/a")
                continue
            plant.site._LOADER = loader
            timings.append(f"{best_of(lambda p=path: load_site(p), repeats) * 1000:9.0f} ms")
        points = len(load_site(path).points)
        print(f"{path.name:32} {points:>6} " + " ".join(f"{t:>12}" for t in timings))
    plant.site._LOADER = loaders["libyaml"] or yaml.SafeLoader
    text = big_site_text()
    points = len(parse_site(text, "big.yaml").points)
    wall = best_of(lambda: parse_site(text, "big.yaml"), repeats)
    cpu = best_of(lambda: parse_site(text, "big.yaml"), repeats, time.process_time)
    print(f"{'synthetic (shallow-field x n)':32} {points:>6} {wall * 1000:9.0f} ms"
          f"   ({cpu * 1000:.0f} ms of CPU; {len(text) / 1e6:.1f} MB of YAML)")


if __name__ == "__main__":
    main()
