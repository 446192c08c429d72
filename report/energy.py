"""Energy and carbon report (pure): heat, electricity by consumer, COP/SCOP at stated
boundaries, standard coal substituted per comparison source, emissions avoided, kgce/GJ and
cost per m², with the availability of every meter, month by month."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from plant.models.coal import electricity_kgce, emissions_t
from plant.models.kpi import avoided
from plant.models.plan import ELECTRICITY_PRICE_CNY_PER_KWH
from plant.site import ElectricityMeter, HeatMeter, HeatPump, ProductionWell, Pump, Site
from report.inputs import MeterHours, MeterTotal
from report.model import Cell, Plot, Report, Table, figure
from report.periods import ReportPeriod
from report.reinjection import _blocks as blocks_of
from report.reinjection import fill_by_month
from report.substitution import MEASURED, Tier, tier_of

EQUIVALENT_KGCE_PER_KWH = 0.1229
"""Equivalent value (当量值) of electricity: 1.229 tce per 10⁴ kWh (003 L3381)."""

GJ_PER_UNIT = {"GJ": 1.0, "MJ": 0.001, "kWh": 0.0036, "MWh": 3.6}
KWH_PER_UNIT = {"kWh": 1.0, "MWh": 1000.0, "Wh": 0.001}

SOURCE_PUMP_ROLES = ("production", "reinjection", "source_circulation")
USER_PUMP_ROLES = ("user_circulation", "makeup", "booster")


@dataclass(frozen=True)
class EnergyParameters:
    """The rule parameters an energy report states and applies."""

    electricity_cny_per_kwh: float = ELECTRICITY_PRICE_CNY_PER_KWH
    grid_kgce_per_kwh: float = 0.307
    equivalent_kgce_per_kwh: float = EQUIVALENT_KGCE_PER_KWH


@dataclass(frozen=True)
class EnergyMeters:
    """The site's meters an energy report reads, by role."""

    heat_delivered: tuple[str, ...]
    heat_pumps: tuple[str, ...]
    source_pumps: tuple[str, ...]
    user_pumps: tuple[str, ...]
    station: tuple[str, ...]
    heat_pump_heat: tuple[str, ...]

    def counters(self) -> list[str]:
        """Every cumulative meter, each once."""
        seen: list[str] = []
        for name in (*self.heat_delivered, *self.heat_pumps, *self.source_pumps,
                     *self.user_pumps, *self.station):
            if name not in seen:
                seen.append(name)
        return seen


def energy_meters(site: Site) -> EnergyMeters:
    """Pick the site's meters: user-side heat meters, electricity per consumer, the incomer."""
    have = site.points_by_id

    def point(equipment: str, measurand: str) -> list[str]:
        name = f"{equipment}.{measurand}"
        return [name] if name in have else []

    heat: list[str] = []
    hps: list[str] = []
    hp_heat: list[str] = []
    source: list[str] = []
    user: list[str] = []
    station: list[str] = []
    for item in site.equipment:
        if isinstance(item, HeatMeter) and item.location == "user":
            heat += point(item.id, "heat_energy")
        elif isinstance(item, HeatPump):
            hps += point(item.id, "electric_energy")
            hp_heat += point(item.id, "heat_power")
        elif isinstance(item, ProductionWell) or (
                isinstance(item, Pump) and item.role in SOURCE_PUMP_ROLES):
            source += point(item.id, "electric_energy")
        elif isinstance(item, Pump) and item.role in USER_PUMP_ROLES:
            user += point(item.id, "electric_energy")
        elif isinstance(item, ElectricityMeter) and not item.scope:
            station += point(item.id, "electric_energy")
    return EnergyMeters(tuple(heat), tuple(hps), tuple(source), tuple(user), tuple(station),
                        tuple(hp_heat))


