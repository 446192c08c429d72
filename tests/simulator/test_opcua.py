"""An independent OPC UA client browses a running station and reads values with units."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from plant.units import unece_code
from simulator.faults import FaultSpec
from simulator.runtime import SimulatorHost
from tests.simulator.helpers import DOUBLET, SCHOOL, run_with_host, site

pytestmark = pytest.mark.integration

PROBE = Path(__file__).with_name("opcua_probe.py")


async def probe(endpoint: str, station: str, *writes: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(PROBE), endpoint, station, *writes,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    report: dict[str, Any] = json.loads(out)
    return report


async def wait_listening(port: int, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert loop.time() < deadline, f"nothing listens on {port}"
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return


async def wait_refused(port: int, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        writer.close()
        assert loop.time() < deadline, f"{port} still listens"
        await asyncio.sleep(0.1)


def packed(code: str) -> int:
    value = 0
    for char in code:
        value = (value << 8) | ord(char)
    return value


def test_independent_client_browses_station_equipment_points_with_units() -> None:
    async def check(host: SimulatorHost) -> None:
        station = "hydrothermal-doublet"
        endpoint = host.endpoints()[station]["opc"]
        report = await probe(endpoint, station)
        assert report["station_node"] == f"ns=2;s={station}"
        sim = host.sim(station)
        served = [p for p in sim.site.points if p.binding.device == "opc"]
        assert served
        for point in served:
            variables = report["equipment"][point.equipment]
            name = str(point.measurand) if point.depth_m is None else \
                f"{point.measurand}@{int(point.depth_m)}"
            entry = variables[name]
            assert entry["node"] == f"ns=2;s={point.id}"
            assert entry["status"] == "Good"
            if point.dtype == "bool":
                assert isinstance(entry["value"], bool)
                continue
            assert entry["type_definition"] == "i=2368"  # AnalogItemType
            assert entry["unit_id"] == packed(unece_code(point.unit))
            assert entry["units_namespace"] == "http://www.opcfoundation.org/UA/units/un/cefact"
            assert entry["range"] == [point.range[0], point.range[1]]
            low, high = point.range
            assert low <= entry["value"] <= high, point.id
        # plausible midwinter readings
        outdoor = report["equipment"]["WX"]["outdoor_temp"]
        assert outdoor["unit_symbol"] == "°C" and -40 < outdoor["value"] < 5
        indoor = report["equipment"]["SS1"]["indoor_temp"]["value"]
        assert 14 < indoor < 24

    run_with_host([site(DOUBLET)], check)


def test_writes_obeyed_refused_out_of_range_or_not_writable_and_dead_sensor_is_bad() -> None:
    async def check(host: SimulatorHost) -> None:
        station = "hydrothermal-doublet"
        endpoint = host.endpoints()[station]["opc"]
        report = await probe(endpoint, station,
                             "ns=2;s=SS1.valve_position_setpoint", "60",
                             "ns=2;s=SS2.valve_position_setpoint", "160",
                             "ns=2;s=SS1.indoor_temp", "21")
        assert report["writes"] == {
            "ns=2;s=SS1.valve_position_setpoint": "Good",
            "ns=2;s=SS2.valve_position_setpoint": "BadOutOfRange",
            "ns=2;s=SS1.indoor_temp": "BadNotWritable",
        }
        assert host.value(station, "SS1.valve_position_setpoint") == pytest.approx(60.0)
        assert host.sim(station).model.zones["SS1"].valve_setpoint_pct == pytest.approx(60.0)
        host.inject(station, FaultSpec(kind="sensor_dead", target="SS2.indoor_temp"))
        await asyncio.sleep(1.5)
        report = await probe(endpoint, station)
        assert report["equipment"]["SS2"]["indoor_temp"]["status"] == "BadSensorFailure"
        assert report["equipment"]["SS1"]["indoor_temp"]["status"] == "Good"

    run_with_host([site(DOUBLET)], check)


def test_restart_and_silence_close_the_server_and_it_comes_back_on_the_same_port() -> None:
    async def check(host: SimulatorHost) -> None:
        station = "deep-borehole-school"
        endpoint = host.endpoints()[station]["opc"]
        await host.restart_opcua(station)
        assert host.endpoints()[station]["opc"] == endpoint
        report = await probe(endpoint, station)
        assert "WX" in report["equipment"]
        fault = host.inject(station, FaultSpec(kind="device_silent", target="opc"))
        port = int(endpoint.rsplit(":", 1)[1].split("/")[0])
        await wait_refused(port)
        host.clear(station, fault)
        # a server of the school's 151 nodes takes seconds to rebuild, more on a busy machine
        await wait_listening(port, timeout_s=30.0)
        report = await probe(endpoint, station)
        assert report["equipment"]["WX"]["outdoor_temp"]["status"] == "Good"

    run_with_host([site(SCHOOL)], check)
