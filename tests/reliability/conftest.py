"""Shared pieces of the reliability suite: ASGI apps served on 127.0.0.1, settings, result checks.

`serve_in_thread` runs an ASGI app under uvicorn on a free loopback port in a daemon thread with
its own event loop, and always stops it within a bounded time.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from telco_mcp import sandbox as sb
from telco_mcp.sandbox import Sandbox
from telco_mcp.settings import Settings

# tests/conftest.py (imported by name: inside this package `conftest` would mean this file to a type checker):
# the suite's canary credentials, its settings helpers and the `accept` elicitation callback.
root: Any = importlib.import_module("conftest")
accept = root.accept
make_settings = root.make_settings

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0

# A tool result that is only this line is the SDK's answer to an unexpected exception: a crash.
CRASH = re.compile(r"^(?:\[SANDBOX\] )?Error executing tool [a-z0-9_]+(?:: Error executing tool [a-z0-9_]+)*\s*$")
CATEGORY = re.compile(r"^(?:\[SANDBOX\] )?(?:Error executing tool [a-z0-9_]+: )?\[([a-z_]+)\]")
# Every error category the server reports (telco_mcp.errors plus the tool layer's own).
CATEGORIES = frozenset(
    {
        "auth",
        "confirmation",
        "conflict",
        "insufficient_funds",
        "invalid_input",
        "not_found",
        "permission",
        "provider_error",
        "rate_limited",
        "refused",
        "outcome_unknown",
        "timeout",
        "unexpected_response",
        "upstream_unavailable",
        "validation",
    }
)


# ------------------------------------------------------------------ serving ASGI apps
@dataclass
class Served:
    url: str
    port: int
    loop: asyncio.AbstractEventLoop
    server: uvicorn.Server

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run `coro` on the served app's own event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def task_count(self) -> int:
        async def count() -> int:
            return len(asyncio.all_tasks())

        return int(self.run(count()))


@contextmanager
def serve_in_thread(app: Any, *, lifespan: str = "off", name: str = "asgi") -> Iterator[Served]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="critical", lifespan=lifespan, timeout_graceful_shutdown=3)  # pyright: ignore[reportArgumentType]
    server = uvicorn.Server(config)
    loops: list[asyncio.AbstractEventLoop] = []

    def target() -> None:
        async def main() -> None:
            loops.append(asyncio.get_running_loop())
            await server.serve(sockets=[sock])

        asyncio.run(main())

    thread = threading.Thread(target=target, name=f"uvicorn-{name}-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            assert thread.is_alive(), f"uvicorn ({name}) exited during startup"
            assert time.monotonic() < deadline, f"uvicorn ({name}) did not start within {START_TIMEOUT:.0f} s"
            time.sleep(0.01)
        yield Served(url=f"http://{LOOPBACK}:{port}", port=port, loop=loops[0], server=server)
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)
        sock.close()
        assert not thread.is_alive(), f"uvicorn ({name}) did not stop within {STOP_TIMEOUT:.0f} s"


@dataclass
class ServedSandbox:
    url: str
    sandbox: Sandbox
    served: Served

    def requests_to(self, method: str, path_prefix: str) -> list[sb.RecordedRequest]:
        return [r for r in self.sandbox.requests if r.method == method and r.path.startswith(path_prefix)]


@pytest.fixture
def served_sandbox() -> Iterator[ServedSandbox]:
    """The provider sandbox over real HTTP on a free loopback port (timeouts and dropped connections are real)."""
    sandbox = Sandbox(seed=0)
    with serve_in_thread(sandbox.app, name="sandbox") as served:
        yield ServedSandbox(url=served.url, sandbox=sandbox, served=served)


def upstream_settings(audit: Path, base_url: str, **overrides: Any) -> Settings:
    """Both providers configured with the sandbox's credentials and pointed at `base_url`; writes on."""
    values: dict[str, Any] = {
        "signalwire_space": sb.SIGNALWIRE_SPACE,
        "signalwire_project_id": sb.SIGNALWIRE_PROJECT_ID,
        "signalwire_api_token": sb.SIGNALWIRE_API_TOKEN,
        "signalwire_base_url": base_url,
        "sipgate_token_id": sb.SIPGATE_TOKEN_ID,
        "sipgate_token": sb.SIPGATE_TOKEN,
        "sipgate_base_url": base_url + "/v2",
        "telco_mcp_allow_writes": True,
    }
    return make_settings(audit, **(values | overrides))


# ------------------------------------------------------------------ tool arguments from the seed
def seeded_ids(sandbox: Sandbox) -> dict[str, list[str]]:
    """Real ids in the sandbox's current state, by the kind of resource they name."""
    state = sandbox.state
    return {
        "sip_endpoint": list(state.signalwire.sip_endpoints),
        "sip_gateway": list(state.signalwire.sip_gateways),
        "recording": list(state.signalwire.recordings)[:20],
        "phone_number": list(state.signalwire.phone_numbers),
        "voice_log": list(state.signalwire.voice_logs)[:20],
        "call": list(state.sipgate.calls),
        "sms": [str(ext["id"]) for ext in state.sipgate.sms_extensions],
        "device": list(state.sipgate.devices),
    }


