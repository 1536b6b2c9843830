"""sipgate tool inputs, tool results, and the upstream payload -> result transforms.

Inputs use snake_case names for the model; ``body()`` turns one into sipgate's exact camelCase JSON
body (``None`` when the request has none). Results are snake_case and compact. Each ``*_from_api``
function reads only the fields it knows (new upstream fields never break it) and raises
``ValueError`` when a field we cannot do without is missing or the payload has the wrong shape.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from telco_mcp.models import Page, PageInput, Result, StrictInput
from telco_mcp.phone import PhoneNumber, ShownNumber, possible_e164, to_e164
from telco_mcp.providers import payload as p
from telco_mcp.untrusted import TRUSTED

T = TypeVar("T")

SMS_MAX_SCHEDULE = timedelta(days=30)
"""How far ahead an SMS may be scheduled (the limit sipgateio-node enforces)."""

# --------------------------------------------------------------------------------------------------
# Shared input types
# --------------------------------------------------------------------------------------------------

CallId = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="callId from sipgate_list_calls"),
]
"""A running call's id; the pattern also keeps it a safe URL path segment."""

_DEVICE_ID = re.compile(r"^[a-z][0-9]+$")


def is_phone_caller(caller: str) -> bool:
    """Whether a click-to-dial `caller` is a phone number (sipgate dials it) rather than a device id."""
    return not _DEVICE_ID.fullmatch(caller)


DeviceId = Annotated[str, Field(max_length=16, pattern=_DEVICE_ID.pattern)]

ConnectionId = Annotated[str, Field(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]

HistoryType = Literal["CALL", "VOICEMAIL", "SMS", "FAX"]
HistoryDirection = Literal["INCOMING", "OUTGOING", "MISSED_INCOMING", "MISSED_OUTGOING"]


def _iso_text(value: object, field: str) -> object:
    """Times are ISO 8601 strings: a bare number would silently be read as Unix seconds."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError(f"{field} must be an ISO 8601 date-time string such as 2026-05-04T09:30:00+02:00")
    return value


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{field} has no timezone: add an offset, e.g. 2026-05-04T09:30:00+02:00 or ...Z for UTC")
    return value


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Input(StrictInput):
    def body(self) -> dict[str, Any] | None:
        """The JSON request body in sipgate's camelCase, or None when the request has no body."""
        return None


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------


class GetAccountInput(_Input):
    """Get the sipgate account."""


class ListCallsInput(_Input):
    """List established calls."""


class ListSmsSendersInput(_Input):
    """List the SMS senders."""


class HangupCallInput(_Input):
    """Hang up a call."""

    call_id: CallId


class HoldCallInput(_Input):
    """Hold or resume all participants."""

    call_id: CallId
    value: bool = Field(description="true = hold, false = resume.")

    def body(self) -> dict[str, Any]:
        return {"value": self.value}


class MuteCallInput(_Input):
    """Mute or unmute yourself."""

    call_id: CallId
    value: bool = Field(description="true = mute, false = unmute.")

    def body(self) -> dict[str, Any]:
        return {"value": self.value}


class RecordCallInput(_Input):
    """Start or stop recording a call."""

    call_id: CallId
    value: bool = Field(description="true = start, false = stop.")
    announcement: bool = Field(default=True, description="Tell participants the call is recorded.")

    def body(self) -> dict[str, Any]:
        return {"value": self.value, "announcement": self.announcement}


class TransferCallInput(_Input):
    """Transfer a call."""

    call_id: CallId
    phone_number: PhoneNumber
    attended: bool = Field(default=False, description="true = attended, false = blind.")
    caller_id: ShownNumber | None = Field(default=None, description="Number shown to the target.")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"attended": self.attended, "phoneNumber": self.phone_number}
        if self.caller_id is not None:
            body["callerId"] = self.caller_id
        return body


_DTMF = frozenset("0123456789*#ABCD")


class SendDtmfInput(_Input):
    """Send DTMF tones."""

    call_id: CallId
    sequence: str = Field(min_length=1, max_length=64, description="Tones: 0-9 * # A-D.")

    @field_validator("sequence")
    @classmethod
    def _dtmf_only(cls, value: str) -> str:
        bad = sorted({char for char in value if char.upper() not in _DTMF})
        if bad:
            raise ValueError(
                f"sequence has characters DTMF cannot send: {' '.join(repr(char) for char in bad)}; "
                "use only 0-9, *, # and A-D"
            )
        return value.upper()

    def body(self) -> dict[str, Any]:
        return {"sequence": self.sequence}


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname or any(char.isspace() for char in value):
        raise ValueError(f"{value!r} is not an absolute https:// URL with a host (https only)")
    return value


