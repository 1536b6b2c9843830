"""SignalWire tool inputs, tool results, and the upstream payload -> result transforms.

Inputs are what the model chooses; ``body()`` turns one into the exact JSON body SignalWire expects.
Results are flattened and compact. Each ``*_from_api`` function reads only the fields it knows (so
new upstream fields never break it and never leak into a result) and raises ``ValueError`` when a
field we cannot do without is missing or the payload has the wrong shape.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from telco_mcp.models import IsoDate, IsoTime, Page, PageInput, Result, StrictInput
from telco_mcp.phone import possible_e164, to_e164
from telco_mcp.providers import payload as p
from telco_mcp.routing import gateway_uri, routing_url

T = TypeVar("T")
logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# Enums
# --------------------------------------------------------------------------------------------------

Codec = Literal[
    "PCMU",
    "PCMA",
    "G722",
    "G729",
    "OPUS",
    "OPUS@48000H@20I",
    "OPUS@24000H@20I",
    "OPUS@16000H@20I",
    "OPUS@8000H@20I",
    "VP8",
    "H264",
]
Cipher = Literal[
    "AEAD_AES_256_GCM_8",
    "AES_256_CM_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_32",
    "AES_CM_128_HMAC_SHA1_32",
]
GatewayEncryption = Literal["required", "optional", "default"]
ProfileEncryption = Literal["required", "optional"]
LegType = Literal["pstn", "sip", "webrtc", "conference"]


# Unique items drawn from an enum, so the length bound (1..len(enum)) follows; only minItems is shown.
Codecs = Annotated[list[Codec], AfterValidator(p.unique), Field(min_length=1, description="Codecs, preferred first.")]
Ciphers = Annotated[list[Cipher], AfterValidator(p.unique), Field(min_length=1, description="SRTP ciphers.")]

# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------


class ListSipCredentialsInput(PageInput):
    """List SIP credentials."""


class ListSipGatewaysInput(PageInput):
    """List SIP gateways."""


class ListRecordingsInput(PageInput):
    """List call recordings."""


class GetSipCredentialInput(StrictInput):
    """Get one SIP credential."""

    id: UUID = Field(description="SIP credential id.")


class GetRecordingInput(StrictInput):
    """Get one recording."""

    id: UUID = Field(description="Recording id.")


class DeleteRecordingInput(StrictInput):
    """Delete one recording."""

    id: UUID = Field(description="Recording id.")


class GetSipProfileInput(StrictInput):
    """Get the project's SIP profile."""


class UpdateSipGatewayInput(StrictInput):
    """Change a SIP gateway; only the given fields change."""

    id: UUID = Field(description="SIP gateway id.")
    name: str | None = Field(default=None, min_length=1, max_length=100, description="Display name.")
    uri: Annotated[str, AfterValidator(gateway_uri)] | None = Field(
        default=None, max_length=256, description="sip:[user@]host[:port]."
    )
    encryption: GatewayEncryption | None = Field(default=None, description="SRTP requirement.")
    ciphers: Ciphers | None = None
    codecs: Codecs | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateSipGatewayInput:
        if not self.body():
            raise ValueError("nothing to change: give at least one of name, uri, encryption, ciphers, codecs")
        return self

    def body(self) -> dict[str, Any]:
        """The PATCH body: only the fields that were given, JSON-ready."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"id"})


class UpdateSipProfileInput(StrictInput):
    """Change the project's SIP profile; only the given fields change."""

    domain_identifier: str | None = Field(
        default=None, min_length=1, max_length=63, pattern=r"^[a-z0-9-]+$", description="Subdomain label (a-z, 0-9, -)."
    )
    default_codecs: Codecs | None = None
    default_ciphers: Ciphers | None = None
    default_encryption: ProfileEncryption | None = Field(default=None, description="SRTP requirement.")
    default_send_as: str | None = Field(
        default=None, max_length=32, description='E.164 number for PSTN calls; "" = random.'
    )

    @field_validator("default_send_as")
    @classmethod
    def _send_as_is_a_number(cls, value: str | None) -> str | None:
        if not value:
            return value
        # No national-format guessing here: phone.py assumes German numbers, SignalWire projects are global.
        if not value.startswith("+"):
            raise ValueError(f"default_send_as {value!r} must be an international number starting with +")
        return possible_e164(value)  # shown as the caller, never dialled: a possible number suffices

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateSipProfileInput:
        if not self.body():
            raise ValueError(
                "nothing to change: give at least one of domain_identifier, default_codecs, default_ciphers, "
                "default_encryption, default_send_as"
            )
        return self

    def body(self) -> dict[str, Any]:
        """The PUT body: only the fields that were given, JSON-ready."""
        return self.model_dump(mode="json", exclude_none=True)


