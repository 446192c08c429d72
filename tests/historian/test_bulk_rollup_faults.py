"""The bulk rollup killed or frozen in the middle of a multi-day range, then run again.

``rollup_range`` commits one UTC day per transaction. It runs here as a process of its own,
rolling up three points over four days and more; the test watches the database from outside
and kills it (SIGKILL) once its first day is committed, runs the same ranges again, kills that
run once it has passed the first one, and runs them a third time to the end. The result must
equal, column for column and level for level, an uninterrupted run over the same samples:
nothing doubled, nothing missing. A run frozen (SIGSTOP) after its first day and thawed
(SIGCONT) must end with the same result.
"""

from __future__ import annotations

import itertools
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import psycopg
import pytest

from historian import bulk
from historian.store import Inbound, Store
from plant.contract import Topic, topic
from tests.historian.test_bulk_rollup import (
    Conn,
    Snapshot,
    assert_same_rollups,
    forget_rollups,
    snapshot,
)
from tests.historian.test_rollups import START, STATION, Raw, _birth, _series, _write

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
APPLICATION = "bulk-rollup-under-test"
"""The application name of the rolling-up process's connection, to find its backend."""
DAYS = 4
MODULUS = 10_000.0
"""The meter's declared rollover: it wraps several times in the range."""
WAIT_S = 300.0
"""Generous: the machine is shared."""

# One connection, the points one after the other, each over its own range (as bulk.roll_up
# does with one worker).
_ROLL_UP = """
import json, sys
from datetime import datetime
import psycopg
from historian import rollups
with psycopg.connect(sys.argv[1], application_name=sys.argv[2]) as conn:
    for point_id, start, end in json.loads(sys.argv[3]):
        rollups.rollup_range(conn, point_id, datetime.fromisoformat(start),
                             datetime.fromisoformat(end))
"""


def _meter(rng: random.Random, point: str, count: int) -> list[Raw]:
    """An irregular meter that wraps at ``MODULUS``, with glitch readings of 0 and bad ones."""
    raws: list[Raw] = []
    moment, reading = START, 0.8 * MODULUS
    for _ in range(count):
        step = rng.choice([1, 2, 5, 7, 30]) if rng.random() > 0.01 else rng.randint(900, 2400)
        moment += timedelta(seconds=step, microseconds=rng.randint(0, 999_999))
        reading = (reading + rng.uniform(0, 12)) % MODULUS
        bad = rng.random() < 0.03
        glitch = not bad and rng.random() < 0.003
        raws.append(Raw(point, moment, None if bad else 0.0 if glitch else round(reading, 3),
                        bad, uncertain=not bad and rng.random() < 0.03))
    return raws


