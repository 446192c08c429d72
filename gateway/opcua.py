"""OPC UA driver: subscriptions with deadbands, polling where asked, a health probe per scan.

Each scan sends one Read request carrying the server's CurrentTime (the probe) and every
``mode: poll`` point; subscribed points come from the subscription's latest notification. A
probe that fails or times out means the connection is dead even if the socket looks open: the
driver closes, and the poller's reconnect (the gateway's one backoff policy) makes a new
session and re-creates the subscriptions, so a restarted server needs nobody's help. A bad
status change on the subscription (the server shut down, the session timed out) gives the
session up at once, without waiting for the next probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies
from asyncua.ua.uaerrors import UaStatusCodeError

from gateway.driver import DeviceError, DeviceState, WriteError
from gateway.quality import Reading
from geoscada.pki import opcua_certificate
from plant.contract import Quality, Reason
from plant.site import OpcUaBinding, OpcUaDevice, Point

log = logging.getLogger(__name__)

CURRENT_TIME = ua.NodeId.from_string("i=2258")  # Server.ServerStatus.CurrentTime
SESSION_TIMEOUT_MS = 600_000
"""The session timeout asked of a server. Assumption: 600 s is what the station's servers grant
(asyncua's server caps requests at 600 s and revised asyncua's 3600 s default down, with a
warning at every session); a lost session is never resumed but replaced, so more buys nothing."""


class _PublishOnClosedConnection(logging.Filter):
    """Drops asyncua's traceback for a publish request on a connection the server closed: the
    subscription's status change (BadShutdown) reports that loss, and the poller logs it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for that one record; every other record passes."""
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, ConnectionError)
                    and str(record.msg).startswith("Publish iteration crashed"))


logging.getLogger("asyncua.client.ua_session.UaSession").addFilter(_PublishOnClosedConnection())


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
    """Make the gateway's self-signed client certificate on first start (key 0600); return
    (cert, key)."""
    cert, key = state_dir / "opcua-client-cert.der", state_dir / "opcua-client-key.pem"
    if not cert.exists() or not key.exists():
        log.info("creating OPC UA client certificate %s", cert)
    return opcua_certificate(cert, key, application_uri, server=False)


def fingerprint(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate, as ``AB:CD:...``."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def first_certificate(der: bytes) -> bytes:
    """The first certificate of a DER chain (a server may send its chain concatenated)."""
    if len(der) < 2 or der[0] != 0x30:
        raise ValueError("not a DER certificate")
    if der[1] < 0x80:
        return der[:2 + der[1]]
    size = der[1] & 0x7F
    return der[:2 + size + int.from_bytes(der[2:2 + size], "big")]


class UntrustedServerError(Exception):
    """An OPC UA server whose certificate the trust store does not hold (or holds another)."""


@dataclass(frozen=True)
class TrustStore:
    """The OPC UA server certificates a gateway trusts: one DER file per device.

    Unknown certificates are refused unless ``first_use`` is on; then the first certificate a
    device's server offers is pinned and its fingerprint logged for the operator to check. A
    pinned certificate is never replaced: a changed one is refused until the operator removes
    the file.
    """

    directory: Path
    first_use: bool = False

    def path(self, device_id: str) -> Path:
        """The pinned certificate of one device."""
        return self.directory / f"{device_id}.der"

    def check(self, device_id: str, offered: bytes) -> bytes:
        """Return the certificate to trust for the device; raise UntrustedServerError."""
        pinned_path = self.path(device_id)
        if pinned_path.exists():
            pinned = pinned_path.read_bytes()
            if pinned != offered:
                raise UntrustedServerError(
                    f"server certificate changed: pinned {fingerprint(pinned)} ({pinned_path}), "
                    f"offered {fingerprint(offered)}; refusing")
            return pinned
        if not self.first_use:
            raise UntrustedServerError(
                f"server certificate {fingerprint(offered)} is not trusted: put it in "
                f"{pinned_path} or start once with first-use pinning")
        self.directory.mkdir(parents=True, exist_ok=True)
        pinned_path.write_bytes(offered)
        log.warning("%s: first use: pinned the server certificate, SHA-256 fingerprint %s (%s);"
                    " check it against the server's", device_id, fingerprint(offered),
                    pinned_path)
        return offered


class OpcUaDriver:
    """One session with one OPC UA server."""

    def __init__(self, device: OpcUaDevice, points: Sequence[Point], state_dir: Path, *,
                 first_use: bool = False) -> None:
        self.device = device
        self.trust = TrustStore(state_dir / "opcua-trust", first_use)
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
        self._lost = ""
        """Why the server's own status change ended the last session (empty if it did not)."""

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

    # asyncua calls this from its subscription when the subscription's status changes, and
    # with BadShutdown when the client notices the connection is gone
    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        """Give the session up at once on a bad status; a good one needs nothing."""
        code = status.Status
        if code.is_good() or self._client is None:
            log.debug("%s: subscription status %s", self.device.id, code.name)
            return
        self._lost = f"server status {code.name}"
        # the poller's "not answering" warning, naming the status, is the line operators see
        log.debug("%s: the server reports %s: session given up", self.device.id, code.name)
        self._drop()
        # the poller learns of the loss from its next read, which names the status: taken as
        # disconnected now, the link would be made anew before any point was reported bad
        self._state = DeviceState.CONNECTED

    async def _secure(self, client: Client) -> None:
        uri = f"urn:geoscada:gateway:{socket.gethostname()}"
        client.application_uri = uri
        cert, key = ensure_certificate(self._state_dir, uri)
        mode = getattr(ua.MessageSecurityMode, self.device.security_mode)
        policy = security_policies.SecurityPolicyBasic256Sha256
        # the certificate the server offers, from its endpoint list (an unsecured request);
        # the secure channel is then made with the trusted certificate alone, so an impostor
        # offering the same bytes still cannot sign or decrypt
        endpoints = await asyncio.wait_for(client.connect_and_get_server_endpoints(),
                                           self.device.timeout_s * 2)
        offered = [e for e in endpoints if e.SecurityMode == mode and
                   e.SecurityPolicyUri == policy.URI]
        if not offered:
            raise UntrustedServerError(f"the server offers no Basic256Sha256 "
                                       f"{self.device.security_mode} endpoint")
        trusted = self.trust.check(self.device.id, first_certificate(offered[0].ServerCertificate))
        await client.set_security(policy, str(cert), str(key), mode=mode,
                                  server_certificate=trusted)

    async def connect(self) -> None:
        """Open a session and subscribe; raise DeviceError if the server cannot be reached."""
        await self.close()
        client = Client(self.device.endpoint, timeout=self.device.timeout_s,
                        watchdog_intervall=3600.0)
        client.session_timeout = SESSION_TIMEOUT_MS
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
        self._lost = ""
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
            self._lost_link()
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
        if self._client is not client:  # the server's status ended the session meanwhile
            self._lost_link()
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

    def _lost_link(self) -> NoReturn:
        self._state = DeviceState.DISCONNECTED
        raise DeviceError(Reason.NOT_CONNECTED, self._lost or "not connected")

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
