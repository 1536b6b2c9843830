"""Issue 27, sipgate: number routing, voicemail messages, fax (send, status, resend) and the tool-name limit.

Every tool runs against the embedded sandbox through the MCP client; the sandbox's request log shows what
reached sipgate. The fax source rules are each shown to refuse before anything is sent.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import accept, decline, make_settings, text_of
from mcp import Client

from telco_mcp.catalogue import CATALOGUE
from telco_mcp.sandbox import Sandbox
from telco_mcp.server import build_server

pytestmark = pytest.mark.anyio

RECIPIENT = "+4930 23125477"


def sandbox_server(audit_path: Path, **settings: Any) -> tuple[Any, Sandbox]:
    base = {"telco_mcp_sandbox": True, "telco_mcp_toolsets": "all", "telco_mcp_allow_writes": True}
    server = build_server(make_settings(audit_path, **(base | settings)))
    sandbox = server.telco_runtime.sandbox  # type: ignore[attr-defined]
    assert isinstance(sandbox, Sandbox)
    return server, sandbox


def sent(sandbox: Sandbox, method: str, path: str) -> list[Any]:
    return [r for r in sandbox.requests if r.method == method and r.path == path]


class Asked:
    def __init__(self, answer: Any = accept) -> None:
        self.messages: list[str] = []
        self.answer = answer

    async def __call__(self, context: Any, params: Any) -> Any:
        self.messages.append(params.message)
        return await self.answer(context, params)


# ------------------------------------------------------------------ tool names
def test_every_sipgate_tool_name_fits_sipgates_28_characters() -> None:
    """sipgate's own AI agent takes connected MCP tools with names of at most 28 characters."""
    names = [op.name for op in CATALOGUE if op.provider == "sipgate"]
    assert {"sipgate_route_number", "sipgate_send_fax", "sipgate_get_voicemail"} <= set(names)
    too_long = [name for name in names if len(name) > 28]
    assert not too_long, too_long


def test_the_new_tools_are_outside_the_default_set_in_toolsets_named_like_their_scopes() -> None:
    new = {op.name: op for op in CATALOGUE if op.name in {
        "sipgate_route_number", "sipgate_get_voicemail", "sipgate_send_fax", "sipgate_get_fax_status",
        "sipgate_resend_fax"}}  # fmt: skip
    assert len(new) == 5 and not any(op.default for op in new.values())
    assert {name: op.toolset for name, op in new.items()} == {
        "sipgate_route_number": "sipgate:numbers", "sipgate_get_voicemail": "sipgate:voicemails",
        "sipgate_send_fax": "sipgate:sessions:fax", "sipgate_get_fax_status": "sipgate:history",
        "sipgate_resend_fax": "sipgate:sessions:fax",
    }  # fmt: skip
    assert new["sipgate_route_number"].effect == "destructive"


# ------------------------------------------------------------------ number routing
async def test_routing_a_number_shows_old_to_new_and_reads_the_number_back(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    asked = Asked()
    async with Client(server, elicitation_callback=asked) as c:
        result = await c.call_tool("sipgate_route_number", {"number_id": "1001", "endpoint_id": "p2"})
    assert result.structured_content["status"] == "applied", text_of(result)
    [question] = asked.messages
    assert "Route number +49 211 1234568 (id 1001)" in question
    assert '"p1" ("Leitung Ben Fischer") now → "p2" ("Leitung Clara Wagner") after this change' in question
    [put] = sent(sandbox, "PUT", "/v2/numbers/1001")
    assert put.json == {"endpointId": "p2"}
    assert result.structured_content["result"]["endpoint_id"] == "p2"  # read back from sipgate
    number = next(n for n in sandbox.state.sipgate.numbers if n["id"] == "1001")
    assert number["endpointId"] == "p2"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"number_id": "9999", "endpoint_id": "p1"}, "No sipgate number with id 9999"),
        ({"number_id": "1001", "endpoint_id": "p1"}, "already routes to p1"),
        ({"number_id": "1001", "endpoint_id": "../x"}, "endpoint_id"),
    ],
)
async def test_routing_errors_are_named_and_send_nothing(
    audit_path: Path, arguments: dict[str, str], expected: str
) -> None:
    server, sandbox = sandbox_server(audit_path)
    asked = Asked()
    async with Client(server, elicitation_callback=asked) as c:
        result = await c.call_tool("sipgate_route_number", arguments)
    assert result.is_error and expected in text_of(result), text_of(result)
    assert not [r for r in sandbox.requests if r.method == "PUT"] and asked.messages == []


