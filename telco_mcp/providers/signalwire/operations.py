"""SignalWire operations: SIP credentials and gateways, the SIP profile, recordings, numbers and logs.

Base `https://{space}.signalwire.com`, Basic auth `project_id:api_token`. Lists follow the
provider's `links.next`: its query (page number, size and token) becomes an opaque cursor, and the
next page is always requested at the tool's own path on the configured base URL, never at the
link's host or path (a proxy, a path prefix or a different host spelling must not break paging).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, get_args

import httpx2
from pydantic import BaseModel

from telco_mcp.errors import InvalidInput, NotFound
from telco_mcp.models import MAX_LIMIT
from telco_mcp.operation import SECRET_PLACEHOLDER, Operation, WriteSubject
from telco_mcp.phone import pretty
from telco_mcp.providers import payload as p
from telco_mcp.providers.signalwire import models as m
from telco_mcp.routing import gateway_numbers, parse_sip_uri
from telco_mcp.untrusted import inline, quote
from telco_mcp.upstream import CallContext
from telco_mcp.wire import (
    PreparedRequest,
    cursor_position,
    decode_cursor,
    encode_cursor,
    fill_path,
    next_page,
    response_json,
)

CREDENTIALS = "/api/fabric/resources/sip_endpoints"
GATEWAYS = "/api/fabric/resources/sip_gateways"
PROFILE = "/api/relay/rest/sip_profile"
RECORDINGS = "/api/relay/rest/recordings"
NUMBERS = "/api/relay/rest/phone_numbers"
VOICE_LOGS = "/api/voice/logs"
MESSAGING_LOGS = "/api/messaging/logs"


# ------------------------------------------------------------------ lists
# These lists declare no query parameters (the spec; upstream-apis.md §2.2): the first page is asked for
# without `page_size`, so the provider's default page comes back, and `limit` is applied here. A cursor
# then remembers how many items of that page were shown; later pages are its `links.next`, verbatim.
UNSIZED = frozenset({CREDENTIALS, GATEWAYS, RECORDINGS})


def _list_request(path: str) -> Callable[[Any, CallContext], Any]:
    async def prepare(args: Any, ctx: CallContext) -> PreparedRequest:
        if args.cursor:
            query = decode_cursor(args.cursor, path, size="page_size", max_size=MAX_LIMIT)
            cursor_position(args.cursor, max_size=MAX_LIMIT)  # refused before any request when edited
            return PreparedRequest("GET", path, tuple(query))
        filters = args.filters() if hasattr(args, "filters") else []  # a log list's time window
        size = () if path in UNSIZED else (("page_size", str(args.limit)),)
        return PreparedRequest("GET", path, (*size, *filters))

    return prepare


FILL_PAGES = 4
"""A list without page_size reads at most this many further pages in one call to fill `limit`."""


def _list_result(
    path: str, parse: Callable[[Any], tuple[list[Any], str | None]], page: type[BaseModel], name: str
) -> Callable[..., Any]:
    async def interpret(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
        items, next_url = parse(response_json(response))
        skip, remembered = cursor_position(args.cursor, max_size=MAX_LIMIT) if args.cursor else (0, None)
        # An explicit `limit` always holds; without one a cursor goes on with the size its first page had.
        limit = args.limit if not args.cursor or "limit" in args.model_fields_set or remembered is None else remembered
        query = response.request.url.params.multi_items()
        shown, end = items[skip : skip + limit], skip + limit
        # A list that cannot be asked for `limit` items fills the page from the provider's next pages.
        for _ in range(FILL_PAGES if path in UNSIZED else 0):
            following = next_page(next_url, path)
            if len(shown) >= limit or following is None:
                break
            query = decode_cursor(following, path, size="page_size", max_size=LOOKUP_PAGE_SIZE)
            items, next_url = parse(await ctx.client.read(name, path, tuple(query)))
            end = limit - len(shown)
            shown += items[:end]
        if end < len(items):  # the rest of this page first: the same query again, further in
            return page(items=shown, next_cursor=encode_cursor(path, query, skip=end, limit=limit))
        return page(items=shown, next_cursor=next_page(next_url, path, limit=limit))

    return interpret


def _one(parse: Callable[[Any], BaseModel]) -> Callable[..., Any]:
    async def interpret(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
        return parse(response_json(response))

    return interpret


# ------------------------------------------------------------------ write summaries
# Summaries quote every value, the provider's (a gateway's current name, a recording's metadata)
# and the caller's alike: a planted name reads as data in the question, never as words of its own.
def _fmt(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(item) for item in value) + "]"
    return quote(str(value))


def _changes(body: dict[str, Any]) -> str:
    return "; ".join(f"{key} -> {_fmt(value)}" for key, value in body.items())


async def _summarize_gateway(args: m.UpdateSipGatewayInput, ctx: CallContext) -> str:
    current = m.sip_gateway_from_api(await ctx.client.read("signalwire_update_sip_gateway", f"{GATEWAYS}/{args.id}"))
    before = current.model_dump(exclude_none=True)
    changes = "; ".join(f"{key}: {_fmt(before.get(key))} -> {_fmt(value)}" for key, value in args.body().items())
    name = f"{_fmt(current.name)} " if current.name else ""
    return f"Update SIP gateway {name}({args.id}): {changes}"


async def _summarize_profile(args: m.UpdateSipProfileInput, ctx: CallContext) -> str:
    body = args.body()
    if "default_send_as" in body:  # a number as people read it; "" lets SignalWire pick one at random
        body["default_send_as"] = pretty(body["default_send_as"]) if body["default_send_as"] else "random"
    return f"Update the project's SIP profile: {_changes(body)}"


async def _summarize_delete(args: m.DeleteRecordingInput, ctx: CallContext) -> str:
    rec = m.recording_from_api(await ctx.client.read("signalwire_delete_recording", f"{RECORDINGS}/{args.id}"))
    when = f" from {_fmt(rec.created_at)}" if rec.created_at else ""
    length = f", {rec.duration_in_seconds} s" if rec.duration_in_seconds is not None else ""
    what = f"conference {_fmt(rec.leg_id)}" if rec.leg_type == "conference" else f"{_fmt(rec.leg_type)} leg"
    return f"Permanently delete recording {args.id} ({what}{when}{length})"


async def _deleted(response: httpx2.Response, args: m.DeleteRecordingInput, ctx: CallContext) -> BaseModel:
    return m.DeletedRecording(id=str(args.id), deleted=True)


def _target(args: Any) -> WriteSubject:
    return WriteSubject(target=str(getattr(args, "id", "sip_profile")))


def _gateway_subject(args: m.CreateSipGatewayInput | m.UpdateSipGatewayInput) -> WriteSubject:
    """A gateway's URI is where its calls go: its host must be allowed, and a number as its user part is dialled."""
    target = str(getattr(args, "id", "")) or None
    if args.uri is None:
        return WriteSubject(target=target)
    numbers = gateway_numbers(parse_sip_uri(args.uri))
    return WriteSubject(destinations=numbers, target=target, gateways=(("uri", args.uri),))


