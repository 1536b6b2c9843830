"""/healthz, /readyz and /metrics on the HTTP app, and what the metric families count.

The app is the one `telco-mcp serve --transport http` serves (`transports.http_app`), driven in process
through httpx2's ASGI transport, whose `client` sets the socket peer the endpoints see.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from telco_mcp.server import build_server
from telco_mcp.transports import http_app
from tests.conftest import CANARIES, FakeUpstream, client_for, make_settings, response, sipgate_settings

pytestmark = pytest.mark.anyio

LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)


def app_for(settings: Any, *, host: str = "127.0.0.1") -> tuple[Any, Any]:
    server = build_server(settings)
    return http_app(server, settings, transport="http", host=host, port=8000), server.telco_runtime  # type: ignore[attr-defined]


async def get(
    app: Any, path: str, *, peer: tuple[str, int] = LOOPBACK, headers: dict[str, str] | None = None
) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=app, client=peer)
    async with httpx2.AsyncClient(transport=transport, base_url="http://10.0.0.5:8000") as http:
        return await http.get(path, headers=headers)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


# ------------------------------------------------------------------ probes
async def test_healthz_answers_any_peer_and_host_without_a_token_and_says_only_that_it_is_up(audit_path: Path):
    token_settings = make_settings(
        audit_path, telco_mcp_sandbox=True, telco_mcp_http_token="s3cret-bearer", telco_mcp_allowed_hosts="mcp.example"
    )
    app, _ = app_for(token_settings, host="0.0.0.0")
    answer = await get(app, "/healthz", peer=REMOTE, headers={"host": "10.1.2.3:8000"})  # a kubelet: pod IP, no token
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    mcp = await get(app, "/mcp", peer=REMOTE, headers={"host": "mcp.example"})  # the MCP path still wants the token
    assert mcp.status_code == 401


async def test_readyz_is_200_when_ready_and_503_naming_draining(audit_path: Path):
    app, runtime = app_for(make_settings(audit_path, telco_mcp_sandbox=True))
    ready = await get(app, "/readyz", headers={"host": "10.1.2.3"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    runtime.draining = True
    draining = await get(app, "/readyz")
    assert draining.status_code == 503
    assert draining.json() == {"status": "not ready", "missing": ["draining"]}
    assert (await get(app, "/healthz")).status_code == 200  # alive all the same


async def test_readyz_names_a_shared_state_that_does_not_answer_and_holds_no_secret(audit_path: Path, tmp_path):
    import socket

    with socket.socket() as closed:  # a port nothing listens on: the state is away
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"redis://:state-password-canary@127.0.0.1:{port}/0"
    settings = make_settings(
        audit_path, telco_mcp_sandbox=True, telco_mcp_state_url=url, telco_mcp_confirm_secret="x" * 32
    )
    app, _ = app_for(settings)
    answer = await get(app, "/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "missing": ["shared_state"]}
    assert "canary" not in answer.text and str(port) not in answer.text


async def test_readyz_names_missing_providers(audit_path: Path):
    # sipgate credentials, SignalWire scopes only: no configured provider has a tool to serve
    app, _ = app_for(sipgate_settings(audit_path, telco_mcp_scopes="signalwire:*"))
    answer = await get(app, "/readyz")
    assert answer.status_code == 503
    assert answer.json()["missing"] == ["providers"]


async def test_probe_paths_are_exact_and_take_no_other_method(audit_path: Path):
    app, _ = app_for(make_settings(audit_path, telco_mcp_sandbox=True))
    assert (await get(app, "/healthzz")).status_code != 200
    transport = httpx2.ASGITransport(app=app, client=LOOPBACK)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        assert (await http.post("/healthz")).status_code == 405


# ------------------------------------------------------------------ access to /metrics
async def test_metrics_without_a_token_only_for_a_loopback_socket_peer_never_a_forwarded_one(audit_path: Path):
    app, _ = app_for(make_settings(audit_path, telco_mcp_sandbox=True))
    assert (await get(app, "/metrics")).status_code == 200
    spoofed = await get(
        app, "/metrics", peer=REMOTE, headers={"x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1"}
    )
    assert spoofed.status_code == 403
    assert "telco_mcp" not in spoofed.text


async def test_metrics_without_a_token_refuse_what_a_trusted_proxy_forwards_either_way(audit_path: Path):
    local_proxy, _ = app_for(make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_trusted_proxies="127.0.0.1"))
    forwarded = await get(local_proxy, "/metrics", headers={"x-forwarded-for": "203.0.113.9"})  # haproxy on the host
    assert forwarded.status_code == 403
    remote_proxy, _ = app_for(make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_trusted_proxies=REMOTE[0]))
    claimed = await get(remote_proxy, "/metrics", peer=REMOTE, headers={"x-forwarded-for": "127.0.0.1"})
    assert claimed.status_code == 403
    assert (await get(local_proxy, "/metrics")).status_code == 200  # a scraper on the host, not forwarded


async def test_metrics_token_admits_its_bearer_and_a_wrong_token_gets_401_and_nothing_else(audit_path: Path):
    settings = make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_metrics_token="scrape-token-canary")
    app, _ = app_for(settings)
    good = await get(app, "/metrics", peer=REMOTE, headers={"authorization": "Bearer scrape-token-canary"})
    assert good.status_code == 200
    assert good.headers["content-type"].startswith("text/plain")
    assert "telco_mcp_tool_calls_total" in good.text or "# TYPE telco_mcp_tool_calls" in good.text
    for wrong in ({"authorization": "Bearer nope"}, {}):
        refused = await get(app, "/metrics", peer=LOOPBACK, headers=wrong)  # with a token, loopback needs it too
        assert refused.status_code == 401
        assert "telco_mcp_" not in refused.text
        assert "scrape-token-canary" not in refused.text


# ------------------------------------------------------------------ what is counted
async def test_tool_calls_upstream_latency_and_refusals_are_counted_without_numbers_ids_or_secrets(
    audit_path: Path,
):
    fake = FakeUpstream()
    fake.route("GET /v2/calls", response(200, {"data": []}))
    fake.route("GET /v2/history", [response(503), response(200, {"items": [], "totalCount": 0})])
    settings = sipgate_settings(audit_path, telco_mcp_allow_writes=True, telco_mcp_confirm="off",
                                telco_mcp_confirm_off_acknowledged=True)  # fmt: skip
    app, _ = app_for(settings)
    before = (await get(app, "/metrics")).text
    async with client_for(settings, fake) as client:
        await client.call_tool("sipgate_list_calls", {})
        await client.call_tool("sipgate_list_history", {})
        refused = await client.call_tool("sipgate_send_sms", {"recipient": "+499001234567", "message": "hi"})
        assert refused.is_error
        await client.call_tool("sipgate_list_calls", {"limit": "many"})
    after = (await get(app, "/metrics")).text

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("telco_mcp_tool_calls_total", tool="sipgate_list_calls", outcome="read") == 1
    assert delta("telco_mcp_tool_calls_total", tool="sipgate_list_calls", outcome="invalid") == 1
    assert delta("telco_mcp_tool_calls_total", tool="sipgate_send_sms", outcome="refused") == 1
    assert delta("telco_mcp_refusals_total", rule="block_premium") == 1
    # one observation per HTTP attempt: the 503 and the retried 200
    assert delta("telco_mcp_upstream_request_seconds_count", provider="sipgate", operation="sipgate_list_history",
                 status_class="5xx") == 1  # fmt: skip
    assert delta("telco_mcp_upstream_request_seconds_count", provider="sipgate", operation="sipgate_list_history",
                 status_class="2xx") == 1  # fmt: skip
    assert value(after, "telco_mcp_calls_in_flight") == 0
    labels = " ".join(v for (_, ls) in samples(after) for _, v in ls)
    assert not re.search(r"\d{5,}", labels), "a label carries a number or id"
    for canary in CANARIES:
        assert canary not in after


async def test_shared_state_calls_are_timed_and_their_errors_counted(audit_path: Path):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = make_settings(
        audit_path, telco_mcp_sandbox=True, telco_mcp_state_url=f"redis://127.0.0.1:{port}/0",
        telco_mcp_confirm_secret="y" * 32, telco_mcp_confirm="off", telco_mcp_confirm_off_acknowledged=True,
        telco_mcp_sms_per_hour=5,
    )  # fmt: skip
    app, _ = app_for(settings)
    before = (await get(app, "/metrics")).text
    async with client_for(settings) as client:
        result = await client.call_tool("sipgate_send_sms", {"recipient": "+4915799912345", "message": "x"})
        assert result.is_error  # the cap cannot be counted: refused, nothing sent
    after = (await get(app, "/metrics")).text
    errors = {ls: v for (name, ls), v in samples(after).items() if name == "telco_mcp_state_errors_total"}
    was = {ls: v for (name, ls), v in samples(before).items() if name == "telco_mcp_state_errors_total"}
    assert sum(errors.values()) > sum(was.values())
    assert any(name == "telco_mcp_state_seconds_count" for (name, _) in samples(after))


async def test_calls_in_flight_counts_a_call_while_it_is_handled(audit_path: Path):
    import anyio
    from mcp import Client

    released, entered = anyio.Event(), anyio.Event()

    async def slow(request: httpx2.Request) -> httpx2.Response:
        entered.set()
        await released.wait()
        return response(200, {"data": []})

    settings = sipgate_settings(audit_path)
    app, _ = app_for(settings)
    server = build_server(settings, transports={"sipgate": httpx2.MockTransport(slow)})
    during = ""
    with anyio.fail_after(30):
        async with Client(server) as client, anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "sipgate_list_calls", {})
            await entered.wait()
            during = (await get(app, "/metrics")).text
            released.set()
    after = (await get(app, "/metrics")).text
    assert samples(during)[("telco_mcp_calls_in_flight", frozenset())] >= 1
    assert samples(after)[("telco_mcp_calls_in_flight", frozenset())] == 0