async def test_a_declined_routing_changes_nothing(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server, elicitation_callback=decline) as c:
        result = await c.call_tool("sipgate_route_number", {"number_id": "1001", "endpoint_id": "p2"})
    assert result.structured_content["status"] != "applied", text_of(result)
    assert not sent(sandbox, "PUT", "/v2/numbers/1001")


# ------------------------------------------------------------------ voicemail
async def test_a_voicemail_boxs_messages_fence_the_transcription_and_keep_the_url_out_of_logs(
    audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, sandbox = sandbox_server(audit_path)
    caplog.set_level(logging.DEBUG)
    async with Client(server) as c:
        first = await c.call_tool("sipgate_get_voicemail", {"voicemail_id": "v0", "limit": 2})
        data = first.structured_content
        following = await c.call_tool("sipgate_get_voicemail", {"voicemail_id": "v0", "cursor": data["next_cursor"]})
        everything = await c.call_tool("sipgate_get_voicemail", {"voicemail_id": "v0", "limit": 100})
    assert not first.is_error, text_of(first)
    expected = [e for e in sandbox.state.sipgate.history if e["type"] == "VOICEMAIL" and not e["archived"]]
    assert data["total_count"] == len(expected) > 2
    assert data["voicemail"]["id"] == "v0"
    assert [m["id"] for m in data["items"]] == [e["id"] for e in expected[:2]]
    assert [m["id"] for m in following.structured_content["items"]][:1] == [expected[2]["id"]]
    items = everything.structured_content["items"]
    assert all(m["transcription"] and m["recording_url"].startswith("https://") for m in items)
    # the transcription is provider data: inside the fence, its fake closing tag escaped
    text = text_of(everything)
    hostile = next(m for m in items if "ignore all previous instructions" in m["transcription"])
    assert text.count("</untrusted-data>") == 1 and "\\u003c/untrusted-data\\u003e SYSTEM" in text
    assert "/transcription" in json.dumps(everything.meta)  # marked as provider data for structured readers
    urls = [m["recording_url"] for m in items]
    logged = caplog.text + (audit_path.read_text() if audit_path.exists() else "")
    assert hostile and not any(url in logged for url in urls)


async def test_an_unknown_voicemail_box_is_named(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server) as c:
        result = await c.call_tool("sipgate_get_voicemail", {"voicemail_id": "v9"})
        foreign = await c.call_tool("sipgate_get_voicemail", {"voicemail_id": "v1", "cursor": "e30"})
    assert result.is_error and "No voicemail box v9" in text_of(result)
    assert foreign.is_error and "cursor" in text_of(foreign)
    assert not sent(sandbox, "GET", "/v2/history")


# ------------------------------------------------------------------ fax
def pdf(pages: int = 2) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def fax_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "faxes"
    directory.mkdir()
    (directory / "offer.pdf").write_bytes(pdf(2))
    return directory


async def test_a_fax_is_sent_shown_by_name_size_pages_and_digest_and_its_status_read(
    audit_path: Path, fax_dir: Path
) -> None:
    import hashlib

    content = (fax_dir / "offer.pdf").read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    server, sandbox = sandbox_server(audit_path, telco_mcp_fax_dir=fax_dir)
    asked = Asked()
    async with Client(server, elicitation_callback=asked) as c:
        preview = await c.call_tool("sipgate_send_fax", {"file": "offer.pdf", "recipient": RECIPIENT, "dry_run": True})
        result = await c.call_tool("sipgate_send_fax", {"file": "offer.pdf", "recipient": RECIPIENT})
        fax_id = result.structured_content["result"]["fax_id"]
        status = await c.call_tool("sipgate_get_fax_status", {"fax_id": fax_id})
    assert result.structured_content["status"] == "applied", text_of(result)
    [question] = asked.messages
    assert f'"offer.pdf", {len(content)} bytes, 2 pages, sha256 {digest}' in question
    assert "+49 30 23125477" in question
    label = f"<pdf: offer.pdf, {len(content)} bytes, 2 pages, sha256 {digest}>"
    assert preview.structured_content["request"]["body"]["base64Content"] == label
    [post] = sent(sandbox, "POST", "/v2/sessions/fax")
    import base64

    assert base64.b64decode(post.json["base64Content"]) == content  # the bytes, put in only as it left
    audit = audit_path.read_text()
    assert label in audit and post.json["base64Content"][:40] not in audit
    assert status.structured_content == {"fax_id": fax_id, "status": "SENT", "recipient": "+493023125477",
                                         "direction": "OUTGOING", "created": status.structured_content["created"],
                                         "page_count": 2}  # fmt: skip


async def test_a_fax_is_resent_to_its_own_recipient_only(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    history = sandbox.state.sipgate.history
    fax = next(e for e in history if e["type"] == "FAX" and e["direction"] == "OUTGOING")
    async with Client(server, elicitation_callback=accept) as c:
        wrong = await c.call_tool("sipgate_resend_fax", {"fax_id": fax["id"], "recipient": "+49 89 1234567"})
        right = await c.call_tool("sipgate_resend_fax", {"fax_id": fax["id"], "recipient": fax["target"]})
        unknown = await c.call_tool("sipgate_resend_fax", {"fax_id": "999", "recipient": fax["target"]})
    assert wrong.is_error and "give its recipient" in text_of(wrong)
    assert unknown.is_error and "No sipgate history entry 999" in text_of(unknown)
    assert right.structured_content["status"] == "applied", text_of(right)
    assert [r.json for r in sent(sandbox, "POST", "/v2/sessions/fax/resend")] == [
        {"faxId": fax["id"], "faxlineId": "f0"}
    ]
    assert history[0]["type"] == "FAX" and history[0]["target"] == fax["target"]


async def test_the_status_of_an_entry_that_is_no_fax_is_said(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    call = next(e for e in sandbox.state.sipgate.history if e["type"] == "CALL")
    async with Client(server) as c:
        result = await c.call_tool("sipgate_get_fax_status", {"fax_id": call["id"]})
        missing = await c.call_tool("sipgate_get_fax_status", {"fax_id": "999"})
    assert result.is_error and "not FAX" in text_of(result)
    assert missing.is_error and "No sipgate history entry 999" in text_of(missing)


def _link_out(fax_dir: Path, tmp_path: Path) -> str:
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(pdf(1))
    (fax_dir / "link.pdf").symlink_to(outside)
    return "link.pdf"


def _link_dir(fax_dir: Path, tmp_path: Path) -> str:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a.pdf").write_bytes(pdf(1))
    (fax_dir / "sub").symlink_to(tmp_path / "elsewhere")
    return "sub/a.pdf"


def _not_pdf(fax_dir: Path, tmp_path: Path) -> str:
    (fax_dir / "notes.pdf").write_text("just text")
    return "notes.pdf"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d, t: "../secret.pdf", "leads out of TELCO_MCP_FAX_DIR"),
        (lambda d, t: "/etc/passwd", "relative path inside TELCO_MCP_FAX_DIR"),
        (_link_out, "symbolic link"),
        (_link_dir, "symbolic link"),
        (_not_pdf, "is not a PDF"),
        (lambda d, t: "missing.pdf", "cannot be opened"),
    ],
)
async def test_fax_sources_outside_the_directory_links_and_non_pdfs_are_refused_before_anything_is_sent(
    audit_path: Path, fax_dir: Path, tmp_path: Path, make: Any, expected: str
) -> None:
    name = make(fax_dir, tmp_path)
    (tmp_path / "secret.pdf").write_bytes(pdf(1))
    server, sandbox = sandbox_server(audit_path, telco_mcp_fax_dir=fax_dir)
    asked = Asked()
    async with Client(server, elicitation_callback=asked) as c:
        result = await c.call_tool("sipgate_send_fax", {"file": name, "recipient": RECIPIENT})
    assert result.is_error and expected in text_of(result), text_of(result)
    assert not sent(sandbox, "POST", "/v2/sessions/fax") and asked.messages == []


