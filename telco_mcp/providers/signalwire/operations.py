"""SignalWire operations: SIP credentials and gateways, the SIP profile, recordings, numbers and logs.

Base `https://{space}.signalwire.com`, Basic auth `project_id:api_token`. Lists follow the
provider's `links.next`: its query (page number, size and token) becomes an opaque cursor, and the
next page is always requested at the tool's own path on the configured base URL, never at the
link's host or path (a proxy, a path prefix or a different host spelling must not break paging).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
from pydantic import BaseModel

from telco_mcp.http import CallContext
from telco_mcp.models import MAX_LIMIT
from telco_mcp.operation import SECRET_PLACEHOLDER, Operation, WriteSubject
from telco_mcp.phone import pretty
from telco_mcp.providers.signalwire import models as m
from telco_mcp.untrusted import quote
from telco_mcp.wire import PreparedRequest, decode_cursor, next_page, response_json

CREDENTIALS = "/api/fabric/resources/sip_endpoints"
GATEWAYS = "/api/fabric/resources/sip_gateways"
PROFILE = "/api/relay/rest/sip_profile"
RECORDINGS = "/api/relay/rest/recordings"
NUMBERS = "/api/relay/rest/phone_numbers"
VOICE_LOGS = "/api/voice/logs"
MESSAGING_LOGS = "/api/messaging/logs"


# ------------------------------------------------------------------ lists
def _list_request(path: str) -> Callable[[Any, CallContext], Any]:
    async def prepare(args: Any, ctx: CallContext) -> PreparedRequest:
        if args.cursor:
            query = decode_cursor(args.cursor, path, size="page_size", max_size=MAX_LIMIT)
            return PreparedRequest("GET", path, tuple(query))
        filters = args.filters() if hasattr(args, "filters") else []  # a log list's time window
        return PreparedRequest("GET", path, (("page_size", str(args.limit)), *filters))

    return prepare


def _list_result(
    path: str, parse: Callable[[Any], tuple[list[Any], str | None]], page: type[BaseModel]
) -> Callable[..., Any]:
    async def interpret(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
        items, next_url = parse(response_json(response))
        return page(items=items, next_cursor=next_page(next_url, path))

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
    prepare, interpret = _list_request(path), _list_result(path, parse, output)
    return _read(name, title, description, path, input, output, scope=scope, prepare=prepare, interpret=interpret)


# ------------------------------------------------------------------ SIP credential writes (issue 13)
# The password never passes through the model: the request carries SECRET_PLACEHOLDER, a person types the
# password (or has a strong one generated and shown once) on the approval page, and the write pipeline puts it
# in right before the request leaves. The fabric spec omits `password` from these bodies; the live API takes it
# (notes §2.2: every sibling SIP endpoint request documents it).
def _password(args: Any) -> str | None:
    return "password" if getattr(args, "new_password", True) else None


async def _profile_defaults(ctx: CallContext) -> m.SipProfile:
    """The project's SIP profile: a new credential takes its codecs and ciphers unless told otherwise."""

    async def lookup() -> m.SipProfile:
        return m.sip_profile_from_api(await ctx.client.read("signalwire_create_sip_credential", PROFILE))

    return await ctx.once("sip-profile", lookup)


async def _create_body(args: m.CreateSipCredentialInput, ctx: CallContext) -> dict[str, Any]:
    profile = await _profile_defaults(ctx)
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
    changes = [f"{key}: {_fmt(current.get(key))} -> {_fmt(value)}" for key, value in args.changes().items()]
    if args.new_password:
        changes.append("password: replaced by one you set on the approval page (phones using the old one stop "
                       "registering)")  # fmt: skip
    return f"Update SIP credential {_fmt(current['username'])} ({args.id}): " + "; ".join(changes)


async def _numbers_routed_to(credential_id: str, ctx: CallContext) -> list[m.PhoneNumber]:
    """Phone numbers whose calls go to this credential, over the first pages (what the provider lets us see)."""
    found: list[m.PhoneNumber] = []
    query: tuple[tuple[str, str], ...] = (("page_size", str(MAX_LIMIT)),)
    for _ in range(5):
        items, next_url = m.phone_number_page_from_api(
            await ctx.client.read("signalwire_delete_sip_credential", NUMBERS, query)
        )
        found += [n for n in items if n.call_sip_endpoint_id == credential_id]
        cursor = next_page(next_url, NUMBERS)
        if cursor is None:
            break
        query = tuple(decode_cursor(cursor, NUMBERS, size="page_size", max_size=MAX_LIMIT))
    return found


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


def _credential_write(name: str, title: str, description: str, method: Any, path: str, **hooks: Any) -> Operation:
    return Operation(
        name=name, title=title, description=description, provider="signalwire", method=method, path=path,
        output=m.SipCredential, scope="signalwire:sip_credentials:write", idempotent=False, default=False,
        not_found="No SIP credential {id}.", **hooks,
    )  # fmt: skip


CREDENTIAL_WRITES: tuple[Operation, ...] = (
    _credential_write(
        "signalwire_create_sip_credential", "Create a SIP credential",
        "Create a SIP credential for a phone or PBX; a person sets its password on the approval page.",
        "POST", CREDENTIALS, input=m.CreateSipCredentialInput, effect="write",
        prepare=_prepare_create_credential, interpret=_one(m.sip_credential_from_api),
        summarize=_summarize_create_credential, subject=lambda a: WriteSubject(target=a.username),
        secret=_password,
    ),
    _credential_write(
        "signalwire_update_sip_credential", "Update a SIP credential",
        "Change a SIP credential's settings, or have a person set a new password (new_password).",
        "PUT", CREDENTIALS + "/{id}", input=m.UpdateSipCredentialInput, effect="write",
        prepare=_prepare_update_credential, interpret=_one(m.sip_credential_from_api),
        summarize=_summarize_update_credential, subject=_target, secret=_password,
    ),
)  # fmt: skip
DELETE_CREDENTIAL = Operation(
    name="signalwire_delete_sip_credential",
    title="Delete a SIP credential",
    description="Permanently delete a SIP credential; phones using it stop working.",
    provider="signalwire",
    method="DELETE",
    path=CREDENTIALS + "/{id}",
    input=m.DeleteSipCredentialInput,
    output=m.DeletedSipCredential,
    scope="signalwire:sip_credentials:write",
    effect="destructive",
    idempotent=False,
    default=False,
    prepare=_prepare_delete_credential,
    interpret=_deleted_credential,
    summarize=_summarize_delete_credential,
    subject=_target,
    not_found="No SIP credential {id}.",
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
        interpret=_list_result(CREDENTIALS, m.sip_credential_page_from_api, m.SipCredentialPage),
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
        interpret=_list_result(GATEWAYS, m.sip_gateway_page_from_api, m.SipGatewayPage),
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
        subject=_target,
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
        interpret=_list_result(RECORDINGS, m.recording_page_from_api, m.RecordingPage),
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
    DELETE_CREDENTIAL,
)