def _read(
    name: str,
    title: str,
    description: str,
    path: str,
    input: type[BaseModel],
    output: type[BaseModel],
    *,
    scope: str,
    **hooks: Any,
) -> Operation:
    """A read outside the default exposure: listed with `all` or its toolset's name."""
    return Operation(
        name=name,
        title=title,
        description=description,
        provider="signalwire",
        method="GET",
        path=path,
        input=input,
        output=output,
        scope=scope,
        effect="read",
        idempotent=True,
        default=False,
        **hooks,
    )


def _list(
    name: str,
    title: str,
    description: str,
    path: str,
    input: type[BaseModel],
    output: type[BaseModel],
    parse: Callable[[Any], tuple[list[Any], str | None]],
    *,
    scope: str,
) -> Operation:
    """A paged read: `limit` and `cursor` in, the provider's `links.next` out as `next_cursor`."""
    prepare, interpret = _list_request(path), _list_result(path, parse, output, name)
    return _read(name, title, description, path, input, output, scope=scope, prepare=prepare, interpret=interpret)


# ------------------------------------------------------------------ SIP credential writes (issue 13)
# The password never passes through the model: the request carries SECRET_PLACEHOLDER, a person types the
# password (or has a strong one generated and shown once) on the approval page, and the write pipeline puts it
# in right before the request leaves. The fabric spec omits `password` from these bodies; the live API takes it
# (notes §2.2: every sibling SIP endpoint request documents it).
def _password(args: Any) -> str | None:
    return "password" if getattr(args, "new_password", True) else None


async def _profile_defaults(ctx: CallContext, operation: str) -> m.SipProfile:
    """The project's SIP profile (read once per call): a new credential or gateway takes its defaults."""

    async def lookup() -> m.SipProfile:
        return m.sip_profile_from_api(await ctx.client.read(operation, PROFILE))

    return await ctx.once("sip-profile", lookup)


