"""What every figure needs: child processes on 127.0.0.1, their environment, and summary statistics.

Every child is started by a context manager that stops it (terminate, then kill) on the way out, so
an interrupted or failing run leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from telco_mcp import sandbox as sb

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
VENV_BIN = Path(sys.executable).parent
MINIMAL_SERVER = HERE / "minimal_server.py"


UPSTREAM_PATH = "/api/relay/rest/sip_profile"  # what `signalwire_get_sip_profile` GETs upstream


def upstream_client(sandbox_url: str, **options: Any) -> httpx2.AsyncClient:
    """A direct `httpx2` client to the sandbox with its SignalWire credentials: the upstream floor."""
    auth = httpx2.BasicAuth(sb.SIGNALWIRE_PROJECT_ID, sb.SIGNALWIRE_API_TOKEN)
    return httpx2.AsyncClient(base_url=sandbox_url, auth=auth, **options)


def telco_mcp_command(*args: str) -> list[str]:
    """`telco-mcp ARGS` from the interpreter's own environment (the console script pip installed)."""
    script = VENV_BIN / "telco-mcp"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "telco_mcp", *args]


def minimal_server_command() -> list[str]:
    return [sys.executable, str(MINIMAL_SERVER)]


# ------------------------------------------------------------------ environment
def base_env(state_dir: Path) -> dict[str, str]:
    """A clean child environment: no provider credentials, audit and state inside `state_dir`."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state_dir),
        "XDG_STATE_HOME": str(state_dir / "state"),
        "TELCO_MCP_AUDIT_LOG": str(state_dir / "audit.jsonl"),
        "LANG": "C.UTF-8",
    }


def sandbox_env(state_dir: Path, sandbox_url: str) -> dict[str, str]:
    """`base_env` plus the settings that point both providers at a standalone sandbox."""
    return base_env(state_dir) | {
        "SIGNALWIRE_SPACE": sb.SIGNALWIRE_SPACE,
        "SIGNALWIRE_PROJECT_ID": sb.SIGNALWIRE_PROJECT_ID,
        "SIGNALWIRE_API_TOKEN": sb.SIGNALWIRE_API_TOKEN,
        "SIGNALWIRE_BASE_URL": sandbox_url,
        "SIPGATE_TOKEN_ID": sb.SIPGATE_TOKEN_ID,
        "SIPGATE_TOKEN": sb.SIPGATE_TOKEN,
        "SIPGATE_BASE_URL": sandbox_url + "/v2",
    }


@contextmanager
def state_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="telco-bench-") as tmp:
        yield Path(tmp)


# ------------------------------------------------------------------ processes
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Stop `process` as Ctrl-C does (SIGINT: an HTTP server skips the drain SIGTERM gives a balancer), kill it if it
    does not exit within `timeout`; always reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def wait_http(url: str, process: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    """Poll `url` until anything answers over HTTP; fail early if `process` died."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before serving {url}")
        try:
            httpx2.get(url, timeout=1.0)
            return
        except httpx2.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answered on {url} within {timeout:.0f} s") from None
            time.sleep(0.05)


@contextmanager
def spawn(command: Sequence[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as errlog:
        process = subprocess.Popen(list(command), env=dict(env), stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog)
        try:
            yield process
        finally:
            stop(process)


@contextmanager
def standalone_sandbox(workdir: Path) -> Iterator[str]:
    """`telco-mcp sandbox` on a free loopback port; yields its base URL."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    with spawn(telco_mcp_command("sandbox", "--port", str(port)), base_env(workdir), workdir / "sandbox.log") as proc:
        wait_http(url + "/_sandbox/summary", proc)
        yield url


@contextmanager
def http_server(workdir: Path, sandbox_url: str) -> Iterator[tuple[str, int]]:
    """`telco-mcp serve --transport http` on a free loopback port against `sandbox_url`; yields URL and pid."""
    port = free_port()
    command = telco_mcp_command("serve", "--transport", "http", "--port", str(port))
    with spawn(command, sandbox_env(workdir, sandbox_url), workdir / "server-http.log") as proc:
        wait_http(f"http://{LOOPBACK}:{port}/mcp", proc)
        yield f"http://{LOOPBACK}:{port}/mcp", proc.pid


def time_budget(units: float, per_unit: float, *, floor: float = 30.0) -> float:
    """Seconds to allow for `units` pieces of work of about `per_unit` seconds each on an idle machine, plus
    `floor`: generous, and stretched by how loaded the machine is now (load average per core), so a run on a
    busy machine is slow, not lost."""
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this system
        load = 1.0
    return (floor + units * per_unit) * max(1.0, load)


# ------------------------------------------------------------------ statistics
@dataclass(frozen=True)
class Stat:
    """min / median / max of repeated runs of one figure."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        if not values:
            raise ValueError("no values")
        return cls(tuple(values))

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    @property
    def n(self) -> int:
        return len(self.values)


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (`utime` + `stime`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int | None = None) -> int:
    """Resident set size in KiB from /proc (`VmRSS`)."""
    path = Path(f"/proc/{pid or 'self'}/status")
    for line in path.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in {path}")
