"""A small OPC UA server for driver tests, with the test site's nodes, restartable on its port."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.server.server import Server

logging.getLogger("asyncua").setLevel(logging.ERROR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakeOpcUa:
    """Serves Double variables named by string NodeIds in namespace 2."""

    values: dict[str, float]
    port: int = field(default_factory=free_port)
    security: tuple[list[Any], Path, Path] | None = None
    """Security policies offered, server certificate and key (None: no security)."""
    _server: Any = None
    _nodes: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/geoscada"

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        if self.security is not None:
            policies, cert, key = self.security
            server.set_security_policy(policies)
            await server.load_certificate(str(cert))
            await server.load_private_key(str(key))
        idx = await server.register_namespace("urn:geoscada:station")
        assert idx == 2
        folder = await server.nodes.objects.add_object(idx, "Station")
        for name, value in self.values.items():
            node = await folder.add_variable(ua.NodeId.from_string(f"ns={idx};s={name}"), name, float(value))
            await node.set_writable()
            self._nodes[name] = node
        await server.start()
        self._server = server

    async def set(self, name: str, value: float) -> None:
        self.values[name] = value
        await self._nodes[name].write_value(float(value))

    async def get(self, name: str) -> float:
        return float(await self._nodes[name].read_value())

    async def stop(self) -> None:
        if self._server is not None:
            for name, node in self._nodes.items():
                self.values[name] = float(await node.read_value())
            await self._server.stop()
            self._server = None
            self._nodes.clear()
