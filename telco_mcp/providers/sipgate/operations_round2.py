"""sipgate operations of issue 27: number routing, voicemail messages, fax (send, status, resend).

All outside the default exposure, each in the toolset its scope names. Writes show what they change in
words: routing a number shows the old target and the new one; a fax shows the file's name, size, page count
and sha256 (never its bytes: those go in only as the request leaves, see `Operation.at_send`).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import replace
from typing import Any

import httpx2
from pydantic import BaseModel

from telco_mcp.errors import ConfirmationError, InvalidInput, NotFound
from telco_mcp.exports import EXPORT_TEMPLATE, EXPORT_TTL, MAX_EXPORT_BYTES
from telco_mcp.models import MAX_LIMIT
from telco_mcp.operation import Operation, WriteSubject
from telco_mcp.phone import pretty, same_number
from telco_mcp.providers import payload as p
from telco_mcp.providers.sipgate import fax
from telco_mcp.providers.sipgate import models as m
from telco_mcp.providers.sipgate import models_round2 as r
from telco_mcp.untrusted import quote
from telco_mcp.upstream import CallContext
from telco_mcp.wire import PreparedRequest, decode_cursor, encode_cursor, fill_path, response_json

NUMBERS = "/numbers"
NUMBER = "/numbers/{number_id}"
HISTORY = "/history"
HISTORY_ENTRY = "/history/{entry_id}"
NUMBERS_PAGE = 1000  # numbers read per lookup page


# ------------------------------------------------------------------ number routing
async def _all_numbers(ctx: CallContext, operation: str) -> list[m.Number]:
    numbers: list[m.Number] = []
    offset = 0
    while True:
        query = (("offset", str(offset)), ("limit", str(NUMBERS_PAGE)))
        page = m.number_list_from_api(await ctx.client.read(operation, NUMBERS, query))
        numbers += page
        if len(page) < NUMBERS_PAGE:
            return numbers
        offset += len(page)


async def _number(args: r.RouteNumberInput, ctx: CallContext) -> tuple[m.Number, list[m.Number]]:
    """The number to route, as sipgate lists it now, and every number (read once per call)."""

    async def lookup() -> tuple[m.Number, list[m.Number]]:
        numbers = await _all_numbers(ctx, "sipgate_route_number")
        found = next((n for n in numbers if n.id == args.number_id), None)
        if found is None:
            raise NotFound(f"No sipgate number with id {args.number_id} (see sipgate_list_numbers). Nothing was sent.",
                           provider="sipgate", operation="sipgate_route_number")  # fmt: skip
        return found, numbers

    return await ctx.once("number", lookup)


def _target_words(endpoint_id: str | None, alias: str | None) -> str:
    if not endpoint_id:
        return "nowhere"
    return quote(endpoint_id) + (f" ({quote(alias)})" if alias else "")


async def _summarize_route(args: r.RouteNumberInput, ctx: CallContext) -> str:
    number, numbers = await _number(args, ctx)
    if number.endpoint_id == args.endpoint_id:
        raise InvalidInput(f"number {args.number_id} already routes to {args.endpoint_id}: nothing to change")
    # the new target's name, when another number already routes there (sipgate names the endpoint)
    alias = next((n.endpoint_alias for n in numbers if n.endpoint_id == args.endpoint_id and n.endpoint_alias), None)
    return (f"Route number {pretty(number.number)} (id {args.number_id}): calls to it go to "
            f"{_target_words(number.endpoint_id, number.endpoint_alias)} now → "
            f"{_target_words(args.endpoint_id, alias)} after this change")  # fmt: skip


async def _prepare_route(args: r.RouteNumberInput, ctx: CallContext) -> PreparedRequest:
    await _number(args, ctx)
    return PreparedRequest("PUT", fill_path(NUMBER, args), json=args.body(), fields={"number_id": args.number_id})


async def _routed(response: httpx2.Response, args: r.RouteNumberInput, ctx: CallContext) -> BaseModel:
    numbers = await _all_numbers(ctx, "sipgate_route_number")
    found = next((n for n in numbers if n.id == args.number_id), None)
    if found is None:
        raise ValueError(f"number {args.number_id} is no longer listed after the change")
    return found


# ------------------------------------------------------------------ voicemail
async def _box(args: r.GetVoicemailInput, ctx: CallContext) -> m.Voicemail:
    boxes = m.voicemail_list_from_api(await ctx.client.read("sipgate_get_voicemail", "/voicemails")).items
    for box in boxes:
        if box.id == args.voicemail_id:
            return box
    raise NotFound(f"No voicemail box {args.voicemail_id} (see sipgate_list_voicemails).", provider="sipgate",
                   operation="sipgate_get_voicemail")  # fmt: skip


async def _prepare_voicemail(args: r.GetVoicemailInput, ctx: CallContext) -> PreparedRequest:
    await ctx.once("voicemail-box", lambda: _box(args, ctx))
    if args.cursor:
        query = decode_cursor(args.cursor, HISTORY, size="limit", max_size=MAX_LIMIT)
        if ("connectionIds", args.voicemail_id) not in query or ("types", "VOICEMAIL") not in query:
            raise InvalidInput("cursor belongs to another voicemail box or list; pass this box's next_cursor")
        return PreparedRequest("GET", HISTORY, tuple(query))
    query = (("offset", "0"), ("limit", str(args.limit)), ("types", "VOICEMAIL"), ("connectionIds", args.voicemail_id))
    return PreparedRequest("GET", HISTORY, query)


async def _voicemail(response: httpx2.Response, args: r.GetVoicemailInput, ctx: CallContext) -> BaseModel:
    box = await ctx.once("voicemail-box", lambda: _box(args, ctx))
    data = p.obj(response_json(response), "history")
    items = p.items(data, "items", "history", r.voicemail_message_from_api)
    _, total = m.history_page_from_api({"items": [], "totalCount": data.get("totalCount")})
    query = response.request.url.params.multi_items()
    end = int(dict(query).get("offset", "0")) + len(items)
    cursor = None
    if items and end < total:
        cursor = encode_cursor(HISTORY, [(k, str(end) if k == "offset" else v) for k, v in query])
    return r.VoicemailMessages(voicemail=box, items=items, total_count=total, next_cursor=cursor)


# ------------------------------------------------------------------ fax
async def _fax_file(args: r.SendFaxInput, ctx: CallContext) -> fax.FaxFile:
    """The PDF, read and checked once per call (the question, the request and the send share it)."""
    return await ctx.once("fax-file", lambda: _read(ctx, args.file))


async def _read(ctx: CallContext, name: str) -> fax.FaxFile:
    import anyio

    return await anyio.to_thread.run_sync(fax.read_fax, ctx.fax_dir, name)


async def _summarize_fax(args: r.SendFaxInput, ctx: CallContext) -> str:
    pdf = await _fax_file(args, ctx)
    return (f"Send a fax from fax line {args.faxline_id} to {pretty(args.recipient)}: {quote(pdf.name)}, "
            f"{pdf.size} bytes, {pdf.pages} page{'s' if pdf.pages != 1 else ''}, sha256 {pdf.sha256}")  # fmt: skip


async def _prepare_fax(args: r.SendFaxInput, ctx: CallContext) -> PreparedRequest:
    pdf = await _fax_file(args, ctx)
    body = {"faxlineId": args.faxline_id, "recipient": args.recipient, "filename": args.file.rsplit("/", 1)[-1],
            "base64Content": pdf.label}  # fmt: skip
    return PreparedRequest("POST", "/sessions/fax", json=body)


async def _fax_bytes(args: r.SendFaxInput, request: PreparedRequest, ctx: CallContext) -> PreparedRequest:
    """The PDF read once more, checked against the digest approved, base64 in the body as it leaves."""
    import anyio

    approved = await _fax_file(args, ctx)
    if not isinstance(request.json, dict) or request.json.get("base64Content") != approved.label:
        raise ConfirmationError("the fax request holds no placeholder for its file. Nothing was sent")
    content = await anyio.to_thread.run_sync(fax.read_again, ctx.fax_dir, approved)
    return replace(request, json={**request.json, "base64Content": base64.b64encode(content).decode("ascii")})


async def _sent_fax(response: httpx2.Response, args: r.SendFaxInput, ctx: CallContext) -> BaseModel:
    pdf = await _fax_file(args, ctx)
    session = m.started_call_from_api(response_json(response)).session_id
    return r.SentFax(fax_id=session, recipient=args.recipient, file=pdf.name, size=pdf.size, pages=pdf.pages,
                     sha256=pdf.sha256)  # fmt: skip


async def _fax_entry(args: r.ResendFaxInput, ctx: CallContext) -> r.FaxStatus:
    async def lookup() -> r.FaxStatus:
        path = fill_path(HISTORY_ENTRY, m.DeleteHistoryEntryInput(entry_id=args.fax_id))
        try:
            entry = r.fax_status_from_api(await ctx.client.read("sipgate_resend_fax", path))
        except NotFound:
            raise NotFound(f"No sipgate history entry {args.fax_id}. Nothing was sent.", provider="sipgate",
                           operation="sipgate_resend_fax") from None  # fmt: skip
        if entry.direction != "OUTGOING":
            raise InvalidInput(f"history entry {args.fax_id} is an incoming fax; only a sent fax can be resent")
        if not entry.recipient or not same_number(entry.recipient, args.recipient):
            raise InvalidInput(f"fax {args.fax_id} went to {pretty(entry.recipient or '')}, not "
                               f"{pretty(args.recipient)}: give its recipient")  # fmt: skip
        return entry

    return await ctx.once("fax-entry", lookup)


async def _summarize_resend(args: r.ResendFaxInput, ctx: CallContext) -> str:
    entry = await _fax_entry(args, ctx)
    pages = f", {entry.page_count} pages" if entry.page_count else ""
    return (f"Send fax {args.fax_id} again from fax line {args.faxline_id} to {pretty(args.recipient)} "
            f"(first sent {quote(entry.created)}{pages}, status {quote(entry.status)})")  # fmt: skip


async def _prepare_resend(args: r.ResendFaxInput, ctx: CallContext) -> PreparedRequest:
    await _fax_entry(args, ctx)
    return PreparedRequest("POST", "/sessions/fax/resend", json=args.body())


async def _resent(response: httpx2.Response, args: r.ResendFaxInput, ctx: CallContext) -> BaseModel:
    return r.ResentFax(fax_id=args.fax_id, recipient=args.recipient, resent=True)


async def _fax_status(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
    return r.fax_status_from_api(response_json(response))


# ------------------------------------------------------------------ history export
async def _prepare_export(args: r.ExportHistoryInput, ctx: CallContext) -> PreparedRequest:
    return PreparedRequest("GET", "/history/export", args.query())


async def _export(response: httpx2.Response, args: r.ExportHistoryInput, ctx: CallContext) -> BaseModel:
    """Keep the CSV for its caller, bounded, and answer with the link to it."""
    import anyio

    data = response.content
    if len(data) > MAX_EXPORT_BYTES:
        raise InvalidInput(
            f"the export is {len(data)} bytes, more than the {MAX_EXPORT_BYTES // (1024 * 1024)} MiB this server "
            "keeps: narrow the window (start/end), lower limit, or filter by types or connection_ids"
        )
    if ctx.exports is None or ctx.owner is None:
        raise InvalidInput("exports are kept for a caller of a tool call only")
    export_id = secrets.token_urlsafe(18)
    await anyio.to_thread.run_sync(ctx.exports.put, export_id, ctx.owner(), data, EXPORT_TTL)
    rows = max(0, len([line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]) - 1)
    return r.HistoryExport(uri=EXPORT_TEMPLATE.format(export_id=export_id), size=len(data), rows=rows,
                           expires_in_seconds=int(EXPORT_TTL))  # fmt: skip


def _op(name: str, title: str, description: str, method: Any, path: str, scope: str, effect: Any,
        input: type[BaseModel], output: type[BaseModel], **hooks: Any) -> Operation:  # fmt: skip
    """Outside the default exposure (listed with its toolset or `all`); writes are never repeated by the client."""
    return Operation(
        name=name, title=title, description=description, provider="sipgate", method=method, path=path,
        input=input, output=output, scope=f"sipgate:{scope}", effect=effect,
        idempotent=hooks.pop("idempotent", effect == "read"), default=False, **hooks,
    )  # fmt: skip


OPERATIONS: tuple[Operation, ...] = (
    _op("sipgate_route_number", "Route a number", "Send a number's calls to another phoneline, group or voicemail.",
        "PUT", NUMBER, "numbers:write", "destructive", r.RouteNumberInput, m.Number, idempotent=True,
        prepare=_prepare_route, interpret=_routed, summarize=_summarize_route,
        subject=lambda a: WriteSubject(target=a.number_id), not_found="No sipgate number with id {number_id}."),
    _op("sipgate_get_voicemail", "Get voicemail messages",
        "List a voicemail box's messages: caller, transcription, recording URL.",
        "GET", HISTORY, "voicemails:read", "read", r.GetVoicemailInput, r.VoicemailMessages,
        prepare=_prepare_voicemail, interpret=_voicemail),
    _op("sipgate_send_fax", "Send a fax", "Fax a PDF from the operator's fax directory (TELCO_MCP_FAX_DIR).",
        "POST", "/sessions/fax", "sessions:fax:write", "write", r.SendFaxInput, r.SentFax,
        prepare=_prepare_fax, interpret=_sent_fax, summarize=_summarize_fax, at_send=_fax_bytes,
        subject=lambda a: WriteSubject(destinations=(a.recipient,), kind="fax")),
    _op("sipgate_get_fax_status", "Get a fax's status", "Get a sent fax's status by the fax_id sipgate_send_fax gave.",
        "GET", HISTORY_ENTRY.replace("entry_id", "fax_id"), "history:read", "read", r.GetFaxStatusInput,
        r.FaxStatus, interpret=_fax_status, not_found="No sipgate history entry {fax_id}."),
    _op("sipgate_resend_fax", "Resend a fax", "Send a sent fax again to the same recipient.",
        "POST", "/sessions/fax/resend", "sessions:fax:write", "write", r.ResendFaxInput, r.ResentFax,
        prepare=_prepare_resend, interpret=_resent, summarize=_summarize_resend,
        subject=lambda a: WriteSubject(destinations=(a.recipient,), kind="fax", target=a.fax_id)),
    _op("sipgate_export_history", "Export history as CSV",
        "Export calls, SMS, faxes, voicemails as CSV: a link readable 10 minutes, by you only.",
        "GET", "/history/export", "history:read", "read", r.ExportHistoryInput, r.HistoryExport,
        prepare=_prepare_export, interpret=_export),
)  # fmt: skip
