"""Cold start: from spawning the server to the tools/list response, over stdio.

The client side is a few lines of raw JSON-RPC on the child's pipes (initialize, initialized,
tools/list), so nothing on the client side is warmed up or shared between the two servers. Runs
alternate between `telco-mcp serve` (sandbox mode: no credentials) and the SDK's minimal one-tool
`MCPServer` (bench/minimal_server.py), so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import Stat, base_env, minimal_server_command, state_dir, stop, telco_mcp_command
from bench.report import Row

TIMEOUT = 30.0
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


class _Lines:
    """Newline-delimited JSON-RPC messages from a pipe, with a deadline."""

    def __init__(self, process: subprocess.Popen[bytes], deadline: float) -> None:
        assert process.stdout is not None
        self._fd = process.stdout
        self._selector = selectors.DefaultSelector()
        self._selector.register(process.stdout, selectors.EVENT_READ)
        self._buffer = b""
        self._deadline = deadline
        self._process = process

    def response(self, request_id: int) -> tuple[dict[str, Any], int]:
        """The response to `request_id` and its size in bytes on the wire."""
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message = json.loads(line)
                if message.get("id") == request_id:
                    return message, len(line)
            remaining = self._deadline - time.perf_counter()
            if remaining <= 0 or not self._selector.select(remaining):
                raise TimeoutError(f"no response {request_id} from {self._process.args!r} within {TIMEOUT:.0f} s")
            chunk = os.read(self._fd.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"{self._process.args!r} closed stdout (exit {self._process.poll()})")
            self._buffer += chunk


def measure_once(command: Sequence[str], env: dict[str, str], log: Path) -> tuple[float, int, int]:
    """Seconds from spawn to the tools/list response; the response's size and its tool count."""
    with log.open("ab") as errlog:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(command), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, bufsize=0
        )
        try:
            assert process.stdin is not None
            lines = _Lines(process, start + TIMEOUT)
            process.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
            lines.response(1)
            process.stdin.write((json.dumps(INITIALIZED) + "\n" + json.dumps(TOOLS_LIST) + "\n").encode())
            message, size = lines.response(2)
            elapsed = time.perf_counter() - start
        finally:
            stop(process)
    tools = message.get("result", {}).get("tools")
    if not isinstance(tools, list) or not tools:
        raise RuntimeError(f"{command!r}: tools/list answered {message!r:.300}")
    return elapsed, size, len(tools)


def run(runs: int) -> list[Row]:
    ours: list[float] = []
    reference: list[float] = []
    with state_dir() as tmp:
        env = base_env(tmp)
        # one untimed start each: the first start of a process after install compiles bytecode
        measure_once(telco_mcp_command("serve"), env, tmp / "telco.log")
        measure_once(minimal_server_command(), env, tmp / "minimal.log")
        for i in range(runs):
            pair = [
                (ours, telco_mcp_command("serve"), tmp / "telco.log"),
                (reference, minimal_server_command(), tmp / "minimal.log"),
            ]
            for sink, command, log in pair if i % 2 == 0 else reversed(pair):
                sink.append(measure_once(command, env, log)[0] * 1000)
    ratios = [o / r for o, r in zip(ours, reference, strict=True)]
    return [
        Row(
            figure="Cold start: spawn → tools/list over stdio",
            unit="ms",
            ours=Stat.of(ours),
            reference=Stat.of(reference),
            reference_label="SDK minimal one-tool MCPServer",
            ratio=Stat.of(ratios),
            max_ratio=1.25,
        )
    ]
