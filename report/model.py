"""The report object every format is rendered from, and its digest (pure)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

Cell = str | int | float | None
"""A table cell: text, a count, a figure, or empty (not available)."""


def figure(value: float | None, decimals: int) -> float | None:
    """A figure at its stated precision; None for a missing or non-finite value."""
    if value is None or not math.isfinite(value):
        return None
    rounded = round(float(value), decimals)
    return 0.0 if rounded == 0 else rounded  # no "-0.0" in any format


@dataclass(frozen=True)
class Table:
    """A titled table: column names and rows of cells."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.name}: a row has {len(row)} cells for "
                                 f"{len(self.columns)} columns")


@dataclass(frozen=True)
class Plot:
    """A line plot: x labels and named series of y values (None where there is no value)."""

    name: str
    title: str
    y_label: str
    x: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]
    threshold: float | None = None


@dataclass(frozen=True)
class Report:
    """One report: what it was made from, what it states, its tables and plots."""

    kind: str
    title: str
    inputs: dict[str, Any]
    statements: tuple[str, ...]
    tables: tuple[Table, ...]
    plots: tuple[Plot, ...] = field(default=())

    def body(self) -> dict[str, Any]:
        """Everything the report says, as plain JSON-ready data (the digest's subject)."""
        return {
            "kind": self.kind,
            "title": self.title,
            "inputs": self.inputs,
            "statements": list(self.statements),
            "tables": [
                {"name": t.name, "title": t.title, "columns": list(t.columns),
                 "rows": [list(r) for r in t.rows]}
                for t in self.tables
            ],
            "plots": [
                {"name": p.name, "title": p.title, "y_label": p.y_label, "x": list(p.x),
                 "threshold": p.threshold,
                 "series": [{"name": n, "values": list(v)} for n, v in p.series]}
                for p in self.plots
            ],
        }

    @property
    def digest(self) -> str:
        """SHA-256 over the canonical JSON of the inputs and everything the report states."""
        return hashlib.sha256(canonical_json(self.body())).hexdigest()

    def table(self, name: str) -> Table:
        """The table of this name; KeyError if none."""
        for item in self.tables:
            if item.name == name:
                return item
        raise KeyError(name)


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN: the same data always gives the same bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()
