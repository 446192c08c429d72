"""The whole data path as real processes: simulator, gateway, broker, historians, database.

Every part is a process of its own, so a scenario can ``kill -9`` it, freeze it with SIGSTOP or
restart it. A :class:`Plant` is one scenario's set-up: its own broker (retained messages never
leak between scenarios), its own database in the module's PostgreSQL cluster, the module's
simulator, and the oracle's tap subscribed before anything publishes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg

from geoscada.services import Mosquitto, PostgresCluster, free_port
from tests.e2e.oracle import (
    LedgerRow,
    Seen,
    Stored,
    Tap,
    delivery_problems,
    open_outages,
    read_database,
    wait_until,
)
from tests.gateway.procs import ROOT, GatewayProcess, SimProcess, stop

SITE = Path(__file__).with_name("station.yaml")
STATION = "e2e-doublet"
POLL_S = 0.5
FULL_REFRESH_S = 1.0
"""The site file's fast poll period and full refresh: no point is silent longer when healthy."""
SPOOL_RELEASE_S = 30.0
"""Time for the gateway to delete what is committed: several watermarks, past any backoff."""
NO_PROGRESS_S = 15.0
"""How long a catch-up may make no progress before the verdict is taken as it stands."""


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def send(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send a signal to a process this suite started, if it still runs."""
    if process.poll() is None:
        os.kill(process.pid, sig)


class HistorianProc:
    """``geoscada historian`` as a process, with a stable client id (a persistent session)."""

    def __init__(self, workdir: Path, broker_url: str, dsn: str, client_id: str,
                 group: str | None = None) -> None:
        self.log = workdir / f"{client_id}.log"
        self.args = [sys.executable, "-m", "geoscada.cli", "historian", "--broker", broker_url,
                     "--db", dsn, "--client-id", client_id, "--batch-max-wait", "0.05",
                     "--rollup-interval", "1"]
        if group is not None:
            self.args += ["--group", group]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart) the process."""
        self.process = _spawn(self.args, self.log)

    def kill(self) -> None:
        """SIGKILL: nothing is finished, nothing is said."""
        if self.process is not None:
            send(self.process, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait for a clean exit."""
        if self.process is not None:
            send(self.process, signal.SIGCONT)
            stop(self.process)


class TcpProxy:
    """The WAN between the gateway and the broker (``tests/e2e/tcp_proxy.py``)."""

    def __init__(self, workdir: Path, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.log = workdir / "proxy.log"
        self.process = self._start()

    def _starts(self) -> int:
        return self.log.read_text().count("relaying") if self.log.exists() else 0

    def _start(self) -> subprocess.Popen[bytes]:
        before = self._starts()
        process = _spawn([sys.executable, "-m", "tests.e2e.tcp_proxy", str(self.port),
                          str(self.target_port)], self.log)
        wait_until(lambda: self._starts() > before, 20, "the TCP proxy")
        return process

    def cut(self) -> None:
        """Reset the gateway's side of every connection; the broker's side stays silent."""
        send(self.process, signal.SIGUSR1)

    def crash(self, down_s: float) -> None:
        """Kill the relay (both sides see their connection close) and start it again."""
        send(self.process, signal.SIGKILL)
        self.process.wait(10)
        time.sleep(down_s)
        self.process = self._start()

    def stop(self) -> None:
        """Stop relaying (it holds nothing worth a clean exit)."""
        send(self.process, signal.SIGKILL)
        self.process.wait(10)


class Plant:
    """One scenario's data path: broker, database, tap, and gateways and historians on demand."""

    def __init__(self, root: Path, cluster: PostgresCluster, sim: SimProcess, name: str) -> None:
        self.root = root
        self.cluster = cluster
        self.sim = sim
        self.cleanup = ExitStack()
        self.broker = Mosquitto(root / "mq")
        self.broker.start()
        self.cleanup.callback(self.broker.stop)
        self.dsn = cluster.create_database(name)
        self.tap = Tap(self.broker.port, f"tap-{name}")
        self.cleanup.callback(self.tap.close)
        self.gateway: GatewayProcess | None = None
        self.historians: dict[str, HistorianProc] = {}
        self.notes: list[str] = []
        """What the verdict let pass and a reader should know."""

    def _stop_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()

    def stop_historians(self) -> None:
        """SIGTERM every historian at once, then wait for each to finish."""
        running = [h.process for h in self.historians.values() if h.process is not None]
        for process in running:
            send(process, signal.SIGCONT)
            send(process, signal.SIGTERM)
        for process in running:
            stop(process)

    def close(self) -> None:
        """Stop every process of the scenario."""
        self.stop_historians()
        self.cleanup.close()

    # ------------------------------------------------------------------ processes

    def start_gateway(self, broker_port: int | None = None, *extra: str) -> GatewayProcess:
        """Start the station's gateway (again: same state directory, same spool)."""
        gateway = GatewayProcess(self.root / "gw", broker_port or self.broker.port,
                                 self.sim.endpoints_file, SITE, *extra)
        if self.gateway is None:
            self.cleanup.callback(self._stop_gateway)
        self.gateway = gateway
        return gateway

    def start_historian(self, name: str = "historian-1", group: str | None = None
                        ) -> HistorianProc:
        """Start a historian process (a restart keeps its client id and broker session)."""
        historian = self.historians.get(name) or HistorianProc(
            self.root, self.broker.url, self.dsn, name, group)
        self.historians[name] = historian
        historian.start()
        return historian

    @property
    def spool(self) -> Path:
        """The gateway's spool database."""
        return self.root / "gw" / "state" / "spool.db"

    # ------------------------------------------------------------------ observations

    def seen(self) -> Seen:
        """What the tap has seen of the station."""
        return self.tap.seen(STATION)

    def stored(self) -> Stored:
        """What the database holds of the station."""
        return read_database(self.dsn, STATION)

    def current_session(self) -> int:
        """The session of the newest birth the tap saw."""
        births = self.seen().births
        if not births:
            raise AssertionError("no birth seen yet")
        return births[-1].session

    def wait_births(self, count: int, timeout: float = 30) -> None:
        """Wait until the tap has seen ``count`` births."""
        wait_until(lambda: len(self.seen().births) >= count, timeout, f"{count} birth(s)")

    def wait_stored(self, batches: int, timeout: float = 30) -> None:
        """Wait until the current session has ``batches`` more batches in the database."""
        session = self.current_session()

        def stored() -> int:
            try:
                return sum(1 for s, _ in self.stored().batches if s == session)
            except psycopg.Error:  # the database may be down on purpose
                return 0

        start = stored()
        wait_until(lambda: stored() >= start + batches, timeout,
                   f"{batches} batches of session {session} in the database")

    def wait_seen(self, batches: int, timeout: float = 30) -> None:
        """Wait until the tap has seen ``batches`` more batches."""
        start = len(self.seen().batches)
        wait_until(lambda: len(self.seen().batches) >= start + batches, timeout,
                   f"{batches} more batches at the tap")

    def open_outages(self, allowed_sessions: tuple[int, ...] = ()) -> list[LedgerRow]:
        """Ledger rows of the station that are still open."""
        return open_outages(self.stored(), allowed_sessions, self.seen().lost_through)

    def catch_up(self, deadline_s: float = 90, patience_s: float = NO_PROGRESS_S) -> list[str]:
        """Wait until the database holds what the tap saw, or until that stops progressing.

        Returns the problems as they stand at the end (empty: caught up).
        """
        started = time.monotonic()
        best: int | None = None
        best_at = started
        problems: list[str] = []
        while time.monotonic() - started < deadline_s:
            seen = self.seen()
            try:
                stored = self.stored()
            except psycopg.Error as error:  # the database may be coming back
                problems = [f"database unreadable: {error}"]
                time.sleep(0.5)
                continue
            missing = sum(1 for key in seen.batches if key not in stored.batches)
            problems = delivery_problems(seen, stored)
            if missing == 0 and not problems:
                return []
            if best is None or missing < best:
                best, best_at = missing, time.monotonic()
            elif time.monotonic() - best_at > patience_s:
                break
            time.sleep(0.5)
        return problems

    def spooled_committed(self, made_before: float) -> list[tuple[int, int]]:
        """Batches made before ``made_before`` still in the spool though the database has them."""
        stored = self.stored().batches
        with sqlite3.connect(f"file:{self.spool}?mode=ro", uri=True, timeout=5) as spool:
            rows = spool.execute("SELECT session, seq FROM batch WHERE created < ?",
                                 (made_before,)).fetchall()
        return sorted((int(s), int(q)) for s, q in rows if (int(s), int(q)) in stored)

    def finish(self) -> list[str]:
        """Catch up, check the ledger while live, stop cleanly, drain, and judge everything.

        Returns every problem found (empty: nothing lost, nothing doubled, no outage left open).
        """
        behind = self.catch_up()
        live = _listed("open while the station is live", self.open_outages())
        # the watermarks let the gateway delete what is committed: nothing may stay stuck
        caught_up_at = time.time()
        try:
            wait_until(lambda: not self.spooled_committed(caught_up_at), SPOOL_RELEASE_S,
                       "the spool to let go of every committed batch",
                       lambda: f"still there: {self.spooled_committed(caught_up_at)[:4]}")
        except AssertionError as error:
            live.append(str(error))
        assert self.gateway is not None
        session = self.current_session()
        self.gateway.stop()
        wait_until(lambda: any(d.clean and d.session == session for d in self.seen().deaths),
                   20, "the gateway's clean death")
        # what did not come while the gateway ran is not owed to a clean stop: be brief then
        self.catch_up(patience_s=3.0 if behind else NO_PROGRESS_S)
        self.stop_historians()
        seen, stored = self.seen(), self.stored()
        problems = delivery_problems(seen, stored) + live
        problems += _listed("open after the clean stop",
                            open_outages(stored, (session,), seen.lost_through))
        if not seen.batches:
            problems.append("the tap saw no data at all")
        else:
            times = [b.seen_at for b in seen.batches.values()]
            self.notes.append(f"the tap saw {len(seen.batches)} batches, "
                              f"{sum(len(b.samples) for b in seen.batches.values())} samples "
                              f"in {max(times) - min(times):.0f} s")
        for note in self.notes:
            print(note)
        return problems


def _listed(what: str, rows: list[LedgerRow], most: int = 5) -> list[str]:
    """One line per ledger row, at most ``most`` of them and a count of the rest."""
    lines = [f"{what}: {row}" for row in rows[:most]]
    if len(rows) > most:
        lines.append(f"{what}: and {len(rows) - most} more")
    return lines
