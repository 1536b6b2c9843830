"""sipgate push webhooks, hardened (issue 22): signatures, duplicates, answers, numbers, the body limit.

- Signatures: `X-Sipgate-Signature` is an RSASSA-PKCS1-v1_5 / SHA-256 signature over the raw body. A real
  push signed by sipgate (from the test suite of sipgate's own Node library) verifies with the vendored key;
  the sandbox signs its pushes with its own key, which a sandbox-mode server trusts; the settings
  `TELCO_MCP_WEBHOOK_SIGNATURE` and `TELCO_MCP_WEBHOOK_PUBLIC_KEY` each change the verdict.
- Duplicates: an event delivered twice is recorded once (Redis: tests/state/test_redis_events.py).
- Answers: every push gets `application/xml` with a `<Response>`.
- The body limit holds for a chunked body, over a real socket.

Everything goes through the boundaries: the receiver's ASGI app, the embedded sandbox's admin API, real
subprocesses (`telco-mcp sandbox`, `telco-mcp serve`) and a real uvicorn socket.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx2
import pytest
from conftest import SG_TOKEN, SG_TOKEN_ID, make_settings, text_of
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from reliability.conftest import serve_in_thread
from test_call_events import CALLER, WAIT, admin, new_call, sandboxed

from telco_mcp import sandbox as sb
from telco_mcp.errors import ConfigError
from telco_mcp.events.model import CallEvent
from telco_mcp.events.signature import SIPGATE_KEY_FILE, SignatureCheck, sipgate_public_key
from telco_mcp.events.store import SEEN_FOR, MemoryEventStore
from telco_mcp.sandbox import signing
from telco_mcp.server import build_server
from telco_mcp.settings import load_settings
from tests.processes import FAULTHANDLER, interrupt

pytestmark = pytest.mark.anyio
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# A push sipgate signed, from the test suite of sipgate's Node library: sipgate-io/sipgateio-node,
# lib/webhook/webhook.test.node.ts ("Signed webhook server", since commit 6b1aede, 2021-06-16; MIT licence,
# Copyright (c) 2019 sipgate GmbH). The body is the test's `qs.stringify(newCallWebhook)`.
SIPGATE_BODY = (
    b"callId=&direction=in&event=newCall&from=4912354678&fullUserId%5B%5D%5B0%5D=123456789&originalCallId="
    b"&to=49999999&user%5B%5D%5B0%5D=TestUser&userId%5B%5D%5B0%5D=123456789&xcid="
)
SIPGATE_SIGNATURE = (
    "hlY7r9Vad0NP/7xJxf+vcDqjWaGWHOcIrj+rcP5aqQQcHtbSLsElp2kRNRPBL5unWbq6bExVPZB49HHM+Y/fWSVL19q7KSJhYPHfikcME0r0mC"
    "YB4S/VnJwnIvpiqz6s7Dpnk3wDCy65B3WQLwBVWA9oh6ojNM/g+87YnoMTKRx1KoFqosKNfBp1c1I8XjXusGOW/VlGnMb6wHhUVdwi9K7FfUgx"
    "j2pnV+M1Xv9rYs6RAi4V1OcUPqdT5geHsxWa09sk+AEHSUm1EFnAvx7PhIkugpNwST7yPKHf0+iyei4qUQCBZtfQVOI4mLZTRfQuyVo3YuJfvH"
    "aNPYY34/1ZCZGCKeu+HS6WHs1vGUyKxSi8v4JJqog2VOlWruf8pMGg+syuAFwuxiCnWsSXgaaUfe9JrBAFjBxUmNP9DzR1bbkwxkJnthacu7jAL"
    "XjGsubjSSSl955QgenV/ZpODHgWDPg0fe6qGILtk+kXLjyfSsoR/qgzE5W5OAyZq8W64h01KAt9Q283N7/2nogy6keiIWL3qjPolWnrchSP7iJU"
    "atM2YiTcpkNKnJ70UE05cdw3swuNe7zqD51MdOX3rAioEOFgOIFMSrxMVX+V4XK7sa5o43smN8lHoa+0AogQMuIrC7k2axdRbulSSNfyqVAZIT4"
    "qS0cItiv3aPXsdDKkkA0="
)


# ------------------------------------------------------------------ helpers
@functools.cache
def stranger() -> rsa.RSAPrivateKey:
    """A key nobody trusts unless a test names its public half in TELCO_MCP_WEBHOOK_PUBLIC_KEY."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signature(key: rsa.RSAPrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def pem_file(path: Path, key: rsa.RSAPrivateKey) -> Path:
    """The public half of `key` as a PEM file, with a comment before it (as the vendored key has)."""
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path.write_bytes(b"A test key; text before the BEGIN line is a comment.\n" + pem)
    return path


