"""A gateway's clock off the historians': its clock-offset point, then the controller's alarm.

A real gateway polls a station through a private broker; the historians' watermarks it gets are
stamped by a clock 30 s behind its own (a gateway whose clock runs 30 s ahead), then by the
right one. The gateway's own estimate goes out in its ``gateway.clock_offset`` health point;
the controller's feed takes the published batches, and the station's ``clock_offset`` alarm is
evaluated on a fake clock: raised one on-delay after the offset went beyond its limit, cleared
when the clock agrees again.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.alarms import AlarmStatus, State, evaluate
from controller.feed import StationFeed
from controller.rules import CLOCK_OFFSET_POINT, observe, site_alarms
from geoscada.services import Mosquitto
from plant.contract import DataBatch, SessionMark, Topic, Watermark, topic
from plant.site import load_site
from tests.gateway.harness import running_gateway, station
from tests.gateway.mqtt_helpers import Collector, until

pytestmark = pytest.mark.integration

SKEW_S = 30.0
SITE_FILE = Path(__file__).resolve().parents[1] / "gateway" / "site_files" / "two_plcs.yaml"


def test_a_gateway_clock_off_by_30_s_raises_the_clock_offset_alarm(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    site = load_site(SITE_FILE)
    sid = site.station.id
    alarm = next(a for a in site_alarms(site) if a.spec.rule == "clock_offset")
    limit = alarm.params["limit_s"]
    assert alarm.spec.id == f"{sid}.clock_offset" and limit < SKEW_S
    feed = StationFeed(sid, site.full_refresh_s)
    data = topic(sid, Topic.DATA)

    taken = [0]

    def take_batches(collector: Collector) -> float | None:
        """Hand every new batch to the controller's feed; the offset it now holds."""
        batches = collector.of("data")
        for message in batches[taken[0]:]:
            feed.take(DataBatch.model_validate_json(message.payload))
        taken[0] = len(batches)
        held = feed.latest.get(CLOCK_OFFSET_POINT)
        return None if held is None or held.v is None else float(held.v)

    async def historian(collector: Collector, behind_s: float, until_offset: float) -> None:
        """Publish watermarks stamped ``behind_s`` late until the gateway reports the offset."""
        deadline = asyncio.get_running_loop().time() + 20
        while asyncio.get_running_loop().time() < deadline:
            mark = Watermark(station=sid, historian="skewed",
                             t=datetime.now(UTC) - timedelta(seconds=behind_s),
                             sessions=(SessionMark(session=10**6, seq=-1),))
            collector.publish(topic(sid, Topic.WATERMARK), mark.model_dump_json().encode())
            await asyncio.sleep(0.3)
            offset = take_batches(collector)
            if offset is not None and abs(offset - until_offset) < 1.0:
                return
        raise AssertionError(f"the gateway never reported an offset near {until_offset} s")

    async def scenario() -> tuple[float, float]:
        collector = Collector(mosquitto.port, data)
        try:
            async with station(site) as st, running_gateway(st.site, mosquitto.port, tmp_path):
                await until(lambda: bool(collector.of("data")), 10, "the first batch")
                await historian(collector, SKEW_S, SKEW_S)
                skewed = take_batches(collector)
                # the historians' clock put right: the smallest arrival - stamp wins at once
                await historian(collector, 0.0, 0.0)
                righted = take_batches(collector)
        finally:
            collector.close()
        assert skewed is not None and righted is not None
        return skewed, righted

    skewed, righted = asyncio.run(scenario())
    assert SKEW_S <= skewed < SKEW_S + 1.0  # plus the delivery delay, never less
    assert abs(righted) < 1.0
    # the controller's view of the gateway's reports, on a fake clock
    start = datetime(2027, 1, 10, 6, tzinfo=UTC)
    statuses: dict[str, AlarmStatus] = {}
    rows = []
    for second, offset in [(s, skewed) for s in range(0, 90, 5)] + \
                          [(s, righted) for s in range(90, 120, 5)]:
        now = start + timedelta(seconds=second)
        held = feed.latest[CLOCK_OFFSET_POINT].model_copy(update={"t": now, "v": offset})
        observation = observe(alarm, {CLOCK_OFFSET_POINT: held}, now)
        statuses, new = evaluate([alarm.spec], statuses, {alarm.spec.id: observation}, {}, now)
        rows += new
    raised = [r for r in rows if r.annunciated]
    assert [(r.alarm, (r.t - start).total_seconds()) for r in raised] == [
        (alarm.spec.id, alarm.spec.on_delay_s)]
    assert f"{skewed:+.1f} s" in raised[0].text and raised[0].equipment == sid
    assert statuses[alarm.spec.id].state is State.RTN_UNACKNOWLEDGED
    json.dumps([r.to_event("controller").model_dump(mode="json") for r in rows])
