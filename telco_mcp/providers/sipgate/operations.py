"""sipgate operations: live-call control, click-to-dial, SMS, account and history (REST v2).

The running-call endpoints answer 204 with no body, so every call-control tool reads the call back
with `GET /calls` and answers with its state after the change. `/calls` lists only established
calls; a call that is not there is reported as "not found or already ended".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx2
from pydantic import BaseModel

from telco_mcp.errors import InvalidInput, NotFound
from telco_mcp.models import MAX_LIMIT
from telco_mcp.operation import Operation, WriteSubject
from telco_mcp.phone import pretty, same_number
from telco_mcp.providers.sipgate import models as m
from telco_mcp.providers.sipgate import push
from telco_mcp.untrusted import inline, quote
from telco_mcp.upstream import CallContext
from telco_mcp.wire import PreparedRequest, decode_cursor, encode_cursor, encode_segment, fill_path, response_json

CALL_GONE = "Call {call_id} was not found or has already ended. List running calls with sipgate_list_calls."


def _json(parse: Callable[[Any], BaseModel]) -> Callable[..., Any]:
    async def interpret(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
        return parse(response_json(response))

    return interpret


# ------------------------------------------------------------------ running calls
async def running_calls(ctx: CallContext, operation: str) -> list[m.Call]:
    return m.call_list_from_api(await ctx.client.read(operation, "/calls")).calls


async def find_call(ctx: CallContext, operation: str, call_id: str) -> m.Call:
    for call in await running_calls(ctx, operation):
        if call.call_id == call_id:
            return call
    raise NotFound(CALL_GONE.format(call_id=call_id) + " Nothing was sent.", provider="sipgate", operation=operation)


def _parties(call: m.Call) -> str:
    others = [p for p in call.participants if not p.owner] or call.participants
    return ", ".join(pretty(p.phone_number) for p in others) or "no other party"


def _call_summary(verb: Callable[[Any], str]) -> Callable[..., Any]:
    """`verb(args)` is a template whose `{call}` becomes "call <id> (with <other parties>)"."""

    async def summarize(args: Any, ctx: CallContext) -> str:
        call = await find_call(ctx, "sipgate_list_calls", args.call_id)
        return verb(args).format(call=f"call {args.call_id} (with {_parties(call)})")

    return summarize


def _read_back(action: str) -> Callable[..., Any]:
    async def interpret(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
        calls = await running_calls(ctx, "sipgate_list_calls")
        call = next((c for c in calls if c.call_id == args.call_id), None)
        note = None
        if action == "transfer" and call is None:
            # sipgate gives a transferred call a new callId: find it by the transfer target.
            call = next(
                (c for c in calls if any(same_number(p.phone_number, args.phone_number) for p in c.participants)), None
            )
            if call is not None:
                note = f"sipgate gave the transferred call a new id: {quote(call.call_id)}."
        if action == "hangup":
            return m.CallActionResult(
                call_id=args.call_id, action=action, call=call, ended=call is None,
                note=None if call is None else "The call is still listed; it may take a moment to end.",
            )  # fmt: skip
        if call is None:
            note = "The call is no longer running (it ended after the change)."
        return m.CallActionResult(call_id=args.call_id, action=action, call=call, ended=call is None, note=note)

    return interpret


def _call_op(
    *,
    name: str,
    title: str,
    description: str,
    method: Any,
    path: str,
    input: type[BaseModel],
    effect: Any,
    idempotent: bool,
    action: str,
    verb: Callable[[Any], str],
    subject: Callable[[Any], WriteSubject] | None = None,
    grantable: bool = False,
) -> Operation:
    return Operation(
        name=name,
        title=title,
        description=description,
        provider="sipgate",
        method=method,
        path=path,
        input=input,
        output=m.CallActionResult,
        scope="sipgate:rtcm:write",
        effect=effect,
        idempotent=idempotent,
        interpret=_read_back(action),
        summarize=_call_summary(verb),
        subject=subject or (lambda args: WriteSubject(target=args.call_id)),
        not_found=CALL_GONE,
        grantable=grantable,
    )


# ------------------------------------------------------------------ SMS and click-to-dial
class _UserPath(BaseModel):
    user_id: str


async def _own_user_id(ctx: CallContext, operation: str) -> str:
    """The authenticated user's id (`sub` of `/authorization/userinfo`, cached)."""
    user_id = ctx.client.cache.get("user_id")
    if user_id is None:
        user_id = m.userinfo_from_api(await ctx.client.read(operation, "/authorization/userinfo")).sub
        ctx.client.cache["user_id"] = user_id
    return user_id