def form(fields: dict[str, Any]) -> bytes:
    return urlencode(fields, doseq=True).encode()


async def post(runtime: Any, body: bytes, sig: str | None, path: str | None = None) -> httpx2.Response:
    """`body` as sipgate posts it, with `sig` as its X-Sipgate-Signature (None: no header)."""
    transport = httpx2.ASGITransport(app=runtime.webhooks.app, client=("127.0.0.1", 40000))
    headers = FORM | ({"X-Sipgate-Signature": sig} if sig is not None else {})
    async with httpx2.AsyncClient(transport=transport, base_url="http://mcp.example.test") as client:
        return await client.post(path or runtime.webhooks.path, content=body, headers=headers)


def audit_lines(audit: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []


def live(audit: Path, **overrides: Any) -> Any:
    """A server with sipgate credentials (not in sandbox mode): it trusts sipgate's own key by default."""
    server = build_server(make_settings(audit, sipgate_token_id=SG_TOKEN_ID, sipgate_token=SG_TOKEN, **overrides))
    return server.telco_runtime  # type: ignore[attr-defined]


# ================================================================== sipgate's own key
def test_the_vendored_key_is_sipgates_4096_bit_key_and_names_its_source() -> None:
    header = SIPGATE_KEY_FILE.read_text().split("-----BEGIN", 1)[0]
    for needed in ("sipgateio 2.15.1", "github.com/sipgate-io/sipgateio-node", "MIT", "2026-12-07"):
        assert needed in header, needed
    assert sipgate_public_key().key_size == 4096


def test_a_push_signed_by_sipgate_verifies_with_the_vendored_key_and_a_changed_byte_does_not() -> None:
    check = SignatureCheck(sipgate_public_key, name="sipgate's")
    assert check.refusal(SIPGATE_BODY, SIPGATE_SIGNATURE) is None
    changed = SIPGATE_BODY.replace(b"123456789", b"123456779", 1)  # the library's own "modified" body
    assert "does not sign this body" in (check.refusal(changed, SIPGATE_SIGNATURE) or "")
    assert check.refusal(SIPGATE_BODY, None) == "no X-Sipgate-Signature header"
    assert check.refusal(SIPGATE_BODY, "not base64!") == "X-Sipgate-Signature is not base64"


async def test_a_live_server_takes_sipgates_signed_push_past_the_signature_check(audit_path: Path) -> None:
    runtime = live(audit_path)
    passed = await post(runtime, SIPGATE_BODY, SIPGATE_SIGNATURE)
    tampered = await post(runtime, SIPGATE_BODY.replace(b"49999999", b"49999998"), SIPGATE_SIGNATURE)
    sandbox_signed = await post(runtime, form(new_call()), signing.sign(form(new_call())))
    # the library's test body has an empty callId: signed by sipgate, it reaches the form check (400), no further
    assert passed.status_code == 400 and "callId" in passed.text, passed.text
    assert tampered.status_code == 403 and sandbox_signed.status_code == 403, "a live server trusts sipgate's key only"
    assert await runtime.events.recent(10) == []


# ================================================================== require (the default)
async def test_unsigned_wrongly_signed_and_tampered_pushes_get_403_a_log_and_an_audit_line_without_the_body(
    audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, runtime = sandboxed(audit_path)
    assert runtime.settings.telco_mcp_webhook_signature == "require", "the default"
    body = form(new_call("REFUSED1", **{"from": "4915799912345"}))
    caplog.set_level(logging.WARNING, logger="telco_mcp.events.receiver")
    refused = [
        await post(runtime, body, None),
        await post(runtime, body, signature(stranger(), body)),
        await post(runtime, body, "bm90IGEgc2lnbmF0dXJl"),  # base64, but of no signature
        await post(runtime, body.replace(b"REFUSED1", b"REFUSED2"), signing.sign(body)),
        await post(runtime, body, "%%%"),
    ]
    assert [r.status_code for r in refused] == [403] * 5, [r.text for r in refused]
    assert await runtime.events.recent(10) == [], "nothing of a refused push is recorded"
    lines = [line for line in audit_lines(audit_path) if line["event"] == "webhook"]
    assert [(line["outcome"], line["status"], line["source"]) for line in lines] == [("refused", 403, "127.0.0.1")] * 5
    assert "no X-Sipgate-Signature header" in lines[0]["detail"] and "the sandbox's key" in lines[1]["detail"]
    written = audit_path.read_text() + caplog.text
    assert "REFUSED" not in written and "4915799912345" not in written, "neither the log nor the audit holds the body"
    assert caplog.text.count("webhook refused (403)") == 5
    accepted = await post(runtime, body, signing.sign(body))
    assert accepted.status_code == 200, "the same body, signed by the sandbox: so the refusals were for the signature"


async def test_the_check_comes_after_the_path_secret_and_before_the_form_is_read(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    wrong_path = await post(runtime, b"event=nonsense", None, path="/webhooks/sipgate/" + "x" * 43)
    not_a_form = await post(runtime, b"\xff\xfe not a form", None)
    assert wrong_path.status_code == 404, "the secret first: a stranger learns nothing about signatures"
    assert not_a_form.status_code == 403, "before parsing: an unsigned body is never read as a form"
    assert audit_lines(audit_path)[-1]["event"] == "webhook" and len(audit_lines(audit_path)) == 1


async def test_the_sandboxs_signed_pushes_are_accepted_by_the_sandbox_mode_server(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with admin(runtime) as sandbox:
        rung = await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})
        pem = (await sandbox.get("/_sandbox/sipgate/push-key")).text
    assert rung.json()["webhook_status"] == 200
    assert [e.event for e in await runtime.events.recent(5)] == ["newCall"]
    assert pem == signing.public_pem().decode() and "BEGIN PUBLIC KEY" in pem


# ================================================================== the settings
async def test_signature_off_records_unsigned_and_wrongly_signed_pushes(
    audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELCO_MCP_WEBHOOK_SIGNATURE", "off")
    monkeypatch.setenv("TELCO_MCP_AUDIT_LOG", str(audit_path))
    runtime = build_server(load_settings()).telco_runtime  # type: ignore[attr-defined]
    unsigned = await post(runtime, form(new_call("OFF1")), None)
    wrong = await post(runtime, form(new_call("OFF2")), signature(stranger(), form(new_call("OFF2"))))
    assert (unsigned.status_code, wrong.status_code) == (200, 200)
    assert [e.call_id for e in await runtime.events.recent(10)] == ["OFF2", "OFF1"]


@pytest.mark.parametrize("mode", ["sandbox", "live"])
async def test_telco_mcp_webhook_public_key_replaces_the_trusted_key_in_every_mode(
    mode: str, tmp_path: Path, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = pem_file(tmp_path / "push.pem", stranger())
    monkeypatch.setenv("TELCO_MCP_WEBHOOK_PUBLIC_KEY", str(key))
    monkeypatch.setenv("TELCO_MCP_AUDIT_LOG", str(audit_path))
    if mode == "live":
        monkeypatch.setenv("SIPGATE_TOKEN_ID", SG_TOKEN_ID)
        monkeypatch.setenv("SIPGATE_TOKEN", SG_TOKEN)
    runtime = build_server(load_settings()).telco_runtime  # type: ignore[attr-defined]
    assert (runtime.sandbox is not None) is (mode == "sandbox")
    body = form(new_call("KEY1"))
    with_it = await post(runtime, body, signature(stranger(), body))
    by_sandbox = await post(runtime, body, signing.sign(body))
    by_sipgate = await post(runtime, SIPGATE_BODY, SIPGATE_SIGNATURE)
    assert with_it.status_code == 200, with_it.text
    assert by_sandbox.status_code == 403 and by_sipgate.status_code == 403, "the setting replaces, it does not add"
    if mode == "sandbox":  # the embedded sandbox signs with its own key, which the setting no longer trusts
        async with admin(runtime) as sandbox:
            rung = await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})
        assert rung.json()["webhook_status"] == 403


@pytest.mark.parametrize(("content", "reason"), [(None, "cannot be read"), (b"no key here\n", "no PEM public key")])
def test_a_public_key_file_that_is_no_key_stops_startup_naming_the_setting(
    tmp_path: Path, audit_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "push.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as raised:
        build_server(make_settings(audit_path, telco_mcp_webhook_public_key=path))
    assert "TELCO_MCP_WEBHOOK_PUBLIC_KEY" in str(raised.value) and reason in str(raised.value)


# ================================================================== answers
async def test_every_push_is_answered_with_xml_as_sipgates_library_answers(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    pushes = [
        new_call("ANS1"),
        {"event": "answer", "callId": "ANS1", "direction": "in", "user": "Anna", "answeringNumber": "492111234567"},
        {"event": "dtmf", "callId": "ANS1", "dtmf": "12"},
        {"event": "hangup", "callId": "ANS1", "cause": "normalClearing"},
    ]
    answers = [await post(runtime, form(p), signing.sign(form(p))) for p in pushes]
    for push, answer in zip(pushes, answers, strict=True):
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml"), push
        root = ET.fromstring(answer.content)
        assert root.tag == "Response", answer.text
        follow_ups = {"onAnswer", "onHangup"} if push["event"] == "newCall" else set()
        assert set(root.attrib) == follow_ups and list(root) == [], answer.text


# ================================================================== duplicates
async def test_an_event_delivered_twice_is_recorded_once_and_answered_both_times(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    pushes = [new_call("DUP1"), {"event": "answer", "callId": "DUP1", "direction": "in"},
              {"event": "hangup", "callId": "DUP1", "cause": "normalClearing"}]  # fmt: skip
    answers = [await post(runtime, form(p), signing.sign(form(p))) for p in pushes for _ in range(2)]
    assert [a.status_code for a in answers] == [200] * 6 and answers[0].text == answers[1].text
    again_later = await post(runtime, form(new_call("DUP1")), signing.sign(form(new_call("DUP1"))))
    assert again_later.status_code == 200
    recorded = list(reversed(await runtime.events.recent(10)))
    assert [(e.event, e.sequence) for e in recorded] == [("newCall", 1), ("answer", 2), ("hangup", 3)]
    # the same event of another call is another event
    await post(runtime, form(new_call("DUP2")), signing.sign(form(new_call("DUP2"))))
    assert [e.call_id for e in await runtime.events.recent(1)] == ["DUP2"]


async def test_dtmf_pushes_are_never_taken_for_duplicates(audit_path: Path) -> None:
    """Two `<Gather>`s of one call may hear the same key: a dtmf push carries nothing that tells them apart."""
    server, runtime = sandboxed(audit_path)
    body = form({"event": "dtmf", "callId": "KEYS1", "dtmf": "1"})
    for _ in range(2):
        assert (await post(runtime, body, signing.sign(body))).status_code == 200
    assert [e.dtmf for e in await runtime.events.recent(10)] == ["1", "1"]


async def test_the_memory_store_forgets_a_delivery_after_a_day_and_keeps_a_bounded_number() -> None:
    now = [0.0]
    store = MemoryEventStore(keep=10, clock=lambda: now[0])

    def event(call_id: str) -> CallEvent:
        return CallEvent.model_validate({"event": "newCall", "call_id": call_id, "received_at": "2026-12-07T02:00:00Z"})

    assert await store.publish(event("A")) is not None and await store.publish(event("A")) is None
    now[0] = SEEN_FOR - 1
    assert await store.publish(event("A")) is None, "still within the day"
    now[0] = SEEN_FOR + 1
    assert await store.publish(event("A")) is not None, "a day later it is news again"
    for index in range(40):  # 4 x keep other calls push the first one's mark out
        await store.publish(event(f"B{index}"))
    assert await store.publish(event("A")) is not None
    assert await store.publish(event("B39")) is None, "the newest marks stay"


async def test_after_a_sandbox_reset_a_new_call_is_not_taken_for_a_duplicate(audit_path: Path) -> None:
    """sipgate never reuses a call id; the reset sandbox must not either, or its calls' events would be dropped."""
    server, runtime = sandboxed(audit_path)
    async with admin(runtime) as sandbox:
        first = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
        await sandbox.post("/_sandbox/reset")
        second = (await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()["callId"]
    assert first != second
    assert [e.call_id for e in await runtime.events.recent(5)] == [second, first]


# ================================================================== numbers and anonymous callers
async def test_an_anonymous_caller_rings_and_numbers_are_shown_in_e164(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path)
    async with Client(server) as client, admin(runtime) as sandbox:
        anonymous = await sandbox.post("/_sandbox/sipgate/ring", json={"from": "anonymous"})
        named = await sandbox.post("/_sandbox/sipgate/ring", json={"from": CALLER})
        bad = await sandbox.post("/_sandbox/sipgate/ring", json={"from": "anonymously"})
        await sandbox.post(f"/_sandbox/sipgate/calls/{anonymous.json()['callId']}/answer", json={})
        waited = await client.call_tool(WAIT, {"number": CALLER, "after_sequence": 0, "timeout_seconds": 2})
        listed = await client.call_tool("sipgate_list_calls", {})
    assert (anonymous.status_code, named.status_code, bad.status_code) == (201, 201, 422)
    events = {e.call_id: e for e in await runtime.events.recent(10) if e.event == "newCall"}
    withheld, known = events[anonymous.json()["callId"]], events[named.json()["callId"]]
    assert withheld.from_number == "anonymous" and withheld.to_number is not None and withheld.to_number[0] == "+"
    assert known.from_number == "+49301234567", "E.164 with +, as every tool shows numbers"
    assert waited.structured_content["event"]["call_id"] == named.json()["callId"], text_of(waited)
    call = next(c for c in listed.structured_content["calls"] if c["call_id"] == anonymous.json()["callId"])
    assert call["pushed"]["from_number"] == "anonymous"
    assert all(p.get("phone_number") != "anonymous" for p in call["participants"]), "sipgate lists no number"


# ================================================================== the body limit, chunked
def _unfinished_chunked_request(port: int, path: str, chunks: int) -> bytes:
    """A POST with Transfer-Encoding: chunked (no Content-Length) whose body never ends: `chunks` chunks
    of 1 KiB and no last chunk. Returns what the server answers meanwhile (b"" if nothing in 10 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        sock.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
        for _ in range(chunks):
            sock.sendall(b"400\r\n" + b"x" * 1024 + b"\r\n")
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


def test_a_chunked_body_is_cut_off_at_the_limit_over_a_real_socket(audit_path: Path) -> None:
    server, runtime = sandboxed(audit_path, telco_mcp_webhook_max_bytes=4096)
    fine = form(new_call("CHUNK1"))

    def parts(data: bytes, size: int = 1000) -> Iterator[bytes]:
        yield from (data[i : i + size] for i in range(0, len(data), size))

    with serve_in_thread(runtime.webhooks.app, name="webhooks") as served:
        url = served.url + runtime.webhooks.path
        with httpx2.Client(trust_env=False) as http:  # a generator body goes out chunked, without Content-Length
            accepted = http.post(url, content=parts(fine), headers=FORM | {"X-Sipgate-Signature": signing.sign(fine)})
            big = fine + b"&pad=" + b"x" * 5000
            too_big = http.post(url, content=parts(big), headers=FORM | {"X-Sipgate-Signature": signing.sign(big)})
        assert "content-length" not in {k.lower() for k in accepted.request.headers}
        assert accepted.request.headers["transfer-encoding"] == "chunked"
        # a body that has not ended: answered 413 once past the limit, without waiting for (or keeping) the rest
        endless = _unfinished_chunked_request(served.port, runtime.webhooks.path, chunks=16)
    assert accepted.status_code == 200, accepted.text
    assert too_big.status_code == 413 and "4096" in too_big.text
    assert endless.startswith(b"HTTP/1.1 413"), endless


# ================================================================== telco-mcp sandbox + telco-mcp serve
@pytest.fixture
def standalone_sandbox(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`telco-mcp sandbox` in its own process; its URL and the state directory it writes to."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_"))}
    proc = subprocess.Popen([sys.executable, "-m", "telco_mcp", "sandbox", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env | FAULTHANDLER | {"XDG_STATE_HOME": str(state)})  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{url}/_sandbox/summary", timeout=1, trust_env=False)
                break
            except httpx2.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        yield url, state / "telco-mcp"
    finally:
        interrupt(proc)  # Ctrl-C: no SIGTERM drain
    assert not list((state / "telco-mcp").glob("sandbox-*-push-key.pem")), "the key file is removed at exit"


@pytest.mark.parametrize("trusted", [True, False])
async def test_a_separately_started_serve_trusts_the_standalone_sandbox_through_its_key_file(
    standalone_sandbox: tuple[str, Path], tmp_path: Path, trusted: bool
) -> None:
    url, state = standalone_sandbox
    (key_file,) = state.glob("sandbox-*-push-key.pem")
    assert key_file.read_text() == httpx2.get(f"{url}/_sandbox/sipgate/push-key", trust_env=False).text
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        hook_port = s.getsockname()[1]
    secret = "standalone-sandbox-webhook-secret-0123456789"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "serve-state"),
           "SIPGATE_BASE_URL": f"{url}/v2", "SIPGATE_TOKEN_ID": sb.SIPGATE_TOKEN_ID, "SIPGATE_TOKEN": sb.SIPGATE_TOKEN,
           "TELCO_MCP_WEBHOOK_PORT": str(hook_port), "TELCO_MCP_WEBHOOK_SECRET": secret,
           "TELCO_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl")}  # fmt: skip
    if trusted:
        env["TELCO_MCP_WEBHOOK_PUBLIC_KEY"] = str(key_file)
    params = StdioServerParameters(command=sys.executable, args=["-m", "telco_mcp", "serve"], env=env, cwd=tmp_path)
    auth = (sb.SIPGATE_TOKEN_ID, sb.SIPGATE_TOKEN)
    hook = f"http://127.0.0.1:{hook_port}/webhooks/sipgate/{secret}"
    async with Client(params) as client, httpx2.AsyncClient(base_url=url, trust_env=False) as http:
        settings = {"incomingUrl": hook, "outgoingUrl": hook}
        assert (await http.put("/v2/settings/sipgateio", json=settings, auth=auth)).status_code == 204
        with anyio.fail_after(10):  # the receiver starts with the server
            while (rung := await http.post("/_sandbox/sipgate/ring", json={"from": CALLER})).json()[
                "webhook_status"
            ] is None:
                await anyio.sleep(0.1)
        waited = await client.call_tool(WAIT, {"after_sequence": 0, "timeout_seconds": 2})
    if trusted:
        assert rung.json()["webhook_status"] == 200
        assert waited.structured_content["event"]["call_id"] == rung.json()["callId"], text_of(waited)
    else:  # a live server trusts sipgate's key only
        assert rung.json()["webhook_status"] == 403
        assert waited.structured_content["status"] == "timeout"