def _wave(seconds: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 50 + 20 * np.sin(seconds / 3600)


def _marks(conn: Conn) -> int:
    """Rollup marks left: the bulk rollup clears each day's in that day's transaction."""
    row = conn.execute("SELECT count(*) FROM rollup_dirty").fetchone()
    conn.commit()
    return int(str(row[0])) if row else 0


def _backends(conn: Conn) -> int:
    """Backends still serving the rolling-up process (a killed client's lives on a little)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
        (APPLICATION,)).fetchone()
    conn.commit()
    return int(str(row[0])) if row else 0


def _until(condition: Callable[[], bool], what: str, poll_s: float = 0.01) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT_S} s waiting for {what}")
        time.sleep(poll_s)


class Rollup:
    """``rollup_range`` over every span, as a process of its own."""

    def __init__(self, dsn: str, spans: list[bulk.Span]) -> None:
        text = json.dumps([(p, a.isoformat(), b.isoformat()) for p, a, b in spans])
        self.process = subprocess.Popen(
            [sys.executable, "-c", _ROLL_UP, dsn, APPLICATION, text], cwd=REPO,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        """Still running."""
        return self.process.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        """Send a signal to the running process (it must still be running)."""
        assert self.alive(), self.output()
        self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, and wait until it is gone."""
        self.signal(signal.SIGKILL)
        assert self.process.wait(WAIT_S) == -signal.SIGKILL

    def finish(self) -> None:
        """Wait for the end; it must succeed."""
        code = self.process.wait(WAIT_S)
        assert code == 0, self.output()

    def output(self) -> str:
        """What it printed (once it has ended)."""
        if self.alive():
            return "(still running)"
        return self.process.stdout.read().decode() if self.process.stdout else ""


def _load(dsn: str) -> list[bulk.Span]:
    """Store a 1 s series, an irregular flow and a wrapping meter over several days; marked."""
    rng = random.Random(32)
    raws = _series(rng, "P1.flow", 12_000, counter=False) + _meter(rng, "M.energy", 12_000)
    store = Store(dsn)
    store.connect()
    try:
        store.write([Inbound(topic(STATION, Topic.BIRTH), b"",
                             _birth({"M.energy": MODULUS}, ["R.flow", "P1.flow"]))])
        _write(store, sorted(raws, key=lambda r: r.t), 0, chunk=1000)
    finally:
        store.close()
    end = START + timedelta(days=DAYS)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ids = {str(n): int(str(i)) for n, i in conn.execute("SELECT name, id FROM points")}
        bulk.load_series(conn, ids["R.flow"], start=START, end=end, step=timedelta(seconds=1),
                         values=_wave)
    readings = [r.v for r in raws if r.point == "M.energy" and r.v]
    wraps = sum(1 for a, b in itertools.pairwise(readings)
                if a >= 0.9 * MODULUS and b <= 0.1 * MODULUS)
    assert wraps >= 2, wraps
    last = {p: max(r.t for r in raws if r.point == p) for p in ("P1.flow", "M.energy")}
    assert min(last.values()) - START > timedelta(days=3)
    # the 1 s series first: its days take long enough to be caught between two commits
    return [(ids["R.flow"], START, end),
            *((ids[p], START, last[p] + timedelta(seconds=1)) for p in ("P1.flow", "M.energy"))]


def _uninterrupted(dsn: str, conn: Conn, spans: list[bulk.Span]) -> Snapshot:
    forget_rollups(conn)
    Rollup(dsn, spans).finish()
    assert _marks(conn) == 0
    reference = snapshot(conn)
    conn.commit()
    levels = {key[0] for key in reference}
    assert levels == {"1m", "15m", "1h", "1d", "suspect"}, levels
    # the first chunk (23:00 to midnight) and every later day
    assert sum(1 for key in reference if key[:2] == ("1d", "R.flow")) == DAYS + 1
    return reference


def test_a_bulk_rollup_killed_mid_range_and_run_again_equals_an_uninterrupted_one(
    database: str,
) -> None:
    spans = _load(database)
    with psycopg.connect(database) as conn:
        marked = _marks(conn)
        assert marked > 1440 * DAYS
        # killed once its first day is committed
        first = Rollup(database, spans)
        _until(lambda: _marks(conn) < marked, "the first day's commit")
        first.kill()
        _until(lambda: _backends(conn) == 0, "the killed run's backend to end")
        left = _marks(conn)
        assert 0 < left < marked, (left, marked)
        # run again, killed once past the first run, and run again right away
        second = Rollup(database, spans)
        _until(lambda: _marks(conn) < left, "the second run to pass the first")
        second.kill()
        left_again = _marks(conn)
        assert left_again > 0
        Rollup(database, spans).finish()
        assert _marks(conn) == 0
        interrupted = snapshot(conn)
        conn.commit()

        reference = _uninterrupted(database, conn, spans)
        assert_same_rollups(interrupted, reference)

        # frozen after its first day, thawed: it goes on and ends with the same rollups
        forget_rollups(conn)
        frozen = Rollup(database, spans)
        _until(lambda: _marks(conn) < marked, "the first day's commit")
        frozen.signal(signal.SIGSTOP)
        time.sleep(0.5)
        stopped_at = _marks(conn)
        time.sleep(3.0)
        assert _marks(conn) == stopped_at > 0
        assert frozen.alive()
        frozen.signal(signal.SIGCONT)
        frozen.finish()
        assert _marks(conn) == 0
        thawed = snapshot(conn)
        conn.commit()
    assert_same_rollups(thawed, reference)
    print(json.dumps({"marks": marked, "left_by_first_kill": left, "left_by_second_kill":
                      left_again, "left_while_frozen": stopped_at, "rows": len(reference)}))