async def _user_path(ctx: CallContext, operation: str) -> str:
    """`/{userId}/sms` for the authenticated user."""
    return fill_path("/{user_id}/sms", _UserPath(user_id=await _own_user_id(ctx, operation)))


async def _list_senders(args: Any, ctx: CallContext) -> PreparedRequest:
    return PreparedRequest("GET", await _user_path(ctx, "sipgate_list_sms_senders"))


async def _sender(args: m.SendSmsInput, ctx: CallContext) -> m.SmsSender:
    """The sender of this send, read once: the summary and the request of one call share it."""
    return await ctx.once("sms-sender", lambda: _lookup_sender(args, ctx))


async def _lookup_sender(args: m.SendSmsInput, ctx: CallContext) -> m.SmsSender:
    path = await _user_path(ctx, "sipgate_send_sms")
    senders = m.sms_sender_list_from_api(await ctx.client.read("sipgate_send_sms", path)).items
    if not senders:
        raise InvalidInput("this sipgate account has no SMS sender (see sipgate_list_sms_senders)")
    if args.sms_id is None:
        return senders[0]
    for sender in senders:
        if sender.id == args.sms_id:
            return sender
    raise InvalidInput(f"sms_id {args.sms_id!r} is not one of this account's SMS senders: "
                     + inline([s.id for s in senders], "sipgate"))  # fmt: skip


async def _prepare_sms(args: m.SendSmsInput, ctx: CallContext) -> PreparedRequest:
    sender = await _sender(args, ctx)
    return PreparedRequest("POST", "/sessions/sms", json=args.body(sender.id))


async def _summarize_sms(args: m.SendSmsInput, ctx: CallContext) -> str:
    sender = await _sender(args, ctx)  # an unknown sms_id is refused before anyone is asked
    # The sender's alias and number are the provider's data; the message is quoted and escaped too.
    origin = quote(sender.alias or sender.id) + (f" ({pretty(sender.caller_id)})" if sender.caller_id else "")
    when = f", scheduled for {args.send_at.isoformat()}" if args.send_at else ""
    return f"Send SMS from {origin} to {pretty(args.recipient)}{when}: {quote(args.message)}"


async def _sent(response: httpx2.Response, args: m.SendSmsInput, ctx: CallContext) -> BaseModel:
    sent = json.loads(response.request.content)  # the body exactly as it was sent
    return m.SentSms(
        sms_id=str(sent.get("smsId", args.sms_id)),
        recipient=args.recipient,
        send_at=args.send_at,
        status="scheduled" if args.send_at else "accepted",
    )


def _start_subject(args: m.StartCallInput) -> WriteSubject:
    """sipgate dials the caller first when it is a phone number, then the callee: both are destinations."""
    dialled = (args.caller, args.callee) if m.is_phone_caller(args.caller) else (args.callee,)
    return WriteSubject(destinations=dialled, kind="call")


async def _summarize_start(args: m.StartCallInput, ctx: CallContext) -> str:
    shown = f", showing {pretty(args.caller_id)}" if args.caller_id else ""
    if m.is_phone_caller(args.caller):
        first = f"sipgate first rings {pretty(args.caller)} (through device {args.device_id})"
    else:
        first = f"device {args.caller} rings first"
    return f"Start a call to {pretty(args.callee)}: {first}, then dials {pretty(args.callee)}{shown}"


# ------------------------------------------------------------------ history
def _with_limit(query: list[tuple[str, str]], args: Any) -> tuple[tuple[str, str], ...]:
    """A cursor's query, with the call's own `limit` when it gives one (offsets make any page size safe)."""
    if "limit" not in args.model_fields_set:
        return tuple(query)
    return tuple((k, str(args.limit)) if k == "limit" else (k, v) for k, v in query)


async def _prepare_history(args: m.ListHistoryInput, ctx: CallContext) -> PreparedRequest:
    """The first page from the filters; later pages from the cursor, which keeps the first page's query."""
    if args.cursor:
        query = decode_cursor(args.cursor, "/history", size="limit", max_size=MAX_LIMIT)
        return PreparedRequest("GET", "/history", _with_limit(query, args))
    return PreparedRequest("GET", "/history", tuple(args.query(0)))


