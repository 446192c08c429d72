"""The one reconnect policy: capped exponential backoff with full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays between reconnect attempts: ``base * 2**n`` capped at ``cap``, then jittered.

    Jitter spreads the delay over [ratio * d, d] so that many gateways (or devices) that lost
    the same network at once do not all come back in the same millisecond.
    """

    base_s: float = 0.5
    cap_s: float = 10.0
    jitter_ratio: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count the attempt."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(self.attempts, 30))
        self.attempts += 1
        return ceiling * (self.jitter_ratio + (1 - self.jitter_ratio) * self.rng.random())

    def reset(self) -> None:
        """Start again from the base delay (after a successful connection)."""
        self.attempts = 0
