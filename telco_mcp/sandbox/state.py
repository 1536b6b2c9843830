"""The simulator's mutable state: containers and the operations that change them.

Resources that are returned verbatim (SignalWire SIP endpoints, gateways, profile, recordings, phone
numbers, voice and messaging logs;
sipgate history entries) are kept as JSON-shaped dicts in their API form. Running sipgate calls
are dataclasses, because operations change them in ways the API shape does not show (events,
previous call ids).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSONDict = dict[str, Any]


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with a ``Z`` suffix and second precision, as both providers print it."""
    return dt.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_from_timestamp(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, tz=UTC))


# --------------------------------------------------------------------------------------------- SignalWire


# A SIP credential's routing fields, null unless its call handler uses them.
NULL_HANDLER_FIELDS: tuple[str, ...] = (
    "calling_handler_resource_id",
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


@dataclass
class SignalWireState:
    sip_endpoints: dict[str, JSONDict]
    sip_gateways: dict[str, JSONDict]
    sip_profile: JSONDict
    recordings: dict[str, JSONDict]  # newest first
    phone_numbers: dict[str, JSONDict] = field(default_factory=dict[str, JSONDict])  # newest first
    voice_logs: dict[str, JSONDict] = field(default_factory=dict[str, JSONDict])  # newest first
    messaging_logs: dict[str, JSONDict] = field(default_factory=dict[str, JSONDict])  # newest first
    # SIP passwords by credential id: write-only, as on the real API (never in an answer).
    sip_passwords: dict[str, str] = field(default_factory=dict[str, str])
    # The Compatibility (LaML) API's calls, conferences and queues, seeded on first use (sandbox/compatibility.py).
    laml: JSONDict = field(default_factory=dict[str, Any])


# --------------------------------------------------------------------------------------------- sipgate


@dataclass
class Participant:
    participant_id: str
    phone_number: str
    owner: bool = False
    muted: bool = False
    hold: bool = False

    def to_api(self) -> JSONDict:
        return {
            "participantId": self.participant_id,
            "phoneNumber": self.phone_number,
            "muted": self.muted,
            "hold": self.hold,
            "owner": self.owner,
        }


@dataclass
class Gather:
    """A ``<Gather>`` the receiver's XML answer started: the caller's next key presses go to ``on_data``."""

    on_data: str
    max_digits: int = 1  # sipgate's defaults
    timeout_ms: int = 2000

    def describe(self) -> JSONDict:
        """Without the URL: it may hold a secret (the server's receiver path)."""
        return {"maxDigits": self.max_digits, "timeout": self.timeout_ms}


@dataclass
class PushLeg:
    """One callId of a call as sipgate.io pushed it: what its ``newCall`` said and what the answer asked for.

    A blind transfer starts a new leg (a new callId); the old leg still gets its own ``hangup``.
    """

    call_id: str
    orig_call_id: str  # the first callId of the call, the same across transfers
    direction: str  # in or out
    from_number: str  # digits, or "anonymous"
    to_number: str
    xcid: str
    diversion: str | None = None
    on_answer: str | None = None  # the follow-up URLs the newCall answer asked for
    on_hangup: str | None = None
    gather: Gather | None = None  # collecting the caller's keys now


@dataclass
class RunningCall:
    call_id: str
    participants: list[Participant]
    muted: bool = False
    recording: bool = False
    hold: bool = False
    ended: bool = False
    session_id: str | None = None
    previous_call_ids: list[str] = field(default_factory=list[str])
    events: list[JSONDict] = field(default_factory=list[JSONDict])
    direction: str = "out"  # as sipgate.io pushes it: in or out
    leg: PushLeg | None = None  # what was pushed for the current callId (None: no newCall was pushed)

    def to_api(self) -> JSONDict:
        return {
            "callId": self.call_id,
            "muted": self.muted,
            "recording": self.recording,
            "hold": self.hold,
            "participants": [p.to_api() for p in self.participants],
        }

    def owner(self) -> Participant | None:
        return next((p for p in self.participants if p.owner), None)

    def remote(self) -> Participant | None:
        return next((p for p in self.participants if not p.owner), None)


@dataclass
class AccessToken:
    scopes: tuple[str, ...]
    exp: int


@dataclass
class SipgateState:
    account: JSONDict
    userinfo: JSONDict
    sms_extensions: list[JSONDict]
    devices: dict[str, str]  # device id -> its phone number
    main_number: str
    calls: dict[str, RunningCall]  # running calls by current call id, in start order
    history: list[JSONDict]  # newest first
    next_history_id: int
    access_tokens: dict[str, AccessToken]  # every currently valid access token
    current_access_token: str | None
    refresh_tokens: dict[str, tuple[str, ...]]  # every valid refresh token -> its scopes
    outbox: list[JSONDict] = field(default_factory=list[JSONDict])
    # Every call id ever used (including hung-up calls and ids replaced by a transfer) -> the call,
    # so the admin surface can show events for any id a client has seen.
    call_index: dict[str, RunningCall] = field(default_factory=dict[str, RunningCall])
    # The account's directory (issue 13), in sipgate's response shapes.
    users: list[JSONDict] = field(default_factory=list[JSONDict])
    user_devices: dict[str, list[JSONDict]] = field(default_factory=dict[str, list[JSONDict]])  # by user id
    phonelines: dict[str, list[JSONDict]] = field(default_factory=dict[str, list[JSONDict]])  # by user id
    forwardings: dict[str, list[JSONDict]] = field(default_factory=dict[str, list[JSONDict]])  # by phoneline id
    numbers: list[JSONDict] = field(default_factory=list[JSONDict])
    balance: JSONDict = field(default_factory=dict[str, Any])
    contacts: list[JSONDict] = field(default_factory=list[JSONDict])
    voicemails: list[JSONDict] = field(default_factory=list[JSONDict])
    blacklist: list[JSONDict] = field(default_factory=list[JSONDict])
    # sipgate.io push (issue 16): the account-wide URLs, whether the feature is booked, calls ringing now.
    sipgateio: JSONDict = field(
        default_factory=lambda: {"incomingUrl": "", "outgoingUrl": "", "log": False, "whitelist": []}
    )
    sipgateio_booked: bool = True
    ringing: dict[str, RunningCall] = field(default_factory=dict[str, RunningCall])
    # Fax (issue 27): the account's fax lines, and every fax sent (the session id is its history entry id).
    faxlines: list[JSONDict] = field(default_factory=lambda: [{"id": "f0", "alias": "Fax Zentrale"},
                                                              {"id": "f1", "alias": "Fax Ben Fischer"}])  # fmt: skip
    faxline_users: dict[str, str] = field(default_factory=lambda: {"f0": "w0", "f1": "w1"})  # whose line each is
    faxes: list[JSONDict] = field(default_factory=list[JSONDict])

    def sms_extension(self, sms_id: str) -> JSONDict | None:
        return next((ext for ext in self.sms_extensions if ext["id"] == sms_id), None)


# --------------------------------------------------------------------------------------------- both


@dataclass
class SandboxState:
    seed: int
    rng: random.Random
    signalwire: SignalWireState
    sipgate: SipgateState

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_hex(self, length: int = 16) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}X}"
