"""The writer: idempotency, conflicts, the gap ledger, births and deaths, migrations."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from historian import query
from historian.decode import Rejected, decode
from historian.schema import MIGRATIONS, latest_version, migrate, schema_version
from historian.store import Inbound, Store, _missing_ranges
from historian.synthetic import StationFeed
from plant.contract import (
    Command,
    CommandAck,
    DataBatch,
    Death,
    Event,
    Outcome,
    Quality,
    Reason,
    Sample,
    Topic,
    topic,
)

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
        ledger = query.gaps(conn, "st-gap", feed.start, feed.start + timedelta(days=1))
    # Each gap spans from the last sample before it to the first sample after it.
    second = timedelta(seconds=1)
    assert [
        (g.kind, g.from_seq, g.to_seq, g.filled_at is not None, g.start_time, g.end_time)
        for g in ledger
    ] == [
        ("seq_gap", 3, 5, True, feed.start + 2 * second, feed.start + 6 * second),
        ("seq_gap", 8, 8, True, feed.start + 7 * second, feed.start + 9 * second),
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


def _birth(station: str, session: int, bdseq: int, minute: int) -> Inbound:
    birth = StationFeed(station, analogues=1, meters=0, session=session,
                        start=T0 + timedelta(minutes=minute)).birth()
    birth = birth.model_copy(update={"bdseq": bdseq})
    return Inbound(topic(station, Topic.BIRTH), birth.model_dump_json().encode(), birth)


def _death(station: str, session: int, bdseq: int, minute: int | None = None, *,
           last_seq: int | None = None) -> Inbound:
    death = Death(station=station, session=session, bdseq=bdseq,
                  t=None if minute is None else T0 + timedelta(minutes=minute),
                  clean=last_seq is not None, last_seq=last_seq)
    return _inbound(death)


def _outages(dsn: str, station: str) -> list[tuple[object, ...]]:
    return _rows(dsn, "SELECT bdseq, start_time, end_time FROM gap_ledger"
                      f" WHERE kind = 'session_death' AND station = '{station}' ORDER BY bdseq")


def test_a_late_will_of_an_older_connection_opens_no_outage(database: str) -> None:
    """WAN blip: the gateway reconnects (same session, next bdSeq) before the broker gives up
    on the old connection and publishes its will."""
    store = Store(database)
    store.connect()
    store.write([_birth("st-blip", 7, 1, 0)])
    store.write([_birth("st-blip", 7, 2, 3)])
    store.write([_death("st-blip", 7, 1)])  # the old connection's will, late
    store.write([_death("st-blip", 7, 1)])  # and again, retained, on a resubscription
    store.close()
    assert _outages(database, "st-blip") == []
    assert _rows(database, "SELECT bdseq, session, name, timezone, site_hash FROM stations") == [
        (2, 7, "st-blip", "Asia/Shanghai", "0" * 64)
    ]


def test_outages_open_and_close_per_connection(database: str) -> None:
    store = Store(database)
    store.connect()
    store.write([_birth("st-conn", 7, 1, 0), _death("st-conn", 7, 1, 5)])
    # On resubscribing, the retained death of bdSeq 3 may come before the retained birth of
    # bdSeq 3: the station is still dead, and that birth does not revive it.
    store.write([_death("st-conn", 7, 3, 20), _birth("st-conn", 7, 3, 10)])
    first = _outages(database, "st-conn")
    with psycopg.connect(database) as conn:
        down = query.liveness(conn, "st-conn")
    store.write([_birth("st-conn", 8, 4, 30)])
    store.write([_birth("st-conn", 8, 4, 35)])  # a rebirth on request, same connection
    store.write([_death("st-conn", 7, 3, 20), _death("st-conn", 7, 1, 5)])  # redelivered
    store.close()
    minute = timedelta(minutes=1)
    with psycopg.connect(database) as conn:
        up = query.liveness(conn, "st-conn")
        ledger = query.gaps(conn, "st-conn", T0, T0 + timedelta(hours=1))
    assert (down.alive, down.since, down.bdseq, down.reason) == (
        False, T0 + 20 * minute, 3, "lost")
    assert (up.alive, up.since, up.bdseq, up.session) == (True, T0 + 30 * minute, 4, 8)
    assert [(g.kind, g.bdseq) for g in ledger] == [("session_death", 1), ("session_death", 3)]
    assert first == [(1, T0 + 5 * minute, T0 + 10 * minute), (3, T0 + 20 * minute, None)]
    assert _outages(database, "st-conn") == [
        (1, T0 + 5 * minute, T0 + 10 * minute), (3, T0 + 20 * minute, T0 + 30 * minute)
    ]


def test_a_clean_death_ledgers_the_lost_tail_until_it_arrives(database: str) -> None:
    store = Store(database, tail_grace=timedelta(0))
    store.connect()
    feed = StationFeed("st-tail", analogues=1, meters=0, session=3)
    store.write([Inbound(topic("st-tail", Topic.BIRTH), b"", feed.birth())])
    batches = [feed.batch() for _ in range(6)]
    store.write([_inbound(b) for b in batches[:3]])
    report = store.write([_death("st-tail", 3, 3, 2, last_seq=5)])
    tail = _rows(database, "SELECT from_seq, to_seq, reason, start_time, end_time, filled_at"
                           " FROM gap_ledger WHERE kind = 'seq_gap'")
    replay = store.write([_inbound(b) for b in batches[3:]])
    store.close()
    assert report.new_gaps == 1
    assert tail == [(3, 5, "lost tail", feed.start + timedelta(seconds=2),
                     T0 + timedelta(minutes=2), None)]
    assert (replay.filled_gaps, replay.new_gaps) == (1, 0)
    assert _rows(database, "SELECT count(*) FROM gap_ledger WHERE kind = 'seq_gap'"
                           " AND filled_at IS NULL") == [(0,)]


def test_a_tail_arriving_within_the_grace_is_no_gap(database: str) -> None:
    store = Store(database, tail_grace=timedelta(seconds=1))
    store.connect()
    feed = StationFeed("st-grace", analogues=1, meters=0, session=4)
    other = StationFeed("st-other", analogues=1, meters=0)
    batches = [feed.batch() for _ in range(8)]
    store.write([_inbound(b) for b in batches[:2]])
    # The clean death overtakes the last batches, which arrive within the grace...
    store.write([_death("st-grace", 4, 4, 1, last_seq=4)])
    store.write([_inbound(b) for b in batches[2:5]])
    # ...but a second session's tail does not, and is ledgered once the grace is over.
    store.write([_inbound(b.model_copy(update={"session": 5})) for b in batches[:2]])
    store.write([_death("st-grace", 5, 5, 2, last_seq=7)])
    early = _rows(database, "SELECT count(*) FROM gap_ledger WHERE kind = 'seq_gap'")
    time.sleep(1.2)
    report = store.write([_inbound(other.batch())])  # any later write ledgers what is due
    store.close()
    assert early == [(0,)]
    assert report.new_gaps == 1
    assert _rows(database, "SELECT session, from_seq, to_seq, reason FROM gap_ledger"
                           " WHERE kind = 'seq_gap'") == [(5, 2, 7, "lost tail")]


def _sample_batch(seq: int, *samples: tuple[int, Quality, Reason | None],
                  station: str = "st-bad", point: str = "x") -> DataBatch:
    return DataBatch(station=station, session=1, seq=seq, samples=tuple(
        Sample(p=point, t=T0 + timedelta(seconds=second), q=quality, r=reason,
               v=None if quality is Quality.BAD else 1.0)
        for second, quality, reason in samples
    ))


BAD, GOOD = Quality.BAD, Quality.GOOD


def test_a_bad_span_lasts_until_the_next_sample_that_is_not_bad(database: str) -> None:
    store = Store(database)
    store.connect()
    # Report by exception: one bad sample, then silence for an hour, then good again.
    store.write([_inbound(_sample_batch(0, (0, GOOD, None)))])
    store.write([_inbound(_sample_batch(1, (10, BAD, Reason.COMM_LOST)))])
    open_span = _rows(database, "SELECT start_time, end_time, count FROM gap_ledger"
                                " WHERE kind = 'bad_quality'")
    store.write([_inbound(_sample_batch(2, (3600, BAD, Reason.COMM_LOST)))])
    store.write([_inbound(_sample_batch(3, (3700, GOOD, None), (3800, BAD, Reason.TIMEOUT)))])
    # A replayed batch lands inside the span: a good sample splits it in two.
    store.write([_inbound(_sample_batch(4, (1800, GOOD, None), (1810, BAD, Reason.TIMEOUT)))])
    store.close()
    second = timedelta(seconds=1)
    assert open_span == [(T0 + 10 * second, None, 1)]
    assert _rows(database, "SELECT reason, start_time, end_time, count FROM gap_ledger"
                           " WHERE kind = 'bad_quality' ORDER BY start_time") == [
        ("comm_lost", T0 + 10 * second, T0 + 1800 * second, 1),
        ("timeout", T0 + 1810 * second, T0 + 3700 * second, 2),
        ("timeout", T0 + 3800 * second, None, 1),
    ]


def test_bad_spans_match_a_recomputation_from_the_stored_samples(database: str) -> None:
    """Random qualities written in random order: the ledger equals the definition's spans."""
    rng = random.Random(15)
    samples: list[tuple[int, Quality, Reason | None]] = [
        (i * 5, BAD, Reason.TIMEOUT) if rng.random() < 0.4 else (i * 5, GOOD, None)
        for i in range(120)
    ]
    chunks = [samples[i:i + rng.randint(1, 9)] for i in range(0, 120, 9)]
    rng.shuffle(chunks)
    store = Store(database)
    store.connect()
    for seq, chunk in enumerate(chunks):
        store.write([_inbound(_sample_batch(seq, *chunk))])
    store.close()
    # The definition, from the samples in time order: a run of bad samples lasts until the
    # next sample that is not bad.
    ordered = sorted((t, q) for chunk in chunks for t, q, _ in chunk)
    expected: list[tuple[datetime, datetime | None, int]] = []
    run: list[int] = []
    for t, quality in [*ordered, (None, GOOD)]:
        if quality is BAD:
            run.append(t)  # type: ignore[arg-type]
            continue
        if run:
            end = None if t is None else T0 + timedelta(seconds=t)
            expected.append((T0 + timedelta(seconds=run[0]), end, len(run)))
            run = []
    assert _rows(database, "SELECT start_time, end_time, count FROM gap_ledger"
                           " WHERE kind = 'bad_quality' ORDER BY start_time") == expected


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


