"""The writer: idempotency, conflicts, the gap ledger, births and deaths, migrations."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from historian import query
from historian.decode import Rejected
from historian.schema import MIGRATIONS, latest_version, migrate, schema_version
from historian.store import Inbound, Store, _missing_ranges
from historian.synthetic import StationFeed
from plant.contract import DataBatch, Death, Quality, Reason, Sample, Topic, topic

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _inbound(message: DataBatch | Death) -> Inbound:
    kind = Topic.DATA if isinstance(message, DataBatch) else Topic.DEATH
    return Inbound(topic(message.station, kind), message.model_dump_json().encode(), message)


def _rows(dsn: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.encode()).fetchall()


def test_missing_ranges() -> None:
    assert _missing_ranges([3, 4, 7], 0, 9) == [(0, 2), (5, 6), (8, 9)]
    assert _missing_ranges([0, 1, 2], 0, 2) == []
    assert _missing_ranges([], 5, 5) == [(5, 5)]


def test_replays_never_double_and_a_historical_batch_never_overwrites(database: str) -> None:
    store = Store(database)
    store.connect()
    feed = StationFeed("st-idem", analogues=3, meters=0)
    live = [feed.batch() for _ in range(5)]
    first = store.write([_inbound(b) for b in live])
    again = store.write([_inbound(b) for b in live])
    replay = DataBatch(
        station="st-idem", session=1, seq=2, historical=True,
        samples=tuple(Sample(p=s.p, t=s.t, v=-1.0) for s in live[2].samples),
    )
    conflicting = store.write([_inbound(replay)])
    store.close()
    assert (first.inserted, first.duplicates) == (15, 0)
    assert (again.inserted, again.duplicates, again.conflicts) == (0, 15, 0)
    assert (conflicting.inserted, conflicting.conflicts) == (0, 3)
    assert _rows(database, "SELECT count(*) FROM samples") == [(15,)]
    assert _rows(database, "SELECT count(*) FROM samples WHERE value = -1") == [(0,)]
    ledger = _rows(database, "SELECT kind, sum(count) FROM gap_ledger GROUP BY kind")
    assert ledger == [("value_conflict", 3)]


def test_sequence_gaps_are_recorded_and_filled_by_replay(database: str) -> None:
    store = Store(database)
    store.connect()
    feed = StationFeed("st-gap", analogues=2, meters=0)
    batches = [feed.batch() for _ in range(10)]
    live = [b for b in batches if b.seq not in {3, 4, 5, 8}]
    report = store.write([_inbound(b) for b in live[:3]])
    report.add(store.write([_inbound(b) for b in live[3:]]))
    assert report.new_gaps == 2
    assert _rows(database, "SELECT from_seq, to_seq, filled_at IS NULL FROM gap_ledger ORDER BY from_seq") == [
        (3, 5, True), (8, 8, True)
    ]
    replay = store.write([_inbound(batches[3]), _inbound(batches[4])])
    assert replay.filled_gaps == 0  # 5 is still missing
    replay = store.write([_inbound(batches[5]), _inbound(batches[8])])
    store.close()
    assert replay.filled_gaps == 2
    assert _rows(database, "SELECT count(*) FROM gap_ledger WHERE filled_at IS NULL") == [(0,)]
    with psycopg.connect(database) as conn:
        ledger = query.gaps(conn, "st-gap", T0, T0 + timedelta(days=1))
    assert [(g.kind, g.from_seq, g.to_seq, g.filled_at is not None) for g in ledger] == [
        ("seq_gap", 3, 5, True), ("seq_gap", 8, 8, True)
    ]
    assert _rows(database, "SELECT count(*) FROM samples") == [(20,)]


def test_death_opens_an_outage_that_the_next_birth_closes(database: str) -> None:
    store = Store(database)
    store.connect()
    feed = StationFeed("st-death", analogues=1, meters=0)
    store.write([Inbound("geoscada/v1/st-death/birth", b"", feed.birth())])
    death = Death(station="st-death", session=1, bdseq=1, t=T0 + timedelta(minutes=5))
    store.write([_inbound(death), _inbound(death)])  # a retained death arrives again on resubscribe
    reborn = StationFeed("st-death", analogues=1, meters=0, session=2,
                         start=T0 + timedelta(minutes=9))
    store.write([Inbound("geoscada/v1/st-death/birth", b"", reborn.birth())])
    store.close()
    assert _rows(database, "SELECT kind, session, start_time, end_time, reason FROM gap_ledger") == [
        ("session_death", 1, T0 + timedelta(minutes=5), T0 + timedelta(minutes=9), "lost")
    ]
    assert _rows(database, "SELECT session FROM stations") == [(2,)]


def test_bad_quality_runs_become_spans_in_the_ledger(database: str) -> None:
    store = Store(database)
    store.connect()
    def bad(seq: int, second: int, reason: Reason = Reason.COMM_LOST) -> DataBatch:
        return DataBatch(station="st-bad", session=1, seq=seq, samples=(
            Sample(p="x", t=T0 + timedelta(seconds=second), v=None, q=Quality.BAD, r=reason),
        ))
    for seq, second in enumerate([0, 10, 20, 3600, 3610]):
        store.write([_inbound(bad(seq, second))])
    store.write([_inbound(bad(5, 3620, Reason.TIMEOUT))])
    store.close()
    spans = _rows(database, "SELECT reason, start_time, end_time FROM gap_ledger"
                            " WHERE kind = 'bad_quality' ORDER BY start_time, reason")
    assert spans == [
        ("comm_lost", T0, T0 + timedelta(seconds=20)),
        ("comm_lost", T0 + timedelta(seconds=3600), T0 + timedelta(seconds=3610)),
        ("timeout", T0 + timedelta(seconds=3620), T0 + timedelta(seconds=3620)),
    ]


def test_dead_letters_keep_raw_bytes_topic_and_reason(database: str) -> None:
    store = Store(database)
    store.connect()
    store.write([Inbound("geoscada/v1/x/data", b"\x00\xffraw", Rejected("payload is not UTF-8"))])
    store.close()
    assert _rows(database, "SELECT topic, payload, reason FROM dead_letters") == [
        ("geoscada/v1/x/data", b"\x00\xffraw", "payload is not UTF-8")
    ]


def test_two_historians_migrating_at_once_apply_each_migration_once(database: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(database, autocommit=True) as conn:
                migrate(conn)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with psycopg.connect(database) as conn:
        assert schema_version(conn) == latest_version()
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)
