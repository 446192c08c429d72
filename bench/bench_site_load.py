"""Benchmark: validate each site file in sites/, with libyaml's parser and with pure Python.

Run: .venv/bin/python bench/bench_site_load.py [repeats]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import yaml

import plant.site
from plant.site import load_site

SITES = sorted((Path(__file__).resolve().parent.parent / "sites").glob("*.yaml"))


def best_of(path: Path, repeats: int) -> float:
    """The fastest of ``repeats`` loads of one site file, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        load_site(path)
        best = min(best, time.perf_counter() - start)
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
            timings.append(f"{best_of(path, repeats) * 1000:9.0f} ms")
        points = len(load_site(path).points)
        print(f"{path.name:32} {points:>6} " + " ".join(f"{t:>12}" for t in timings))


if __name__ == "__main__":
    main()
