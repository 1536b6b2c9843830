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
from telco_mcp.operation import Operation, WriteSubject
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
    async def prepare(args: m.ListSipCredentialsInput, ctx: CallContext) -> PreparedRequest:
        if args.cursor:
            query = decode_cursor(args.cursor, path, size="page_size", max_size=MAX_LIMIT)
            return PreparedRequest("GET", path, tuple(query))
        return PreparedRequest("GET", path, (("page_size", str(args.limit)),))

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
)
