"""End to end, from device register to database row, through the failures of real processes.

Each scenario runs the simulator, a gateway, a broker, historians and PostgreSQL as processes,
breaks one of them at a chosen moment, lets everything recover, stops cleanly, and asks the
oracle (an independent MQTT tap and plain SQL, ``tests/e2e/oracle.py``): every batch of every
(station, session) is in the database, every sample the tap saw is stored once with its value,
nothing doubled, no outage left open in the gap ledger.

A scenario marked ``xfail`` fails on today's data path for the reason it gives; the mark goes
once the fix is in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import psycopg
import pytest

from tests.e2e.oracle import (
    freeze_problems,
    retained_liveness,
    unexplained_holes,
    wait_until,
)
from tests.e2e.rig import FULL_REFRESH_S, POLL_S, STATION, Plant, TcpProxy, send

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEADY = 6
"""Batches of the current session that must reach the database to call the flow steady."""
DEVICE_POINTS = ("PW1.wellhead_temp", "PW1.flow", "PW1.volume", "RW1.water_level",
                 "RW1.injection_temp")


def verdict(problems: list[str]) -> None:
    """Fail with every problem on its own line."""
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def steady(plant: Plant, *historians: tuple[str, str | None], broker_port: int | None = None
           ) -> None:
    """Start historians and the gateway and wait until data reaches the database."""
    for name, group in historians or (("historian-1", None),):
        plant.start_historian(name, group)
    plant.start_gateway(broker_port)
    plant.wait_births(1)
    plant.wait_stored(STEADY)


def test_broker_killed_while_the_historian_is_down_with_a_backlog(plant: Plant) -> None:
    steady(plant)
    plant.historians["historian-1"].stop()
    plant.wait_seen(15)  # a backlog waits in the broker for the historian's session
    plant.wait_seen(1)  # kill right after a PUBACK, before the broker's next save
    plant.broker.stop(kill=True)
    plant.broker.start()
    plant.start_historian()
    plant.wait_stored(STEADY, timeout=60)
    verdict(plant.finish())


def test_historian_started_for_the_first_time_after_the_gateway(plant: Plant) -> None:
    plant.start_gateway()
    plant.wait_births(1)
    plant.wait_seen(5)
    time.sleep(20.0)  # the gateway publishes with no historian subscribed, as in the field
    plant.start_historian()
    plant.wait_stored(STEADY, timeout=60)
    verdict(plant.finish())


def test_postgresql_crash(plant: Plant) -> None:
    steady(plant)
    plant.cluster.stop("immediate")
    try:
        plant.wait_seen(8)
    finally:
        plant.cluster.start()  # the module's other scenarios need it whatever happens here
    plant.wait_stored(STEADY, timeout=60)
    verdict(plant.finish())


def test_gateway_killed_and_restarted_with_its_state(plant: Plant) -> None:
    steady(plant)
    assert plant.gateway is not None
    plant.gateway.kill()
    time.sleep(1.0)
    plant.start_gateway()
    plant.wait_births(2)
    plant.wait_stored(STEADY)
    assert len({b.session for b in plant.seen().births}) == 2
    verdict(plant.finish())


def test_spool_overflow_while_the_broker_is_down_is_declared_and_drains(plant: Plant) -> None:
    plant.start_historian()
    plant.start_gateway(None, "--spool-max-mb", "0.03")  # 30 KB: a few seconds of the doublet
    plant.wait_births(1)
    plant.wait_stored(STEADY)
    session = plant.current_session()
    plant.broker.stop()
    try:
        wait_until(lambda: _spool_overflowed(plant), 60, "the spool to overflow")
        time.sleep(3.0)  # and keep dropping the oldest for a while
    finally:
        plant.broker.start()
    plant.wait_stored(STEADY, timeout=60)
    # the oracle owes no batch the gateway declared lost, and the spool must let go of every
    # committed batch above the hole (it held them for ever before the declaration)
    verdict(plant.finish())
    declared = plant.seen().lost_through.get(session)
    assert declared is not None and declared >= 0, "no batch said what the spool dropped"
    stored = plant.stored()
    missing = sorted(set(range(declared + 1)) - {q for s, q in stored.batches if s == session})
    assert missing, "the spool dropped nothing the database lacks"
    dropped = [row for row in stored.ledger if row.kind == "seq_gap" and row.session == session
               and row.reason == "dropped by the gateway spool"]
    covered = {q for row in dropped if row.seqs for q in range(row.seqs[0], row.seqs[1] + 1)}
    assert set(missing) <= covered, "a dropped batch the ledger does not name"
    print(f"the spool dropped {len(missing)} batches (seq {missing[0]}-{missing[-1]}), "
          f"declared lost through {declared}")


def _spool_overflowed(plant: Plant) -> bool:
    with sqlite3.connect(f"file:{plant.spool}?mode=ro", uri=True, timeout=5) as spool:
        return int(spool.execute("SELECT COUNT(*) FROM lost").fetchone()[0]) > 0


def _freeze_broker(plant: Plant, seconds: float, rebirths: bool) -> float:
    """SIGSTOP the broker for ``seconds``, asking for rebirths if told; return the thaw time."""
    pid = plant.broker.pid
    assert pid is not None
    rebirth = f"geoscada/v1/{STATION}/rebirth"
    os.kill(pid, signal.SIGSTOP)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if rebirths:
                plant.tap.client.publish(rebirth, b"{}", qos=1)
            time.sleep(1.0)
    finally:
        os.kill(pid, signal.SIGCONT)
    thawed = time.time()
    if rebirths:
        for _ in range(4):
            plant.tap.client.publish(rebirth, b"{}", qos=1)
            time.sleep(0.5)
    return thawed


def _stuck_in_spool(plant: Plant, before: float) -> int:
    """Batches made before ``before`` that are still in the gateway's spool file."""
    with sqlite3.connect(f"file:{plant.spool}?mode=ro", uri=True, timeout=5) as spool:
        row = spool.execute("SELECT count(*) FROM batch WHERE created < ?", (before,)).fetchone()
    return int(row[0])