# SIP credential writes (issue 13). The password is never an argument: see `Operation.secret`.
SipUsername = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="SIP username."),
]
CredentialEncryption = Literal["required", "optional", "default"]


def _send_as(value: str | None) -> str | None:
    if value is None or value == "random":
        return value
    if not value.startswith("+"):
        raise ValueError(f"send_as {value!r} must be an international number starting with +, or random")
    return possible_e164(value)  # shown as the caller, never dialled


SendAs = Annotated[str, AfterValidator(_send_as)]


class CreateSipCredentialInput(StrictInput):
    """Create a SIP credential; its password is set by a person on the approval page."""

    username: SipUsername
    caller_id: str | None = Field(default=None, max_length=64, description="Name shown to callees; default: username.")
    send_as: SendAs | None = Field(default=None, max_length=32, description='E.164 for PSTN calls; default "random".')
    codecs: Codecs | None = Field(default=None, description="Default: the SIP profile's.")
    ciphers: Ciphers | None = Field(default=None, description="Default: the SIP profile's.")
    encryption: CredentialEncryption = "default"


class UpdateSipCredentialInput(StrictInput):
    """Change a SIP credential; fields left out keep their value."""

    id: UUID = Field(description="SIP credential id.")
    username: SipUsername | None = None
    caller_id: str | None = Field(default=None, max_length=64)
    send_as: SendAs | None = Field(default=None, max_length=32, description='E.164, or "random".')
    codecs: Codecs | None = None
    ciphers: Ciphers | None = None
    encryption: CredentialEncryption | None = None
    new_password: bool = Field(default=False, description="A person sets a new password (never you).")

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateSipCredentialInput:
        if not self.changes() and not self.new_password:
            raise ValueError(
                "nothing to change: give at least one of username, caller_id, send_as, codecs, ciphers, encryption, "
                "new_password"
            )
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude={"id", "new_password"})


class DeleteSipCredentialInput(StrictInput):
    """Delete a SIP credential."""

    id: UUID = Field(description="SIP credential id.")


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------

_CALL_ROUTING_FIELDS = (
    "call_request_url",
    "call_request_method",
    "call_fallback_url",
    "call_fallback_method",
    "call_status_callback_url",
    "call_status_callback_method",
    "call_laml_application_id",
    "call_dialogflow_agent_id",
    "call_relay_topic",
    "call_relay_topic_status_callback_url",
    "call_relay_context",
    "call_relay_context_status_callback_url",
    "call_relay_application",
    "call_video_room_id",
    "call_relay_script_url",
)


class SipCredential(Result):
    """A SIP credential (fabric SIP endpoint)."""

    id: str
    type: str | None = Field(default=None, description='Resource type, "sip_endpoint".')
    username: str
    caller_id: str | None = None
    send_as: str | None = Field(default=None, description='Number used for PSTN calls, or "random".')
    encryption: str | None = None
    codecs: list[str] | None = None
    ciphers: list[str] | None = None
    call_handler: str | None = Field(default=None, description="What handles inbound calls.")
    calling_handler_resource_id: str | None = None
    routing: dict[str, str] | None = Field(
        default=None, description="The call handler's own settings, e.g. call_relay_topic (set ones only)."
    )


class SipCredentialPage(Page):
    items: list[SipCredential]


class SipGateway(Result):
    """A SIP gateway (flattened): the fabric resource and its inner ``sip_gateway`` block."""

    id: str = Field(description="Fabric resource id: what the other gateway tools take.")
    sip_gateway_id: str | None = Field(default=None, description="Id of the inner SIP gateway object.")
    project_id: str | None = None
    type: str | None = Field(default=None, description='Resource type, "sip_gateway".')
    display_name: str | None = Field(default=None, description="The resource's display name.")
    name: str | None = None
    uri: str | None = None
    encryption: str | None = None
    codecs: list[str] | None = None
    ciphers: list[str] | None = None
    created_at: str | None = None
    updated_at: str | None = None


