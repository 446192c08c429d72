"""A tiny loopback HTTP/1.1 JSON API to read and disturb a running simulator.

``GET /stations/{id}/values`` → ``{point id: value}`` (null for a dead sensor);
``POST /stations/{id}/faults`` with a fault spec → ``{"id": ...}``;
``DELETE /stations/{id}/faults`` (all) or ``/stations/{id}/faults/{fault id}``;
``POST /stations/{id}/opcua/restart``; ``GET /endpoints``. Errors are 4xx with
``{"error": reason}``. One request per connection; bodies are at most 64 KiB.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from http import HTTPStatus
from typing import Any

from pydantic import ValidationError

from simulator.faults import FaultSpec
from simulator.runtime import SimulatorHost
from simulator.sim import FaultTargetError

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
READ_TIMEOUT_S = 10.0


class HttpError(Exception):
    """A request refused with a status and a reason."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


async def handle(host: SimulatorHost, method: str, path: str, body: bytes) -> tuple[
        HTTPStatus, Any]:
    """Answer one request: (status, JSON-able body)."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts == ["endpoints"] and method == "GET":
        return HTTPStatus.OK, host.endpoints()
    if len(parts) < 3 or parts[0] != "stations":
        raise HttpError(HTTPStatus.NOT_FOUND, f"no resource {path}")
    station_id = parts[1]
    if station_id not in host.sims:
        raise HttpError(HTTPStatus.NOT_FOUND, f"no station {station_id!r}")
    resource = parts[2:]
    if resource == ["values"]:
        _allow(method, "GET")
        values = host.sim(station_id).values()
        return HTTPStatus.OK, {k: _json_value(v) for k, v in values.items()}
    if resource == ["units"]:
        _allow(method, "GET")
        return HTTPStatus.OK, host.sim(station_id).units()
    if resource == ["faults"] and method == "POST":
        spec = _fault_spec(body)
        try:
            fault_id = host.inject(station_id, spec)
        except FaultTargetError as exc:
            raise HttpError(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc)) from None
        return HTTPStatus.CREATED, {"id": fault_id}
    if resource == ["faults"] and method == "GET":
        faults = [{"id": f.id, **f.spec.model_dump(), "active": f.active}
                  for f in host.sim(station_id).timeline.faults.values()]
        return HTTPStatus.OK, faults
    if resource[0] == "faults" and len(resource) <= 2:
        _allow(method, "DELETE")
        try:
            host.clear(station_id, resource[1] if len(resource) == 2 else None)
        except KeyError as exc:
            raise HttpError(HTTPStatus.NOT_FOUND, str(exc.args[0])) from None
        return HTTPStatus.OK, {"cleared": resource[1] if len(resource) == 2 else "all"}
    if resource == ["opcua", "restart"]:
        _allow(method, "POST")
        await host.restart_opcua(station_id)
        return HTTPStatus.OK, {"restarted": station_id}
    raise HttpError(HTTPStatus.NOT_FOUND, f"no resource {path}")


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"use {allowed}")


def _fault_spec(body: bytes) -> FaultSpec:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"body is not JSON: {exc}") from None
    try:
        return FaultSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise HttpError(HTTPStatus.UNPROCESSABLE_ENTITY, f"{key}: {first['msg']}") from None


class ControlServer:
    """Serves the control API of one SimulatorHost."""

    def __init__(self, host: SimulatorHost, address: str, port: int) -> None:
        self.host = host
        self.address = address
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Bind and listen."""
        self._server = await asyncio.start_server(self._connection, self.address, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
        payload: Any = {"error": "internal error"}
        try:
            method, path, body = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT_S)
            status, payload = await handle(self.host, method, path, body)
        except HttpError as exc:
            status, payload = exc.status, {"error": exc.reason}
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        except Exception:  # a bad request must never stop the simulator
            log.exception("control API request failed")
        data = json.dumps(payload).encode()
        head = (f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n")
        try:
            writer.write(head.encode() + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
    line = (await reader.readline()).decode("latin-1").strip()
    pieces = line.split()
    if len(pieces) != 3:
        raise HttpError(HTTPStatus.BAD_REQUEST, "malformed request line")
    method, path, _version = pieces
    length = 0
    while True:
        header = (await reader.readline()).decode("latin-1").strip()
        if not header:
            break
        name, _, value = header.partition(":")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise HttpError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
    if length < 0 or length > MAX_BODY:
        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
    body = await reader.readexactly(length) if length else b""
    return method.upper(), path, body