async def _create_body(args: m.CreateSipCredentialInput, ctx: CallContext) -> dict[str, Any]:
    profile = await _profile_defaults(ctx, "signalwire_create_sip_credential")
    return {
        "username": args.username,
        "password": SECRET_PLACEHOLDER,
        "caller_id": args.caller_id or args.username,
        "send_as": args.send_as or "random",
        "ciphers": args.ciphers or profile.default_ciphers or [],
        "codecs": args.codecs or profile.default_codecs or [],
        "encryption": args.encryption,
        "call_handler": "default",
        "calling_handler_resource_id": None,
    }


async def _prepare_create_credential(args: m.CreateSipCredentialInput, ctx: CallContext) -> PreparedRequest:
    return PreparedRequest("POST", CREDENTIALS, json=await _create_body(args, ctx))


def _shown_settings(body: dict[str, Any]) -> str:
    send_as = body.get("send_as")
    shown = {
        "caller ID": _fmt(body.get("caller_id")),
        "send as": "a random project number" if send_as in (None, "random") else pretty(send_as),
        "codecs": _fmt(body.get("codecs")),
        "ciphers": _fmt(body.get("ciphers")),
        "encryption": _fmt(body.get("encryption")),
    }
    return ", ".join(f"{key} {value}" for key, value in shown.items())


async def _summarize_create_credential(args: m.CreateSipCredentialInput, ctx: CallContext) -> str:
    body = await _create_body(args, ctx)
    return (
        f"Create SIP credential {_fmt(args.username)} ({_shown_settings(body)}). Its password is set by you on the "
        "approval page (typed, or generated and shown to you once)"
    )


async def _credential(args: Any, ctx: CallContext, operation: str) -> m.SipCredential:
    """The credential a write touches, read once per call (the question names it and shows old -> new)."""

    async def lookup() -> m.SipCredential:
        return m.sip_credential_from_api(await ctx.client.read(operation, f"{CREDENTIALS}/{args.id}"))

    return await ctx.once("credential", lookup)


async def _update_body(args: m.UpdateSipCredentialInput, ctx: CallContext) -> dict[str, Any]:
    """The PUT body: the changed fields, and the `calling_handler_resource_id` the spec requires, kept as it is
    (the call handler itself is left out: the API lists handlers, e.g. call_flow, that its update refuses)."""
    current = await _credential(args, ctx, "signalwire_update_sip_credential")
    body = args.changes() | {"calling_handler_resource_id": current.calling_handler_resource_id}
    if args.new_password:
        body["password"] = SECRET_PLACEHOLDER
    return body


async def _prepare_update_credential(args: m.UpdateSipCredentialInput, ctx: CallContext) -> PreparedRequest:
    return PreparedRequest("PUT", f"{CREDENTIALS}/{args.id}", json=await _update_body(args, ctx))


async def _summarize_update_credential(args: m.UpdateSipCredentialInput, ctx: CallContext) -> str:
    current = (await _credential(args, ctx, "signalwire_update_sip_credential")).model_dump()

    def shown(key: str, value: Any) -> str:  # a send_as number as people read it (callees see it)
        return pretty(value) if key == "send_as" and isinstance(value, str) and value.startswith("+") else _fmt(value)

    changes = [f"{key}: {shown(key, current.get(key))} -> {shown(key, value)}" for key, value in args.changes().items()]
    if args.new_password:
        changes.append("password: replaced by one you set on the approval page (phones using the old one stop "
                       "registering)")  # fmt: skip
    return f"Update SIP credential {_fmt(current['username'])} ({args.id}): " + "; ".join(changes)


async def _numbers_routed_to(credential_id: str, ctx: CallContext) -> list[m.PhoneNumber]:
    """Phone numbers whose calls go to this credential (what the provider lets us see)."""
    numbers, _ = await _every(ctx, "signalwire_delete_sip_credential", NUMBERS, m.phone_number_page_from_api)
    return [n for n in numbers if (n.routing or {}).get("call_sip_endpoint_id") == credential_id]


async def _summarize_delete_credential(args: m.DeleteSipCredentialInput, ctx: CallContext) -> str:
    credential = await _credential(args, ctx, "signalwire_delete_sip_credential")
    routed = await _numbers_routed_to(str(args.id), ctx)
    words = (
        f"Permanently delete SIP credential {_fmt(credential.username)} ({args.id}): phones and PBXs registered "
        "with it can no longer register or call. This cannot be undone"
    )
    if routed:
        words += ". IN USE: the calls of " + ", ".join(pretty(n.number) for n in routed) + " are routed to it"
    return words


