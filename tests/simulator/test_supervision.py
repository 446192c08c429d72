"""Remote/local mode per unit and the supervisory heartbeat watchdog of the station's PLC.

The simulated clock is the fake clock: the station only moves when a test advances it. Every
check reads the station's points, as a gateway would, never the model's flags.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from plant.measurands import Measurand
from plant.site import ModbusBinding, ModbusDevice, Site, Supervision
from simulator.local_control import Heartbeat, disarmed, heartbeat_written, supervisor_silent
from simulator.runtime import SimulatorHost
from simulator.sim import StationSim
from tests.simulator.helpers import DOUBLET, SCHOOL, mbpoll, run_with_host, site

T0 = datetime(2026, 1, 15, 8, tzinfo=UTC)
TIMEOUT_S = 120.0


def with_timeout(base: Site, timeout_s: float) -> Site:
    """The site with its heartbeat watchdog set to ``timeout_s``."""
    station = base.station.model_copy(
        update={"supervision": Supervision(heartbeat_timeout_s=timeout_s)})
    return base.model_copy(update={"station": station})


@pytest.mark.parametrize(("written", "value", "at_s", "armed_at_s"), [
    (None, 1, 0.0, 0.0),       # the first value arms the watchdog
    (1, 2, 30.0, 30.0),        # a new value proves the supervisor alive
    (1, 1, 30.0, 0.0),         # a repeated value proves nothing
])
def test_a_new_heartbeat_value_arms_the_watchdog(written: int | None, value: int, at_s: float,
                                                 armed_at_s: float) -> None:
    before = Heartbeat(written, T0 if written is not None else None)
    after = heartbeat_written(before, value, T0 + timedelta(seconds=at_s))
    assert after.value == value
    assert after.changed_at == T0 + timedelta(seconds=armed_at_s)


@pytest.mark.parametrize(("changed_s", "now_s", "silent"), [
    (None, 10_000.0, False),   # never armed: a remote command holds as before
    (0.0, TIMEOUT_S, False),   # exactly the timeout: not yet
    (0.0, TIMEOUT_S + 1.0, True),
    (100.0, 100.0 + TIMEOUT_S + 1.0, True),
])
def test_the_watchdog_fires_only_after_the_timeout(changed_s: float | None, now_s: float,
                                                   silent: bool) -> None:
    changed = None if changed_s is None else T0 + timedelta(seconds=changed_s)
    state = Heartbeat(7, changed)
    assert supervisor_silent(state, T0 + timedelta(seconds=now_s), TIMEOUT_S) is silent
    assert not supervisor_silent(disarmed(state), T0 + timedelta(seconds=now_s), TIMEOUT_S)


def _school(timeout_s: float = TIMEOUT_S) -> StationSim:
    return StationSim(with_timeout(site(SCHOOL), timeout_s), seed=3, start=T0,
                      warm_up_s=1800.0)


def test_a_unit_taken_remote_is_handed_back_by_its_mode_point_without_a_bump() -> None:
    sim = _school()
    assert sim.value("HP1.remote_mode") is False
    sim.run(600.0, 10.0)
    assert sim.value("HP1.run_state") is True
    starts = sim.model.heat_pumps["HP1"].starts
    sim.write("HP1.run_command", True)
    assert sim.value("HP1.remote_mode") is True
    sim.run(300.0, 10.0)
    sim.write("HP1.remote_mode", False)
    assert sim.value("HP1.remote_mode") is False
    for _ in range(30):  # the local logic goes on from the running unit
        sim.advance(10.0)
        assert sim.value("HP1.run_state") is True
        assert sim.value("HP1.fault") is False
    assert sim.model.heat_pumps["HP1"].starts == starts
    # taking it again changes nothing it does
    sim.write("HP1.remote_mode", True)
    sim.advance(10.0)
    assert sim.value("HP1.remote_mode") is True and sim.value("HP1.run_state") is True


def test_a_silent_supervisor_loses_the_station_to_local_logic_without_a_trip() -> None:
    sim = _school()
    sim.run(600.0, 10.0)
    sim.write("NET.heartbeat", 1)
    sim.write("HP1.run_command", True)
    sim.write("P-U2.run_command", True)   # the standby pump: the supervisor swapped pumps
    sim.write("P-U1.run_command", False)
    setpoint = sim.value("NET.supply_temp_setpoint")
    assert isinstance(setpoint, float)
    remote_setpoint = min(round(setpoint) + 2.0, 60.0)
    sim.write("NET.supply_temp_setpoint", remote_setpoint)
    # alive: a new value every 30 s holds the station for far longer than the timeout
    for beat in range(2, 12):
        sim.run(30.0, 10.0)
        sim.write("NET.heartbeat", beat)
    assert sim.value("HP1.remote_mode") is True and sim.value("NET.remote_mode") is True
    # a repeated value is no sign of life
    silent_from = sim.now
    starts = sim.model.heat_pumps["HP1"].starts
    taken_at = None
    while taken_at is None:
        sim.advance(10.0)
        sim.write("NET.heartbeat", 11)
        if sim.value("HP1.remote_mode") is False:
            taken_at = sim.now
        assert (sim.now - silent_from).total_seconds() <= TIMEOUT_S + 10.0
    assert (taken_at - silent_from).total_seconds() > TIMEOUT_S
    assert sim.value("NET.remote_mode") is False
    assert not sim.model.remote("P-U2")  # the site gives its pumps no mode point
    # bumpless: the same unit and pump run on, nothing tripped, the target walks from the
    # remote setpoint at most 2 K per ten minutes
    ramp_k = 2.0 / 600.0 * 10.0
    previous = sim.model.supply_target_c
    assert abs(previous - remote_setpoint) <= ramp_k + 1e-9
    for _ in range(60):
        sim.advance(10.0)
        assert sim.value("HP1.run_state") is True and sim.value("HP1.fault") is False
        assert sim.value("P-U2.run_state") is True and sim.value("P-U1.run_state") is False
        target = sim.model.supply_target_c
        assert abs(target - previous) <= ramp_k + 1e-9
        previous = target
    assert sim.model.heat_pumps["HP1"].starts == starts
    assert sim.model.watchdog_takeovers == 1
    # the supervisor returns: a new value re-arms the watchdog, its commands hold again
    sim.write("NET.heartbeat", 12)
    sim.write("HP1.remote_mode", True)
    sim.run(60.0, 10.0)
    assert sim.value("HP1.remote_mode") is True and sim.value("HP1.run_state") is True


def test_without_a_heartbeat_a_remote_command_holds_as_before() -> None:
    sim = _school(timeout_s=30.0)
    sim.write("HP1.run_command", True)
    sim.run(3600.0, 60.0)
    assert sim.value("HP1.remote_mode") is True
    assert sim.model.watchdog_takeovers == 0


def test_a_pump_and_the_supply_setpoint_are_handed_back_by_their_mode_points() -> None:
    sim = StationSim(site(DOUBLET), seed=1, start=T0, warm_up_s=600.0)
    sim.write("NET.supply_temp_setpoint", 40.0)
    assert sim.value("NET.remote_mode") is True
    sim.write("NET.remote_mode", False)
    assert sim.value("NET.remote_mode") is False
    sim.write("PW1.speed_setpoint", 40.0)
    assert sim.model.remote("PW1") is True
    # the site has no mode point for its well pumps; the PLC takes the same command
    sim.model.command("PW1", Measurand.REMOTE_MODE, False)
    assert sim.model.remote("PW1") is False


def test_the_watchdog_acts_on_heartbeats_written_over_modbus() -> None:
    timeout_s = 4.0
    school = with_timeout(site(SCHOOL), timeout_s)

    async def check(host: SimulatorHost) -> None:
        station = "deep-borehole-school"
        sim = host.sim(station)
        points = {p.id: p for p in sim.site.points}
        port = next(iter(host.modbus_ports.values())).bound_port

        async def write(point_id: str, value: int) -> None:
            binding = points[point_id].binding
            device = sim.site.device(binding.device)
            assert isinstance(binding, ModbusBinding) and isinstance(device, ModbusDevice)
            table = "0" if binding.table == "coil" else "4"
            code, out = await mbpoll("-a", str(device.unit_id), "-r", str(binding.address),
                                     "-t", table, "-p", str(port), "127.0.0.1", str(value))
            assert code == 0, out

        await write("NET.heartbeat", 1)
        await write("HP1.run_command", 1)
        for beat in range(2, 5):
            await asyncio.sleep(1.0)
            await write("NET.heartbeat", beat)
        assert host.value(station, "HP1.remote_mode") is True
        silent = asyncio.get_running_loop().time()
        while host.value(station, "HP1.remote_mode") is True:
            assert asyncio.get_running_loop().time() - silent < timeout_s + 3.0
            await asyncio.sleep(0.2)
        assert asyncio.get_running_loop().time() - silent > timeout_s - 1.0
        assert host.value(station, "HP1.run_state") is True
        assert host.value(station, "HP1.fault") is False

    run_with_host([school], check, warm_up_s=1800.0)
