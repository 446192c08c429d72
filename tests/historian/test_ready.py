"""A historian is ready only when the broker holds its subscriptions, never before."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from geoscada.services import Mosquitto, free_port
from historian.ingest import Historian
from historian.settings import HistorianSettings

UNREACHABLE_DB = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"


@pytest.mark.integration
def test_ready_once_the_broker_granted_every_subscription(
    broker: Mosquitto, historian_factory: Callable[..., Historian]
) -> None:
    historian = historian_factory(broker.url, UNREACHABLE_DB)
    assert historian.wait_connected(0)


def test_a_refused_or_foreign_suback_is_not_ready() -> None:
    historian = Historian(HistorianSettings(broker="mqtt://127.0.0.1:1", db=UNREACHABLE_DB,
                                            client_id="historian-ready"))
    granted = ReasonCode(PacketTypes.SUBACK, identifier=1)
    refused = ReasonCode(PacketTypes.SUBACK, "Not authorized")
    names = ["geoscada/v1/+/data", "geoscada/v1/+/birth"]

    historian._pending_subscription = (7, names)
    historian._on_subscribe(historian._client, None, 6, [granted, granted], None)
    assert not historian.wait_connected(0), "an acknowledgement of another SUBSCRIBE"
    historian._on_subscribe(historian._client, None, 7, [granted, refused], None)
    assert not historian.wait_connected(0), "the broker refused the births"
    historian._pending_subscription = (8, names)
    historian._on_subscribe(historian._client, None, 8, [granted, granted], None)
    assert historian.wait_connected(0)
