"""Fault injection, the request log, reset and the admin surface; plus one run over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn

from telco_mcp.sandbox import Fault, Sandbox, SandboxConnectionDropped, create_app

from .conftest import BASE_URL, PAT_AUTH, SW_AUTH, bearer

HOLD_BODY = {"value": True}
SMS_BODY = {"smsId": "s0", "recipient": "+4915228817399", "message": "Hallo"}
RECORDINGS = "/api/relay/rest/recordings"


def first_call_id(sb: Sandbox) -> str:
    return next(iter(sb.state.sipgate.calls))


def first_gateway_id(sb: Sandbox) -> str:
    return next(iter(sb.state.signalwire.sip_gateways))


# --------------------------------------------------------------------------------------------- status


@pytest.mark.anyio
async def test_status_fault_answers_instead_of_the_handler(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    sb.add_fault(Fault(kind="status", status=503, retry_after=7, body={"error": "Service Unavailable"}))
    call_id = first_call_id(sb)
    response = await client.put(f"/v2/calls/{call_id}/hold", json=HOLD_BODY, auth=PAT_AUTH)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"error": "Service Unavailable"}
    assert sb.state.sipgate.calls[call_id].hold is False  # not handled
    record = sb.requests[-1]
    assert (record.status, record.fault, record.handled_status) == (503, "status", None)

    after = await client.put(f"/v2/calls/{call_id}/hold", json=HOLD_BODY, auth=PAT_AUTH)
    assert after.status_code == 204  # count=1 is used up
    assert sb.state.sipgate.calls[call_id].hold is True


@pytest.mark.anyio
async def test_429_until_cleared_only_for_matching_method_and_path(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    sb.add_fault(
        Fault(kind="status", status=429, retry_after=1, count=None, method="post", path_prefix="/v2/sessions/sms")
    )
    for _ in range(3):
        limited = await client.post("/v2/sessions/sms", json=SMS_BODY, auth=PAT_AUTH)
        assert (limited.status_code, limited.headers["retry-after"], limited.content) == (429, "1", b"")
    assert sb.outbox == []
    assert (await client.get("/v2/calls", auth=PAT_AUTH)).status_code == 200
    assert (await client.get("/v2/sessions/sms", auth=PAT_AUTH)).status_code != 429  # other method

    sb.clear_faults()
    assert (await client.post("/v2/sessions/sms", json=SMS_BODY, auth=PAT_AUTH)).status_code == 204
    assert len(sb.outbox) == 1


@pytest.mark.anyio
async def test_unauthenticated_requests_do_not_consume_faults(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    sb.add_fault(Fault(kind="status", status=500, path_prefix="/api/"))
    assert (await client.get(RECORDINGS)).status_code == 401
    assert (await client.get(RECORDINGS, auth=SW_AUTH)).status_code == 500
    assert (await client.get(RECORDINGS, auth=SW_AUTH)).status_code == 200


# --------------------------------------------------------------------------------------------- latency


@pytest.mark.anyio
async def test_latency_fault_delays_then_handles(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    sb.add_fault(Fault(kind="latency", latency_ms=150, path_prefix="/v2/calls"))
    started = anyio.current_time()
    response = await client.get("/v2/calls", auth=PAT_AUTH)
    assert anyio.current_time() - started >= 0.15
    assert response.status_code == 200 and len(response.json()["data"]) == 4
    started = anyio.current_time()
    await client.get("/v2/calls", auth=PAT_AUTH)
    assert anyio.current_time() - started < 0.15


@pytest.mark.anyio
async def test_global_latency_applies_to_every_provider_request(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    set_latency = await client.put("/_sandbox/latency", json={"ms": 120})
    assert set_latency.json() == {"ms": 120}
    assert sb.latency_ms == 120
    for method, path, auth in (("GET", RECORDINGS, SW_AUTH), ("GET", "/v2/account", PAT_AUTH)):
        started = anyio.current_time()
        assert (await client.request(method, path, auth=auth)).status_code == 200
        assert anyio.current_time() - started >= 0.12
    started = anyio.current_time()
    await client.get("/_sandbox/summary")  # admin requests are not slowed down
    assert anyio.current_time() - started < 0.12


# --------------------------------------------------------------------------------------------- broken responses


@pytest.mark.anyio
async def test_drop_executes_the_request_then_breaks_the_response(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    sb.add_fault(Fault(kind="drop", path_prefix="/v2/calls/"))
    call_id = first_call_id(sb)
    with pytest.raises(SandboxConnectionDropped):
        await client.put(f"/v2/calls/{call_id}/hold", json=HOLD_BODY, auth=PAT_AUTH)
    assert sb.state.sipgate.calls[call_id].hold is True  # the upstream did act
    record = sb.requests[-1]
    assert (record.status, record.dropped, record.fault, record.handled_status) == (200, True, "drop", 204)


@pytest.mark.anyio
async def test_malformed_json_after_handling(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    sb.add_fault(Fault(kind="malformed_json", method="POST", path_prefix="/v2/sessions/sms"))
    response = await client.post("/v2/sessions/sms", json=SMS_BODY, auth=PAT_AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()
    assert len(sb.outbox) == 1
    assert (sb.requests[-1].fault, sb.requests[-1].handled_status) == ("malformed_json", 204)


@pytest.mark.anyio
async def test_unexpected_shape_after_handling(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    recording_id = next(iter(sb.state.signalwire.recordings))
    sb.add_fault(Fault(kind="unexpected_shape", method="DELETE"))
    response = await client.delete(f"{RECORDINGS}/{recording_id}", auth=SW_AUTH)
    assert (response.status_code, response.json()) == (200, {"unexpected": True})
    assert recording_id not in sb.state.signalwire.recordings


@pytest.mark.anyio
async def test_fault_count_and_first_match_wins(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    sb.add_fault(Fault(kind="status", status=502, count=2, path_prefix="/v2/account"))
    sb.add_fault(Fault(kind="status", status=504, count=1, path_prefix="/v2/account"))
    statuses = [(await client.get("/v2/account", auth=PAT_AUTH)).status_code for _ in range(4)]
    assert statuses == [502, 502, 504, 200]


# --------------------------------------------------------------------------------------------- request log


@pytest.mark.anyio
async def test_requests_are_recorded_without_the_authorization_value(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    await client.get(f"{RECORDINGS}?page_size=2&label=a%20b", auth=SW_AUTH)
    await client.patch(f"/api/fabric/resources/sip_gateways/{first_gateway_id(sb)}", json={"name": "GW"}, auth=SW_AUTH)
    await client.get("/v2/calls", headers=bearer())
    await client.get("/v2/calls")
    await client.get("/_sandbox/requests")

    assert [(r.method, r.path, r.status, r.auth_scheme) for r in sb.requests] == [
        ("GET", RECORDINGS, 200, "Basic"),
        ("PATCH", f"/api/fabric/resources/sip_gateways/{first_gateway_id(sb)}", 200, "Basic"),
        ("GET", "/v2/calls", 200, "Bearer"),
        ("GET", "/v2/calls", 401, None),
    ]
    assert sb.requests[0].query == [("page_size", "2"), ("label", "a b")]
    assert sb.requests[1].json == {"name": "GW"}
    assert sb.requests[1].provider == "signalwire" and sb.requests[2].provider == "sipgate"
    for record in sb.requests:
        assert "authorization" not in record.headers
        assert record.headers["host"] == "sandbox.test"


@pytest.mark.anyio
async def test_oauth_form_is_never_recorded(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": "secret-refresh", "client_secret": "secret"}
    await client.post("/login/third-party/protocol/openid-connect/token", data=form)
    record = sb.requests[-1]
    assert (record.provider, record.status, record.json) == ("sipgate-oauth", 400, None)
    assert "secret" not in repr(record)


# --------------------------------------------------------------------------------------------- reset and admin


@pytest.mark.anyio
async def test_reset_restores_the_seed_and_clears_everything(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    pristine = sb.summary()
    call_id = first_call_id(sb)
    recording_id = next(iter(sb.state.signalwire.recordings))
    await client.delete(f"/v2/calls/{call_id}", auth=PAT_AUTH)
    await client.delete(f"{RECORDINGS}/{recording_id}", auth=SW_AUTH)
    await client.post("/v2/sessions/sms", json=SMS_BODY, auth=PAT_AUTH)
    await client.post("/_sandbox/sipgate/expire-access-token")
    sb.add_fault(Fault(kind="status", count=None))
    sb.latency_ms = 50
    assert sb.summary() != pristine

    response = await client.post("/_sandbox/reset")
    assert response.json() == {"reset": True, "seed": 0}
    assert sb.summary() == pristine
    assert sb.requests == [] and sb.outbox == [] and sb.faults.active() == [] and sb.latency_ms == 0
    assert (await client.get("/v2/calls", headers=bearer())).status_code == 200
    assert (await client.get(f"{RECORDINGS}/{recording_id}", auth=SW_AUTH)).status_code == 200


@pytest.mark.anyio
async def test_admin_faults_roundtrip(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    created = await client.post(
        "/_sandbox/faults", json={"kind": "status", "status": 429, "retry_after": 2, "count": 2}
    )
    assert created.status_code == 201
    assert created.json()["kind"] == "status" and created.json()["count"] == 2
    listed = await client.get("/_sandbox/faults")
    assert [f["status"] for f in listed.json()] == [429]
    assert (await client.get("/v2/account", auth=PAT_AUTH)).status_code == 429
    assert (await client.get("/_sandbox/faults")).json()[0]["count"] == 1

    cleared = await client.delete("/_sandbox/faults")
    assert cleared.status_code == 204
    assert (await client.get("/v2/account", auth=PAT_AUTH)).status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [{"kind": "explode"}, {"kind": "status", "status": 42}, {"kind": "status", "colour": "red"}, {"count": 1}, None],
)
async def test_admin_rejects_invalid_faults(client: httpx2.AsyncClient, sb: Sandbox, body: Any) -> None:
    response = await client.post("/_sandbox/faults", json=body)
    assert response.status_code == 422
    assert sb.faults.active() == []


@pytest.mark.anyio
async def test_admin_request_log_outbox_events_and_latency(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    await client.post("/v2/sessions/sms", json=SMS_BODY, auth=PAT_AUTH)
    call_id = first_call_id(sb)
    await client.post(f"/v2/calls/{call_id}/dtmf", json={"sequence": "42"}, auth=PAT_AUTH)

    logged = (await client.get("/_sandbox/requests")).json()
    assert [(r["method"], r["path"], r["status"]) for r in logged] == [
        ("POST", "/v2/sessions/sms", 204),
        ("POST", f"/v2/calls/{call_id}/dtmf", 204),
    ]
    assert logged[0]["json"] == SMS_BODY and logged[0]["auth_scheme"] == "Basic"
    assert (await client.delete("/_sandbox/requests")).status_code == 204
    assert (await client.get("/_sandbox/requests")).json() == []

    outbox = (await client.get("/_sandbox/outbox")).json()
    assert [m["message"] for m in outbox] == ["Hallo"]
    events = (await client.get(f"/_sandbox/calls/{call_id}/events")).json()
    assert [(e["type"], e["sequence"]) for e in events["events"]] == [("dtmf", "42")]
    assert (await client.get("/_sandbox/calls/0000000000000000/events")).status_code == 404

    for bad in ({"ms": -1}, {"ms": "fast"}, {"ms": True}, {}):
        assert (await client.put("/_sandbox/latency", json=bad)).status_code == 422
    assert sb.latency_ms == 0


@pytest.mark.anyio
async def test_summary_and_create_app() -> None:
    app = create_app()
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE_URL) as client:
        summary = (await client.get("/_sandbox/summary")).json()
    assert (summary["sip_endpoints"], summary["sip_gateways"], summary["recordings"]) == (8, 5, 1280)
    assert len(summary["gateways_with_g729"]) == 2


# --------------------------------------------------------------------------------------------- real HTTP


@pytest.fixture
def served() -> Iterator[tuple[str, Sandbox]]:
    """The sandbox behind uvicorn on 127.0.0.1 and a free port, stopped within a bounded time."""
    sandbox = Sandbox(seed=0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", sandbox
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive()


def test_drop_over_real_http_is_a_transport_error_but_the_change_happened(served: tuple[str, Sandbox]) -> None:
    base_url, sandbox = served
    call_id = first_call_id(sandbox)
    with httpx2.Client(base_url=base_url, auth=PAT_AUTH, timeout=5) as client:
        assert client.get("/v2/calls").status_code == 200
        sandbox.add_fault(Fault(kind="drop", method="PUT"))
        with pytest.raises(httpx2.RemoteProtocolError):
            client.put(f"/v2/calls/{call_id}/hold", json=HOLD_BODY)
        assert sandbox.state.sipgate.calls[call_id].hold is True
        assert sandbox.requests[-1].dropped is True
        held = client.get("/v2/calls").json()["data"][0]
        assert (held["callId"], held["hold"]) == (call_id, True)
