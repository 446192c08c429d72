"""The small interface every protocol driver implements, and the table that names them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from gateway.quality import Reading
from plant.contract import Reason
from plant.site import ModbusDevice, OpcUaDevice, Point


class DeviceState(StrEnum):
    """Where a driver's connection stands."""

    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    CLOSED = "closed"


class DeviceError(Exception):
    """The link to a device failed as a whole: every point on it is affected."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class PartialReadError(DeviceError):
    """The link failed part-way through a scan; ``readings`` says what was read and why not."""

    def __init__(self, readings: list[Reading], cause: DeviceError) -> None:
        super().__init__(cause.reason, cause.detail)
        self.readings = readings


class WriteError(Exception):
    """A write the device refused or could not confirm."""


class Driver(Protocol):
    """One connection to one device; at most one request in flight at a time."""

    errors: int
    """Failed requests since start."""

    @property
    def state(self) -> DeviceState:
        """The connection's state."""
        ...

    async def connect(self) -> None:
        """Open the connection; raise DeviceError if the device cannot be reached."""
        ...

    async def read(self, points: Sequence[Point], timeout_s: float | None = None
                   ) -> list[Reading]:
        """Read points within ``timeout_s`` (default: the device's): one reading each (bad ones
        say why); DeviceError if the link is dead or the time ran out."""
        ...

    async def write(self, point: Point, value: float | int | bool) -> None:
        """Write one value; raise WriteError or DeviceError."""
        ...

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        ...


DriverFactory = Callable[[ModbusDevice | OpcUaDevice, Sequence[Point], Path], Driver]


def _modbus(device: ModbusDevice | OpcUaDevice, points: Sequence[Point], state_dir: Path) -> Driver:
    from gateway.modbus import ModbusDriver

    assert isinstance(device, ModbusDevice)
    return ModbusDriver(device, points)


def _opcua(device: ModbusDevice | OpcUaDevice, points: Sequence[Point], state_dir: Path) -> Driver:
    from gateway.opcua import OpcUaDriver

    assert isinstance(device, OpcUaDevice)
    return OpcUaDriver(device, points, state_dir)


# protocol name (as in the site file) -> driver factory
DRIVERS: dict[str, DriverFactory] = {"modbus": _modbus, "opcua": _opcua}