async def _deleted_credential(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
    credential = await _credential(args, ctx, "signalwire_delete_sip_credential")
    return m.DeletedSipCredential(id=str(args.id), username=credential.username)


async def _prepare_delete_credential(args: m.DeleteSipCredentialInput, ctx: CallContext) -> PreparedRequest:
    await _credential(args, ctx, "signalwire_delete_sip_credential")  # an unknown id stops before anyone is asked
    return PreparedRequest("DELETE", f"{CREDENTIALS}/{args.id}", fields={"id": str(args.id)})


_write = functools.partial(Operation, provider="signalwire", default=False)
"""A write outside the default exposure (listed with its toolset or `all`)."""


_CREDENTIAL = {"scope": "signalwire:sip_credentials:write", "idempotent": False, "not_found": "No SIP credential {id}."}
CREDENTIAL_WRITES: tuple[Operation, ...] = (
    _write(
        name="signalwire_create_sip_credential",
        title="Create a SIP credential",
        description="Create a SIP credential for a phone or PBX; a person sets its password on the approval page.",
        method="POST",
        path=CREDENTIALS,
        input=m.CreateSipCredentialInput,
        output=m.SipCredential,
        effect="write",
        prepare=_prepare_create_credential,
        interpret=_one(m.sip_credential_from_api),
        summarize=_summarize_create_credential,
        subject=lambda a: WriteSubject(target=a.username),
        secret=_password,
        **_CREDENTIAL,
    ),
    _write(
        name="signalwire_update_sip_credential",
        title="Update a SIP credential",
        description="Change a SIP credential's settings, or have a person set a new password (new_password).",
        method="PUT",
        path=CREDENTIALS + "/{id}",
        input=m.UpdateSipCredentialInput,
        output=m.SipCredential,
        effect="write",
        prepare=_prepare_update_credential,
        interpret=_one(m.sip_credential_from_api),
        summarize=_summarize_update_credential,
        subject=_target,
        secret=_password,
        **_CREDENTIAL,
    ),
    _write(
        name="signalwire_delete_sip_credential",
        title="Delete a SIP credential",
        description="Permanently delete a SIP credential; phones using it stop working.",
        method="DELETE",
        path=CREDENTIALS + "/{id}",
        input=m.DeleteSipCredentialInput,
        output=m.DeletedSipCredential,
        effect="destructive",
        prepare=_prepare_delete_credential,
        interpret=_deleted_credential,
        summarize=_summarize_delete_credential,
        subject=_target,
        **_CREDENTIAL,
    ),
)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="signalwire_list_sip_credentials",
        title="List SIP credentials",
        description="List the SIP credentials (endpoints) that phones and PBXs register with, one page at a time.",
        provider="signalwire",
        method="GET",
        path=CREDENTIALS,
        input=m.ListSipCredentialsInput,
        output=m.SipCredentialPage,
        scope="signalwire:sip_credentials:read",
        effect="read",
        idempotent=True,
        prepare=_list_request(CREDENTIALS),
        interpret=_list_result(
            CREDENTIALS, m.sip_credential_page_from_api, m.SipCredentialPage, "signalwire_list_sip_credentials"
        ),
    ),
    Operation(
        name="signalwire_get_sip_credential",
        title="Get a SIP credential",
        description="Get one SIP credential by id: username, caller ID, codecs, encryption and call routing.",
        provider="signalwire",
        method="GET",
        path=CREDENTIALS + "/{id}",
        input=m.GetSipCredentialInput,
        output=m.SipCredential,
        scope="signalwire:sip_credentials:read",
        effect="read",
        idempotent=True,
        interpret=_one(m.sip_credential_from_api),
    ),
    Operation(
        name="signalwire_list_sip_gateways",
        title="List SIP gateways",
        description="List the SIP gateways (trunks to other SIP servers) with their URI, codecs and encryption.",
        provider="signalwire",
        method="GET",
        path=GATEWAYS,
        input=m.ListSipGatewaysInput,
        output=m.SipGatewayPage,
        scope="signalwire:sip_gateways:read",
        effect="read",
        idempotent=True,
        prepare=_list_request(GATEWAYS),
        interpret=_list_result(GATEWAYS, m.sip_gateway_page_from_api, m.SipGatewayPage, "signalwire_list_sip_gateways"),
    ),
    Operation(
        name="signalwire_update_sip_gateway",
        title="Update a SIP gateway",
        description="Change a SIP gateway's name, URI, encryption, ciphers or codecs; other fields stay as they are.",
        provider="signalwire",
        method="PATCH",
        path=GATEWAYS + "/{id}",
        input=m.UpdateSipGatewayInput,
        output=m.SipGateway,
        scope="signalwire:sip_gateways:write",
        effect="write",
        idempotent=True,
        interpret=_one(m.sip_gateway_from_api),
        summarize=_summarize_gateway,
        subject=_gateway_subject,
    ),
    Operation(
        name="signalwire_get_sip_profile",
        title="Get the SIP profile",
        description="Get the project's SIP profile: SIP domain and default codecs, ciphers, encryption and caller ID.",
        provider="signalwire",
        method="GET",
        path=PROFILE,
        input=m.GetSipProfileInput,
        output=m.SipProfile,
        scope="signalwire:sip_profile:read",
        effect="read",
        idempotent=True,
        interpret=_one(m.sip_profile_from_api),
    ),
    Operation(
        name="signalwire_update_sip_profile",
        title="Update the SIP profile",
        description="Change the project's SIP defaults (domain identifier, codecs, ciphers, encryption, send-as).",
        provider="signalwire",
        method="PUT",
        path=PROFILE,
        input=m.UpdateSipProfileInput,
        output=m.SipProfile,
        scope="signalwire:sip_profile:write",
        effect="write",
        idempotent=True,
        interpret=_one(m.sip_profile_from_api),
        summarize=_summarize_profile,
        subject=_target,
    ),
    Operation(
        name="signalwire_list_recordings",
        title="List recordings",
        description="List call recordings, newest first, one page at a time.",
        provider="signalwire",
        method="GET",
        path=RECORDINGS,
        input=m.ListRecordingsInput,
        output=m.RecordingPage,
        scope="signalwire:recordings:read",
        effect="read",
        idempotent=True,
        prepare=_list_request(RECORDINGS),
        interpret=_list_result(RECORDINGS, m.recording_page_from_api, m.RecordingPage, "signalwire_list_recordings"),
    ),
    Operation(
        name="signalwire_get_recording",
        title="Get a recording",
        description="Get one recording by id: leg, duration, status, price and the URL of the audio.",
        provider="signalwire",
        method="GET",
        path=RECORDINGS + "/{id}",
        input=m.GetRecordingInput,
        output=m.Recording,
        scope="signalwire:recordings:read",
        effect="read",
        idempotent=True,
        interpret=_one(m.recording_from_api),
    ),
    Operation(
        name="signalwire_delete_recording",
        title="Delete a recording",
        description="Permanently delete one recording. This cannot be undone.",
        provider="signalwire",
        method="DELETE",
        path=RECORDINGS + "/{id}",
        input=m.DeleteRecordingInput,
        output=m.DeletedRecording,
        scope="signalwire:recordings:write",
        effect="destructive",
        idempotent=False,
        interpret=_deleted,
        summarize=_summarize_delete,
        subject=_target,
    ),
    _read(
        "signalwire_get_sip_gateway",
        "Get a SIP gateway",
        "Get one SIP gateway by id: name, URI, codecs and encryption.",
        GATEWAYS + "/{id}",
        m.GetSipGatewayInput,
        m.SipGateway,
        scope="signalwire:sip_gateways:read",
        interpret=_one(m.sip_gateway_from_api),
    ),
    _list(
        "signalwire_list_phone_numbers",
        "List phone numbers",
        "List the project's phone numbers with where their calls and messages are routed.",
        NUMBERS,
        m.ListPhoneNumbersInput,
        m.PhoneNumberPage,
        m.phone_number_page_from_api,
        scope="signalwire:phone_numbers:read",
    ),
    _read(
        "signalwire_get_phone_number",
        "Get a phone number",
        "Get one phone number by id with its call and message routing.",
        NUMBERS + "/{id}",
        m.GetPhoneNumberInput,
        m.PhoneNumber,
        scope="signalwire:phone_numbers:read",
        interpret=_one(m.phone_number_from_api),
    ),
    _list(
        "signalwire_list_voice_logs",
        "List voice logs",
        "List call logs (from, to, status, duration, charge), newest first.",
        VOICE_LOGS,
        m.ListVoiceLogsInput,
        m.VoiceLogPage,
        m.voice_log_page_from_api,
        scope="signalwire:voice_logs:read",
    ),
    _read(
        "signalwire_get_voice_log",
        "Get a voice log",
        "Get one call log by id.",
        VOICE_LOGS + "/{id}",
        m.GetVoiceLogInput,
        m.VoiceLog,
        scope="signalwire:voice_logs:read",
        interpret=_one(m.voice_log_from_api),
    ),
    _list(
        "signalwire_list_messaging_logs",
        "List messaging logs",
        "List SMS and MMS logs (from, to, status, segments, charge), newest first.",
        MESSAGING_LOGS,
        m.ListMessagingLogsInput,
        m.MessagingLogPage,
        m.messaging_log_page_from_api,
        scope="signalwire:messaging_logs:read",
    ),
    *CREDENTIAL_WRITES,
)


