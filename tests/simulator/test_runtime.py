"""SimulatorHost's port rule, endpoints and refusals, without depending on fixed ports."""

from __future__ import annotations

import asyncio
import socket

import pytest

from plant.site import ModbusDevice, OpcUaDevice
from simulator.faults import FaultSpec
from simulator.runtime import SimulatorHost
from simulator.sim import FaultTargetError
from tests.simulator.helpers import DOUBLET, FIELD, MIDWINTER, SCHOOL, site


def planned_ports(host: SimulatorHost, station: str) -> dict[str, int]:
    ports = {device: server.port for device, server in host.modbus_devices[station].items()}
    ports.update({device: server.port for device, server in host.opcua_devices[station].items()})
    return ports


def test_default_ports_come_from_the_site_files() -> None:
    sites = [site(DOUBLET), site(SCHOOL)]
    host = SimulatorHost(sites, start=MIDWINTER, warm_up_s=0.0)
    for each in sites:
        ports = planned_ports(host, each.station.id)
        for device in each.devices:
            if isinstance(device, ModbusDevice):
                assert ports[device.id] == device.port
            elif isinstance(device, OpcUaDevice):
                assert device.endpoint.endswith(f":{ports[device.id]}/geoscada/{each.station.id}")


def test_base_ports_serve_station_i_on_base_plus_i() -> None:
    sites = [site(DOUBLET), site(SCHOOL), site(FIELD)]
    host = SimulatorHost(sites, modbus_port=25020, opcua_port=24840, start=MIDWINTER,
                         warm_up_s=0.0)
    for index, each in enumerate(sites):
        ports = planned_ports(host, each.station.id)
        for device in each.devices:
            expected = (25020 if isinstance(device, ModbusDevice) else 24840) + index
            assert ports[device.id] == expected, device.id


def test_stations_and_faults_are_checked() -> None:
    with pytest.raises(ValueError, match="repeated: hydrothermal-doublet"):
        SimulatorHost([site(DOUBLET), site(DOUBLET)], warm_up_s=0.0)
    with pytest.raises(FaultTargetError, match="NOPE"):
        SimulatorHost([site(SCHOOL)], warm_up_s=0.0,
                      faults=[FaultSpec(kind="sensor_dead", target="NOPE")])
    with pytest.raises(ValueError, match="speed"):
        SimulatorHost([site(SCHOOL)], warm_up_s=0.0, speed=0.0)


def test_free_ports_are_reported_once_bound_and_the_clock_runs_at_speed() -> None:
    async def main() -> None:
        host = SimulatorHost([site(SCHOOL), site(FIELD)], modbus_port=0, opcua_port=0,
                             speed=20.0, start=MIDWINTER, warm_up_s=600.0)
        await host.start()
        try:
            endpoints = host.endpoints()
            for station, devices in endpoints.items():
                for device, address in devices.items():
                    port = int(address.rsplit(":", 1)[1].split("/")[0])
                    assert port > 0, (station, device)
                    with socket.create_connection(("127.0.0.1", port), timeout=2):
                        pass
            before = host.sim("deep-borehole-school").elapsed_s
            await asyncio.sleep(1.0)
            advanced = host.sim("deep-borehole-school").elapsed_s - before
            assert 10.0 <= advanced <= 60.0  # about 20 simulated seconds per wall second
        finally:
            await host.stop()

    asyncio.run(main())