async def _history(response: httpx2.Response, args: m.ListHistoryInput, ctx: CallContext) -> BaseModel:
    items, total = m.history_page_from_api(response_json(response))
    query = response.request.url.params.multi_items()
    offset = int(dict(query).get("offset", "0"))
    end = offset + len(items)
    cursor = None
    if items and end < total:
        cursor = encode_cursor("/history", [(k, str(end) if k == "offset" else v) for k, v in query])
    return m.HistoryPage(items=items, total_count=total, next_cursor=cursor)


# ------------------------------------------------------------------ directory reads (issue 13)
class _UserLine(BaseModel):
    user_id: str
    phoneline_id: str = ""


async def _user_fields(args: Any, ctx: CallContext, operation: str) -> dict[str, str]:
    """The path values of a per-user list: the given user, or the authenticated one."""
    user_id = args.user_id or await _own_user_id(ctx, operation)
    return {"user_id": user_id, "phoneline_id": getattr(args, "phoneline_id", "")}


def _per_user(template: str, operation: str) -> Callable[..., Any]:
    async def prepare(args: Any, ctx: CallContext) -> PreparedRequest:
        fields = await _user_fields(args, ctx, operation)
        path = fill_path(template, _UserLine(**fields))
        return PreparedRequest("GET", path, fields={k: v for k, v in fields.items() if v})

    return prepare


def _paged(path: str, query: Callable[[Any], list[tuple[str, str]]]) -> Callable[..., Any]:
    """An offset/limit list: the first page from the arguments, later pages from the cursor."""

    async def prepare(args: Any, ctx: CallContext) -> PreparedRequest:
        if args.cursor:
            pairs = decode_cursor(args.cursor, path, size="limit", max_size=MAX_LIMIT)
            if not any(key == "limit" for key, _ in pairs):
                raise InvalidInput("cursor is not one this server issued; pass next_cursor unchanged")
            return PreparedRequest("GET", path, _with_limit(pairs, args))
        return PreparedRequest("GET", path, (("offset", "0"), ("limit", str(args.limit)), *query(args)))

    return prepare


def _next_cursor(response: httpx2.Response, path: str, count: int, total: int | None) -> str | None:
    """The cursor after this page: by the total when sipgate gives one, else while pages come back full."""
    query = response.request.url.params.multi_items()
    params = dict(query)
    offset, limit = int(params.get("offset", "0")), int(params.get("limit", "0"))
    end = offset + count
    more = end < total if total is not None else count >= limit > 0
    if not count or not more:
        return None
    return encode_cursor(path, [(k, str(end) if k == "offset" else v) for k, v in query])