class PlayAnnouncementInput(_Input):
    """Play an announcement into a call."""

    call_id: CallId
    url: Annotated[str, AfterValidator(_https_url)] = Field(
        max_length=2048, description="https URL of a mono 8 kHz 16-bit PCM WAV."
    )

    def body(self) -> dict[str, Any]:
        return {"url": self.url}


class StartCallInput(_Input):
    """Start a call: the caller's device rings first, then the callee."""

    callee: PhoneNumber
    caller: str = Field(max_length=32, description="Device id (e0, p0, x0) or phone number.")
    device_id: DeviceId | None = Field(default=None, description="Device to use; needed if caller is a number.")
    caller_id: ShownNumber | None = Field(default=None, description="Number shown to the callee.")

    @field_validator("caller")
    @classmethod
    def _device_or_number(cls, value: str) -> str:
        if _DEVICE_ID.fullmatch(value):
            return value
        try:
            return to_e164(value)
        except ValueError as exc:
            raise ValueError(f"caller must be a device id like e0, p0, x0 or a phone number: {exc}") from None

    @model_validator(mode="after")
    def _device_for_number(self) -> StartCallInput:
        if self.device_id is None and not _DEVICE_ID.fullmatch(self.caller):
            raise ValueError("device_id is required when caller is a phone number (e.g. device_id='e0')")
        return self

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"caller": self.caller, "callee": self.callee}
        if self.device_id is not None:
            body["deviceId"] = self.device_id
        if self.caller_id is not None:
            body["callerId"] = self.caller_id
        return body


class SendSmsInput(StrictInput):
    """Send an SMS, now or scheduled."""

    recipient: PhoneNumber
    # Sent exactly as written: the inputs' whitespace stripping does not apply to the text.
    message: Annotated[str, StringConstraints(strip_whitespace=False)] = Field(
        min_length=1, max_length=1600, description="Text, up to 1600 characters."
    )
    sms_id: str | None = Field(
        default=None, pattern=r"^s[0-9]+$", max_length=16, description="SMS sender id (s0...); default: first."
    )
    send_at: datetime | None = Field(default=None, description="Send later (ISO 8601 with offset, max 30 days).")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message has no visible text")
        return value

    @field_validator("send_at", mode="before")
    @classmethod
    def _send_at_is_text(cls, value: object) -> object:
        return _iso_text(value, "send_at")

    @field_validator("send_at")
    @classmethod
    def _in_the_next_30_days(cls, value: datetime | None) -> datetime | None:
        value = _aware(value, "send_at")
        if value is None:
            return None
        if not 2000 <= value.year <= 2100:  # before any UTC arithmetic can overflow
            raise ValueError(f"send_at {value.isoformat()} is not a time sipgate can schedule")
        now = datetime.now(UTC)
        if value <= now:
            raise ValueError(
                f"send_at {value.isoformat()} is in the past; it must be in the future (now: {_iso_utc(now)})"
            )
        if value > now + SMS_MAX_SCHEDULE:
            raise ValueError(f"send_at {value.isoformat()} is more than 30 days ahead; sipgate schedules up to 30 days")
        return value

    def body(self, sms_id: str) -> dict[str, Any]:
        """The ``POST /sessions/sms`` body, sent from ``sms_id`` (``self.sms_id`` or the first sender)."""
        body: dict[str, Any] = {"smsId": sms_id, "recipient": self.recipient, "message": self.message}
        if self.send_at is not None:
            body["sendAt"] = int(self.send_at.timestamp())
        return body


