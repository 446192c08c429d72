"""Input data of the Heilongjiang plan, loaded from ``plant/data/heilongjiang`` and validated.

Every file is a CSV with a ``source`` column citing the plan's table and line. Errata are
handled here, explicitly and visibly:

* Daqing's and Qitaihe's rows in the plan's output tables were computed with Suihua's and
  Jixi's climate (digest Appendix A.1.6); ``climate.csv`` records this in
  ``plan_uses_climate_of`` and :func:`load_plan_inputs` applies it only when asked to
  reproduce the plan as printed (``as_printed=True``, the default);
* Mohe's heating-season mean temperature is not printed; the value in the file is derived
  (its ``source`` says how), and Mohe's new-residential heat index comes from the text;
* Jiagedaqi's missing cells stay empty: nothing the tables need depends on them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from importlib import resources

from plant.models.demand import BUILDING_TYPES
from plant.site import BuildingType

DATA_PACKAGE = "plant.data.heilongjiang"


class PlanDataError(ValueError):
    """An input file that cannot be used; the message names file, line, column and problem."""


@dataclass(frozen=True)
class CityClimate:
    """Climate of one city (Table 4-1)."""

    region: str
    design_outdoor_temp_c: float
    mean_season_temp_c: float | None
    heating_days: int
    plan_uses_climate_of: str


@dataclass(frozen=True)
class DeepSite:
    """Mid-deep borehole conditions of one region and basin (Table 4-5)."""

    region: str
    basin: str
    gradient_k_per_100m: float
    depth_m: float
    extraction_kw: float
    extraction_w_per_m_printed: float
    bottom_temp_c: float
    cop: float

    @property
    def extraction_w_per_m(self) -> float:
        """Heat extraction per metre from the borehole's kW and depth (the plan's own basis)."""
        return self.extraction_kw * 1000.0 / self.depth_m


@dataclass(frozen=True)
class ShallowSite:
    """Shallow borehole conditions of one region (Table 4-4 inputs)."""

    region: str
    extraction_w_per_m: float
    cop: float


@dataclass(frozen=True)
class Tariff:
    """Heating tariff of one region (Table 6-1), CNY per m² and year, and its billing basis."""

    region: str
    residential: float
    public: float
    billing_basis: str

    def billed_share(self, building: BuildingType) -> float:
        """Share of the building area that is billed (usable area is taken as 0.8, digest C8)."""
        residential = building.endswith("residential")
        basis = self.billing_basis.split(";")
        text = basis[0] if residential or len(basis) == 1 else basis[1]
        if "usable" in text:
            return USABLE_AREA_SHARE
        factor = re.search(r"area x([0-9.]+)\s*$", text)
        return 1.0 if factor is None else float(factor.group(1))

    def revenue_cny_per_m2(self, building: BuildingType) -> float:
        """Heating revenue per m² of building area and year."""
        price = self.residential if building.endswith("residential") else self.public
        return price * self.billed_share(building)


USABLE_AREA_SHARE = 0.8
"""Usable floor area per m² of building area implied by Harbin's NPV (digest C8)."""


@dataclass(frozen=True)
class CascadeStation:
    """The Daqing cascade retrofit's electricity (Table 4-3) and economics (Table 6-3)."""

    building: BuildingType
    submersible_pump_kwh: float
    stage1_heat_pump_kwh: float
    stage2_heat_pump_kwh: float
    stage1_pumps_kwh: float
    stage2_pumps_kwh: float
    capex_collection: float
    capex_plant_room: float
    operating_cost: float

    @property
    def total_kwh(self) -> float:
        """Electricity per m² and year of the whole cascade."""
        return (self.submersible_pump_kwh + self.stage1_heat_pump_kwh + self.stage2_heat_pump_kwh
                + self.stage1_pumps_kwh + self.stage2_pumps_kwh)


