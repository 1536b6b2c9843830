"""The files a server keeps in the state directory: its `telco-mcp approvals` socket (`<pid>.sock`) and the
launch files handed to the browser (`launch-<pid>-<approval>.html`). Each goes when its process exits, and
those a killed process left behind are cleared when the next server starts; a live server's stay.

Real processes: `telco-mcp serve` over stdio, spoken to with JSON-RPC lines, stopped by closing its stdin
or by SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from telco_mcp.approval.sockets import address

EXE = Path(sys.executable).with_name("telco-mcp")
SMS = {"recipient": "+4915799912345", "message": "The trunk is down"}


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    skip = ("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_", "BROWSER", "DISPLAY", "WAYLAND_DISPLAY")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return env | {"XDG_STATE_HOME": str(tmp_path / "state")} | extra


class Stdio:
    """A `telco-mcp serve` process and a minimal JSON-RPC client on its stdin and stdout."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self._id = 0

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def send(self, message: dict[str, Any]) -> None:
        self.stdin.write(json.dumps(message).encode() + b"\n")
        self.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        self.send({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            assert line, "the server closed stdout"
            message = json.loads(line)
            if message.get("id") == self._id:
                assert "result" in message, message
                return message["result"]

    def initialize(self) -> None:
        self.request(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "files", "version": "1"}},
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def ask_for_a_write(self) -> dict[str, Any]:
        """An SMS from a client that cannot elicit: an approval opens (its listeners, its socket, the browser)."""
        result = self.request("tools/call", {"name": "sipgate_send_sms", "arguments": SMS})
        assert result["structuredContent"]["status"] == "approval_pending", result
        return result["structuredContent"]


@contextmanager
def server(tmp_path: Path, **env: str) -> Iterator[Stdio]:
    with (tmp_path / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [str(EXE), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            env=child_env(tmp_path, **env), cwd=tmp_path,
        )  # fmt: skip
    try:
        yield Stdio(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        with proc:  # closes its pipes and waits
            pass


def approvals_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "telco-mcp" / "approvals"


def recording_browser(tmp_path: Path) -> str:
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{tmp_path / "browser.log"}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def wait_for(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def leftover_socket(path: Path) -> None:
    """A Unix socket file whose listener is gone, as a killed server leaves it (bound at a short path, then moved:
    a test's temporary folder can be deeper than an AF_UNIX path may be)."""
    with tempfile.TemporaryDirectory() as short, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(os.path.join(short, "s"))
        os.rename(os.path.join(short, "s"), path)


@pytest.mark.parametrize("stop", ["stdin closed", "SIGTERM"])
def test_a_server_removes_its_socket_and_launch_files_when_it_exits(tmp_path: Path, stop: str) -> None:
    folder = approvals_dir(tmp_path)
    with server(tmp_path, BROWSER=recording_browser(tmp_path)) as s:
        s.initialize()
        approval_id = s.ask_for_a_write()["approval_id"]
        pid = s.proc.pid
        assert {f"{pid}.sock", f"launch-{pid}-{approval_id}.html"} <= names(folder)
        if stop == "stdin closed":
            s.stdin.close()
        else:
            s.proc.send_signal(signal.SIGTERM)
        returncode = s.proc.wait(30)
    assert returncode == (0 if stop == "stdin closed" else -signal.SIGTERM)
    assert names(folder) == set(), "nothing of the process is left in the state directory"


def test_a_starting_server_clears_what_dead_processes_left_and_keeps_a_live_servers_files(tmp_path: Path) -> None:
    folder = approvals_dir(tmp_path)
    with server(tmp_path, BROWSER=recording_browser(tmp_path)) as live:
        live.initialize()
        approval_id = live.ask_for_a_write()["approval_id"]
        kept = {f"{live.proc.pid}.sock", f"launch-{live.proc.pid}-{approval_id}.html"}
        assert kept <= names(folder)
        gone = dead_pid()
        leftover_socket(folder / f"{gone}.sock")
        (folder / f"launch-{gone}-apr_of_a_dead_process.html").write_text("stale")
        expired = folder / f"launch-{live.proc.pid}-apr_expired_code.html"  # a live owner, its code long expired
        expired.write_text("stale")
        an_hour_ago = time.time() - 3600
        os.utime(expired, (an_hour_ago, an_hour_ago))
        (folder / "launch-apr_from_an_older_version.html").write_text("stale")  # no owner in the name
        (folder / "notes.txt").write_text("not ours to judge")
        with server(tmp_path) as starting:
            starting.initialize()  # answered: the clean-up at start is done
            assert names(folder) == kept | {"notes.txt"}
            starting.stdin.close()
            assert starting.proc.wait(30) == 0
        assert names(folder) == kept | {"notes.txt"}, "a server that opened no approval removes nothing of others"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:  # the live server still answers there
            probe.connect(address(folder / f"{live.proc.pid}.sock"))  # as the CLI does (a link when too deep)
        live.stdin.close()
        assert live.proc.wait(30) == 0
    assert names(folder) == {"notes.txt"}


def test_a_state_directory_too_deep_for_a_unix_socket_still_reaches_the_cli_and_leaves_nothing(tmp_path: Path) -> None:
    state = tmp_path / ("a-home-directory-deeper-than-an-af-unix-path-can-hold-" * 2) / "state"
    folder = state / "telco-mcp" / "approvals"
    assert len(str(folder / "4194304.sock")) > 107
    env = {"XDG_STATE_HOME": str(state)}
    with server(tmp_path, BROWSER=recording_browser(tmp_path), **env) as s:
        s.initialize()
        approval_id = s.ask_for_a_write()["approval_id"]
        link = folder / f"{s.proc.pid}.sock"
        assert link.is_symlink()
        target = Path(os.readlink(link))
        assert len(str(target)) <= 107 and stat.S_ISSOCK(target.stat().st_mode)
        assert stat.S_IMODE(target.stat().st_mode) == 0o600 and stat.S_IMODE(target.parent.stat().st_mode) == 0o700
        listed = subprocess.run(
            [sys.executable, "-m", "telco_mcp", "approvals", "list"],
            capture_output=True, text=True, timeout=60, env=child_env(tmp_path, **env),
        )  # fmt: skip
        assert approval_id in listed.stdout, listed.stdout + listed.stderr
        s.stdin.close()
        assert s.proc.wait(30) == 0
    assert names(folder) == set()
    assert not target.parent.exists(), "the socket's private directory goes with the process"
