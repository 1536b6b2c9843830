"""Inputs, results and payload readers of the 2010-04-01 Compatibility API (calls, conferences, queues).

Typed from SignalWire's `signalwire-compatibility-openapi.yaml` (`CreateCallRequest`, `UpdateCallRequest`,
`UpdateConferenceParticipantRequest`, `Call`, `Conference`, `ConferenceParticipant`, `Queue`, `QueueMember`).
Inputs turn into the exact form fields sent (`form()`), in a fixed order: the order the approver reads them.
Results are flat and compact; each ``*_from_api`` reads only the fields it knows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, model_validator

from telco_mcp.models import IsoTime, Page, PageInput, Result, StrictInput
from telco_mcp.phone import possible_e164, to_e164
from telco_mcp.providers import payload as p
from telco_mcp.routing import routing_url

CallStatus = Literal["queued", "ringing", "in-progress", "canceled", "completed", "busy", "failed", "no-answer"]
ConferenceStatus = Literal["init", "in-progress", "completed"]
LIVE = ("queued", "ringing", "in-progress")
"""Call statuses that can still be hung up or redirected."""


def _international(value: str) -> str:
    # No national-format guessing: phone.py assumes German numbers, these projects are global.
    if not value.startswith("+"):
        raise ValueError(f"{value!r} must be an international number starting with +")
    return value


def _bounded_url(value: str) -> str:
    if not 1 <= len(value) <= 2048:
        raise ValueError("must be 1 to 2048 characters")
    return value


Number = Annotated[str, AfterValidator(_international), AfterValidator(possible_e164)]
Dialled = Annotated[str, AfterValidator(to_e164)]
Url = Annotated[str, AfterValidator(_bounded_url), AfterValidator(routing_url)]
"""A URL the provider sends the call's instructions or events to: https on an allowed routing host."""


