"""``geoscada check``: validate site files and say what is wrong with each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from plant.site import SiteFileError, load_site


def main(argv: Sequence[str]) -> int:
    """Validate each site file; exit 1 if any is invalid."""
    parser = argparse.ArgumentParser(prog="geoscada check", description=__doc__)
    parser.add_argument("sites", nargs="+", metavar="SITE.yaml")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.sites:
        try:
            site = load_site(path)
        except SiteFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"ok: {path}: station {site.station.id}, {len(site.devices)} devices, "
              f"{len(site.equipment)} equipment, {len(site.points)} points")
    return 1 if failed else 0
