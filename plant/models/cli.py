"""``geoscada models``: compute the Heilongjiang plan's tables from its inputs.

    geoscada models table ID [--format csv|text] [--corrected]
    geoscada models list

``text`` prints each computed cell next to the printed one and their difference where the
digest prints the table; ``--corrected`` drops the plan's errata (Daqing and Qitaihe get
their own climate) instead of reproducing the plan as printed.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Sequence
from importlib import resources

from plant.models.plan import TABLES, Cell, Row, TableSpec, compute_table
from plant.models.plan_data import DATA_PACKAGE, PlanDataError, load_plan_inputs

PRINTED_FILE = "printed_tables.csv"
KEY_COLUMNS = ("region", "basin", "building", "zone")


def _format_cell(value: Cell, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if column.endswith("_gj"):
        return f"{value:.4f}"
    return f"{value:.3f}"


def _printed(table_id: str) -> dict[tuple[str, str], dict[str, str]]:
    """Printed values of a table keyed by (region, basin or building); empty if withheld."""
    text = resources.files(DATA_PACKAGE).joinpath(PRINTED_FILE).read_text(encoding="utf-8")
    out: dict[tuple[str, str], dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["table"] == table_id:
            key = (row["region"], row["basin"] or row["building"])
            out.setdefault(key, {})[row["column"]] = row["value"]
    return out


def row_key(row: Row) -> tuple[str, str]:
    """(region or zone, basin or building) of a row, as the printed tables are keyed."""
    return (str(row.get("region") or row.get("zone") or ""),
            str(row.get("basin") or row.get("building") or ""))


def render_csv(columns: Sequence[str], rows: Sequence[Row]) -> str:
    """Rows as CSV with a header; empty cells where the plan has no value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_format_cell(row.get(c), c) for c in columns])
    return buffer.getvalue()


def _difference(computed: Cell, printed: str | None) -> str:
    if printed is None:
        return ""
    if isinstance(computed, float) and printed not in ("/", "") and not printed.startswith(">"):
        reference = float(printed)
        if reference == 0.0:
            return f"{computed - reference:+.3f}"
        return f"{(computed / reference - 1.0) * 100.0:+.1f}%"
    return "=" if _format_cell(computed, "") == printed or (
        computed is None and printed == "/") else "≠"


def render_text(table_id: str, rows: Sequence[Row]) -> str:
    """A readable table: computed value, printed value and difference for every numeric cell."""
    spec = TABLES[table_id]
    printed = _printed(table_id)
    lines = [f"Table {table_id}: {spec.title}"]
    if not printed:
        lines.append("(withheld from the digest: computed values only)")
    for row in rows:
        key = row_key(row)
        lines.append(f"{key[0]} / {key[1]}")
        reference = printed.get(key, {})
        for column in spec.columns:
            if column in KEY_COLUMNS:
                continue
            shown = _format_cell(row.get(column), column) or "/"
            if column in reference:
                lines.append(f"  {column:<22} {shown:>10}  printed {reference[column]:>8}"
                             f"  {_difference(row.get(column), reference[column])}")
            else:
                lines.append(f"  {column:<22} {shown:>10}")
    return "\n".join(lines) + "\n"


def _table_order(spec: TableSpec) -> tuple[int, int]:
    """Chapter then number: 2-2 < 4-4 < 4-10 < ch5 (chapter 5) < 6-4."""
    if spec.id.startswith("ch"):
        return (int(spec.id[2:]), 0)
    chapter, number = spec.id.split("-")
    return (int(chapter), int(number))


def main(argv: Sequence[str]) -> int:
    """Run ``geoscada models``; return the exit status."""
    parser = argparse.ArgumentParser(prog="geoscada models", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    table = sub.add_parser("table", help="compute one of the plan's tables")
    table.add_argument("id", help=f"table id ({', '.join(TABLES)})")
    table.add_argument("--format", choices=("csv", "text"), default="csv")
    table.add_argument("--corrected", action="store_true",
                       help="use every city's own climate instead of the plan's substitutions")
    sub.add_parser("list", help="list the tables that can be computed")
    args = parser.parse_args(list(argv))
    if args.command == "list":
        for spec in sorted(TABLES.values(), key=_table_order):
            print(f"{spec.id:<5} {spec.title}")
        return 0
    if args.id not in TABLES:
        print(f"geoscada models: unknown table {args.id!r} (known: {', '.join(TABLES)})",
              file=sys.stderr)
        return 2
    try:
        inputs = load_plan_inputs(as_printed=not args.corrected)
        rows = compute_table(args.id, inputs)
    except PlanDataError as exc:
        print(f"geoscada models: {exc}", file=sys.stderr)
        return 1
    if args.format == "csv":
        sys.stdout.write(render_csv(TABLES[args.id].columns, rows))
    else:
        sys.stdout.write(render_text(args.id, rows))
    return 0
