"""Settings helpers every service shares: secrets read from files, logging set up one way."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

QUIET_LIBRARIES = {"asyncua": logging.WARNING, "pymodbus": logging.CRITICAL,
                   "psycopg.pool": logging.WARNING}


class SecretError(ValueError):
    """A secret file that cannot be used; the message names the file and the problem."""


def read_secret(path: Path, what: str = "secret file") -> str:
    """Read a secret (password, token) from a file: first line, without surrounding blanks.

    Secrets come from files so they never appear on a command line (visible to every user in
    the process list) or in a log. A file others may read is refused.
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"{what} {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and os.name == "posix":
        raise SecretError(f"{what} {path} may be read by other users "
                          f"(mode {stat.S_IMODE(mode):o}); chmod 600 it")
    value = text.splitlines()[0].strip() if text.strip() else ""
    if not value:
        raise SecretError(f"{what} {path} is empty")
    return value


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr with time, level and logger name; keep chatty libraries quiet."""
    try:
        numeric = logging.getLevelNamesMapping()[level.upper()]
    except KeyError:
        raise ValueError(f"log level {level!r} is not one of DEBUG, INFO, WARNING, ERROR, "
                         f"CRITICAL") from None
    logging.basicConfig(level=numeric,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name, quiet in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(quiet, numeric))
