"""Sensor faults, the fault schedule file and the Modbus encoding of what a sensor shows."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from plant.site import ModbusBinding
from simulator.faults import FaultFileError, FaultSpec, load_fault_schedule, parse_fault_schedule
from simulator.registers import decode, encode
from simulator.sim import FaultTargetError, StationSim, WriteRefusedError
from tests.simulator.helpers import DOUBLET, MIDWINTER, site


@pytest.fixture
def sim() -> StationSim:
    return StationSim(site(DOUBLET), seed=9, start=MIDWINTER, warm_up_s=3600.0)


def test_stuck_sensor_freezes_while_the_plant_moves_on(sim: StationSim) -> None:
    sim.inject(FaultSpec(kind="sensor_stuck", target="WX.outdoor_temp"))
    frozen = sim.value("WX.outdoor_temp")
    sim.run(6 * 3600.0, 60.0)
    assert sim.value("WX.outdoor_temp") == frozen
    assert sim.model.weather.temp_c != pytest.approx(frozen, abs=0.2)
    sim.inject(FaultSpec(kind="sensor_stuck", target="PW1.flow", value=12.5))
    assert sim.value("PW1.flow") == 12.5


def test_drifting_sensor_drifts_at_its_rate(sim: StationSim) -> None:
    fault = sim.inject(FaultSpec(kind="sensor_drift", target="NET.supply_temp", rate=2.0))
    sim.run(3 * 3600.0, 60.0)
    shown = sim.value("NET.supply_temp")
    assert isinstance(shown, float)
    assert shown - sim.model.station_supply_c == pytest.approx(6.0, abs=0.3)
    sim.clear(fault)
    shown = sim.value("NET.supply_temp")
    assert isinstance(shown, float)
    assert shown == pytest.approx(sim.model.station_supply_c, abs=0.3)


def test_dead_and_garbage_sensors(sim: StationSim) -> None:
    sim.inject(FaultSpec(kind="sensor_dead", target="PW1.wellhead_temp"))
    sim.inject(FaultSpec(kind="sensor_garbage", target="PW2.wellhead_temp"))
    sim.inject(FaultSpec(kind="sensor_dead", target="PW1.speed"))
    assert sim.value("PW1.wellhead_temp") is None
    low, high = sim.site.point("PW2.wellhead_temp").range
    for _ in range(20):
        sim.advance(1.0)
        garbage = sim.value("PW2.wellhead_temp")
        assert isinstance(garbage, float) and not low <= garbage <= high
    # what the gateway reads over Modbus: NaN for a float32, the type's "no value" for integers
    float_binding = sim.site.point("PW1.wellhead_temp").binding
    assert isinstance(float_binding, ModbusBinding)
    words = encode(float_binding, sim.value("PW1.wellhead_temp"))
    raw = struct.unpack(">f", struct.pack(">HH", *words))[0]
    assert math.isnan(raw)
    speed_binding = sim.site.point("PW1.speed").binding
    assert isinstance(speed_binding, ModbusBinding)
    assert encode(speed_binding, sim.value("PW1.speed")) == [0xFFFF]


def test_scheduled_faults_start_and_end_on_time(sim: StationSim) -> None:
    sim.inject(FaultSpec(kind="heat_pump_trip", target="HP2-1", at_s=600.0, duration_s=600.0),
               from_start=False)
    sim.run(300.0, 10.0)
    assert sim.value("HP2-1.fault") is False
    sim.run(600.0, 10.0)
    assert sim.value("HP2-1.fault") is True
    sim.run(600.0, 10.0)
    assert sim.value("HP2-1.fault") is False


def test_fault_targets_are_checked(sim: StationSim) -> None:
    with pytest.raises(FaultTargetError, match="needs a heat pump"):
        sim.inject(FaultSpec(kind="heat_pump_trip", target="PW1"))
    with pytest.raises(FaultTargetError, match="needs a point"):
        sim.inject(FaultSpec(kind="sensor_dead", target="PW9.flow"))
    with pytest.raises(KeyError):
        sim.clear("f999")


def test_writes_are_checked_against_limits(sim: StationSim) -> None:
    with pytest.raises(WriteRefusedError) as refused:
        sim.write("PW1.speed_setpoint", 55.0)
    assert refused.value.reason == "out_of_range"
    with pytest.raises(WriteRefusedError) as refused:
        sim.write("PW1.flow", 50.0)
    assert refused.value.reason == "not_writable"
    with pytest.raises(WriteRefusedError) as refused:
        sim.write("PW1.run_command", "yes")
    assert refused.value.reason == "bad_value"


def test_schedule_file(tmp_path: Path) -> None:
    good = tmp_path / "faults.yaml"
    good.write_text("- {kind: sensor_drift, target: NET.supply_temp, at_s: 60, rate: 0.5}\n"
                    "- {kind: device_silent, target: plc-well, at_s: 120, duration_s: 30}\n")
    faults = load_fault_schedule(good)
    assert [f.kind for f in faults] == ["sensor_drift", "device_silent"]
    assert faults[1].duration_s == 30.0
    with pytest.raises(FaultFileError, match=r"\[0\]\.kind"):
        parse_fault_schedule("- {kind: meteor, target: X}\n", "bad.yaml")
    with pytest.raises(FaultFileError, match=r"\[0\]\.speed"):
        parse_fault_schedule("- {kind: sensor_dead, target: X, speed: 3}\n", "bad.yaml")
    with pytest.raises(FaultFileError, match="must be a list"):
        parse_fault_schedule("kind: sensor_dead\n", "bad.yaml")


@pytest.mark.parametrize(("kind", "order", "value"), [
    ("float32", "big", 52.25), ("float32", "little", -3.5), ("int16", "big", -120.0),
    ("uint16", "big", 480.0), ("int32", "little", -70000.0), ("uint32", "big", 3_000_000.0),
])
def test_register_round_trip(kind: str, order: str, value: float) -> None:
    binding = ModbusBinding(protocol="modbus", device="d", table="holding_register", address=0,
                            type=kind, word_order=order, scale=0.1 if "int" in kind else 1.0)
    assert decode(binding, encode(binding, value)) == pytest.approx(value)


def test_integer_registers_saturate() -> None:
    binding = ModbusBinding(protocol="modbus", device="d", table="input_register", address=0,
                            type="uint16", scale=0.1)
    assert encode(binding, 9999.0) == [0xFFFF]
    assert encode(binding, -5.0) == [0]
