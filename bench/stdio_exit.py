"""Exit: from closing a stdio server's stdin until its process has ended.

An MCP host ends a stdio server by closing its stdin, and waits for it (then signals it) before it
can start another. Each run starts the server, speaks initialize and tools/list (raw JSON-RPC, as the
cold-start figure), closes stdin and times until the process has exited. `telco-mcp serve` runs in
sandbox mode, so its sipgate webhook receiver listens beside the stdio session and must stop with
it; the reference is the SDK's minimal one-tool `MCPServer` (bench/minimal_server.py). Runs
alternate A B B A so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from bench.cold_start import INITIALIZE, INITIALIZED, TIMEOUT, TOOLS_LIST, _Lines
from bench.harness import Stat, base_env, minimal_server_command, state_dir, stop, telco_mcp_command, time_budget
from bench.report import Row

FIGURE = "stdio exit after stdin closes"


def measure_once(command: Sequence[str], env: dict[str, str], log: Path) -> float:
    """Seconds from closing the server's stdin (after tools/list) until its process has ended."""
    with log.open("ab") as errlog:
        process = subprocess.Popen(
            list(command), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, bufsize=0
        )
        try:
            assert process.stdin is not None
            lines = _Lines(process, time.perf_counter() + TIMEOUT)
            process.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
            lines.response(1)
            process.stdin.write((json.dumps(INITIALIZED) + "\n" + json.dumps(TOOLS_LIST) + "\n").encode())
            lines.response(2)
            start = time.perf_counter()
            process.stdin.close()
            returncode = process.wait(time_budget(1, 5.0, floor=10))
            elapsed = time.perf_counter() - start
        finally:
            stop(process)
    if returncode != 0:
        raise RuntimeError(f"{command!r} exited with {returncode} after stdin closed (see {log})")
    return elapsed


def run(runs: int) -> list[Row]:
    ours: list[float] = []
    reference: list[float] = []
    with state_dir() as tmp:
        env = base_env(tmp)
        pair = [
            (ours, telco_mcp_command("serve"), tmp / "telco.log"),
            (reference, minimal_server_command(), tmp / "minimal.log"),
        ]
        for _, command, log in pair:  # one untimed run each: bytecode compiled, files cached
            measure_once(command, env, log)
        for i in range(runs):
            for sink, command, log in pair if i % 2 == 0 else reversed(pair):
                sink.append(measure_once(command, env, log) * 1000)
    return [
        Row(
            figure=f"Exit: {FIGURE} (stdio, after tools/list; ours with its webhook receiver)",
            unit="ms",
            ours=Stat.of(ours),
            reference=Stat.of(reference),
            reference_label="SDK minimal one-tool MCPServer, interleaved",
            ratio=Stat.of([o / r for o, r in zip(ours, reference, strict=True)]),
            max_ratio=1.25,
        )
    ]
