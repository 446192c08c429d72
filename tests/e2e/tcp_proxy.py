"""A TCP relay between a gateway and its broker that a test can cut like a WAN blip.

``python -m tests.e2e.tcp_proxy LISTEN_PORT TARGET_PORT`` relays every connection to
127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT. On SIGUSR1 it resets every client-side
connection (RST) and abandons the broker side without closing it: the gateway learns at once
that its link is gone, while the broker sees a silent peer until its keepalive or a session
takeover tells it, as after a real route change. SIGTERM stops the relay.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
import sys
from typing import cast

LOOPBACK = "127.0.0.1"


class Relay:
    """Relays connections and cuts them on request."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self.abandoned: list[asyncio.StreamWriter] = []

    async def serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        """Relay one client connection until either side closes it."""
        try:
            broker_r, broker_w = await asyncio.open_connection(LOOPBACK, self.target_port)
        except OSError:
            client_w.close()
            return
        pair = (client_w, broker_w)
        self.pairs.append(pair)
        await asyncio.gather(_pump(client_r, broker_w), _pump(broker_r, client_w),
                             return_exceptions=True)
        if pair in self.pairs:
            self.pairs.remove(pair)
            for writer in pair:
                writer.close()

    def cut(self) -> None:
        """Reset every client side; leave every broker side open and silent."""
        pairs, self.pairs = self.pairs, []
        for client_w, broker_w in pairs:
            sock = client_w.get_extra_info("socket")
            if sock is not None:
                # linger on, timeout 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client_w.transport.abort()
            cast(asyncio.Transport, broker_w.transport).pause_reading()
            self.abandoned.append(broker_w)
        print(f"cut {len(pairs)} connection(s)", flush=True)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        if writer.transport.is_closing():
            return
        writer.write(data)
        await writer.drain()


async def main(listen_port: int, target_port: int) -> None:
    """Relay until SIGTERM."""
    relay = Relay(target_port)
    server = await asyncio.start_server(relay.serve, LOOPBACK, listen_port, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, relay.cut)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(f"relaying {LOOPBACK}:{listen_port} to {LOOPBACK}:{target_port}", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
