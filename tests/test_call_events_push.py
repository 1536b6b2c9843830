"""The sandbox's push webhooks follow sipgate.io beyond newCall/answer/hangup: a `<Gather>` in the
receiver's answer hears the caller's keys and posts them as `dtmf` events; a blind transfer gives the
old callId its `hangup` and the new one its `newCall` and `answer`, all naming the first callId as
`origCallId`; a `<Reject>` answer ends the call with sipgate's cause.

Sources: sipgate.io's push API reference (Gather: onData, maxDigits 1, timeout 2000 ms; the onData
post: event=dtmf, callId, dtmf, empty when nothing was pressed; the hangup causes), its FAQ (what a
transfer sends) and sipgateio-node (origCallId on every event; a dtmf post may be answered with XML).

Everything goes through the boundaries: the sandbox's admin API presses the keys, the server's real
receiver app takes the webhooks, the SDK's in-memory client reads them. Our receiver never answers
with a `<Gather>`, so where one is needed a user's IVR sits in front of it (`ivr`): it passes every
webhook to the receiver and adds its own action to the answer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx2
import pytest
from conftest import accept, text_of
from mcp import Client
from starlette.requests import Request
from test_call_events import CALLER, WAIT, admin, resource_events, sandboxed, until

pytestmark = pytest.mark.anyio
TARGET = "+49 40 669690"


# ------------------------------------------------------------------ helpers
def ivr(runtime: Any, on_new_call: str | None, on_dtmf: str | None = None) -> list[dict[str, list[str]]]:
    """A user's IVR in front of the server's receiver: every webhook goes on to the receiver; the answer
    to newCall (and to dtmf, if `on_dtmf`) gets the action added, `{url}` standing for the receiver.
    Returns the form fields of every webhook, as the sandbox posted them."""
    heard: list[dict[str, list[str]]] = []
    url = f"http://127.0.0.1{runtime.webhooks.path}"
    forward = httpx2.ASGITransport(app=runtime.webhooks.app, client=("127.0.0.1", 40000))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()
        async with httpx2.AsyncClient(transport=forward, base_url="http://127.0.0.1") as client:
            form = {"content-type": "application/x-www-form-urlencoded",
                    "x-sipgate-signature": request.headers.get("x-sipgate-signature", "")}  # fmt: skip
            passed = await client.post(scope["path"], content=body, headers=form)
        heard.append(parse_qs(body.decode(), keep_blank_values=True))
        event = heard[-1]["event"][0]
        action = on_new_call if event == "newCall" else on_dtmf if event == "dtmf" else None
        answer = passed.content
        if action is not None:
            root = ET.fromstring(passed.content) if passed.content.strip() else ET.Element("Response")
            root.append(ET.fromstring(action.replace("{url}", url)))
            answer = ET.tostring(root)
        await send({"type": "http.response.start", "status": passed.status_code,
                    "headers": [(b"content-type", b"application/xml")]})  # fmt: skip
        await send({"type": "http.response.body", "body": answer})

    runtime.sandbox.configure_push(url, transport=httpx2.ASGITransport(app=app))
    return heard


def posted(runtime: Any, event: str) -> list[dict[str, Any]]:
    return [d for d in runtime.sandbox.push.deliveries if d["event"] == event]


@asynccontextmanager
async def waiting(client: Client, runtime: Any, args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """`sipgate_wait_for_call_event` waiting while the body acts; `found["event"]` is what it returned."""
    found: dict[str, Any] = {}

    async def wait() -> None:
        found["result"] = await client.call_tool(WAIT, args | {"timeout_seconds": 5})

    before = runtime.events.subscribers
    async with anyio.create_task_group() as group:
        group.start_soon(wait)
        await until(lambda: runtime.events.subscribers > before)
        yield found
    result = found["result"]
    assert not result.is_error and result.structured_content["status"] == "event", text_of(result)
    found["event"] = result.structured_content["event"]


# ================================================================== dtmf through a Gather
async def test_a_gather_posts_the_callers_keys_as_a_dtmf_event_the_waiting_tool_and_the_resource_see(
    audit_path: Path,
) -> None:
    server, runtime = sandboxed(audit_path)
    ivr(runtime, '<Gather onData="{url}" maxDigits="3" timeout="5000" />')
    async with Client(server) as client, admin(runtime) as sandbox:
        call_id = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        async with waiting(client, runtime, {"call_id": call_id, "events": ["dtmf"]}) as found:
            pressed = await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/dtmf", json={"digits": "123#9"})
        assert pressed.status_code == 200
        assert pressed.json() == {"callId": call_id, "dtmf_events": [{"dtmf": "123", "webhook_status": 200}],
                                  "unheard": "#9", "gather": None}  # fmt: skip
        event = found["event"]
        assert (event["event"], event["call_id"], event["orig_call_id"], event["dtmf"]) == (
            "dtmf", call_id, call_id, "123")  # fmt: skip

        # the Gather is over (the receiver's answer to the dtmf post started none): keys go nowhere now
        again = await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/dtmf", json={"digits": "4"})
        assert again.json()["dtmf_events"] == [] and again.json()["unheard"] == "4"
        kept = await resource_events(client)
    assert [(e["event"], e.get("dtmf")) for e in kept] == [("dtmf", "123"), ("newCall", None)]
    assert len(posted(runtime, "dtmf")) == 1
    log = (await admin_events(runtime, call_id))["events"]
    assert [(e["type"], e.get("keys")) for e in log if e["type"] == "keys"] == [("keys", "123#9"), ("keys", "4")]


async def admin_events(runtime: Any, call_id: str) -> dict[str, Any]:
    async with admin(runtime) as sandbox:
        return (await sandbox.get(f"/_sandbox/calls/{call_id}/events")).json()


async def test_a_dtmf_answer_can_gather_again_and_a_timeout_posts_an_empty_dtmf(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    gather = '<Gather onData="{url}" maxDigits="3" />'
    ivr(runtime, gather, on_dtmf=gather)  # a menu that asks again after every answer
    async with Client(server) as client, admin(runtime) as sandbox:
        call_id = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        pressed = (await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/dtmf", json={"digits": "12345"})).json()
        assert [e["dtmf"] for e in pressed["dtmf_events"]] == ["123", "45"], "the second Gather takes what is left"
        assert pressed["gather"] == {"maxDigits": 3, "timeout": 2000}, "a third Gather waits (sipgate's timeout)"
        assert pressed["unheard"] == ""
        async with waiting(client, runtime, {"call_id": call_id, "events": ["dtmf"], "after_sequence": 3}) as found:
            silent = await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/dtmf", json={"digits": ""})
        assert silent.json()["dtmf_events"] == [{"dtmf": "", "webhook_status": 200}]
    assert found["event"]["dtmf"] == "", "sipgate: if no input is received, dtmf is empty"
    assert [d["status"] for d in posted(runtime, "dtmf")] == [200, 200, 200]


async def test_without_a_gather_key_presses_and_sipgate_send_dtmf_post_no_dtmf_event(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)  # the server's own receiver answers newCall without a Gather
    async with Client(server, elicitation_callback=accept) as client, admin(runtime) as sandbox:
        call_id = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        pressed = await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/dtmf", json={"digits": "123"})
        assert pressed.json() == {"callId": call_id, "dtmf_events": [], "unheard": "123", "gather": None}
        await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/answer", json={})
        sent = await client.call_tool("sipgate_send_dtmf", {"call_id": call_id, "sequence": "42"})
        assert not sent.is_error, text_of(sent)
        quiet = await client.call_tool(WAIT, {"call_id": call_id, "events": ["dtmf"], "timeout_seconds": 1})
        kept = await resource_events(client)
    assert quiet.structured_content["status"] == "timeout"
    assert "dtmf" not in [e["event"] for e in kept]
    assert posted(runtime, "dtmf") == []


async def test_tones_sent_with_sipgate_send_dtmf_do_not_reach_an_active_gather(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    ivr(runtime, '<Gather onData="{url}" maxDigits="2" />')
    async with Client(server, elicitation_callback=accept) as client, admin(runtime) as sandbox:
        started = await client.call_tool("sipgate_start_call", {"caller": "e0", "callee": "+49 30 23125499"})
        assert not started.is_error, text_of(started)
        call_id = next(e["call_id"] for e in await resource_events(client) if e["event"] == "newCall")
        sent = await client.call_tool("sipgate_send_dtmf", {"call_id": call_id, "sequence": "42"})
        assert not sent.is_error, text_of(sent)
        assert posted(runtime, "dtmf") == [], "the tones go to the other party, not to the Gather"
        pressed = (await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/dtmf", json={"digits": "7"})).json()
    assert pressed["dtmf_events"] == [{"dtmf": "7", "webhook_status": 200}], "the Gather still waits for the caller"


@pytest.mark.parametrize(
    "gather",
    [
        '<Gather maxDigits="3" />',  # onData is mandatory
        '<Gather onData="/relative" />',  # and absolute
        '<Gather onData="{url}" maxDigits="0" />',
        '<Gather onData="{url}" timeout="soon" />',
        '<Gather onData="{url}" type="speech" />',
    ],
    ids=["no-onData", "relative-onData", "maxDigits-0", "bad-timeout", "not-dtmf"],
)
async def test_a_gather_sipgate_would_not_accept_gathers_nothing(gather: str, audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    ivr(runtime, gather)
    async with admin(runtime) as sandbox:
        call_id = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        pressed = (await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/dtmf", json={"digits": "1"})).json()
    assert pressed["dtmf_events"] == [] and pressed["gather"] is None
    assert posted(runtime, "dtmf") == []


async def test_the_dtmf_post_carries_sipgates_form_fields(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    heard = ivr(runtime, '<Gather onData="{url}" maxDigits="2" />')
    async with admin(runtime) as sandbox:
        call_id = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/dtmf", json={"digits": "*0"})
    assert heard[1] == {"event": ["dtmf"], "callId": [call_id], "origCallId": [call_id], "dtmf": ["*0"]}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_sandbox/sipgate/calls/{id}/dtmf", {"digits": "12x"}, 422),
        ("/_sandbox/sipgate/calls/{id}/dtmf", {"digits": "1" * 65}, 422),
        ("/_sandbox/sipgate/calls/{id}/dtmf", {}, 422),
        ("/_sandbox/sipgate/calls/NOSUCHCALL/dtmf", {"digits": "1"}, 404),
    ],
    ids=["not-a-key", "too-many", "missing", "unknown-call"],
)
async def test_the_key_press_endpoint_refuses_what_is_no_key_press(
    path: str, body: dict[str, Any], status: int, audit_path: Path
) -> None:
    server, runtime = sandboxed(audit_path)
    ivr(runtime, '<Gather onData="{url}" />')
    async with admin(runtime) as sandbox:
        call_id = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        refused = await sandbox.post(path.replace("{id}", call_id), json=body)
        pressed = (await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/dtmf", json={"digits": "5"})).json()
    assert refused.status_code == status
    assert pressed["dtmf_events"] == [{"dtmf": "5", "webhook_status": 200}], "the refused press used no Gather"


# ================================================================== blind transfer
async def test_a_blind_transfer_hangs_up_the_old_call_id_after_the_new_one_is_answered(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    owner_number = runtime.sandbox.state.sipgate.main_number
    async with Client(server, elicitation_callback=accept) as client, admin(runtime) as sandbox:
        old_id = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        await sandbox.post(f"/_sandbox/sipgate/calls/{old_id}/answer", json={})
        async with waiting(client, runtime, {"call_id": old_id, "events": ["hangup"], "after_sequence": 2}) as found:
            moved = await client.call_tool("sipgate_transfer_call", {"call_id": old_id, "phone_number": TARGET})
            assert not moved.is_error, text_of(moved)
        new_id = moved.structured_content["result"]["call"]["call_id"]
        listed = await client.call_tool("sipgate_list_calls", {})
        kept = list(reversed(await resource_events(client)))
    hangup = found["event"]
    assert (hangup["call_id"], hangup["cause"], hangup["orig_call_id"]) == (old_id, "normalClearing", old_id)
    assert [(e["event"], e["call_id"]) for e in kept] == [
        ("newCall", old_id), ("answer", old_id),
        ("newCall", new_id), ("answer", new_id), ("hangup", old_id)]  # fmt: skip
    assert {e["orig_call_id"] for e in kept} == {old_id}, "origCallId matches events across the transfer"
    new_call, answer = kept[2], kept[3]
    e164 = "+" + "".join(ch for ch in owner_number if ch.isdigit())
    assert (new_call["from_number"], new_call["to_number"], new_call["diversion"]) == (
        "+49301234567",
        "+4940669690",
        e164,
    )
    assert (answer["answering_number"], answer.get("answering_user")) == ("+4940669690", None), "the target answered"
    assert [c["call_id"] for c in listed.structured_content["calls"]].count(new_id) == 1
    assert old_id not in [c["call_id"] for c in listed.structured_content["calls"]]


async def test_a_second_transfer_keeps_the_first_call_id_as_orig_call_id(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with Client(server, elicitation_callback=accept) as client, admin(runtime) as sandbox:
        first = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        await sandbox.post(f"/_sandbox/sipgate/calls/{first}/answer", json={})
        once = await client.call_tool("sipgate_transfer_call", {"call_id": first, "phone_number": TARGET})
        second = once.structured_content["result"]["call"]["call_id"]
        twice = await client.call_tool("sipgate_transfer_call", {"call_id": second, "phone_number": "+49 89 1234567"})
        third = twice.structured_content["result"]["call"]["call_id"]
        hung = await client.call_tool("sipgate_hangup_call", {"call_id": third})
        assert not hung.is_error, text_of(hung)
        kept = list(reversed(await resource_events(client)))
    assert [(e["call_id"], e["cause"]) for e in kept if e["event"] == "hangup"] == [
        (first, "normalClearing"), (second, "normalClearing"), (third, "normalClearing")]  # fmt: skip
    assert {e["orig_call_id"] for e in kept} == {first}


# ================================================================== the receiver's answer ends the call
@pytest.mark.parametrize(
    ("action", "cause"),
    [('<Reject reason="busy" />', "busy"), ("<Reject />", "noAnswer"), ("<Hangup />", "normalClearing")],
    ids=["reject-busy", "reject", "hangup"],
)
async def test_a_reject_or_hangup_answer_ends_the_ringing_call_with_its_cause(
    action: str, cause: str, audit_path: Path
) -> None:
    server, runtime = sandboxed(audit_path)
    ivr(runtime, action)
    async with Client(server) as client, admin(runtime) as sandbox:
        call_id = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        unanswerable = await sandbox.post(f"/_sandbox/sipgate/calls/{call_id}/answer", json={})
        kept = await resource_events(client)
    assert unanswerable.status_code == 404, "the call no longer rings"
    assert [(e["event"], e.get("cause")) for e in kept] == [("hangup", cause), ("newCall", None)]


async def test_a_rejected_click_to_dial_call_is_not_answered_nor_listed(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    ivr(runtime, '<Reject reason="busy" />')
    async with Client(server, elicitation_callback=accept) as client:
        started = await client.call_tool("sipgate_start_call", {"caller": "e0", "callee": "+49 30 23125499"})
        assert not started.is_error, text_of(started)
        kept = await resource_events(client)
        listed = await client.call_tool("sipgate_list_calls", {})
    assert [(e["event"], e.get("cause")) for e in kept] == [("hangup", "busy"), ("newCall", None)]
    call_id = kept[0]["call_id"]
    assert call_id not in [c["call_id"] for c in listed.structured_content["calls"]]