# ------------------------------------------------------------------ writes of issue 13
MESSAGES = "/api/messaging/messages"
LOOKUP_PAGE_SIZE = 1000
LOOKUP_PAGES = 5
ROUTED_SHOWN = 10  # a question names this many of what still routes to a gateway, then counts the rest
"""A write's supporting list reads stop after this many pages (5000 items); the question says when they did."""


async def _every(
    ctx: CallContext, operation: str, path: str, parse: Callable[[Any], tuple[list[Any], str | None]]
) -> tuple[list[Any], bool]:
    """Every item of a list (its pages followed on the configured base), and whether the list was read to its end."""
    items: list[Any] = []
    query: tuple[tuple[str, str], ...] = () if path in UNSIZED else (("page_size", str(LOOKUP_PAGE_SIZE)),)
    for _ in range(LOOKUP_PAGES):
        page, next_url = parse(await ctx.client.read(operation, path, query))
        items += page
        cursor = next_page(next_url, path)
        if cursor is None:
            return items, True
        query = tuple(decode_cursor(cursor, path, size="page_size", max_size=LOOKUP_PAGE_SIZE))
    return items, False


# ---- create a SIP gateway
_MEDIA = (("encryption", "default_encryption"), ("ciphers", "default_ciphers"), ("codecs", "default_codecs"))
# What a gateway accepts: the profile's defaults are plain strings upstream, so each is checked before it is used.
_GATEWAY_VALUES = {
    "encryption": set(get_args(m.GatewayEncryption)),
    "ciphers": set(get_args(m.Cipher)),
    "codecs": set(get_args(m.Codec)),
}


