"""The local PLC's decisions as pure functions of (settings, measurements, time).

They live in :mod:`plant.heating` so the supervisory controller decides with the very same
functions; this module names them for the simulator's PLC logic.
"""

from __future__ import annotations

from plant.heating import climate_curve_c, heating_wanted, occupied

__all__ = ["climate_curve_c", "heating_wanted", "occupied"]