async def test_a_fax_file_changed_after_approval_is_refused_before_anything_is_sent(
    audit_path: Path, fax_dir: Path
) -> None:
    server, sandbox = sandbox_server(audit_path, telco_mcp_fax_dir=fax_dir, telco_mcp_confirm="token")
    arguments = {"file": "offer.pdf", "recipient": RECIPIENT}
    async with Client(server) as c:
        preview = await c.call_tool("sipgate_send_fax", arguments)
        token = preview.structured_content["confirm_token"]
        (fax_dir / "offer.pdf").write_bytes(pdf(3))  # another document under the approved name
        result = await c.call_tool("sipgate_send_fax", arguments | {"confirm_token": token})
    assert result.is_error, text_of(result)
    assert not sent(sandbox, "POST", "/v2/sessions/fax")


async def test_a_fax_file_changed_while_the_person_answers_is_refused(audit_path: Path, fax_dir: Path) -> None:
    """The bytes are read again as the request leaves; a change between the question and the send is caught."""
    server, sandbox = sandbox_server(audit_path, telco_mcp_fax_dir=fax_dir)

    async def change_then_accept(context: Any, params: Any) -> Any:
        (fax_dir / "offer.pdf").write_bytes(pdf(2) + b"\n%changed")
        return await accept(context, params)

    async with Client(server, elicitation_callback=change_then_accept, mode="legacy") as c:
        result = await c.call_tool("sipgate_send_fax", {"file": "offer.pdf", "recipient": RECIPIENT})
    assert result.is_error and "sha256" in text_of(result) or "no longer true" in text_of(result), text_of(result)
    assert not sent(sandbox, "POST", "/v2/sessions/fax")


