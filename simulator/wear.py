"""Faults that wear the plant as time passes, acting through the model, not on the readings.

- ``filter_fouling``: a filter's hydraulic resistance grows by ``rate`` times the clean
  resistance per hour (a cake building up), so its ΔP rises with the square of the flow as
  before, only steeper; the fault's end is a backwash or a cleaning (resistance back to clean).
- ``plate_fouling``: a plate exchanger's fouling resistance grows by ``rate`` times its clean
  heat-transfer resistance per day, lowering its conductance (UA): its approach widens and it
  moves less heat; cleaning at the fault's end restores it.
- ``heat_pump_degradation``: a heat pump loses ``value`` (0-0.9) of its efficiency relative
  to Carnot, as with a refrigerant undercharge: its COP and so its power change at once.
- ``makeup_leak``: the water loop loses ``rate`` m³/h, which the make-up system replaces: the
  make-up flow and volume rise by that much.
"""

from __future__ import annotations

from collections.abc import Callable

from plant.measurands import Measurand
from plant.site import Filter, HeatPump, PlateExchanger, Site, WaterTreatment
from simulator.faults import FaultSpec
from simulator.points import PointTable
from simulator.station import StationModel

WEAR_FAULTS = frozenset({"filter_fouling", "plate_fouling", "heat_pump_degradation",
                         "makeup_leak"})
TARGETS: dict[str, tuple[type, str]] = {
    "filter_fouling": (Filter, "a filter"),
    "plate_fouling": (PlateExchanger, "a plate exchanger"),
    "heat_pump_degradation": (HeatPump, "a heat pump"),
    "makeup_leak": (WaterTreatment, "a water treatment with make-up"),
}


class Wear:
    """The wear faults acting on one station's model, advanced with it."""

    def __init__(self, site: Site, model: StationModel, table: PointTable) -> None:
        self.model = model
        self.filter_fouling: dict[str, float] = {}
        """Filter id -> added resistance as a multiple of the clean resistance."""
        self._growth: dict[str, tuple[str, str, float]] = {}
        self._efficiency: dict[str, float] = {}
        self._leaks: dict[str, float] = {}
        for index, point in enumerate(table.points):
            item = site.equipment_by_id(point.equipment)
            if isinstance(item, Filter) and point.measurand is Measurand.DIFFERENTIAL_PRESSURE:
                table.readers[index] = self._fouled(item.id, table.readers[index])

    def _fouled(self, filter_id: str, clean: Callable[[], object]) -> Callable[[], float]:
        def reading() -> float:
            return float(clean()) * (1.0 + self.filter_fouling.get(filter_id, 0.0))  # type: ignore[arg-type]
        return reading

    def start(self, fault_id: str, spec: FaultSpec) -> None:
        """A wear fault begins."""
        if spec.kind in ("filter_fouling", "plate_fouling"):
            self._growth[fault_id] = (spec.kind, spec.target, spec.rate)
        elif spec.kind == "heat_pump_degradation":
            hp = self.model.heat_pumps[spec.target]
            loss = min(max(spec.value or 0.0, 0.0), 0.9)
            self._efficiency[fault_id] = hp.fraction
            hp.fraction *= 1.0 - loss
        elif spec.kind == "makeup_leak":
            self._leaks[fault_id] = max(spec.rate, 0.0)

    def end(self, fault_id: str, spec: FaultSpec) -> None:
        """A wear fault ends: cleaned, recharged, repaired."""
        if spec.kind == "filter_fouling":
            self._growth.pop(fault_id, None)
            self.filter_fouling[spec.target] = 0.0
        elif spec.kind == "plate_fouling":
            self._growth.pop(fault_id, None)
            self.model.exchangers[spec.target].fouling = 0.0
        elif spec.kind == "heat_pump_degradation" and fault_id in self._efficiency:
            self.model.heat_pumps[spec.target].fraction = self._efficiency.pop(fault_id)
        elif spec.kind == "makeup_leak":
            self._leaks.pop(fault_id, None)

    def step(self, dt_s: float) -> None:
        """Advance the wear by one model step (called after the model has stepped)."""
        for kind, target, rate in self._growth.values():
            if kind == "filter_fouling":
                self.filter_fouling[target] = max(
                    0.0, self.filter_fouling.get(target, 0.0) + rate * dt_s / 3600.0)
            else:
                exchanger = self.model.exchangers[target]
                exchanger.fouling = max(0.0, exchanger.fouling + rate * dt_s / 86400.0)
        leak = sum(self._leaks.values())
        if leak:
            self.model.makeup_m3h += leak
            self.model.makeup_m3 += leak * dt_s / 3600.0
