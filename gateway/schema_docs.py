"""Write the MQTT contract's JSON Schema files (``docs/schema/<kind>.schema.json``).

Run ``python -m gateway.schema_docs`` after changing ``plant/contract.py``; a test fails while
the files in ``docs/`` differ from what the models generate.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from plant.contract import Topic, json_schema

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schema"


def rendered() -> dict[str, str]:
    """Return file name -> text of every schema file."""
    return {
        f"{kind.value}.schema.json": json.dumps(json_schema(kind), indent=2, sort_keys=True) + "\n"
        for kind in Topic
    }


def main(argv: Sequence[str] = ()) -> int:
    """Write the schema files into the directory given (``docs/schema`` by default)."""
    target = Path(argv[0]) if argv else SCHEMA_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (target / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(Topic)} schema files to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
