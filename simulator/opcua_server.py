"""An OPC UA server (asyncua) per simulated station, laid out as docs/opcua-nodes.md says.

Objects → station object (``ns=2;s=<station id>``) → one object per piece of equipment with
points on this server (``ns=2;s=<equipment id>``) → one variable per point, with the NodeId
its site-file binding names and BrowseName ``<measurand>`` or ``<measurand>@<depth>``.
Analogue points are AnalogItemType Double variables with EngineeringUnits and EURange
properties; state points are Boolean. Writable points accept writes within their limits
(Bad_OutOfRange outside them); other points answer Bad_NotWritable. A dead sensor reads
Bad_SensorFailure; the points of a silent device read Bad_NoCommunication, and a server whose
devices are all silent stops listening until one answers again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from asyncua import ua as _ua
from asyncua.server.server import Server

from geoscada.pki import opcua_certificate
from plant.site import OpcUaBinding, OpcUaDevice, Point
from plant.units import UNITS_NAMESPACE, opcua_unit_id, symbol, unece_code
from simulator.sim import StationSim, WriteRefusedError

log = logging.getLogger(__name__)
ua: Any = _ua  # asyncua's generated types are looser than its annotations



def browse_name(point: Point) -> str:
    """``measurand`` or ``measurand@depth`` (depth in metres, without a trailing .0)."""
    if point.depth_m is None:
        return str(point.measurand)
    depth = int(point.depth_m) if float(point.depth_m).is_integer() else point.depth_m
    return f"{point.measurand}@{depth}"


def endpoint_path(endpoint: str) -> str:
    """The path part of an ``opc.tcp://host:port/path`` endpoint."""
    return urlsplit(endpoint).path


def certificate_path(directory: Path, station_id: str, endpoint: str) -> Path:
    """Where the server of one station's endpoint keeps its certificate (DER)."""
    return directory / f"opcua-{station_id}{endpoint_path(endpoint).replace('/', '-')}.der"