class SipGatewayPage(Page):
    items: list[SipGateway]


class SipProfile(Result):
    """The project's SIP profile."""

    domain: str | None = None
    domain_identifier: str | None = None
    default_codecs: list[str] | None = None
    default_ciphers: list[str] | None = None
    default_encryption: str | None = None
    default_send_as: str | None = Field(default=None, description="Caller number for PSTN calls; empty = random.")


class Recording(Result):
    """A call recording."""

    id: str
    project_id: str | None = None
    leg_type: LegType = Field(description="What was recorded: a PSTN, SIP or WebRTC call leg, or a conference.")
    leg_id: str = Field(description="Id of that leg or conference.")
    conference_id: str | None = Field(default=None, description="Conference the leg belonged to.")
    created_at: str | None = None
    updated_at: str | None = None
    duration_in_seconds: int | None = None
    status: str | None = None
    url: str | None = None
    stereo: bool | None = None
    track: str | None = None
    price: float | None = None
    price_unit: str | None = None
    byte_size: int | None = None
    error_code: str | None = None


class RecordingPage(Page):
    items: list[Recording]


class DeletedRecording(Result):
    id: str
    deleted: bool = True


class DeletedSipCredential(Result):
    id: str
    username: str
    deleted: bool = True


# --------------------------------------------------------------------------------------------------
# Payload readers (shared by the transforms)
# --------------------------------------------------------------------------------------------------


def _list_page(payload: object, what: str, item: Callable[[Any], T]) -> tuple[list[T], str | None]:
    """Read a ``{links: {next?}, data: [...]}`` list response."""
    body = p.obj(payload, what)
    data = p.array(body.get("data"))
    if data is None:
        raise p.PayloadShapeError(f"{what}: field 'data' should be an array, got {p.kind(body.get('data'))}")
    items = [item(entry) for entry in data]
    # The items are the page; a link of an odd shape only means there is no usable next page.
    links = body.get("links")
    nxt = links.get("next") if isinstance(links, Mapping) else None
    if links is not None and not isinstance(nxt, str | None):
        logger.warning("%s: links.next is %s, not a URL; paging stops here", what, p.kind(nxt))
    elif links is not None and not isinstance(links, Mapping):
        logger.warning("%s: links is %s, not an object; paging stops here", what, p.kind(links))
    return items, nxt if isinstance(nxt, str) and nxt else None


# --------------------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------------------


def sip_credential_from_api(payload: Any) -> SipCredential:
    """``SipEndpointResponse`` -> ``SipCredential`` (drops null routing fields)."""
    what = "SIP credential"
    data = p.obj(payload, what)
    routing = {key: value for key in _CALL_ROUTING_FIELDS if (value := p.opt_str(data, key, what)) is not None}
    return SipCredential(
        id=p.req_str(data, "id", what),
        type=p.opt_str(data, "type", what),
        username=p.req_str(data, "username", what),
        caller_id=p.opt_str(data, "caller_id", what),
        send_as=p.opt_str(data, "send_as", what),
        encryption=p.opt_str(data, "encryption", what),
        codecs=p.opt_str_list(data, "codecs", what),
        ciphers=p.opt_str_list(data, "ciphers", what),
        call_handler=p.opt_str(data, "call_handler", what),
        calling_handler_resource_id=p.opt_str(data, "calling_handler_resource_id", what),
        routing=routing or None,
    )


def sip_credential_page_from_api(payload: Any) -> tuple[list[SipCredential], str | None]:
    """``SipEndpointListResponse`` -> (items, ``links.next`` URL or None).

    The spec documents the list as an *array* of ``{links, data}`` objects; the real API returns one
    object. Both are accepted (an empty array is an empty page; more than one element is an error).
    """
    what = "SIP credential list"
    pages = p.array(payload)
    if pages is not None:
        if not pages:
            return [], None
        if len(pages) > 1:
            raise p.PayloadShapeError(f"{what}: expected one {{links, data}} object, got an array of {len(pages)}")
        payload = pages[0]
    return _list_page(payload, what, sip_credential_from_api)


