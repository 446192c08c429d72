"""Liveness through a real broker: a WAN blip and a clean broker restart leave no outage open.

A stand-in gateway (paho, MQTT 5) does what the contract asks of a gateway: a will with the
connection's bdSeq, then a retained birth with the same bdSeq; every new connection takes the
next bdSeq. The historian runs in-process against a private broker and database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel

from geoscada.services import Mosquitto
from historian.ingest import Historian
from historian.settings import parse_broker_url
from historian.synthetic import StationFeed
from plant.contract import Birth, Death, Topic, station_alive, topic
from tests.historian.conftest import count, wait_for

pytestmark = pytest.mark.integration

STATION = "st-alive"
OPEN_OUTAGES = (
    "SELECT count(*) FROM gap_ledger WHERE kind = 'session_death' AND end_time IS NULL"
)


@contextmanager
def gateway_connection(broker: Mosquitto, bdseq: int) -> Iterator[mqtt.Client]:
    """Connect as the station's gateway with the will of ``bdseq`` and publish its birth."""
    address = parse_broker_url(broker.url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gw-alive",
                         protocol=mqtt.MQTTv5)
    will = Death(station=STATION, session=1, bdseq=bdseq)
    client.will_set(topic(STATION, Topic.DEATH), will.model_dump_json(), qos=1, retain=True)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(address.host, address.port, keepalive=60)
    client.loop_start()
    assert connected.wait(10), "the stand-in gateway did not connect"
    birth = StationFeed(STATION, analogues=1, meters=0).birth().model_copy(
        update={"bdseq": bdseq, "t": datetime.now(UTC)}
    )
    client.publish(topic(STATION, Topic.BIRTH), birth.model_dump_json(), qos=1,
                   retain=True).wait_for_publish(10)
    try:
        yield client
    finally:
        client.loop_stop()


def retained(broker: Mosquitto) -> dict[Topic, BaseModel]:
    """What a late subscriber (UI, controller) sees: the retained birth and death."""
    address = parse_broker_url(broker.url)
    found: dict[Topic, BaseModel] = {}
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="late-subscriber",
                         protocol=mqtt.MQTTv5)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        kind = Topic(message.topic.rsplit("/", 1)[1])
        found[kind] = (Birth if kind is Topic.BIRTH else Death).model_validate_json(
            message.payload
        )
        if len(found) == 2:
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, *args: c.subscribe(
        [(topic(STATION, Topic.BIRTH), 1), (topic(STATION, Topic.DEATH), 1)]
    )
    client.connect(address.host, address.port)
    client.loop_start()
    done.wait(3)  # a station that never died has no retained death
    client.disconnect()
    client.loop_stop()
    return found


def settle(gateway: mqtt.Client, database: str) -> None:
    """Publish a data batch and wait until it is stored: whatever the broker sent the
    historian before it (a will, a retained death) has been written by then."""
    batch = StationFeed(STATION, analogues=1, meters=0).batch()
    gateway.publish(topic(STATION, Topic.DATA), batch.model_dump_json(), qos=1)
    wait_for(lambda: count(database, "SELECT count(*) FROM received_batches") == 1, 15,
             "the marker batch")
    assert count(database, OPEN_OUTAGES) == 0


def _alive(found: dict[Topic, BaseModel]) -> bool:
    birth, death = found.get(Topic.BIRTH), found.get(Topic.DEATH)
    assert birth is None or isinstance(birth, Birth)
    assert death is None or isinstance(death, Death)
    return station_alive(birth, death)


def test_wan_blip_leaves_the_station_alive(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    """The gateway's TCP connection goes silent without either side closing it; the gateway
    reconnects (same client, next bdSeq) and the broker drops the old connection, publishing
    its will."""
    historian_factory(broker.url, database)
    with gateway_connection(broker, bdseq=1) as first:
        wait_for(lambda: count(database, "SELECT count(*) FROM stations WHERE bdseq = 1") == 1,
                 15, "the first birth")
        first.loop_stop()  # silent: no packets, no FIN
        with gateway_connection(broker, bdseq=2) as second:
            wait_for(
                lambda: count(database, "SELECT count(*) FROM stations WHERE bdseq = 2") == 1,
                15, "the second birth",
            )
            found = retained(broker)
            settle(second, database)
    assert isinstance(found.get(Topic.DEATH), Death), "the broker published the old will"
    assert _alive(found)
    assert count(database, "SELECT max(bdseq) FROM stations") == 2


def test_a_clean_broker_restart_leaves_no_outage_open(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    historian = historian_factory(broker.url, database)
    with gateway_connection(broker, bdseq=1):
        wait_for(lambda: count(database, "SELECT count(*) FROM stations WHERE bdseq = 1") == 1,
                 15, "the first birth")
    broker.stop()
    broker.start()
    # The gateway reconnects with its next bdSeq; the historian resubscribes by itself and may
    # be handed the old connection's will, retained, on the way.
    with gateway_connection(broker, bdseq=2) as gateway:
        assert historian.wait_connected(15)
        wait_for(lambda: count(database, "SELECT count(*) FROM stations WHERE bdseq = 2") == 1,
                 20, "the birth after the restart")
        found = retained(broker)
        settle(gateway, database)
    assert _alive(found)


def test_a_will_delivered_after_the_next_birth_opens_no_outage(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    """The broker notices the old connection's end only after the gateway is back (keepalive
    timeout): the will of bdSeq 1 arrives after the birth of bdSeq 2."""
    historian_factory(broker.url, database)
    with gateway_connection(broker, bdseq=2) as gateway:
        wait_for(lambda: count(database, "SELECT count(*) FROM stations WHERE bdseq = 2") == 1,
                 15, "the birth")
        late_will = Death(station=STATION, session=1, bdseq=1)
        gateway.publish(topic(STATION, Topic.DEATH), late_will.model_dump_json(), qos=1,
                        retain=True).wait_for_publish(10)
        settle(gateway, database)
        found = retained(broker)
    assert _alive(found)
    assert count(database, "SELECT count(*) FROM gap_ledger WHERE kind = 'session_death'") == 0
