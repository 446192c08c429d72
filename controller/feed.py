"""What the controller knows of one station from its stream: latest samples and liveness.

Pure: messages in, state out, no I/O. Live values come from data batches (a sample replayed
from a gateway's spool never overwrites a newer one); the retained birth and death decide
liveness with :func:`plant.contract.station_alive`.

Gateways report by exception: a point is published when it changes and at least every
``full_refresh_s`` of the site. So while the gateway is alive, a point's last sample still
holds at the time of the gateway's latest batch, as long as it is no older than a full refresh
(with a margin): :meth:`StationFeed.current` dates it so, and the rules' staleness check then
means what it should (nothing heard from the gateway, or a point it stopped restating).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from controller.rules import Window
from plant.contract import Birth, DataBatch, Death, Sample, station_alive


def holds_for_s(refresh_s: float) -> float:
    """How long an unrestated value holds: the full refresh, with a margin for poll periods."""
    return refresh_s * 1.1 + 30.0


@dataclass
class StationFeed:
    """Latest sample per point, and the station's retained birth and death."""

    station: str
    refresh_s: float = 300.0
    """The site's full refresh: every point is restated at least this often."""
    latest: dict[str, Sample] = field(default_factory=dict)
    birth: Birth | None = None
    death: Death | None = None
    batches: int = 0
    heard_at: datetime | None = None
    """Newest sample time of a live (not replayed) batch."""

    def take(self, batch: DataBatch) -> None:
        """Keep each sample that is newer than the one held for its point."""
        for sample in batch.samples:
            held = self.latest.get(sample.p)
            if held is None or sample.t >= held.t:
                self.latest[sample.p] = sample
        self.batches += 1
        if not batch.historical and batch.samples:
            newest = max(sample.t for sample in batch.samples)
            if self.heard_at is None or newest > self.heard_at:
                self.heard_at = newest

    def current(self) -> dict[str, Sample]:
        """The latest samples, each dated to the gateway's latest batch while it still holds."""
        heard = self.heard_at
        if heard is None or not self.alive:
            return dict(self.latest)
        horizon = heard - timedelta(seconds=holds_for_s(self.refresh_s))
        return {point: sample.model_copy(update={"t": heard})
                if horizon <= sample.t < heard else sample
                for point, sample in self.latest.items()}

    def take_birth(self, birth: Birth) -> None:
        """A gateway connection announced itself (an older bdSeq is ignored)."""
        if self.birth is None or birth.bdseq >= self.birth.bdseq:
            self.birth = birth

    def take_death(self, death: Death) -> None:
        """A gateway connection ended (an older bdSeq is ignored)."""
        if self.death is None or death.bdseq >= self.death.bdseq:
            self.death = death

    @property
    def alive(self) -> bool:
        """True while the station's gateway is connected, judged from birth and death."""
        return station_alive(self.birth, self.death)


def window_from_buckets(means: Sequence[float | None], good: Sequence[bool], step_s: float
                        ) -> Window:
    """A rule's history window from per-bucket means and whether each bucket is good."""
    values = np.array([math.nan if m is None else float(m) for m in means], dtype=np.float64)
    return Window(values, np.array(list(good), dtype=np.bool_), step_s)


def grid_step_s(window_s: float) -> float:
    """Bucket width for a window: about 30 buckets, whole minutes from one minute up."""
    step = window_s / 30.0
    if step < 60.0:
        return max(1.0, float(round(step)))
    return 60.0 * round(step / 60.0)
