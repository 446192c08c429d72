"""Synthetic station traffic for the historian's tests, benchmark and demo checks.

A :class:`StationFeed` makes contract-valid births and data batches for one station (analogue
points following slow waves, meters that count up); a :class:`Publisher` sends them to a broker
with QoS 1 and waits for the broker's acknowledgements.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from historian.settings import parse_broker_url
from plant.contract import Birth, DataBatch, PointInfo, Quality, Reason, Sample, Topic, topic


@dataclass
class StationFeed:
    """Deterministic data for one station: ``analogues`` wave points and ``meters`` counters."""

    station: str
    analogues: int = 10
    meters: int = 2
    session: int = 1
    start: datetime = field(default_factory=lambda: datetime(2026, 1, 15, tzinfo=UTC))
    period: timedelta = timedelta(seconds=1)
    meter_modulus: float = 1e9
    seq: int = 0

    def point_ids(self) -> list[str]:
        """Every point id of the station."""
        return [f"A{i}.temp" for i in range(self.analogues)] + [
            f"M{i}.energy" for i in range(self.meters)
        ]

    def birth(self) -> Birth:
        """The station's birth message."""
        points = [
            PointInfo(
                id=f"A{i}.temp", equipment=f"A{i}", equipment_kind="plate_exchanger",
                measurand="supply_temp", unit="degC", dtype="float", range=(0.0, 120.0),
                period_s=self.period.total_seconds(),
            )
            for i in range(self.analogues)
        ] + [
            PointInfo(
                id=f"M{i}.energy", equipment=f"M{i}", equipment_kind="heat_meter",
                measurand="heat_energy", unit="kWh", dtype="float",
                range=(0.0, self.meter_modulus), counter=True,
                period_s=self.period.total_seconds(),
            )
            for i in range(self.meters)
        ]
        return Birth(
            station=self.station, session=self.session, bdseq=self.session, t=self.start,
            gateway="synthetic", name=self.station, kind="hydrothermal", timezone="Asia/Shanghai",
            site_hash="0" * 64,
            points=tuple(points),
        )

    def value(self, point: int, step: int) -> float:
        """The value of analogue ``point`` at scan ``step``."""
        return round(40.0 + point + 10.0 * math.sin(step / 300.0 + point), 3)

    def reading(self, meter: int, step: int) -> float:
        """The reading of meter ``meter`` at scan ``step``."""
        return float((step * (meter + 1) * 2.5) % self.meter_modulus)

    def batch(self, step: int | None = None, *, historical: bool = False) -> DataBatch:
        """The next data batch (one scan of every point); ``seq`` advances by one."""
        step = self.seq if step is None else step
        moment = self.start + step * self.period
        samples = [
            Sample(p=f"A{i}.temp", t=moment, v=self.value(i, step)) for i in range(self.analogues)
        ] + [
            Sample(p=f"M{i}.energy", t=moment, v=self.reading(i, step)) for i in range(self.meters)
        ]
        batch = DataBatch(
            station=self.station, session=self.session, seq=self.seq, historical=historical,
            samples=tuple(samples),
        )
        self.seq += 1
        return batch

    def bad_batch(self, reason: Reason = Reason.COMM_LOST) -> DataBatch:
        """A scan in which every point could not be read."""
        moment = self.start + self.seq * self.period
        batch = DataBatch(
            station=self.station, session=self.session, seq=self.seq,
            samples=tuple(
                Sample(p=p, t=moment, v=None, q=Quality.BAD, r=reason) for p in self.point_ids()
            ),
        )
        self.seq += 1
        return batch

    def batches(self, count: int) -> Iterator[DataBatch]:
        """The next ``count`` batches."""
        for _ in range(count):
            yield self.batch()


class Publisher:
    """A QoS 1 MQTT publisher that can wait for every acknowledgement."""

    def __init__(self, broker_url: str, client_id: str = "synthetic-publisher") -> None:
        address = parse_broker_url(broker_url)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        self._connected = threading.Event()
        self._client.on_connect = lambda *args: self._connected.set()
        self._client.connect(address.host, address.port)
        self._client.loop_start()
        if not self._connected.wait(10):
            self.close()
            raise ConnectionError(f"no connection to {broker_url}")
        self._pending: list[mqtt.MQTTMessageInfo] = []

    def publish_raw(self, topic_name: str, payload: bytes, retain: bool = False) -> None:
        """Publish bytes as they are."""
        self._pending.append(self._client.publish(topic_name, payload, qos=1, retain=retain))
        if len(self._pending) >= 5000:
            self.flush()

    def publish(self, message: DataBatch | Birth) -> None:
        """Publish a data batch or (retained) birth on its station topic."""
        if isinstance(message, Birth):
            self.publish_raw(
                topic(message.station, Topic.BIRTH), message.model_dump_json().encode(), True
            )
        else:
            self.publish_raw(topic(message.station, Topic.DATA), message.model_dump_json().encode())

    def flush(self, timeout: float = 60) -> None:
        """Wait until the broker has acknowledged everything published so far."""
        for info in self._pending:
            info.wait_for_publish(timeout)
        self._pending.clear()

    def close(self) -> None:
        """Flush, disconnect and stop the network thread."""
        if getattr(self, "_pending", None):
            self.flush()
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