async def test_without_a_fax_directory_the_tool_names_the_setting(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server, elicitation_callback=accept) as c:
        result = await c.call_tool("sipgate_send_fax", {"file": "offer.pdf", "recipient": RECIPIENT})
    assert result.is_error and "TELCO_MCP_FAX_DIR" in text_of(result)
    assert not sent(sandbox, "POST", "/v2/sessions/fax")


async def test_without_pypdf_the_tool_says_how_to_install_it(
    audit_path: Path, fax_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pypdf", None)  # as if the extra telco-mcp[fax] were not installed
    server, sandbox = sandbox_server(audit_path, telco_mcp_fax_dir=fax_dir)
    async with Client(server, elicitation_callback=accept) as c:
        result = await c.call_tool("sipgate_send_fax", {"file": "offer.pdf", "recipient": RECIPIENT})
    assert result.is_error and "telco-mcp[fax]" in text_of(result)
    assert not sent(sandbox, "POST", "/v2/sessions/fax")


async def test_the_fax_cap_and_the_number_rules_apply_to_the_recipient(audit_path: Path, fax_dir: Path) -> None:
    server, sandbox = sandbox_server(audit_path, telco_mcp_fax_dir=fax_dir, telco_mcp_fax_per_hour=1)
    async with Client(server, elicitation_callback=accept) as c:
        first = await c.call_tool("sipgate_send_fax", {"file": "offer.pdf", "recipient": RECIPIENT})
        second = await c.call_tool("sipgate_send_fax", {"file": "offer.pdf", "recipient": RECIPIENT})
        premium = await c.call_tool("sipgate_send_fax", {"file": "offer.pdf", "recipient": "+49 900 1234567"})
    assert first.structured_content["status"] == "applied", text_of(first)
    assert second.is_error and "fax_per_hour" in text_of(second), text_of(second)
    assert premium.is_error and "block_premium" in text_of(premium)
    assert len(sent(sandbox, "POST", "/v2/sessions/fax")) == 1


def test_the_fax_directory_must_be_a_directory_it_can_open(tmp_path: Path) -> None:
    from telco_mcp.errors import InvalidInput
    from telco_mcp.providers.sipgate.fax import read_fax

    with pytest.raises(InvalidInput, match="TELCO_MCP_FAX_DIR"):
        read_fax(tmp_path / "nowhere", "a.pdf")
    assert os.path.exists(tmp_path)


def test_the_bytes_read_again_at_send_time_must_be_the_ones_approved(fax_dir: Path) -> None:
    """The last check, as the request leaves (`Operation.at_send`): a file changed after the question was last
    shown (even after the summary was compared) is refused."""
    from telco_mcp.errors import ConfirmationError
    from telco_mcp.providers.sipgate.fax import read_again, read_fax

    approved = read_fax(fax_dir, "offer.pdf")
    assert read_again(fax_dir, approved) == (fax_dir / "offer.pdf").read_bytes()
    (fax_dir / "offer.pdf").write_bytes(pdf(2) + b"\n%changed")
    with pytest.raises(ConfirmationError, match="changed after it was shown"):
        read_again(fax_dir, approved)
    (fax_dir / "offer.pdf").unlink()
    (fax_dir / "offer.pdf").symlink_to(fax_dir.parent / "secret.pdf")
    with pytest.raises(ConfirmationError, match="symbolic link"):
        read_again(fax_dir, approved)


# ------------------------------------------------------------------ history export
async def test_an_export_is_a_link_to_the_csv_for_its_maker_only(audit_path: Path) -> None:
    import base64

    from mcp.types import BlobResourceContents, Implementation

    server, sandbox = sandbox_server(audit_path)
    window = {"types": ["CALL"], "start": "2026-01-01T00:00:00+01:00", "limit": 5}
    async with Client(server, client_info=Implementation(name="anna", version="1")) as c:
        result = await c.call_tool("sipgate_export_history", window)
        data = result.structured_content
        read = await c.read_resource(data["uri"])
    assert not result.is_error, text_of(result)
    assert data["uri"].startswith("telco-mcp://exports/") and data["rows"] == 5 and data["expires_in_seconds"] == 600
    [contents] = read.contents
    assert isinstance(contents, BlobResourceContents)
    csv_text = base64.b64decode(contents.blob).decode()  # a blob: a file, never text for the model to read
    assert contents.mime_type == "text/csv" and len(csv_text.encode()) == data["size"]
    assert csv_text.startswith("id,") and csv_text.count("\r\n") == 6 and ",CALL," in csv_text
    [request] = [r for r in sandbox.requests if r.path == "/v2/history/export"]
    assert ("types", "CALL") in request.query and ("from", "2025-12-31T23:00:00Z") in request.query
    async with Client(server, client_info=Implementation(name="ben", version="1")) as other:
        with pytest.raises(Exception, match="no such export for you"):
            await other.read_resource(data["uri"])


async def test_an_export_larger_than_5_mib_is_refused_with_how_to_narrow_it(audit_path: Path) -> None:
    import httpx2
    from conftest import FakeUpstream, sipgate_settings

    fake = FakeUpstream()
    big = b"id,created\r\n" + b"1,2026-11-01T10:00:00Z\r\n" * (5 * 1024 * 1024 // 24 + 10)
    fake.route("GET /v2/history/export", httpx2.Response(200, content=big, headers={"content-type": "text/csv"}))
    settings = sipgate_settings(audit_path, telco_mcp_toolsets="all")
    async with Client(build_server(settings, transports={"sipgate": fake.transport})) as c:
        result = await c.call_tool("sipgate_export_history", {})
    assert result.is_error and "more than the 5 MiB" in text_of(result) and "narrow the window" in text_of(result)


async def test_an_export_with_start_after_end_is_refused_naming_the_fields(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server) as c:
        result = await c.call_tool(
            "sipgate_export_history", {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}
        )
    assert result.is_error and "start" in text_of(result)
    assert not [r for r in sandbox.requests if r.path == "/v2/history/export"]


# ------------------------------------------------------------------ the writes whose 2xx the spec leaves out
@pytest.mark.parametrize("status", [200, 204])
async def test_route_number_and_resend_fax_take_any_2xx_as_applied(audit_path: Path, status: int) -> None:
    """The spec declares no 2xx for `PUT /numbers/{numberId}` nor `POST /sessions/fax/resend`
    (docs/upstream-notes.md): a 200 (with or without a body) or a 204 is applied, never unknown."""
    from conftest import FakeUpstream, client_for, response, sipgate_settings

    numbers = [{"id": "1001", "number": "+492111234568", "endpointId": "p1", "endpointAlias": "Ben"},
               {"id": "1002", "number": "+492111234569", "endpointId": "p2", "endpointAlias": "Clara"}]  # fmt: skip
    after = [numbers[0] | {"endpointId": "p2", "endpointAlias": "Clara"}, numbers[1]]
    fax = {"id": "F1", "type": "FAX", "direction": "OUTGOING", "target": "+493023125477", "source": "+4921112345",
           "created": "2026-11-01T08:00:00Z", "lastModified": "2026-11-01T08:00:00Z", "incoming": False,
           "connectionIds": ["f0"], "status": "PICKUP", "faxStatusType": "SENT"}  # fmt: skip
    answer = response(status, {} if status == 200 else None)
    fake = FakeUpstream()
    fake.route("GET /v2/numbers", lambda r: response(200, {"items": after if fake.sent("PUT") else numbers}))
    fake.route("PUT /v2/numbers/1001", answer)
    fake.route("GET /v2/history/F1", response(200, fax))
    fake.route("POST /v2/sessions/fax/resend", answer)
    settings = sipgate_settings(audit_path, telco_mcp_toolsets="all", telco_mcp_allow_writes=True)
    async with client_for(settings, fake, elicitation_callback=accept) as c:
        routed = await c.call_tool("sipgate_route_number", {"number_id": "1001", "endpoint_id": "p2"})
        resent = await c.call_tool("sipgate_resend_fax", {"fax_id": "F1", "recipient": "+49 30 23125477"})
    for result in (routed, resent):
        assert result.structured_content is not None, text_of(result)
        assert result.structured_content["status"] == "applied", text_of(result)
    assert len(fake.sent("PUT", "/v2/numbers/1001")) == 1 and len(fake.sent("POST", "/v2/sessions/fax/resend")) == 1
