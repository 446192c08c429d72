"""Site files: a valid one loads; each kind of invalid one stops with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoscada.cli import main as geoscada
from plant.measurands import Measurand
from plant.site import ModbusBinding, SiteFileError, load_site, parse_site

MINIMAL = Path(__file__).parent / "site_files" / "minimal.yaml"
TEXT = MINIMAL.read_text()


def test_minimal_site_loads() -> None:
    site = load_site(MINIMAL)
    assert site.station.id == "test-doublet"
    assert site.station.design_heat_load_kw == pytest.approx(4500.0)
    flow = site.point("PW1.flow")
    assert flow.measurand is Measurand.FLOW
    assert isinstance(flow.binding, ModbusBinding) and flow.binding.width == 2
    assert [p.id for p in site.points_of("RW1")] == ["RW1.water_level"]
    assert len(site.points_on("opc1")) == 2


def mutate(old: str, new: str) -> str:
    assert TEXT.count(old) == 1, f"fixture text {old!r} must occur exactly once"
    return TEXT.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


# (case, old text, new text, fragments the one-line error must contain, line-fragment)
CASES = [
    ("unknown key", "heated_area_m2: 100000", "heated_area_m2: 100000\n  heated_aera: 5",
     ["station.heated_aera", "unknown key 'heated_aera'"], "heated_aera"),
    ("duplicate point id", "id: RW1.water_level", "id: PW1.flow",
     ["points[4](PW1.flow).id", "duplicate points id 'PW1.flow'"], "id: PW1.flow, equipment: RW1"),
    ("overlapping registers", "table: input_register, address: 2,",
     "table: input_register, address: 1,",
     ["points[1](PW1.flow).binding.address", "overlaps point 'PW1.wellhead_temp' at 0..1"],
     "address: 1,"),
    ("missing unit", "measurand: flow, unit: m3/h,", "measurand: flow,",
     ["points[1](PW1.flow).unit", "missing key 'unit'"], "id: PW1.flow"),
    ("wrong unit", "measurand: flow, unit: m3/h,", "measurand: flow, unit: degC,",
     ["points[1](PW1.flow)", "'degC' is not a unit of volume_flow", "m3/h"], "id: PW1.flow"),
    ("unknown unit", "measurand: flow, unit: m3/h,", "measurand: flow, unit: gpm,",
     ["points[1](PW1.flow)", "unit 'gpm' is unknown"], "id: PW1.flow"),
    ("bad address", "table: input_register, address: 2,", "table: input_register, address: 70000,",
     ["points[1](PW1.flow).binding.address", "less than or equal to 65535"], "address: 70000"),
    ("address past the end", "table: input_register, address: 2,",
     "table: input_register, address: 65535,",
     ["points[1](PW1.flow).binding", "passes 65535"], "address: 65535"),
    ("bad node id", 'node_id: "ns=2;s=RW1.water_level"', 'node_id: "RW1.water_level"',
     ["points[4](RW1.water_level).binding.node_id", "is not an OPC UA NodeId"], "RW1.water_level\""),
    ("writable point without limits", "writable: true, limits: {min: 20, max: 50},",
     "writable: true,", ["points[3](PW1.speed_setpoint)", "a writable point needs limits"],
     "id: PW1.speed_setpoint"),
    ("writable measured value", "measurand: flow, unit: m3/h, range: [0, 200], deadband: 0.5,",
     "measurand: flow, unit: m3/h, range: [0, 200], deadband: 0.5, writable: true,\n"
     "     limits: {min: 0, max: 100},",
     ["points[1](PW1.flow)", "measurand flow cannot be written"], "id: PW1.flow"),
    ("limits outside range", "limits: {min: 35, max: 60}", "limits: {min: 35, max: 90}",
     ["points[5](HP1.supply_temp_setpoint)", "outside range 20.0..70.0"],
     "id: HP1.supply_temp_setpoint"),
    ("unknown equipment", "id: RW1.water_level, equipment: RW1",
     "id: RW1.water_level, equipment: RW9",
     ["points[4](RW1.water_level).equipment", "unknown equipment 'RW9'"], "equipment: RW9"),
    ("measurand foreign to equipment", "id: RW1.water_level, equipment: RW1, measurand: water_level",
     "id: RW1.water_level, equipment: HP1, measurand: water_level",
     ["points[4](RW1.water_level).measurand", "a heat_pump has no measurand water_level"],
     "id: RW1.water_level"),
    ("unknown device", "device: opc1, node_id: \"ns=2;s=RW1", "device: opc9, node_id: \"ns=2;s=RW1",
     ["points[4](RW1.water_level).binding.device", "unknown device 'opc9'"], "device: opc9"),
    ("protocol mismatch", "device: opc1, node_id: \"ns=2;s=RW1", "device: plc1, node_id: \"ns=2;s=RW1",
     ["points[4](RW1.water_level).binding.protocol", "speaks modbus, not opcua"], "device: plc1, node"),
    ("unknown poll group", "poll_group: slow,", "poll_group: hourly,",
     ["points[4](RW1.water_level).poll_group", "unknown poll group 'hourly'"], "poll_group: hourly"),
    ("unknown equipment kind", "kind: heat_pump,", "kind: heat_pmup,",
     ["equipment[2](HP1).kind", "heat_pmup"], "kind: heat_pmup"),
    ("wrongly typed value", "rated_cop: 5.0", "rated_cop: five",
     ["equipment[2](HP1).rated_cop", "valid number"], "rated_cop: five"),
    ("read-only table written", "table: coil, address: 0}", "table: discrete_input, address: 0}",
     ["points[2](PW1.run_command)", "read-only discrete_input"], "id: PW1.run_command"),
    ("supply below return", "design_supply_temp_c: 50", "design_supply_temp_c: 35",
     ["station", "supply temperature must be above"], "station:"),
    ("broken YAML", "poll_groups: {fast: 1.0, slow: 10.0}", "poll_groups: {fast: 1.0, slow: 10.0",
     ["(YAML)"], None),
]


@pytest.mark.parametrize(("old", "new", "fragments", "line_fragment"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_site_names_file_line_key_and_problem(
    old: str, new: str, fragments: list[str], line_fragment: str | None
) -> None:
    text = mutate(old, new)
    with pytest.raises(SiteFileError) as caught:
        parse_site(text, "sites/bad.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("sites/bad.yaml:")
    for fragment in fragments:
        assert fragment in message, message
    if line_fragment is not None:
        assert message.startswith(f"sites/bad.yaml:{line_of(text, line_fragment)}: "), message


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SiteFileError, match=r"nope\.yaml: cannot read"):
        load_site(missing)


def test_site_must_be_a_mapping() -> None:
    with pytest.raises(SiteFileError, match=r"x\.yaml: \(top level\): a site file must be"):
        parse_site("- just\n- a list\n", "x.yaml")


def test_check_command_reports_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(mutate("rated_cop: 5.0", "rated_cop: 0.5"))
    assert geoscada(["check", str(MINIMAL)]) == 0
    assert geoscada(["check", str(MINIMAL), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert "ok: " in out and "6 points" in out
    assert err.count("\n") == 1 and "equipment[2](HP1).rated_cop" in err
