"""The Modbus address assigner: free addresses in file order, text kept, the result validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plant.site import ModbusBinding, SiteFileError, parse_site
from tools.assign_addresses import AddressError, Slot, assign, complete, main

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "plant" / "site_files" / "minimal.yaml"
SITES = sorted((ROOT / "sites").glob("*.yaml"))


def spans(text: str) -> dict[str, tuple[str, str, int, int]]:
    """Point id -> (device, table, first, last register) of every Modbus point."""
    out: dict[str, tuple[str, str, int, int]] = {}
    for point in parse_site(text, "x.yaml").points:
        b = point.binding
        if isinstance(b, ModbusBinding):
            out[point.id] = (b.device, b.table, b.address, b.address + b.width - 1)
    return out


def test_packs_in_file_order_and_aligns_two_register_values() -> None:
    slots = [Slot("a", "d", "input_register", 1, None), Slot("b", "d", "input_register", 2, None),
             Slot("c", "d", "input_register", 1, None), Slot("e", "d", "coil", 1, None)]
    assert assign(slots) == {"a": 0, "b": 2, "c": 4, "e": 0}


def test_never_lands_on_a_fixed_address_and_follows_the_one_before() -> None:
    slots = [Slot("a", "d", "holding_register", 2, None),
             Slot("fixed", "d", "holding_register", 2, 2),
             Slot("b", "d", "holding_register", 1, None),
             Slot("late", "d", "holding_register", 1, 40),
             Slot("c", "d", "holding_register", 2, None)]
    assert assign(slots) == {"a": 0, "b": 4, "c": 42}


def test_a_full_table_is_refused_by_name() -> None:
    slots = [Slot("last", "d", "input_register", 1, 65535), Slot("x", "d", "input_register", 2,
                                                                 None)]
    with pytest.raises(AddressError, match="'x': no room left in input_register of device 'd'"):
        assign(slots)


@pytest.mark.parametrize("path", [MINIMAL, *SITES], ids=lambda p: p.name)
def test_removing_every_address_and_assigning_again_gives_a_valid_site(path: Path) -> None:
    text = path.read_text()
    bare = re.sub(r"address: \d+,\s*", "", re.sub(r",\s*address: \d+(?=\s*})", "", text))
    assert "address:" not in bare
    done = complete(bare, path.name)
    # every Modbus point has an address, none overlaps (parse_site checks), and every
    # two-register value sits on an even address
    for device, table, first, last in spans(done).values():
        assert last == first or first % 2 == 0, (device, table, first)
    # comments and the other keys are kept
    assert [line for line in done.splitlines() if line.lstrip().startswith("#")] == [
        line for line in text.splitlines() if line.lstrip().startswith("#")]


def test_fixed_addresses_stay_and_block_style_bindings_get_a_line() -> None:
    text = MINIMAL.read_text().replace(
        "  - {id: RW1.water_level,",
        "  - id: PW1.pressure\n"
        "    equipment: PW1\n"
        "    measurand: wellhead_pressure\n"
        "    unit: MPa\n"
        "    range: [0, 2]\n"
        "    binding:\n"
        "      protocol: modbus\n"
        "      device: plc1\n"
        "      table: input_register\n"
        "  - {id: RW1.water_level,")
    done = complete(text, "x.yaml")
    assert "      table: input_register\n      address: 4\n" in done
    addressed = spans(done)
    assert addressed["PW1.flow"] == ("plc1", "input_register", 2, 3)
    assert addressed["PW1.pressure"] == ("plc1", "input_register", 4, 5)


def test_an_invalid_result_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.read_text().replace("unit: m3/h,", "unit: gpm,"))
    with pytest.raises(SiteFileError, match="unit 'gpm' is unknown"):
        complete(bad.read_text(), str(bad))
    assert main([str(bad)]) == 1
    assert "unit 'gpm' is unknown" in capsys.readouterr().err


def test_write_completes_the_file_in_place(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(MINIMAL.read_text().replace("address: 2, ", ""))
    assert main([str(site), "--write"]) == 0
    assert spans(site.read_text())["PW1.flow"] == ("plc1", "input_register", 2, 3)
