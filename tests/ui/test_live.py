"""The live cache and a page's stream: snapshot first, then changes, resumed without a gap."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from plant.contract import Birth, DataBatch, Death, Event, PointInfo, Sample, Topic, topic
from ui.live import LiveCache, stream

T0 = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
STATIONS = ("north", "south")


def birth(station: str, bdseq: int, at: datetime) -> bytes:
    return Birth(station=station, session=bdseq, bdseq=bdseq, t=at, gateway="gw", name=station,
                 kind="doublet", timezone="UTC", site_hash="h", points=(
                     PointInfo(id="PW1.flow", equipment="PW1", equipment_kind="production_well",
                               measurand="flow", unit="m3/h", dtype="float",
                               range=(0.0, 200.0)),)).model_dump_json().encode()


def data(station: str, seq: int, value: float, at: datetime, q: str = "good") -> bytes:
    return DataBatch(station=station, session=1, seq=seq, samples=(
        Sample(p="PW1.flow", t=at, v=value, q=q),)).model_dump_json().encode()


def feed_value(cache: LiveCache, station: str, seq: int, value: float) -> None:
    cache.feed(topic(station, Topic.DATA), data(station, seq, value, T0 + timedelta(seconds=seq)))


def parse(chunk: bytes) -> tuple[str, str, Any]:
    fields = dict(line.split(": ", 1) for line in chunk.decode().splitlines()
                  if ": " in line and not line.startswith(":"))
    return fields["event"], fields["id"], json.loads(fields["data"])


async def take(cache: LiveCache, stations: tuple[str, ...], last_id: str | None,
               count: int) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    messages = stream(cache, stations, last_id, keepalive_s=0.05)
    async for chunk in messages:
        if chunk.startswith(b":"):
            continue
        out.append(parse(chunk))
        if len(out) == count:
            break
    await messages.aclose()
    return out


def run(scenario: Coroutine[Any, Any, None]) -> None:
    """Run a scenario on a loop of its own thread: a browser test's Playwright may be running
    an event loop in this one."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(scenario)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def test_liveness_follows_births_and_deaths_by_bdseq() -> None:
    cache = LiveCache(STATIONS)
    cache.feed(topic("north", Topic.BIRTH), birth("north", 4, T0))
    assert cache.stations["north"].state() == {"alive": True, "since": T0.isoformat()}
    # a rebirth of the same connection keeps "alive since" its first birth
    cache.feed(topic("north", Topic.BIRTH), birth("north", 4, T0 + timedelta(minutes=5)))
    assert cache.stations["north"].since == T0.isoformat()
    # a late will of an older connection ends nothing
    cache.feed(topic("north", Topic.DEATH),
               Death(station="north", session=3, bdseq=3).model_dump_json().encode())
    assert cache.stations["north"].alive is True
    died = T0 + timedelta(hours=1)
    cache.feed(topic("north", Topic.DEATH), Death(station="north", session=4, bdseq=4, t=died,
                                                  clean=True).model_dump_json().encode())
    assert cache.stations["north"].state() == {"alive": False, "since": died.isoformat()}
    assert cache.stations["south"].alive is None


def test_values_keep_the_newest_sample_and_malformed_messages_are_dropped() -> None:
    cache = LiveCache(STATIONS)
    feed_value(cache, "north", 2, 50.0)
    cache.feed(topic("north", Topic.DATA), data("north", 1, 10.0, T0))  # older: ignored
    cache.feed(topic("north", Topic.DATA), b'{"station": "north", "samples": "nonsense"}')
    cache.feed(topic("elsewhere", Topic.DATA), data("elsewhere", 1, 1.0, T0))
    assert cache.stations["north"].values["PW1.flow"]["v"] == 50.0
    assert cache.refused == 1


def test_a_new_page_gets_a_snapshot_then_changes() -> None:
    async def scenario() -> None:
        cache = LiveCache(STATIONS)
        feed_value(cache, "north", 1, 42.0)
        feed_value(cache, "south", 1, 7.0)
        first = await take(cache, ("north",), None, 1)
        kind, _, body = first[0]
        assert kind == "snapshot" and set(body["stations"]) == {"north"}
        assert body["stations"]["north"]["values"]["PW1.flow"]["v"] == 42.0

        async def later() -> None:
            await asyncio.sleep(0.1)
            feed_value(cache, "south", 2, 8.0)  # another station: not on this page
            feed_value(cache, "north", 2, 43.0)

        task = asyncio.create_task(later())
        got = await take(cache, ("north",), None, 2)
        await task
        assert got[1][0] == "changes"
        assert [c["values"]["PW1.flow"]["v"] for c in got[1][2]] == [43.0]

    run(scenario())