class StationOpcUaServer:
    """One listening OPC UA server serving the points of some OPC UA devices of one station."""

    def __init__(self, sim: StationSim, devices: list[OpcUaDevice], host: str, port: int,
                 certificate_dir: Path | None = None) -> None:
        self.sim = sim
        self.certificate_dir = certificate_dir
        """Where the server's certificate and key live (a temporary directory if None: a new
        certificate for every process)."""
        self.devices = devices
        self.device_ids = {d.id for d in devices}
        self.host = host
        self.port = port
        self.path = endpoint_path(devices[0].endpoint)
        self.server: Server | None = None
        self.points: list[tuple[int, Point, Any]] = []
        self._node_points: dict[Any, int] = {}
        self._stopped_silent = False
        self._lifecycle = asyncio.Lock()
        for index, point in enumerate(sim.table.points):
            binding = point.binding
            if isinstance(binding, OpcUaBinding) and binding.device in self.device_ids:
                node_id = ua.NodeId.from_string(binding.node_id)
                self.points.append((index, point, node_id))
                self._node_points[node_id] = index

    @property
    def endpoint(self) -> str:
        """The endpoint URL clients connect to."""
        return f"opc.tcp://{self.host}:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        """True while listening."""
        return self.server is not None

    async def start(self) -> None:
        """Build the address space and start listening (port 0 picks a free port once)."""
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://{self.host}:{self.port}{self.path}")
        server.set_server_name(f"GeoSCADA simulator {self.sim.station_id}")
        # the secure endpoints let the gateway's trust store be tested end to end; the plain
        # one stays for tools that cannot do security (this is a simulator, not a plant)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity,
                                    ua.SecurityPolicyType.Basic256Sha256_Sign,
                                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        cert, key = self._certificate()
        await server.set_application_uri(self.application_uri)  # as the certificate names it
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        namespace = await server.register_namespace(self.devices[0].namespace_uri)
        await self._build(server, namespace)
        service: Any = server.iserver.attribute_service
        original = service.write

        async def write(params: Any, user: Any = None) -> list[Any]:
            return await self._write(params, user, original)

        service.write = write
        await server.start()
        if self.port == 0:
            bound: Any = server.bserver
            self.port = int(bound.port)
        self.server = server
        await self.push()
        log.info("%s: OPC UA server on %s", self.sim.station_id, self.endpoint)

    def _certificate(self) -> tuple[Path, Path]:
        if self.certificate_dir is None:
            self.certificate_dir = Path(tempfile.mkdtemp(prefix="geoscada-sim-opcua-"))
        cert = certificate_path(self.certificate_dir, self.sim.station_id, self.endpoint)
        return opcua_certificate(cert, cert.with_name(cert.stem + "-key.pem"),
                                 self.application_uri, server=True)

    @property
    def application_uri(self) -> str:
        """The server's OPC UA application URI, also in its certificate."""
        return f"urn:geoscada:simulator:{self.sim.station_id}"

    async def stop(self) -> None:
        """Stop listening and drop every session."""
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    async def restart(self) -> None:
        """Stop and start again on the same port (clients lose their sessions).

        While every device of the server is silent it stays stopped until one answers again.
        """
        async with self._lifecycle:
            await self.stop()
            if self.device_ids <= self.sim.silent:
                self._stopped_silent = True
                return
            await self.start()

    async def _build(self, server: Server, namespace: int) -> None:
        site = self.sim.site
        station_obj = await server.nodes.objects.add_object(
            ua.NodeId(site.station.id, namespace), ua.QualifiedName(site.station.id, namespace))
        equipment_nodes: dict[str, Any] = {}
        for _index, point, node_id in self.points:
            parent = equipment_nodes.get(point.equipment)
            if parent is None:
                item = site.equipment_by_id(point.equipment)
                parent = await station_obj.add_object(
                    ua.NodeId(item.id, namespace), ua.QualifiedName(item.id, namespace))
                if item.name:
                    await parent.write_attribute(
                        ua.AttributeIds.Description,
                        ua.DataValue(ua.Variant(ua.LocalizedText(item.name))))
                equipment_nodes[point.equipment] = parent
            await self._add_variable(server, parent.nodeid, point, node_id, namespace)

    async def _add_variable(self, server: Server, parent: Any, point: Point, node_id: Any,
                            namespace: int) -> None:
        analog = point.dtype != "bool"
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = node_id
        item.BrowseName = ua.QualifiedName(browse_name(point), namespace)
        item.NodeClass = ua.NodeClass.Variable
        item.ParentNodeId = parent
        item.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HasComponent)
        item.TypeDefinition = ua.NodeId(ua.ObjectIds.AnalogItemType if analog
                                        else ua.ObjectIds.BaseDataVariableType)
        attrs = ua.VariableAttributes()
        attrs.DisplayName = ua.LocalizedText(browse_name(point))
        attrs.Description = ua.LocalizedText(point.description or point.id)
        attrs.DataType = ua.NodeId(ua.ObjectIds.Double if analog else ua.ObjectIds.Boolean)
        attrs.Value = ua.Variant(0.0 if analog else False,
                                 ua.VariantType.Double if analog else ua.VariantType.Boolean)
        attrs.ValueRank = ua.ValueRank.Scalar
        access = ua.AccessLevel.CurrentRead.mask
        if point.writable:
            access |= ua.AccessLevel.CurrentWrite.mask
        attrs.AccessLevel = attrs.UserAccessLevel = access
        item.NodeAttributes = attrs
        results = await server.iserver.isession.add_nodes([item])
        results[0].StatusCode.check()
        if not analog:
            return
        variable = server.get_node(node_id)
        code = unece_code(point.unit)
        units = ua.EUInformation(NamespaceUri=UNITS_NAMESPACE, UnitId=opcua_unit_id(code),
                                 DisplayName=ua.LocalizedText(symbol(point.unit)),
                                 Description=ua.LocalizedText(point.unit))
        await variable.add_property(ua.NodeId(f"{point.id}#EngineeringUnits", namespace),
                                    ua.QualifiedName("EngineeringUnits", 0), units,
                                    datatype=ua.NodeId(ua.ObjectIds.EUInformation))
        low, high = point.range
        await variable.add_property(ua.NodeId(f"{point.id}#EURange", namespace),
                                    ua.QualifiedName("EURange", 0),
                                    ua.Range(Low=low, High=high),
                                    datatype=ua.NodeId(ua.ObjectIds.Range))

    async def _write(self, params: Any, user: Any, original: Any) -> list[Any]:
        results: list[Any] = []
        for request in params.NodesToWrite:
            index = self._node_points.get(request.NodeId)
            if index is None or request.AttributeId != ua.AttributeIds.Value:
                single = ua.WriteParameters()
                single.NodesToWrite = [request]
                results.extend(await (original(single, user) if user is not None
                                      else original(single)))
                continue
            results.append(await self._write_point(index, request))
        return results

    async def _write_point(self, index: int, request: Any) -> Any:
        point = self.sim.table.points[index]
        if point.binding.device in self.sim.silent:
            return ua.StatusCode(ua.StatusCodes.BadNoCommunication)
        if not point.writable:
            return ua.StatusCode(ua.StatusCodes.BadNotWritable)
        variant = request.Value.Value if request.Value is not None else None
        value = None if variant is None else variant.Value
        try:
            self.sim.write(point.id, value)
        except WriteRefusedError as refused:
            if refused.reason == "out_of_range":
                return ua.StatusCode(ua.StatusCodes.BadOutOfRange)
            if refused.reason == "not_writable":
                return ua.StatusCode(ua.StatusCodes.BadNotWritable)
            return ua.StatusCode(ua.StatusCodes.BadTypeMismatch)
        log.info("%s: OPC UA write %s = %s", self.sim.station_id, point.id, value)
        await self.push()
        return ua.StatusCode()

    async def push(self) -> None:
        """Publish every point's current reading (value, quality, source time)."""
        server = self.server
        if server is None:
            return
        readings = self.sim.readings()
        stamp = self.sim.now.astimezone(UTC)
        now = datetime.now(UTC)
        aspace = server.iserver.aspace
        silent = self.sim.silent
        for index, point, node_id in self.points:
            value = readings[index]
            analog = point.dtype != "bool"
            if point.binding.device in silent:
                status = ua.StatusCode(ua.StatusCodes.BadNoCommunication)
                variant = ua.Variant(None, ua.VariantType.Null)
            elif value is None:
                status = ua.StatusCode(ua.StatusCodes.BadSensorFailure)
                variant = ua.Variant(None, ua.VariantType.Null)
            elif analog:
                number = float(value)
                status = ua.StatusCode()
                if not math.isfinite(number):
                    status = ua.StatusCode(ua.StatusCodes.BadSensorFailure)
                variant = ua.Variant(number, ua.VariantType.Double)
            else:
                status = ua.StatusCode()
                variant = ua.Variant(bool(value), ua.VariantType.Boolean)
            data = ua.DataValue(Value=variant, StatusCode=status, SourceTimestamp=stamp,
                                ServerTimestamp=now)
            await aspace.write_attribute_value(node_id, ua.AttributeIds.Value, data)

    async def device_change(self) -> None:
        """Stop listening when every device of this server is silent; listen again after."""
        async with self._lifecycle:
            all_silent = self.device_ids <= self.sim.silent
            if all_silent and self.server is not None:
                self._stopped_silent = True
                await self.stop()
            elif not all_silent and self._stopped_silent:
                self._stopped_silent = False
                if self.server is None:
                    await self.start()
            else:
                await self.push()
