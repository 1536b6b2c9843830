"""Live call events (issue 16): sipgate's push webhooks reach the resource, the waiting tool and
sipgate_list_calls; the receiver refuses what it must; the sandbox sends the webhooks itself.

Everything runs through the boundaries: the embedded sandbox (its `/_sandbox/` admin surface rings
calls), the receiver's ASGI app with a chosen peer address, the SDK's in-memory client in both
protocol eras, and a real stdio subprocess for the receiver's own port.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from conftest import SandboxSigned, accept, make_settings, sandbox_key_file, text_of
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.server.subscriptions import ResourceUpdated
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from reliability.conftest import serve_in_thread
from test_safety_untrusted import ATTACKS, assert_only_fenced

from telco_mcp.catalogue import BY_NAME
from telco_mcp.cli import main
from telco_mcp.events.receiver import PROBE_HEADER
from telco_mcp.resources import CALL_EVENTS_URI
from telco_mcp.sandbox import SIPGATE_TOKEN, SIPGATE_TOKEN_ID, Sandbox
from telco_mcp.sandbox.push import PushSender
from telco_mcp.server import build_server
from telco_mcp.settings import Settings, load_settings
from tests.contracts import specs

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]
CALLER = "+49 30 1234567"
SECRET = "s3cret-webhook-path-value-for-the-tests-0123456789"
WAIT = "sipgate_wait_for_call_event"


# ------------------------------------------------------------------ helpers
def sandboxed(audit: Path, **overrides: Any) -> tuple[Any, Any]:
    server = build_server(make_settings(audit, **overrides))
    return server, server.telco_runtime  # type: ignore[attr-defined]


@asynccontextmanager
async def admin(runtime: Any) -> AsyncIterator[httpx2.AsyncClient]:
    """The embedded sandbox's own HTTP surface (`/_sandbox/...`)."""
    transport = httpx2.ASGITransport(app=runtime.sandbox.app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        yield client


@asynccontextmanager
async def poster(
    runtime: Any, peer: str = "127.0.0.1", base: str = "http://mcp.example.test", *, signed: bool = True
) -> AsyncIterator[Any]:
    """A client of the receiver app whose requests come from `peer`, as its listener serves it (forwarded headers
    applied from TELCO_MCP_TRUSTED_PROXIES), signed with the sandbox's key unless not."""
    from telco_mcp.access import ForwardedHeaders, networks

    app = ForwardedHeaders(runtime.webhooks.app, networks(runtime.settings.trusted_proxies))
    transport = httpx2.ASGITransport(app=app, client=(peer, 40000))
    auth = SandboxSigned() if signed else None
    async with httpx2.AsyncClient(transport=transport, base_url=base, auth=auth) as client:
        yield client


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


def new_call(call_id: str = "ABC123", **fields: str) -> dict[str, Any]:
    return {"event": "newCall", "direction": "in", "from": "49301234567", "to": "492111234567",
            "callId": call_id, "user[]": ["Anna Schneider"]} | fields  # fmt: skip


def events_in(resource_text: str) -> list[dict[str, Any]]:
    inside = resource_text.split('">\n', 1)[1].split("\n</untrusted-data>", 1)[0]
    return json.loads(inside)["events"]


async def resource_events(client: Client) -> list[dict[str, Any]]:
    contents = (await client.read_resource(CALL_EVENTS_URI)).contents
    return events_in(contents[0].text)  # type: ignore[union-attr]


# ================================================================== the whole path, sandbox to client
@pytest.mark.parametrize("mode", MODES)
async def test_a_rung_call_reaches_the_waiting_tool_and_the_resource_then_answer_and_hangup_follow_in_order(
    mode: str, audit_path: Path
) -> None:
    server, runtime = sandboxed(audit_path)
    answerer = runtime.sandbox.state.sipgate.users[0]
    async with Client(server, mode=mode, elicitation_callback=accept) as client, admin(runtime) as sandbox:
        waited: dict[str, Any] = {}
        rung: Any = None

        async def wait() -> None:
            args = {"number": CALLER, "direction": "in", "events": ["newCall"]}
            waited["result"] = await client.call_tool(WAIT, args)

        relay_only = runtime.events.subscribers  # the server's own relay of resource notifications
        assert relay_only == 1
        async with anyio.create_task_group() as group:
            group.start_soon(wait)
            await until(lambda: runtime.events.subscribers == relay_only + 1)
            rung = await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})
        assert rung.status_code == 201 and rung.json()["webhook_status"] == 200
        call_id = rung.json()["callId"]

        result = waited["result"]
        assert not result.is_error, text_of(result)
        first = result.structured_content["event"]
        assert result.structured_content["status"] == "event"
        assert (first["event"], first["call_id"], first["direction"]) == ("newCall", call_id, "in")
        assert first["from_number"] == "+49301234567"  # in E.164, as every tool shows it (pushed: 49301234567)
        assert [e["call_id"] for e in await resource_events(client)] == [call_id]

        ringing = await client.call_tool("sipgate_list_calls", {})
        assert call_id not in [c["call_id"] for c in ringing.structured_content["calls"]], "ringing calls are unlisted"

        answered = await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/answer", json={"user": answerer["id"]})
        assert answered.json()["webhook_status"] == 200, "the receiver asked for the answer follow-up"
        listed = await client.call_tool("sipgate_list_calls", {})
        call = next(c for c in listed.structured_content["calls"] if c["call_id"] == call_id)
        assert call["pushed"]["direction"] == "in"
        assert call["pushed"]["answering_user"] == f"{answerer['firstname']} {answerer['lastname']}"
        assert call["pushed"]["users"]

        held = await client.call_tool("sipgate_hold_call", {"call_id": call_id, "value": True})
        assert not held.is_error and held.structured_content["result"]["call"]["hold"] is True, text_of(held)
        hung = await client.call_tool("sipgate_hangup_call", {"call_id": call_id})
        assert not hung.is_error and hung.structured_content["result"]["ended"] is True, text_of(hung)

        after = {"call_id": call_id, "events": ["hangup"], "after_sequence": first["sequence"], "timeout_seconds": 5}
        ended = await client.call_tool(WAIT, after)
        assert ended.structured_content["event"]["cause"] == "normalClearing", text_of(ended)
        kept = await resource_events(client)
    assert [(e["event"], e["call_id"]) for e in kept] == [
        ("hangup", call_id),
        ("answer", call_id),
        ("newCall", call_id),
    ]
    assert [e["sequence"] for e in kept] == sorted((e["sequence"] for e in kept), reverse=True), "newest first"


