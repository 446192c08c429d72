"""The clock-offset estimate from historian watermark times, and its health point end to end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock_offset import POINT, ClockOffset
from geoscada.services import Mosquitto
from plant.contract import Quality, Reason, SessionMark, Topic, Watermark, topic
from plant.site import Site
from tests.gateway.harness import running_gateway, station
from tests.gateway.mqtt_helpers import Collector, until

T0 = 1_800_000_000.0  # a wall-clock moment; the monotonic clock starts at 1000 here


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_the_offset_is_the_smallest_arrival_minus_stamp_once_two_stamps_arrived() -> None:
    clock = ClockOffset()
    # the historian's clock is 2 s behind the gateway's; deliveries take 0.3, 0.05 and 0.1 s
    clock.observe(at(T0 - 2 - 0.3), 1000.0)
    assert clock.offset_s(T0, 1000.0) is None  # one stamp may be a stale retained message
    clock.observe(at(T0 + 1 - 2 - 0.05), 1001.0)
    clock.observe(at(T0 + 2 - 2 - 0.1), 1002.0)
    assert clock.offset_s(T0 + 2, 1002.0) == pytest.approx(2.05)
    reading = clock.reading(T0 + 2, 1002.0)
    assert reading.point == POINT and reading.q is Quality.GOOD
    assert reading.v == pytest.approx(2.05)


def test_a_stale_retained_watermark_neither_counts_alone_nor_skews_the_offset() -> None:
    clock = ClockOffset()
    clock.observe(at(T0 - 7200), 1000.0)  # retained, two hours old
    clock.observe(at(T0 - 7200), 1030.0)  # the same one again after a reconnect
    assert clock.offset_s(T0 + 30, 1030.0) is None
    clock.observe(at(T0 + 40 + 0.5), 1040.0)  # live: the historian is 0.5 s ahead
    clock.observe(at(T0 + 41 + 0.5), 1041.0)
    assert clock.offset_s(T0 + 41, 1041.0) == pytest.approx(-0.5)


def test_the_offset_follows_a_wall_clock_step_and_expires_without_watermarks() -> None:
    clock = ClockOffset(window_s=300)
    clock.observe(at(T0), 1000.0)
    clock.observe(at(T0 + 1), 1001.0)
    assert clock.offset_s(T0 + 1, 1001.0) == pytest.approx(0.0)
    # the gateway's wall clock steps an hour back: the offset says so at once
    assert clock.offset_s(T0 + 2 - 3600, 1002.0) == pytest.approx(-3600.0)
    reading = clock.reading(T0 + 400, 1400.0)
    assert reading.q is Quality.BAD and reading.v is None and reading.r is Reason.STALE


@pytest.mark.integration
def test_the_gateway_publishes_its_offset_against_the_historians_time(
        site: Site, mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/data")

        def offsets() -> list[dict[str, object]]:
            return [s for s in collector.samples() if s["p"] == POINT]

        async with station(site) as st, running_gateway(st.site, mosquitto.port, tmp_path) as gw:
            await until(lambda: bool(offsets()), 10, "clock offset point")
            first = offsets()[-1]
            assert first["q"] == "bad" and first["v"] is None and first["r"] == "stale"
            assert any(p.id == POINT for p in gw.birth().points)
            # a historian whose clock is 3.5 s behind: two watermarks, as after two commits
            for _ in range(2):
                mark = Watermark(station="gw-test", historian="test",
                                 t=datetime.now(UTC) - timedelta(seconds=3.5),
                                 sessions=(SessionMark(session=10**6, seq=-1),))
                collector.publish(topic("gw-test", Topic.WATERMARK),
                                  mark.model_dump_json().encode())
                await asyncio.sleep(0.3)
            await until(lambda: offsets()[-1]["q"] == "good", 10, "a known offset")
        collector.close()
        value = offsets()[-1]["v"]
        assert isinstance(value, float)
        assert 3.5 <= value < 3.5 + 0.5, value  # plus the delivery delay, never less

    asyncio.run(scenario())
