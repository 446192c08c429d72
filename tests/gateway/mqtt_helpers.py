"""A test subscriber that keeps everything it receives, with a persistent session."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Collector:
    """Subscribes to ``geoscada/v1/#`` at QoS 1 with a session that outlives broker restarts."""

    def __init__(self, port: int, topic: str = "geoscada/v1/#") -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._topic = topic
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self._subscribed = threading.Event()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, keepalive=5, clean_start=False, properties=props)
        self.client.loop_start()
        assert self._subscribed.wait(10), "test subscriber could not subscribe"

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        client.subscribe(self._topic, qos=1)
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))

    def of(self, kind: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith("/" + kind)]

    def batches(self) -> list[dict[str, Any]]:
        return [m.json() for m in self.of("data")]

    def samples(self) -> list[dict[str, Any]]:
        return [s for b in self.batches() for s in b["samples"]]

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait inside an event loop (without blocking it) until ``condition`` holds."""
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Acknowledger(Collector):
    """A collector that stands where the historians stand: it publishes the station's retained
    watermark from the data batches it has received (per session, the highest seq with every
    seq below it received or declared lost by the gateway's spool), so a gateway can delete from
    its spool without a database."""

    def __init__(self, port: int, station: str) -> None:
        self.station = station
        self._seqs: dict[int, set[int]] = {}
        self._lost: dict[int, int] = {}
        super().__init__(port, f"geoscada/v1/{station}/data")

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        super()._on_message(client, userdata, msg)
        batch = json.loads(msg.payload)
        self._seqs.setdefault(batch["session"], set()).add(batch["seq"])
        if batch.get("lost_through") is not None:  # the contract: those will never come
            self._lost[batch["session"]] = max(self._lost.get(batch["session"], -1),
                                               batch["lost_through"])
        marks = []
        for session, seqs in sorted(self._seqs.items()):
            mark = self._lost.get(session, -1)
            while mark + 1 in seqs:
                mark += 1
            marks.append({"session": session, "seq": mark})
        watermark = {"station": self.station, "t": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "historian": "test-acknowledger", "sessions": marks}
        client.publish(f"geoscada/v1/{self.station}/watermark", json.dumps(watermark), qos=1,
                       retain=True)