async def _numbers(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
    items = m.number_list_from_api(response_json(response))
    return m.NumberPage(items=items, next_cursor=_next_cursor(response, "/numbers", len(items), None))


async def _contacts(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
    items, total = m.contact_page_from_api(response_json(response))
    cursor = _next_cursor(response, "/contacts", len(items), total)
    return m.ContactPage(items=items, total_count=total, next_cursor=cursor)


async def _forwardings(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
    items = m.forwarding_list_from_api(response_json(response))
    return m.ForwardingList(phoneline_id=args.phoneline_id, items=items)


def _read(
    name: str,
    title: str,
    description: str,
    path: str,
    scope: str,
    input: type[BaseModel],
    output: type[BaseModel],
    **hooks: Any,
) -> Operation:
    """A read-only directory tool, outside the default exposure (listed with its toolset or `all`)."""
    return Operation(
        name=name, title=title, description=description, provider="sipgate", method="GET", path=path,
        input=input, output=output, scope=f"sipgate:{scope}", effect="read", idempotent=True, default=False,
        **hooks,
    )  # fmt: skip


DIRECTORY: tuple[Operation, ...] = (
    _read("sipgate_list_users", "List users", "List the account's users (id, name, email, default device).",
          "/users", "users:read", m.ListUsersInput, m.UserList, interpret=_json(m.user_list_from_api)),
    _read("sipgate_list_devices", "List devices", "List a user's devices (phones, mobiles) and what rings them.",
          "/{user_id}/devices", "devices:read", m.UserScopedInput, m.DeviceList,
          prepare=_per_user("/{user_id}/devices", "sipgate_list_devices"), interpret=_json(m.device_list_from_api),
          not_found="No sipgate user {user_id}."),
    _read("sipgate_list_phonelines", "List phonelines", "List a user's phonelines, e.g. p0.",
          "/{user_id}/phonelines", "phonelines:read", m.UserScopedInput, m.PhonelineList,
          prepare=_per_user("/{user_id}/phonelines", "sipgate_list_phonelines"),
          interpret=_json(m.phoneline_list_from_api), not_found="No sipgate user {user_id}."),
    _read("sipgate_list_numbers", "List phone numbers", "List the account's numbers and where each routes.",
          "/numbers", "numbers:read", m.ListNumbersInput, m.NumberPage,
          prepare=_paged("/numbers", lambda a: []), interpret=_numbers),
    _read("sipgate_get_balance", "Get the balance", "Get the account's credit balance.",
          "/balance", "balance:read", m.GetBalanceInput, m.Balance, interpret=_json(m.balance_from_api)),
    _read("sipgate_list_contacts", "List contacts", "List contacts, optionally only those with a number.",
          "/contacts", "contacts:read", m.ListContactsInput, m.ContactPage,
          prepare=_paged("/contacts", lambda a: [("phonenumbers", number) for number in a.phonenumbers or ()]),
          interpret=_contacts),
    _read("sipgate_get_forwardings", "Get forwardings", "Get where a phoneline forwards calls, after how long.",
          "/{user_id}/phonelines/{phoneline_id}/forwardings", "phonelines:forwardings:read",
          m.GetForwardingsInput, m.ForwardingList,
          prepare=_per_user("/{user_id}/phonelines/{phoneline_id}/forwardings", "sipgate_get_forwardings"),
          interpret=_forwardings, not_found="No phoneline {phoneline_id} for user {user_id}."),
    _read("sipgate_list_voicemails", "List voicemail boxes", "List the voicemail boxes and their extensions.",
          "/voicemails", "voicemails:read", m.ListVoicemailsInput, m.VoicemailList,
          interpret=_json(m.voicemail_list_from_api)),
    _read("sipgate_list_blocked_numbers", "List blocked numbers", "List the numbers blocked for incoming calls.",
          "/blacklist/incoming", "blacklist:read", m.ListBlockedNumbersInput, m.BlockedNumberList,
          interpret=_json(m.blocked_number_list_from_api)),
)  # fmt: skip


# ------------------------------------------------------------------ blacklist and history writes (issue 13)
BLACKLIST = "/blacklist/incoming"


def _shown(number: str, prefix: bool | None) -> str:
    """A whole number as people read it; a prefix as its digits (no formatting fits part of a number)."""
    if not prefix:
        return pretty(number)
    return number if re.fullmatch(r"\+?[0-9]{1,16}", number) else quote(number)  # provider text: quoted


def _blocked_words(number: str, prefix: bool | None) -> str:
    return f"every number starting with {_shown(number, True)}" if prefix else pretty(number)


async def _summarize_block(args: m.BlockNumberInput, ctx: CallContext) -> str:
    return f"Block incoming calls from {_blocked_words(args.phone_number, args.prefix)}"


async def _prepare_block(args: m.BlockNumberInput, ctx: CallContext) -> PreparedRequest:
    return PreparedRequest("POST", BLACKLIST, json=args.body(), fields={"phone_number": args.phone_number})


async def _listed_entry(args: m.UnblockNumberInput, ctx: CallContext) -> m.BlockedNumber:
    """The blacklist entry to remove, as sipgate lists it (read once per call)."""
    return await ctx.once("blacklist-entry", lambda: _find_listed_entry(args, ctx))


async def _find_listed_entry(args: m.UnblockNumberInput, ctx: CallContext) -> m.BlockedNumber:
    """Not listed: refused before anything is sent."""
    listed = m.blocked_number_list_from_api(await ctx.client.read("sipgate_unblock_number", BLACKLIST)).items
    digits = args.phone_number.lstrip("+")
    for entry in listed:
        if "".join(c for c in entry.phone_number if c.isdigit()) == digits:
            return entry
    raise NotFound(f"{pretty(args.phone_number)} is not on the incoming blacklist (see sipgate_list_blocked_numbers). "
                   "Nothing was sent.", provider="sipgate", operation="sipgate_unblock_number")  # fmt: skip


async def _prepare_unblock(args: m.UnblockNumberInput, ctx: CallContext) -> PreparedRequest:
    entry = await _listed_entry(args, ctx)
    path = f"{BLACKLIST}/{encode_segment(entry.phone_number)}"
    return PreparedRequest("DELETE", path, fields={"phone_number": entry.phone_number})


async def _summarize_unblock(args: m.UnblockNumberInput, ctx: CallContext) -> str:
    entry = await _listed_entry(args, ctx)
    kind = "prefix entry" if entry.prefix else "entry"
    return (f"Remove the blacklist {kind} {_shown(entry.phone_number, entry.prefix)}: calls from "
            f"{_blocked_words(entry.phone_number, entry.prefix)} ring again")  # fmt: skip


async def _unblocked(response: httpx2.Response, args: m.UnblockNumberInput, ctx: CallContext) -> BaseModel:
    entry = await _listed_entry(args, ctx)
    return m.UnblockedNumber(phone_number=entry.phone_number, prefix=entry.prefix, unblocked=True)


HISTORY_ENTRY = "/history/{entry_id}"


async def _history_entry(args: Any, ctx: CallContext, operation: str) -> m.HistoryEntry:
    """The entry a history write touches (read once per call): the question names it and shows old -> new."""

    async def lookup() -> m.HistoryEntry:
        try:
            return m.history_entry_from_api(await ctx.client.read(operation, fill_path(HISTORY_ENTRY, args)))
        except NotFound:
            raise NotFound(f"No sipgate history entry {args.entry_id}. Nothing was sent.",
                           provider="sipgate", operation=operation) from None  # fmt: skip

    return await ctx.once("history-entry", lookup)


def _entry_words(entry: m.HistoryEntry) -> str:
    """`CALL, INCOMING, from +49 30 ... ("Ada"), 2026-05-04T09:30:00Z` with the provider's text quoted."""
    incoming = entry.incoming if entry.incoming is not None else (entry.direction or "").endswith("INCOMING")
    number, alias = (entry.source, entry.source_alias) if incoming else (entry.target, entry.target_alias)
    party = ("from " if incoming else "to ") + pretty(number) + (f" ({quote(alias)})" if alias else "")
    parts = [quote(entry.type), quote(entry.direction) if entry.direction else None, party,
             quote(entry.created) if entry.created else None]  # fmt: skip
    return ", ".join(p for p in parts if p)


_FLAGS = ("archived", "starred", "read")


def _history_changes(args: m.UpdateHistoryEntryInput, entry: m.HistoryEntry) -> dict[str, Any]:
    """The full PUT body: sipgate resets a field left out to its default, so unchanged fields are sent as they are."""
    body: dict[str, Any] = {flag: bool(getattr(entry, flag)) for flag in _FLAGS}
    body |= {flag: getattr(args, flag) for flag in _FLAGS if getattr(args, flag) is not None}
    body["note"] = args.note if args.note is not None else (entry.note or "")
    return body


async def _prepare_update_history(args: m.UpdateHistoryEntryInput, ctx: CallContext) -> PreparedRequest:
    entry = await _history_entry(args, ctx, "sipgate_update_history_entry")
    body = _history_changes(args, entry)
    return PreparedRequest("PUT", fill_path(HISTORY_ENTRY, args), json=body, fields={"entry_id": args.entry_id})


def _yes(value: bool | None) -> str:
    return "yes" if value else "no"


async def _summarize_update_history(args: m.UpdateHistoryEntryInput, ctx: CallContext) -> str:
    entry = await _history_entry(args, ctx, "sipgate_update_history_entry")
    new = _history_changes(args, entry)
    changes = [f"{flag} {_yes(getattr(entry, flag))} → {_yes(new[flag])}" for flag in _FLAGS
               if getattr(args, flag) is not None]  # fmt: skip
    if args.note is not None:
        changes.append(f"note {quote(entry.note or '')} → {quote(args.note)}")
    return f"Update history entry {args.entry_id} ({_entry_words(entry)}): " + "; ".join(changes)


async def _updated_history(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
    return m.history_entry_from_api(
        await ctx.client.read("sipgate_update_history_entry", fill_path(HISTORY_ENTRY, args))
    )


async def _prepare_delete_history(args: m.DeleteHistoryEntryInput, ctx: CallContext) -> PreparedRequest:
    await _history_entry(args, ctx, "sipgate_delete_history_entry")
    return PreparedRequest("DELETE", fill_path(HISTORY_ENTRY, args), fields={"entry_id": args.entry_id})


async def _summarize_delete_history(args: m.DeleteHistoryEntryInput, ctx: CallContext) -> str:
    entry = await _history_entry(args, ctx, "sipgate_delete_history_entry")
    return f"Permanently delete history entry {args.entry_id} ({_entry_words(entry)}). This cannot be undone"


async def _deleted_history(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
    return m.DeletedHistoryEntry(id=args.entry_id, deleted=True)


FORWARDINGS = "/{user_id}/phonelines/{phoneline_id}/forwardings"


async def _forwarding_line(args: m.SetForwardingsInput, ctx: CallContext) -> tuple[str, list[m.Forwarding]]:
    """The phoneline's path and its forwardings now (read once per call): the question shows old -> new."""

    async def lookup() -> tuple[str, list[m.Forwarding]]:
        fields = await _user_fields(args, ctx, "sipgate_set_forwardings")
        path = fill_path(FORWARDINGS, _UserLine(**fields))
        return path, m.forwarding_list_from_api(await ctx.client.read("sipgate_set_forwardings", path))

    return await ctx.once("forwardings", lookup)


def _forwarding_words(destination: str | None, timeout: int | None, active: bool | None, alias: str | None) -> str:
    where = pretty(destination) if destination else "(no destination)"  # pretty() quotes what is no number
    when = "at once" if not timeout else f"after {timeout} s"
    named = f" ({quote(alias)})" if alias else ""
    return f"{where}{named} {when}" + ("" if active else " (inactive)")


async def _prepare_forwardings(args: m.SetForwardingsInput, ctx: CallContext) -> PreparedRequest:
    path, _ = await _forwarding_line(args, ctx)
    return PreparedRequest("PUT", path, json=args.body(), fields={"phoneline_id": args.phoneline_id})


async def _summarize_forwardings(args: m.SetForwardingsInput, ctx: CallContext) -> str:
    _, now = await _forwarding_line(args, ctx)
    old = "; ".join(_forwarding_words(f.destination, f.timeout, f.active, f.alias) for f in now) or "none"
    new = "; ".join(_forwarding_words(f.destination, f.timeout, f.active, None) for f in args.forwardings)
    if not new:
        new = "none (calls to this line are no longer forwarded)"
    return f"Replace all forwardings of phoneline {args.phoneline_id}: {old} → {new}"


async def _forwardings_after(response: httpx2.Response, args: m.SetForwardingsInput, ctx: CallContext) -> BaseModel:
    path, _ = await _forwarding_line(args, ctx)
    items = m.forwarding_list_from_api(await ctx.client.read("sipgate_set_forwardings", path))
    return m.ForwardingList(phoneline_id=args.phoneline_id, items=items)


def _forwarding_subject(args: m.SetForwardingsInput) -> WriteSubject:
    """Every number calls are forwarded to is dialled by sipgate: each passes the number rules."""
    numbers = tuple(f.destination for f in args.forwardings if f.is_number)
    return WriteSubject(destinations=numbers, target=args.phoneline_id)


def _write(name: str, title: str, description: str, method: Any, path: str, scope: str, effect: Any,
           input: type[BaseModel], output: type[BaseModel], idempotent: bool = False,
           **hooks: Any) -> Operation:  # fmt: skip
    """A write outside the default exposure (listed with its toolset or `all`); never repeated by the client."""
    return Operation(
        name=name, title=title, description=description, provider="sipgate", method=method, path=path,
        input=input, output=output, scope=f"sipgate:{scope}", effect=effect, idempotent=idempotent, default=False,
        **hooks,
    )  # fmt: skip


WRITES: tuple[Operation, ...] = (
    _write("sipgate_block_number", "Block a number", "Block incoming calls from a number or a prefix.",
           "POST", BLACKLIST, "blacklist:write", "write", m.BlockNumberInput, m.BlockedNumber,
           prepare=_prepare_block, interpret=_json(m.blocked_number_from_api), summarize=_summarize_block,
           subject=lambda a: WriteSubject(target=a.phone_number),
           conflict="{phone_number} is already on the incoming blacklist (see sipgate_list_blocked_numbers)."),
    _write("sipgate_unblock_number", "Unblock a number", "Remove an entry from the incoming blacklist.",
           "DELETE", BLACKLIST + "/{phone_number}", "blacklist:write", "destructive", m.UnblockNumberInput,
           m.UnblockedNumber, prepare=_prepare_unblock, interpret=_unblocked, summarize=_summarize_unblock,
           subject=lambda a: WriteSubject(target=a.phone_number),
           not_found="{phone_number} is not on the incoming blacklist."),
    _write("sipgate_set_forwardings", "Set forwardings",
           "Replace a phoneline's call forwardings (up to 3); an empty list removes them.",
           "PUT", FORWARDINGS, "phonelines:forwardings:write", "destructive", m.SetForwardingsInput,
           m.ForwardingList, idempotent=True, prepare=_prepare_forwardings, interpret=_forwardings_after,
           summarize=_summarize_forwardings, subject=_forwarding_subject,
           not_found="No phoneline {phoneline_id} for user {user_id}."),
    _write("sipgate_update_history_entry", "Update a history entry", "Archive, star, mark read or note an entry.",
           "PUT", HISTORY_ENTRY, "history:write", "write", m.UpdateHistoryEntryInput, m.HistoryEntry,
           idempotent=True, prepare=_prepare_update_history, interpret=_updated_history,
           summarize=_summarize_update_history, subject=lambda a: WriteSubject(target=a.entry_id),
           not_found="No sipgate history entry {entry_id}."),
    _write("sipgate_delete_history_entry", "Delete a history entry",
           "Permanently delete a call, SMS, fax or voicemail entry.",
           "DELETE", HISTORY_ENTRY, "history:write", "destructive", m.DeleteHistoryEntryInput,
           m.DeletedHistoryEntry, prepare=_prepare_delete_history, interpret=_deleted_history,
           summarize=_summarize_delete_history, subject=lambda a: WriteSubject(target=a.entry_id),
           not_found="No sipgate history entry {entry_id}."),
)  # fmt: skip


PUSH: tuple[Operation, ...] = (
    _read("sipgate_get_webhooks", "Get the push URLs",
          "Get the account-wide sipgate.io URLs that call events (webhooks) are posted to.",
          push.SETTINGS_PATH, "settings:sipgateio:read", push.GetWebhooksInput, push.Webhooks,
          interpret=push.get_result),
    _write("sipgate_set_webhooks", "Set the push URLs",
           "Replace the account-wide sipgate.io URLs that call events are posted to (affects every integration).",
           "PUT", push.SETTINGS_PATH, "settings:sipgateio:write", "destructive", push.SetWebhooksInput,
           push.Webhooks, idempotent=True, prepare=push.prepare_set, interpret=push.set_result,
           summarize=push.summarize_set, subject=push.subject),
    Operation(
        name="sipgate_wait_for_call_event",
        title="Wait for a call event",
        description="Wait for the next pushed call event (newCall, answer, hangup, dtmf) matching a filter.",
        provider="sipgate", method="GET", path="", input=push.WaitForCallEventInput, output=push.CallEventWait,
        scope="sipgate:rtcm:read", effect="read", idempotent=True, interpret=push.not_sent,
        local=push.wait_for_event,
    ),
)  # fmt: skip


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="sipgate_get_account",
        title="Get the sipgate account",
        description="Get the sipgate account: company, product type, verification and history retention.",
        provider="sipgate",
        method="GET",
        path="/account",
        input=m.GetAccountInput,
        output=m.Account,
        scope="sipgate:account:read",
        effect="read",
        idempotent=True,
        interpret=_json(m.account_from_api),
    ),
    Operation(
        name="sipgate_list_calls",
        title="List running calls",
        description="List the calls running now (established, not ringing) with their participants and states.",
        provider="sipgate",
        method="GET",
        path="/calls",
        input=m.ListCallsInput,
        output=m.CallList,
        scope="sipgate:rtcm:read",
        effect="read",
        idempotent=True,
        interpret=push.calls_with_events,
    ),
    _call_op(
        name="sipgate_hold_call",
        title="Hold or resume a call",
        description="Put all participants of a running call on hold (value=true) or resume it (value=false).",
        method="PUT",
        path="/calls/{call_id}/hold",
        input=m.HoldCallInput,
        effect="write",
        idempotent=True,
        action="hold",
        verb=lambda a: "Put {call} on hold" if a.value else "Resume {call} from hold",
        grantable=True,
    ),
    _call_op(
        name="sipgate_mute_call",
        title="Mute or unmute yourself",
        description="Mute (value=true) or unmute (value=false) your own side of a running call.",
        method="PUT",
        path="/calls/{call_id}/muted",
        input=m.MuteCallInput,
        effect="write",
        idempotent=True,
        action="mute",
        verb=lambda a: "Mute yourself on {call}" if a.value else "Unmute yourself on {call}",
        grantable=True,
    ),
    _call_op(
        name="sipgate_record_call",
        title="Start or stop recording",
        description="Start (value=true) or stop (value=false) recording a running call, announced by default.",
        method="PUT",
        path="/calls/{call_id}/recording",
        input=m.RecordCallInput,
        effect="write",
        idempotent=True,
        action="record",
        verb=lambda a: (
            "Start recording {call}" + (", with announcement" if a.announcement else " SILENTLY (no announcement)")
            if a.value
            else "Stop recording {call}"
        ),
    ),
    _call_op(
        name="sipgate_transfer_call",
        title="Transfer a call",
        description="Transfer a running call to another number, blind (default) or attended.",
        method="POST",
        path="/calls/{call_id}/transfer",
        input=m.TransferCallInput,
        effect="destructive",
        idempotent=False,
        action="transfer",
        verb=lambda a: (
            f"Transfer {{call}} to {pretty(a.phone_number)}, {'attended' if a.attended else 'blind'}"
            + (f", showing {pretty(a.caller_id)}" if a.caller_id else "")
        ),
        subject=lambda a: WriteSubject(destinations=(a.phone_number,), kind="transfer", target=a.call_id),
    ),
    _call_op(
        name="sipgate_send_dtmf",
        title="Send DTMF tones",
        description="Send DTMF tones (0-9 * # A-D) into a running call, e.g. to navigate a phone menu.",
        method="POST",
        path="/calls/{call_id}/dtmf",
        input=m.SendDtmfInput,
        effect="write",
        idempotent=False,
        action="dtmf",
        verb=lambda a: f"Send DTMF tones {a.sequence} into {{call}}",
        grantable=True,
    ),
    _call_op(
        name="sipgate_play_announcement",
        title="Play an announcement",
        description="Play a WAV file (https URL, mono 8 kHz 16-bit PCM) into a running call.",
        method="POST",
        path="/calls/{call_id}/announcements",
        input=m.PlayAnnouncementInput,
        effect="write",
        idempotent=False,
        action="announcement",
        verb=lambda a: f"Play the announcement {a.url} into {{call}}",
    ),
    _call_op(
        name="sipgate_hangup_call",
        title="Hang up a call",
        description="Hang up a running call for all participants.",
        method="DELETE",
        path="/calls/{call_id}",
        input=m.HangupCallInput,
        effect="destructive",
        idempotent=False,
        action="hangup",
        verb=lambda a: "Hang up {call}",
    ),
    Operation(
        name="sipgate_start_call",
        title="Start a call (click-to-dial)",
        description="Start a call: your device (e.g. e0) rings first, then sipgate dials the callee.",
        provider="sipgate",
        method="POST",
        path="/sessions/calls",
        input=m.StartCallInput,
        output=m.StartedCall,
        scope="sipgate:sessions:calls:write",
        effect="write",
        idempotent=False,
        interpret=_json(m.started_call_from_api),
        summarize=_summarize_start,
        subject=_start_subject,
    ),
    Operation(
        name="sipgate_send_sms",
        title="Send an SMS",
        description="Send an SMS now or at a later time (send_at), from one of the account's SMS senders.",
        provider="sipgate",
        method="POST",
        path="/sessions/sms",
        input=m.SendSmsInput,
        output=m.SentSms,
        scope="sipgate:sessions:sms:write",
        effect="write",
        idempotent=False,
        prepare=_prepare_sms,
        interpret=_sent,
        summarize=_summarize_sms,
        subject=lambda a: WriteSubject(destinations=(a.recipient,), kind="sms", text=a.message),
    ),
    Operation(
        name="sipgate_list_sms_senders",
        title="List SMS senders",
        description="List the account's SMS senders (sms_id and the number recipients see).",
        provider="sipgate",
        method="GET",
        path="/{user_id}/sms",
        input=m.ListSmsSendersInput,
        output=m.SmsSenderList,
        scope="sipgate:sms:read",
        effect="read",
        idempotent=True,
        prepare=_list_senders,
        interpret=_json(m.sms_sender_list_from_api),
    ),
    Operation(
        name="sipgate_list_history",
        title="List call and SMS history",
        description="List past calls, voicemails, SMS and faxes, newest first, optionally filtered.",
        provider="sipgate",
        method="GET",
        path="/history",
        input=m.ListHistoryInput,
        output=m.HistoryPage,
        scope="sipgate:history:read",
        effect="read",
        idempotent=True,
        prepare=_prepare_history,
        interpret=_history,
    ),
    *DIRECTORY,
    *WRITES,
    *PUSH,
)