def _sum(totals: Mapping[str, MeterTotal], names: Sequence[str], per_unit: dict[str, float]
         ) -> float | None:
    if not names:
        return None
    value = 0.0
    for name in names:
        meter = totals[name]
        if meter.unit not in per_unit:
            raise ValueError(f"{name}: unit {meter.unit!r} is not one of {', '.join(per_unit)}")
        value += meter.total * per_unit[meter.unit]
    return value


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def build_energy_report(
    site: Site,
    period: ReportPeriod,
    totals: Mapping[str, Mapping[str, MeterTotal]],
    hp_heat: Mapping[str, MeterHours],
    inputs: dict[str, object],
    *,
    parameters: EnergyParameters | None = None,
) -> Report:
    """The energy and carbon report of one station and period.

    ``totals`` maps each block label (the months, then the period's own label) to the
    cumulative meters' totals in it; ``hp_heat`` holds the heat pumps' hourly heat power.
    """
    p = parameters or EnergyParameters()
    meters = energy_meters(site)
    blocks = blocks_of(period)
    area = site.station.heated_area_m2
    statements: list[str] = []
    avail_rows: list[tuple[Cell, ...]] = []
    not_certifiable: list[str] = []
    hp_kwh = {block.label: 0.0 for block in blocks}
    hp_sub = {block.label: 0.0 for block in blocks}
    for name in meters.heat_pump_heat:
        series = hp_heat.get(name)
        if series is None:
            continue
        filled, shares = fill_by_month(series, blocks, "high", 0.0)
        for block in blocks:
            values = filled.values[block.first:block.last]
            methods = filled.methods[block.first:block.last]
            hp_kwh[block.label] += sum(values)
            hp_sub[block.label] += sum(v for v, m in zip(values, methods, strict=True)
                                       if m != MEASURED)
            share = shares[block.label]
            tier = tier_of(share)
            avail_rows.append((block.label, name, figure(100 * share, 2), tier.value,
                               sum(1 for m in methods if m != MEASURED),
                               "no" if tier is Tier.BELOW_80 else "yes"))
            if tier is Tier.BELOW_80:
                not_certifiable.append(f"{name} in {block.label}")
    labels = [block.label for block in blocks]
    for label in labels:
        for name in meters.counters():
            meter = totals[label][name]
            tier = tier_of(meter.availability)
            avail_rows.append((label, name, figure(100 * meter.availability, 2), tier.value,
                               0, "no" if tier is Tier.BELOW_80 else "yes"))
            if tier is Tier.BELOW_80:
                not_certifiable.append(f"{name} in {label}")
    rows: list[tuple[Cell, ...]] = []
    costs: list[float | None] = []
    heats: list[float | None] = []
    for label in [*labels, period.label]:
        block_totals = totals[label]
        heat_gj = _sum(block_totals, meters.heat_delivered, GJ_PER_UNIT)
        hp_e = _sum(block_totals, meters.heat_pumps, KWH_PER_UNIT)
        src_e = _sum(block_totals, meters.source_pumps, KWH_PER_UNIT)
        usr_e = _sum(block_totals, meters.user_pumps, KWH_PER_UNIT)
        incomer = _sum(block_totals, meters.station, KWH_PER_UNIT)
        consumers = sum(v for v in (hp_e, src_e, usr_e) if v is not None)
        total_e = incomer if incomer is not None else consumers
        metered = any(name in hp_heat for name in meters.heat_pump_heat)
        hp_heat_kwh = (sum(hp_kwh.values()) if label == period.label else hp_kwh[label]) \
            if metered else None
        heat_kwh = heat_gj / 0.0036 if heat_gj is not None else None
        cost = total_e * p.electricity_cny_per_kwh / area
        costs.append(cost)
        heats.append(heat_gj)
        rows.append((
            label, figure(heat_gj, 3), figure(hp_heat_kwh, 1), figure(hp_e, 1),
            figure(src_e, 1), figure(usr_e, 1), figure(total_e, 1),
            figure(_ratio(hp_heat_kwh, hp_e), 3),
            figure(_ratio(hp_heat_kwh, (hp_e or 0) + (src_e or 0) if hp_e else None), 3),
            figure(_ratio(heat_kwh, consumers if consumers > 0 else None), 3),
            figure(_ratio(heat_kwh, total_e), 3),
            figure(_ratio(total_e * p.equivalent_kgce_per_kwh, heat_gj), 3),
            figure(_ratio(electricity_kgce(total_e, p.grid_kgce_per_kwh), heat_gj), 3),
            figure(cost, 3),
        ))
    whole = rows[-1]
    heat_total = heats[-1]
    electricity_total = float(whole[6] or 0.0)
    coal_rows: list[tuple[Cell, ...]] = []
    if heat_total is not None:
        for source, result in avoided(heat_total / 0.0036, electricity_total).items():
            tce = result.coal_kgce / 1000.0
            emitted = emissions_t(tce)
            coal_rows.append((source.value, figure(result.comparison_kgce, 1),
                              figure(result.geothermal_kgce, 1), figure(tce, 3),
                              figure(emitted.co2_t, 3), figure(emitted.so2_t, 4),
                              figure(emitted.dust_t, 4)))
    missing_heat = [n for n in meters.heat_pump_heat if n not in hp_heat]
    if missing_heat:
        statements.append("The historian has no heat-power data of " + ", ".join(missing_heat)
                          + ": heat-pump heat, unit COP and SCOP with source pumps leave "
                          "them out" + (" (not reported)." if len(missing_heat) == len(
                              meters.heat_pump_heat) else "."))
    if not_certifiable:
        statements.append("NOT CERTIFIABLE: data availability below 80 % for "
                          + "; ".join(not_certifiable) + ".")
    else:
        statements.append("Every meter's availability is at least 80 % in every month: "
                          "the figures are certifiable, substituted values labelled.")
    statements.append(
        "Boundaries: unit COP = heat-pump heat / heat-pump electricity; SCOP with source "
        "pumps adds well and source-loop pumps; system COP = heat delivered (user-side meter) "
        "/ electricity of heat pumps and all pumps; station COP = heat delivered / station "
        "incomer. Cumulative meters keep counting through a data gap: what they counted in "
        "it is in the month of the first reading after it.")
    tables = (
        Table("energy", "Heat, electricity, efficiency, energy intensity and cost",
              ("period", "heat_delivered_gj", "heat_pump_heat_kwh", "electricity_heat_pumps_kwh",
               "electricity_source_pumps_kwh", "electricity_user_pumps_kwh",
               "electricity_station_kwh", "unit_cop", "scop_with_source_pumps", "system_cop",
               "station_cop", "kgce_per_gj_equivalent", "kgce_per_gj_grid", "cost_cny_per_m2"),
              tuple(rows)),
        Table("coal", f"Standard coal substituted and emissions avoided, {period.label}",
              ("comparison_source", "comparison_kgce", "station_kgce", "substituted_tce",
               "co2_avoided_t", "so2_avoided_t", "dust_avoided_t"), tuple(coal_rows)),
        Table("availability", "Data availability per meter and substitution",
              ("period", "meter", "availability_pct", "tier", "substituted_hours",
               "certifiable"), tuple(avail_rows)),
    )
    plots = (
        Plot("heat", "Heat delivered per month", "GJ", tuple(labels),
             (("heat delivered", tuple(figure(h, 3) for h in heats[:-1])),)),
        Plot("cost", "Electricity cost per m2 per month", "CNY/m2", tuple(labels),
             (("cost", tuple(figure(c, 3) for c in costs[:-1])),)),
    )
    return Report(
        kind="energy",
        title=f"Energy and carbon - {site.station.name} - {period.label}",
        inputs={**inputs, "parameters": asdict(p), "heated_area_m2": area,
                "meters": {k: list(v) for k, v in asdict(meters).items()}},
        statements=tuple(statements),
        tables=tables,
        plots=plots,
    )

