"""Site files: a valid one loads; each kind of invalid one stops with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from geoscada.cli import main as geoscada
from plant.measurands import Measurand
from plant.site import ModbusBinding, SiteFileError, _parse_yaml, load_site, parse_site

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


def test_a_meter_declares_its_rollover_and_reset_point() -> None:
    text = mutate("measurand: flow, unit: m3/h, range: [0, 200], deadband: 0.5,",
                  "measurand: volume, unit: m3, range: [0, 1000000], rollover: 1000000,"
                  " reset_point: RW1.water_level,")
    meter = parse_site(text, "sites/meter.yaml").point("PW1.flow")
    assert (meter.rollover, meter.reset_point) == (1000000.0, "RW1.water_level")


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
    ("NaN range", "range: [0, 200], deadband: 0.5", "range: [0, .nan], deadband: 0.5",
     ["points[1](PW1.flow).range[1]", "finite number"], "id: PW1.flow"),
    ("infinite range", "range: [0, 200], deadband: 0.5", "range: [-.inf, 200], deadband: 0.5",
     ["points[1](PW1.flow).range[0]", "finite number"], "id: PW1.flow"),
    ("infinite scale", "type: uint16, scale: 0.1", "type: uint16, scale: .inf",
     ["points[3](PW1.speed_setpoint).binding.scale", "finite number"], "scale: .inf"),
    ("NaN scale", "type: uint16, scale: 0.1", "type: uint16, scale: .NaN",
     ["points[3](PW1.speed_setpoint).binding.scale", "finite number"], "scale: .NaN"),
    ("NaN area", "heated_area_m2: 100000", "heated_area_m2: .nan",
     ["station.heated_area_m2", "finite number"], "heated_area_m2"),
    ("infinite area", "heated_area_m2: 100000", "heated_area_m2: .inf",
     ["station.heated_area_m2", "finite number"], "heated_area_m2"),
    ("infinite rating", "rated_heat_kw: 2000", "rated_heat_kw: .Inf",
     ["equipment[2](HP1).rated_heat_kw", "finite number"], "rated_heat_kw"),
    ("NaN limit", "limits: {min: 35, max: 60}", "limits: {min: .nan, max: 60}",
     ["points[5](HP1.supply_temp_setpoint).limits.min", "finite number"], "limits: {min: .nan"),
    ("COP above Carnot", "rated_cop: 5.0", "rated_cop: 11.0",
     ["equipment[2](HP1).rated_cop", "reaches the Carnot COP 9.06", "20.0 → 50.0 °C",
      "refrigerant 17 → 53 °C"],
     "rated_cop: 11.0"),
    ("evaporating limit below the rating", "rated_cop: 5.0,", "rated_cop: 5.0, max_evaporating_temp_c: 12,",
     ["equipment[2](HP1).max_evaporating_temp_c", "below the rated evaporating temperature 17 °C"],
     "max_evaporating_temp_c: 12"),
    ("NaN evaporating limit", "rated_cop: 5.0,", "rated_cop: 5.0, max_evaporating_temp_c: .nan,",
     ["equipment[2](HP1).max_evaporating_temp_c", "finite number"], "max_evaporating_temp_c"),
    ("rollover on a measured value", "range: [0, 200], deadband: 0.5,",
     "range: [0, 200], deadband: 0.5, rollover: 1000,",
     ["points[1](PW1.flow)", "rollover and reset_point are for meters"], "id: PW1.flow"),
    ("unknown reset point",
     "measurand: flow, unit: m3/h, range: [0, 200], deadband: 0.5,",
     "measurand: volume, unit: m3, range: [0, 1000000], reset_point: PW1.resets,",
     ["points[1](PW1.flow).reset_point", "unknown point 'PW1.resets'"], "id: PW1.flow"),
    ("broken YAML", "poll_groups: {fast: 1.0, slow: 10.0}", "poll_groups: {fast: 1.0, slow: 10.0",
     ["(YAML)"], None),
    ("NaN anti-freeze threshold", "design_return_temp_c: 40",
     "design_return_temp_c: 40\n  antifreeze: {indoor_c: .nan}",
     ["station.antifreeze.indoor_c", "finite number"], "antifreeze:"),
    ("NaN anti-freeze band", "design_return_temp_c: 40",
     "design_return_temp_c: 40\n  antifreeze: {band_k: .nan}",
     ["station.antifreeze.band_k", "finite number"], "antifreeze:"),
    ("anti-freeze band of zero", "design_return_temp_c: 40",
     "design_return_temp_c: 40\n  antifreeze: {band_k: 0}",
     ["station.antifreeze.band_k", "greater than 0"], "antifreeze:"),
    ("negative anti-freeze band", "design_return_temp_c: 40",
     "design_return_temp_c: 40\n  antifreeze: {band_k: -1}",
     ["station.antifreeze.band_k", "greater than 0"], "antifreeze:"),
    ("anti-freeze threshold at freezing", "design_return_temp_c: 40",
     "design_return_temp_c: 40\n  antifreeze: {indoor_c: 0}",
     ["station.antifreeze.indoor_c", "greater than or equal to 2"], "antifreeze:"),
    ("anti-freeze threshold above the indoor design", "design_return_temp_c: 40",
     "design_return_temp_c: 40\n  antifreeze: {indoor_c: 20}",
     ["station.antifreeze", "anti-freeze threshold 20 °C must be below the indoor design "
      "temperature 18 °C"], "antifreeze:"),
    ("anti-freeze guard heating past the indoor design", "design_return_temp_c: 40",
     "design_return_temp_c: 40\n  indoor_design_temp_c: 16\n  antifreeze: {indoor_c: 12, band_k: 5}",
     ["station.antifreeze", "heats up to 17 °C (threshold 12 °C + band 5 K), above the indoor "
      "design temperature 16 °C"], "antifreeze:"),
    ("anti-freeze band inside the guard's margin", "design_return_temp_c: 40",
     "design_return_temp_c: 40\n  antifreeze: {band_k: 0.3}",
     # Harbin: (5 − −24.2) K / 40 h × (1,200 + 120 + 300) s = 0.33 K
     ["station.antifreeze", "band 0.3 K must be wider than its margin 0.33 K"], "antifreeze:"),
    ("schedule's guard heating past the indoor design", "design_return_temp_c: 40",
     "design_return_temp_c: 40\n  indoor_design_temp_c: 14\n"
     "  schedule: {occupied: [{start: \"08:00\", end: \"17:00\"}], antifreeze_indoor_c: 10,"
     " antifreeze_band_k: 5}",
     ["station.schedule", "heats up to 15 °C", "above the indoor design temperature 14 °C"],
     "schedule:"),
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


def test_check_command_refuses_cop_above_carnot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 20 -> 50 degC water, refrigerant 17 -> 53 degC behind 3 K approaches: Carnot heating COP
    # 326.15 K / 36 K = 9.06 (on the water alone 10.77); a rated 12 is impossible either way
    bad = tmp_path / "carnot.yaml"
    bad.write_text(mutate("rated_cop: 5.0", "rated_cop: 12.0"))
    assert geoscada(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:{line_of(bad.read_text(), 'rated_cop: 12.0')}: " in err
    assert "equipment[2](HP1).rated_cop" in err and "Carnot COP 9.06" in err


def overlap_site(spans: list[tuple[int, str]]) -> str:
    """The minimal site with extra holding-register points at (address, type)."""
    extra = "".join(
        f"  - {{id: PW1.extra{n}, equipment: PW1, measurand: flow, unit: m3/h, range: [0, 200],\n"
        f"     binding: {{protocol: modbus, device: plc1, table: holding_register, "
        f"address: {address}, type: {kind}}}}}\n"
        for n, (address, kind) in enumerate(spans)
    )
    return TEXT + extra


@pytest.mark.parametrize(("spans", "blamed", "other"), [
    # a wide span early in the file, a later one inside it after an unrelated one in between
    ([(10, "float32"), (20, "float32"), (11, "uint16")], "PW1.extra2", "PW1.extra0"),
    # file order is the reverse of address order: the later point in the file is blamed
    ([(31, "uint16"), (30, "float32")], "PW1.extra1", "PW1.extra0"),
    # the span reaching furthest is not the last one started
    ([(40, "float32"), (41, "uint16"), (41, "int16")], "PW1.extra1", "PW1.extra0"),
])
def test_register_overlap_found_whatever_the_order(
    spans: list[tuple[int, str]], blamed: str, other: str
) -> None:
    with pytest.raises(SiteFileError) as caught:
        parse_site(overlap_site(spans), "x.yaml")
    message = str(caught.value)
    assert f"({blamed}).binding.address" in message and f"overlaps point {other!r}" in message


def test_adjacent_registers_do_not_overlap() -> None:
    site = parse_site(overlap_site([(12, "float32"), (10, "float32"), (14, "uint16")]), "x.yaml")
    assert len(site.points) == 9


def test_holding_register_and_input_register_are_separate_tables() -> None:
    # the minimal site has a float32 input register at 0..1; a holding register there is fine
    assert len(parse_site(overlap_site([(1, "float32")]), "x.yaml").points) == 7


# PyYAML's own safe loader is the oracle (its libyaml flavour when built with it: same result)
REFERENCE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> object:
    return yaml.load(text, Loader=REFERENCE)


TRICKY_YAML = [
    "a: &x {b: [1, 2.5, true, null, '3', 2024-01-01]}\nc: *x\n",
    "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n",
    "tagged: !!str 12\nfloat: !!float '1'\nlist: !!seq [a]\nset: !!set {a, b}\n",
    "quoted: 'yes'\nplain: yes\nhex: 0x1F\nbig: 1_000\ninf: .inf\n",
    "- [a, b]\n- {k: v}\n- ~\n",
    "dup: 1\ndup: 2\n",
    "",
]


@pytest.mark.parametrize("text", TRICKY_YAML)
def test_site_parser_builds_what_safe_load_builds(text: str) -> None:
    assert _parse_yaml(text)[1] == safe_load(text)


@pytest.mark.parametrize("path", [MINIMAL, *sorted((MINIMAL.parents[3] / "sites").glob("*.yaml"))],
                         ids=lambda p: p.name)
def test_site_parser_builds_each_site_as_safe_load(path: Path) -> None:
    text = path.read_text()
    assert _parse_yaml(text)[1] == safe_load(text)


def test_aliases_share_one_object_as_in_safe_load() -> None:
    data = _parse_yaml("a: &x [1]\nb: *x\n")[1]
    assert data["a"] is data["b"]


@pytest.mark.parametrize("text", ["? [a, b]\n: 1\n", "a: &x [*x]\n"])
def test_unusable_yaml_is_a_yaml_error(text: str) -> None:
    with pytest.raises(SiteFileError, match=r"^x\.yaml(:\d+)?: \(YAML\): "):
        parse_site(text, "x.yaml")
