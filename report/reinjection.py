"""Reinjection compliance report (pure): volumes, ratio, same-layer check, temperature,
injectivity trend, hours below threshold and data availability per meter, month by month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

import numpy as np

from plant.site import ProductionWell, ReinjectionWell, Site
from report.inputs import MeterHours
from report.model import Cell, Plot, Report, Table, figure
from report.periods import ReportPeriod
from report.substitution import MEASURED, Filled, Tier, substitute, tier_of

METRES_PER_MPA = 101.97
"""Water column of 1 MPa at about 20 °C, m."""


@dataclass(frozen=True)
class ReinjectionParameters:
    """The rule parameters a reinjection report states and applies."""

    ratio_threshold: float = 0.95
    min_production_m3h: float = 1.0
    decline_threshold: float = 0.10
    min_trend_days: int = 7


@dataclass(frozen=True)
class WellGroup:
    """Production and reinjection wells of one aquifer, and whether reinjection is same-layer."""

    aquifer: str
    production: tuple[ProductionWell, ...]
    reinjection: tuple[ReinjectionWell, ...]

    @property
    def same_layer(self) -> bool:
        """True when the group both produces from and reinjects into its aquifer."""
        return bool(self.production) and bool(self.reinjection)


def well_groups(site: Site) -> list[WellGroup]:
    """Group a site's wells by aquifer, in the order the site file lists them."""
    aquifers: list[str] = []
    for item in site.equipment:
        if isinstance(item, ProductionWell | ReinjectionWell) and item.aquifer not in aquifers:
            aquifers.append(item.aquifer)
    return [
        WellGroup(
            aquifer,
            tuple(e for e in site.equipment if isinstance(e, ProductionWell)
                  and e.aquifer == aquifer),
            tuple(e for e in site.equipment if isinstance(e, ReinjectionWell)
                  and e.aquifer == aquifer),
        )
        for aquifer in aquifers
    ]


def required_points(site: Site) -> list[str]:
    """The points a reinjection report reads, those of them the site has."""
    names: list[str] = []
    for group in well_groups(site):
        names += [f"{w.id}.flow" for w in group.production]
        for well in group.reinjection:
            names += [f"{well.id}.flow", f"{well.id}.injection_temp", f"{well.id}.water_level",
                      f"{well.id}.wellhead_pressure"]
    return [name for name in names if name in site.points_by_id]


@dataclass(frozen=True)
class _Block:
    label: str
    first: int
    last: int  # hour indices [first, last)
    seconds: float