def sip_gateway_from_api(payload: Any) -> SipGateway:
    """``SipGatewayResponse`` -> ``SipGateway`` (the nested ``sip_gateway`` block is flattened)."""
    what = "SIP gateway"
    data = p.obj(payload, what)
    if data.get("sip_gateway") is None:
        raise p.PayloadShapeError(f"{what}: required field 'sip_gateway' is missing")
    inner = p.obj(data["sip_gateway"], f"{what} sip_gateway")
    return SipGateway(
        id=p.req_str(data, "id", what),
        sip_gateway_id=p.opt_str(inner, "id", what),
        project_id=p.opt_str(data, "project_id", what),
        type=p.opt_str(data, "type", what),
        display_name=p.opt_str(data, "display_name", what),
        name=p.opt_str(inner, "name", what) or p.opt_str(data, "display_name", what),
        uri=p.opt_str(inner, "uri", what),
        encryption=p.opt_str(inner, "encryption", what),
        codecs=p.opt_str_list(inner, "codecs", what),
        ciphers=p.opt_str_list(inner, "ciphers", what),
        created_at=p.opt_str(data, "created_at", what),
        updated_at=p.opt_str(data, "updated_at", what),
    )


def sip_gateway_page_from_api(payload: Any) -> tuple[list[SipGateway], str | None]:
    """``SipGatewayListResponse`` -> (items, ``links.next`` URL or None)."""
    return _list_page(payload, "SIP gateway list", sip_gateway_from_api)


def sip_profile_from_api(payload: Any) -> SipProfile:
    """``SipProfileResponse`` -> ``SipProfile`` (no field is required upstream)."""
    what = "SIP profile"
    data = p.obj(payload, what)
    known = ("domain", "domain_identifier", "default_codecs", "default_ciphers", "default_encryption")
    if not any(key in data for key in known):
        raise p.PayloadShapeError(f"{what}: none of {', '.join(known)} is present")
    return SipProfile(
        domain=p.opt_str(data, "domain", what),
        domain_identifier=p.opt_str(data, "domain_identifier", what),
        default_codecs=p.opt_str_list(data, "default_codecs", what),
        default_ciphers=p.opt_str_list(data, "default_ciphers", what),
        default_encryption=p.opt_str(data, "default_encryption", what),
        default_send_as=p.opt_str(data, "default_send_as", what),
    )


_LEG_KEYS: tuple[tuple[LegType, str], ...] = (
    ("pstn", "relay_pstn_leg_id"),
    ("sip", "relay_sip_leg_id"),
    ("webrtc", "relay_webrtc_leg_id"),
    ("conference", "relay_conference_id"),
)


def _recording_leg(data: Mapping[str, Any], what: str) -> tuple[LegType, str]:
    for leg_type, key in _LEG_KEYS:
        leg_id = p.opt_str(data, key, what)
        if leg_id:
            return leg_type, leg_id
    raise p.PayloadShapeError(f"{what}: none of {', '.join(key for _, key in _LEG_KEYS)} is present")


def recording_from_api(payload: Any) -> Recording:
    """One of ``PstnRecording | SipRecording | WebRtcRecording | ConferenceRecording`` -> ``Recording``.

    The variant is told by its leg key. Leg recordings may also carry ``relay_conference_id`` (the
    conference the leg was in), so the leg keys are checked before the conference key.
    """
    what = "recording"
    data = p.obj(payload, what)
    leg_type, leg_id = _recording_leg(data, what)
    conference_id = p.opt_str(data, "relay_conference_id", what) if leg_type != "conference" else None
    return Recording(
        id=p.req_str(data, "id", what),
        project_id=p.opt_str(data, "project_id", what),
        leg_type=leg_type,
        leg_id=leg_id,
        conference_id=conference_id,
        created_at=p.opt_str(data, "created_at", what),
        updated_at=p.opt_str(data, "updated_at", what),
        duration_in_seconds=p.opt_int(data, "duration_in_seconds", what),
        status=p.opt_str(data, "status", what),
        url=p.opt_str(data, "url", what),
        stereo=p.opt_bool(data, "stereo", what),
        track=p.opt_str(data, "track", what),
        price=p.opt_float(data, "price", what),
        price_unit=p.opt_str(data, "price_unit", what),
        byte_size=p.opt_int(data, "byte_size", what),
        error_code=p.opt_str(data, "error_code", what),
    )


