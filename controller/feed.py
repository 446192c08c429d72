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
from collections.abc import Iterator, Mapping, Sequence
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
    changed: set[str] = field(default_factory=set)
    """Points given a new sample since :meth:`take_changed` was last called."""

    def take(self, batch: DataBatch) -> None:
        """Keep each sample that is newer than the one held for its point."""
        for sample in batch.samples:
            held = self.latest.get(sample.p)
            if held is None or sample.t >= held.t:
                self.latest[sample.p] = sample
                self.changed.add(sample.p)
        self.batches += 1
        if not batch.historical and batch.samples:
            newest = max(sample.t for sample in batch.samples)
            if self.heard_at is None or newest > self.heard_at:
                self.heard_at = newest

    def take_changed(self) -> set[str]:
        """The points given a new sample since the last call (and forget them)."""
        changed, self.changed = self.changed, set()
        return changed

    def current(self) -> dict[str, Sample]:
        """The latest samples, each dated to the gateway's latest batch while it still holds."""
        view = self.view()
        return {point: view[point] for point in self.latest}

    def view(self, now: datetime | None = None, fresh_s: float = 0.0) -> DatedSamples:
        """The same as :meth:`current` for any rule, dating only the samples looked up.

        With ``now``, a sample no older than ``fresh_s`` there is given as it is: it is fresh
        for every rule whose ``stale_after_s`` is at least ``fresh_s``, dated or not, and the
        rules read a sample's time only to judge its staleness.
        """
        heard = self.heard_at
        if heard is None or not self.alive:
            return DatedSamples(self.latest, None, None)
        keep = None if now is None else now - timedelta(seconds=fresh_s)
        return DatedSamples(self.latest, heard,
                            heard - timedelta(seconds=holds_for_s(self.refresh_s)), keep)

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


class DatedSamples(Mapping[str, Sample]):
    """Latest samples, each dated to the gateway's latest batch while it still holds."""

    def __init__(self, latest: Mapping[str, Sample], heard: datetime | None,
                 horizon: datetime | None, keep_from: datetime | None = None) -> None:
        self._latest = latest
        self._heard = heard
        self._horizon = horizon
        self._keep_from = keep_from
        self._dated: dict[str, Sample] = {}

    def time_of(self, sample: Sample) -> datetime:
        """The time a sample holds at: the latest batch's while it holds, else its own."""
        heard, horizon = self._heard, self._horizon
        if heard is not None and horizon is not None and horizon <= sample.t < heard:
            return heard
        return sample.t

    def __getitem__(self, point: str) -> Sample:
        dated = self._dated.get(point)
        if dated is None:
            sample = self._latest[point]
            t = self.time_of(sample)
            keep = t == sample.t or (self._keep_from is not None and sample.t >= self._keep_from)
            dated = sample if keep else sample.model_copy(update={"t": t})
            self._dated[point] = dated
        return dated

    def get(self, point: str, default: Sample | None = None) -> Sample | None:  # type: ignore[override]
        """The dated sample of a point, or ``default`` when it has none."""
        return self[point] if point in self._latest else default

    def __contains__(self, point: object) -> bool:
        return point in self._latest

    def __iter__(self) -> Iterator[str]:
        return iter(self._latest)

    def __len__(self) -> int:
        return len(self._latest)


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
