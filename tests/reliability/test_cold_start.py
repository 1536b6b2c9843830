"""What `telco-mcp serve` has loaded when it answers tools/list (the cold-start figure, bench/cold_start.py).

Whatever initialize and tools/list do not need loads at its first use: the sandbox's routes (built
with the first provider request), the stdio webhook receiver's HTTP parser (its first connection),
the approval page (the first approval), Redis (a shared state URL), JWT (OAuth), the doctor and the
manifest writer. These tests start the real command over stdio
in a subprocess, answer the handshake and tools/list on its pipes, then ask the process for the names
in `sys.modules`: the test's own wrapper (below) dumps them on SIGUSR1; the server has no such hook.
No time is asserted here: the bench measures the time.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from .conftest import LOOPBACK, root

pytestmark = pytest.mark.xdist_group("serial")  # timing: on one xdist worker

# `telco-mcp serve` as the console script runs it, plus a SIGUSR1 handler that writes sys.modules to a file.
WRAPPER = """
import os, signal, sys

def dump(*_):
    path = os.environ["MODULES_OUT"]
    with open(path + ".tmp", "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
    os.replace(path + ".tmp", path)

signal.signal(signal.SIGUSR1, dump)
from telco_mcp.cli import main
main(["serve"])
"""

TIMEOUT = 30.0

# Never needed to answer initialize + tools/list, in any mode.
NEVER_AT_START = frozenset(
    {
        "redis",  # TELCO_MCP_STATE_URL only
        "telco_mcp.state.redis",
        "jwt",  # OAuth only
        "telco_mcp.oauth",
        "telco_mcp.approval.page",  # the first approval starts the page
        "telco_mcp.approval.listeners",
        "telco_mcp.approval.remote",  # HTTP with OAuth only
        "telco_mcp.doctor",
        "telco_mcp.manifest",
        "telco_mcp.sandbox.signing",  # the sandbox's push key: made at its first push
        "telco_mcp.client_config",  # `telco-mcp config` only
        "telco_mcp.config_reference",
    }
)
# The metrics registry (about 90 ms to import): built with the first thing counted (a tool call, a scrape).
METRICS = "prometheus_client"
# With credentials the provider clients' own HTTP/1.1 stack loads it; in sandbox mode only the stdio webhook
# receiver would, at its first connection.
HTTP_PARSER = "h11"
# The embedded sandbox's routes and request models: built at the first request that reaches it.
SANDBOX_ROUTES = frozenset(
    {
        "telco_mcp.sandbox.admin",
        "telco_mcp.sandbox.auth",
        "telco_mcp.sandbox.bodies",
        "telco_mcp.sandbox.gateway",
        "telco_mcp.sandbox.signalwire",
        "telco_mcp.sandbox.sipgate",
    }
)


class StdioServer:
    """`telco-mcp serve` on pipes: raw JSON-RPC requests, and the modules it has loaded."""

    def __init__(self, process: subprocess.Popen[bytes], modules_out: Path) -> None:
        self.process = process
        self.modules_out = modules_out
        self._buffer = b""
        self._next_id = 0
        assert process.stdout is not None
        self._selector = selectors.DefaultSelector()
        self._selector.register(process.stdout, selectors.EVENT_READ)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        self.send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params or {}})
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message = json.loads(line)
                if message.get("id") == self._next_id:
                    assert "result" in message, message
                    return message["result"]
            remaining = deadline - time.monotonic()
            assert remaining > 0 and self._selector.select(remaining), f"no answer to {method}"
            assert self.process.stdout is not None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            assert chunk, f"the server closed stdout (exit {self.process.poll()})"
            self._buffer += chunk

    def start(self) -> list[dict[str, Any]]:
        """initialize, initialized, tools/list: what the cold-start figure times. Returns the tools."""
        self.request(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        tools = self.request("tools/list")["tools"]
        assert tools
        return tools

    def modules(self) -> set[str]:
        self.modules_out.unlink(missing_ok=True)
        os.kill(self.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + TIMEOUT
        while not self.modules_out.exists():
            assert self.process.poll() is None, f"the server exited with {self.process.returncode}"
            assert time.monotonic() < deadline, "no module list from the server"
            time.sleep(0.01)
        return set(self.modules_out.read_text().split())


@contextmanager
def stdio_server(tmp_path: Path, **extra_env: str) -> Iterator[StdioServer]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TELCO_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "MODULES_OUT": str(tmp_path / "modules.txt"),
        # Chosen, so nothing is looked up: a derived sipgate ownership is looked up 0.2 s after the first tools/list
        # (loading the sandbox's routes, or the HTTP stack and the metrics with credentials, and sending the
        # canaries), which would race the module dump below. That it waits for tools/list, and never delays it, is
        # tested in tests/test_sipgate_ownership_startup.py.
        "TELCO_MCP_SIPGATE_OWNERSHIP": "account",
        **extra_env,
    }
    with (tmp_path / "stderr.log").open("wb") as errlog:
        process = subprocess.Popen(
            [sys.executable, "-c", WRAPPER], env=env, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=errlog,
        )  # fmt: skip
        try:
            yield StdioServer(process, tmp_path / "modules.txt")
        finally:
            process.kill()
            process.wait(TIMEOUT)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def test_sandbox_mode_answers_tools_list_without_the_sandbox_routes_or_any_optional_part(tmp_path: Path) -> None:
    port, secret = free_port(), "cold-start-webhook-secret-0123456789abcdef"
    key = str(root.sandbox_key_file(tmp_path))  # the webhook below is signed in this process, with its sandbox key
    env = {"TELCO_MCP_WEBHOOK_PORT": str(port), "TELCO_MCP_WEBHOOK_SECRET": secret, "TELCO_MCP_WEBHOOK_PUBLIC_KEY": key}
    with stdio_server(tmp_path, **env) as server:
        tools = server.start()
        at_start = server.modules()
        profile = server.request("tools/call", {"name": "signalwire_get_sip_profile", "arguments": {}})
        after_a_call = server.modules()
        hook = httpx2.post(
            f"http://{LOOPBACK}:{port}/webhooks/sipgate/{secret}",
            data={"event": "newCall", "direction": "in", "from": "49301234567", "to": "492111234567", "callId": "C1"},
            trust_env=False,
            auth=root.SandboxSigned(),
        )
        after_a_webhook = server.modules()
    assert "signalwire_get_sip_profile" in {tool["name"] for tool in tools}
    assert "telco_mcp.sandbox" in at_start  # sandbox mode indeed: the state and its controls are there
    assert sorted((NEVER_AT_START | SANDBOX_ROUTES | {HTTP_PARSER, METRICS}) & at_start) == []
    # the first tool call builds the routes and is answered by them; the first webhook loads the parser
    assert not profile.get("isError"), profile
    assert after_a_call >= SANDBOX_ROUTES | {METRICS}
    assert hook.status_code == 200, hook.text
    assert HTTP_PARSER in after_a_webhook
    assert sorted(NEVER_AT_START & after_a_webhook) == []


def test_with_credentials_nothing_of_the_sandbox_loads(tmp_path: Path) -> None:
    credentials = {  # the suite's canaries: nothing is sent before a tool is called
        "SIGNALWIRE_SPACE": "acme",
        "SIGNALWIRE_PROJECT_ID": root.SW_PROJECT,
        "SIGNALWIRE_API_TOKEN": root.SW_TOKEN,
        "SIPGATE_TOKEN_ID": root.SG_TOKEN_ID,
        "SIPGATE_TOKEN": root.SG_TOKEN,
    }
    with stdio_server(tmp_path, **credentials) as server:
        tools = server.start()
        at_start = server.modules()
    assert {tool["name"] for tool in tools} >= {"signalwire_get_sip_profile", "sipgate_list_history"}
    assert sorted(name for name in at_start if name.startswith("telco_mcp.sandbox")) == []
    assert sorted((NEVER_AT_START | {METRICS}) & at_start) == []


@pytest.mark.parametrize("module", sorted(NEVER_AT_START | SANDBOX_ROUTES | {HTTP_PARSER, METRICS}))
def test_every_name_on_the_lists_is_an_installed_module(module: str) -> None:
    """A renamed or uninstalled module would make the startup checks pass vacuously."""
    import importlib.util

    assert importlib.util.find_spec(module) is not None