def recording_page_from_api(payload: Any) -> tuple[list[Recording], str | None]:
    """``RecordingListResponse`` -> (items, ``links.next`` URL or None)."""
    return _list_page(payload, "recording list", recording_from_api)


# --------------------------------------------------------------------------------------------------
# Phone numbers, voice logs and messaging logs (read-only)
# --------------------------------------------------------------------------------------------------


class GetSipGatewayInput(StrictInput):
    """Get one SIP gateway."""

    id: UUID = Field(description="SIP gateway id.")


def _digits(value: str) -> str:
    if not re.fullmatch(r"\+?[0-9]{1,15}", value):
        raise ValueError("must be digits of a number, with or without a leading +, e.g. +1555")
    return value


class ListPhoneNumbersInput(PageInput):
    """List the project's phone numbers."""

    name: str | None = Field(default=None, max_length=100, description="Only names containing it.")
    number: Annotated[str, AfterValidator(_digits)] | None = Field(
        default=None, description="Only numbers containing it."
    )

    def filters(self) -> list[tuple[str, str]]:
        """SignalWire's substring filters (filter_name, filter_number)."""
        pairs = (("filter_name", self.name), ("filter_number", self.number))
        return [(key, value) for key, value in pairs if value is not None]


class GetPhoneNumberInput(StrictInput):
    """Get one phone number."""

    id: UUID = Field(description="Phone number id.")


class _LogWindow(PageInput):
    """Logs of a time window: "who called last night" without paging through the whole history."""

    created_after: IsoTime | None = Field(default=None, description="Only after this time (ISO 8601).")
    created_before: IsoTime | None = Field(default=None, description="Only before this time.")
    created_on: IsoDate | None = Field(default=None, description="Only on this day (UTC).")
    include_deleted: bool = Field(default=False, description="Also deleted activity.")

    @model_validator(mode="after")
    def _ordered(self) -> _LogWindow:
        if self.created_after and self.created_before and self.created_after >= self.created_before:
            raise ValueError("created_after must be earlier than created_before")
        return self

    def filters(self) -> list[tuple[str, str]]:
        """The window as SignalWire's query (UTC, ISO 8601)."""
        window = [
            (name, value.isoformat(timespec="seconds").replace("+00:00", "Z"))
            for name, value in (("created_after", self.created_after), ("created_before", self.created_before))
            if value is not None
        ]
        on = [("created_on", self.created_on.isoformat())] if self.created_on is not None else []
        return window + on + ([("include_deleted", "true")] if self.include_deleted else [])


class ListVoiceLogsInput(_LogWindow):
    """List voice logs."""


class GetVoiceLogInput(StrictInput):
    """Get one voice log."""

    id: UUID = Field(description="Voice log id.")


class ListMessagingLogsInput(_LogWindow):
    """List messaging logs."""


# What runs a number's inbound calls and messages: the handler, its resource and every routing field.
_NUMBER_ROUTING_FIELDS = (
    "call_handler",
    "calling_handler_resource_id",
    "call_receive_mode",
    "call_request_url",
    "call_request_method",
    "call_fallback_url",
    "call_fallback_method",
    "call_status_callback_url",
    "call_status_callback_method",
    "call_laml_application_id",
    "call_dialogflow_agent_id",
    "call_relay_topic",
    "call_relay_topic_status_callback_url",
    "call_relay_script_url",
    "call_relay_context",
    "call_relay_context_status_callback_url",
    "call_relay_application",
    "call_relay_connector_id",
    "call_sip_endpoint_id",
    "call_verto_resource",
    "call_video_room_id",
    "message_handler",
    "messaging_handler_resource_id",
    "message_request_url",
    "message_request_method",
    "message_fallback_url",
    "message_fallback_method",
    "message_laml_application_id",
    "message_relay_topic",
    "message_relay_context",
)


_NUMBER_HANDLERS = ("call_handler", "calling_handler_resource_id", "message_handler", "messaging_handler_resource_id")


class PhoneNumber(Result):
    """A phone number and where its calls and messages go."""

    id: str
    number: str
    name: str | None = None
    number_type: str | None = None
    country_code: str | None = None
    capabilities: list[str] | None = None
    e911_status: str | None = None
    # In the result, out of the output schema (issue 22: the tool list's token budget)
    e911_address_id: SkipJsonSchema[str | None] = None
    created_at: str | None = None
    updated_at: str | None = None
    next_billed_at: str | None = None
    call_handler: str | None = Field(default=None, description="What handles inbound calls.")
    calling_handler_resource_id: str | None = None
    message_handler: str | None = Field(default=None, description="What handles inbound messages.")
    messaging_handler_resource_id: str | None = None
    routing: dict[str, str] | None = Field(
        default=None, description="The handlers' own settings, e.g. call_request_url (set ones only)."
    )


