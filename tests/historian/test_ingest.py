"""End to end: synthetic gateways → Mosquitto → historian → PostgreSQL, with faults."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from geoscada.services import Mosquitto
from historian.ingest import Historian
from historian.synthetic import Publisher, StationFeed
from tests.historian.conftest import count, wait_for

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
