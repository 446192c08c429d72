"""``geoscada demo --speed``: a station staged live must keep its heartbeat at that speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from geoscada.demo import DEFAULT_SITES, speed_refusal
from plant.site import load_site

ROOT = Path(__file__).resolve().parents[2]
SITES = [load_site(ROOT / path) for path in DEFAULT_SITES]


def test_the_staged_doublet_keeps_its_heartbeat_up_to_half_its_timeout_per_cycle() -> None:
    doublet = next(s for s in SITES if s.station.id == "hydrothermal-doublet")
    staging, supervision = doublet.station.staging, doublet.station.supervision
    assert staging is not None and supervision is not None
    fastest = supervision.heartbeat_timeout_s / 2 / staging.cycle_s  # 600 / 2 / 10 = 30
    assert speed_refusal(SITES, 1.0) is None
    assert speed_refusal(SITES, fastest) is None
    why = speed_refusal(SITES, fastest * 2)
    assert why is not None and why.startswith("--speed 60: station hydrothermal-doublet")
    assert "600 s of the plant's time" in why and "--speed 30 or slower" in why
    # the stations their own logic stages run at any speed
    assert speed_refusal([s for s in SITES if s is not doublet], 1000.0) is None


def test_the_demo_refuses_a_speed_that_would_lose_the_staged_station() -> None:
    done = subprocess.run([sys.executable, "-m", "geoscada.cli", "demo", "--speed", "120",
                           "--workdir", "/nonexistent/never-made"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "error: --speed 120: station hydrothermal-doublet" in done.stderr
    assert not Path("/nonexistent").exists()
