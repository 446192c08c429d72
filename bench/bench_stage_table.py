"""How long building a station's stage table takes as its units and their kinds grow.

    PYTHONPATH=. .venv/bin/python bench/bench_stage_table.py

Takes the demo stations' unit kinds (the doublet's three, the shallow field's screw unit as a
fourth) with as many identical units of each as each row asks, and times
``controller.staging`` building the stage table by pricing every order of adding the units
(where that is at most ``--every-max`` orders) and stage by stage (always), and says whether
the two chose the same chain. Prints one JSON line per row and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from controller.staging import (  # noqa: E402
    UnitKind,
    _cheapest_by_pairs,
    cheapest_of_every_order,
    order_count,
    stage_table,
)
from plant.site import Staging, load_site  # noqa: E402

ROWS = ((2, 1, 1, 0), (3, 2, 1, 0), (2, 2, 2, 1), (3, 3, 2, 1), (3, 3, 3, 3), (4, 4, 4, 4))


def kinds_for(counts: tuple[int, ...]) -> tuple[UnitKind, ...]:
    """The doublet's kinds and the shallow field's screw, ``counts`` units of each."""
    doublet = stage_table(load_site(ROOT / "sites" / "hydrothermal-doublet.yaml"), Staging())
    field = stage_table(load_site(ROOT / "sites" / "shallow-field.yaml"), Staging())
    base = (*doublet.kinds, field.kinds[1])
    return tuple(UnitKind(k.rating, tuple(k.rating.model_copy(update={"id": f"{k.rating.id}-{i}"})
                                          for i in range(n)), k.pumps_kw)
                 for k, n in zip(base, counts, strict=True) if n)


def main() -> None:
    """Time each row both ways."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--every-max", type=int, default=20_000)
    args = parser.parse_args()
    loops = stage_table(load_site(ROOT / "sites" / "hydrothermal-doublet.yaml"), Staging()).loops
    for counts in ROWS:
        kinds = kinds_for(counts)
        orders = order_count(tuple(len(k.units) for k in kinds))
        row: dict[str, object] = {"units": dict(zip(("HP2", "HP3-1200", "HP3-700", "screw"),
                                                    counts, strict=True)),
                                  "orders": orders}
        start = time.process_time()
        pairs = _cheapest_by_pairs(kinds, Staging(), loops)
        row["stage_by_stage_cpu_s"] = round(time.process_time() - start, 3)
        if orders <= args.every_max:
            start = time.process_time()
            every = cheapest_of_every_order(kinds, Staging(), loops)
            row["every_order_cpu_s"] = round(time.process_time() - start, 3)
            row["same_chain"] = [s.counts for s in every.stages] == [s.counts for s in pairs.stages]
        print(json.dumps(row), flush=True)
    print(json.dumps({"load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
