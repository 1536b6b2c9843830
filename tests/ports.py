"""Loopback ports for servers the tests start as child processes, without the free-port race.

`free_port()` only names a port that was free a moment ago: another process (another pytest worker,
another test run on the machine) may bind it before the child does. Then the child exits
(EADDRINUSE), or, worse, a readiness probe that merely connects reaches the other process's server.
`wait_listening` waits until the child itself listens on the port (its own socket, read from /proc),
and reports a child that exited, so the caller starts it again on another port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the IPv4 TCP sockets listening on `port` (any address), from /proc/net/tcp."""
    inodes: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def listens(pid: int, port: int) -> bool:
    """Whether process `pid` itself holds a socket listening on `port`."""
    return bool(_listening_inodes(port) & _socket_inodes(pid))


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    """Wait until `process` listens on `port`: True; False if it exited first (e.g. the port was taken).

    Raises TimeoutError if it neither listens nor exits within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            return False
        if listens(process.pid, port):
            return True
        if time.monotonic() > deadline:
            raise TimeoutError(f"{process.args!r} did not listen on {port} within {timeout:.0f} s")
        time.sleep(0.05)
