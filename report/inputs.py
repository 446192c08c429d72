"""What a report is computed from: hourly meter series and meter totals (pure data)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeterHours:
    """One point's hourly means over a report period, with the seconds missing in each hour.

    ``values[h]`` is the hour's time-weighted mean, None when any second of the hour is missing
    (outage, unfilled sequence gap, bad quality, or not recorded) or no value is known.
    """

    point: str
    unit: str
    values: tuple[float | None, ...]
    missing_s: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.values) != len(self.missing_s):
            raise ValueError(f"{self.point}: {len(self.values)} hourly values for "
                             f"{len(self.missing_s)} hours of missing time")


@dataclass(frozen=True)
class MeterTotal:
    """What a cumulative meter counted over one block of a period, with its missing time."""

    point: str
    unit: str
    total: float
    missing_s: float
    length_s: float
    suspect_readings: int = 0

    @property
    def availability(self) -> float:
        """Share of the block the meter's data are complete for."""
        return 1.0 - self.missing_s / self.length_s if self.length_s > 0 else 0.0