def _spool_handed_over(plant: Plant, before: float) -> bool:
    """Say whether no batch made before ``before`` is left in the gateway's spool file."""
    return _stuck_in_spool(plant, before) == 0


def test_broker_frozen_beyond_the_keepalive_without_and_with_rebirth_requests(
        plant: Plant) -> None:
    steady(plant)
    problems: list[str] = []
    for rebirths in (False, True):
        thawed = _freeze_broker(plant, 22.0, rebirths)  # the gateway's keepalive is 10 s
        plant.wait_stored(STEADY, timeout=60)
        try:
            wait_until(partial(_spool_handed_over, plant, thawed), 30,
                       "the spool to hand over every batch made before the broker thawed "
                       f"({'with' if rebirths else 'without'} rebirth requests); batches left",
                       partial(_stuck_in_spool, plant, thawed))
        except AssertionError as error:
            problems.append(str(error))
    verdict(problems + plant.finish())


# A historian transaction that has written rows and is busy with a batch (staging tables).
_IN_BATCH_WRITE = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND query ~ 'stage_'"
)


def test_historian_killed_mid_batch(plant: Plant) -> None:
    steady(plant)
    historian = plant.historians["historian-1"]
    assert historian.process is not None
    caught = False
    with psycopg.connect(plant.dsn, autocommit=True) as watch:
        for _ in range(5):
            # a backlog of a few seconds makes the next write long enough to catch
            send(historian.process, signal.SIGSTOP)
            time.sleep(2.0)
            send(historian.process, signal.SIGCONT)
            deadline = time.monotonic() + 3
            while not caught and time.monotonic() < deadline:
                row = watch.execute(_IN_BATCH_WRITE).fetchone()
                if row is not None and row[0]:
                    historian.kill()
                    caught = True
            if caught:
                break
    assert caught, "never caught the historian inside a batch write"
    plant.wait_seen(4)
    plant.start_historian()
    plant.wait_stored(STEADY, timeout=60)
    verdict(plant.finish())


def test_device_frozen_leaves_no_hole_the_ledger_does_not_explain(plant: Plant) -> None:
    steady(plant)
    frozen_at = time.time()
    send(plant.sim.process, signal.SIGSTOP)
    try:
        time.sleep(5.0)
    finally:
        send(plant.sim.process, signal.SIGCONT)
        thawed_at = time.time()
    plant.wait_stored(2 * STEADY, timeout=60)
    window = (datetime.fromtimestamp(frozen_at - 3, UTC), datetime.fromtimestamp(time.time(), UTC))
    problems = plant.finish()
    stored = plant.stored()
    # a healthy point is reported at least every full refresh; allow two polls of jitter
    holes = unexplained_holes(stored, DEVICE_POINTS, FULL_REFRESH_S + 2 * POLL_S, window)
    # a read answered just before the freeze is stamped when the gateway gets to it: same slack
    frozen = (datetime.fromtimestamp(frozen_at, UTC), datetime.fromtimestamp(thawed_at, UTC))
    problems += freeze_problems(stored, DEVICE_POINTS, frozen, timedelta(seconds=2 * POLL_S))
    verdict(problems + [str(hole) for hole in holes])


