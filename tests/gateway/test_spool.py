"""The spool: durable, ordered, bounded with oldest-first overflow, sessions only grow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.spool import Spool


def test_batches_come_back_in_order_until_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    ids = [spool.append(1, seq, f"[{seq}]", created=100.0 + seq) for seq in range(5)]
    assert [b.seq for b in spool.after(0, 10)] == [0, 1, 2, 3, 4]
    assert [b.seq for b in spool.after(ids[1], 2)] == [2, 3]
    spool.remove([ids[0], ids[2]])
    assert [b.seq for b in spool.after(0, 10)] == [1, 3, 4]
    assert spool.depth == 3
    assert spool.oldest_age(now=111.0) == 10.0
    spool.close()


def test_overflow_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=1000, high_water=0.5)
    for seq in range(30):
        spool.append(1, seq, "x" * 100)
    assert spool.size_bytes <= 1000
    kept = [b.seq for b in spool.after(0, 100)]
    assert kept == list(range(30 - len(kept), 30))
    assert spool.dropped == 30 - len(kept)
    assert spool.above_high_water
    spool.close()


def test_overflow_keeps_each_sessions_highest_dropped_seq_across_a_restart(
        tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=1000)
    for seq in range(4):
        spool.append(1, seq, "x" * 100)
    assert spool.lost(1) is None
    for seq in range(20):
        spool.append(2, seq, "x" * 100)
    # the oldest went first: the whole of session 1, then the start of session 2
    kept = [(b.session, b.seq) for b in spool.after(0, 100)]
    first_kept = kept[0][1]
    assert all(session == 2 for session, _ in kept) and first_kept > 0
    assert spool.lost(1) == 3
    assert spool.lost(2) == first_kept - 1
    spool.close()
    spool = Spool(tmp_path / "s.db", max_bytes=1000)
    assert (spool.lost(1), spool.lost(2)) == (3, first_kept - 1)
    # a watermark below the hole leaves it declared; one at or past it ends the record
    spool.remove_through(2, first_kept - 2)
    assert spool.lost(2) == first_kept - 1
    spool.remove_through(2, first_kept)
    assert spool.lost(2) is None
    assert [b.seq for b in spool.after(0, 100)] == [s for _, s in kept][1:]
    spool.close()
    assert Spool(tmp_path / "s.db").lost(2) is None


def test_sessions_only_grow_even_if_the_clock_goes_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    assert spool.next_session(now_ms=5000) == 5000
    assert spool.next_session(now_ms=4000) == 5001
    spool.close()
    assert Spool(tmp_path / "s.db").next_session(now_ms=6000) == 6000


def test_a_killed_writer_loses_nothing_it_appended(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    script = (
        "import os, sys, pathlib\n"
        "from gateway.spool import Spool\n"
        f"s = Spool(pathlib.Path({str(path)!r}))\n"
        "for i in range(200): s.append(1, i, '[]')\n"
        "print('done', flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True,
                            text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert result.stdout.strip() == "done"
    assert result.returncode == -9
    spool = Spool(path)
    assert [b.seq for b in spool.after(0, 1000)] == list(range(200))
    assert spool.depth == 200
    spool.close()


def test_a_killed_gateway_keeps_what_it_dropped_and_the_units_held_out(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    script = (
        "import os, pathlib\n"
        "from gateway.spool import Spool\n"
        f"s = Spool(pathlib.Path({str(path)!r}), max_bytes=1000)\n"
        "for i in range(50): s.append(1, i, 'x' * 100)\n"
        "s.set_staging_hold('HP3-1', True)\n"
        "print('done', flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True,
                            text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert result.stdout.strip() == "done" and result.returncode == -9, result.stderr
    spool = Spool(path, max_bytes=1000)
    kept = [b.seq for b in spool.after(0, 1000)]
    assert kept == list(range(kept[0], 50)) and kept[0] > 0
    assert spool.lost(1) == kept[0] - 1  # every seq below the first kept was dropped
    assert spool.staging_holds() == {"HP3-1"}
    spool.close()


def test_command_log_keeps_refused_payloads(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.log_command("refused", "malformed: not JSON", b"\xff\x00")
    spool.log_command("done", "", b"{}", command_id="c1", point="P", origin="op", value="1.0")
    assert spool.command_log() == [(None, "refused", "malformed: not JSON"), ("c1", "done", "")]
    spool.close()
