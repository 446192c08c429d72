"""OPC UA driver: subscriptions with deadbands, polling where asked, a health probe per scan.

Each scan sends one Read request carrying the server's CurrentTime (the probe) and every
``mode: poll`` point; subscribed points come from the subscription's latest notification. A
probe that fails or times out means the connection is dead even if the socket looks open: the
driver closes, and the poller's reconnect (the gateway's one backoff policy) makes a new
session and re-creates the subscriptions, so a restarted server needs nobody's help.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies
from asyncua.ua.uaerrors import UaStatusCodeError
from cryptography.x509.oid import ExtendedKeyUsageOID

from gateway.driver import DeviceError, DeviceState, WriteError
from gateway.quality import Reading
from plant.contract import Quality, Reason
from plant.site import OpcUaBinding, OpcUaDevice, Point

log = logging.getLogger(__name__)

CURRENT_TIME = ua.NodeId.from_string("i=2258")  # Server.ServerStatus.CurrentTime


@dataclass
class _Latest:
    value: Any
    status: ua.StatusCode
    t: float
    fresh: bool = True


def _binding(point: Point) -> OpcUaBinding:
    if not isinstance(point.binding, OpcUaBinding):
        raise TypeError(f"point {point.id} is not bound to an OPC UA server")
    return point.binding


def _plain(value: Any, point: Point) -> float | int | bool:
    """The server's value as the point's type; TypeError or ValueError if it is not one."""
    if point.dtype == "bool":
        return bool(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{type(value).__name__} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        # an integer point fed inf or NaN has no value to round to
        raise ValueError(f"{value} is not finite")
    if point.dtype == "int":
        return round(value)
    return float(value)


def ensure_certificate(state_dir: Path, application_uri: str) -> tuple[Path, Path]:
    """Make the gateway's self-signed client certificate on first start; return (cert, key)."""
    from asyncua.crypto.cert_gen import setup_self_signed_certificate

    cert, key = state_dir / "opcua-client-cert.der", state_dir / "opcua-client-key.pem"
    if not cert.exists() or not key.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        log.info("creating OPC UA client certificate %s", cert)
        asyncio_run_in_thread(setup_self_signed_certificate(
            key, cert, application_uri, socket.gethostname(),
            [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "GeoSCADA gateway"}))
    return cert, key


def asyncio_run_in_thread(coroutine: Any) -> None:
    """Run a coroutine to completion from synchronous code, inside or outside a loop."""
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="opcua-certificate")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