class PhoneNumberPage(Page):
    items: list[PhoneNumber]


class VoiceLog(Result):
    """One call leg's log. A discarded log has only id, created_at and discarded_at."""

    id: str
    type: str | None = None
    source: str | None = None
    direction: str | None = None
    status: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    created_at: str | None = None
    duration: int | None = Field(default=None, description="Seconds.")
    billing_ms: int | None = None
    charge: float | None = Field(default=None, description="USD.")
    parent_id: str | None = None
    url: str | None = None
    discarded_at: str | None = None
    # In the result, out of the output schema (issue 22: the tool list's token budget)
    duration_ms: SkipJsonSchema[int | None] = None
    charge_details: SkipJsonSchema[list[dict[str, Any]] | None] = None


class VoiceLogPage(Page):
    items: list[VoiceLog]


class MessagingLog(Result):
    """One SMS or MMS log."""

    id: str
    kind: str | None = None
    type: str | None = None
    source: str | None = None
    direction: str | None = None
    status: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    created_at: str | None = None
    number_of_segments: int | None = None
    charge: float | None = Field(default=None, description="USD.")
    error_code: str | None = None
    error_message: str | None = None
    # In the result, out of the output schema (issue 22: the tool list's token budget)
    url: SkipJsonSchema[str | None] = None
    charge_details: SkipJsonSchema[list[dict[str, Any]] | None] = None


class MessagingLogPage(Page):
    items: list[MessagingLog]


def phone_number_from_api(payload: Any) -> PhoneNumber:
    """``PhoneNumber`` / ``PhoneNumberResponse`` -> ``PhoneNumber`` (drops null routing fields)."""
    what = "phone number"
    data = p.obj(payload, what)
    routing = {key: value for key in _NUMBER_ROUTING_FIELDS if (value := p.opt_str(data, key, what)) is not None}
    handlers = {key: routing.pop(key, None) for key in _NUMBER_HANDLERS}
    return PhoneNumber(
        id=p.req_str(data, "id", what),
        number=p.req_str(data, "number", what),
        name=p.opt_str(data, "name", what),
        number_type=p.opt_str(data, "number_type", what),
        country_code=p.opt_str(data, "country_code", what),
        capabilities=p.opt_str_list(data, "capabilities", what),
        e911_status=p.opt_str(data, "e911_status", what),
        e911_address_id=p.opt_str(data, "e911_address_id", what),
        created_at=p.opt_str(data, "created_at", what),
        updated_at=p.opt_str(data, "updated_at", what),
        next_billed_at=p.opt_str(data, "next_billed_at", what),
        **handlers,
        routing=routing or None,
    )


def phone_number_page_from_api(payload: Any) -> tuple[list[PhoneNumber], str | None]:
    """``PhoneNumberListResponse`` -> (items, ``links.next`` URL or None)."""
    return _list_page(payload, "phone number list", phone_number_from_api)


def voice_log_from_api(payload: Any) -> VoiceLog:
    """``Voice.VoiceLog`` (any of its variants, a discarded one too) -> ``VoiceLog``."""
    what = "voice log"
    data = p.obj(payload, what)
    return VoiceLog(
        id=p.req_str(data, "id", what),
        type=p.opt_str(data, "type", what),
        source=p.opt_str(data, "source", what),
        direction=p.opt_str(data, "direction", what),
        status=p.opt_str(data, "status", what),
        from_number=p.opt_str(data, "from", what),
        to_number=p.opt_str(data, "to", what),
        created_at=p.opt_str(data, "created_at", what),
        duration=p.opt_int(data, "duration", what),
        billing_ms=p.opt_int(data, "billing_ms", what),
        charge=p.opt_float(data, "charge", what),
        parent_id=p.opt_str(data, "parent_id", what),
        url=p.opt_str(data, "url", what),
        discarded_at=p.opt_str(data, "discarded_at", what),
        duration_ms=p.opt_int(data, "duration_ms", what),
        charge_details=p.opt_records(data, "charge_details", what),
    )