def iso_utc(when: datetime) -> str:
    """A list filter's time bound as the Compatibility SDKs send it: ISO 8601 in UTC, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------


class ListCallsInput(PageInput):
    """List calls, newest first."""

    status: CallStatus | None = None
    from_number: Number | None = Field(default=None, max_length=32, description="Caller, E.164.")
    to_number: Number | None = Field(default=None, max_length=32, description="Callee, E.164.")
    started_after: IsoTime | None = Field(default=None, description="ISO 8601.")
    started_before: IsoTime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ListCallsInput:
        if self.started_after and self.started_before and self.started_after >= self.started_before:
            raise ValueError("started_after must be earlier than started_before")
        return self

    def filters(self) -> list[tuple[str, str]]:
        """The spec's query filters: `Status`, `From`, `To`, `StartTime>` and `StartTime<`. The spec gives no format
        for the window's bounds; they are sent as SignalWire's own Compatibility SDK (twilio-node's serializer)
        sends them: ISO 8601 in UTC to the second, `2026-11-01T08:50:00Z` (docs/upstream-notes.md)."""
        pairs = [("Status", self.status), ("From", self.from_number), ("To", self.to_number)]
        pairs += [("StartTime>", self.started_after and iso_utc(self.started_after)),
                  ("StartTime<", self.started_before and iso_utc(self.started_before))]  # fmt: skip
        return [(name, value) for name, value in pairs if value]


class GetCallInput(StrictInput):
    """Get one call."""

    call_sid: UUID


class StartCallInput(StrictInput):
    """Start a call from one of the project's numbers; `url` answers what the call does (cXML)."""

    to_number: Dialled = Field(max_length=40, description="Callee, e.g. +1 202 555 0123.")
    from_number: Number = Field(max_length=32, description="One of the project's numbers.")
    url: Url = Field(description="cXML instructions URL.")
    fallback_url: Url | None = None
    status_callback: Url | None = None
    timeout: int | None = Field(default=None, ge=1, le=600, description="Ring seconds.")

    def form(self, from_number: str) -> tuple[tuple[str, str], ...]:
        """`CreateCallRequest`, in this order; `From` as the project spells its number."""
        pairs = [("To", self.to_number), ("From", from_number), ("Url", self.url),
                 ("FallbackUrl", self.fallback_url), ("StatusCallback", self.status_callback),
                 ("Timeout", str(self.timeout) if self.timeout is not None else None)]  # fmt: skip
        return tuple((name, value) for name, value in pairs if value is not None)

    def urls(self) -> tuple[tuple[str, str], ...]:
        return _given(self, ("url", "fallback_url", "status_callback"))


class UpdateCallInput(StrictInput):
    """Hang up a call, or redirect it to new instructions."""

    call_sid: UUID
    action: Literal["hangup", "redirect"]
    url: Url | None = Field(default=None, description="For redirect.")

    @model_validator(mode="after")
    def _url_for_redirect(self) -> UpdateCallInput:
        if (self.action == "redirect") != (self.url is not None):
            raise ValueError("url is given for action redirect, and only for it")
        return self

    def urls(self) -> tuple[tuple[str, str], ...]:
        return _given(self, ("url",))


class ListConferencesInput(PageInput):
    """List conferences."""

    status: ConferenceStatus | None = None

    def filters(self) -> list[tuple[str, str]]:
        return [("Status", self.status)] if self.status else []


class ListParticipantsInput(PageInput):
    """List a conference's participants."""

    conference_sid: UUID


class ParticipantInput(StrictInput):
    """One participant of a conference."""

    conference_sid: UUID
    call_sid: UUID


class UpdateParticipantInput(ParticipantInput):
    """Mute, unmute, hold or resume a participant."""

    action: Literal["mute", "unmute", "hold", "unhold"]

    def form(self) -> tuple[tuple[str, str], ...]:
        """`UpdateConferenceParticipantRequest`: `Muted` or `Hold`, true or false."""
        name = "Muted" if self.action in ("mute", "unmute") else "Hold"
        return ((name, "true" if self.action in ("mute", "hold") else "false"),)


class ListQueuesInput(PageInput):
    """List call queues."""


class ListQueueMembersInput(PageInput):
    """List the calls waiting in a queue."""

    queue_sid: UUID


def _given(args: StrictInput, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((name, url) for name in names if (url := getattr(args, name)) is not None)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


class Call(Result):
    """A call: its parties, status and times (RFC 2822, as the provider writes them)."""

    sid: str
    from_number: str | None = None
    to_number: str | None = None
    status: str | None = None
    direction: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    duration: int | None = None
    parent_call_sid: str | None = None


class CallPage(Page):
    items: list[Call]


class Conference(Result):
    sid: str
    friendly_name: str | None = None
    status: str | None = None
    date_created: str | None = None
    region: str | None = None


class ConferencePage(Page):
    items: list[Conference]


class Participant(Result):
    call_sid: str
    conference_sid: str | None = None
    status: str | None = None
    muted: bool | None = None
    hold: bool | None = None


class ParticipantPage(Page):
    items: list[Participant]


class RemovedParticipant(Result):
    call_sid: str
    conference_sid: str
    removed: bool = True


class Queue(Result):
    sid: str
    friendly_name: str | None = None
    current_size: int | None = None
    max_size: int | None = None
    average_wait_time: int | None = None


class QueuePage(Page):
    items: list[Queue]


class QueueMember(Result):
    call_sid: str
    position: int | None = None
    wait_time: int | None = None
    date_enqueued: str | None = None


class QueueMemberPage(Page):
    items: list[QueueMember]


# --------------------------------------------------------------------------------------------------
# Payload readers
# --------------------------------------------------------------------------------------------------


def call_from_api(payload: Any) -> Call:
    what = "call"
    data = p.obj(payload, what)
    return Call(
        sid=p.req_str(data, "sid", what),
        from_number=p.opt_str(data, "from", what),
        to_number=p.opt_str(data, "to", what),
        status=p.opt_str(data, "status", what),
        direction=p.opt_str(data, "direction", what),
        start_time=p.opt_str(data, "start_time", what),
        end_time=p.opt_str(data, "end_time", what),
        duration=p.opt_int(data, "duration", what),
        parent_call_sid=p.opt_str(data, "parent_call_sid", what),
    )


def conference_from_api(payload: Any) -> Conference:
    what = "conference"
    data = p.obj(payload, what)
    return Conference(
        sid=p.req_str(data, "sid", what),
        friendly_name=p.opt_str(data, "friendly_name", what),
        status=p.opt_str(data, "status", what),
        date_created=p.opt_str(data, "date_created", what),
        region=p.opt_str(data, "region", what),
    )


def participant_from_api(payload: Any) -> Participant:
    what = "participant"
    data = p.obj(payload, what)
    return Participant(
        call_sid=p.req_str(data, "call_sid", what),
        conference_sid=p.opt_str(data, "conference_sid", what),
        status=p.opt_str(data, "status", what),
        muted=p.opt_bool(data, "muted", what),
        hold=p.opt_bool(data, "hold", what),
    )


def queue_from_api(payload: Any) -> Queue:
    what = "queue"
    data = p.obj(payload, what)
    return Queue(
        sid=p.req_str(data, "sid", what),
        friendly_name=p.opt_str(data, "friendly_name", what),
        current_size=p.opt_int(data, "current_size", what),
        max_size=p.opt_int(data, "max_size", what),
        average_wait_time=p.opt_int(data, "average_wait_time", what),
    )


def queue_member_from_api(payload: Any) -> QueueMember:
    what = "queue member"
    data = p.obj(payload, what)
    return QueueMember(
        call_sid=p.req_str(data, "call_sid", what),
        position=p.opt_int(data, "position", what),
        wait_time=p.opt_int(data, "wait_time", what),
        date_enqueued=p.opt_str(data, "date_enqueued", what),
    )


def page_reader(key: str, item: Any) -> Any:
    """A list answer (`{<key>: [...], next_page_uri}`) -> (items, the next page's URI or None)."""

    def read(payload: Any) -> tuple[list[Any], str | None]:
        data = p.obj(payload, f"{key} page")
        return p.items(data, key, f"{key} page", item), p.opt_str(data, "next_page_uri", f"{key} page")

    return read
