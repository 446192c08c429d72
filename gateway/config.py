"""Endpoint overrides: point a site's devices at other hosts and ports (tests, the demo)."""

from __future__ import annotations

import json
from pathlib import Path

from plant.site import ModbusDevice, OpcUaDevice, Site


class EndpointError(ValueError):
    """An endpoint override that cannot be applied; the message names it."""


def parse_override(text: str) -> tuple[str, str]:
    """Split ``DEVICE=HOST:PORT`` or ``DEVICE=opc.tcp://...``."""
    device, sep, endpoint = text.partition("=")
    if not sep or not device or not endpoint:
        raise EndpointError(f"--endpoint {text!r}: expected DEVICE=HOST:PORT or "
                            f"DEVICE=opc.tcp://HOST:PORT/PATH")
    return device, endpoint


def load_endpoints_file(path: Path, station: str) -> dict[str, str]:
    """Read the simulator's endpoints file (``{station: {device: endpoint}}``) for one station."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EndpointError(f"{path}: cannot read endpoints: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get(station), dict):
        raise EndpointError(f"{path}: no endpoints for station {station!r}")
    return {str(k): str(v) for k, v in data[station].items()}


def with_endpoints(site: Site, overrides: dict[str, str]) -> Site:
    """Return the site with the given devices pointed at new endpoints."""
    known = {d.id for d in site.devices}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise EndpointError(f"endpoint for unknown device {unknown[0]!r} "
                            f"(devices: {', '.join(sorted(known))})")
    devices: list[ModbusDevice | OpcUaDevice] = []
    for device in site.devices:
        endpoint = overrides.get(device.id)
        if endpoint is None:
            devices.append(device)
        elif isinstance(device, OpcUaDevice):
            if not endpoint.startswith("opc.tcp://"):
                raise EndpointError(f"device {device.id} speaks OPC UA: endpoint {endpoint!r} "
                                    f"must start with opc.tcp://")
            devices.append(OpcUaDevice.model_validate(
                {**device.model_dump(), "endpoint": endpoint}))
        else:
            host, sep, port = endpoint.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise EndpointError(f"device {device.id} speaks Modbus TCP: endpoint "
                                    f"{endpoint!r} must be HOST:PORT")
            devices.append(ModbusDevice.model_validate(
                {**device.model_dump(), "host": host, "port": int(port)}))
    return Site.model_validate({**site.model_dump(), "devices": devices})
