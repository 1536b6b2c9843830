"""The approval listeners: a background thread with its own event loop serving the page and the CLI socket.

Under stdio (and the in-memory client) nothing else serves HTTP, so the page gets a loopback listener
of its own; under the HTTP transports the server's app mounts the page and only the CLI's Unix
socket is served here. The thread never touches the MCP transport's event loop: the store and the
service are thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

from telco_mcp.access import ForwardedHeaders
from telco_mcp.approval.page import api_app, page_app
from telco_mcp.approval.service import ApprovalService
from telco_mcp.approval.sockets import open_socket, remove_socket

logger = logging.getLogger(__name__)


class ThreadListeners:
    """A background thread with its own event loop serving the page (loopback) and the CLI socket."""

    def __init__(self, service: ApprovalService) -> None:
        self.service = service
        self.page_port = 0
        self._loop = asyncio.new_event_loop()
        self._servers: list[Any] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telco-mcp-approvals", daemon=True)
        self._sockets: list[socket.socket] = []
        self._uvicorn: list[Any] = []

    def start(self) -> None:
        service = self.service
        if not service.mounted_base:
            # IPPROTO_TCP: asyncio then turns Nagle off on its connections (see transports.listen)
            page_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            try:
                page_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                page_socket.bind(("127.0.0.1", service.page_port))
                page_socket.listen(64)
            except OSError:
                page_socket.close()
                self._loop.close()  # never started: its own self-pipe must not leak
                raise
            self.page_port = page_socket.getsockname()[1]
            sockets = [page_socket, *hold_loopback6(self.page_port)]
            hosts = [f"127.0.0.1:{self.page_port}", f"localhost:{self.page_port}", f"[::1]:{self.page_port}"]
            app = ForwardedHeaders(page_app(service, allowed_hosts=hosts), service.proxies)
            for sock in sockets:
                self._sockets.append(sock)
                self._servers.append((app, sock))
        unix = open_socket(service.socket_path, service.socket_group)
        if unix is not None:
            self._sockets.append(unix)
            self._servers.append((api_app(service), unix))
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        import uvicorn

        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            tasks = []
            for app, sock in self._servers:
                config = uvicorn.Config(
                    app, log_config=None, log_level="warning", access_log=False, lifespan="off", proxy_headers=False
                )
                server = uvicorn.Server(config)
                self._uvicorn.append(server)
                tasks.append(asyncio.ensure_future(server.serve(sockets=[sock])))
            self._ready.set()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            else:
                await asyncio.Event().wait()

        try:
            self._loop.run_until_complete(main())
        except Exception:  # pragma: no cover - the listener thread must never take the server down
            logger.exception("approval listeners stopped")
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, coro: Any) -> None:
        if self._loop.is_closed() or not self.alive():
            coro.close()
            logger.warning("approval listeners are not running: a webhook notice was not sent")
            return
        asyncio.run_coroutine_threadsafe(coro, self._loop)

    def stop(self) -> None:
        for server in self._uvicorn:
            server.should_exit = True
        self._thread.join(timeout=5)
        for sock in self._sockets:
            sock.close()
        remove_socket(self.service.socket_path)


def hold_loopback6(port: int) -> list[socket.socket]:
    """The same port on ::1: links say `localhost` (passkeys need a host name), which a browser may resolve
    to ::1 first, and a port left free there could be taken by any local process to serve its own page."""
    if not socket.has_ipv6:
        return []
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::1", port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        logger.warning(
            "the approval page could not also listen on [::1]:%d (%s): browsers that try ::1 first for "
            "localhost fall back to 127.0.0.1, unless another process holds that port",
            port,
            exc.strerror,
        )
        return []
    return [sock]
