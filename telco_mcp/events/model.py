"""One sipgate push event, read from the form-encoded webhook sipgate posts.

sipgate.io posts `application/x-www-form-urlencoded` bodies. The fields by event:

- `newCall`: event, direction (in/out), from, to, callId, origCallId, user[] (names of the users the
  call is for), userId[], fullUserId[], xcid, diversion
- `answer`: event, callId, direction, from, to, user (who answered), userId, fullUserId,
  answeringNumber, diversion
- `hangup`: event, callId, direction, from, to, cause (normalClearing, busy, cancel, noAnswer,
  congestion, notFound, forwarded), answeringNumber
- `dtmf`: event, callId, origCallId, dtmf (the digits a `<Gather>` collected; empty when none came
  before its timeout)

Numbers are shown in E.164 with `+` (sipgate pushes `492111234567`), as every other tool shows them;
`anonymous` (a withheld number) and anything that is not a possible number stay as pushed.
Every value is caller- or provider-controlled text: results fence it (`telco_mcp.untrusted`).
Fields sipgate may add later are ignored; a missing or malformed field we rely on is a `ValueError`
naming it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from telco_mcp.models import Result
from telco_mcp.phone import possible_e164, same_number
from telco_mcp.untrusted import TRUSTED

EventType = Literal["newCall", "answer", "hangup", "dtmf"]
EVENT_TYPES: tuple[EventType, ...] = ("newCall", "answer", "hangup", "dtmf")
Direction = Literal["in", "out"]

MAX_FIELDS = 64
MAX_VALUE = 256
_CALL_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class CallEvent(Result):
    """A call event as sipgate pushed it; `sequence` and `received_at` are this server's."""

    sequence: Annotated[int, TRUSTED] = Field(default=0, description="Order of arrival at this server (1, 2, ...).")
    received_at: Annotated[datetime, TRUSTED]
    event: Annotated[EventType, TRUSTED]
    call_id: str = Field(description="Usable with the call-control tools once the call is established.")
    orig_call_id: str | None = Field(default=None, description="The original callId (after a transfer).")
    direction: Annotated[Direction | None, TRUSTED] = None
    from_number: str | None = Field(default=None, description="The calling number, or anonymous.")
    to_number: str | None = None
    users: list[str] = Field(default_factory=list, description="newCall: the users the call is for.")
    user_ids: list[str] = Field(default_factory=list)
    answering_user: str | None = Field(default=None, description="answer: who took the call.")
    answering_user_id: str | None = None
    # sipgate's fullUserId (newCall: each of userId[]; answer: who answered): in results, out of the output schema
    full_user_ids: SkipJsonSchema[list[str] | None] = None
    answering_full_user_id: SkipJsonSchema[str | None] = None
    answering_number: str | None = None
    cause: str | None = Field(default=None, description="hangup: normalClearing, busy, cancel, noAnswer, ...")
    dtmf: str | None = Field(default=None, description="dtmf: the digits entered.")
    xcid: str | None = None
    diversion: str | None = None


def event_from_form(pairs: list[tuple[str, str]], received_at: datetime) -> CallEvent:
    """The event in a decoded webhook body; `ValueError` naming the field when it does not fit."""
    if len(pairs) > MAX_FIELDS:
        raise ValueError(f"too many fields ({len(pairs)}, at most {MAX_FIELDS})")
    single: dict[str, str] = {}
    many: dict[str, list[str]] = {}
    for key, value in pairs:
        if len(value) > MAX_VALUE:
            raise ValueError(f"{key}: longer than {MAX_VALUE} characters")
        if key.endswith("[]"):
            many.setdefault(key[:-2], []).append(value)
        elif key in single:
            raise ValueError(f"{key}: given more than once")
        else:
            single[key] = value
    kind = single.get("event")
    if kind not in EVENT_TYPES:
        raise ValueError(f"event: must be one of {', '.join(EVENT_TYPES)}, got {kind!r}")
    call_id = single.get("callId", "")
    if not _CALL_ID.fullmatch(call_id):
        raise ValueError("callId: missing or not a sipgate call id")
    direction = single.get("direction") or None
    if direction not in (None, "in", "out"):
        raise ValueError(f"direction: must be in or out, got {direction!r}")
    # sipgate: "If no input is received, the value of dtmf will be empty" (the Gather timed out).
    if kind == "dtmf" and ("dtmf" not in single or not re.fullmatch(r"[0-9A-D#*]{0,64}", single["dtmf"])):
        raise ValueError("dtmf: missing or not DTMF digits")
    orig = single.get("origCallId") or single.get("originalCallId") or None

    def text(name: str) -> str | None:
        return single.get(name) or None

    def number(name: str) -> str | None:
        return pushed_number(single.get(name) or None)

    return CallEvent(
        received_at=received_at,
        event=kind,
        call_id=call_id,
        orig_call_id=orig,
        direction=direction,  # type: ignore[arg-type]  # checked above
        from_number=number("from"),
        to_number=number("to"),
        users=many.get("user", []),
        user_ids=many.get("userId", []),
        answering_user=text("user") if kind == "answer" else None,
        answering_user_id=text("userId") if kind == "answer" else None,
        full_user_ids=many.get("fullUserId") or None,
        answering_full_user_id=text("fullUserId") if kind == "answer" else None,
        answering_number=number("answeringNumber"),
        cause=text("cause") if kind == "hangup" else None,
        dtmf=single["dtmf"] if kind == "dtmf" else None,
        xcid=text("xcid"),
        diversion=number("diversion"),
    )


def pushed_number(value: str | None) -> str | None:
    """A number as sipgate pushes it (`492111234567`), in E.164 (`+492111234567`); `anonymous` and
    what is no possible number (an internal extension) stay as they are."""
    if value is None or not (value.isascii() and value.isdigit()):
        return value
    try:
        return possible_e164("+" + value)
    except ValueError:
        return value


def delivery_key(event: CallEvent) -> str | None:
    """What makes two pushes one event delivered twice. A push carries no sequence and no timestamp, but
    sipgate sends `newCall`, `answer` and `hangup` once per `callId` (a transfer gives the call a new
    one), so the event and the call id name it. A `dtmf` push has no such key: two `<Gather>`s of one
    call may hear the same keys, so it is never taken for a duplicate (None)."""
    return None if event.event == "dtmf" else f"{event.event}:{event.call_id}"


class EventFilter(Result):
    """What a waiter waits for: every given criterion must hold."""

    number: str | None = None  # E.164; matches the calling or the called number
    direction: Direction | None = None
    events: tuple[EventType, ...] = ()
    call_id: str | None = None

    def matches(self, event: CallEvent) -> bool:
        if self.events and event.event not in self.events:
            return False
        if self.direction is not None and event.direction is not None and event.direction != self.direction:
            return False
        if self.direction is not None and event.direction is None:
            return False
        if self.call_id is not None and self.call_id not in (event.call_id, event.orig_call_id):
            return False
        if self.number is not None:
            numbers = [n for n in (event.from_number, event.to_number) if n]
            if not any(_same(self.number, n) for n in numbers):
                return False
        return True


def _same(wanted: str, pushed: str) -> bool:
    """sipgate pushes numbers without `+` (492111234567); `wanted` is E.164."""
    return same_number(pushed, wanted)
