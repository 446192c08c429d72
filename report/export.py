"""Export of the supervision platform's indicators: electricity, water, system efficiency and
carbon (002 L415-417), in a stable JSON or CSV form, with an adapter interface for a
province's own upload format."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Protocol

from plant.models.coal import emissions_t
from report.model import Report

EXPORT_VERSION = 1


@dataclass(frozen=True)
class Indicator:
    """One indicator of one station and period, with whether its data are certifiable."""

    station: str
    period: str
    name: str
    value: float | None
    unit: str
    certifiable: bool


def indicators(reinjection: Report, energy: Report) -> list[Indicator]:
    """The platform's indicators of one station and period, from its two reports."""
    station = str(reinjection.inputs["station"])
    period = str(reinjection.inputs["period"]["label"])
    whole = energy.table("energy").rows[-1]
    columns = energy.table("energy").columns
    row = dict(zip(columns, whole, strict=True))
    volumes = reinjection.table("station").rows[-1]
    vcols = dict(zip(reinjection.table("station").columns, volumes, strict=True))
    ok_energy = not any(s.startswith("NOT CERTIFIABLE") for s in energy.statements)
    ok_water = not any(s.startswith("NOT CERTIFIABLE") for s in reinjection.statements)
    electricity = _number(row["electricity_station_kwh"])
    emitted = emissions_t((electricity or 0.0) * 0.307 / 1000.0).co2_t if electricity else None
    coal = {str(r[0]): r for r in energy.table("coal").rows}
    avoided = _number(coal["coal_boiler"][4]) if "coal_boiler" in coal else None

    def item(name: str, value: float | None, unit: str, ok: bool) -> Indicator:
        return Indicator(station, period, name, value, unit, ok)

    produced, reinjected = _number(vcols["produced_m3"]), _number(vcols["reinjected_m3"])
    return [
        item("electricity", electricity, "kWh", ok_energy),
        item("heat_delivered", _number(row["heat_delivered_gj"]), "GJ", ok_energy),
        item("system_efficiency", _number(row["system_cop"]), "1", ok_energy),
        item("water_produced", produced, "m3", ok_water),
        item("water_reinjected", reinjected, "m3", ok_water),
        item("water_consumed", None if produced is None or reinjected is None
             else round(produced - reinjected, 1), "m3", ok_water),
        item("carbon_emitted_electricity", None if emitted is None else round(emitted, 3),
             "t CO2", ok_energy),
        item("carbon_avoided_vs_coal_boiler", avoided, "t CO2", ok_energy),
    ]


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


class Adapter(Protocol):
    """Turns indicators into one platform's upload format."""

    name: str

    def render(self, items: list[Indicator]) -> bytes:
        """The upload's bytes."""
        ...


class JsonAdapter:
    """The stable JSON form: ``{"version": 1, "indicators": [...]}``, keys sorted."""

    name = "json"

    def render(self, items: list[Indicator]) -> bytes:
        """The indicators as JSON."""
        data = {"version": EXPORT_VERSION, "indicators": [asdict(i) for i in items]}
        return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


class CsvAdapter:
    """The stable CSV form: one indicator per line under a fixed header."""

    name = "csv"

    def render(self, items: list[Indicator]) -> bytes:
        """The indicators as CSV."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["station", "period", "name", "value", "unit", "certifiable"])
        for i in items:
            writer.writerow([i.station, i.period, i.name, "" if i.value is None else repr(i.value),
                             i.unit, "yes" if i.certifiable else "no"])
        return out.getvalue().encode()


ADAPTERS: dict[str, Adapter] = {"json": JsonAdapter(), "csv": CsvAdapter()}
"""The adapters by name; a province's own format is one more entry."""
