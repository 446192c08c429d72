"""Modbus: block planning, decoding, and the driver against a real TCP slave."""

from __future__ import annotations

import asyncio
import struct

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.driver import DeviceError, DeviceState
from gateway.modbus import ModbusDriver
from gateway.modbus_codec import decode, encode, plan_blocks
from plant.contract import Quality, Reason
from plant.site import ModbusDevice, Point, Site
from tests.gateway.fake_modbus import FakeModbus


def point(address: int, kind: str = "float32", table: str = "input_register", **extra: object) -> Point:
    binding: dict[str, object] = {"protocol": "modbus", "device": "d", "table": table, "address": address, "type": kind}
    binding.update(extra)
    return Point.model_validate({
        "id": f"X.p{table[0]}{address}", "equipment": "X", "measurand": "flow", "unit": "m3/h",
        "range": [0, 100], "binding": binding,
    })


def test_contiguous_registers_merge_into_one_block() -> None:
    blocks = plan_blocks([point(4), point(0), point(2)], max_registers=100, max_bits=800)
    assert [(b.table, b.start, b.count) for b in blocks] == [("input_register", 0, 6)]
    assert [p.id for p in blocks[0].points] == ["X.pi0", "X.pi2", "X.pi4"]


def test_blocks_split_at_the_device_maximum_and_at_wide_gaps() -> None:
    points = [point(a) for a in (0, 2, 4, 6)] + [point(50), point(52, table="holding_register")]
    blocks = plan_blocks(points, max_registers=5, max_bits=800, max_gap=4)
    assert [(b.table, b.start, b.count) for b in blocks] == [
        ("holding_register", 52, 2), ("input_register", 0, 4), ("input_register", 4, 4),
        ("input_register", 50, 2)]


def test_small_gaps_are_read_through_unless_refused() -> None:
    points = [point(0), point(5)]
    assert [(b.start, b.count, b.has_gaps) for b in plan_blocks(points, 100, 800, max_gap=3)] == [
        (0, 7, True)]
    assert len(plan_blocks(points, 100, 800, max_gap=0)) == 2


@pytest.mark.parametrize(
    ("kind", "order", "words", "scale", "offset", "expected"),
    [
        ("float32", "big", list(struct.unpack(">HH", struct.pack(">f", 55.25))), 1, 0, 55.25),
        ("float32", "little", list(struct.unpack(">HH", struct.pack(">f", 55.25)))[::-1], 1, 0,
         55.25),
        ("int16", "big", [0xFFFE], 0.5, 10, 9.0),
        ("uint16", "big", [0xFFFE], 1, 0, 65534.0),
        ("int32", "big", [0xFFFF, 0xFFFF], 1, 0, -1.0),
        ("uint32", "little", [0x0002, 0x0001], 1, 0, 65538.0),
    ],
)
def test_decode_word_order_type_and_scale(kind: str, order: str, words: list[int], scale: float,
                                          offset: float, expected: float) -> None:
    p = point(0, kind, word_order=order, scale=scale, offset=offset)
    assert decode(p, words) == pytest.approx(expected)
    if kind != "uint16" and offset == 0:
        assert encode(p, expected) == words


def test_encode_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode(point(0, "uint16", table="holding_register"), -5)


def device(port: int, timeout: float = 0.3) -> ModbusDevice:
    return ModbusDevice(id="plc1", protocol="modbus", host="127.0.0.1", port=port, unit_id=1,
                        timeout_s=timeout)


def test_driver_reads_writes_and_reports_exceptions(site: Site) -> None:
    async def scenario() -> None:
        plc = FakeModbus()
        await plc.start()
        plc.set_float(plc.inputs, 0, 61.5)
        plc.set_float(plc.inputs, 2, 88.0)
        plc.inputs[6] = 0xFC18  # -1000 * 0.001 MPa: out of range, but the driver reports it
        plc.discrete[0] = 1
        points = site.points_on("plc1")
        driver = ModbusDriver(device(plc.port), points)
        await driver.connect()
        readings = {r.point: r for r in await driver.read(points)}
        assert readings["PW1.wellhead_temp"].v == pytest.approx(61.5)
        assert readings["PW1.flow"].v == pytest.approx(88.0)
        assert readings["PW1.wellhead_pressure"].v == pytest.approx(-1.0)
        assert readings["PW1.run_state"].v is True
        assert all(r.q is Quality.GOOD for r in readings.values())
        # coils, discrete inputs, input registers, and holding 0 and 10 (gap too wide): 5, not 7
        assert plc.requests == 5
        await driver.write(site.point("PW1.speed_setpoint"), 42.5)
        assert plc.holding[0] == 425
        await driver.write(site.point("PW1.run_command"), True)
        assert plc.coils[0] == 1
        await driver.write(site.point("PW1.speed"), 33.0)
        back = {r.point: r.v for r in await driver.read(points)}
        assert back["PW1.speed_setpoint"] == pytest.approx(42.5)
        assert back["PW1.speed"] == pytest.approx(33.0)
        assert back["PW1.run_command"] is True
        plc.refuse_from = 3
        readings = {r.point: r for r in await driver.read(points)}
        assert readings["PW1.flow"].q is Quality.BAD
        assert readings["PW1.flow"].r is Reason.EXCEPTION_CODE
        assert readings["PW1.flow"].d == "modbus exception 2"
        assert readings["PW1.run_state"].q is Quality.GOOD
        await driver.close()
        await plc.stop()

    asyncio.run(scenario())