def voice_log_page_from_api(payload: Any) -> tuple[list[VoiceLog], str | None]:
    """``Voice.LogListResponse`` -> (items, ``links.next`` URL or None)."""
    return _list_page(payload, "voice log list", voice_log_from_api)


def messaging_log_from_api(payload: Any) -> MessagingLog:
    """``Message.MessageLog`` -> ``MessagingLog``."""
    what = "messaging log"
    data = p.obj(payload, what)
    return MessagingLog(
        id=p.req_str(data, "id", what),
        kind=p.opt_str(data, "kind", what),
        type=p.opt_str(data, "type", what),
        source=p.opt_str(data, "source", what),
        direction=p.opt_str(data, "direction", what),
        status=p.opt_str(data, "status", what),
        from_number=p.opt_str(data, "from", what),
        to_number=p.opt_str(data, "to", what),
        created_at=p.opt_str(data, "created_at", what),
        number_of_segments=p.opt_int(data, "number_of_segments", what),
        charge=p.opt_float(data, "charge", what),
        error_code=p.opt_str(data, "error_code", what),
        error_message=p.opt_str(data, "error_message", what),
        url=p.opt_str(data, "url", what),
        charge_details=p.opt_records(data, "charge_details", what),
    )


def messaging_log_page_from_api(payload: Any) -> tuple[list[MessagingLog], str | None]:
    """``Message.LogListResponse`` -> (items, ``links.next`` URL or None)."""
    return _list_page(payload, "messaging log list", messaging_log_from_api)


# --------------------------------------------------------------------------------------------------
# Writes of issue 13: create and delete a SIP gateway, route a phone number, send an SMS
# --------------------------------------------------------------------------------------------------


class CreateSipGatewayInput(StrictInput):
    """Create a SIP gateway; omitted media settings come from the project's SIP profile."""

    name: str = Field(min_length=1, max_length=100, description="Display name.")
    uri: Annotated[str, AfterValidator(gateway_uri)] = Field(max_length=256, description="sip:[user@]host[:port].")
    encryption: GatewayEncryption | None = Field(default=None, description="SRTP requirement; default: profile's.")
    ciphers: Ciphers | None = None
    codecs: Codecs | None = None


class DeleteSipGatewayInput(StrictInput):
    """Delete one SIP gateway."""

    id: UUID = Field(description="SIP gateway id.")


class DeletedSipGateway(Result):
    id: str
    deleted: bool = True


HTTP_METHOD = Literal["GET", "POST"]
PhoneCallHandler = Literal[
    "relay_topic",
    "relay_script",
    "relay_application",
    "relay_connector",
    "relay_sip_endpoint",
    "relay_verto_endpoint",
    "laml_webhooks",
    "laml_application",
    "dialogflow",
    "video_room",
]
PhoneMessageHandler = Literal["relay_topic", "relay_application", "laml_webhooks", "laml_application"]


def _bounded(limit: int) -> Callable[[str], str]:
    """A length check kept out of the published schema: limits no real value reaches cost tokens on every turn."""

    def check(value: str) -> str:
        if not 1 <= len(value) <= limit:
            raise ValueError(f"must be 1 to {limit} characters")
        return value

    return check


RoutingUrl = Annotated[str, AfterValidator(_bounded(2048)), AfterValidator(routing_url)]
Ident = Annotated[str, AfterValidator(_bounded(255))]

ROUTING_URL_FIELDS = (
    "call_request_url",
    "call_fallback_url",
    "call_status_callback_url",
    "call_relay_topic_status_callback_url",
    "call_relay_script_url",
    "message_request_url",
    "message_fallback_url",
)
"""Every field whose value is a URL SignalWire will send the number's calls or messages (or their status) to."""

# The field that says where each handler sends the calls or messages: without it a number goes quiet.
HANDLER_TARGETS: dict[str, dict[str, str]] = {
    "call_handler": {
        "relay_topic": "call_relay_topic",
        "relay_script": "call_relay_script_url",
        "relay_application": "call_relay_application",
        "relay_connector": "call_relay_connector_id",
        "relay_sip_endpoint": "call_sip_endpoint_id",
        "relay_verto_endpoint": "call_verto_resource",
        "laml_webhooks": "call_request_url",
        "laml_application": "call_laml_application_id",
        "dialogflow": "call_dialogflow_agent_id",
        "video_room": "call_video_room_id",
    },
    "message_handler": {
        "relay_topic": "message_relay_topic",
        "relay_application": "message_relay_application",
        "laml_webhooks": "message_request_url",
        "laml_application": "message_laml_application_id",
    },
}


