"""The gateway's own health points: per device latency, errors and link; the spool's state."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.quality import Reading
from plant.contract import PointInfo, Quality, Reason

EQUIPMENT = "gateway"


@dataclass
class DeviceHealth:
    """What a device poller knows about its device."""

    poll_latency_s: float = 0.0
    errors: int = 0
    connected: bool = False


@dataclass(frozen=True)
class SpoolHealth:
    """The spool's state at one moment."""

    depth: int
    oldest_age_s: float
    """Age of the oldest batch not yet confirmed committed by a historian."""
    high_water: bool
    dropped: int
    watermark_age_s: float | None = None
    """Seconds since the historians' last watermark arrived (None: none since start)."""
    held: int = 0
    """Batches held in memory because the spool cannot be written."""
    error: str | None = None
    """Why the spool cannot be written, or None."""


def _info(point_id: str, measurand: str, unit: str, dtype: str, high: float, *,
          period_s: float) -> PointInfo:
    return PointInfo.model_validate({
        "id": point_id, "equipment": EQUIPMENT, "equipment_kind": EQUIPMENT,
        "measurand": measurand, "unit": unit, "dtype": dtype, "range": (0.0, high),
        "counter": measurand in ("errors", "dropped"), "period_s": period_s,
    })


def health_points(device_ids: list[str], period_s: float) -> list[PointInfo]:
    """The health points to announce in the birth."""
    points: list[PointInfo] = []
    for device in device_ids:
        points += [
            _info(f"gateway.{device}.poll_latency", "poll_latency", "s", "float", 60,
                  period_s=period_s),
            _info(f"gateway.{device}.errors", "errors", "count", "int", 1e12, period_s=period_s),
            _info(f"gateway.{device}.connected", "connected", "bool", "bool", 1, period_s=period_s),
        ]
    points += [
        _info("gateway.spool.depth", "spool_depth", "count", "int", 1e9, period_s=period_s),
        _info("gateway.spool.oldest_age", "spool_oldest_age", "s", "float", 1e8, period_s=period_s),
        _info("gateway.spool.high_water", "spool_high_water", "bool", "bool", 1, period_s=period_s),
        _info("gateway.spool.dropped", "dropped", "count", "int", 1e12, period_s=period_s),
        _info("gateway.spool.watermark_age", "watermark_age", "s", "float", 1e8,
              period_s=period_s),
        _info("gateway.spool.held", "spool_held", "count", "int", 1e9, period_s=period_s),
        _info("gateway.spool.writable", "spool_writable", "bool", "bool", 1, period_s=period_s),
    ]
    return points


def health_readings(now: float, devices: dict[str, DeviceHealth], spool: SpoolHealth
                    ) -> list[Reading]:
    """Readings of every health point at one moment."""
    readings: list[Reading] = []
    for device, state in devices.items():
        readings += [
            Reading(f"gateway.{device}.poll_latency", now, round(state.poll_latency_s, 6)),
            Reading(f"gateway.{device}.errors", now, state.errors),
            Reading(f"gateway.{device}.connected", now, state.connected),
        ]
    readings += [
        Reading("gateway.spool.depth", now, spool.depth),
        Reading("gateway.spool.oldest_age", now, round(spool.oldest_age_s, 3)),
        Reading("gateway.spool.high_water", now, spool.high_water),
        Reading("gateway.spool.dropped", now, spool.dropped),
        Reading("gateway.spool.watermark_age", now, round(spool.watermark_age_s, 3))
        if spool.watermark_age_s is not None else
        Reading("gateway.spool.watermark_age", now, None, Quality.BAD, Reason.NOT_CONNECTED,
                "no historian watermark since the gateway started"),
        Reading("gateway.spool.held", now, spool.held),
        Reading("gateway.spool.writable", now, True) if spool.error is None else
        Reading("gateway.spool.writable", now, False, Quality.BAD, Reason.DEVICE_STATUS,
                spool.error[:200]),
    ]
    return readings
