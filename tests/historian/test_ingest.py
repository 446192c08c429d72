"""End to end: synthetic gateways → Mosquitto → historian → PostgreSQL, with faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from geoscada.services import Mosquitto, PostgresCluster
from historian.ingest import Historian
from historian.schema import latest_version
from historian.synthetic import Publisher, StationFeed
from tests.historian.conftest import HistorianProcess, count, wait_for

pytestmark = pytest.mark.integration


def test_published_samples_are_stored_once_with_station_metadata(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    historian_factory(broker.url, database)
    feed = StationFeed("st-basic", analogues=5, meters=1)
    with Publisher(broker.url) as publisher:
        publisher.publish(feed.birth())
        for batch in feed.batches(200):
            publisher.publish(batch)
    wait_for(lambda: count(database, "SELECT count(*) FROM samples") == 200 * 6, 30, "samples")
    assert count(database, "SELECT count(*) FROM points WHERE announced AND unit IS NOT NULL") == 6
    assert count(database, "SELECT count(*) FROM received_batches") == 200
    assert count(database, "SELECT count(*) FROM gap_ledger") == 0
    wait_for(
        lambda: count(database, "SELECT coalesce(sum(samples), 0) FROM rollup_1d") == 1200,
        30,
        "daily rollups",
    )


class _BackgroundPublisher:
    """Publishes one feed's batches at a steady rate from a thread until stopped."""

    def __init__(self, broker_url: str, feeds: list[StationFeed], rate_hz: float) -> None:
        self.feeds = feeds
        self.rate_hz = rate_hz
        self.published_batches = 0
        self.published_samples = 0
        self._stop = threading.Event()
        self._publisher = Publisher(broker_url, client_id=f"bg-{id(self)}")
        self._thread = threading.Thread(target=self._run, name="bg-publisher")

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        next_time = time.monotonic()
        while not self._stop.is_set():
            for feed in self.feeds:
                batch = feed.batch()
                self._publisher.publish(batch)
                self.published_batches += 1
                self.published_samples += len(batch.samples)
            next_time += period
            self._stop.wait(max(0.0, next_time - time.monotonic()))

    def __enter__(self) -> _BackgroundPublisher:
        for feed in self.feeds:
            self._publisher.publish(feed.birth())
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop publishing and wait until the broker has everything."""
        self._stop.set()
        self._thread.join(30)
        self._publisher.close()

    def __exit__(self, *exc_info: object) -> None:
        if not self._stop.is_set():
            self.stop()


@pytest.mark.slow
def test_database_down_for_60_s_loses_and_doubles_nothing(
    broker: Mosquitto, own_postgres: PostgresCluster, historian_factory: Callable[..., Historian]
) -> None:
    dsn = own_postgres.create_database("outage")
    historian_factory(broker.url, dsn)
    feeds = [StationFeed(f"st-outage-{i}", analogues=20, meters=2) for i in range(2)]
    with _BackgroundPublisher(broker.url, feeds, rate_hz=10) as publisher:
        wait_for(lambda: count(dsn, "SELECT count(*) FROM samples") > 1000, 30, "first rows")
        own_postgres.stop("fast")
        time.sleep(60)
        assert count(dsn, "SELECT 1") == -1, "the database should have been down"
        own_postgres.start()
        time.sleep(3)
        publisher.stop()
    expected = publisher.published_samples
    assert publisher.published_batches > 1300  # ~65 s at 2 x 10 batches/s, most during the outage
    wait_for(lambda: count(dsn, "SELECT count(*) FROM samples") >= expected, 120, "catch-up")
    time.sleep(1)
    assert count(dsn, "SELECT count(*) FROM samples") == expected
    assert count(dsn, "SELECT count(*) FROM received_batches") == publisher.published_batches
    assert count(dsn, "SELECT count(*) FROM gap_ledger WHERE kind = 'seq_gap'") == 0
    assert count(dsn, "SELECT count(*) FROM dead_letters") == 0


# A historian transaction that has written rows (it holds a transaction id) and is busy with a
# batch: every statement of a batch write goes through the staging tables.
_IN_BATCH_WRITE = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND query ~ 'stage_'"
)


def _kill_inside_a_batch_write(process: HistorianProcess, database: str) -> None:
    """Kill -9 the historian at a moment PostgreSQL shows it inside an uncommitted batch write."""
    with psycopg.connect(database, autocommit=True) as watch:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = watch.execute(_IN_BATCH_WRITE).fetchone()
            if row is not None and row[0]:
                process.kill()
                return
            time.sleep(0.001)
    raise AssertionError("never caught the historian inside a batch write")


def test_historian_killed_mid_batch_and_restarted_loses_and_doubles_nothing(
    broker: Mosquitto, database: str, historian_process: Callable[..., HistorianProcess]
) -> None:
    process = historian_process(broker.url, database, "historian-kill9")
    process.start()
    wait_for(
        lambda: count(database, "SELECT count(*) FROM schema_migrations") == latest_version(),
        30,
        "schema",
    )
    feeds = [StationFeed(f"st-kill-{i}", analogues=50, meters=2) for i in range(4)]
    published = 0
    with Publisher(broker.url) as publisher:
        for feed in feeds:
            publisher.publish(feed.birth())
        for kill in range(3):
            before = count(database, "SELECT count(*) FROM samples")
            for _ in range(250):
                for feed in feeds:
                    publisher.publish(feed.batch())
                    published += 52
            publisher.flush()
            # kill while rows are arriving, i.e. with a transaction in flight
            def progressed(before: int = before) -> bool:
                return count(database, "SELECT count(*) FROM samples") > before

            wait_for(progressed, 30, f"ingest before kill {kill}")
            _kill_inside_a_batch_write(process, database)
            stored = count(database, "SELECT count(*) FROM samples")
            assert stored < published, "the kill came too late to interrupt ingest"
            process.start()
    wait_for(
        lambda: count(database, "SELECT count(*) FROM samples") >= published, 60, "all samples"
    )
    time.sleep(1)
    assert count(database, "SELECT count(*) FROM samples") == published
    assert count(database, "SELECT count(*) FROM received_batches") == published // 52
    assert count(database, "SELECT count(*) FROM gap_ledger WHERE kind = 'seq_gap'") == 0


def test_two_historians_in_a_shared_group_split_the_stream_exactly_once(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    first = historian_factory(broker.url, database, group="ingest")
    second = historian_factory(broker.url, database, group="ingest")
    feeds = [StationFeed(f"st-scale-{i}", analogues=30, meters=2) for i in range(4)]
    published = 0
    with Publisher(broker.url) as publisher:
        for feed in feeds:
            publisher.publish(feed.birth())
        for _ in range(400):
            for feed in feeds:
                publisher.publish(feed.batch())
                published += 32
    wait_for(
        lambda: count(database, "SELECT count(*) FROM samples") >= published, 60, "all samples"
    )
    time.sleep(1)
    assert count(database, "SELECT count(*) FROM samples") == published
    assert count(database, "SELECT count(*) FROM received_batches") == 1600
    assert first.report.batches > 100 and second.report.batches > 100
    assert first.report.batches + second.report.batches == 1600
    # the two writers interleave within a session; every gap one sees, the other fills
    assert count(database, "SELECT count(*) FROM gap_ledger WHERE filled_at IS NULL") == 0


def test_a_killed_group_member_stops_taking_its_share_within_its_session_expiry(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian],
    historian_process: Callable[..., HistorianProcess],
) -> None:
    """The broker deals a shared subscription to absent members' sessions too: a member that
    died must not sit on half the stream for days (the gateways resend what it swallowed)."""
    doomed = historian_process(broker.url, database, "doomed-member", "--group", "ingest")
    doomed.start()
    survivor = historian_factory(broker.url, database, group="ingest")
    wait_for(lambda: "connected to" in doomed.log.read_text(), 30, "the doomed member up")
    feed = StationFeed("st-survivor", analogues=5, meters=0)
    with _BackgroundPublisher(broker.url, [feed], rate_hz=20) as publisher:
        wait_for(lambda: count(database, "SELECT count(*) FROM received_batches") > 40, 30,
                 "batches flowing")
        assert survivor.report.batches < 35, "the doomed member took no share"
        doomed.kill()
        time.sleep(6)  # the group's session expiry (3 s) and a margin
        first = publisher.published_batches
        time.sleep(3)
        publisher.stop()
        last = publisher.published_batches - 1
    wait_for(lambda: count(database, "SELECT count(*) FROM received_batches WHERE seq BETWEEN"
                                     " %s AND %s", first, last) == last - first + 1, 15,
             f"batches {first}..{last} all taken by the survivor")
    assert survivor.report.batches > 0
