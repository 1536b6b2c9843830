"""The approvals CLI's Unix socket: where it is bound, how it is found, and how it goes.

Each server binds `<state dir>/approvals/<pid>.sock`, 0600 in a 0700 directory (with
TELCO_MCP_APPROVAL_SOCKET_GROUP, 0660 in a 0750 directory of that group). An AF_UNIX path holds at
most 107 bytes, and `$XDG_STATE_HOME` can be deeper than that (a home directory on a network share, a
test runner's temporary directory). Then the socket is bound in a private directory of its own under the
system's temporary directory (mkdtemp: 0700, a random name), and `<pid>.sock` is a symbolic link to it:
the CLI still finds every server in one folder, and connects to the link's short target.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

MAX_PATH = 107  # sun_path is 108 bytes on Linux, with the terminating NUL


def open_socket(path: Path, group: int | None = None) -> socket.socket | None:
    """Bind and listen on the CLI's socket at `path` (or, when too long, on a short path `path` links to)."""
    sock: socket.socket | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700 if group is None else 0o750)
        if group is not None:
            os.chown(path.parent, -1, group)
        remove_socket(path)
        where = path
        if len(os.fsencode(path)) > MAX_PATH:
            private = Path(tempfile.mkdtemp(prefix="telco-mcp-"))  # 0700, owned by us
            if group is not None:
                os.chmod(private, 0o750)
                os.chown(private, -1, group)
            where = private / "approvals.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(where))
        finally:
            os.umask(old)
        if group is not None:
            os.chown(where, -1, group)
        os.chmod(where, 0o600 if group is None else 0o660)
        if where != path:
            path.symlink_to(where)
        sock.listen(16)
    except OSError as exc:
        if sock is not None:
            sock.close()
        remove_socket(path)
        logger.warning(
            "the approvals socket %s could not be opened (%s): `telco-mcp approvals` will not reach this server",
            path,
            exc.strerror,
        )
        return None
    return sock


def address(path: Path) -> str:
    """What to connect to for the socket found at `path`: the link's target when the path is a link."""
    return os.readlink(path) if path.is_symlink() else str(path)


def remove_socket(path: Path) -> None:
    """Remove a socket, and when `path` links to one in its private directory, that socket and directory too."""
    with contextlib.suppress(OSError):
        if path.is_symlink():
            target = Path(os.readlink(path))
            if target.name == "approvals.sock" and target.parent.name.startswith("telco-mcp-"):
                target.unlink(missing_ok=True)
                target.parent.rmdir()
        path.unlink(missing_ok=True)
