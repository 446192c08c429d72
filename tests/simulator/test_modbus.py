"""Debian's mbpoll, an independent Modbus client, reads and writes a running simulated station."""

from __future__ import annotations

import pytest

from plant.site import ModbusBinding, ModbusDevice
from simulator.faults import FaultSpec
from simulator.runtime import SimulatorHost
from tests.simulator.helpers import (
    DOUBLET,
    mbpoll,
    mbpoll_read_args,
    mbpoll_values,
    run_with_host,
    site,
)

pytestmark = pytest.mark.integration

# points of every register type and word order the doublet's register map documents
READ_POINTS = [
    "PW1.wellhead_temp",  # float32, big word order, input register
    "PW1.flow",
    "PW1.water_level",
    "PW1.speed",  # uint16 × 0.1
    "PW1.volume",  # uint32
    "HM-USR.supply_temp",  # float32, little word order (meter concentrator)
    "HM-USR.heat_power",
    "NET.supply_temp",
    "PW1.run_state",  # discrete input
    "PW1.run_command",  # coil
]


def _device(host: SimulatorHost, station: str, point_id: str) -> tuple[ModbusBinding, int, int]:
    sim = host.sim(station)
    binding = sim.site.point(point_id).binding
    assert isinstance(binding, ModbusBinding)
    device = sim.site.device(binding.device)
    assert isinstance(device, ModbusDevice)
    port = int(host.endpoints()[station][device.id].rsplit(":", 1)[1])
    return binding, port, device.unit_id


def test_mbpoll_reads_documented_registers_with_plausible_values() -> None:
    async def check(host: SimulatorHost) -> None:
        station = "hydrothermal-doublet"
        for point_id in READ_POINTS:
            binding, port, unit = _device(host, station, point_id)
            code, out = await mbpoll(*mbpoll_read_args(binding, port, unit))
            assert code == 0, out
            values = mbpoll_values(out)
            assert binding.address in values, out
            value = values[binding.address] * binding.scale + binding.offset
            point = host.sim(station).site.point(point_id)
            low, high = point.range
            assert low <= value <= high, f"{point_id} = {value} outside {point.range}"
            expected = host.value(station, point_id)
            assert expected is not None
            tolerance = max(0.02 * (abs(float(expected)) + 1.0), binding.scale)
            assert value == pytest.approx(float(expected), abs=tolerance), point_id
        # midwinter in Daqing: the wells run near their rated flow and the network is warm
        flow = host.value(station, "PW1.flow")
        supply = host.value(station, "NET.supply_temp")
        assert isinstance(flow, float) and 90 < flow < 130
        assert isinstance(supply, float) and 35 < supply < 50

    run_with_host([site(DOUBLET)], check)


def test_mbpoll_writes_are_obeyed_or_refused_with_exception_codes() -> None:
    async def check(host: SimulatorHost) -> None:
        station = "hydrothermal-doublet"
        binding, port, unit = _device(host, station, "PW1.speed_setpoint")
        target = ["-a", str(unit), "-p", str(port), "127.0.0.1"]
        code, out = await mbpoll("-r", str(binding.address), "-t", "4", *target, "400")
        assert code == 0, out
        assert host.value(station, "PW1.speed_setpoint") == pytest.approx(40.0)
        await _wait_for(host, lambda: host.sim(station).model.wells["PW1"].pump.speed_hz < 45)
        # 60 Hz is inside the point's range but outside its write limits (30..50 Hz)
        code, out = await mbpoll("-r", str(binding.address), "-t", "4", *target, "600")
        assert "Illegal data value" in out, out
        assert host.value(station, "PW1.speed_setpoint") == pytest.approx(40.0)
        # a holding register that holds no point
        code, out = await mbpoll("-r", "900", "-t", "4", *target, "1")
        assert "Illegal data address" in out, out
        code, out = await mbpoll("-r", "900", "-c", "2", "-t", "3", *target)
        assert "Illegal data address" in out, out
        # a coil: start the standby user pump by remote command
        coil, coil_port, coil_unit = _device(host, station, "P-U3.run_command")
        code, out = await mbpoll("-a", str(coil_unit), "-r", str(coil.address), "-t", "0",
                                 "-p", str(coil_port), "127.0.0.1", "1")
        assert code == 0, out
        assert host.value(station, "P-U3.run_command") is True

    run_with_host([site(DOUBLET)], check)


def test_silent_device_and_unknown_unit_get_no_answer() -> None:
    async def check(host: SimulatorHost) -> None:
        station = "hydrothermal-doublet"
        binding, port, unit = _device(host, station, "PW1.flow")
        station_binding, _, station_unit = _device(host, station, "NET.supply_temp")
        args = mbpoll_read_args(binding, port, unit)
        code, out = await mbpoll(*args, "-o", "0.5")
        assert code == 0 and binding.address in mbpoll_values(out), out
        fault_id = host.inject(station, FaultSpec(kind="device_silent", target="plc-well"))
        code, out = await mbpoll(*args, "-o", "0.5")
        assert "timed out" in out.lower() or "timeout" in out.lower(), out
        # the other unit ids on the same port still answer
        code, out = await mbpoll(*mbpoll_read_args(station_binding, port, station_unit))
        assert station_binding.address in mbpoll_values(out), out
        host.clear(station, fault_id)
        code, out = await mbpoll(*args, "-o", "0.5")
        assert binding.address in mbpoll_values(out), out
        code, out = await mbpoll(*mbpoll_read_args(binding, port, 99), "-o", "0.5")
        assert "timed out" in out.lower() or "timeout" in out.lower(), out

    run_with_host([site(DOUBLET)], check)


async def _wait_for(host: SimulatorHost, condition: object, timeout_s: float = 15.0) -> None:
    import asyncio
    import time

    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.1)