class ListHistoryInput(PageInput):
    """List calls, voicemails, SMS and faxes, newest first."""

    types: Annotated[list[HistoryType], AfterValidator(p.unique)] | None = Field(
        default=None, min_length=1, description="Only these types."
    )
    directions: Annotated[list[HistoryDirection], AfterValidator(p.unique)] | None = Field(
        default=None, min_length=1, description="Only these directions."
    )
    phonenumber: ShownNumber | None = Field(default=None, description="Only entries with this number.")
    connection_ids: Annotated[list[ConnectionId], AfterValidator(p.unique)] | None = Field(
        default=None, min_length=1, max_length=50, description="Only these extensions, e.g. p0."
    )
    archived: bool | None = Field(default=None, description="true = archived only (else unarchived).")
    starred: bool | None = Field(default=None, description="true = starred, false = unstarred.")
    start: datetime | None = Field(default=None, description="Not before (ISO 8601 with offset).")
    end: datetime | None = Field(default=None, description="Not after (ISO 8601 with offset).")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _times_are_text(cls, value: object, info: ValidationInfo) -> object:
        return _iso_text(value, str(info.field_name))

    @field_validator("start", "end")
    @classmethod
    def _has_timezone(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        value = _aware(value, str(info.field_name))
        if value is not None and not 2000 <= value.year <= 2100:  # before any UTC arithmetic can overflow
            raise ValueError(f"{info.field_name} must be between the years 2000 and 2100")
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> ListHistoryInput:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start ({self.start.isoformat()}) is after end ({self.end.isoformat()})")
        return self

    def body(self) -> None:
        return None

    def query(self, offset: int) -> list[tuple[str, str]]:
        """``GET /history`` query parameters; list filters are repeated (``types=CALL&types=SMS``)."""
        params = [("offset", str(offset)), ("limit", str(self.limit))]
        params += [("types", value) for value in self.types or ()]
        params += [("directions", value) for value in self.directions or ()]
        params += [("connectionIds", value) for value in self.connection_ids or ()]
        if self.archived is not None:
            params.append(("archived", "true" if self.archived else "false"))
        if self.starred is not None:
            params.append(("starred", "STARRED" if self.starred else "UNSTARRED"))
        if self.phonenumber is not None:
            params.append(("phonenumber", self.phonenumber))
        if self.start is not None:
            params.append(("from", _iso_utc(self.start)))
        if self.end is not None:
            params.append(("to", _iso_utc(self.end)))
        return params


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


class Account(Result):
    company: str | None = None
    main_product_type: str | None = None
    logo_url: str | None = None
    verified: bool | None = None
    history_life_time: str | None = Field(default=None, description="How long history is kept.")


class Participant(Result):
    participant_id: str
    phone_number: str | None = Field(default=None, description="Absent for anonymous participants.")
    muted: bool | None = None
    hold: bool | None = None
    owner: bool | None = Field(default=None, description="This participant owns the call.")


class PushedCallInfo(Result):
    """What sipgate's push events (webhooks) said about a call."""

    direction: Literal["in", "out"] | None = None
    from_number: str | None = None
    to_number: str | None = None
    users: list[str] = Field(default_factory=list[str], description="The users the call rang for.")
    answering_user: str | None = None
    answering_number: str | None = None


class CallState(Result):
    """A running call as `GET /calls` lists it (what a control action reads back)."""

    call_id: str
    muted: bool | None = Field(default=None, description="You are muted.")
    recording: bool | None = None
    hold: bool | None = None
    participants: list[Participant] = Field(default_factory=list[Participant])


class Call(CallState):
    """A running call with what sipgate's push events said about it (`sipgate_list_calls`)."""

    pushed: PushedCallInfo | None = Field(default=None, description="From sipgate's call events, when received.")


# How many items a list left out in `user` ownership mode (providers/sipgate/ownership.py); absent otherwise.
HiddenNotYours = Annotated[int | None, TRUSTED, Field(ge=0, description="Items hidden: another sipgate user's.")]


class CallList(Result):
    calls: list[Call]
    note: Annotated[str | None, TRUSTED] = None  # why `pushed` is missing, when the shared state did not answer
    hidden_not_yours: HiddenNotYours = None


class CallActionResult(Result):
    """The state of a call after a control action."""

    call_id: str
    action: str
    call: CallState | None = Field(default=None, description="The call now; absent when it is gone.")
    ended: bool = False
    note: str | None = None


class StartedCall(Result):
    session_id: str


class SmsSender(Result):
    id: str
    alias: str | None = None
    caller_id: str | None = Field(default=None, description="Number shown to recipients.")


class SmsSenderList(Result):
    items: list[SmsSender]


class SentSms(Result):
    sms_id: str = Field(description="Sender id used.")
    recipient: str
    send_at: datetime | None = None
    status: Literal["accepted", "scheduled"]


class HistoryEndpoint(Result):
    """Where a history entry went: forwarded to, routed to or picked up by an extension."""

    type: str | None = Field(default=None, description="FORWARDED, ROUTED or PICKUP.")
    extension: str | None = Field(default=None, description="Extension id, e.g. e0, y0, v0.")
    extension_type: str | None = Field(default=None, description="Kind of extension, e.g. REGISTER, MOBILE.")


class HistoryEntry(Result):
    id: str
    type: str
    source: str | None = None
    target: str | None = None
    source_alias: str | None = None
    target_alias: str | None = None
    created: str | None = None
    last_modified: str | None = None
    direction: str | None = None
    incoming: bool | None = None
    status: str | None = None
    connection_ids: list[str] | None = None
    read: bool | None = None
    archived: bool | None = None
    note: str | None = None
    endpoints: list[HistoryEndpoint] | None = Field(default=None, description="Where the entry was routed.")
    starred: bool | None = None
    labels: list[str] | None = None
    recording_url: str | None = None
    transcription: str | None = Field(default=None, description="A voicemail's speech to text, provider data.")


class HistoryPage(Page):
    items: list[HistoryEntry]
    total_count: int = Field(description="Matching entries in all pages.")
    hidden_not_yours: HiddenNotYours = None


class Userinfo(Result):
    sub: str = Field(description="User id, e.g. w0.")
    domain: str | None = None
    master_sip_id: str | None = None
    locale: str | None = None


# --------------------------------------------------------------------------------------------------
# Payload readers (shared by the transforms)
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------------------


def account_from_api(payload: Any) -> Account:
    """``AccountResponse`` -> ``Account`` (no field is required upstream)."""
    what = "account"
    data = p.obj(payload, what)
    return Account(
        company=p.opt_str(data, "company", what),
        main_product_type=p.opt_str(data, "mainProductType", what),
        logo_url=p.opt_str(data, "logoUrl", what),
        verified=p.opt_bool(data, "verified", what),
        history_life_time=p.opt_str(data, "historyLifeTime", what),
    )


def participant_from_api(payload: Any) -> Participant:
    """``Participant`` -> ``Participant``; an empty ``phoneNumber`` (anonymous) becomes absent."""
    what = "call participant"
    data = p.obj(payload, what)
    return Participant(
        participant_id=p.req_str(data, "participantId", what),
        phone_number=p.opt_str(data, "phoneNumber", what) or None,
        muted=p.opt_bool(data, "muted", what),
        hold=p.opt_bool(data, "hold", what),
        owner=p.opt_bool(data, "owner", what),
    )


def call_from_api(payload: Any) -> Call:
    """``Call`` -> ``Call``."""
    what = "call"
    data = p.obj(payload, what)
    return Call(
        call_id=p.req_str(data, "callId", what),
        muted=p.opt_bool(data, "muted", what),
        recording=p.opt_bool(data, "recording", what),
        hold=p.opt_bool(data, "hold", what),
        participants=p.items(data, "participants", what, participant_from_api) if "participants" in data else [],
    )


def call_list_from_api(payload: Any) -> CallList:
    """``Calls {data: Call[]}`` -> ``CallList``."""
    return CallList(calls=p.items(p.obj(payload, "call list"), "data", "call list", call_from_api))


def started_call_from_api(payload: Any) -> StartedCall:
    """``InitiateNewCallSessionResponse`` -> ``StartedCall``."""
    what = "new call"
    return StartedCall(session_id=p.req_str(p.obj(payload, what), "sessionId", what))


def sms_sender_from_api(payload: Any) -> SmsSender:
    """``SmsExtensionResponse`` -> ``SmsSender``."""
    what = "SMS sender"
    data = p.obj(payload, what)
    return SmsSender(
        id=p.req_str(data, "id", what),
        alias=p.opt_str(data, "alias", what),
        caller_id=p.opt_str(data, "callerId", what),
    )


def sms_sender_list_from_api(payload: Any) -> SmsSenderList:
    """``SmsExtensionsResponse {items: [...]}`` -> ``SmsSenderList``."""
    return SmsSenderList(
        items=p.items(p.obj(payload, "SMS sender list"), "items", "SMS sender list", sms_sender_from_api)
    )


def history_endpoint_from_api(payload: Any) -> HistoryEndpoint:
    """``RoutedEndpointResponse {type, endpoint: {extension, type}}`` -> ``HistoryEndpoint`` (flattened)."""
    what = "history endpoint"
    data = p.obj(payload, what)
    inner = data.get("endpoint")
    endpoint = p.obj(inner, f"{what} endpoint") if inner is not None else {}
    return HistoryEndpoint(
        type=p.opt_str(data, "type", what),
        extension=p.opt_str(endpoint, "extension", what),
        extension_type=p.opt_str(endpoint, "type", what),
    )


def history_entry_from_api(payload: Any) -> HistoryEntry:
    """``HistoryEntryResponse`` -> ``HistoryEntry``."""
    what = "history entry"
    data = p.obj(payload, what)
    return HistoryEntry(
        id=p.req_str(data, "id", what),
        type=p.req_str(data, "type", what),
        source=p.opt_str(data, "source", what),
        target=p.opt_str(data, "target", what),
        source_alias=p.opt_str(data, "sourceAlias", what),
        target_alias=p.opt_str(data, "targetAlias", what),
        created=p.opt_str(data, "created", what),
        last_modified=p.opt_str(data, "lastModified", what),
        direction=p.opt_str(data, "direction", what),
        incoming=p.opt_bool(data, "incoming", what),
        status=p.opt_str(data, "status", what),
        connection_ids=p.opt_str_list(data, "connectionIds", what),
        read=p.opt_bool(data, "read", what),
        archived=p.opt_bool(data, "archived", what),
        note=p.opt_str(data, "note", what),
        endpoints=p.items(data, "endpoints", what, history_endpoint_from_api) if "endpoints" in data else None,
        starred=p.opt_bool(data, "starred", what),
        labels=p.opt_str_list(data, "labels", what),
        recording_url=p.opt_str(data, "recordingUrl", what),
        transcription=p.opt_str(data, "transcription", what),
    )


def history_page_from_api(payload: Any) -> tuple[list[HistoryEntry], int]:
    """``HistoryResponse {items, totalCount}`` -> (items, total count)."""
    what = "history"
    data = p.obj(payload, what)
    items = p.items(data, "items", what, history_entry_from_api)
    total = data.get("totalCount")
    if isinstance(total, bool) or not isinstance(total, int):
        raise p.PayloadShapeError(f"{what}: required field 'totalCount' should be an integer, got {p.kind(total)}")
    return items, total


def userinfo_from_api(payload: Any) -> Userinfo:
    """``UserinfoResponse`` -> ``Userinfo``; ``sub`` is the ``{userId}`` of other requests."""
    what = "userinfo"
    data = p.obj(payload, what)
    return Userinfo(
        sub=p.req_str(data, "sub", what),
        domain=p.opt_str(data, "domain", what),
        master_sip_id=p.opt_str(data, "masterSipId", what),
        locale=p.opt_str(data, "locale", what),
    )


# --------------------------------------------------------------------------------------------------
# Directory reads (users, devices, phonelines, numbers, balance, contacts, forwardings, voicemails,
# blocked numbers): inputs, results, transforms
# --------------------------------------------------------------------------------------------------

UserId = Annotated[str, Field(max_length=16, pattern=r"^[a-z][0-9]+$", description="User id, e.g. w0; default: you.")]
"""A sipgate user id (``w0``); the pattern also keeps it a safe URL path segment."""


class ListUsersInput(_Input):
    """List the account's users."""


class GetBalanceInput(_Input):
    """Get the account balance."""


class ListVoicemailsInput(_Input):
    """List the voicemail boxes."""


class ListBlockedNumbersInput(_Input):
    """List the incoming blacklist."""


class UserScopedInput(_Input):
    """A list of one user's resources; the authenticated user by default."""

    user_id: UserId | None = None


class GetForwardingsInput(UserScopedInput):
    """Get a phoneline's forwardings."""

    phoneline_id: str = Field(max_length=16, pattern=r"^p[0-9]+$", description="Phoneline id, e.g. p0.")


class ListNumbersInput(PageInput):
    """List the account's phone numbers."""

    def body(self) -> None:
        return None


class ListContactsInput(PageInput):
    """List contacts."""

    phonenumbers: Annotated[list[ShownNumber], Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="Only contacts with any of these numbers."
    )

    def body(self) -> None:
        return None


# Writes of issue 13: the incoming blacklist and history entries ----------------------------------


def blacklist_number(value: str) -> str:
    """A number or the start of numbers as sipgate's blacklist stores it, ``+<digits>``: ``0900 1`` -> ``+499001``.

    Only its shape and country code are checked: a prefix is no whole number. National numbers are German.
    """
    import phonenumbers

    text = re.sub(r"[\s()/.-]", "", value)
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("0"):
        text = "+49" + text[1:]
    if not re.fullmatch(r"\+[1-9][0-9]{1,14}", text):
        raise ValueError(f"{value!r} is no number or prefix: write it as +<country code><digits>, e.g. +49 900")
    if not any(int(text[1:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE for n in (2, 3, 4)):
        raise ValueError(f"{value!r} starts with no country code")
    return text


def _blocked(value: str, info: ValidationInfo) -> str:
    return blacklist_number(value) if info.data.get("prefix") else possible_e164(value)


class BlockNumberInput(_Input):
    """Block a number (or every number starting with a prefix) for incoming calls."""

    prefix: bool = Field(default=False, description="Block every number starting with phone_number.")
    phone_number: str = Field(max_length=40, description="Number, or the prefix, e.g. +49 900.")

    @field_validator("phone_number")
    @classmethod
    def _normal(cls, value: str, info: ValidationInfo) -> str:
        return _blocked(value, info)

    def body(self) -> dict[str, Any]:
        return {"phoneNumber": self.phone_number, "isBlock": self.prefix}


class UnblockNumberInput(_Input):
    """Remove one blacklist entry."""

    phone_number: Annotated[str, AfterValidator(blacklist_number)] = Field(
        max_length=40, description="The entry as sipgate_list_blocked_numbers lists it."
    )


HistoryId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="History entry id.")
]


class UpdateHistoryEntryInput(_Input):
    """Archive, star, mark read or annotate a history entry; fields left out keep their value."""

    entry_id: HistoryId
    archived: bool | None = None
    starred: bool | None = None
    read: bool | None = None
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _changes_something(self) -> UpdateHistoryEntryInput:
        if (self.archived, self.starred, self.read, self.note) == (None, None, None, None):
            raise ValueError("give at least one of archived, starred, read, note")
        return self


class DeleteHistoryEntryInput(_Input):
    """Delete a history entry."""

    entry_id: HistoryId


_EXTENSION = re.compile(r"^[a-z][0-9]{1,6}$")


def forwarding_destination(value: str) -> str:
    """A forwarding target: an extension of the account (``p1``, ``g0``, ``v0``) or a dialable number (E.164)."""
    text = value.strip()
    if _EXTENSION.match(text):
        return text
    try:
        return to_e164(text)
    except ValueError as exc:
        raise ValueError(f"{exc} (or give an extension of this account, e.g. p1 or v0)") from None


class ForwardingTarget(StrictInput):
    """One forwarding: where calls go, after how long, and whether it is on."""

    destination: Annotated[str, AfterValidator(forwarding_destination)] = Field(
        max_length=40, description="Number (+49 ...) or extension (p1, v0)."
    )
    timeout: int = Field(default=0, ge=0, le=600, description="Seconds of ringing first; 0 = at once.")
    active: bool = True

    @property
    def is_number(self) -> bool:
        return self.destination.startswith("+")


class SetForwardingsInput(UserScopedInput):
    """Replace a phoneline's forwardings; an empty list removes them all."""

    phoneline_id: str = Field(max_length=16, pattern=r"^p[0-9]+$", description="Phoneline id, e.g. p0.")
    forwardings: list[ForwardingTarget] = Field(max_length=3, description="The new list (at most 3).")

    def body(self) -> dict[str, Any]:
        return {"forwardings": [f.model_dump(mode="json") for f in self.forwardings]}


class UnblockedNumber(Result):
    phone_number: str
    prefix: bool | None = None
    unblocked: bool


class DeletedHistoryEntry(Result):
    id: str
    deleted: bool


class User(Result):
    id: str
    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    default_device: str | None = None
    admin: bool | None = None
    busy_on_busy: bool | None = None
    timezone: str | None = None
    direct_dial_ids: list[str] | None = None
    address_id: SkipJsonSchema[str | None] = None  # in the result, out of the output schema (token budget)


class UserList(Result):
    items: list[User]


class Routing(Result):
    id: str | None = None
    alias: str | None = None


class Device(Result):
    id: str
    alias: str | None = None
    type: str | None = Field(default=None, description="REGISTER, MOBILE or EXTERNAL.")
    online: bool | None = None
    dnd: bool | None = Field(default=None, description="Do not disturb.")
    active_phonelines: list[Routing] | None = None
    active_groups: list[Routing] | None = None


class DeviceList(Result):
    items: list[Device]


class Phoneline(Result):
    id: str
    alias: str | None = None
    # Its sub-resources' URLs (devices, forwardings, numbers, ...): in the result, out of the output schema
    links: SkipJsonSchema[dict[str, str] | None] = None


class PhonelineList(Result):
    items: list[Phoneline]


class Number(Result):
    id: str | None = None
    number: str
    localized: str | None = None
    type: str | None = None
    endpoint_id: str | None = Field(default=None, description="Where calls go, e.g. p0.")
    endpoint_alias: str | None = None
    endpoint_url: SkipJsonSchema[str | None] = None  # in the result, out of the output schema (token budget)


class NumberPage(Page):
    items: list[Number]
    hidden_not_yours: HiddenNotYours = None


class Balance(Result):
    amount: int | None = Field(default=None, description="As sipgate reports it, in its integer unit.")
    currency: str | None = None


class ContactNumber(Result):
    number: str
    type: list[str] | None = None


class ContactEmail(Result):
    email: str
    type: SkipJsonSchema[list[str] | None] = None  # e.g. ["work"]: in the result, out of the output schema


class Contact(Result):
    id: str
    name: str | None = None
    emails: list[ContactEmail] | None = None
    numbers: list[ContactNumber] | None = None
    organization: list[list[str]] | None = None
    scope: str | None = Field(default=None, description="PRIVATE, SHARED or INTERNAL.")
    # In the result, out of the output schema (issue 22: the tool list's token budget)
    picture: SkipJsonSchema[str | None] = None  # base64 image data, as sipgate gives it
    addresses: SkipJsonSchema[list[dict[str, Any]] | None] = None  # postal addresses


class ContactPage(Page):
    items: list[Contact]
    total_count: int | None = Field(default=None, description="Matching contacts in all pages.")


class Forwarding(Result):
    destination: str | None = Field(default=None, description="Number or extension, e.g. p1.")
    alias: str | None = None
    timeout: int | None = Field(default=None, description="Seconds before it rings.")
    active: bool | None = None


class ForwardingList(Result):
    phoneline_id: str
    items: list[Forwarding]


class Voicemail(Result):
    id: str
    alias: str | None = None
    extension: str | None = Field(default=None, description="The extension it belongs to, e.g. p0.")
    extension_type: str | None = None


class VoicemailList(Result):
    items: list[Voicemail]
    hidden_not_yours: HiddenNotYours = None


class BlockedNumber(Result):
    phone_number: str
    prefix: bool | None = Field(default=None, description="Blocks every number starting with it.")


class BlockedNumberList(Result):
    items: list[BlockedNumber]


def _item_list(payload: Any, what: str, item: Any) -> list[Any]:
    """``{items: [...]}`` -> the converted items."""
    return p.items(p.obj(payload, what), "items", what, item)


def user_from_api(payload: Any) -> User:
    """``UserResponse`` -> ``User``."""
    what = "user"
    data = p.obj(payload, what)
    return User(
        id=p.req_str(data, "id", what),
        firstname=p.opt_str(data, "firstname", what),
        lastname=p.opt_str(data, "lastname", what),
        email=p.opt_str(data, "email", what),
        default_device=p.opt_str(data, "defaultDevice", what),
        admin=p.opt_bool(data, "admin", what),
        busy_on_busy=p.opt_bool(data, "busyOnBusy", what),
        timezone=p.opt_str(data, "timezone", what),
        direct_dial_ids=p.opt_str_list(data, "directDialIds", what),
        address_id=p.opt_str(data, "addressId", what),
    )


def user_list_from_api(payload: Any) -> UserList:
    """``UsersResponse {items}`` -> ``UserList``."""
    return UserList(items=_item_list(payload, "user list", user_from_api))


def routing_from_api(payload: Any) -> Routing:
    """``ActiveRouting {id, alias}`` -> ``Routing``."""
    what = "active routing"
    data = p.obj(payload, what)
    return Routing(id=p.opt_str(data, "id", what), alias=p.opt_str(data, "alias", what))


def device_from_api(payload: Any) -> Device:
    """``DeviceResponse`` -> ``Device``."""
    what = "device"
    data = p.obj(payload, what)
    return Device(
        id=p.req_str(data, "id", what),
        alias=p.opt_str(data, "alias", what),
        type=p.opt_str(data, "type", what),
        online=p.opt_bool(data, "online", what),
        dnd=p.opt_bool(data, "dnd", what),
        active_phonelines=p.items(data, "activePhonelines", what, routing_from_api)
        if "activePhonelines" in data
        else None,
        active_groups=p.items(data, "activeGroups", what, routing_from_api) if "activeGroups" in data else None,
    )


def device_list_from_api(payload: Any) -> DeviceList:
    """``DevicesResponse {items}`` -> ``DeviceList``."""
    return DeviceList(items=_item_list(payload, "device list", device_from_api))


_PHONELINE_LINKS = {"blockAnonymousUrl": "block_anonymous", "devicesUrl": "devices", "forwardingsUrl": "forwardings",
                    "numbersUrl": "numbers", "parallelForwardingsUrl": "parallel_forwardings",
                    "voicemailsUrl": "voicemails"}  # fmt: skip


def phoneline_from_api(payload: Any) -> Phoneline:
    """``SimplePhonelineResponse`` -> ``Phoneline``, its links to sub-resources under ``links``."""
    what = "phoneline"
    data = p.obj(payload, what)
    links = {name: url for key, name in _PHONELINE_LINKS.items() if (url := p.opt_str(data, key, what)) is not None}
    return Phoneline(id=p.req_str(data, "id", what), alias=p.opt_str(data, "alias", what), links=links or None)


def phoneline_list_from_api(payload: Any) -> PhonelineList:
    """``SimplePhonelinesResponse {items}`` -> ``PhonelineList``."""
    return PhonelineList(items=_item_list(payload, "phoneline list", phoneline_from_api))


def number_from_api(payload: Any) -> Number:
    """``NumberResponseWithEndpoint`` -> ``Number``."""
    what = "number"
    data = p.obj(payload, what)
    return Number(
        id=p.opt_str(data, "id", what),
        number=p.req_str(data, "number", what),
        localized=p.opt_str(data, "localized", what),
        type=p.opt_str(data, "type", what),
        endpoint_id=p.opt_str(data, "endpointId", what),
        endpoint_alias=p.opt_str(data, "endpointAlias", what),
        endpoint_url=p.opt_str(data, "endpointUrl", what),
    )


def number_list_from_api(payload: Any) -> list[Number]:
    """``NumbersResponse {items}`` -> the numbers (the response has no total count)."""
    return _item_list(payload, "number list", number_from_api)


def balance_from_api(payload: Any) -> Balance:
    """``BalanceResponse {amount, currency}`` -> ``Balance``."""
    what = "balance"
    data = p.obj(payload, what)
    return Balance(amount=p.opt_int(data, "amount", what), currency=p.opt_str(data, "currency", what))


def contact_number_from_api(payload: Any) -> ContactNumber:
    what = "contact number"
    data = p.obj(payload, what)
    return ContactNumber(number=p.req_str(data, "number", what), type=p.opt_str_list(data, "type", what))


def _email(payload: Any) -> ContactEmail:
    what = "contact email"
    data = p.obj(payload, what)
    return ContactEmail(email=p.req_str(data, "email", what), type=p.opt_str_list(data, "type", what))


def _organization(payload: Any) -> list[str]:
    items = p.array(payload)
    if items is None or not all(isinstance(item, str) for item in items):
        raise p.PayloadShapeError(f"contact: field 'organization' should hold arrays of strings, got {p.kind(payload)}")
    return [str(item) for item in items]


def contact_from_api(payload: Any) -> Contact:
    """``ContactResponse`` -> ``Contact``."""
    what = "contact"
    data = p.obj(payload, what)
    return Contact(
        id=p.req_str(data, "id", what),
        name=p.opt_str(data, "name", what),
        emails=p.items(data, "emails", what, _email) if "emails" in data else None,
        numbers=p.items(data, "numbers", what, contact_number_from_api) if "numbers" in data else None,
        organization=p.items(data, "organization", what, _organization) if "organization" in data else None,
        scope=p.opt_str(data, "scope", what),
        picture=p.opt_str(data, "picture", what),
        addresses=p.opt_records(data, "addresses", what),
    )


def contact_page_from_api(payload: Any) -> tuple[list[Contact], int | None]:
    """``ContactsResponse {items, totalCount}`` -> (items, total count if given)."""
    what = "contact list"
    data = p.obj(payload, what)
    return p.items(data, "items", what, contact_from_api), p.opt_int(data, "totalCount", what)


def forwarding_from_api(payload: Any) -> Forwarding:
    """``ForwardingResponse`` -> ``Forwarding``."""
    what = "forwarding"
    data = p.obj(payload, what)
    return Forwarding(
        destination=p.opt_str(data, "destination", what),
        alias=p.opt_str(data, "alias", what),
        timeout=p.opt_int(data, "timeout", what),
        active=p.opt_bool(data, "active", what),
    )


def forwarding_list_from_api(payload: Any) -> list[Forwarding]:
    """``ForwardingsResponse {items}`` -> the forwardings."""
    return _item_list(payload, "forwarding list", forwarding_from_api)


def voicemail_from_api(payload: Any) -> Voicemail:
    """``SimpleVoicemailResponse {id, alias, belongsToEndpoint {extension, type}}`` -> ``Voicemail`` (flattened)."""
    what = "voicemail"
    data = p.obj(payload, what)
    inner = data.get("belongsToEndpoint")
    endpoint = p.obj(inner, f"{what} belongsToEndpoint") if inner is not None else {}
    return Voicemail(
        id=p.req_str(data, "id", what),
        alias=p.opt_str(data, "alias", what),
        extension=p.opt_str(endpoint, "extension", what),
        extension_type=p.opt_str(endpoint, "type", what),
    )


def voicemail_list_from_api(payload: Any) -> VoicemailList:
    """``VoicemailsResponse {items}`` -> ``VoicemailList``."""
    return VoicemailList(items=_item_list(payload, "voicemail list", voicemail_from_api))


def blocked_number_from_api(payload: Any) -> BlockedNumber:
    """``IncomingEntry {phoneNumber, isBlock}`` -> ``BlockedNumber``."""
    what = "blacklist entry"
    data = p.obj(payload, what)
    return BlockedNumber(phone_number=p.req_str(data, "phoneNumber", what), prefix=p.opt_bool(data, "isBlock", what))


def blocked_number_list_from_api(payload: Any) -> BlockedNumberList:
    """``IncomingEntries {items}`` -> ``BlockedNumberList``."""
    return BlockedNumberList(items=_item_list(payload, "blacklist", blocked_number_from_api))