# Which seeded ids a tool's id-like field refers to.
ID_FIELDS: dict[tuple[str, str], str] = {
    ("signalwire_get_sip_credential", "id"): "sip_endpoint",
    ("signalwire_update_sip_gateway", "id"): "sip_gateway",
    ("signalwire_get_sip_gateway", "id"): "sip_gateway",
    ("signalwire_get_phone_number", "id"): "phone_number",
    ("signalwire_get_voice_log", "id"): "voice_log",
    ("signalwire_get_recording", "id"): "recording",
    ("signalwire_delete_recording", "id"): "recording",
    ("sipgate_send_sms", "sms_id"): "sms",
    ("sipgate_start_call", "device_id"): "device",
    ("sipgate_start_call", "caller"): "device",
    **{
        (tool, "call_id"): "call"
        for tool in (
            "sipgate_hold_call",
            "sipgate_mute_call",
            "sipgate_record_call",
            "sipgate_transfer_call",
            "sipgate_send_dtmf",
            "sipgate_play_announcement",
            "sipgate_hangup_call",
        )
    },
}

REMOTE_NUMBER = "+4930231254200"  # a fictional Berlin number (film/TV range)
MOBILE_NUMBER = "+4915228817399"


def valid_arguments(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """One ordinary, valid call of every tool against the sandbox's seeded state."""
    ids = seeded_ids(sandbox)
    call = ids["call"][0]
    return {
        "signalwire_list_sip_credentials": {},
        "signalwire_get_sip_credential": {"id": ids["sip_endpoint"][0]},
        "signalwire_list_sip_gateways": {"limit": 2},
        "signalwire_update_sip_gateway": {"id": ids["sip_gateway"][0], "name": "Reliability trunk"},
        "signalwire_get_sip_profile": {},
        "signalwire_update_sip_profile": {"default_encryption": "optional"},
        "signalwire_list_recordings": {"limit": 3},
        "signalwire_get_recording": {"id": ids["recording"][0]},
        "signalwire_delete_recording": {"id": ids["recording"][1]},
        "sipgate_get_account": {},
        "sipgate_list_calls": {},
        "sipgate_hold_call": {"call_id": call, "value": True},
        "sipgate_mute_call": {"call_id": call, "value": True},
        "sipgate_record_call": {"call_id": call, "value": True},
        "sipgate_send_dtmf": {"call_id": call, "sequence": "12#"},
        "sipgate_play_announcement": {"call_id": call, "url": "https://example.com/welcome.wav"},
        "sipgate_transfer_call": {"call_id": call, "phone_number": REMOTE_NUMBER},
        "sipgate_hangup_call": {"call_id": call},
        "sipgate_start_call": {"callee": REMOTE_NUMBER, "caller": "e0"},
        "sipgate_send_sms": {"recipient": MOBILE_NUMBER, "message": "Reliability suite"},
        "sipgate_list_sms_senders": {},
        "sipgate_list_history": {"limit": 3},
        "sipgate_wait_for_call_event": {"timeout_seconds": 1},  # nothing rings here: a one-second wait
    }


# ------------------------------------------------------------------ result checks
def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def category_of(result: Any) -> str | None:
    """The `[category]` an error result starts with (after the sandbox marker), if any."""
    match = CATEGORY.match(text_of(result))
    return match.group(1) if match else None


def assert_not_crashed(result: Any, tool: str) -> None:
    """A result, not a crash: an error must say what went wrong, in a known category or as invalid arguments."""
    text = text_of(result)
    assert not CRASH.match(text), f"{tool} crashed: {text!r}"
    assert "Traceback" not in text, f"{tool} leaked a traceback: {text[:500]!r}"
    if result.is_error:
        known = category_of(result) in CATEGORIES or f"Invalid arguments for {tool}" in text
        assert known, f"{tool} failed without a known category: {text[:500]!r}"


def open_fds() -> tuple[int, int]:
    """(file descriptors that are not sockets, socket file descriptors) of this process."""
    files = sockets = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:"):
            sockets += 1
        else:
            files += 1
    return files, sockets


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def tcp_sockets(port: int) -> tuple[int, int]:
    """TCP sockets with `port` at either end, not listening (from /proc/net/tcp).

    Returns (ESTABLISHED ones, ones that still hold a file descriptor in any state); a connection
    between two sockets of this process counts twice.
    """
    established = held = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if state == "0A" or port not in (int(local.split(":")[1], 16), int(remote.split(":")[1], 16)):
            continue
        established += state == "01"
        held += inode != "0"
    return established, held
