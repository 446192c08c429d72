"""The data batches a station's gateway would publish, made in process from the simulator.

Each step's readings go through what the gateway does to them before publishing: a silent
device's points become bad (``comm_lost``), a dead sensor bad (``sensor_fault``), a value out
of its range uncertain or bad (:func:`gateway.quality.checked`), and only what moved past its
deadband, changed quality or was not sent for a full refresh is reported
(:class:`gateway.quality.ReportFilter`). The gateway's clock offset, a health point, is
reported as zero. For benchmarks and for replaying one stream through two evaluators.
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.quality import Reading, ReportFilter, checked
from plant.contract import DataBatch, Quality, Reason, Sample
from simulator.sim import StationSim

CLOCK_OFFSET_POINT = "gateway.clock_offset"


def gateway_batches(sim: StationSim, steps: int, step_s: float = 1.0, *,
                    station: str | None = None, session: int = 1) -> Iterator[DataBatch]:
    """Advance ``sim`` ``steps`` times by ``step_s`` and yield each step's reported batch."""
    site = sim.site
    points = {p.id: p for p in site.points}
    on_device = {d.id: {p.id for p in site.points_on(d.id)} for d in site.devices}
    report = ReportFilter({p.id: p.deadband for p in site.points}, site.full_refresh_s)
    sid = station or site.station.id
    for seq in range(steps):
        sim.advance(step_s)
        now = sim.now
        t = now.timestamp()
        silent: set[str] = set().union(*(on_device[d] for d in sim.silent))
        samples: list[Sample] = []
        for point, value in sim.values().items():
            if point in silent:
                reading = Reading(point, t, None, Quality.BAD, Reason.COMM_LOST)
            elif value is None:
                reading = Reading(point, t, None, Quality.BAD, Reason.SENSOR_FAULT)
            else:
                reading = checked(points[point], Reading(point, t, value))
            if report.due(reading):
                samples.append(Sample(p=point, t=now, v=reading.v, q=reading.q, r=reading.r,
                                      d=reading.d))
        if report.due(Reading(CLOCK_OFFSET_POINT, t, 0.0)):
            samples.append(Sample(p=CLOCK_OFFSET_POINT, t=now, v=0.0))
        yield DataBatch(station=sid, session=session, seq=seq, samples=tuple(samples))