def test_commands_acks_and_events_reach_append_only_tables(database: str) -> None:
    station = "st-cmd"
    issued = T0 + timedelta(minutes=1)
    command = Command(id="c-1", point="PW1.speed_setpoint", value=42.5, origin="operator:li",
                      issued=issued, expires=issued + timedelta(seconds=30))
    ack = CommandAck(id="c-1", point="PW1.speed_setpoint", outcome=Outcome.DONE, readback=42.5,
                     t=issued + timedelta(seconds=1))
    event = Event(station=station, id="e-1", t=issued, kind="alarm", source="controller-a",
                  data={"message": "PW1 flow low", "severity": 2})

    def inbound(kind: Topic, message: Command | CommandAck | Event) -> Inbound:
        payload = message.model_dump_json().encode()
        return Inbound(topic(station, kind), payload, decode(topic(station, kind), payload))

    store = Store(database)
    store.connect()
    messages = [inbound(Topic.CMD, command), inbound(Topic.ACK, ack), inbound(Topic.EVENT, event)]
    first = store.write(messages)
    store.write(messages)  # QoS 1 duplicates
    store.close()
    assert first.records == 3
    assert _rows(database, "SELECT id, station, value, origin, outcome, readback, acked_at"
                           " FROM commands") == [
        ("c-1", station, 42.5, "operator:li", "done", 42.5, issued + timedelta(seconds=1))
    ]
    assert _rows(database, "SELECT station, actor, action, target FROM audit ORDER BY id") == [
        (station, "operator:li", "command", "PW1.speed_setpoint"),
        (station, f"gateway:{station}", "ack done", "PW1.speed_setpoint"),
    ]
    assert _rows(database, "SELECT event_id, kind, severity, source, message, data->>'message'"
                           " FROM events") == [
        ("e-1", "alarm", 2, "controller-a", "PW1 flow low", "PW1 flow low")
    ]
    with psycopg.connect(database) as conn:
        for statement in ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit",
                          "DELETE FROM commands", "UPDATE commands SET outcome = 'failed'"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement.encode())
            conn.rollback()