def test_silent_device_times_out_then_is_closed_as_dead(site: Site) -> None:
    async def scenario() -> None:
        plc = FakeModbus()
        await plc.start()
        points = site.points_on("plc1")
        driver = ModbusDriver(device(plc.port, timeout=0.2), points)
        await driver.connect()
        plc.silent = True
        for attempt in range(2):
            with pytest.raises(DeviceError) as caught:
                await driver.read(points)
            assert caught.value.reason is Reason.TIMEOUT, attempt
        readings = caught.value.readings  # type: ignore[attr-defined]
        assert {r.point for r in readings} == {p.id for p in points}
        assert all(r.q is Quality.BAD and r.v is None for r in readings)
        assert driver.state is DeviceState.DISCONNECTED
        assert driver.errors == 2
        plc.silent = False
        await driver.connect()
        assert len(await driver.read(points)) == len(points)
        await driver.close()
        await plc.stop()

    asyncio.run(scenario())


def test_unreachable_device_fails_to_connect_with_a_reason(site: Site) -> None:
    async def scenario() -> None:
        plc = FakeModbus()
        await plc.start()
        port = plc.port
        await plc.stop()
        driver = ModbusDriver(device(port), site.points_on("plc1"))
        with pytest.raises(DeviceError) as caught:
            await driver.connect()
        assert caught.value.reason is Reason.COMM_LOST
        assert str(port) in caught.value.detail

    asyncio.run(scenario())


def test_a_device_that_refuses_gaps_gets_split_blocks_in_the_same_scan(site: Site) -> None:
    async def scenario() -> None:
        plc = FakeModbus(refuse_gaps=True)
        await plc.start()
        plc.set_float(plc.inputs, 0, 61.5)
        plc.set_float(plc.inputs, 2, 88.0)
        plc.inputs[6] = 450
        points = site.points_on("plc1")
        driver = ModbusDriver(device(plc.port), points)
        await driver.connect()
        for _ in range(2):
            readings = {r.point: r for r in await driver.read(points)}
            assert all(r.q is Quality.GOOD for r in readings.values()), readings
            assert readings["PW1.wellhead_pressure"].v == pytest.approx(0.45)
        assert driver.errors == 0
        await driver.close()
        await plc.stop()

    asyncio.run(scenario())


@given(st.lists(st.tuples(st.sampled_from(["input_register", "holding_register", "coil"]),
                          st.integers(0, 400), st.sampled_from(["float32", "uint16"])),
                min_size=1, max_size=40),
       st.integers(2, 125), st.integers(0, 6))
def test_block_plans_cover_every_point_once_within_limits(
        specs: list[tuple[str, int, str]], max_registers: int, max_gap: int) -> None:
    points: list[Point] = []
    used: set[tuple[str, int]] = set()
    for table, address, kind in specs:
        width = 1 if table == "coil" or kind == "uint16" else 2
        cells = {(table, a) for a in range(address, address + width)}
        if cells & used:
            continue
        used |= cells
        points.append(point(address, "bool" if table == "coil" else kind, table))
    assume(points)
    blocks = plan_blocks(points, max_registers, 800, max_gap)
    covered = [p.id for b in blocks for p in b.points]
    assert sorted(covered) == sorted(p.id for p in points)
    for block in blocks:
        assert block.count <= (800 if block.table == "coil" else max_registers)
        for p in block.points:
            b = p.binding
            assert b.table == block.table  # type: ignore[union-attr]
            assert block.start <= b.address and b.address + b.width <= block.start + block.count  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("garble", "detail"),
    [
        ({"answer_function": 3}, "function code 3, request was 4"),
        ({"answer_unit": 7}, "unit 7"),
        ({"answer_transaction": 0}, "transaction 0"),
        ({"answer_transaction": 4242}, "transaction 4242"),
    ],
)
def test_an_answer_to_another_request_is_bad_never_good(
        site: Site, garble: dict[str, int], detail: str) -> None:
    async def scenario() -> None:
        plc = FakeModbus()
        await plc.start()
        plc.set_float(plc.inputs, 0, 61.5)
        plc.set_float(plc.holding, 0, 61.5)  # what an FC 3 answer carries: plausible, wrong
        plc.set_float(plc.inputs, 2, 88.0)
        plc.set_float(plc.holding, 2, 88.0)
        points = [p for p in site.points_on("plc1")
                  if p.binding.table == "input_register"]  # type: ignore[union-attr]
        driver = ModbusDriver(device(plc.port, timeout=0.2), points)
        await driver.connect()
        assert all(r.q is Quality.GOOD for r in await driver.read(points))
        for name, value in garble.items():
            setattr(plc, name, value)
        try:
            readings = await driver.read(points)
        except DeviceError as exc:
            readings = exc.readings  # type: ignore[attr-defined]
        assert {r.point for r in readings} == {p.id for p in points}
        for reading in readings:
            assert reading.q is Quality.BAD, reading
            assert reading.v is None
            assert reading.r is Reason.DECODE_ERROR, reading
            assert detail in (reading.d or ""), reading
        assert driver.errors >= 1
        for name in garble:
            setattr(plc, name, None)
        if driver.state is not DeviceState.CONNECTED:
            await driver.connect()
        readings = await driver.read(points)
        assert all(r.q is Quality.GOOD for r in readings), readings
        await driver.close()
        await plc.stop()

    asyncio.run(scenario())
