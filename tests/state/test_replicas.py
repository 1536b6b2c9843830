"""Three replicas as an operations team would run them: `telco-mcp serve --transport http` processes on
loopback, one real `redis-server`, one upstream (`telco-mcp sandbox`), and Debian's haproxy in front.

haproxy serves two frontends over the same three replicas: plain round robin (every request may land
anywhere: what the 2026-07-28 era is built for) and round robin that routes by `Mcp-Session-Id`
(what 2025-11-25 sessions need, since a session and its SSE stream live in one process). Each
response says which replica served it (`X-Served-By`), so the tests can show that a call really
crossed replicas. What reached the upstream is counted at the one sandbox all replicas share.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ElicitResult, InputRequiredResult, InputResponses

from bench.harness import free_port, sandbox_env, spawn, standalone_sandbox, telco_mcp_command, wait_http
from tests.conftest import accept
from tests.state.conftest import RedisServer, need, wait_port

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.xdist_group("serial"),
]  # one xdist worker

SECRET = "replica-test-confirm-secret-0123456789abcdef"
SMS = {"recipient": "+4915799912345", "message": "The trunk is down"}
CAP = 5
HAPROXY = "/usr/sbin/haproxy"


@dataclass
class Topology:
    folder: Path
    redis: RedisServer
    sandbox: str
    replicas: list[str]  # the MCP endpoint of each replica
    round_robin: str = ""  # haproxy, no stickiness
    sticky: str = ""  # haproxy, routed by Mcp-Session-Id
    served: list[tuple[str, str]] = field(default_factory=list)  # (JSON-RPC method, replica) seen through haproxy
    processes: list[Any] = field(default_factory=list)  # each replica's process, in the order of `replicas`

    def sms_sent(self) -> int:
        records = httpx2.get(self.sandbox + "/_sandbox/requests", timeout=10).json()
        return sum(1 for r in records if r["method"] == "POST" and r["path"] == "/v2/sessions/sms")

    def recording_client(self) -> httpx2.AsyncClient:
        """An HTTP client that notes which replica answered each JSON-RPC request."""

        async def note(response: httpx2.Response) -> None:
            method = "?"
            if response.request.method == "POST":
                with suppress(ValueError):
                    method = json.loads(response.request.content).get("method", "?")
            self.served.append((method, response.headers.get("x-served-by", "")))

        return httpx2.AsyncClient(
            event_hooks={"response": [note]}, timeout=httpx2.Timeout(30, read=60), follow_redirects=False
        )


HAPROXY_CONFIG = """
global
  maxconn 2000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend round_robin
  bind 127.0.0.1:{rr}
  default_backend round_robin
frontend by_session
  bind 127.0.0.1:{sticky}
  default_backend by_session
