"""Heat-pump staging after ASHRAE Guideline 36, as a pure function of (state, readings, now).

The sequence follows the G36 plant blocks of the Modelica Buildings Library (CDL), with their
parameter defaults (:class:`plant.site.Staging`):

* the capacity requirement is averaged over ``capacity_average_s``;
* from no stage, a station whose heat pumps are its only source starts the first stage as soon
  as heat is asked for and the supply is short (G36's plant enable to the initial stage); with
  plate exchangers it stages up when what they leave to the heat pumps reaches the first
  stage's minimum output for ``efficiency_delay_s``, or when they alone leave the supply 2 K
  short for 600 s or 1 K for 1200 s (G36's economiser-only stage), and comes back to them when
  the requirement falls below the running stage's minimum output for ``efficiency_delay_s``;
* a stage is judged by what its units can give now (:func:`present_capacity_kw`): a unit held
  at its freezing guard gives the heat the water lets it, not its rating; a lower stage at most
  what its evaporators take down to their guard (:func:`capacity_at_guard_kw`);
* **stage up** when the current stage is unavailable (a unit tripped or was held out), when the
  operating part-load ratio (average requirement over the stage's capacity) stays above the
  stage's staging part-load ratio for ``efficiency_delay_s`` (*efficiency* condition: by
  default the load above which the next stage carries it on less electricity, at most the
  stage's full load; the site's ``plr_staging`` overrides it for every stage), or when
  the supply stays ``failsafe_dt_k`` short of its setpoint for ``failsafe_delay_s``
  (*failsafe*);
* **stage down** when the next lower stage would run below its staging part-load ratio minus
  the hysteresis (it carries the load on less electricity, with the hysteresis) for
  ``efficiency_delay_s`` and the failsafe is not true;
* each stage runs at least ``stage_runtime_min_s``;
* compressor protection: no unit starts more than ``compressor_starts_per_hour_max`` times in
  any hour, runs less than ``compressor_on_min_s`` or rests less than ``compressor_off_min_s``;
  a stage change those forbid waits, and says so;
* lead/lag rotation: among identical units the one with the least staging runtime leads, the
  one that alarmed most recently goes to the back, units held out by an operator are neither
  used nor commanded; a running unit hands over to an idle one once its staging runtime is
  ``rotation_runtime_s`` ahead; lifetime runtime is kept in the persisted state;
* the source's protective limit: each evaporator takes its design flow, so at the same heat
  the drop across a stage's evaporators goes inversely with their design flow
  (:func:`source_out_at`, from the measured inlet and outlet). No stage comes down that would
  leave the source below its limit (``source_out_min_c``, by default the lowest design water
  temperature of the units' fluid, :func:`source_limit_c`), and a source below it for
  ``efficiency_delay_s`` brings in the smallest stage that would lift it back above; when no
  stage would, none is added (the units' freezing guard stays the last protection). Without
  the inlet measured, a stage comes down only once the source is ``source_recovery_k`` above
  the limit, and a source below the limit adds the next stage.

Stages are combinations of the station's heat pumps (:func:`stage_table`): identical units are
interchangeable, so a stage is a count per kind of unit; each stage adds one unit to the one
below, in the order that carries every load from none to the station's capacity on the least
electricity (COP from :mod:`plant.models.heat_pump`, with the pumps that run with the units),
so big and small units mix only where that pays. Plate exchangers are not staged: they always
run first, and the requirement given here is what is left for the heat pumps.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from plant.models.borehole import FIELD_RB_MK_PER_W, heat_exchange_length_m
from plant.models.heat_pump import cop_from_rating
from plant.models.water import density_kg_m3, specific_heat_kj_per_kgk
from plant.site import LOWEST_WATER_K, BoreholeField, HeatPump, PlateExchanger, Pump, Site, Staging

HOUR_S = 3600.0
HELD_MARGIN_K = 0.2
"""A running unit whose evaporator leaves within this of its freezing guard is held there: it
has unloaded to the guard and gives what the water lets it, not its rating (the band in which
the station's PLC, too, reads a unit held at its guard, docs/simulator.md)."""


@dataclass(frozen=True)
class UnitKind:
    """Interchangeable heat pumps: same rating, compressor and cascade stage."""

    rating: HeatPump
    """The rating every unit of the kind shares."""
    units: tuple[HeatPump, ...]
    pumps_kw: float = 0.0
    """Rated power of the pumps that serve one unit of the kind and run with it."""


@dataclass(frozen=True)
class LoopPump:
    """A variable-speed pump of the evaporators' loop: a borehole loop, or the secondary of an
    exchanger that feeds a cascade stage's heat pumps. It slows to the design flow of the
    running evaporators it feeds, at most full speed and at least its minimum; its power is
    the cube of its speed ratio (affinity laws on a system curve through its rated point)."""

    rated_kw: float
    full_flow_m3h: float
    """The evaporators' design flow at which it runs at full speed."""
    kinds: tuple[int, ...]
    """The kinds of unit whose evaporators it feeds."""
    min_ratio: float = 0.0
    """Its minimum speed over its full speed."""

    def power_kw(self, kinds: Sequence[UnitKind], counts: Sequence[int]) -> float:
        """Its electricity while the stage ``counts`` runs (none when no unit it feeds runs)."""
        wanted = sum(kinds[i].rating.design_evaporator_flow_m3h * counts[i] for i in self.kinds)
        if wanted <= 0.0:
            return 0.0
        ratio = min(max(wanted / self.full_flow_m3h, self.min_ratio), 1.0)
        return self.rated_kw * ratio ** 3


@dataclass(frozen=True)
class Stage:
    """How many units of each kind run; ``counts`` follows :attr:`StageTable.kinds`."""

    counts: tuple[int, ...]
    capacity_kw: float
    plr_staging: float
    minimum_kw: float = 0.0
    """The least heat the stage gives: each unit at its minimum load (G36's minimum cycling
    load, ``uMinCap``)."""


@dataclass(frozen=True)
class GroundLoop:
    """The borehole fields a closed loop carries straight through the evaporators.

    The loops give the running evaporators' design flow, each field in proportion to its
    rated flow, at most its rated flow and at least what its pump gives at its minimum speed
    (as the station's PLC runs them); each evaporator takes its design flow, at most the
    loop's, and what the evaporators do not take passes them in the header's bypass. The
    fluid sees a borehole wall of uniform temperature through the fields' borehole
    resistance, so a field brings its inlet towards the wall by 1 − exp(−L/(Rb·C)) (the
    exact solution of the fluid's energy balance the ground model uses,
    :mod:`plant.models.borehole`). The fields' inlet is the evaporators' outlet mixed with
    the bypass, their outlet the evaporators' inlet.
    """

    fields: tuple[tuple[float, float, float], ...]
    """Each field's total borehole length (m), rated flow and least flow (m³/h)."""
    resistance_mk_per_w: float
    """The fields' borehole thermal resistance Rb (m·K/W)."""

    def flows_m3h(self, evaporators_m3h: float) -> tuple[float, ...]:
        """Each field's flow while evaporators of this design flow run (none: no flow)."""
        rated = sum(q for _, q, _ in self.fields)
        if evaporators_m3h <= 0.0 or rated <= 0.0:
            return tuple(0.0 for _ in self.fields)
        return tuple(min(max(evaporators_m3h * q / rated, least), q)
                     for _, q, least in self.fields)

    def conductance_kw_per_k(self, flows_m3h: Sequence[float], temp_c: float) -> float:
        """Heat the fields give per kelvin between the wall and the fluid entering them at
        these flows: Σ Cᵢ·(1 − exp(−Lᵢ/(Rb·Cᵢ)))."""
        total = 0.0
        for (length, _, _), flow in zip(self.fields, flows_m3h, strict=True):
            rate = _capacity_rate_kw_per_k(flow, temp_c)
            if rate > 0.0:
                total += rate * -math.expm1(-length / (self.resistance_mk_per_w * rate * 1e3))
        return total


@dataclass(frozen=True)
class _Loop:
    """A stage's loop: its evaporators' and the fields' capacity rates and the fields'
    conductance (kW/K)."""

    evaporators: float
    loop: float
    fields: float


def _loop_at(ground: GroundLoop, kinds: Sequence[UnitKind], counts: Sequence[int],
             temp_c: float) -> _Loop | None:
    design = _evaporator_flow(kinds, counts)
    flows = ground.flows_m3h(design)
    loop = sum(flows)
    if design <= 0.0 or loop <= 0.0:
        return None
    return _Loop(_capacity_rate_kw_per_k(min(design, loop), temp_c),
                 _capacity_rate_kw_per_k(loop, temp_c), ground.conductance_kw_per_k(flows, temp_c))


def _capacity_rate_kw_per_k(flow_m3h: float, temp_c: float) -> float:
    """Heat capacity rate of a stream of the loop's fluid (water's properties) in kW/K."""
    return (flow_m3h / 3600.0 * float(density_kg_m3(temp_c))
            * float(specific_heat_kj_per_kgk(temp_c)))


@dataclass(frozen=True)
class StageTable:
    """The station's stages, stage 0 (no heat pump) first, in increasing capacity."""

    kinds: tuple[UnitKind, ...]
    stages: tuple[Stage, ...]
    loops: tuple[LoopPump, ...] = ()
    ground: GroundLoop | None = None
    """The borehole fields the evaporators draw on straight, if any (:func:`ground_loop`)."""

    def kind_of(self, unit_id: str) -> int:
        """Index of the kind a unit belongs to."""
        for index, kind in enumerate(self.kinds):
            if any(u.id == unit_id for u in kind.units):
                return index
        raise KeyError(unit_id)


def _kind_key(hp: HeatPump) -> tuple[object, ...]:
    return (hp.stage, hp.rated_heat_kw, hp.rated_cop, hp.rated_source_out_temp_c,
            hp.rated_sink_out_temp_c, hp.min_load_pct, hp.compressor)


def stage_electricity_kw(kinds: Sequence[UnitKind], counts: Sequence[int], load_kw: float,
                         loops: Sequence[LoopPump] = ()) -> float:
    """Electricity of a stage carrying ``load_kw``, shared by rating, at its rated temperatures.

    Rated means what the plant gives the unit: the source entering its evaporator (the rated
    outlet plus the rated drop) and the sink leaving its condenser. Each evaporator takes its
    design flow, so at a load ratio below one the drop shrinks with it and the source leaves
    warmer (the heat taken from the source scaled as the heat given). The pumps that run
    with the stage count too: each unit's own and the borehole loops' (:class:`LoopPump`).
    """
    capacity = sum(k.rating.rated_heat_kw * n for k, n in zip(kinds, counts, strict=True))
    if capacity <= 0.0 or load_kw <= 0.0:
        return 0.0
    plr = min(max(load_kw / capacity, 1e-3), 1.0)
    power = 0.0
    for kind, n in zip(kinds, counts, strict=True):
        if n:
            hp = kind.rating
            source_out = hp.rated_source_out_temp_c + (1.0 - plr) * hp.rated_evaporator_dt_k
            cop = float(cop_from_rating(hp, source_out, hp.rated_sink_out_temp_c, plr))
            power += n * (hp.rated_heat_kw * plr / cop + kind.pumps_kw)
    return power + sum(loop.power_kw(kinds, counts) for loop in loops)


def _evaporator_flow(kinds: Sequence[UnitKind], counts: Sequence[int]) -> float:
    return sum(k.rating.design_evaporator_flow_m3h * n for k, n in zip(kinds, counts, strict=True))


def source_out_at(kinds: Sequence[UnitKind], counts: Sequence[int], other: Sequence[int],
                  source_in_c: float, source_out_c: float, *,
                  ground: GroundLoop | None = None) -> float | None:
    """The source leaving the evaporators if another stage took the same heat from it.

    Without a borehole field: each evaporator takes its design flow, so the stage's drop
    across them goes inversely with their design flow, the source taken to enter as it does
    now. On a closed loop through borehole fields (``ground``) the wall stays where the
    measured inlet, outlet and heat put it (:func:`wall_c`) and the other stage's loop flow
    changes what the fields return: they take the heat in at the wall less the heat over
    their conductance at that flow, and the evaporators cool it by the heat over their flow.
    None when either stage has no evaporator.
    """
    now, then = _evaporator_flow(kinds, counts), _evaporator_flow(kinds, other)
    if now <= 0.0 or then <= 0.0:
        return None
    if ground is None:
        return source_in_c - (source_in_c - source_out_c) * now / then
    mean = 0.5 * (source_in_c + source_out_c)
    running, other_loop = _loop_at(ground, kinds, counts, mean), _loop_at(ground, kinds, other,
                                                                           mean)
    wall = wall_c(ground, kinds, counts, source_in_c, source_out_c)
    if running is None or other_loop is None or wall is None or other_loop.fields <= 0.0:
        return None
    heat = running.evaporators * (source_in_c - source_out_c)
    return (wall - heat / other_loop.fields + heat / other_loop.loop
            - heat / other_loop.evaporators)


def wall_c(ground: GroundLoop, kinds: Sequence[UnitKind], counts: Sequence[int],
           source_in_c: float, source_out_c: float) -> float | None:
    """The borehole wall's temperature from the loop as the stage ``counts`` runs it now.

    The evaporators take flow × (inlet − outlet); the fields get that water back mixed with
    the bypass, the inlet less the heat over the loop's flow, and give the heat from a wall
    that much warmer than their inlet as their conductance at the loop's flow asks. Over the
    next minutes the wall does not move. None without flow.
    """
    mean = 0.5 * (source_in_c + source_out_c)
    loop = _loop_at(ground, kinds, counts, mean)
    if loop is None or loop.fields <= 0.0:
        return None
    heat = loop.evaporators * (source_in_c - source_out_c)
    return source_in_c - heat / loop.loop + heat / loop.fields


def source_limit_c(table: StageTable, params: Staging) -> float:
    """The source's protective limit: the site's, else the lowest design water temperature of
    the units' fluid (its freezing point plus 3 K, 004 L2370), the warmest of the units'."""
    if params.source_out_min_c is not None:
        return params.source_out_min_c
    return max((k.rating.source_freezing_point_c + LOWEST_WATER_K for k in table.kinds),
               default=LOWEST_WATER_K)


def held_at_guard(rating: HeatPump, reading: UnitReading) -> bool:
    """A running unit whose evaporator leaves at its freezing guard (within the margin)."""
    return (reading.running and reading.evaporator_out_c is not None
            and reading.evaporator_out_c <= rating.freeze_guard_c + HELD_MARGIN_K)


def present_capacity_kw(table: StageTable, state: StagingState, inputs: StagingInputs,
                        stage: Stage) -> float:
    """What the running stage can give now: each unit held at its freezing guard the heat it
    gives there, every other its rating (G36 judges a stage by its capacity; a held unit's
    is what the source lets it give)."""
    given = 0.0
    for kind, count in zip(table.kinds, stage.counts, strict=True):
        commanded = [u.id for u in kind.units if state.units.get(u.id, UnitRecord()).commanded]
        for unit_id in commanded[:count]:
            reading = inputs.units.get(unit_id)
            given += (reading.heat_kw if reading is not None and held_at_guard(kind.rating, reading)
                      else kind.rating.rated_heat_kw)
        given += kind.rating.rated_heat_kw * max(count - len(commanded), 0)
    return given


def capacity_at_guard_kw(table: StageTable, stage: Stage, lower: Stage, *, heat_kw: float,
                         source_in_c: float, source_out_c: float) -> float:
    """What another stage could give at present conditions: at most its rating, and no more
    heat than its evaporators can take with the source leaving at their freezing guard.

    The running stage gives ``heat_kw`` cooling the source from ``source_in_c`` to
    ``source_out_c`` over its evaporators' flow; the other stage may cool the source to the
    guard, and gives heat in proportion to the heat its evaporators would take against what
    the running ones take (the units' COP taken as the running ones', an assumption). Where
    the evaporators draw on borehole fields (``table.ground``) the wall stays as the loop
    shows it now (:func:`wall_c`) and the other stage's evaporators take the fields'
    conductance at their loop flow times (wall − guard): with fewer evaporators the loop
    flows slower and the fields return the water warmer. Without fields the source is taken
    to enter as now (:func:`source_out_at`): the other stage's design flow times (inlet −
    guard).
    """
    now, then = (_evaporator_flow(table.kinds, stage.counts),
                 _evaporator_flow(table.kinds, lower.counts))
    drop = source_in_c - source_out_c
    if now <= 0.0 or then <= 0.0 or drop <= 0.0 or heat_kw <= 0.0:
        return lower.capacity_kw
    guard = max(k.rating.freeze_guard_c for k, n in zip(table.kinds, lower.counts, strict=True)
                if n)
    ground = table.ground
    if ground is None:
        room = source_in_c - guard
        return min(lower.capacity_kw, max(heat_kw * room / drop * then / now, 0.0))
    mean = 0.5 * (source_in_c + source_out_c)
    running = _loop_at(ground, table.kinds, stage.counts, mean)
    other = _loop_at(ground, table.kinds, lower.counts, mean)
    wall = wall_c(ground, table.kinds, stage.counts, source_in_c, source_out_c)
    if running is None or other is None or wall is None:
        return lower.capacity_kw
    # the other stage's evaporators leave at the guard: Q = G·(wall − field inlet), the field
    # inlet the guard plus Q/C_evaporators less Q/C_loop (the bypass mixed back in)
    taken = other.fields * (wall - guard) / (
        1.0 + other.fields * (1.0 / other.evaporators - 1.0 / other.loop))
    return min(lower.capacity_kw,
               max(heat_kw * taken / (running.evaporators * drop), 0.0))


def stage_table(site: Site, params: Staging) -> StageTable:
    """Stages from the site's heat pumps in increasing capacity, one more unit each.

    Each stage's staging part-load ratio is its crossover to the next (:func:`crossover_kw`)
    over its capacity, or the site's ``plr_staging``. Of every order in which the units can be
    added, the one taken carries the loads from none to the station's capacity, each load
    weighted alike and carried by the stage that staging runs at it, on the least electricity
    (:func:`stage_electricity_kw`); at equal electricity the first order found (kinds in the
    site's order) is kept.
    """
    groups: dict[tuple[object, ...], list[HeatPump]] = {}
    for item in site.equipment:
        if isinstance(item, HeatPump):
            groups.setdefault(_kind_key(item), []).append(item)
    pumps = [p for p in site.equipment if isinstance(p, Pump)]
    kinds = tuple(UnitKind(units[0], tuple(units),
                           sum(p.rated_kw for p in pumps if p.serves == units[0].id))
                  for units in groups.values())
    return replace(_chained(kinds, params, _loop_pumps(site, kinds, pumps)),
                   ground=ground_loop(site))


def ground_loop(site: Site) -> GroundLoop | None:
    """The site's borehole fields, where the loop carries them straight through the
    evaporators in heating (no exchanger isolates the units); None otherwise."""
    fields = [f for f in site.equipment if isinstance(f, BoreholeField)]
    isolated = {h.stage for h in site.equipment if isinstance(h, HeatPump)} & {
        x.stage for x in site.equipment if isinstance(x, PlateExchanger)}
    if not fields or isolated:
        return None
    pumps = [p for p in site.equipment if isinstance(p, Pump) and p.role == "source_circulation"]

    def least(field: BoreholeField) -> float:
        # a field's loop pump slows to the evaporators' flow, not below its minimum speed
        own = [p.rated_flow_m3h * (p.min_speed_hz / p.max_speed_hz if p.vfd else 1.0)
               for p in pumps if p.serves == field.id]
        return min(min(own, default=0.0), field.rated_flow_m3h)

    return GroundLoop(tuple((heat_exchange_length_m(f), f.rated_flow_m3h, least(f))
                            for f in fields), FIELD_RB_MK_PER_W)


def _loop_pumps(site: Site, kinds: Sequence[UnitKind],
                pumps: Sequence[Pump]) -> tuple[LoopPump, ...]:
    """The pumps whose speed follows the running evaporators (as the station's PLC runs them)."""
    fields = {f.id for f in site.equipment if isinstance(f, BoreholeField)}
    exchangers = {x.id: x.stage for x in site.equipment if isinstance(x, PlateExchanger)}
    every = tuple(range(len(kinds)))
    design = sum(k.rating.design_evaporator_flow_m3h * len(k.units) for k in kinds)
    loops = [p for p in pumps if p.role == "source_circulation" and p.serves in fields]
    rated = sum(p.rated_flow_m3h for p in loops)
    # the borehole loops share the running evaporators' design flow by their rated flows, each
    # pump at least at its minimum speed
    found = [LoopPump(p.rated_kw, rated, every,
                      p.min_speed_hz / p.max_speed_hz if p.vfd else 1.0)
             for p in loops] if design > 0 else []
    for pump in pumps:
        stage = exchangers.get(pump.serves or "")
        fed = tuple(i for i, k in enumerate(kinds) if k.rating.stage == stage)
        if stage is not None and fed:
            full = sum(kinds[i].rating.design_evaporator_flow_m3h * len(kinds[i].units)
                       for i in fed)
            floor = pump.min_speed_hz / pump.max_speed_hz if pump.vfd else 1.0
            found.append(LoopPump(pump.rated_kw, full, fed, floor))
    return tuple(found)


def crossover_kw(kinds: Sequence[UnitKind], counts: Sequence[int], above: Sequence[int],
                 capacity_kw: float, loops: Sequence[LoopPump] = ()) -> float:
    """The least load at which the ``above`` stage carries it on no more electricity than the
    ``counts`` stage, at most the latter's ``capacity_kw`` (its full load, where it is the
    cheaper one all the way).

    Found by bisection on the difference of :func:`stage_electricity_kw`: with part-load
    degradation the bigger stage's standing power makes it dearer at low load, and the
    smaller stage's approaches, widening with its load ratio, make it dearer near full load.
    """
    def cheaper(load: float) -> bool:
        return (stage_electricity_kw(kinds, above, load, loops)
                <= stage_electricity_kw(kinds, counts, load, loops))

    if not cheaper(capacity_kw):
        return capacity_kw
    low, high = 0.0, capacity_kw
    while high - low > 1e-6 * capacity_kw:
        middle = 0.5 * (low + high)
        if cheaper(middle):
            high = middle
        else:
            low = middle
    return high


def _orders(remaining: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every order in which the units can be added, one at a time, as kind indices."""
    if not any(remaining):
        return [()]
    return [(index, *rest) for index, left in enumerate(remaining) if left
            for rest in _orders(tuple(n - (i == index) for i, n in enumerate(remaining)))]


@functools.lru_cache(maxsize=64)
def _chained(kinds: tuple[UnitKind, ...], params: Staging,
             loops: tuple[LoopPump, ...] = ()) -> StageTable:
    return _cheapest_by_pairs(kinds, params, loops)


def order_count(full: Sequence[int]) -> int:
    """How many orders the units can be added in (a multinomial coefficient)."""
    count, placed = 1, 0
    for n in full:
        for i in range(1, n + 1):
            placed += 1
            count = count * placed // i
    return count


def _stage(kinds: Sequence[UnitKind], params: Staging, counts: tuple[int, ...],
           plr_staging: float) -> Stage:
    capacity = sum(k.rating.rated_heat_kw * n for k, n in zip(kinds, counts, strict=True))
    minimum = sum(k.rating.rated_heat_kw * k.rating.min_load_pct / 100.0 * n
                  for k, n in zip(kinds, counts, strict=True))
    # an explicit SPLR is G36's one plrSta for every heat-pump stage
    return Stage(counts, capacity,
                 plr_staging if params.plr_staging is None else params.plr_staging, minimum)


def _handed_up_kw(kinds: Sequence[UnitKind], params: Staging, loops: Sequence[LoopPump],
                  counts: tuple[int, ...], above: tuple[int, ...] | None) -> float:
    """The load up to which a stage carries before the next takes over: its crossover with
    the next (its SPLR × capacity where the site sets one), its capacity at the top."""
    capacity = _stage(kinds, params, counts, 1.0).capacity_kw
    if above is None:
        return capacity
    if params.plr_staging is not None:
        return params.plr_staging * capacity
    return crossover_kw(kinds, counts, above, capacity, loops)


def _carried_kwh(kinds: Sequence[UnitKind], loops: Sequence[LoopPump], counts: tuple[int, ...],
                 handed: float, upto: float) -> float:
    """The electricity of every load from ``handed`` to ``upto`` on this stage, each load
    weighted alike."""
    width = (max(upto, handed) - handed) / _LOAD_POINTS
    return sum(stage_electricity_kw(kinds, counts, handed + (j + 0.5) * width, loops)
               for j in range(_LOAD_POINTS)) * width


def cheapest_of_every_order(kinds: tuple[UnitKind, ...], params: Staging,
                            loops: tuple[LoopPump, ...] = ()) -> StageTable:
    """The reference search: every order of adding the units priced, the cheapest kept.

    :func:`_cheapest_by_pairs`, which builds the tables, is checked against it; it grows with
    the factorial of the units (:func:`order_count`), so only tests and benchmarks run it."""
    best: tuple[float, tuple[Stage, ...]] | None = None
    for order in _orders(tuple(len(k.units) for k in kinds)):
        chain = [tuple(0 for _ in kinds)]
        for index in order:
            chain.append(tuple(n + (i == index) for i, n in enumerate(chain[-1])))
        stages = [_stage(kinds, params, chain[0], 1.0)]
        energy, handed = 0.0, 0.0
        for counts, above in itertools.zip_longest(chain[1:], chain[2:]):
            upto = _handed_up_kw(kinds, params, loops, counts, above)
            stages.append(_stage(kinds, params, counts,
                                 upto / _stage(kinds, params, counts, 1.0).capacity_kw))
            energy += _carried_kwh(kinds, loops, counts, handed, upto)
            handed = max(upto, handed)
        if best is None or energy < best[0] - 1e-9 * abs(best[0]):
            best = (energy, tuple(stages))
    assert best is not None
    return StageTable(kinds, best[1], loops)


def _cheapest_by_pairs(kinds: tuple[UnitKind, ...], params: Staging,
                       loops: tuple[LoopPump, ...]) -> StageTable:
    """The chain of least electricity over every load, found stage by stage.

    A stage carries the loads from the highest hand-over below it to its own hand-over to the
    next, which depends only on it and the next: so the cheapest rest of a chain depends only
    on the stage reached and the load it takes over at, and each such pair is priced once
    (dynamic programming over the counts) instead of every order, with the exhaustive
    search's objective.
    """
    full = tuple(len(k.units) for k in kinds)

    def nexts(counts: tuple[int, ...]) -> list[tuple[int, ...]]:
        return [tuple(n + (i == k) for i, n in enumerate(counts))
                for k in range(len(kinds)) if counts[k] < full[k]]

    handover = functools.cache(functools.partial(_handed_up_kw, kinds, params, loops))

    @functools.cache
    def rest(counts: tuple[int, ...], handed: float
             ) -> tuple[float, tuple[tuple[tuple[int, ...], float], ...]]:
        """The least electricity of stage ``counts``, taking over at ``handed``, and those
        above it, and the chain with each stage's hand-over."""
        if counts == full:
            upto = handover(counts, None)
            return _carried_kwh(kinds, loops, counts, handed, upto), ((counts, upto),)
        best: tuple[float, tuple[tuple[tuple[int, ...], float], ...]] | None = None
        for above in nexts(counts):
            upto = handover(counts, above)
            energy, chain = rest(above, max(upto, handed))
            energy += _carried_kwh(kinds, loops, counts, handed, upto)
            if best is None or energy < best[0] - 1e-9 * abs(best[0]):
                best = (energy, ((counts, upto), *chain))
        assert best is not None
        return best

    none = tuple(0 for _ in kinds)
    best: tuple[float, tuple[tuple[tuple[int, ...], float], ...]] | None = None
    for first in nexts(none):
        energy, chain = rest(first, 0.0)
        if best is None or energy < best[0] - 1e-9 * abs(best[0]):
            best = (energy, chain)
    assert best is not None
    stages = [_stage(kinds, params, none, 1.0)] + [
        _stage(kinds, params, counts, upto / _stage(kinds, params, counts, 1.0).capacity_kw)
        for counts, upto in best[1]]
    return StageTable(kinds, tuple(stages), loops)


_LOAD_POINTS = 32
"""Loads per stage at which the chain's electricity is summed (midpoints)."""


@dataclass(frozen=True)
class UnitReading:
    """What the plant says of one heat pump now."""

    running: bool
    available: bool
    """False when the unit is faulted, tripped or cannot be read."""
    heat_kw: float = 0.0
    commanded: bool | None = None
    """The run command the unit holds now, if it can be read (taken over as it is)."""
    evaporator_out_c: float | None = None
    """Its evaporator's leaving water, if measured (whether it is held at its freezing guard)."""


@dataclass(frozen=True)
class StagingInputs:
    """One step's measurements: requirement, supply, plant enable, units and source."""

    now_s: float
    required_kw: float
    """Heat the heat pumps must give now: network flow × (setpoint − return), less exchangers."""
    supply_c: float
    supply_setpoint_c: float
    heating: bool
    """The plant is enabled: comfort heating, or the anti-freeze guard in or out of season."""
    units: Mapping[str, UnitReading]
    source_out_c: float | None = None
    """The source leaving the evaporators (borehole return, well water), if measured."""
    exchangers_short_k: float | None = None
    """How far short of setpoint the direct exchangers alone would leave the supply (None on a
    station without them)."""
    lineup: frozenset[str] | None = None
    """The heat pumps the plant's line-up lets run now (the anti-freeze guard heating alone,
    :func:`plant.heating.guard_units`); None: every unit."""
    source_in_c: float | None = None
    """The source entering the running evaporators, if measured."""


@dataclass
class UnitRecord:
    """What staging remembers of one heat pump; persisted so a restart keeps runtimes."""

    lifetime_runtime_s: float = 0.0
    staging_runtime_s: float = 0.0
    running: bool = False
    commanded: bool = False
    last_start_s: float | None = None
    last_stop_s: float | None = None
    starts_s: list[float] = field(default_factory=list)
    alarmed_s: float | None = None
    held_out: bool = False


@dataclass
class StagingState:
    """Staging's memory between steps (JSON-serialisable with :meth:`to_json`)."""

    stage: int = 0
    stage_since_s: float = -math.inf
    last_s: float | None = None
    requirement: list[tuple[float, float]] = field(default_factory=list)
    held_kw: float | None = None
    """The requirement held at the last stage change (G36 ``hol``), while it holds."""
    held_until_s: float = -math.inf
    efficiency_since_s: float | None = None
    failsafe_since_s: float | None = None
    down_since_s: float | None = None
    source_low_since_s: float | None = None
    small_short_since_s: float | None = None
    large_short_since_s: float | None = None
    waiting: str = ""
    units: dict[str, UnitRecord] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The state as plain JSON values (infinite times as None)."""
        data = asdict(self)
        for key in _TIMES:
            if math.isinf(data[key]):
                data[key] = None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StagingState:
        """Read back :meth:`to_json`."""
        units = {k: UnitRecord(**v) for k, v in data.get("units", {}).items()}
        fields = {k: v for k, v in data.items() if k != "units"}
        for key in _TIMES:
            fields[key] = -math.inf if fields.get(key) is None else float(fields[key])
        fields["requirement"] = [tuple(p) for p in fields.get("requirement", [])]
        return cls(**fields, units=units)


_TIMES = ("stage_since_s", "held_until_s")
"""Moments that are minus infinity until they first happen (None in JSON)."""


@dataclass(frozen=True)
class Decision:
    """A staging decision with the condition that fired and the values behind it."""

    condition: str
    stage_from: int
    stage_to: int
    start: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    values: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""


def hold_out(state: StagingState, unit_id: str, held: bool) -> None:
    """An operator takes a unit out of automatic staging (or gives it back); staging then
    neither counts on it nor commands it."""
    record = state.units.setdefault(unit_id, UnitRecord())
    record.held_out = held
    record.commanded = False


def reset_staging_runtime(state: StagingState, unit_id: str) -> None:
    """An operator resets a unit's staging runtime (its lifetime runtime stays)."""
    state.units.setdefault(unit_id, UnitRecord()).staging_runtime_s = 0.0


def _since(mark: float | None, condition: bool, now: float) -> float | None:
    if not condition:
        return None
    return now if mark is None else mark


def _held(mark: float | None, now: float, delay: float) -> bool:
    return mark is not None and now - mark >= delay


def can_start(record: UnitRecord, now: float, params: Staging) -> bool:
    """Compressor protection allows a start: rested long enough, starts left in this hour."""
    if record.last_stop_s is not None and now - record.last_stop_s < params.compressor_off_min_s:
        return False
    recent = [t for t in record.starts_s if now - t < HOUR_S]
    return len(recent) < params.compressor_starts_per_hour_max


def can_stop(record: UnitRecord, now: float, params: Staging) -> bool:
    """Compressor protection allows a stop: the unit has run its minimum on time."""
    return record.last_start_s is None or now - record.last_start_s >= params.compressor_on_min_s


def _observe(state: StagingState, inputs: StagingInputs, params: Staging) -> None:
    now = inputs.now_s
    dt = 0.0 if state.last_s is None else max(now - state.last_s, 0.0)
    state.last_s = now
    for unit_id, reading in inputs.units.items():
        record = state.units.setdefault(unit_id, UnitRecord(
            running=reading.running,
            commanded=reading.running if reading.commanded is None else reading.commanded))
        if record.running:
            record.lifetime_runtime_s += dt
            record.staging_runtime_s += dt
        if reading.running and not record.running and not (
                record.last_start_s is not None and now - record.last_start_s
                < params.compressor_on_min_s):
            record.last_start_s = now  # a start staging did not command (local logic, hand)
            record.starts_s.append(now)
        if record.running and not reading.running and not (
                record.last_stop_s is not None and now - record.last_stop_s
                < params.compressor_off_min_s):
            record.last_stop_s = now  # a stop staging did not command (trip, local logic)
        record.running = reading.running
        record.starts_s = [t for t in record.starts_s if now - t < HOUR_S]
        if not reading.available:
            record.alarmed_s = now
    state.requirement.append((now, inputs.required_kw))
    state.requirement = [(t, kw) for t, kw in state.requirement
                         if now - t < params.capacity_average_s]


def average_requirement_kw(state: StagingState) -> float:
    """Mean of the capacity requirement over the averaging window."""
    if not state.requirement:
        return 0.0
    return sum(kw for _, kw in state.requirement) / len(state.requirement)


def rotation_order(state: StagingState, units: Sequence[str], now: float,
                   params: Staging) -> list[str]:
    """Units in lead-first order: least staging runtime leads, a recent alarm goes last."""
    def key(unit_id: str) -> tuple[bool, float, float]:
        record = state.units.get(unit_id, UnitRecord())
        when = record.alarmed_s
        alarmed = when is not None and now - when < params.rotation_runtime_s
        return alarmed, when if alarmed and when is not None else 0.0, record.staging_runtime_s
    return sorted(units, key=key)


def _usable(state: StagingState, inputs: StagingInputs, unit_id: str) -> bool:
    reading = inputs.units.get(unit_id)
    record = state.units.get(unit_id, UnitRecord())
    return (reading is not None and reading.available and not record.held_out
            and (inputs.lineup is None or unit_id in inputs.lineup))


def _available(table: StageTable, stage: Stage, state: StagingState,
               inputs: StagingInputs) -> bool:
    """Enough usable units of each kind for the stage (protection timers aside)."""
    return all(sum(1 for u in kind.units if _usable(state, inputs, u.id)) >= count
               for kind, count in zip(table.kinds, stage.counts, strict=True))


def assign(table: StageTable, stage: Stage, state: StagingState, inputs: StagingInputs,
           params: Staging) -> tuple[frozenset[str] | None, str]:
    """Units to run for a stage, keeping running ones; None and why if protection forbids."""
    now = inputs.now_s
    chosen: set[str] = set()
    for kind, count in zip(table.kinds, stage.counts, strict=True):
        ids = [u.id for u in kind.units if _usable(state, inputs, u.id)]
        ordered = rotation_order(state, ids, now, params)
        running = [u for u in ordered if state.units[u].running]
        idle = [u for u in ordered if not state.units[u].running]
        if len(ids) < count:
            return None, f"{len(ids)} of {count} {kind.rating.id}-type units available"
        if len(running) >= count:
            stuck = [u for u in running if not can_stop(state.units[u], now, params)]
            if len(stuck) > count:
                return None, f"minimum on time of {', '.join(stuck)}"
            free = [u for u in running if u not in stuck]
            chosen.update(stuck + free[:count - len(stuck)])
        else:
            startable = [u for u in idle if can_start(state.units[u], now, params)]
            need = count - len(running)
            if len(startable) < need:
                return None, (f"compressor protection (minimum off time or starts per hour) "
                              f"of {', '.join(u for u in idle if u not in startable)}")
            chosen.update(running + startable[:need])
    return frozenset(chosen), ""


def _commands(state: StagingState, run: frozenset[str], table: StageTable,
              inputs: StagingInputs) -> tuple[tuple[str, ...], tuple[str, ...]]:
    owned = [u.id for kind in table.kinds for u in kind.units
             if not state.units.get(u.id, UnitRecord()).held_out]
    if inputs.lineup is not None:  # units the line-up leaves out are stopped, not forgotten
        owned += [u for u in inputs.units if u not in inputs.lineup and u not in owned
                  and not state.units.get(u, UnitRecord()).held_out]
    start = tuple(u for u in owned if u in run and not state.units[u].commanded)
    stop = tuple(u for u in owned if u not in run and (
        state.units.get(u, UnitRecord()).commanded
        or (inputs.units.get(u) is not None and inputs.units[u].running)))
    return start, stop


def _apply(state: StagingState, run: frozenset[str], start: Sequence[str],
           stop: Sequence[str], now: float) -> None:
    for unit_id in start:
        record = state.units[unit_id]
        record.commanded = True
        record.last_start_s = now
        record.starts_s.append(now)
    for unit_id in stop:
        record = state.units.setdefault(unit_id, UnitRecord())
        if record.commanded or record.running:
            record.last_stop_s = now  # rests from now, even if it had not begun to heat
        record.commanded = False
    for unit_id, record in state.units.items():
        if unit_id in run:
            record.commanded = True


def _change(state: StagingState, table: StageTable, inputs: StagingInputs, params: Staging,
            target: int, *, condition: str, values: dict[str, float],
            detail: str) -> list[Decision]:
    run, why = assign(table, table.stages[target], state, inputs, params)
    if run is None:
        waiting = f"{condition} to stage {target} waits: {why}"
        if waiting == state.waiting:
            return []
        state.waiting = waiting
        return [Decision("waiting", state.stage, target, values=values, detail=waiting)]
    start, stop = _commands(state, run, table, inputs)
    decision = Decision(condition, state.stage, target, start, stop, values, detail)
    _apply(state, run, start, stop, inputs.now_s)
    if target != state.stage:
        state.stage_since_s = inputs.now_s
        state.efficiency_since_s = state.failsafe_since_s = state.down_since_s = None
        # G36 holds the requirement at its value of the change for dtRun: the new stage's
        # own flow and temperatures take that long to show what it really needs
        state.held_kw = average_requirement_kw(state)
        state.held_until_s = inputs.now_s + params.efficiency_delay_s
    state.stage = target
    state.waiting = ""
    return [decision] if start or stop or decision.stage_from != target else []


def _adopt(table: StageTable, state: StagingState) -> None:
    """The stage the commanded units make (so a take-over is bumpless)."""
    counts = [sum(1 for u in kind.units if state.units.get(u.id, UnitRecord()).commanded)
              for kind in table.kinds]
    capacity = sum(k.rating.rated_heat_kw * n for k, n in zip(table.kinds, counts, strict=True))
    exact = [i for i, s in enumerate(table.stages) if list(s.counts) == counts]
    state.stage = exact[0] if exact else min(
        range(len(table.stages)), key=lambda i: abs(table.stages[i].capacity_kw - capacity))


def step(table: StageTable, state: StagingState, inputs: StagingInputs,
         params: Staging) -> list[Decision]:
    """Advance staging by one observation; updates ``state`` and returns what it decided."""
    now = inputs.now_s
    _observe(state, inputs, params)
    full = table
    ids = {u.id for kind in table.kinds for u in kind.units}
    usable = {u for u in ids if _usable(state, inputs, u)}
    if usable != ids:
        # stages from the units at hand: a held-out or alarmed unit leaves no hole in them
        table = replace(_chained(tuple(UnitKind(k.rating, tuple(u for u in k.units
                                                                if u.id in usable),
                                                k.pumps_kw) for k in table.kinds),
                                 params, table.loops), ground=table.ground)
    _adopt(table, state)
    average = average_requirement_kw(state)
    if state.held_kw is not None and now < state.held_until_s:
        average = state.held_kw
    else:
        state.held_kw = None
    stage = table.stages[state.stage]
    values = {"required_kw": round(average, 1), "capacity_kw": stage.capacity_kw,
              "supply_c": round(inputs.supply_c, 2),
              "supply_setpoint_c": round(inputs.supply_setpoint_c, 2)}

    def go(target: int, condition: str, detail: str) -> list[Decision]:
        return _change(state, table, inputs, params, target, condition=condition, values=values,
                       detail=detail)

    if not inputs.heating:
        state.efficiency_since_s = state.failsafe_since_s = state.down_since_s = None
        if state.stage == 0 and not any(r.commanded for r in state.units.values()):
            return []
        return go(0, "plant_off", "the plant is off (season, schedule, anti-freeze guard at rest)")
    top = len(table.stages) - 1
    up = next((i for i in range(state.stage + 1, top + 1)
               if _available(table, table.stages[i], state, inputs)), state.stage)
    down = next((i for i in range(state.stage - 1, -1, -1)
                 if _available(table, table.stages[i], state, inputs)), state.stage)
    short = inputs.supply_c < inputs.supply_setpoint_c - params.failsafe_dt_k
    state.failsafe_since_s = _since(state.failsafe_since_s, short and up > state.stage, now)
    present = present_capacity_kw(table, state, inputs, stage)
    held = any(held_at_guard(kind.rating, inputs.units[u.id]) for kind in table.kinds
               for u in kind.units if u.id in inputs.units
               and state.units.get(u.id, UnitRecord()).commanded)
    given = sum(r.heat_kw for r in inputs.units.values() if r.running)
    if present < stage.capacity_kw:
        values["present_capacity_kw"] = round(present, 1)
    plr = average / present if present > 0 else (math.inf if average > 0 else 0.0)
    values["plr"] = round(plr, 3) if math.isfinite(plr) else 99.0
    on_exchangers = state.stage == 0 and inputs.exchangers_short_k is not None
    if on_exchangers:
        # the exchangers' stage: the first heat-pump stage is wanted once what the exchangers
        # leave reaches its minimum output, so that it runs without over-supplying
        efficient = up > 0 and average >= table.stages[up].minimum_kw
    else:
        efficient = plr > stage.plr_staging and up > state.stage
    state.efficiency_since_s = _since(state.efficiency_since_s, efficient, now)

    def carry(lower: Stage) -> bool:
        """The lower stage would carry the averaged requirement with what it can give at
        present conditions (:func:`capacity_at_guard_kw`); with a unit held now and the
        evaporators' inlet not read that is unknown, and it is not judged to."""
        if lower.capacity_kw > 0:
            if inputs.source_in_c is None or inputs.source_out_c is None:
                if held:
                    return False
                gives = lower.capacity_kw
            else:
                gives = capacity_at_guard_kw(table, stage, lower, heat_kw=given,
                                             source_in_c=inputs.source_in_c,
                                             source_out_c=inputs.source_out_c)
            return gives > 0 and average / gives < lower.plr_staging - params.plr_hysteresis
        if inputs.exchangers_short_k is not None:
            # at its minimum output the stage could only over-supply what the exchangers leave
            return average < stage.minimum_kw
        return average <= 0.0

    carries = down < state.stage and carry(table.stages[down])
    limit = source_limit_c(table, params)
    source_low = inputs.source_out_c is not None and inputs.source_out_c < limit

    def source_keeps(target: int) -> bool:
        """The target stage would leave the source at or above its limit (predicted from
        the evaporators' inlet where it is measured, else the source recovered by
        ``source_recovery_k``)."""
        if inputs.source_out_c is None:
            return True
        if inputs.source_in_c is None:
            return inputs.source_out_c >= limit + params.source_recovery_k
        then = source_out_at(table.kinds, stage.counts, table.stages[target].counts,
                             inputs.source_in_c, inputs.source_out_c, ground=table.ground)
        return then is None or then >= limit

    state.down_since_s = _since(
        state.down_since_s, carries and not short and source_keeps(down), now)
    state.source_low_since_s = _since(state.source_low_since_s, source_low, now)
    if inputs.source_out_c is not None:
        values["source_out_c"] = round(inputs.source_out_c, 2)

    if not all(_usable(state, inputs, u) for u, r in state.units.items()
               if r.commanded and not r.held_out):
        wanted = sum(full.kinds[full.kind_of(u)].rating.rated_heat_kw
                     for u, r in state.units.items() if r.commanded and not r.held_out
                     and u in ids)
        above = next((i for i, s in enumerate(table.stages) if s.capacity_kw >= wanted), top)
        for target in (*range(above, top + 1), *range(above - 1, -1, -1)):
            if assign(table, table.stages[target], state, inputs, params)[0] is not None:
                return go(target, "unavailable",
                          "a unit of the stage tripped, alarmed, was held out or left "
                          "the line-up")
    settled = now - state.stage_since_s >= params.stage_runtime_min_s
    if source_low and settled and up > state.stage and _held(
            state.source_low_since_s, now, params.efficiency_delay_s):
        # the smallest stage whose evaporators' flow would bring the source back above its
        # limit; none when no stage would (the units' freezing guard then holds them)
        protect = up if inputs.source_in_c is None else next(
            (i for i in range(up, top + 1)
             if _available(table, table.stages[i], state, inputs) and source_keeps(i)), None)
        if protect is not None:
            return go(protect, "source_protection",
                      f"source below its protective {limit:g} °C: more evaporator flow "
                      "shares the extraction")
    shortfall = inputs.supply_setpoint_c - inputs.supply_c
    state.small_short_since_s = _since(
        state.small_short_since_s, on_exchangers and shortfall >= params.exchanger_small_dt_k, now)
    state.large_short_since_s = _since(
        state.large_short_since_s, on_exchangers and shortfall >= params.exchanger_large_dt_k, now)
    if settled and not source_low and up > state.stage and on_exchangers:
        if _held(state.efficiency_since_s, now, params.efficiency_delay_s):
            return go(up, "exchangers_short",
                      f"the exchangers leave {average:.0f} kW to the heat pumps, at least the "
                      f"{table.stages[up].minimum_kw:g} kW stage {up} gives at its minimum")
        if _held(state.large_short_since_s, now, params.exchanger_short_delay_s) or _held(
                state.small_short_since_s, now, params.exchanger_long_delay_s):
            return go(up, "exchangers_short",
                      f"the exchangers alone leave the supply {shortfall:.1f} K short")
    elif (state.stage == 0 and up > 0 and inputs.exchangers_short_k is None
          and inputs.required_kw > 0 and shortfall > 0):
        # no exchangers: the plant enabled with heat asked for starts its first stage at once
        return go(up, "enable", f"heat asked for, supply {shortfall:.1f} K short")
    elif settled and up > state.stage:
        if _held(state.failsafe_since_s, now, params.failsafe_delay_s):
            return go(up, "failsafe",
                      f"supply {params.failsafe_dt_k:g} K short of its setpoint for "
                      f"{params.failsafe_delay_s:g} s")
        if _held(state.efficiency_since_s, now, params.efficiency_delay_s):
            return go(up, "efficiency",
                      f"part-load ratio above {stage.plr_staging:g} for "
                      f"{params.efficiency_delay_s:g} s")
    if settled and down < state.stage and _held(state.down_since_s, now,
                                                params.efficiency_delay_s):
        return go(down, "stage_down", "the next lower stage carries the load" if down or (
            inputs.exchangers_short_k is None) else "at its minimum the stage would over-supply "
            "what the exchangers leave")
    return _rotate(table, state, inputs, params, values)


def _rotate(table: StageTable, state: StagingState, inputs: StagingInputs, params: Staging,
            values: dict[str, float]) -> list[Decision]:
    now = inputs.now_s
    for kind in table.kinds:
        ids = [u.id for u in kind.units if _usable(state, inputs, u.id)]
        running = [u for u in ids if state.units[u].commanded]
        idle = [u for u in rotation_order(state, ids, now, params)
                if not state.units[u].commanded and can_start(state.units[u], now, params)]
        for runner in sorted(running, key=lambda u: -state.units[u].staging_runtime_s):
            if not idle or not can_stop(state.units[runner], now, params):
                continue
            fresh = idle[0]
            lead = state.units[runner].staging_runtime_s - state.units[fresh].staging_runtime_s
            if lead >= params.rotation_runtime_s:
                run = frozenset(u for u, r in state.units.items()
                                if r.commanded and u != runner) | {fresh}
                _apply(state, run, (fresh,), (runner,), now)
                return [Decision("rotation", state.stage, state.stage, (fresh,), (runner,),
                                 {**values, "staging_runtime_h": round(lead / HOUR_S, 1)},
                                 f"{runner} leads {fresh} by "
                                 f"{params.rotation_runtime_s / HOUR_S:g} h of staging runtime")]
    return []