def test_a_reconnecting_page_gets_exactly_what_it_missed() -> None:
    async def scenario() -> None:
        cache = LiveCache(STATIONS)
        feed_value(cache, "north", 1, 1.0)
        (_, last_id, _), = await take(cache, ("north",), None, 1)
        for seq in range(2, 7):  # the page is away while five values arrive
            feed_value(cache, "north", seq, float(seq))
        (kind, resumed_id, missed), = await take(cache, ("north",), last_id, 1)
        assert kind == "changes"
        assert [c["values"]["PW1.flow"]["v"] for c in missed] == [2.0, 3.0, 4.0, 5.0, 6.0]
        assert resumed_id == f"{cache.epoch}:{cache.seq}"
        # up to date: nothing missed, nothing repeated
        (kind, _, again), = await take(cache, ("north",), resumed_id, 1)
        assert kind == "changes" and again == []

    run(scenario())


def test_a_page_too_far_behind_or_from_another_ui_gets_a_snapshot() -> None:
    async def scenario() -> None:
        cache = LiveCache(STATIONS, history=100)
        feed_value(cache, "north", 1, 1.0)
        (_, last_id, _), = await take(cache, ("north",), None, 1)
        for seq in range(2, 203):
            feed_value(cache, "north", seq, float(seq))
        (kind, _, body), = await take(cache, ("north",), last_id, 1)
        assert kind == "snapshot" and body["stations"]["north"]["values"]["PW1.flow"]["v"] == 202
        restarted = LiveCache(STATIONS)
        feed_value(restarted, "north", 1, 5.0)
        (kind, _, _), = await take(restarted, ("north",), last_id, 1)
        assert kind == "snapshot"
        for bad in ("", "garbage", f"{cache.epoch}:-1", f"{cache.epoch}:999999"):
            (kind, _, _), = await take(cache, ("north",), bad, 1)
            assert kind == "snapshot"

    run(scenario())


def test_alarm_events_keep_the_latest_transition_per_alarm() -> None:
    cache = LiveCache(STATIONS)

    def event(seq: int, state: str) -> bytes:
        return Event(station="north", id=f"PW1.hot#{seq}", t=T0 + timedelta(seconds=seq),
                     kind="alarm", source="controller",
                     data={"alarm": "PW1.hot", "seq": seq, "state": state, "priority": "high",
                           "equipment": "PW1"}).model_dump_json().encode()

    cache.feed(topic("north", Topic.EVENT), event(1, "unacknowledged"))
    cache.feed(topic("north", Topic.EVENT), event(3, "acknowledged"))
    cache.feed(topic("north", Topic.EVENT), event(2, "unacknowledged"))  # late: ignored
    assert [a["state"] for a in cache.active_alarms("north")] == ["acknowledged"]
    cache.feed(topic("north", Topic.EVENT), event(4, "normal"))
    assert cache.active_alarms("north") == []


def test_alarms_from_the_journal_seed_the_cache_and_live_events_win() -> None:
    cache = LiveCache(STATIONS)
    cache.seed_alarm("north", {"alarm": "RW1.clog", "state": "acknowledged", "priority": "low",
                               "t": T0.isoformat()})
    assert [a["alarm"] for a in cache.active_alarms("north")] == ["RW1.clog"]
    live = Event(station="north", id="RW1.clog#9", t=T0 + timedelta(minutes=1), kind="alarm",
                 source="controller", data={"alarm": "RW1.clog", "seq": 9, "state": "normal",
                                            "priority": "low"})
    cache.feed(topic("north", Topic.EVENT), live.model_dump_json().encode())
    cache.seed_alarm("north", {"alarm": "RW1.clog", "state": "acknowledged", "priority": "low",
                               "t": T0.isoformat()})
    assert cache.active_alarms("north") == []