backend round_robin
  balance roundrobin
  http-response set-header X-Served-By %[srv_name]
{checks}
{servers}
backend by_session
  balance roundrobin
  stick-table type string len 128 size 100k expire 30m
  stick store-response res.hdr(mcp-session-id)
  stick match req.hdr(mcp-session-id)
  http-response set-header X-Served-By %[srv_name]
{servers}
"""


@contextmanager
def replicas_behind_haproxy(folder: Path, env: dict[str, str], *, ready_checks: bool = False) -> Iterator[Topology]:
    """One redis-server, one sandbox, three replicas with `env` (plus the shared state and secret), haproxy.

    `{public}` in an `env` value is the round-robin frontend's base URL (e.g. for TELCO_MCP_PUBLIC_URL).
    With `ready_checks`, haproxy's round robin follows each replica's `/readyz` (a draining one leaves it).
    """
    need(HAPROXY, "haproxy")
    redis = RedisServer(folder)
    redis.start()
    with ExitStack() as stack:
        stack.callback(redis.stop)
        stack.callback(redis.close_clients)  # first: the callbacks run last in, first out
        sandbox = stack.enter_context(standalone_sandbox(folder))
        rr, sticky = free_port(), free_port()
        public = f"http://127.0.0.1:{rr}"
        replicas, ports = [], []
        for i in range(3):
            port = free_port()
            settings = {k: v.replace("{public}", public) for k, v in env.items()}
            settings |= {"TELCO_MCP_STATE_URL": redis.url, "TELCO_MCP_CONFIRM_SECRET": SECRET}
            command = telco_mcp_command("serve", "--transport", "http", "--port", str(port))
            process = stack.enter_context(
                spawn(command, sandbox_env(folder / f"r{i}", sandbox) | settings, folder / f"replica-{i}.log")
            )
            replicas.append((f"http://127.0.0.1:{port}/mcp", process))
            ports.append(port)
        for url, process in replicas:
            wait_http(url, process, timeout=60)
        check = " check inter 200 fall 1 rise 2" if ready_checks else ""
        servers = "\n".join(f"  server r{i} 127.0.0.1:{p}{check}" for i, p in enumerate(ports))
        checks = "  option httpchk GET /readyz\n  http-check expect status 200" if ready_checks else ""
        config = folder / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(rr=rr, sticky=sticky, servers=servers, checks=checks))
        proxy = stack.enter_context(
            spawn([HAPROXY, "-db", "-f", str(config)], dict(os.environ), folder / "haproxy.log")
        )
        wait_port(rr)
        wait_port(sticky)
        assert proxy.poll() is None
        yield Topology(
            folder=folder,
            redis=redis,
            sandbox=sandbox,
            replicas=[url for url, _ in replicas],
            processes=[process for _, process in replicas],
            round_robin=f"{public}/mcp",
            sticky=f"http://127.0.0.1:{sticky}/mcp",
        )


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    env = {
        "TELCO_MCP_ALLOW_WRITES": "1",
        "TELCO_MCP_CONFIRM": "token",  # eliciting clients are asked; the others get a token preview
        "TELCO_MCP_SMS_PER_HOUR": str(CAP),
    }
    with replicas_behind_haproxy(tmp_path_factory.mktemp("replicas"), env) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(topology: Topology) -> Iterator[None]:
    """Each test starts with an empty shared state (caps, nonces) and an empty upstream log."""
    topology.redis.client().flushdb()  # type: ignore[attr-defined]
    httpx2.delete(topology.sandbox + "/_sandbox/requests", timeout=10).raise_for_status()
    topology.served.clear()
    yield


async def _previews(url: str, messages: list[str]) -> list[str]:
    async with Client(url) as client:
        out = []
        for message in messages:
            result = await client.call_tool("sipgate_send_sms", SMS | {"message": message})
            assert result.structured_content is not None, result
            out.append(result.structured_content["confirm_token"])
        return out


async def _redeem_concurrently(topology: Topology, attempts: list[tuple[int, dict[str, Any]]]) -> list[CallToolResult]:
    """Each (replica, arguments) pair sent at once, over one client per replica."""
    results: list[CallToolResult | None] = [None] * len(attempts)
    async with (
        Client(topology.replicas[0]) as c0,
        Client(topology.replicas[1]) as c1,
        Client(topology.replicas[2]) as c2,
    ):
        clients = (c0, c1, c2)

        async def one(i: int, replica: int, arguments: dict[str, Any]) -> None:
            results[i] = await clients[replica].call_tool("sipgate_send_sms", arguments)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i, (replica, arguments) in enumerate(attempts):
                    tg.start_soon(one, i, replica, arguments)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _status(result: CallToolResult) -> str:
    return (result.structured_content or {}).get("status") or ("error" if result.is_error else "?")


def _text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


# ------------------------------------------------------------------ single redemption, exact caps
async def test_a_token_is_redeemed_once_when_every_replica_races_for_it(topology: Topology) -> None:
    (token,) = await _previews(topology.replicas[0], [SMS["message"]])
    results = await _redeem_concurrently(topology, [(i % 3, SMS | {"confirm_token": token}) for i in range(12)])
    assert [_status(r) for r in results].count("applied") == 1
    refused = [r for r in results if r.is_error]
    assert len(refused) == 11 and all("already used" in _text(r) for r in refused)
    assert topology.sms_sent() == 1


async def test_a_cap_of_five_applies_exactly_five_of_twenty_concurrent_sends(topology: Topology) -> None:
    messages = [f"Outage update {i}" for i in range(20)]
    tokens = await _previews(topology.replicas[1], messages)
    attempts = [
        (i % 3, SMS | {"message": m, "confirm_token": t}) for i, (m, t) in enumerate(zip(messages, tokens, strict=True))
    ]
    results = await _redeem_concurrently(topology, attempts)
    statuses = [_status(r) for r in results]
    assert statuses.count("applied") == CAP
    refusals = [_text(r) for r in results if r.is_error]
    assert len(refusals) == 20 - CAP and all("sms_per_hour" in text for text in refusals), refusals
    assert topology.sms_sent() == CAP


# ------------------------------------------------------------------ multi-round calls across replicas
async def test_an_elicitation_round_started_on_one_replica_is_answered_on_another(topology: Topology) -> None:
    yes: InputResponses = {"telco_mcp:confirm": ElicitResult(action="accept", content={"confirm": True})}
    async with Client(topology.replicas[0], elicitation_callback=accept) as first_replica:
        first = await first_replica.session.call_tool("sipgate_send_sms", SMS, allow_input_required=True)
    assert isinstance(first, InputRequiredResult) and first.request_state
    async with Client(topology.replicas[1], elicitation_callback=accept) as second_replica:
        answered = await second_replica.session.call_tool(
            "sipgate_send_sms", SMS, input_responses=yes, request_state=first.request_state, allow_input_required=True
        )
    async with Client(topology.replicas[2], elicitation_callback=accept) as third_replica:
        replayed = await third_replica.session.call_tool(
            "sipgate_send_sms", SMS, input_responses=yes, request_state=first.request_state, allow_input_required=True
        )
    assert isinstance(answered, CallToolResult) and _status(answered) == "applied"
    assert isinstance(replayed, CallToolResult) and replayed.is_error and "already used" in _text(replayed)
    assert topology.sms_sent() == 1


async def test_the_2026_era_needs_no_stickiness(topology: Topology) -> None:
    """Through plain round robin, the question and the retry that answers it land on different replicas."""
    async with (
        topology.recording_client() as http,
        Client(streamable_http_client(topology.round_robin, http_client=http), elicitation_callback=accept) as client,
    ):
        assert client.protocol_version == "2026-07-28"
        results = [await client.call_tool("sipgate_send_sms", SMS | {"message": f"m{i}"}) for i in range(3)]
    assert [_status(r) for r in results] == ["applied"] * 3
    calls = [replica for method, replica in topology.served if method == "tools/call"]
    assert len(calls) == 6  # each write: the question, then the retry with the answer
    assert all(a != b for a, b in zip(calls[::2], calls[1::2], strict=True)), calls
    assert topology.sms_sent() == 3


async def test_2025_sessions_need_a_proxy_that_routes_by_session(topology: Topology) -> None:
    async with (
        topology.recording_client() as http,
        Client(
            streamable_http_client(topology.sticky, http_client=http), mode="legacy", elicitation_callback=accept
        ) as client,
    ):
        assert client.protocol_version == "2025-11-25"
        results = [await client.call_tool("sipgate_send_sms", SMS | {"message": f"s{i}"}) for i in range(3)]
    assert [_status(r) for r in results] == ["applied"] * 3
    assert len({replica for _, replica in topology.served if replica}) == 1  # the whole session on one replica
    assert topology.sms_sent() == 3

    topology.served.clear()  # the same through plain round robin: the session is unknown to the next replica
    with pytest.raises(TimeoutError):  # the user's answer went to a replica that has no such session
        with anyio.fail_after(10):
            async with (
                topology.recording_client() as http,
                Client(
                    streamable_http_client(topology.round_robin, http_client=http),
                    mode="legacy",
                    elicitation_callback=accept,
                ) as client,
            ):
                await client.call_tool("sipgate_send_sms", SMS | {"message": "round robin"})
    session_home = topology.served[0][1]
    assert topology.served[0][0] == "initialize" and {r for _, r in topology.served[1:]} - {session_home}
    assert topology.sms_sent() == 3  # nothing more was sent


# ------------------------------------------------------------------ Redis stopped mid-run
async def test_with_redis_stopped_writes_are_refused_reads_work_and_nothing_is_sent_twice(topology: Topology) -> None:
    tokens = await _previews(topology.replicas[0], ["before", "during"])
    (sent,) = await _redeem_concurrently(topology, [(1, SMS | {"message": "before", "confirm_token": tokens[0]})])
    assert _status(sent) == "applied"
    topology.redis.stop()
    try:
        during = await _redeem_concurrently(
            topology,
            [
                (i % 3, SMS | {"message": m, "confirm_token": t})
                for i, (m, t) in enumerate(zip(["before", "during"] * 3, tokens * 3, strict=True))
            ],
        )
        reads = []
        for url in topology.replicas:
            async with Client(url) as client:
                reads.append(await client.call_tool("sipgate_list_calls", {}))
    finally:
        topology.redis.start()
    assert all(r.is_error and "cannot be reached" in _text(r) and "Nothing was sent" in _text(r) for r in during)
    assert all(not r.is_error and r.structured_content is not None for r in reads)
    assert topology.sms_sent() == 1
    # Redis is back but empty: the used token must not work again, and the unused one was issued
    # before the reset, so it is refused too rather than trusted.
    with anyio.fail_after(5):
        await anyio.sleep(2.1)  # tokens carry whole seconds: the reset falls clearly after both were issued
    after = await _redeem_concurrently(
        topology,
        [(2, SMS | {"message": m, "confirm_token": t}) for m, t in zip(["before", "during"], tokens, strict=True)],
    )
    assert all(r.is_error and "was reset" in _text(r) for r in after)
    assert topology.sms_sent() == 1


def test_the_replicas_logged_no_secret(topology: Topology) -> None:
    logs = [path.read_text(errors="replace") for path in sorted(topology.folder.glob("replica-*.log"))]
    assert len(logs) == 3
    for log in logs:
        assert SECRET not in log