def test_one_of_two_historians_in_a_shared_group_killed(plant: Plant) -> None:
    steady(plant, ("historian-a", "ingest"), ("historian-b", "ingest"))
    plant.historians.pop("historian-a").kill()  # and it never comes back
    killed_at = time.time()
    time.sleep(12.0)  # past the 10 s the broker keeps dealing the dead member's session
    problems = plant.finish()
    with psycopg.connect(plant.dsn) as conn:
        committed = {(int(s), int(q)): t.timestamp() for s, q, t in conn.execute(
            "SELECT session, seq, received_at FROM received_batches WHERE station = %s",
            (STATION,)).fetchall()}
    # the survivor carries everything within 10 s of the kill, or of a later publication
    delays = {key: committed[key] - max(batch.seen_at, killed_at)
              for key, batch in plant.seen().batches.items() if key in committed}
    late = sorted(key for key, delay in delays.items() if delay > 10.0)
    if late:
        problems.append(f"{len(late)} batches reached the database more than 10 s after the "
                        f"kill or their publication, up to {max(delays.values()):.1f} s; "
                        f"(session, seq) {late[:4]}")
    verdict(problems)


def test_clean_broker_restart_leaves_no_outage_open(plant: Plant) -> None:
    steady(plant)
    plant.broker.stop()
    time.sleep(1.0)
    plant.broker.start()
    plant.wait_births(2)
    plant.wait_stored(STEADY, timeout=60)
    verdict(plant.finish())


@pytest.mark.parametrize("blip", ["reset", "relay-killed"])
def test_wan_blip_leaves_the_station_alive(plant: Plant, blip: str) -> None:
    proxy = TcpProxy(plant.root, plant.broker.port)
    plant.cleanup.callback(proxy.stop)
    steady(plant, broker_port=proxy.port)
    cut_bdseq = plant.seen().births[-1].bdseq
    if blip == "reset":
        proxy.cut()  # the gateway knows at once, the broker only at takeover or keepalive
    else:
        proxy.crash(down_s=1.0)  # both know at once; the gateway retries until it is back
    plant.wait_births(2)
    plant.wait_stored(STEADY, timeout=60)
    # the broker publishes the cut connection's will on takeover or after its keepalive
    with contextlib.suppress(AssertionError):  # no will at all is fine: the verdict is liveness
        wait_until(lambda: any(d.bdseq == cut_bdseq for d in plant.seen().deaths), 25,
                   "the cut connection's will")
    problems = [f"open after the blip: {row}" for row in plant.open_outages()]
    if not retained_liveness(plant.broker.port, STATION):
        problems.append("the retained birth and death say the station is dead")
    verdict(problems + plant.finish())


def _frozen(pids: list[int], seconds: float) -> None:
    """SIGSTOP every process in ``pids`` for ``seconds``, then SIGCONT them all."""
    stopped = []
    try:
        for pid in pids:
            # a backend that ended since the list was read has nothing left to freeze
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        time.sleep(seconds)
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _cluster_pids(plant: Plant) -> list[int]:
    """The postmaster and every process it started (backends, writers, WAL)."""
    postmaster = int((plant.cluster.data_dir / "postmaster.pid").read_text().split()[0])
    children = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()
                and _parent_pid(entry) == postmaster]
    return [postmaster, *children]


def _parent_pid(entry: Path) -> int | None:
    try:
        # the command name in field 2 may hold spaces; the parent pid follows its ')'
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


FROZEN_S = 20.0
"""Longer than 1.5 × the 10 s keepalive: the broker gives up on a frozen client."""


def test_historian_frozen_beyond_the_keepalive(plant: Plant) -> None:
    steady(plant)
    historian = plant.historians["historian-1"]
    assert historian.process is not None
    _frozen([historian.process.pid], FROZEN_S)
    plant.wait_stored(STEADY, timeout=60)
    verdict(plant.finish())


def test_gateway_frozen_beyond_the_keepalive(plant: Plant) -> None:
    steady(plant)
    assert plant.gateway is not None
    _frozen([plant.gateway.process.pid], FROZEN_S)
    # Debian's Mosquitto 2.0 enforces the keepalive lazily: it drops the frozen connection and
    # publishes its will only if its check comes before the thawed client's next packet, else it
    # keeps the session. Dropped, the gateway must be born again; kept, it carries on in the same
    # session. Either way nothing may be lost, doubled or left open.
    plant.wait_stored(STEADY, timeout=60)
    wills = [death for death in plant.seen().deaths if not death.clean]
    print(f"broker {'dropped' if wills else 'kept'} the frozen gateway's connection")
    plant.wait_births(1 + len(wills), timeout=45)
    problems = [f"open after the thaw: {row}" for row in plant.open_outages()]
    if not retained_liveness(plant.broker.port, STATION):
        problems.append("the retained birth and death say the station is dead")
    verdict(problems + plant.finish())


def test_postgresql_frozen(plant: Plant) -> None:
    steady(plant)
    _frozen(_cluster_pids(plant), FROZEN_S)
    plant.wait_stored(STEADY, timeout=60)
    verdict(plant.finish())