async def test_a_click_to_dial_call_pushes_new_call_and_answer_to_the_outgoing_url(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with Client(server, elicitation_callback=accept) as client:
        started = await client.call_tool("sipgate_start_call", {"caller": "e0", "callee": "+49 30 23125499"})
        assert not started.is_error, text_of(started)
        kept = await resource_events(client)
    assert [(e["event"], e["direction"]) for e in kept] == [("answer", "out"), ("newCall", "out")]
    assert kept[1]["to_number"] == "+493023125499"


async def test_subscribers_hear_that_the_events_resource_changed(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with (
        Client(server) as client,
        admin(runtime) as sandbox,
        client.listen(resource_subscriptions=[CALL_EVENTS_URI]) as subscription,
    ):
        await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})
        with anyio.fail_after(5):
            event = await subscription.__anext__()
    assert event == ResourceUpdated(uri=CALL_EVENTS_URI)


# ================================================================== waiting
@pytest.mark.parametrize("mode", MODES)
async def test_the_wait_times_out_cleanly_with_progress_notifications(mode: str, audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    heard_so_far: list[tuple[float, float | None, str | None]] = []

    async def heard(progress: float, total: float | None, message: str | None) -> None:
        heard_so_far.append((progress, total, message))

    async with Client(server, mode=mode) as client:
        result = await client.call_tool(WAIT, {"timeout_seconds": 1}, progress_callback=heard)
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["status"] == "timeout" and "event" not in data and data["waited_seconds"] >= 1
    assert "Call again" in data["note"]
    assert heard_so_far[0][:2] == (0, 1) and heard_so_far[-1][:2] == (1, 1), heard_so_far
    assert runtime.events.subscribers == 0, "neither the waiter nor, once the client left, the relay"


@pytest.mark.parametrize("mode", MODES)
async def test_cancelling_the_call_frees_the_waiter(mode: str, audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with Client(server, mode=mode) as client:
        relay_only = runtime.events.subscribers
        with anyio.move_on_after(0.5) as scope:
            await client.call_tool(WAIT, {"timeout_seconds": 300})
        assert scope.cancelled_caught
        await until(lambda: runtime.events.subscribers == relay_only)


async def test_the_timeout_defaults_to_45_seconds_and_is_capped_at_300(audit_path: Path) -> None:
    server, _ = sandboxed(audit_path)
    async with Client(server) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == WAIT)
        too_long = await client.call_tool(WAIT, {"timeout_seconds": 301})
    timeout = tool.input_schema["properties"]["timeout_seconds"]
    assert (timeout["default"], timeout["maximum"]) == (45, 300)
    assert too_long.is_error and "timeout_seconds" in text_of(too_long)
    assert tool.annotations is not None and tool.annotations.read_only_hint is True
    assert BY_NAME[WAIT].default, "the read-only event tool is in the default exposure"


async def test_after_sequence_returns_a_kept_event_so_nothing_is_missed_between_waits(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with Client(server) as client, poster(runtime) as post:
        for call_id in ("FIRST1", "SECOND2"):
            assert (await post.post(runtime.webhooks.path, data=new_call(call_id))).status_code == 200
        first = await client.call_tool(WAIT, {"after_sequence": 0, "timeout_seconds": 1})
        second = await client.call_tool(WAIT, {"after_sequence": 1, "timeout_seconds": 1})
        none = await client.call_tool(WAIT, {"after_sequence": 2, "timeout_seconds": 1})
    assert first.structured_content["event"]["call_id"] == "FIRST1"
    assert second.structured_content["event"]["call_id"] == "SECOND2"
    assert none.structured_content["status"] == "timeout"


async def test_the_filter_skips_events_that_do_not_match(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with Client(server) as client, poster(runtime) as post:
        for fields in (new_call("OUT1", direction="out"), new_call("OTHER2", **{"from": "4940111111"}),
                       {"event": "dtmf", "callId": "ABC123", "dtmf": "12#"}, new_call("MATCH3")):  # fmt: skip
            assert (await post.post(runtime.webhooks.path, data=fields)).status_code == 200
        args = {"number": CALLER, "direction": "in", "events": ["newCall"], "after_sequence": 0, "timeout_seconds": 1}
        result = await client.call_tool(WAIT, args)
    assert result.structured_content["event"]["call_id"] == "MATCH3"


# ================================================================== the receiver refuses, and records nothing
@pytest.mark.parametrize(
    ("peer", "headers", "path", "body", "status"),
    [
        ("198.51.100.7", {}, "/webhooks/sipgate/wrong-secret-value", new_call(), 404),
        ("198.51.100.7", {}, "/webhooks/sipgate/", new_call(), 404),
        ("203.0.113.9", {}, None, new_call(), 403),
        ("203.0.113.9", {"X-Forwarded-For": "198.51.100.7"}, None, new_call(), 403),  # not from a trusted proxy
        ("10.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, None, new_call(), 403),
        ("10.0.0.1", {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}, None, new_call(), 403),  # last hop counts
        ("198.51.100.7", {"Content-Type": "application/json"}, None, json.dumps(new_call()), 415),
        ("198.51.100.7", {}, None, new_call(event="ringing"), 400),
        ("198.51.100.7", {}, None, {"event": "newCall", "from": "4930"}, 400),  # no callId
        ("198.51.100.7", {}, None, new_call(direction="sideways"), 400),
        ("198.51.100.7", {}, None, {"event": "dtmf", "callId": "ABC123", "dtmf": "12x"}, 400),
        ("198.51.100.7", {}, None, "event=newCall&callId=A&callId=B", 400),
        ("198.51.100.7", {}, None, b"event=newCall&callId=ABC&from=\xff\xfe", 400),
        ("198.51.100.7", {}, None, new_call(**{"from": "4" * 300}), 400),
        ("198.51.100.7", {}, None, "event=newCall&callId=ABC&pad=" + "x" * 20000, 413),
    ],
    ids=[
        "wrong-secret",
        "no-secret",
        "outside-allowlist",
        "forwarded-by-untrusted-peer",
        "proxy-forwards-outsider",
        "proxy-chain-ends-outside",
        "json",
        "unknown-event",
        "no-call-id",
        "bad-direction",
        "bad-dtmf",
        "field-twice",
        "not-utf8",
        "value-too-long",
        "oversized",
    ],  # fmt: skip
)
async def test_a_refused_webhook_changes_nothing(
    peer: str, headers: dict[str, str], path: str | None, body: Any, status: int, audit_path: Path
) -> None:
    server, runtime = sandboxed(
        audit_path,
        telco_mcp_webhook_secret=SECRET,
        telco_mcp_webhook_allowed_networks="198.51.100.0/24",
        telco_mcp_trusted_proxies="10.0.0.1",
    )
    async with poster(runtime, peer) as post:
        kwargs = {"data": body} if isinstance(body, dict) else {"content": body}
        if isinstance(body, str | bytes) and "Content-Type" not in headers:
            headers = headers | {"Content-Type": "application/x-www-form-urlencoded"}
        answer = await post.post(path or runtime.webhooks.path, headers=headers, **kwargs)
        assert answer.status_code == status, answer.text
        # the same request, well-formed and from inside: accepted (so the refusal above was for its reason)
        good = await post.post(
            runtime.webhooks.path, data=new_call("GOOD1"), headers={"X-Forwarded-For": "198.51.100.7"}
        )
    recorded = await runtime.events.recent(10)
    accepted = good.status_code == 200
    assert [e.call_id for e in recorded] == (["GOOD1"] if accepted else []), "nothing of the refused one is recorded"
    if peer in ("198.51.100.7", "10.0.0.1"):
        assert accepted


async def test_new_call_is_answered_at_once_asking_for_the_follow_ups_at_the_public_url(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path, telco_mcp_public_url="https://mcp.example.com/base/")
    async with poster(runtime) as post:
        answer = await post.post(runtime.webhooks.path, data=new_call())
        hangup = await post.post(runtime.webhooks.path, data={"event": "hangup", "callId": "ABC123", "cause": "busy"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    url = "https://mcp.example.com/base" + runtime.webhooks.path
    assert f'onAnswer="{url}"' in answer.text and f'onHangup="{url}"' in answer.text
    assert hangup.status_code == 200 and hangup.headers["content-type"].startswith("application/xml")
    assert hangup.text.endswith("<Response />\n"), "a follow-up asks for nothing more"
    assert [e.event for e in await runtime.events.recent(10)] == ["hangup", "newCall"]


async def test_without_a_public_url_the_follow_ups_go_to_the_address_sipgate_used(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with poster(runtime, base="https://hooks.example.org") as post:
        answer = await post.post(runtime.webhooks.path, data=new_call())
    assert f'onAnswer="https://hooks.example.org{runtime.webhooks.path}"' in answer.text


async def test_a_get_with_the_secret_is_the_doctor_probe_and_records_nothing(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with poster(runtime) as post:
        probe = await post.get(runtime.webhooks.path)
    assert probe.status_code == 405 and probe.headers["x-telco-mcp-webhook"] == "ready"
    assert await runtime.events.recent(10) == []


# ================================================================== provider text is fenced
@pytest.mark.parametrize("attack", list(ATTACKS.values()), ids=list(ATTACKS))
async def test_provider_text_inside_events_is_fenced(attack: str, audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with Client(server) as client, poster(runtime) as post:
        planted = new_call(**{"user[]": [attack[:250]], "diversion": attack[:250]})
        assert (await post.post(runtime.webhooks.path, data=planted)).status_code == 200
        result = await client.call_tool(WAIT, {"after_sequence": 0, "timeout_seconds": 1})
        resource = (await client.read_resource(CALL_EVENTS_URI)).contents[0].text  # type: ignore[union-attr]
    assert result.structured_content["event"]["users"] == [attack[:250]], "the data itself is unchanged"
    assert_only_fenced(text_of(result), WAIT)
    assert_only_fenced(resource, CALL_EVENTS_URI)
    assert "/event/users/0" in result.meta["io.github.telco-mcp/untrusted"]["pointers"]  # type: ignore[index]


# ================================================================== push URLs: a confirmed, destructive write
async def test_set_webhooks_asks_showing_the_urls_it_replaces_and_reads_them_back(audit_path: Path) -> None:
    server, runtime = sandboxed(
        audit_path, telco_mcp_toolsets="default,sipgate:settings:sipgateio", telco_mcp_allowed_routing_hosts="127.0.0.1"
    )
    questions: list[str] = []

    async def asked(context: Any, params: Any) -> Any:
        questions.append(params.message)
        return await accept(context, params)

    args = {"incoming_url": "http://127.0.0.1:9/crm/in", "outgoing_url": ""}
    async with Client(server, elicitation_callback=asked) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        before = await client.call_tool("sipgate_get_webhooks", {})
        changed = await client.call_tool("sipgate_set_webhooks", args)
        after = await client.call_tool("sipgate_get_webhooks", {})
    annotations = tools["sipgate_set_webhooks"].annotations
    assert annotations is not None and annotations.destructive_hint is True
    assert not BY_NAME["sipgate_set_webhooks"].default and not BY_NAME["sipgate_get_webhooks"].default
    ours = "http://127.0.0.1/webhooks/sipgate/***"
    assert before.structured_content == {"incoming_url": ours, "outgoing_url": ours, "log": False, "whitelist": []}
    assert len(questions) == 1
    assert f'incoming "{ours}" → "http://127.0.0.1:9/crm/in"' in questions[0]
    assert f'outgoing "{ours}" → (none)' in questions[0]
    assert "gets no more call events" in questions[0]
    assert runtime.webhooks.path.rsplit("/", 1)[1] not in text_of(before) + questions[0], "the secret stays hidden"
    assert changed.structured_content["status"] == "applied", text_of(changed)
    assert after.structured_content["incoming_url"] == "http://127.0.0.1:9/crm/in"
    assert "outgoing_url" not in after.structured_content


@pytest.mark.contract
async def test_every_request_the_push_tools_send_matches_the_sipgate_spec(audit_path: Path) -> None:
    raw = specs.load("sipgate")
    for operation in raw["paths"]["/settings/sipgateio"].values():
        # The spec models only OAuth2 implicit (openapi-core cannot check it) and not our PAT auth (notes §1.2):
        # everything else about the request is checked.
        operation.pop("security", None)
    api = OpenAPI.from_dict(raw)
    server, runtime = sandboxed(
        audit_path, telco_mcp_toolsets="all", telco_mcp_allowed_routing_hosts="127.0.0.1,localhost"
    )
    async with Client(server, elicitation_callback=accept) as client:
        for tool, args in [
            ("sipgate_get_webhooks", {}),
            ("sipgate_set_webhooks", {"incoming_url": "http://127.0.0.1:9/in", "outgoing_url": "", "log": True}),
            ("sipgate_set_webhooks", {"incoming_url": "", "outgoing_url": "https://localhost/o", "whitelist": ["w0"]}),
        ]:  # fmt: skip
            assert not (result := await client.call_tool(tool, args)).is_error, text_of(result)
    sent = [r for r in runtime.sandbox.requests if r.path == "/v2/settings/sipgateio"]
    assert {r.method for r in sent} == {"GET", "PUT"} and all(r.status < 300 for r in sent)
    for record in sent:
        body = json.dumps(record.json).encode() if record.json is not None else None
        request = MockRequest("https://api.sipgate.com", record.method.lower(), record.path, data=body,
                              content_type="application/json")  # fmt: skip
        api.validate_request(request)  # raises on any mismatch: path, method, body schema


async def test_the_sandbox_answers_403_when_sipgate_io_is_not_booked(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path, telco_mcp_toolsets="sipgate:settings:sipgateio")
    async with Client(server) as client, admin(runtime) as sandbox:
        await sandbox.put("/_sandbox/sipgate/sipgateio-booked", json={"booked": False})
        result = await client.call_tool("sipgate_get_webhooks", {})
    assert result.is_error and "[permission] sipgate refused sipgate_get_webhooks (403)" in text_of(result)


# ================================================================== the sandbox's webhooks
async def test_the_sandbox_posts_to_loopback_addresses_only(audit_path: Path) -> None:
    sender = PushSender()
    assert await sender.post("https://crm.example.com/hook", {"event": "newCall", "callId": "A"}) is None
    assert sender.deliveries == [{"event": "newCall", "callId": "A", "status": None, "error": "not a loopback URL"}]
    with pytest.raises(ValueError, match="loopback"):
        Sandbox().configure_push("http://192.0.2.1/webhooks/sipgate/x")
    server, runtime = sandboxed(audit_path)
    async with admin(runtime) as sandbox:
        refused = await sandbox.post("/_sandbox/sipgate/ring", json={"from": "not a number"})
    assert refused.status_code == 422


async def test_the_sandbox_webhooks_use_sipgates_form_fields(audit_path: Path) -> None:
    received: list[dict[str, list[str]]] = []

    async def receiver(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        from urllib.parse import parse_qs

        received.append(parse_qs(body.decode()) | {"content-type": [dict(scope["headers"])[b"content-type"].decode()]})
        xml = b'<Response onAnswer="http://127.0.0.1/a" onHangup="http://127.0.0.1/h"/>'
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/xml")]})
        await send({"type": "http.response.body", "body": xml})

    sandbox = Sandbox()
    sandbox.configure_push("http://127.0.0.1/hook", transport=httpx2.ASGITransport(app=receiver))
    async with admin(type("R", (), {"sandbox": sandbox})()) as client:
        call_id = (await client.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        await client.post(f"/_sandbox/sipgate/calls/{call_id}/end", json={"cause": "noAnswer"})
    new, hangup = received
    assert new["content-type"] == ["application/x-www-form-urlencoded"]
    assert {k: v for k, v in new.items() if k in ("event", "direction", "from", "callId")} == {
        "event": ["newCall"], "direction": ["in"], "from": ["49301234567"], "callId": [call_id]}  # fmt: skip
    assert {"user[]", "userId[]", "fullUserId[]", "to", "xcid", "origCallId"} <= set(new)
    assert (hangup["event"], hangup["cause"], hangup["callId"]) == (["hangup"], ["noAnswer"], [call_id])


# ================================================================== settings, each noticed when ignored
async def test_telco_mcp_webhook_secret_is_the_path_and_nothing_is_kept_on_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TELCO_MCP_WEBHOOK_SECRET", SECRET)
    runtime = build_server(load_settings()).telco_runtime  # type: ignore[attr-defined]
    assert runtime.webhooks.path == f"/webhooks/sipgate/{SECRET}"
    async with poster(runtime) as post:
        assert (await post.post(f"/webhooks/sipgate/{SECRET}", data=new_call())).status_code == 200
    assert not (tmp_path / "state" / "telco-mcp" / "webhook-secret").exists()


def test_without_the_setting_a_long_random_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = build_server(load_settings()).telco_runtime.webhooks.path  # type: ignore[attr-defined]
    second = build_server(load_settings()).telco_runtime.webhooks.path  # type: ignore[attr-defined]
    kept = tmp_path / "state" / "telco-mcp" / "webhook-secret"
    assert first == second == "/webhooks/sipgate/" + kept.read_text().strip()
    assert len(kept.read_text().strip()) >= 43 and stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_a_malformed_webhook_secret_or_network_stops_startup() -> None:
    problems = Settings(_env_file=None, telco_mcp_webhook_secret="short",  # pyright: ignore[reportCallIssue]
                        telco_mcp_webhook_allowed_networks="10.0.0.0/8,not-a-net").problems()  # fmt: skip
    assert any("TELCO_MCP_WEBHOOK_SECRET" in p for p in problems)
    assert any("TELCO_MCP_WEBHOOK_ALLOWED_NETWORKS: 'not-a-net'" in p for p in problems)


@pytest.mark.parametrize(("size", "status"), [(1500, 200), (3000, 413)])
async def test_telco_mcp_webhook_max_bytes_bounds_the_body(size: int, status: int, audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path, telco_mcp_webhook_max_bytes=2048)
    body = "event=newCall&callId=ABC" + "".join(f"&pad{i}=" + "x" * 100 for i in range(40))
    body = body[:size]
    async with poster(runtime) as post:
        answer = await post.post(runtime.webhooks.path, content=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == status
    assert len(await runtime.events.recent(10)) == (1 if status == 200 else 0)


async def test_telco_mcp_call_events_kept_bounds_the_memory(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path, telco_mcp_call_events_kept=10)
    async with Client(server) as client, poster(runtime) as post:
        for n in range(12):
            await post.post(runtime.webhooks.path, data=new_call(f"CALL{n}"))
        kept = await resource_events(client)
    assert [e["call_id"] for e in kept] == [f"CALL{n}" for n in range(11, 1, -1)]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
async def test_under_stdio_the_receiver_listens_on_telco_mcp_webhook_host_and_port(host: str, tmp_path: Path) -> None:
    port = _free_port(host)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
           "TELCO_MCP_WEBHOOK_HOST": host, "TELCO_MCP_WEBHOOK_PORT": str(port), "TELCO_MCP_WEBHOOK_SECRET": SECRET,
           "TELCO_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
           # the subprocess's own sandbox signs with its own key: this test signs with this process's
           "TELCO_MCP_WEBHOOK_PUBLIC_KEY": str(sandbox_key_file(tmp_path))}  # fmt: skip
    params = StdioServerParameters(command=sys.executable, args=["-m", "telco_mcp", "serve"], env=env, cwd=tmp_path)
    async with Client(params) as client, httpx2.AsyncClient(trust_env=False, auth=SandboxSigned()) as http:
        url = f"http://{host}:{port}/webhooks/sipgate/{SECRET}"
        with anyio.fail_after(10):
            while True:
                try:
                    answer = await http.post(url, data=new_call("STDIO1"))
                    break
                except httpx2.ConnectError:
                    await anyio.sleep(0.05)
        assert answer.status_code == 200
        result = await client.call_tool(WAIT, {"after_sequence": 0, "timeout_seconds": 5})
        if host != "127.0.0.1":  # bound to that address only: 127.0.0.1 has no receiver on this port
            try:  # (another process may happen to hold the same port number there: it is not this receiver)
                other = await http.get(f"http://127.0.0.1:{port}/webhooks/sipgate/{SECRET}")
                assert other.headers.get(PROBE_HEADER) != "ready", "the receiver also listens on 127.0.0.1"
            except httpx2.ConnectError:
                pass
    assert result.structured_content["event"]["call_id"] == "STDIO1", text_of(result)


async def test_the_http_transport_serves_the_receiver_without_the_bearer_token(audit_path: Path) -> None:
    from telco_mcp.transports import http_app

    server, runtime = sandboxed(audit_path, telco_mcp_http_token="mcp-bearer-token-value")
    app = http_app(server, runtime.settings, transport="http", host="127.0.0.1", port=8000)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", auth=SandboxSigned()) as http:
        hook = await http.post(runtime.webhooks.path, data=new_call())
        mcp = await http.post("/mcp", json={})
    assert hook.status_code == 200 and mcp.status_code == 401
    assert [e.call_id for e in await runtime.events.recent(10)] == ["ABC123"]


# ================================================================== telco-mcp doctor
def run_doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["doctor"])
    out, err = capsys.readouterr()
    assert SIPGATE_TOKEN not in out + err
    return int(exit_info.value.code or 0), out


def test_doctor_shows_the_full_url_and_that_the_public_url_reaches_this_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], audit_path: Path
) -> None:
    monkeypatch.setenv("TELCO_MCP_WEBHOOK_SECRET", SECRET)
    server = build_server(load_settings())
    from telco_mcp.transports import http_app

    app = http_app(server, server.telco_runtime.settings, transport="http", host="127.0.0.1", port=8000)  # type: ignore[attr-defined]
    with serve_in_thread(app, name="mcp") as served:
        monkeypatch.setenv("TELCO_MCP_PUBLIC_URL", served.url + "/")
        code, out = run_doctor(capsys)
    assert code == 0, out
    assert f"set {served.url}/webhooks/sipgate/{SECRET} as the incoming and outgoing push URL" in out
    assert "TELCO_MCP_PUBLIC_URL reaches this server's webhook receiver" in out
    assert "sipgate incoming push URL: this server" in out


@pytest.mark.parametrize(("secret", "why"), [(None, "could not connect"), ("x" * 40, "answered 404")])
def test_doctor_says_when_the_public_url_does_not_reach_this_receiver(
    secret: str | None, why: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if secret is None:
        monkeypatch.setenv("TELCO_MCP_PUBLIC_URL", f"http://127.0.0.1:{_free_port('127.0.0.1')}")
        code, out = run_doctor(capsys)
    else:  # a receiver with another secret answers there
        monkeypatch.setenv("TELCO_MCP_WEBHOOK_SECRET", secret)
        other = build_server(load_settings()).telco_runtime.webhooks  # type: ignore[attr-defined]
        monkeypatch.setenv("TELCO_MCP_WEBHOOK_SECRET", SECRET)
        with serve_in_thread(other.app, name="other") as served:
            monkeypatch.setenv("TELCO_MCP_PUBLIC_URL", served.url)
            code, out = run_doctor(capsys)
    assert code == 1
    assert "TELCO_MCP_PUBLIC_URL does NOT reach this server's webhook receiver" in out and why in out


def test_doctor_reports_that_sipgate_io_is_not_booked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = Sandbox()
    sandbox.state.sipgate.sipgateio_booked = False
    with serve_in_thread(sandbox.app, name="sipgate") as served:
        env = {"TELCO_MCP_SANDBOX": "0", "SIPGATE_TOKEN_ID": SIPGATE_TOKEN_ID, "SIPGATE_TOKEN": SIPGATE_TOKEN,
               "SIPGATE_BASE_URL": served.url + "/v2"}  # fmt: skip
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code, out = run_doctor(capsys)
    assert code == 1
    assert "sipgate: OK (sipgate_get_account" in out
    assert "403, sipgate.io feature not booked" in out
    assert "TELCO_MCP_PUBLIC_URL is not set" in out


async def test_2025_era_sessions_subscribe_and_are_notified_of_updates(audit_path: Path) -> None:
    from mcp.shared.exceptions import MCPDeprecationWarning
    from mcp.types import ResourceUpdatedNotification

    server, runtime = sandboxed(audit_path)
    heard: list[str] = []

    async def handler(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            heard.append(str(message.params.uri))

    async with Client(server, mode="legacy", message_handler=handler) as client, admin(runtime) as sandbox:
        # resources/subscribe is the 2025-era way (the SDK's client warns that 2026-07-28 removed it)
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        capabilities = client.server_capabilities
        assert capabilities is not None and capabilities.resources is not None
        assert capabilities.resources.subscribe is True
        await client.subscribe_resource(CALL_EVENTS_URI)
        await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})
        await until(lambda: heard == [CALL_EVENTS_URI])
        await client.unsubscribe_resource(CALL_EVENTS_URI)
        await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})
        await anyio.sleep(0.2)
        with pytest.raises(Exception, match="does not change"):
            await client.subscribe_resource("telco-mcp://configuration")
    assert heard == [CALL_EVENTS_URI], "no notification after unsubscribing"


async def test_a_blind_transfer_pushes_a_new_call_naming_the_old_call_id(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with Client(server, elicitation_callback=accept) as client, admin(runtime) as sandbox:
        call_id = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/answer", json={})
        moved = await client.call_tool("sipgate_transfer_call", {"call_id": call_id, "phone_number": "+49 40 669690"})
        assert not moved.is_error, text_of(moved)
        found = await client.call_tool(WAIT, {"call_id": call_id, "events": ["newCall"], "after_sequence": 1,
                                              "timeout_seconds": 2})  # fmt: skip
    event = found.structured_content["event"]
    assert event["orig_call_id"] == call_id and event["call_id"] != call_id
    assert event["call_id"] == moved.structured_content["result"]["call"]["call_id"], "the id the call has now"


async def test_this_server_sets_the_receiver_url_without_the_secret_reaching_results_questions_or_the_audit(
    audit_path: Path,
) -> None:
    server, runtime = sandboxed(
        audit_path, telco_mcp_toolsets="sipgate:settings:sipgateio", telco_mcp_public_url="https://mcp.example.com"
    )
    secret = runtime.webhooks.path.rsplit("/", 1)[1]
    questions: list[str] = []

    async def asked(context: Any, params: Any) -> Any:
        questions.append(params.message)
        return await accept(context, params)

    args = {"incoming_url": "this_server", "outgoing_url": "this_server"}
    async with Client(server, elicitation_callback=asked) as client:
        preview = await client.call_tool("sipgate_set_webhooks", args | {"dry_run": True})
        applied = await client.call_tool("sipgate_set_webhooks", args)
    sent = [r.json for r in runtime.sandbox.requests if r.method == "PUT"]
    assert sent == [{"incomingUrl": f"https://mcp.example.com{runtime.webhooks.path}",
                     "outgoingUrl": f"https://mcp.example.com{runtime.webhooks.path}", "log": False,
                     "whitelist": []}]  # fmt: skip
    assert 'this server\'s receiver "https://mcp.example.com/webhooks/sipgate/***"' in questions[0]
    assert preview.structured_content["request"]["body"]["incomingUrl"].endswith("/webhooks/sipgate/***")
    for text in (text_of(preview), text_of(applied), *questions, audit_path.read_text()):
        assert secret not in text


async def test_this_server_without_a_public_url_is_refused_naming_the_setting(audit_path: Path) -> None:
    from conftest import FakeUpstream, response, sipgate_settings

    fake = FakeUpstream()
    fake.route("GET /v2/settings/sipgateio", response(200, {"incomingUrl": "", "outgoingUrl": ""}))
    settings = sipgate_settings(audit_path, telco_mcp_toolsets="sipgate:settings:sipgateio",
                                telco_mcp_allow_writes=True)  # fmt: skip
    server = build_server(settings, transports={"sipgate": fake.transport})
    async with Client(server, elicitation_callback=accept) as client:
        refused = await client.call_tool("sipgate_set_webhooks", {"incoming_url": "this_server", "outgoing_url": ""})
    assert refused.is_error and "TELCO_MCP_PUBLIC_URL" in text_of(refused)
    assert fake.sent("PUT") == []
