"""``geoscada report``: regulator reports from the historian, signed and verifiable.

    geoscada report reinjection --db DSN --station S --period 2026-01 --format pdf --out FILE
    geoscada report energy      --db DSN --station S --period 2025-2026-season --format xlsx ...
    geoscada report platform    --db DSN --station S --period 2026-01 --format json --out FILE
    geoscada report verify FILE --public-key KEY.pub [--signature FILE.sig]
    geoscada report keygen KEYFILE
    geoscada report token issue --db DSN --regulator NAME --station S [--station T] --days 90
    geoscada report token revoke --db DSN TOKEN_ID

``--sign-key KEYFILE`` writes FILE.sig beside the report. The database password, if any, comes
from the environment (PGPASSWORD) or ~/.pgpass, never the command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from historian.query import QueryError
from plant.signing import public_key_text
from plant.site import Site, SiteFileError, load_site
from report import signing
from report.energy import EnergyParameters
from report.export import ADAPTERS, indicators
from report.make import energy_report, reinjection_report
from report.periods import PeriodError
from report.reinjection import ReinjectionParameters
from report.render import FORMATS, render


def find_site(station: str | None, site: Path | None, sites: Path) -> Site:
    """The site file named, or the one under ``sites`` whose station id is ``station``."""
    if site is not None:
        loaded = load_site(site)
        if station is not None and loaded.station.id != station:
            raise SiteFileError(f"{site} describes station {loaded.station.id!r}, not {station!r}")
        return loaded
    if station is None:
        raise SiteFileError("name the station (--station) or its site file (--site)")
    for path in sorted(sites.glob("*.yaml")):
        try:
            loaded = load_site(path)
        except SiteFileError:
            continue
        if loaded.station.id == station:
            return loaded
    raise SiteFileError(f"no site file under {sites} describes station {station!r}")


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"--as-of {text!r} needs a time zone, such as {text}+00:00")
    return moment


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geoscada report", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("reinjection", "energy", "platform"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--db", required=True, help="postgresql://user@host:port/database")
        cmd.add_argument("--station")
        cmd.add_argument("--site", type=Path, help="the station's site file")
        cmd.add_argument("--sites", type=Path, default=Path("sites"),
                         help="where to look for the station's site file (default: sites)")
        cmd.add_argument("--period", required=True,
                         help="2026-01 (month), 2025-2026-season or 2026 (year)")
        formats = tuple(ADAPTERS) if name == "platform" else FORMATS
        cmd.add_argument("--format", choices=formats, default=formats[0])
        cmd.add_argument("--out", type=Path, required=True)
        cmd.add_argument("--as-of", help="data up to this time (ISO 8601 with zone); "
                                         "default: the period's end or the last whole hour")
        cmd.add_argument("--sign-key", type=Path, help="Ed25519 key: write OUT.sig")
        cmd.add_argument("--threshold", type=float, default=ReinjectionParameters.ratio_threshold,
                         help="reinjection ratio threshold (default %(default)s)")
        cmd.add_argument("--tariff", type=float,
                         default=EnergyParameters.electricity_cny_per_kwh,
                         help="electricity price, CNY/kWh (default %(default)s)")
    verify = sub.add_parser("verify")
    verify.add_argument("file", type=Path)
    verify.add_argument("--public-key", type=Path, required=True)
    verify.add_argument("--signature", type=Path, help="default: FILE.sig")
    keygen = sub.add_parser("keygen")
    keygen.add_argument("key", type=Path)
    token = sub.add_parser("token", help="regulator API tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    issue = token_sub.add_parser("issue")
    issue.add_argument("--db", required=True)
    issue.add_argument("--regulator", required=True)
    issue.add_argument("--station", action="append", required=True)
    issue.add_argument("--days", type=float, default=90.0)
    revoke = token_sub.add_parser("revoke")
    revoke.add_argument("--db", required=True)
    revoke.add_argument("token_id")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run ``geoscada report``."""
    args = _parser().parse_args(list(argv))
    try:
        if args.command == "verify":
            return _verify(args)
        if args.command == "token":
            return _token(args)
        if args.command == "keygen":
            public = signing.write_new_key(args.key)
            args.key.with_suffix(".pub").write_text(public_key_text(public) + "\n")
            print(f"key {args.key} (600), public key {args.key.with_suffix('.pub')}: "
                  f"{public_key_text(public)}")
            return 0
        return _make(args)
    except (signing.SignatureError, SiteFileError, PeriodError, QueryError, ValueError,
            OSError, psycopg.Error) as exc:
        print(f"geoscada report: {exc}", file=sys.stderr)
        return 1


def _make(args: argparse.Namespace) -> int:
    site = find_site(args.station, args.site, args.sites)
    key = signing.load_private_key(args.sign_key) if args.sign_key else None
    as_of = _as_of(args.as_of)
    with psycopg.connect(args.db, connect_timeout=10, options="-c jit=off") as conn:
        if args.command == "energy":
            report = energy_report(conn, site, args.period, as_of=as_of,
                                   parameters=EnergyParameters(args.tariff))
        else:
            report = reinjection_report(conn, site, args.period, as_of=as_of,
                                        parameters=ReinjectionParameters(args.threshold))
            if args.command == "platform":
                energy = energy_report(conn, site, args.period, as_of=as_of,
                                       parameters=EnergyParameters(args.tariff))
    if args.command == "platform":
        data = ADAPTERS[args.format].render(indicators(report, energy))
    else:
        data = render(report, args.format)
    args.out.write_bytes(data)
    print(f"{args.out}: {report.title}, digest {report.digest}")
    if key is not None:
        path = Path(f"{args.out}{signing.SIGNATURE_SUFFIX}")
        path.write_bytes(signing.sign(data, key).to_bytes())
        print(f"signature {path}")
    for statement in report.statements:
        print(f"  {statement}")
    return 0


def _token(args: argparse.Namespace) -> int:
    from report import api

    with psycopg.connect(args.db, autocommit=True, connect_timeout=10) as conn:
        api.ensure_schema(conn)
        if args.action == "issue":
            text = api.issue_token(conn, args.regulator, args.station,
                                   timedelta(days=args.days))
            print(text)  # shown once: only the hash of its secret is stored
            return 0
        if api.revoke_token(conn, args.token_id):
            print(f"token {args.token_id} revoked")
            return 0
        print(f"geoscada report: no live token {args.token_id}", file=sys.stderr)
        return 1


def _verify(args: argparse.Namespace) -> int:
    trusted = signing.read_public_key(args.public_key)
    sig_path = args.signature or Path(f"{args.file}{signing.SIGNATURE_SUFFIX}")
    signature = signing.parse_signature(sig_path.read_bytes())
    signing.verify(args.file.read_bytes(), signature, trusted)
    print(f"{args.file}: signature valid, SHA-256 {signature.sha256}")
    return 0