async def _gateway_body(args: m.CreateSipGatewayInput, ctx: CallContext) -> tuple[dict[str, Any], list[str]]:
    """The POST body (all five fields, as the API requires them) and which came from the SIP profile."""
    body = args.model_dump(mode="json", exclude_none=True)
    missing = [key for key, _ in _MEDIA if key not in body]
    if not missing:
        return body, []

    profile = await _profile_defaults(ctx, "signalwire_create_sip_gateway")
    for key, default in _MEDIA:
        if key in missing:
            value = getattr(profile, default)
            if not value:
                raise InvalidInput(f"give {key}: the project's SIP profile has no {default} to use instead")
            unusable = [v for v in ([value] if isinstance(value, str) else value) if v not in _GATEWAY_VALUES[key]]
            if unusable:
                raise InvalidInput(f"give {key}: the SIP profile's {default} has values a gateway does not take: "
                                   + inline(unusable, "signalwire"))  # fmt: skip
            body[key] = value
    return body, missing


async def _prepare_create_gateway(args: m.CreateSipGatewayInput, ctx: CallContext) -> PreparedRequest:
    body, _ = await _gateway_body(args, ctx)
    return PreparedRequest("POST", GATEWAYS, json=body)


async def _summarize_create_gateway(args: m.CreateSipGatewayInput, ctx: CallContext) -> str:
    body, defaulted = await _gateway_body(args, ctx)
    media = "; ".join(
        f"{key} {_fmt(body[key])}" + (" (the SIP profile's default)" if key in defaulted else "") for key, _ in _MEDIA
    )
    return f"Create SIP gateway {_fmt(args.name)} to {_fmt(args.uri)}: {media}"


# ---- delete a SIP gateway
async def _gateway(args: m.DeleteSipGatewayInput, ctx: CallContext) -> m.SipGateway:
    """The gateway to delete, read once per call; an unknown id is refused before anything is sent."""

    async def lookup() -> m.SipGateway:
        try:
            return m.sip_gateway_from_api(
                await ctx.client.read("signalwire_delete_sip_gateway", f"{GATEWAYS}/{args.id}")
            )
        except NotFound:
            raise NotFound(f"No SIP gateway {args.id}. Nothing was sent.", provider="signalwire",
                           operation="signalwire_delete_sip_gateway") from None  # fmt: skip

    return await ctx.once("sip-gateway", lookup)