@dataclass(frozen=True)
class CollectionArea:
    """A region (shallow, Table 2-2) or basin (mid-deep, Table 2-3) whose capacity (2-1) gives."""

    name: str
    area_km2: float
    depth_m: float
    extraction_basin: str = ""
    """For a basin: the Table 4-5 basin whose extraction per metre applies."""


@dataclass(frozen=True)
class ZoneArea:
    """Area a planning zone builds in one region and basin by 2025 (004 footnotes 6 and 7)."""

    zone: str
    region: str
    basin: str
    area_10k_m2: float


@dataclass(frozen=True)
class PlanInputs:
    """All inputs of the plan's tables."""

    climate: dict[str, CityClimate]
    heat_index: dict[tuple[str, BuildingType], float]
    deep_sites: tuple[DeepSite, ...]
    shallow_sites: tuple[ShallowSite, ...]
    tariffs: dict[str, Tariff]
    service_lives: dict[str, int]
    cascade: dict[BuildingType, CascadeStation]
    as_printed: bool
    shallow_areas: tuple[CollectionArea, ...] = ()
    deep_areas: tuple[CollectionArea, ...] = ()
    zones: tuple[ZoneArea, ...] = ()

    def climate_for(self, region: str) -> CityClimate:
        """Climate the tables use for a region (the plan's substitutions when as printed)."""
        own = self.climate[region]
        if self.as_printed and own.plan_uses_climate_of:
            return self.climate[own.plan_uses_climate_of]
        return own

    def heat_index_for(self, region: str, building: BuildingType) -> float:
        """Design heat index q_s (W/m²) of a region and building type."""
        try:
            return self.heat_index[(region, building)]
        except KeyError:
            raise PlanDataError(f"heat_index.csv: no {building} heat index for {region}") from None