def _blocks(period: ReportPeriod) -> list[_Block]:
    out = []
    for label, lo, hi in period.months():
        first = int((lo - period.start).total_seconds() // 3600)
        last = int((hi - period.start).total_seconds() // 3600)
        out.append(_Block(label, first, last, (hi - lo).total_seconds()))
    return out


def availability(meter: MeterHours, first: int, last: int) -> float:
    """Share of the hours [first, last) of a meter's series whose data are complete."""
    length = 3600.0 * (last - first)
    if length <= 0:
        return 0.0
    return 1.0 - sum(meter.missing_s[first:last]) / length


def fill_by_month(meter: MeterHours, blocks: list[_Block], favourable: str,
                  max_potential: float) -> tuple[Filled, dict[str, float]]:
    """Substitute a meter's missing hours month by month, each month by its own tier."""
    values: list[float] = []
    methods: list[str] = []
    shares: dict[str, float] = {}
    for block in blocks:
        share = availability(meter, block.first, block.last)
        shares[block.label] = share
        filled = substitute(meter.values[block.first:block.last], share,
                            "high" if favourable == "high" else "low", max_potential)
        values += filled.values
        methods += filled.methods
    return Filled(tuple(values), tuple(methods)), shares


def _pct(share: float) -> float | None:
    return figure(100.0 * share, 2)


def build_reinjection_report(
    site: Site,
    period: ReportPeriod,
    meters: Mapping[str, MeterHours],
    inputs: dict[str, object],
    *,
    parameters: ReinjectionParameters | None = None,
) -> Report:
    """The reinjection compliance report of one station and period from its hourly meters."""
    p = parameters or ReinjectionParameters()
    blocks = _blocks(period)
    hours = len(period.hours())
    zone = ZoneInfo(period.timezone)
    groups = well_groups(site)
    statements: list[str] = []
    availability_rows: list[tuple[Cell, ...]] = []
    volume_rows: list[tuple[Cell, ...]] = []
    layer_rows: list[tuple[Cell, ...]] = []
    temp_rows: list[tuple[Cell, ...]] = []
    not_certifiable: list[str] = []
    substitution_rows: list[tuple[Cell, ...]] = []
    station_prod = np.zeros(hours)
    station_rein = np.zeros(hours)
    station_measured = np.ones(hours, dtype=bool)
    station_prod_sub = np.zeros(hours)
    station_rein_sub = np.zeros(hours)
    shares_by_meter: dict[str, dict[str, float]] = {}
    filled_by_meter: dict[str, Filled] = {}

    def filled(name: str, favourable: str, potential: float) -> Filled | None:
        meter = meters.get(name)
        if meter is None:
            return None
        result, shares = fill_by_month(meter, blocks, favourable, potential)
        filled_by_meter[name] = result
        shares_by_meter[name] = shares
        for block in blocks:
            share = shares[block.label]
            tier = tier_of(share)
            substituted = sum(1 for m in result.methods[block.first:block.last] if m != MEASURED)
            missing_h = sum(meter.missing_s[block.first:block.last]) / 3600.0
            availability_rows.append((block.label, name, _pct(share), figure(missing_h, 3),
                                      tier.value, substituted,
                                      "no" if tier is Tier.BELOW_80 else "yes"))
            if tier is Tier.BELOW_80:
                not_certifiable.append(f"{name} in {block.label} ({_pct(share)} %)")
        substitution_rows.extend(_substitution_runs(name, result, period, zone))
        return result

    for group in groups:
        layer_rows.append((group.aquifer, ", ".join(w.id for w in group.production) or "-",
                           ", ".join(w.id for w in group.reinjection) or "-",
                           "yes" if group.same_layer else "NO"))
        if not group.same_layer:
            statements.append(
                f"Aquifer {group.aquifer}: "
                + ("reinjection into a layer no well of the station produces from"
                   if group.reinjection else "production with no reinjection into the same layer"))
        prod = np.zeros(hours)
        rein = np.zeros(hours)
        measured = np.ones(hours, dtype=bool)
        prod_sub = np.zeros(hours)
        rein_sub = np.zeros(hours)
        for well in group.production:
            series = filled(f"{well.id}.flow", "low", well.rated_flow_m3h)
            if series is None:
                statements.append(f"{well.id} has no flow meter: its production is not counted")
                continue
            values = np.asarray(series.values)
            flags = np.asarray([m == MEASURED for m in series.methods])
            prod += values
            prod_sub += np.where(flags, 0.0, values)
            measured &= flags
        for rwell in group.reinjection:
            series = filled(f"{rwell.id}.flow", "high", rwell.rated_flow_m3h)
            if series is None:
                statements.append(f"{rwell.id} has no flow meter: its reinjection is not counted")
                continue
            values = np.asarray(series.values)
            flags = np.asarray([m == MEASURED for m in series.methods])
            rein += values
            rein_sub += np.where(flags, 0.0, values)
            measured &= flags
        station_prod += prod
        station_rein += rein
        station_measured &= measured
        station_prod_sub += prod_sub
        station_rein_sub += rein_sub
        for block in blocks:
            volume_rows.append(_volume_row(block.label, group.aquifer, prod, rein, prod_sub,
                                           rein_sub, measured, block.first, block.last, p))
        volume_rows.append(_volume_row(period.label, group.aquifer, prod, rein, prod_sub,
                                       rein_sub, measured, 0, hours, p))
        for rwell in group.reinjection:
            temp_rows += _temperature_rows(rwell, meters, blocks=blocks, label=period.label,
                                           hours=hours)
    trend_rows, injectivity_plot = _injectivity(groups, meters, period=period, zone=zone, p=p)
    station_rows = [_volume_row(b.label, "station", station_prod, station_rein,
                                station_prod_sub, station_rein_sub, station_measured,
                                b.first, b.last, p) for b in blocks]
    station_rows.append(_volume_row(period.label, "station", station_prod, station_rein,
                                    station_prod_sub, station_rein_sub, station_measured, 0,
                                    hours, p))
    if not groups:
        statements.insert(0, "The station has no production or reinjection wells: it neither "
                          "produces nor reinjects geothermal water, and nothing here applies.")
    elif not_certifiable:
        statements.insert(0, "NOT CERTIFIABLE: data availability below 80 % for "
                          + "; ".join(not_certifiable)
                          + ". Those figures rest on maximum-potential substitutes.")
    else:
        statements.insert(0, "Every meter's availability is at least 80 % in every month: "
                          "the figures are certifiable, substituted values labelled.")
    declining = [row for row in trend_rows if row[-1] == "declining"]
    if declining:
        statements.append("Reinjection decline: injectivity of "
                           + ", ".join(str(row[0]) for row in declining)
                           + f" fell by at least {p.decline_threshold:.0%} over the period.")
    below = station_rows[-1][7]
    if groups:
        statements.append(f"The station's hourly reinjection ratio was below "
                          f"{p.ratio_threshold:.2f} for {below} h of the period.")
    volume_columns = ("period", "aquifer", "produced_m3", "reinjected_m3", "ratio",
                      "produced_substituted_m3", "reinjected_substituted_m3",
                      "hours_below_threshold", "hours_below_threshold_measured",
                      "hours_producing")
    tables = (
        Table("same_layer", "Same-layer check (site well definitions)",
              ("aquifer", "production_wells", "reinjection_wells", "same_layer"),
              tuple(layer_rows)),
        Table("station", "Station volumes and ratio", volume_columns, tuple(station_rows)),
        Table("volumes", "Volumes and ratio per aquifer (well group)", volume_columns,
              tuple(volume_rows)),
        Table("temperature", "Reinjection temperature (flow-weighted over measured hours)",
              ("period", "well", "mean_c", "max_c", "measured_hours"), tuple(temp_rows)),
        Table("injectivity", "Injectivity trend and decline verdict",
              ("well", "days", "first_m3h_per_m", "last_m3h_per_m", "change_pct", "verdict"),
              tuple(trend_rows)),
        Table("availability", "Data availability per meter (gap ledger) and substitution",
              ("period", "meter", "availability_pct", "missing_h", "tier",
               "substituted_hours", "certifiable"), tuple(availability_rows)),
        Table("substitutions", "Every substituted value: meter, first hour (local), hours, "
              "rule and value", ("meter", "from", "hours", "rule", "value_m3h"),
              tuple(substitution_rows)),
    )
    plots = _daily_plots(period, zone, station_prod, station_rein, meters=meters, p=p)
    if injectivity_plot is not None:
        plots.append(injectivity_plot)
    return Report(
        kind="reinjection",
        title=f"Reinjection compliance - {site.station.name} - {period.label}",
        inputs={**inputs, "parameters": asdict(p)},
        statements=tuple(statements),
        tables=tables,
        plots=tuple(plots),
    )


def _substitution_runs(name: str, filled: Filled, period: ReportPeriod, zone: ZoneInfo
                       ) -> list[tuple[Cell, ...]]:
    """One row per run of consecutive hours substituted by the same rule and value."""
    rows: list[tuple[Cell, ...]] = []
    hours = period.hours()
    index = 0
    while index < len(filled.methods):
        method, value = filled.methods[index], filled.values[index]
        if method == MEASURED:
            index += 1
            continue
        end = index
        while (end < len(filled.methods) and filled.methods[end] == method
               and filled.values[end] == value):
            end += 1
        start = hours[index].astimezone(zone).strftime("%Y-%m-%d %H:%M")
        rows.append((name, start, end - index, method, figure(value, 3)))
        index = end
    return rows


def _volume_row(label: str, aquifer: str, prod: np.ndarray, rein: np.ndarray,  # noqa: PLR0917
                prod_sub: np.ndarray, rein_sub: np.ndarray, measured: np.ndarray,
                first: int, last: int, p: ReinjectionParameters) -> tuple[Cell, ...]:
    """Volumes (each hour's mean flow stands for its hour), ratio and hours below threshold."""
    sl = slice(first, last)
    produced, reinjected = float(prod[sl].sum()), float(rein[sl].sum())
    producing = prod[sl] > p.min_production_m3h
    ratio = np.divide(rein[sl], prod[sl], out=np.ones(last - first), where=producing)
    below = producing & (ratio < p.ratio_threshold)
    return (label, aquifer, figure(produced, 1), figure(reinjected, 1),
            figure(reinjected / produced if produced > 0 else None, 4),
            figure(float(prod_sub[sl].sum()), 1), figure(float(rein_sub[sl].sum()), 1),
            int(below.sum()), int((below & measured[sl]).sum()), int(producing.sum()))


def _temperature_rows(well: ReinjectionWell, meters: Mapping[str, MeterHours], *,
                      blocks: list[_Block], label: str, hours: int) -> list[tuple[Cell, ...]]:
    temp = meters.get(f"{well.id}.injection_temp")
    flow = meters.get(f"{well.id}.flow")
    if temp is None:
        return []
    rows: list[tuple[Cell, ...]] = []
    spans = [(b.label, b.first, b.last) for b in blocks] + [(label, 0, hours)]
    for name, first, last in spans:
        pairs = [(t, (flow.values[h] if flow is not None else 1.0))
                 for h, t in enumerate(temp.values[first:last], start=first) if t is not None]
        usable = [(t, w) for t, w in pairs if w is not None and w > 0]
        weight = sum(w for _, w in usable)
        mean = sum(t * w for t, w in usable) / weight if weight > 0 else None
        rows.append((name, well.id, figure(mean, 2),
                     figure(max((t for t, _ in pairs), default=None), 2), len(pairs)))
    return rows


def _injectivity(groups: list[WellGroup], meters: Mapping[str, MeterHours], *,
                 period: ReportPeriod, zone: ZoneInfo, p: ReinjectionParameters
                 ) -> tuple[list[tuple[Cell, ...]], Plot | None]:
    """Daily injectivity (m³/h per m of head above static) per reinjection well, its linear
    trend over the period and the decline verdict."""
    days = _day_labels(period, zone)
    rows: list[tuple[Cell, ...]] = []
    series: list[tuple[str, tuple[float | None, ...]]] = []
    for group in groups:
        for well in group.reinjection:
            flow = meters.get(f"{well.id}.flow")
            level = meters.get(f"{well.id}.water_level")
            if flow is None or level is None:
                rows.append((well.id, 0, None, None, None, "not metered"))
                continue
            pressure = meters.get(f"{well.id}.wellhead_pressure")
            per_day: dict[int, list[float]] = {}
            for h, day in enumerate(days.hour_day):
                q, lv = flow.values[h], level.values[h]
                if q is None or lv is None or q <= p.min_production_m3h:
                    continue
                head = well.static_level_m - lv
                if pressure is not None and pressure.values[h] is not None:
                    head += max(float(pressure.values[h] or 0.0), 0.0) * METRES_PER_MPA
                if head > 0.5:
                    per_day.setdefault(day, []).append(q / head)
            daily = [float(np.mean(per_day[d])) if d in per_day else None
                     for d in range(len(days.labels))]
            series.append((well.id, tuple(figure(v, 4) for v in daily)))
            points = [(d, v) for d, v in enumerate(daily) if v is not None]
            if len(points) < p.min_trend_days:
                rows.append((well.id, len(points), None, None, None, "insufficient data"))
                continue
            x = np.array([d for d, _ in points], dtype=float)
            y = np.array([v for _, v in points])
            slope, intercept = np.polyfit(x, y, 1)
            start, end = intercept + slope * x[0], intercept + slope * x[-1]
            change = (end - start) / start if start > 0 else float("nan")
            verdict = "declining" if change <= -p.decline_threshold else "stable"
            rows.append((well.id, len(points), figure(start, 3), figure(end, 3),
                         figure(100 * change, 1), verdict))
    plot = None
    if series:
        plot = Plot("injectivity", "Injectivity per reinjection well (daily)", "m3/h per m",
                    tuple(days.labels), tuple(series))
    return rows, plot


@dataclass(frozen=True)
class _Days:
    labels: list[str]
    hour_day: list[int]


def _day_labels(period: ReportPeriod, zone: ZoneInfo) -> _Days:
    labels: list[str] = []
    hour_day: list[int] = []
    for moment in period.hours():
        label = moment.astimezone(zone).date().isoformat()
        if not labels or labels[-1] != label:
            labels.append(label)
        hour_day.append(len(labels) - 1)
    return _Days(labels, hour_day)


def _daily_plots(period: ReportPeriod, zone: ZoneInfo, prod: np.ndarray, rein: np.ndarray, *,
                 meters: Mapping[str, MeterHours], p: ReinjectionParameters) -> list[Plot]:
    days = _day_labels(period, zone)
    count = len(days.labels)
    index = np.asarray(days.hour_day, dtype=np.int64)
    produced = np.bincount(index, prod, count) if index.size else np.zeros(count)
    reinjected = np.bincount(index, rein, count) if index.size else np.zeros(count)
    ratio = [figure(r / q, 4) if q > p.min_production_m3h else None
             for q, r in zip(produced, reinjected, strict=True)]
    hours_per_day = np.bincount(index, None, count) if index.size else np.zeros(count)
    avail: list[tuple[str, tuple[float | None, ...]]] = []
    for name in sorted(meters):
        if not name.endswith(".flow"):
            continue
        missing = np.bincount(index, np.asarray(meters[name].missing_s), count)
        avail.append((name, tuple(figure(100.0 * (1 - m / (3600.0 * h)), 2) if h else None
                                  for m, h in zip(missing, hours_per_day, strict=True))))
    labels = tuple(days.labels)
    return [
        Plot("flows", "Daily produced and reinjected volume (station)", "m3/day", labels,
             (("produced", tuple(figure(float(v), 1) for v in produced)),
              ("reinjected", tuple(figure(float(v), 1) for v in reinjected)))),
        Plot("ratio", "Daily reinjection ratio (station)", "ratio", labels,
             (("ratio", tuple(ratio)),), threshold=p.ratio_threshold),
        Plot("availability", "Daily data availability per flow meter", "%", labels,
             tuple(avail)),
    ]

