"""The historians' watermark: read from the database, so it holds with several historians."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from geoscada.services import Mosquitto
from historian.ingest import Historian
from historian.schema import migrate
from historian.synthetic import Publisher, StationFeed
from historian.watermark import contiguous_mark
from plant.contract import Watermark

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("start", "seqs", "expected"), [
    (-1, [], -1),
    (-1, [0, 1, 2], 2),
    (-1, [1, 2], -1),
    (4, [5, 6, 8], 6),
    (4, [3, 4, 5], 5),  # seqs at or below the start do not stop the walk
])
def test_contiguous_mark(start: int, seqs: list[int], expected: int) -> None:
    assert contiguous_mark(start, seqs) == expected


def oracle(published: set[int]) -> int:
    """The highest seq with every seq from 0 up to it published (-1: none)."""
    mark = -1
    while mark + 1 in published:
        mark += 1
    return mark


class Marks:
    """Reads the retained watermarks of stations, as a gateway would."""

    def __init__(self, port: int) -> None:
        self.seen: list[Watermark] = []
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("geoscada/v1/+/watermark", qos=1)
        self.client.loop_start()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.seen.append(Watermark.model_validate_json(msg.payload))

    def latest(self, station: str, session: int) -> int | None:
        with self._lock:
            for mark in reversed(self.seen):
                if mark.station == station:
                    return next((s.seq for s in mark.sessions if s.session == session), None)
        return None

    def historians(self) -> set[str]:
        with self._lock:
            return {m.historian for m in self.seen}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_the_mark_stops_below_a_hole_and_counts_what_another_historian_committed(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    historian_factory(broker.url, database)
    marks = Marks(broker.port)
    feed = StationFeed("st-mark", analogues=3, meters=0, session=41)
    batches = list(feed.batches(20))
    # batches 0..4 were committed by some other historian (one that has since crashed)
    with psycopg.connect(database, autocommit=True) as conn:
        migrate(conn)
        conn.execute("INSERT INTO stations (id) VALUES ('st-mark')")
        conn.execute("INSERT INTO station_sessions (station, session, max_seq)"
                     " VALUES ('st-mark', 41, 4)")
        for seq in range(5):
            conn.execute("INSERT INTO received_batches (station, session, seq, historical,"
                         " samples) VALUES ('st-mark', 41, %s, false, 3)", (seq,))
    published = set(range(5))
    try:
        with Publisher(broker.url, client_id="mark-publisher") as publisher:
            for batch in batches[5:20]:
                if batch.seq != 12:
                    publisher.publish(batch)
                    published.add(batch.seq)
            publisher.flush()
            wait(lambda: marks.latest("st-mark", 41) == oracle(published), 20,
                 f"the mark {oracle(published)}")
            assert oracle(published) == 11
            publisher.publish(batches[12])
            published.add(12)
            publisher.flush()
            wait(lambda: marks.latest("st-mark", 41) == 19, 20, "the hole to be filled")
    finally:
        marks.close()


def test_two_historians_in_a_group_each_publish_the_whole_mark(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    first = historian_factory(broker.url, database, group="marks")
    second = historian_factory(broker.url, database, group="marks")
    marks = Marks(broker.port)
    feeds = [StationFeed(f"st-group-{i}", analogues=3, meters=0, session=7 + i)
             for i in range(3)]
    try:
        with Publisher(broker.url, client_id="group-publisher") as publisher:
            for _ in range(200):
                for feed in feeds:
                    publisher.publish(feed.batch())
            publisher.flush()
            wait(lambda: all(marks.latest(f.station, f.session) == 199 for f in feeds), 30,
                 "every station's mark")
        # each historian committed only part of each stream, yet its marks cover all of it
        assert first.report.batches > 20 and second.report.batches > 20
        assert marks.historians() == {first.settings.client_id, second.settings.client_id}
        # (a mark counted by one process alone would stop at the first batch the other took)
        def complete(historian: Historian) -> bool:
            own = historian.watermarks.marks
            return all(own.get(f.station, {}).get(f.session) == 199 for f in feeds)
        wait(lambda: complete(first) and complete(second), 10, "each historian's own marks")
        # a late subscriber (a restarting gateway) reads the retained mark
        late = Marks(broker.port)
        try:
            wait(lambda: late.latest("st-group-0", 7) == 199, 10, "the retained mark")
        finally:
            late.close()
    finally:
        marks.close()


def test_a_watermark_is_valid_contract_json(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    historian_factory(broker.url, database)
    raw: list[bytes] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.on_message = lambda c, u, m: raw.append(bytes(m.payload))
    client.connect("127.0.0.1", broker.port)
    client.subscribe("geoscada/v1/st-json/watermark", qos=1)
    client.loop_start()
    try:
        with Publisher(broker.url, client_id="json-publisher") as publisher:
            publisher.publish(StationFeed("st-json", analogues=1, meters=0).batch())
        wait(lambda: bool(raw), 20, "a watermark")
        body = json.loads(raw[0])
        assert body["station"] == "st-json" and body["sessions"] == [{"session": 1, "seq": 0}]
        assert isinstance(body["t"], str)
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_mark_passes_a_hole_the_gateway_spool_declared_lost(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    historian_factory(broker.url, database)
    marks = Marks(broker.port)
    feed = StationFeed("st-lost", analogues=2, meters=0, session=5)
    batches = list(feed.batches(30))
    published = set(range(5)) | set(range(12, 30))
    try:
        with Publisher(broker.url, client_id="lost-publisher") as publisher:
            for batch in batches[:5]:
                publisher.publish(batch)
            publisher.flush()
            wait(lambda: marks.latest("st-lost", 5) == 4, 20, "the mark before the overflow")
            # the gateway's spool overflowed and dropped 5..11; the batches it sends from then
            # on say so (the contract's lost_through), the first of them before the others
            for batch in batches[12:20]:
                publisher.publish(batch.model_copy(update={"lost_through": 11}))
            publisher.flush()
            wait(lambda: marks.latest("st-lost", 5) == 19, 20, "the mark past the hole")
            # later batches need not say it again: the database keeps it
            for batch in batches[20:30]:
                publisher.publish(batch)
            publisher.flush()
            wait(lambda: marks.latest("st-lost", 5) == 29, 20, "the mark at the end")
        with psycopg.connect(database, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT from_seq, to_seq, count, reason, filled_at FROM gap_ledger"
                " WHERE station = 'st-lost' AND kind = 'seq_gap'").fetchall()
            received = {int(r[0]) for r in conn.execute(
                "SELECT seq FROM received_batches WHERE station = 'st-lost'")}
        # the ledger still says what is missing, why, and that it will not be filled
        assert rows == [(5, 11, 7, "dropped by the gateway spool", None)]
        assert received == published
    finally:
        marks.close()
