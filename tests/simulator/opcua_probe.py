"""An independent OPC UA client (asyncua's client only) that browses a server and reports JSON.

Run as ``python opcua_probe.py ENDPOINT STATION [WRITE NODE VALUE]...``: it browses Objects →
STATION → equipment → variables, reads each variable's value, data type, EngineeringUnits and
EURange, then tries each requested write and reports its status code name. It shares no code
with the simulator.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from asyncua import ua as _ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import UaStatusCodeError

ua: Any = _ua


async def probe(endpoint: str, station: str, writes: list[tuple[str, str]]) -> dict[str, Any]:
    report: dict[str, Any] = {"equipment": {}, "writes": {}}
    async with Client(endpoint, timeout=10) as client:
        objects = client.nodes.objects
        station_node = None
        for child in await objects.get_children():
            name = await child.read_browse_name()
            if name.Name == station:
                station_node = child
        if station_node is None:
            raise SystemExit(f"no station object {station!r} under Objects")
        report["station_node"] = station_node.nodeid.to_string()
        for equipment in await station_node.get_children():
            eq_name = (await equipment.read_browse_name()).Name
            variables: dict[str, Any] = {}
            for variable in await equipment.get_children(refs=ua.ObjectIds.HasComponent):
                browse = (await variable.read_browse_name()).Name
                data = await variable.read_data_value(raise_on_bad_status=False)
                entry: dict[str, Any] = {
                    "node": variable.nodeid.to_string(),
                    "value": data.Value.Value if data.Value is not None else None,
                    "status": data.StatusCode.name if data.StatusCode else "Good",
                    "type_definition": _node_text(await variable.read_type_definition()),
                }
                for prop in await variable.get_properties():
                    prop_name = (await prop.read_browse_name()).Name
                    prop_value = await prop.read_value()
                    if prop_name == "EngineeringUnits":
                        entry["unit_id"] = prop_value.UnitId
                        entry["unit_symbol"] = prop_value.DisplayName.Text
                        entry["units_namespace"] = prop_value.NamespaceUri
                    elif prop_name == "EURange":
                        entry["range"] = [prop_value.Low, prop_value.High]
                variables[browse] = entry
            report["equipment"][eq_name] = variables
        for node_id, text in writes:
            node = client.get_node(node_id)
            value = json.loads(text)
            variant = ua.Variant(value, ua.VariantType.Boolean if isinstance(value, bool)
                                 else ua.VariantType.Double)
            try:
                await node.write_value(ua.DataValue(variant))
                report["writes"][node_id] = "Good"
            except UaStatusCodeError as exc:
                report["writes"][node_id] = ua.StatusCode(exc.code).name
    return report


def _node_text(node_id: Any) -> str:
    return "" if node_id is None else str(node_id.to_string())


def main() -> None:
    endpoint, station, *rest = sys.argv[1:]
    writes = list(zip(rest[0::2], rest[1::2], strict=True))
    print(json.dumps(asyncio.run(probe(endpoint, station, writes)), default=str))


if __name__ == "__main__":
    main()