class UpdatePhoneNumberInput(StrictInput):
    """Change a phone number's name or call and message routing; only the given fields change."""

    id: UUID = Field(description="Phone number id.")
    name: str | None = Field(default=None, min_length=1, max_length=255)
    call_handler: PhoneCallHandler | None = None
    call_receive_mode: Literal["voice", "fax"] | None = None
    call_request_url: RoutingUrl | None = None
    call_request_method: HTTP_METHOD | None = None
    call_fallback_url: RoutingUrl | None = None
    call_fallback_method: HTTP_METHOD | None = None
    call_status_callback_url: RoutingUrl | None = None
    call_status_callback_method: HTTP_METHOD | None = None
    call_laml_application_id: Ident | None = None
    call_dialogflow_agent_id: Ident | None = None
    call_relay_topic: Ident | None = None
    call_relay_topic_status_callback_url: RoutingUrl | None = None
    call_relay_script_url: RoutingUrl | None = None
    call_relay_application: Ident | None = None
    call_relay_connector_id: Ident | None = None
    call_sip_endpoint_id: UUID | None = None
    call_verto_resource: Ident | None = None
    call_video_room_id: UUID | None = None
    message_handler: PhoneMessageHandler | None = None
    message_request_url: RoutingUrl | None = None
    message_request_method: HTTP_METHOD | None = None
    message_fallback_url: RoutingUrl | None = None
    message_fallback_method: HTTP_METHOD | None = None
    message_laml_application_id: Ident | None = None
    message_relay_topic: Ident | None = None
    message_relay_application: Ident | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdatePhoneNumberInput:
        if not self.body():
            raise ValueError("nothing to change: give a name or at least one call_* or message_* routing field")
        return self

    def body(self) -> dict[str, Any]:
        """The PUT body: only the fields that were given, JSON-ready."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"id"})

    def routing_urls(self) -> tuple[tuple[str, str], ...]:
        """(field, URL) for every routing URL given: each must pass the routing-host allow-list."""
        return tuple((key, url) for key in ROUTING_URL_FIELDS if (url := getattr(self, key)) is not None)


def _international(value: str) -> str:
    # No national-format guessing: phone.py assumes German numbers, SignalWire projects are global.
    if not value.startswith("+"):
        raise ValueError(f"{value!r} must be an international number starting with +")
    return value


class SendMessageInput(StrictInput):
    """Send an SMS from one of the project's numbers."""

    to_number: Annotated[str, AfterValidator(to_e164)] = Field(
        max_length=40, description="Recipient, e.g. +1 202 555 0123."
    )
    from_number: Annotated[str, AfterValidator(_international), AfterValidator(possible_e164)] = Field(
        max_length=32, description="One of the project's SMS numbers."
    )
    # Sent exactly as written: the inputs' whitespace stripping does not apply to the text.
    body: Annotated[str, StringConstraints(strip_whitespace=False)] = Field(
        min_length=1, max_length=1600, description="Text, up to 1600 characters."
    )

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("body has no visible text")
        return value

    def payload(self) -> dict[str, Any]:
        """The POST body (``Message.CreateMessageRequest``, SMS: no media)."""
        return {"to": self.to_number, "from": self.from_number, "body": self.body}


class SentMessage(Result):
    """An SMS SignalWire accepted (queued for delivery)."""

    id: str
    status: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    number_of_segments: int | None = None
    created_at: str | None = None


def sent_message_from_api(payload: Any) -> SentMessage:
    """``Message.Message`` (201) -> ``SentMessage``; the body is not echoed back."""
    what = "message"
    data = p.obj(payload, what)
    return SentMessage(
        id=p.req_str(data, "id", what),
        status=p.opt_str(data, "status", what),
        from_number=p.opt_str(data, "from", what),
        to_number=p.opt_str(data, "to", what),
        number_of_segments=p.opt_int(data, "number_of_segments", what),
        created_at=p.opt_str(data, "created_at", what),
    )