def _read(name: str) -> list[tuple[int, dict[str, str]]]:
    text = resources.files(DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    return [(index + 2, row) for index, row in enumerate(reader)]


def _number(name: str, line: int, row: dict[str, str], column: str) -> float:
    raw = row.get(column)
    if raw is None:
        raise PlanDataError(f"{name}:{line}: {column}: column missing")
    try:
        return float(raw)
    except ValueError:
        raise PlanDataError(f"{name}:{line}: {column}: {raw!r} is not a number") from None


def _optional(name: str, line: int, row: dict[str, str], column: str) -> float | None:
    return None if not row.get(column, "").strip() else _number(name, line, row, column)


def load_plan_inputs(as_printed: bool = True) -> PlanInputs:
    """Load and validate the plan's input files; ``as_printed`` applies the plan's errata."""
    climate = {}
    for line, row in _read("climate.csv"):
        days = _number("climate.csv", line, row, "heating_days")
        climate[row["region"]] = CityClimate(
            region=row["region"],
            design_outdoor_temp_c=_number("climate.csv", line, row, "design_outdoor_temp_c"),
            mean_season_temp_c=_optional("climate.csv", line, row, "mean_heating_season_temp_c"),
            heating_days=int(days),
            plan_uses_climate_of=row.get("plan_uses_climate_of", "").strip(),
        )
    for item in climate.values():
        if item.plan_uses_climate_of and item.plan_uses_climate_of not in climate:
            raise PlanDataError(f"climate.csv: plan_uses_climate_of: unknown region "
                                f"{item.plan_uses_climate_of!r} for {item.region}")
    heat_index: dict[tuple[str, BuildingType], float] = {}
    for line, row in _read("heat_index.csv"):
        for building in BUILDING_TYPES:
            value = _optional("heat_index.csv", line, row, building)
            if value is not None:
                heat_index[(row["region"], building)] = value
    deep = tuple(
        DeepSite(
            region=row["region"], basin=row["basin"],
            gradient_k_per_100m=_number("deep_boreholes.csv", line, row, "gradient_k_per_100m"),
            depth_m=_number("deep_boreholes.csv", line, row, "depth_m"),
            extraction_kw=_number("deep_boreholes.csv", line, row, "extraction_kw"),
            extraction_w_per_m_printed=_number(
                "deep_boreholes.csv", line, row, "extraction_w_per_m"),
            bottom_temp_c=_number("deep_boreholes.csv", line, row, "bottom_temp_c"),
            cop=_number("deep_boreholes.csv", line, row, "cop"),
        )
        for line, row in _read("deep_boreholes.csv")
    )
    shallow = tuple(
        ShallowSite(
            region=row["region"],
            extraction_w_per_m=_number("shallow_boreholes.csv", line, row, "extraction_w_per_m"),
            cop=_number("shallow_boreholes.csv", line, row, "cop"),
        )
        for line, row in _read("shallow_boreholes.csv")
    )
    tariffs = {
        row["region"]: Tariff(
            region=row["region"],
            residential=_number("tariffs.csv", line, row, "residential_cny_per_m2a"),
            public=_number("tariffs.csv", line, row, "public_cny_per_m2a"),
            billing_basis=row["billing_basis"],
        )
        for line, row in _read("tariffs.csv")
    }
    lives = {row["item"]: int(_number("service_lives.csv", line, row, "years"))
             for line, row in _read("service_lives.csv")}
    cascade: dict[BuildingType, CascadeStation] = {}
    for line, row in _read("cascade_daqing.csv"):
        matches = [b for b in BUILDING_TYPES if b == row["building"]]
        if not matches:
            raise PlanDataError(f"cascade_daqing.csv:{line}: building: unknown {row['building']!r}")
        values = {column: _number("cascade_daqing.csv", line, row, column) for column in (
            "submersible_pump_kwh", "stage1_heat_pump_kwh", "stage2_heat_pump_kwh",
            "stage1_pumps_kwh", "stage2_pumps_kwh", "capex_collection", "capex_plant_room",
            "operating_cost")}
        cascade[matches[0]] = CascadeStation(
            matches[0], values["submersible_pump_kwh"], values["stage1_heat_pump_kwh"],
            values["stage2_heat_pump_kwh"], values["stage1_pumps_kwh"], values["stage2_pumps_kwh"],
            values["capex_collection"], values["capex_plant_room"], values["operating_cost"])
    for region in [s.region for s in deep] + [s.region for s in shallow]:
        if region not in climate:
            raise PlanDataError(f"climate.csv: no climate for region {region!r}")
    shallow_areas = tuple(
        CollectionArea(row["region"], _number("capacity_shallow.csv", line, row, "area_km2"),
                       _number("capacity_shallow.csv", line, row, "depth_m"))
        for line, row in _read("capacity_shallow.csv"))
    deep_areas = tuple(
        CollectionArea(row["basin"], _number("capacity_deep.csv", line, row, "area_km2"),
                       _number("capacity_deep.csv", line, row, "depth_m"),
                       row["extraction_basins"])
        for line, row in _read("capacity_deep.csv"))
    basins = {s.basin for s in deep}
    for area in deep_areas:
        if area.extraction_basin not in basins:
            raise PlanDataError(f"capacity_deep.csv: {area.name}: extraction_basins: "
                                f"{area.extraction_basin!r} is not a basin of deep_boreholes.csv")
    zones = tuple(
        ZoneArea(row["zone"], row["region"], row["basin"],
                 _number("zones.csv", line, row, "area_10k_m2"))
        for line, row in _read("zones.csv"))
    sites = {(s.region, s.basin) for s in deep}
    for zone in zones:
        if (zone.region, zone.basin) not in sites:
            raise PlanDataError(f"zones.csv: {zone.zone}: no mid-deep site {zone.region} / "
                                f"{zone.basin}")
    return PlanInputs(climate, heat_index, deep, shallow, tariffs, lives, cascade, as_printed,
                      shallow_areas, deep_areas, zones)