class OpcUaDriver:
    """One session with one OPC UA server."""

    def __init__(self, device: OpcUaDevice, points: Sequence[Point], state_dir: Path) -> None:
        self.device = device
        self.errors = 0
        self._state_dir = state_dir
        self._points = list(points)
        for point in self._points:
            _binding(point)
        self._client: Client | None = None
        self._state = DeviceState.DISCONNECTED
        self._latest: dict[str, _Latest] = {}
        self._by_node: dict[str, Point] = {}
        self._variant_types: dict[str, ua.VariantType] = {}
        self._all_in = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> DeviceState:
        """The connection's state."""
        return self._state

    # asyncua calls this from its subscription for every data change
    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        """Keep the latest value of a subscribed point."""
        point = self._by_node.get(node.nodeid.to_string())
        if point is None:
            return
        status = data.monitored_item.Value.StatusCode
        self._latest[point.id] = _Latest(value, status, time.time())
        if len(self._latest) >= len(self._by_node):
            self._all_in.set()

    async def _secure(self, client: Client) -> None:
        uri = f"urn:geoscada:gateway:{socket.gethostname()}"
        client.application_uri = uri
        cert, key = ensure_certificate(self._state_dir, uri)
        mode = getattr(ua.MessageSecurityMode, self.device.security_mode)
        pinned = self._state_dir / f"opcua-server-{self.device.id}.der"
        await client.set_security(security_policies.SecurityPolicyBasic256Sha256, str(cert),
                                  str(key), mode=mode,
                                  server_certificate=str(pinned) if pinned.exists() else None)

    async def connect(self) -> None:
        """Open a session and subscribe; raise DeviceError if the server cannot be reached."""
        await self.close()
        client = Client(self.device.endpoint, timeout=self.device.timeout_s,
                        watchdog_intervall=3600.0)
        try:
            if self.device.security_policy != "None":
                await self._secure(client)
            await asyncio.wait_for(client.connect(), self.device.timeout_s * 2)
        except Exception as exc:  # any failure of the library means the link is unusable
            self.errors += 1
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 1.0)
            raise DeviceError(Reason.COMM_LOST,
                              f"{self.device.endpoint}: {exc or type(exc).__name__}") from None
        self._client = client
        self._state = DeviceState.CONNECTED
        self._latest.clear()
        self._all_in.clear()
        try:
            await self._subscribe(client)
        except Exception as exc:
            self.errors += 1
            await self.close()
            raise DeviceError(Reason.COMM_LOST, f"subscribing: {exc}") from None

    async def _subscribe(self, client: Client) -> None:
        subscribed = [p for p in self._points if _binding(p).mode == "subscribe"]
        self._by_node = {}
        if not subscribed:
            return
        period_ms = 250.0
        subscription = await client.create_subscription(period_ms, self)
        plain: list[Any] = []
        for point in subscribed:
            node = client.get_node(_binding(point).node_id)
            self._by_node[node.nodeid.to_string()] = point
            if point.deadband > 0 and point.dtype != "bool":
                await subscription.deadband_monitor(node, ua.Double(point.deadband))
            else:
                plain.append(node)
        if plain:
            results = await subscription.subscribe_data_change(plain)
            for point_node, result in zip(plain, results if isinstance(results, list)
                                          else [results], strict=True):
                if isinstance(result, ua.StatusCode):
                    log.warning("%s: cannot subscribe %s: %s", self.device.id,
                                point_node.nodeid.to_string(), result.name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_in.wait(), self.device.timeout_s)

    def _drop(self) -> None:
        """Give the session up now and close it in the background: a frozen server must not
        hold the caller for the disconnect's timeout."""
        client, self._client = self._client, None
        self._state = DeviceState.DISCONNECTED
        if client is not None:
            task = asyncio.ensure_future(self._disconnect(client))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _disconnect(client: Client) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 1.0)

    async def close(self) -> None:
        """Close the session (idempotent)."""
        self._drop()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def read(self, points: Sequence[Point], timeout_s: float | None = None
                   ) -> list[Reading]:
        """Probe the server and read polled points in one request; take subscribed ones."""
        client = self._client
        if client is None:
            raise DeviceError(Reason.NOT_CONNECTED, "not connected")
        # subscribed points with no notification yet (just connected, or just written) are
        # read directly, so a read-back never waits for the subscription
        polled = [p for p in points
                  if _binding(p).mode == "poll" or p.id not in self._latest]
        nodes = [client.get_node(CURRENT_TIME)] + [client.get_node(_binding(p).node_id)
                                                    for p in polled]
        timeout = self.device.timeout_s if timeout_s is None else timeout_s
        try:
            values = await asyncio.wait_for(client.read_attributes(nodes), timeout)
        except Exception as exc:
            self.errors += 1
            self._drop()
            reason = Reason.TIMEOUT if isinstance(exc, TimeoutError) else Reason.COMM_LOST
            raise DeviceError(reason, f"health probe: {exc or type(exc).__name__}") from None
        now = time.time()
        readings: list[Reading] = []
        for point, data in zip(polled, values[1:], strict=True):
            readings.append(self._reading(point, data.Value.Value if data.Value else None,
                                          data.StatusCode, now))
        for point in points:
            latest = self._latest.get(point.id)
            if _binding(point).mode != "subscribe" or latest is None:
                continue
            t = latest.t if latest.fresh else now
            latest.fresh = False
            readings.append(self._reading(point, latest.value, latest.status, t))
        return readings

    def _reading(self, point: Point, value: Any, status: ua.StatusCode | None,
                 t: float) -> Reading:
        if status is not None and not status.is_good():
            quality = Quality.UNCERTAIN if status.is_uncertain() else Quality.BAD
            return Reading(point.id, t, None if quality is Quality.BAD else value, quality,
                           Reason.DEVICE_STATUS, status.name)
        try:
            return Reading(point.id, t, _plain(value, point))
        except (TypeError, ValueError, OverflowError) as exc:
            return Reading(point.id, t, None, Quality.BAD, Reason.DECODE_ERROR, str(exc)[:200])

    async def write(self, point: Point, value: float | int | bool) -> None:
        """Write one value with the node's own data type; raise WriteError or DeviceError."""
        client = self._client
        if client is None:
            raise DeviceError(Reason.NOT_CONNECTED, "not connected")
        node = client.get_node(_binding(point).node_id)
        try:
            kind = self._variant_types.get(point.id)
            if kind is None:
                kind = await asyncio.wait_for(node.read_data_type_as_variant_type(),
                                              self.device.timeout_s)
                self._variant_types[point.id] = kind
            plain: float | int | bool = value
            if kind in (ua.VariantType.Float, ua.VariantType.Double):
                plain = float(value)
            elif kind != ua.VariantType.Boolean:
                plain = round(value)
            await asyncio.wait_for(node.write_value(ua.DataValue(ua.Variant(plain, kind))),
                                   self.device.timeout_s)
        except UaStatusCodeError as exc:
            raise WriteError(f"{point.id}: {exc}") from None
        except Exception as exc:
            self.errors += 1
            raise DeviceError(Reason.COMM_LOST, f"write {point.id}: {exc}") from None
        # the subscription will report the new value; take it as not yet confirmed
        self._latest.pop(point.id, None)
