"""``geoscada ui``: serve the web interface, or add a user to its users file."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from runtime.settings import SecretError, read_secret, setup_logging

log = logging.getLogger("geoscada.ui")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ui.app import create_app
    from ui.auth import UsersFileError
    from ui.settings import SettingsError, load_settings

    setup_logging(args.log_level)
    try:
        settings = load_settings(args.config)
        app = create_app(settings)
    except (SettingsError, UsersFileError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log.info("UI at http://%s:%d/", settings.listen_host, settings.listen_port)
    uvicorn.run(app, host=settings.listen_host, port=settings.listen_port,
                log_level=args.log_level.lower(), access_log=False, timeout_graceful_shutdown=3)
    return 0


def _user(args: argparse.Namespace) -> int:
    from ui.auth import Role, User, UsersFileError, hash_password, load_users, write_users

    try:
        users = load_users(args.users_file) if args.users_file.exists() else {}
        if args.password_file is not None:
            password = read_secret(args.password_file, "password file")
        else:
            password = getpass.getpass(f"password for {args.name}: ")
        if len(password) < 12:
            raise ValueError("a password needs at least 12 characters")
        role = Role(args.role)
        if role is Role.REGULATOR and not args.station:
            raise ValueError("a regulator is scoped to stations: give --station")
        users[args.name] = User(args.name, role, hash_password(password),
                                frozenset(args.station) if args.station else None)
        write_users(args.users_file, users.values())
    except (UsersFileError, SecretError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.users_file}: user {args.name} ({args.role}) written")
    return 0


def main(argv: Sequence[str]) -> int:
    """``geoscada ui serve --config FILE`` or ``geoscada ui user USERS NAME --role ROLE``."""
    parser = argparse.ArgumentParser(prog="geoscada ui", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve", help="serve the web interface")
    serve.add_argument("--config", type=Path, required=True, help="the UI's settings file")
    serve.add_argument("--log-level", default="INFO")
    user = sub.add_parser("user", help="add or replace a user (password from a file or asked)")
    user.add_argument("users_file", type=Path)
    user.add_argument("name")
    user.add_argument("--role", required=True,
                      choices=["operator", "engineer", "regulator", "admin"])
    user.add_argument("--station", action="append", default=[],
                      help="limit the user to this station (repeatable; required for a "
                           "regulator)")
    user.add_argument("--password-file", type=Path)
    args = parser.parse_args(argv)
    return _serve(args) if args.action == "serve" else _user(args)
