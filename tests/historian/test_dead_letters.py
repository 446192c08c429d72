"""10,000 malformed, truncated, oversized and wrongly typed payloads: all dead-lettered, none fatal."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoscada.services import Mosquitto
from historian.decode import Rejected, decode
from historian.ingest import Historian
from historian.synthetic import Publisher, StationFeed
from plant.contract import MAX_PAYLOAD_BYTES
from tests.historian.conftest import count, wait_for

pytestmark = pytest.mark.integration

FUZZ_STATION = "st-fuzzbad"
DATA_TOPIC = f"geoscada/v1/{FUZZ_STATION}/data"
TEMPLATE: dict[str, object] = json.loads(
    StationFeed(FUZZ_STATION, analogues=2, meters=1).batch().model_dump_json()
)
FIELDS = ["station", "session", "seq", "historical", "samples"]
SAMPLE_FIELDS = ["p", "t", "v", "q", "r", "d"]

junk_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@st.composite
def wrongly_typed(draw: st.DrawFn) -> bytes:
    document = json.loads(json.dumps(TEMPLATE))
    if draw(st.booleans()):
        document[draw(st.sampled_from(FIELDS))] = draw(junk_values)
    else:
        sample = document["samples"][draw(st.integers(0, 2))]
        sample[draw(st.sampled_from(SAMPLE_FIELDS))] = draw(junk_values)
    if draw(st.booleans()):
        document[draw(st.text(min_size=1, max_size=6))] = draw(junk_values)
    return json.dumps(document).encode()


@st.composite
def truncated(draw: st.DrawFn) -> bytes:
    payload = json.dumps(TEMPLATE).encode()
    return payload[: draw(st.integers(0, len(payload) - 1))]


bad_payloads = st.one_of(
    st.binary(max_size=120),
    truncated(),
    wrongly_typed(),
    st.one_of(st.integers(), st.text(max_size=20), st.lists(st.booleans(), max_size=4)).map(
        lambda value: json.dumps(value).encode()
    ),
)
bad_messages = st.tuples(
    st.sampled_from([DATA_TOPIC, DATA_TOPIC, DATA_TOPIC, f"geoscada/v1/{FUZZ_STATION}/birth",
                     f"geoscada/v1/{FUZZ_STATION}/death"]),
    bad_payloads,
)


def _digest(topic: str, payload: bytes) -> tuple[str, str]:
    return topic, hashlib.sha256(payload).hexdigest()


@pytest.mark.slow
def test_ten_thousand_bad_payloads_are_dead_lettered_and_good_data_between_is_kept(
    broker: Mosquitto, database: str, historian_factory: Callable[..., Historian]
) -> None:
    historian = historian_factory(broker.url, database)
    feed = StationFeed("st-fuzzgood", analogues=5, meters=1)
    bad_sent: list[tuple[str, bytes]] = []
    good_batches = 0
    with Publisher(broker.url) as publisher:
        publisher.publish(feed.birth())

        @settings(
            max_examples=500,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(st.lists(bad_messages, min_size=25, max_size=25))
        def publish_bad_then_good(messages: list[tuple[str, bytes]]) -> None:
            nonlocal good_batches
            for topic, payload in messages:
                if isinstance(decode(topic, payload), Rejected):
                    publisher.publish_raw(topic, payload)
                    bad_sent.append((topic, payload))
            publisher.publish(feed.batch())
            good_batches += 1

        while len(bad_sent) < 10_000:
            publish_bad_then_good()
        oversized = b'{"station": "%s"' % FUZZ_STATION.encode() + b" " * MAX_PAYLOAD_BYTES + b"}"
        for _ in range(3):
            publisher.publish_raw(DATA_TOPIC, oversized)
            bad_sent.append((DATA_TOPIC, oversized))
            publisher.publish(feed.batch())
            good_batches += 1

    assert len(bad_sent) >= 10_003
    wait_for(
        lambda: count(database, "SELECT count(*) FROM dead_letters") >= len(bad_sent),
        120,
        "dead letters",
    )
    wait_for(
        lambda: count(database, "SELECT count(*) FROM received_batches") >= good_batches,
        60,
        "good batches",
    )
    assert historian.alive
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT topic, payload, reason FROM dead_letters").fetchall()
        stored_samples = conn.execute(
            "SELECT count(*) FROM samples s JOIN points p ON p.id = s.point_id"
            " WHERE p.station = 'st-fuzzgood'"
        ).fetchone()
    assert Counter(_digest(str(t), bytes(p)) for t, p, _ in rows) == Counter(
        _digest(t, p) for t, p in bad_sent
    )
    assert all(reason for _, _, reason in rows)
    assert stored_samples == (good_batches * 6,)
    assert count(database, "SELECT count(*) FROM received_batches") == good_batches
