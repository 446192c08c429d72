"""The contract's rule for retained messages: only birth, death and watermark are read retained."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from geoscada.services import Mosquitto
from historian.decode import Ignored, decode
from historian.ingest import Historian
from historian.synthetic import Publisher, StationFeed
from plant.contract import Command, Event, Topic, topic
from tests.historian.conftest import count, wait_for

pytestmark = pytest.mark.integration

STATION = "st-retained"


def _command(n: int) -> bytes:
    issued = datetime.now(UTC)
    return Command(id=f"c-{n}", point="P1.speed_setpoint", value=40.0, origin="operator:x",
                   issued=issued, expires=issued + timedelta(seconds=30)).model_dump_json().encode()


def test_a_retained_copy_of_a_kind_not_published_retained_is_ignored() -> None:
    feed = StationFeed(STATION, analogues=1, meters=0)
    batch = feed.batch().model_dump_json().encode()
    assert isinstance(decode(topic(STATION, Topic.DATA), batch, retained=True), Ignored)
    assert isinstance(decode(topic(STATION, Topic.CMD), _command(1), retained=True), Ignored)
    birth = feed.birth().model_dump_json().encode()
    assert not isinstance(decode(topic(STATION, Topic.BIRTH), birth, retained=True), Ignored)


def test_the_historian_records_live_commands_but_not_a_stale_retained_one(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    event = Event(station=STATION, id="e-stale", t=datetime.now(UTC), kind="alarm", source="x")
    with Publisher(broker.url) as publisher:
        publisher.publish_raw(topic(STATION, Topic.CMD), _command(1), retain=True)
        publisher.publish_raw(topic(STATION, Topic.EVENT), event.model_dump_json().encode(),
                              retain=True)
    historian = historian_factory(broker.url, database)
    with Publisher(broker.url) as publisher:
        publisher.publish_raw(topic(STATION, Topic.CMD), _command(2))
    wait_for(lambda: count(database, "SELECT count(*) FROM commands") >= 1, 15, "the command")
    wait_for(lambda: historian.report.ignored == 2, 5, "the retained copies to be ignored")
    assert count(database, "SELECT count(*) FROM commands WHERE id = 'c-1'") == 0
    assert count(database, "SELECT count(*) FROM events") == 0
    assert count(database, "SELECT count(*) FROM dead_letters") == 0
