"""The device poller's supervision: faults, clock steps and an `inf` fed to an integer point."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.driver import DeviceState, Driver
from gateway.modbus import ModbusDriver
from gateway.opcua import OpcUaDriver
from gateway.quality import Reading
from gateway.runtime import Clock, DevicePoller, stagger
from geoscada.services import Mosquitto
from plant.contract import Quality, Reason
from plant.site import ModbusDevice, OpcUaDevice, Point, Site, load_site
from tests.gateway.conftest import SITE_FILE
from tests.gateway.fake_modbus import FakeModbus
from tests.gateway.harness import running_gateway, station
from tests.gateway.mqtt_helpers import Collector, until


class FaultyModbus(ModbusDriver):
    """A real Modbus driver whose reads raise, on demand, what no driver should (a bug)."""

    fault: Exception | None = None

    async def read(self, points: Sequence[Point], timeout_s: float | None = None
                   ) -> list[Reading]:
        if self.fault is not None:
            raise self.fault
        return await super().read(points, timeout_s)


def plc_device(port: int) -> ModbusDevice:
    return ModbusDevice(id="plc1", protocol="modbus", host="127.0.0.1", port=port, unit_id=1,
                        timeout_s=0.3)


def test_an_unexpected_exception_gives_bad_samples_truthful_health_and_a_restart(
        site: Site) -> None:
    async def scenario() -> None:
        plc = FakeModbus()
        await plc.start()
        plc.set_float(plc.inputs, 0, 61.5)
        points = site.points_on("plc1")
        driver = FaultyModbus(plc_device(plc.port), points)
        emitted: list[list[Reading]] = []
        refuse: list[Exception] = []

        def emit(readings: list[Reading]) -> None:
            if refuse:
                raise refuse.pop()  # the spool refusing to write: the poller must outlive it
            emitted.append(readings)

        poller = DevicePoller(site.device("plc1"), points, {"fast": 0.2, "slow": 0.2}, driver,
                              emit)
        poller.backoff.base_s = 0.1
        task = asyncio.create_task(poller.run())

        def good() -> bool:
            return bool(emitted) and all(r.q is Quality.GOOD for r in emitted[-1])

        await until(good, 5, "good readings")
        assert poller.health.connected
        driver.fault = RuntimeError("registers on fire")
        await until(lambda: emitted[-1][0].q is Quality.BAD, 5, "bad readings")
        bad = emitted[-1]
        assert {r.point for r in bad} == {p.id for p in points}
        assert all(r.v is None and r.r is Reason.COMM_LOST for r in bad)
        assert all("RuntimeError: registers on fire" in (r.d or "") for r in bad), bad
        assert not poller.health.connected
        assert poller.health.errors >= 1
        await asyncio.sleep(0.5)
        assert not task.done()
        assert not poller.health.connected
        driver.fault = None
        await until(good, 5, "good readings after the fault")
        assert poller.health.connected
        refuse.append(OSError("database or disk is full"))
        await asyncio.sleep(1.0)
        await until(good, 5, "good readings after a refused emit")
        assert not task.done()
        assert poller.faults >= 2
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await plc.stop()

    asyncio.run(scenario())


def test_a_backward_wall_clock_step_does_not_silence_the_device(site: Site) -> None:
    async def scenario() -> None:
        plc = FakeModbus()
        await plc.start()
        shift = [0.0]
        clock = Clock(wall=lambda: time.time() + shift[0])
        points = site.points_on("plc1")
        scans: list[float] = []

        def emit(readings: list[Reading]) -> None:
            scans.append(clock.wall())

        period = 0.2
        poller = DevicePoller(site.device("plc1"), points, {"fast": period, "slow": period},
                              ModbusDriver(plc_device(plc.port), points), emit, clock=clock)
        task = asyncio.create_task(poller.run())
        await until(lambda: len(scans) >= 2, 5, "first scans")
        shift[0] = -3600.123  # the wall clock steps back an hour (and off the grid)
        stepped = len(scans)
        await asyncio.sleep(1.5)
        after = scans[stepped + 1:]  # the first one may have been due before the step
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await plc.stop()
        assert len(after) >= 4, f"{len(after)} scans in 1.5 s at {period} s after the step"
        # still aligned on the (new) wall-clock grid with the device's own offset
        offset = stagger("plc1", period)
        phases = [(t - offset) % period for t in after]
        lateness = statistics.median(min(p, period - p) for p in phases)
        assert lateness < 0.25 * period, phases

    asyncio.run(scenario())


def integer_level_site(tmp_path: Path) -> Site:
    """The test station with its OPC UA water level declared an integer point."""
    text = SITE_FILE.read_text()
    old = "measurand: water_level, unit: m, range: [0, 200],"
    assert old in text
    path = tmp_path / "integer_level.yaml"
    path.write_text(text.replace(old, old + " dtype: int,"))
    return load_site(path)


@pytest.mark.integration
def test_inf_for_an_integer_point_is_bad_and_the_gateway_carries_on(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        collector = Collector(mosquitto.port, "geoscada/v1/gw-test/data")

        def last(point: str, **match: object) -> bool:
            found = [s for s in collector.samples() if s["p"] == point]
            return bool(found) and all(found[-1].get(k) == v for k, v in match.items())

        site = integer_level_site(tmp_path)
        async with station(site) as st, \
                running_gateway(st.site, mosquitto.port, tmp_path / "state") as gw:
            await until(lambda: last("RW1.water_level", v=42, q="good"), 10, "integer level")
            await st.opc.set("RW1.water_level", float("inf"))
            await until(lambda: last("RW1.water_level", q="bad"), 10, "bad level")
            level = [s for s in collector.samples() if s["p"] == "RW1.water_level"][-1]
            assert level["v"] is None and level["r"] == "decode_error", level
            assert "inf" in level["d"], level
            # the same device's other points, and the other devices, keep flowing
            await st.opc.set("RW1.injection_temp", 21.25)
            st.plc1.set_float(st.plc1.inputs, 2, 95.0)
            await until(lambda: last("RW1.injection_temp", v=21.25, q="good"), 10,
                        "OPC UA data after the inf")
            await until(lambda: last("PW1.flow", v=95.0, q="good"), 10, "Modbus data")
            await asyncio.sleep(1.5)  # a health report after the inf
            assert last("gateway.opc1.connected", v=True)
            assert gw.device_health()["opc1"].connected
            assert gw.pollers["opc1"].faults == 0
            await st.opc.set("RW1.water_level", 40.0)
            await until(lambda: last("RW1.water_level", v=40, q="good"), 10, "level back")
        collector.close()

    asyncio.run(scenario())


@contextlib.contextmanager
def device_process() -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """The fake devices in their own process (so that it can be frozen), stopped afterwards."""
    process = subprocess.Popen([sys.executable, "-m", "tests.gateway.device_process"],
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               cwd=Path(__file__).resolve().parents[2])
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, "device process did not start"
        yield process, json.loads(line)
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.kill()
        process.wait(10)


@pytest.mark.integration
def test_a_frozen_device_goes_bad_within_two_polls_and_every_poll_is_accounted_for(
        site: Site, tmp_path: Path) -> None:
    period = 1.0
    with device_process() as (process, where):
        async def scenario() -> dict[str, list[tuple[float, list[Reading]]]]:
            # the devices' own timeouts are longer than the poll period, as at many sites
            modbus = ModbusDevice(id="plc1", protocol="modbus", host="127.0.0.1",
                                  port=where["modbus"], unit_id=1, timeout_s=3.0)
            opcua = OpcUaDevice(id="opc1", protocol="opcua", endpoint=where["opcua"])
            assert opcua.timeout_s > 2 * period
            scans: dict[str, list[tuple[float, list[Reading]]]] = {"plc1": [], "opc1": []}
            links: list[tuple[ModbusDevice | OpcUaDevice, Driver]] = [
                (modbus, ModbusDriver(modbus, site.points_on("plc1"))),
                (opcua, OpcUaDriver(opcua, site.points_on("opc1"), tmp_path)),
            ]
            pollers = []
            for device, driver in links:
                def emit(readings: list[Reading], seen: list[tuple[float, list[Reading]]]
                         = scans[device.id]) -> None:
                    seen.append((time.monotonic(), readings))
                pollers.append(DevicePoller(device, site.points_on(device.id),
                                            {"fast": period, "slow": period}, driver, emit))
            tasks = [asyncio.create_task(p.run()) for p in pollers]

            def all_good(seen: list[tuple[float, list[Reading]]]) -> bool:
                return bool(seen) and all(r.q is Quality.GOOD for r in seen[-1][1])

            await until(lambda: all(all_good(s) for s in scans.values()), 15, "good data")
            frozen = time.monotonic()
            os.kill(process.pid, signal.SIGSTOP)
            await asyncio.sleep(5 * period)
            os.kill(process.pid, signal.SIGCONT)
            await until(lambda: all(all_good(s) for s in scans.values()), 30,
                        "good data after the freeze")
            for poller in pollers:
                poller.stopping = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return {d: [(t - frozen, r) for t, r in s] for d, s in scans.items()}

        scans = asyncio.run(scenario())
    for device, seen in scans.items():
        during = [(t, readings) for t, readings in seen if 0 < t <= 5 * period]
        first_bad = next(t for t, readings in during if readings[0].q is Quality.BAD)
        assert first_bad <= 2 * period, f"{device}: bad only {first_bad:.2f} s after the freeze"
        for t, readings in during:
            if t >= first_bad:
                assert all(r.q is Quality.BAD and r.r in (Reason.TIMEOUT, Reason.COMM_LOST,
                                                          Reason.NOT_CONNECTED)
                           for r in readings), (device, t, readings)
        # a reading for every poll: no gap between scans much longer than the period
        stamps = [t for t, _ in during]
        gaps = [b - a for a, b in itertools.pairwise([0.0, *stamps, 5 * period])]
        assert max(gaps) <= 2 * period, (device, stamps)


class SlowSession:
    """A device whose session takes longer to set up than a scan may wait for it, and which
    hands over the values it received during the set-up stamped with their arrival, as an OPC
    UA subscription does with its first notifications."""

    def __init__(self, setup_s: float, clock: Clock) -> None:
        self.errors = 0
        self.setup_s = setup_s
        self.clock = clock
        self.arrived: dict[str, float] = {}
        self._state = DeviceState.DISCONNECTED

    @property
    def state(self) -> DeviceState:
        return self._state

    async def connect(self) -> None:
        await asyncio.sleep(0.05)
        received = self.clock.wall()  # the first values arrive early in the set-up
        await asyncio.sleep(self.setup_s)
        self.arrived = {"RW1.flow": received, "RW1.volume": received}
        self._state = DeviceState.CONNECTED

    async def read(self, points: Sequence[Point], timeout_s: float | None = None
                   ) -> list[Reading]:
        return [Reading(p.id, self.arrived.pop(p.id, self.clock.wall()), 1.0) for p in points]

    async def write(self, point: Point, value: float | int | bool) -> None:
        raise AssertionError("nothing is written here")

    async def close(self) -> None:
        self._state = DeviceState.DISCONNECTED


def test_a_slow_session_set_up_leaves_no_point_bad_behind_its_good_value(site: Site) -> None:
    """Values that arrived while the poller still reported the points bad are reported after
    the bad sample, and a slow group is read at the first tick with the link up, not a slow
    period later."""
    fast, slow = 0.2, 5.0
    # the wall clock shifted so that the slow group's first tick falls while the session is
    # being set up (its grid is k * slow + the device's offset)
    offset = stagger("plc2", fast)
    shift = (offset - 0.1 - time.time()) % slow
    clock = Clock(wall=lambda: time.time() + shift)
    emitted: list[Reading] = []

    async def scenario() -> float:
        driver = SlowSession(setup_s=3 * fast, clock=clock)
        poller = DevicePoller(site.device("plc2"), site.points_on("plc2"),
                              {"fast": fast, "slow": slow}, driver, emitted.extend, clock=clock)
        task = asyncio.create_task(poller.run())
        await until(lambda: {r.point for r in emitted if r.q is Quality.GOOD}
                    == {"RW1.flow", "RW1.volume"}, slow, "both points good")
        took = time.monotonic() - begun
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return took

    begun = time.monotonic()
    took = asyncio.run(scenario())
    bad = [r for r in emitted if r.q is Quality.BAD]
    assert {r.point for r in bad} == {"RW1.flow", "RW1.volume"}  # the set-up outlasted a scan
    assert {(r.r, r.d) for r in bad} == {(Reason.NOT_CONNECTED, "connecting")}
    for point in ("RW1.flow", "RW1.volume"):
        times = [(r.t, r.q) for r in emitted if r.point == point]
        last_bad = max(t for t, q in times if q is Quality.BAD)
        assert all(t > last_bad for t, q in times if q is Quality.GOOD), times
        assert max(times)[1] is Quality.GOOD, f"{point}: the newest sample is bad: {times}"
    # both good within the set-up and two fast ticks (plus the loop's slack), not a slow period
    assert took < 0.1 + 0.05 + 3 * fast + 2 * fast + 0.5, took