async def _routed_through(gateway: m.SipGateway, ctx: CallContext) -> list[str]:
    """What still sends calls to the gateway: numbers and SIP credentials whose handler resource is it."""
    ids = {i.lower() for i in (gateway.id, gateway.sip_gateway_id) if i}
    name = "signalwire_delete_sip_gateway"
    numbers, all_numbers = await _every(ctx, name, NUMBERS, m.phone_number_page_from_api)
    credentials, all_credentials = await _every(ctx, name, CREDENTIALS, m.sip_credential_page_from_api)
    routed = [
        f"phone number {pretty(n.number)}" + (f" ({_fmt(n.name)})" if n.name else "")
        for n in numbers
        if (n.calling_handler_resource_id or "").lower() in ids
    ]
    routed += [f"SIP credential {_fmt(c.username)}" for c in credentials
               if (c.calling_handler_resource_id or "").lower() in ids]  # fmt: skip
    if len(routed) > ROUTED_SHOWN:
        routed[ROUTED_SHOWN:] = [f"and {len(routed) - ROUTED_SHOWN} more"]
    if not (all_numbers and all_credentials):
        routed.append(f"(only the first {LOOKUP_PAGE_SIZE * LOOKUP_PAGES} numbers and credentials were checked)")
    return routed


async def _prepare_delete_gateway(args: m.DeleteSipGatewayInput, ctx: CallContext) -> PreparedRequest:
    await _gateway(args, ctx)
    return PreparedRequest("DELETE", fill_path(GATEWAYS + "/{id}", args), fields={"id": str(args.id)})


async def _summarize_delete_gateway(args: m.DeleteSipGatewayInput, ctx: CallContext) -> str:
    gateway = await _gateway(args, ctx)
    name = f"{_fmt(gateway.name)} " if gateway.name else ""
    uri = f" to {_fmt(gateway.uri)}" if gateway.uri else ""
    summary = f"Permanently delete SIP gateway {name}({args.id}){uri}: calls can no longer be sent through it"
    routed = await _routed_through(gateway, ctx)
    if routed:
        summary += ". STILL ROUTED to this gateway, their calls will fail: " + ", ".join(routed)
    return summary + ". This cannot be undone"


async def _deleted_gateway(response: httpx2.Response, args: m.DeleteSipGatewayInput, ctx: CallContext) -> BaseModel:
    return m.DeletedSipGateway(id=str(args.id), deleted=True)


# ---- route a phone number
async def _number_now(args: m.UpdatePhoneNumberInput, ctx: CallContext) -> dict[str, Any]:
    """The number as SignalWire has it now (read once per call), for the old -> new question."""

    async def lookup() -> dict[str, Any]:
        try:
            raw = await ctx.client.read("signalwire_update_phone_number", f"{NUMBERS}/{args.id}")
        except NotFound:
            raise NotFound(f"No phone number {args.id} in this project. Nothing was sent.", provider="signalwire",
                           operation="signalwire_update_phone_number") from None  # fmt: skip
        m.phone_number_from_api(raw)  # the shape is checked: a number and an id
        now = dict(p.obj(raw, "phone number"))
        _check_targets(args, now)
        return now

    return await ctx.once("phone-number", lookup)


def _check_targets(args: m.UpdatePhoneNumberInput, now: dict[str, Any]) -> None:
    """A handler chosen without where it should send (given now or already set) would leave the number dead."""
    for key, targets in m.HANDLER_TARGETS.items():
        handler = getattr(args, key)
        target = targets.get(handler or "")
        if target and getattr(args, target) is None and not now.get(target):
            raise InvalidInput(f"{key} {handler} needs {target}: give it too (the number has none yet)")


async def _prepare_update_number(args: m.UpdatePhoneNumberInput, ctx: CallContext) -> PreparedRequest:
    await _number_now(args, ctx)
    return PreparedRequest("PUT", fill_path(NUMBERS + "/{id}", args), json=args.body(), fields={"id": str(args.id)})


