"""The servers' TCP sockets send small writes at once (Nagle off).

A response written as headers, then body, on a kept-alive connection otherwise waits for the client's
delayed ACK: about 40 ms on every request after the first. asyncio turns Nagle off only on sockets
that say they are TCP, so `transports.listen` (every HTTP transport, the sandbox server, the stdio
webhook receiver) creates them so; these tests look at what the accepted connections actually have.
"""

from __future__ import annotations

import asyncio
import socket

from telco_mcp import transports


def test_the_listening_socket_is_tcp_with_nagle_off() -> None:
    sock = transports.listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()


def test_every_accepted_connection_has_nagle_off() -> None:
    host = "127.0.0.1"
    seen: list[int] = []

    async def run() -> None:
        sock = transports.listen(host, 0)
        port = transports.bound_port(sock)

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=sock)  # as uvicorn serves the socket it is given
        async with server:
            for _ in range(2):
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
            while len(seen) < 2:
                await asyncio.sleep(0.01)

    asyncio.run(run())
    assert seen and all(seen), seen
