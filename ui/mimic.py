"""The station mimic's layout, drawn from the site's equipment (pure: site in, shapes out).

Equipment is placed left to right as the heat flows: the source (wells, boreholes, fields),
the source side (filters, treatment, source pumps, valves), the conversion (plate exchangers
and heat pumps by cascade stage), the user side (user pumps, the network header, meters) and
the users (substations, weather). Each piece is a gray symbol with its name and up to three
key values; the page colours only what is abnormal (bad quality, a fault, an alarm).
"""

from __future__ import annotations

from dataclasses import dataclass

from plant.site import Equipment, Point, Site

COLUMNS: tuple[tuple[str, frozenset[str]], ...] = (
    ("Source", frozenset({"production_well", "reinjection_well", "monitoring_well",
                          "coaxial_borehole", "borehole_field", "ground_temp_borehole"})),
    ("Source side", frozenset({"filter", "water_treatment", "valve", "pump:production",
                               "pump:reinjection", "pump:source_circulation", "pump:makeup",
                               "pump:booster"})),
    ("Conversion", frozenset({"plate_exchanger", "heat_pump"})),
    ("User side", frozenset({"pump:user_circulation", "network", "heat_meter",
                             "electricity_meter"})),
    ("Users", frozenset({"substation", "weather"})),
)
KEY_MEASURANDS: dict[str, tuple[str, ...]] = {
    "production_well": ("flow", "wellhead_temp", "water_level"),
    "reinjection_well": ("flow", "injection_temp", "wellhead_pressure"),
    "monitoring_well": ("water_level",),
    "coaxial_borehole": ("outlet_temp", "flow", "heat_power"),
    "borehole_field": ("outlet_temp", "flow", "heat_power"),
    "ground_temp_borehole": ("ground_temp",),
    "plate_exchanger": ("heat_power", "secondary_out_temp", "primary_out_temp"),
    "heat_pump": ("heat_power", "cop", "condenser_out_temp"),
    "pump": ("speed", "flow", "electric_power"),
    "valve": ("valve_position",),
    "filter": ("differential_pressure",),
    "water_treatment": ("makeup_flow", "tds"),
    "network": ("supply_temp", "return_temp", "flow"),
    "heat_meter": ("heat_power", "flow"),
    "electricity_meter": ("electric_power",),
    "substation": ("indoor_temp", "supply_temp", "heat_power"),
    "weather": ("outdoor_temp",),
}
STATE_MEASURANDS = ("run_state", "fault")
"""Shown as the symbol's state: running (filled), stopped (outline), fault (abnormal)."""

BOX_W, BOX_H, GAP_Y, COLUMN_W, TOP = 170, 78, 14, 210, 40


@dataclass(frozen=True)
class MimicValue:
    """One key value on a symbol: its point, label and unit."""

    point: str
    label: str
    unit: str


@dataclass(frozen=True)
class MimicItem:
    """One piece of equipment on the mimic, with its place and its live points."""

    equipment: str
    kind: str
    name: str
    x: int
    y: int
    values: tuple[MimicValue, ...]
    run_state: str | None
    fault: str | None


@dataclass(frozen=True)
class Mimic:
    """The whole drawing: column headings, symbols and its size."""

    headings: tuple[tuple[str, int], ...]
    items: tuple[MimicItem, ...]
    width: int
    height: int


def _column_key(item: Equipment) -> str:
    role = getattr(item, "role", None)
    return f"{item.kind}:{role}" if item.kind == "pump" else item.kind


def _label(point: Point) -> str:
    text = point.measurand.value.replace("_", " ")
    return f"{text} {point.depth_m:g} m" if point.depth_m is not None else text


def key_values(site: Site, item: Equipment, limit: int = 3) -> tuple[MimicValue, ...]:
    """The equipment's key values in the order of :data:`KEY_MEASURANDS`."""
    points = site.points_of(item.id)
    chosen: list[Point] = []
    for measurand in KEY_MEASURANDS.get(item.kind, ()):
        chosen += [p for p in points if p.measurand.value == measurand and p not in chosen][:1]
    if not chosen:
        chosen = [p for p in points if p.measurand.value not in STATE_MEASURANDS
                  and not p.writable][:limit]
    return tuple(MimicValue(p.id, _label(p), p.unit) for p in chosen[:limit])


def layout(site: Site) -> Mimic:
    """Place every piece of equipment of the site in its column."""
    columns: list[list[Equipment]] = [[] for _ in COLUMNS]
    for item in site.equipment:
        key = _column_key(item)
        index = next((i for i, (_, kinds) in enumerate(COLUMNS) if key in kinds), len(COLUMNS) - 1)
        columns[index].append(item)
    for column in columns:
        column.sort(key=lambda e: (getattr(e, "stage", 0), 0))
    items: list[MimicItem] = []
    for index, column in enumerate(columns):
        for row, item in enumerate(column):
            have = site.points_by_id
            run = f"{item.id}.run_state"
            fault = f"{item.id}.fault"
            items.append(MimicItem(
                equipment=item.id, kind=item.kind, name=item.name or item.id,
                x=20 + index * COLUMN_W, y=TOP + row * (BOX_H + GAP_Y),
                values=key_values(site, item),
                run_state=run if run in have else None, fault=fault if fault in have else None))
    tallest = max((len(column) for column in columns), default=1)
    headings = tuple((title, 20 + index * COLUMN_W) for index, (title, _) in enumerate(COLUMNS))
    return Mimic(headings, tuple(items), width=40 + len(COLUMNS) * COLUMN_W - (COLUMN_W - BOX_W),
                 height=TOP + tallest * (BOX_H + GAP_Y) + 10)
