"""The site generator: committed files match it byte for byte, and its pieces behave."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from plant.site import load_site
from tools import make_sites
from tools.make_sites import (
    COIL,
    F32,
    HR_U16_DECI,
    U16_DECI,
    AddressBook,
    nice_ceil,
    scalar,
)

# The seed documents lie beside the checkout, in shared/seeds (as on developer machines and CI).
SEEDS = Path(os.environ.get("GEOSCADA_SEEDS", make_sites.ROOT.parent / "shared" / "seeds"))


def test_committed_files_are_what_the_generator_writes() -> None:
    stale = [path.relative_to(make_sites.ROOT).as_posix()
             for path, text in make_sites.outputs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"run tools/make_sites.py: {stale} differ"


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(make_sites, "SITES_DIR", tmp_path / "sites")
    monkeypatch.setattr(make_sites, "ROOT", tmp_path)
    monkeypatch.setattr(make_sites, "REGISTER_MAP", tmp_path / "docs" / "register-map.md")
    monkeypatch.setattr(make_sites, "OPCUA_NODES", tmp_path / "docs" / "opcua-nodes.md")
    assert make_sites.main([]) == 0
    assert "wrote sites/shallow-field.yaml" in capsys.readouterr().out
    site = tmp_path / "sites" / "shallow-field.yaml"
    site.write_text(site.read_text().replace("unit_id: 3", "unit_id: 9"))
    (tmp_path / "docs" / "opcua-nodes.md").unlink()
    assert make_sites.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "out of date: sites/shallow-field.yaml" in err
    assert "out of date: docs/opcua-nodes.md" in err
    assert "hydrothermal-doublet" not in err
    assert "unit_id: 9" in site.read_text(), "--check must not write"


def test_docs_list_every_modbus_and_opcua_point() -> None:
    register_map = make_sites.REGISTER_MAP.read_text(encoding="utf-8")
    nodes = make_sites.OPCUA_NODES.read_text(encoding="utf-8")
    for path in sorted(make_sites.SITES_DIR.glob("*.yaml")):
        site = load_site(path)
        for point in site.points:
            document = nodes if point.binding.protocol == "opcua" else register_map
            assert f"`{point.id}`" in document or f"`ns=2;s={point.id}`" in document, point.id


@pytest.mark.parametrize("value", ["10-15", "yes", "No", "1", "%", "127.0.0.1", "ns=2;s=PW1.flow",
                                   "m3/h", "Production well 1", "°C", "null", "a: b", "#x"])
def test_strings_read_back_unchanged(value: str) -> None:
    assert yaml.safe_load(f"k: {scalar(value)}")["k"] == value


@pytest.mark.parametrize("value", [0, 1, -24.2, 0.005, 1e9, 13.8, True, False])
def test_numbers_read_back_unchanged(value: float) -> None:
    assert yaml.safe_load(f"k: {scalar(value)}")["k"] == value


@pytest.mark.parametrize(("value", "expected"), [
    (1.0, 1.0), (1.01, 1.2), (165.0, 200.0), (0.33, 0.4), (3289.0, 4000.0), (9.0, 10.0),
    (0.006, 0.006),
])
def test_nice_ceil(value: float, expected: float) -> None:
    assert nice_ceil(value) == pytest.approx(expected)


def test_nice_ceil_refuses_a_non_positive_span() -> None:
    with pytest.raises(ValueError, match="positive"):
        nice_ceil(0)


def test_address_book_aligns_words_and_leaves_gaps_between_kinds() -> None:
    book = AddressBook()
    assert book.take("plc", U16_DECI, "pump") == 0
    assert book.take("plc", F32, "pump") == 2  # 32-bit values start on even registers
    assert book.take("plc", U16_DECI, "pump") == 4
    assert book.take("plc", F32, "valve") == 10  # a new kind of equipment starts a new block
    assert book.take("other", F32, "valve") == 0
    assert book.take("plc", COIL, "pump") == 0
    assert book.take("plc", COIL, "valve") == 1  # bits and setpoints stay packed
    assert book.take("plc", HR_U16_DECI, "pump") == 0
    assert book.take("plc", HR_U16_DECI, "valve") == 1



# (seed file, line, fragments that the cited line must contain)
CITED = [
    ("003", 552, ["59", "110"]),
    ("003", 554, ["45", "35"]),
    ("003", 566, ["59.00", "37.00", "770"]),
    ("003", 570, ["5.5", "3.5MW"]),
    ("003", 574, ["18.63"]),
    ("003", 2735, ["13215", "665kW", "10 月 15 日"]),
    ("003", 2755, ["-13.2", "-1.9", "18"]),
    ("003", 2841, ["67mW"]),
    ("003", 2914, ["2500m", "200mm", "650kW"]),
    ("003", 2932, ["735kW", "142kW"]),
    ("003", 2936, ["65", "20m", "7.5kW"]),
    ("003", 3055, ["0.4MPa", "0.8MPa"]),
    ("003", 3072, ["5.21", "4.66"]),
    ("003", 84, ["22.48", "26.73", "19800", "16200"]),
    ("003", 114, ["6.5/13.5", "47/40"]),
    ("003", 140, ["2092.2 万 kWh", "内热关"]),
    ("003", 142, ["31.96 万 m", "按制热工况"]),
    ("003", 144, ["120m", "2700"]),
    ("003", 152, ["4500kW", "1689kW"]),
    ("003", 176, ["6 月 1 日", "11 月 15 日"]),
]


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed documents not on this machine")
@pytest.mark.parametrize(("key", "line", "fragments"), CITED)
def test_cited_seed_lines_say_what_the_site_files_take_from_them(
    key: str, line: int, fragments: list[str]
) -> None:
    (path,) = SEEDS.glob(f"{key}_*.txt")
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    for fragment in fragments:
        assert fragment in text, f"{key} L{line} lacks {fragment!r}"


CITATION = re.compile(r"\b(00[0-3]) L(\d+)(?:[-–](\d+))?((?:, L\d+(?:[-–]\d+)?)*)")


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed documents not on this machine")
def test_every_case_citation_in_the_site_files_points_at_a_real_line() -> None:
    seeds = {key: next(SEEDS.glob(f"{key}_*.txt")).read_text(encoding="utf-8").splitlines()
             for key in ("000", "001", "002", "003")}
    cited = 0
    for path in sorted(make_sites.SITES_DIR.glob("*.yaml")):
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            key = match.group(1)
            numbers = [int(match.group(2))]
            numbers += [int(n) for n in re.findall(r"L(\d+)", match.group(4) or "")]
            for line in numbers:
                assert 1 <= line <= len(seeds[key]), f"{path.name}: {key} L{line}"
                assert seeds[key][line - 1].strip(), f"{path.name}: {key} L{line} is blank"
                cited += 1
    assert cited >= 50