async def _summarize_update_number(args: m.UpdatePhoneNumberInput, ctx: CallContext) -> str:
    now = await _number_now(args, ctx)
    name = f" ({_fmt(now.get('name'))})" if now.get("name") else ""
    changes = "; ".join(f"{key}: {_fmt(now.get(key))} -> {_fmt(value)}" for key, value in args.body().items())
    return f"Change the routing of {pretty(str(now.get('number')))}{name}: {changes}"


# ---- send an SMS
async def _sms_number(args: m.SendMessageInput, ctx: CallContext) -> m.PhoneNumber:
    """The project's number the SMS is sent from (read once per call): not ours or not SMS-capable is refused."""

    async def lookup() -> m.PhoneNumber:
        numbers, _ = await _every(ctx, "signalwire_send_message", NUMBERS, m.phone_number_page_from_api)
        digits = args.from_number.lstrip("+")
        ours = next((n for n in numbers if "".join(c for c in n.number if c.isdigit()) == digits), None)
        if ours is None:
            raise InvalidInput(f"from_number {pretty(args.from_number)} is not one of this project's numbers: "
                               + inline([n.number for n in numbers][:10], "signalwire"))  # fmt: skip
        if ours.capabilities is not None and "sms" not in ours.capabilities:
            raise InvalidInput(f"from_number {pretty(args.from_number)} cannot send SMS (its capabilities: "
                               + inline(ours.capabilities, "signalwire") + ")")  # fmt: skip
        return ours

    return await ctx.once("sms-number", lookup)


async def _prepare_send(args: m.SendMessageInput, ctx: CallContext) -> PreparedRequest:
    ours = await _sms_number(args, ctx)
    return PreparedRequest("POST", MESSAGES, json=args.payload() | {"from": ours.number})


async def _summarize_send(args: m.SendMessageInput, ctx: CallContext) -> str:
    ours = await _sms_number(args, ctx)
    origin = pretty(ours.number) + (f" ({_fmt(ours.name)})" if ours.name else "")
    return f"Send SMS from {origin} to {pretty(args.to_number)}: {quote(args.body)}"


WRITES: tuple[Operation, ...] = (
    _write(
        name="signalwire_create_sip_gateway",
        title="Create a SIP gateway",
        description="Create a SIP gateway (trunk); encryption, ciphers and codecs default to the SIP profile's.",
        method="POST",
        path=GATEWAYS,
        input=m.CreateSipGatewayInput,
        output=m.SipGateway,
        scope="signalwire:sip_gateways:write",
        effect="write",
        idempotent=False,
        prepare=_prepare_create_gateway,
        interpret=_one(m.sip_gateway_from_api),
        summarize=_summarize_create_gateway,
        subject=_gateway_subject,
    ),
    _write(
        name="signalwire_delete_sip_gateway",
        title="Delete a SIP gateway",
        description="Permanently delete a SIP gateway; numbers still routed to it are named first.",
        method="DELETE",
        path=GATEWAYS + "/{id}",
        input=m.DeleteSipGatewayInput,
        output=m.DeletedSipGateway,
        scope="signalwire:sip_gateways:write",
        effect="destructive",
        idempotent=False,
        prepare=_prepare_delete_gateway,
        interpret=_deleted_gateway,
        summarize=_summarize_delete_gateway,
        subject=_target,
        not_found="No SIP gateway {id}.",
    ),
    _write(
        name="signalwire_update_phone_number",
        title="Route a phone number",
        description="Change where a number's calls and messages go; URLs: https on an allowed host. Others stay.",
        method="PUT",
        path=NUMBERS + "/{id}",
        input=m.UpdatePhoneNumberInput,
        output=m.PhoneNumber,
        scope="signalwire:phone_numbers:write",
        effect="destructive",
        idempotent=True,
        prepare=_prepare_update_number,
        interpret=_one(m.phone_number_from_api),
        summarize=_summarize_update_number,
        subject=lambda a: WriteSubject(target=str(a.id), urls=a.routing_urls()),
        not_found="No phone number {id} in this project.",
    ),
    _write(
        name="signalwire_send_message",
        title="Send an SMS",
        description="Send an SMS from one of the project's numbers.",
        method="POST",
        path=MESSAGES,
        input=m.SendMessageInput,
        output=m.SentMessage,
        scope="signalwire:messages:write",
        effect="write",
        idempotent=False,
        prepare=_prepare_send,
        interpret=_one(m.sent_message_from_api),
        summarize=_summarize_send,
        subject=lambda a: WriteSubject(destinations=(a.to_number,), kind="sms", text=a.body),
    ),
)

OPERATIONS = (*OPERATIONS, *WRITES)
