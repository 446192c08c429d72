"""The alarm journal as the UI follows it: the rows the historian stored, read once and then
only the new ones, folded into the board; and operator actions handed to the controller."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from controller.actions import AlarmAction, NoAnswerError, Verb, submit
from controller.journal import AlarmSummary, read_journal_after
from runtime.settings import SecretError, read_secret
from ui.alarm_board import AlarmBoard
from ui.settings import UiSettings

log = logging.getLogger(__name__)

ANSWER_WAIT_S = 10.0
"""How long an operator waits for the controller to take an action."""
REFRESH_S = 0.5
"""Pages asking within this time of a refresh share it (every page's banner asks each second)."""


class HistorianUnavailableError(RuntimeError):
    """The historian's database cannot be read (not configured or not reachable)."""


def connect(settings: UiSettings) -> psycopg.Connection[tuple[object, ...]]:
    """A read-only connection to the historian's database; raise HistorianUnavailableError."""
    if settings.database is None:
        raise HistorianUnavailableError("no historian database is configured")
    try:
        password = (read_secret(settings.database_password_file, "database password file")
                    if settings.database_password_file else None)
        conn = psycopg.connect(settings.database, password=password, autocommit=True,
                               connect_timeout=5)
    except (psycopg.Error, SecretError) as error:
        raise HistorianUnavailableError(f"historian database unavailable: {error}") from None
    conn.read_only = True
    conn.execute("SET statement_timeout = '20s'")
    return conn


class AlarmJournal:
    """The board, kept current from the historian's events table by reading new rows only."""

    def __init__(self, settings: UiSettings) -> None:
        self.settings = settings
        self.board = AlarmBoard()
        self._after = 0
        self._refreshed = -REFRESH_S
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._complained = False

    def refresh(self, *, fresh: bool = False) -> None:
        """Take the rows stored since the last refresh (unless one was made within
        ``REFRESH_S`` and ``fresh`` is False); raise HistorianUnavailableError."""
        with self._lock:
            if not fresh and time.monotonic() - self._refreshed < REFRESH_S:
                return
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = connect(self.settings)
                rows, refused, self._after = read_journal_after(self._conn, self._after)
            except psycopg.Error as error:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                if not self._complained:
                    log.warning("alarm journal unreadable: %s", error)
                    self._complained = True
                raise HistorianUnavailableError(f"historian database unavailable: {error}"
                                                ) from None
            except HistorianUnavailableError:
                if not self._complained:
                    log.warning("alarm journal unreadable: no historian database")
                    self._complained = True
                raise
            if self._complained:
                log.info("alarm journal readable again")
                self._complained = False
            for problem in refused:
                log.warning("refused alarm row %s", problem)
            self.board.add(rows)
            self._refreshed = time.monotonic()

    def summaries(self, stations: list[str], *, fresh: bool = False
                  ) -> tuple[list[AlarmSummary], int]:
        """Where the alarms of these stations stand now, and the journal row read up to."""
        self.refresh(fresh=fresh)
        with self._lock:
            return self.board.summaries(stations), self._after

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def act(state_dir: Path | None, station: str, alarm: str, verb: Verb, *, user: str, text: str,
        duration_s: float | None) -> dict[str, Any]:
    """Hand an operator action to the controller and return its answer; raise NoAnswerError
    or FileNotFoundError when no controller takes it."""
    if state_dir is None:
        raise FileNotFoundError("no controller state directory is configured")
    action = AlarmAction(id=uuid.uuid4().hex, station=station, alarm=alarm, action=verb,
                         user=user, text=text, duration_s=duration_s)
    return submit(state_dir, action, ANSWER_WAIT_S)


__all__ = ["AlarmJournal", "HistorianUnavailableError", "NoAnswerError", "act", "connect"]
