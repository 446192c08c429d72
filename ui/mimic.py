"""The station mimic's layout, drawn from the site's equipment (pure: site in, shapes out).

Equipment is placed left to right as the heat flows: the source (wells, boreholes, fields),
the source side (filters, treatment, source pumps, valves), the conversion (plate exchangers
and heat pumps by cascade stage), the user side (user pumps, the network header, meters) and
the users (substations, weather). Each piece is a gray symbol with its name and up to three
key values; the page colours only what is abnormal (bad quality, a fault, an alarm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from plant.site import (
    BoreholeField,
    CoaxialBorehole,
    Equipment,
    HeatPump,
    Network,
    PlateExchanger,
    Point,
    ProductionWell,
    Pump,
    ReinjectionWell,
    Site,
    Substation,
    Valve,
    WaterTreatment,
)

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


ANCHOR = next(i for i, (title, _) in enumerate(COLUMNS) if title == "Conversion")
"""The column kept in cascade order; the others are ordered to follow the pipes to it."""


def _follow_the_pipes(site: Site, columns: list[list[Equipment]], sweeps: int = 4) -> None:
    """Order each column (but the conversion's) by the mean row of what it is piped to, so
    pipes run short and seldom cross; unpiped equipment (instruments) goes to the bottom."""
    neighbours: dict[str, set[str]] = {}
    for pipe in pipes(site):
        neighbours.setdefault(pipe.start, set()).add(pipe.end)
        neighbours.setdefault(pipe.end, set()).add(pipe.start)
    for _ in range(sweeps):
        row = {item.id: r for column in columns for r, item in enumerate(column)}
        for index, column in enumerate(columns):
            if index == ANCHOR:
                continue
            here = {item.id for item in column}
            mean: dict[str, float] = {}
            for item in column:
                others = [row[n] for n in neighbours.get(item.id, ()) if n not in here]
                mean[item.id] = sum(others) / len(others) if others else math.inf
            column.sort(key=lambda e: mean[e.id])  # stable: ties and the unpiped keep order
            row.update({item.id: r for r, item in enumerate(column)})


def layout(site: Site) -> Mimic:
    """Place every piece of equipment of the site in its column."""
    columns: list[list[Equipment]] = [[] for _ in COLUMNS]
    for item in site.equipment:
        key = _column_key(item)
        index = next((i for i, (_, kinds) in enumerate(COLUMNS) if key in kinds), len(COLUMNS) - 1)
        columns[index].append(item)
    for column in columns:
        column.sort(key=lambda e: (getattr(e, "stage", 0), 0))
    _follow_the_pipes(site, columns)
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


# -- pipes -----------------------------------------------------------------------------------

SOURCE, USER, MAKEUP = "source", "user", "makeup"
MAKEUP_TREATMENTS = frozenset({"softener", "deaerator", "dosing"})
"""Treatments that prepare make-up water (the others treat the source water itself)."""
LANE: dict[str, int] = {SOURCE: -6, USER: 6, MAKEUP: 0}
"""Each circuit's offset in the gaps between columns, so circuits that share a gap stay apart."""


@dataclass(frozen=True)
class Pipe:
    """A pipe from one piece of equipment to the next, in the direction the water flows;
    ``back`` marks the return leg of a closed loop."""

    start: str
    end: str
    circuit: str
    back: bool = False


@dataclass(frozen=True)
class DrawnPipe:
    """A pipe as drawn: its ends, circuit and the SVG path of right-angled segments."""

    pipe: Pipe
    path: str
    points: tuple[tuple[float, float], ...]


def _pumps(site: Site, role: str, serves: str | None) -> list[Equipment]:
    return [e for e in site.equipment if isinstance(e, Pump) and e.role == role
            and e.serves == serves]


def _chain(pipes: list[Pipe], starts: list[str], ends: list[str], circuit: str) -> list[str]:
    """Pipe every start to every end (a header between parallel units); the ends, or the
    starts when there are no ends."""
    if not ends:
        return starts
    pipes += [Pipe(a, b, circuit) for a in starts for b in ends if a != b]
    return ends


def pipes(site: Site) -> tuple[Pipe, ...]:
    """The pipes between the equipment, from the site file: production wells through the
    exchangers' primaries in cascade order to the reinjection pumps, valves and wells; each
    exchanger that feeds heat pumps through its circulation pumps to their evaporators; each
    borehole loop through its pumps to the heat pumps and back; heat pumps and direct
    exchangers through their user pumps and the network pumps to the network and its
    substations; make-up water from its treatment through the make-up pumps. Filters, meters,
    monitoring and ground-temperature boreholes and the weather are instruments on or beside
    these pipes and are not piped."""
    items = site.equipment
    exchangers = [e for e in items if isinstance(e, PlateExchanger)]
    heat_pumps = [e for e in items if isinstance(e, HeatPump)]
    pump_stages = {hp.stage for hp in heat_pumps}
    direct = [hx for hx in exchangers if hx.stage not in pump_stages]
    out: list[Pipe] = []

    # geothermal water: production, the exchangers' primaries in cascade, reinjection
    wells = [e.id for e in items if isinstance(e, ProductionWell)]
    if wells:
        current: list[str] = []
        for well in wells:
            current += _chain(out, [well], [p.id for p in _pumps(site, "production", well)],
                              SOURCE)
        current = _chain(out, current, [p.id for p in _pumps(site, "production", None)],
                         SOURCE)
        for stage in sorted({hx.stage for hx in exchangers}):
            group = [hx for hx in exchangers if hx.stage == stage]
            valves = [v.id for v in items if isinstance(v, Valve) and v.role == "exchanger"
                      and v.serves is None] if group[0] in direct else []
            current = _chain(out, current, valves, SOURCE)
            ends: list[str] = []
            for hx in group:
                own = [v.id for v in items if isinstance(v, Valve) and v.role == "exchanger"
                       and v.serves == hx.id]
                ends += _chain(out, _chain(out, current, own, SOURCE), [hx.id], SOURCE)
            current = ends
        current = _chain(out, current, [p.id for p in _pumps(site, "reinjection", None)],
                         SOURCE)
        for injector in (e for e in items if isinstance(e, ReinjectionWell)):
            valves = [v.id for v in items if isinstance(v, Valve) and v.role == "reinjection"
                      and v.serves == injector.id]
            _chain(out, _chain(out, current, valves, SOURCE), [injector.id], SOURCE)

    # intermediate loops: an exchanger heats the evaporators of its stage's heat pumps
    for hx in exchangers:
        stage_units = [hp.id for hp in heat_pumps if hp.stage == hx.stage]
        if stage_units:
            loop = _chain(out, [hx.id], [p.id for p in _pumps(site, "source_circulation", hx.id)],
                          SOURCE)
            _chain(out, loop, stage_units, SOURCE)

    # borehole loops: out through the loop pumps to the heat pumps' evaporators and back
    for ground in (e for e in items if isinstance(e, CoaxialBorehole | BoreholeField)):
        sent = _chain(out, [ground.id],
                      [p.id for p in _pumps(site, "source_circulation", ground.id)], SOURCE)
        for hp in heat_pumps:
            own = [p.id for p in _pumps(site, "source_circulation", hp.id)]
            _chain(out, _chain(out, sent, own, SOURCE), [hp.id], SOURCE)
            out.append(Pipe(hp.id, ground.id, SOURCE, back=True))

    # user side: condensers and direct exchangers, their pumps, the network pumps, the network
    network = [e.id for e in items if isinstance(e, Network)]
    net = network[0] if network else None
    mains = [p.id for p in _pumps(site, "user_circulation", net)] if net else []
    ends = []
    for producer in [*direct, *heat_pumps]:
        own = [p.id for p in _pumps(site, "user_circulation", producer.id)]
        ends += _chain(out, [producer.id], own, USER)
    if net is not None:
        _chain(out, _chain(out, ends, mains, USER), [net], USER)
        _chain(out, [net], [e.id for e in items if isinstance(e, Substation)], USER)

    # make-up water from its treatment to what each make-up pump fills
    treated = [e.id for e in items if isinstance(e, WaterTreatment)
               and e.treatment in MAKEUP_TREATMENTS]
    for pump in (e for e in items if isinstance(e, Pump) and e.role == "makeup"):
        _chain(out, treated, [pump.id], MAKEUP)
        if pump.serves is not None:
            out.append(Pipe(pump.id, pump.serves, MAKEUP))
    unique = list(dict.fromkeys(out))
    return tuple(unique)


def route(start: MimicItem, end: MimicItem, circuit: str, *, back: bool = False
          ) -> tuple[tuple[float, float], ...]:
    """Right-angled segments from one symbol to another that run only in the gaps between
    columns and rows, never across a symbol."""
    gap_x, lane = COLUMN_W - BOX_W, LANE[circuit] + (3 if back else 0)
    sy, ey = start.y + BOX_H / 2 + lane / 2, end.y + BOX_H / 2 + lane / 2
    row_gap = end.y - GAP_Y / 2 + lane / 3
    if end.x > start.x:
        x0, x1, x2, x3 = (start.x + BOX_W, start.x + BOX_W + gap_x / 2 + lane,
                          end.x - gap_x / 2 + lane, end.x)
    elif end.x < start.x:
        x0, x1, x2, x3 = (start.x, start.x - gap_x / 2 + lane,
                          end.x + BOX_W + gap_x / 2 + lane, end.x + BOX_W)
    else:  # same column: out and back in on the right
        x0 = x3 = start.x + BOX_W
        x1 = x2 = start.x + BOX_W + gap_x / 2 + lane
    if x1 == x2:
        return ((x0, sy), (x1, sy), (x1, ey), (x3, ey))
    return ((x0, sy), (x1, sy), (x1, row_gap), (x2, row_gap), (x2, ey), (x3, ey))


def drawn_pipes(site: Site, mimic: Mimic) -> tuple[DrawnPipe, ...]:
    """Every pipe of the site routed between its symbols on the mimic."""
    placed = {item.equipment: item for item in mimic.items}
    drawn: list[DrawnPipe] = []
    for pipe in pipes(site):
        points = route(placed[pipe.start], placed[pipe.end], pipe.circuit, back=pipe.back)
        path = "M" + " L".join(f"{x:g},{y:g}" for x, y in points)
        drawn.append(DrawnPipe(pipe, path, points))
    return tuple(drawn)
