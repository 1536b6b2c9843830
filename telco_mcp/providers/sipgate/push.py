"""sipgate push (sipgate.io webhooks): the account's push URLs, and waiting for a pushed call event.

`GET/PUT /settings/sipgateio` hold the account-wide URLs sipgate posts call events to. `PUT`
replaces all of them: it can cut off an integration that uses them today (a CRM), so the
question names the URLs being replaced. `sipgate_wait_for_call_event` sends nothing upstream: it
waits for the receiver (`telco_mcp.events`) to record a matching event.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Annotated, Any, Literal

import anyio
import httpx2
from pydantic import AfterValidator, BaseModel, Field

from telco_mcp.errors import InvalidInput, StateUnavailable
from telco_mcp.events.model import CallEvent, EventFilter, EventType
from telco_mcp.models import Result, StrictInput
from telco_mcp.operation import LocalContext, WriteSubject
from telco_mcp.phone import ShownNumber
from telco_mcp.providers import payload as p
from telco_mcp.providers.sipgate import models as m
from telco_mcp.providers.sipgate.models import CallId
from telco_mcp.routing import redact_userinfo, routing_url
from telco_mcp.untrusted import TRUSTED, quote
from telco_mcp.upstream import CallContext
from telco_mcp.wire import PreparedRequest, response_json

logger = logging.getLogger(__name__)

SETTINGS_PATH = "/settings/sipgateio"
WAIT_DEFAULT = 45  # below the 60-second limit of common clients and proxies
WAIT_MAX = 300
PROGRESS_EVERY = 5.0


# ------------------------------------------------------------------ push URLs
THIS_SERVER = "this_server"


def _push_url(value: str) -> str:
    """A push URL decides where every call's numbers go: read strictly, its host checked by the guardrails."""
    if value in ("", THIS_SERVER):
        return value
    return routing_url(value)


PushUrl = Annotated[str, AfterValidator(_push_url), Field(max_length=2048)]


class GetWebhooksInput(StrictInput):
    pass


class SetWebhooksInput(StrictInput):
    incoming_url: PushUrl = Field(
        description="Incoming-call events go here: a URL, this_server (this server's receiver) or empty."
    )
    outgoing_url: PushUrl = Field(description="Outgoing-call events: a URL, this_server or empty.")
    log: bool | None = Field(default=None, description="Log each push in sipgate (default: unchanged).")
    whitelist: list[Annotated[str, Field(pattern=r"^[a-z][0-9]+$")]] | None = Field(
        default=None, max_length=100, description="Only these users/groups, e.g. w0, g3."
    )


class Webhooks(Result):
    incoming_url: str | None = None
    outgoing_url: str | None = None
    log: bool | None = None
    whitelist: list[str] = Field(default_factory=list[str])


_RECEIVER_SECRET = re.compile(r"(/webhooks/sipgate/)[^/?#\s]+")


def redact_receiver_secret(url: str | None) -> str | None:
    """A push URL as shown: a telco-mcp receiver's path secret hidden (`.../webhooks/sipgate/***`), and any
    `user:password@` an account's URL carries (set outside this server) written `***@`."""
    return redact_userinfo(_RECEIVER_SECRET.sub(r"\1***", url)) if url else url


def webhooks_from_api(payload: Any) -> Webhooks:
    """``SipgateIoUrlResponse`` -> ``Webhooks``."""
    what = "sipgate.io settings"
    data = p.obj(payload, what)
    return Webhooks(
        incoming_url=redact_receiver_secret(p.opt_str(data, "incomingUrl", what)) or None,
        outgoing_url=redact_receiver_secret(p.opt_str(data, "outgoingUrl", what)) or None,
        log=p.opt_bool(data, "log", what),
        whitelist=p.opt_str_list(data, "whitelist", what) or [],
    )


async def current_webhooks(ctx: CallContext, operation: str) -> Webhooks:
    """The push settings now (read once per call): the question shows what is replaced."""

    async def lookup() -> Webhooks:
        return webhooks_from_api(await ctx.client.read(operation, SETTINGS_PATH))

    return await ctx.once("webhooks", lookup)


def _resolved(url: str, ctx: CallContext) -> str:
    """`this_server` as this server's receiver URL (it holds the path secret: never shown, only sent)."""
    if url != THIS_SERVER:
        return url
    if ctx.receiver_url is None:
        raise InvalidInput(
            "this_server needs TELCO_MCP_PUBLIC_URL, the public base URL at which sipgate reaches this server "
            "(`telco-mcp doctor` checks it). Nothing was sent."
        )
    return ctx.receiver_url


def _new_body(args: SetWebhooksInput, now: Webhooks, ctx: CallContext) -> dict[str, Any]:
    return {
        "incomingUrl": _resolved(args.incoming_url, ctx),
        "outgoingUrl": _resolved(args.outgoing_url, ctx),
        "log": args.log if args.log is not None else bool(now.log),
        "whitelist": args.whitelist if args.whitelist is not None else list(now.whitelist),
    }


def subject(args: SetWebhooksInput) -> WriteSubject:
    """The push URLs the guardrails check (this server's own receiver is always allowed)."""
    urls = (("incoming_url", args.incoming_url), ("outgoing_url", args.outgoing_url))
    return WriteSubject(urls=tuple((name, url) for name, url in urls if url not in ("", THIS_SERVER)))


async def prepare_set(args: SetWebhooksInput, ctx: CallContext) -> PreparedRequest:
    now = await current_webhooks(ctx, "sipgate_set_webhooks")
    return PreparedRequest("PUT", SETTINGS_PATH, json=_new_body(args, now, ctx))


def _shown(url: str | None) -> str:
    return quote(redact_receiver_secret(url)) if url else "(none)"


def _target(url: str, ctx: CallContext) -> str:
    if url == THIS_SERVER:
        return f"this server's receiver {_shown(_resolved(url, ctx))}"
    return _shown(url)


async def summarize_set(args: SetWebhooksInput, ctx: CallContext) -> str:
    now = await current_webhooks(ctx, "sipgate_set_webhooks")
    parts = [
        f"incoming {_shown(now.incoming_url)} → {_target(args.incoming_url, ctx)}",
        f"outgoing {_shown(now.outgoing_url)} → {_target(args.outgoing_url, ctx)}",
    ]
    if args.log is not None and args.log != bool(now.log):
        parts.append(f"log {'on' if now.log else 'off'} → {'on' if args.log else 'off'}")
    if args.whitelist is not None and args.whitelist != now.whitelist:
        parts.append(f"sources {', '.join(now.whitelist) or 'all'} → {', '.join(args.whitelist) or 'all'}")
    replaced = [
        u for u in (now.incoming_url, now.outgoing_url) if u and u not in (args.incoming_url, args.outgoing_url)
    ]
    warning = (
        ". Whatever receives the replaced URLs today (a CRM, another integration) gets no more call events"
        if replaced
        else ""
    )
    return "Replace the account-wide sipgate.io push URLs: " + "; ".join(parts) + warning


async def set_result(response: httpx2.Response, args: SetWebhooksInput, ctx: CallContext) -> BaseModel:
    return webhooks_from_api(await ctx.client.read("sipgate_set_webhooks", SETTINGS_PATH))


async def get_result(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
    return webhooks_from_api(response_json(response))


# ------------------------------------------------------------------ running calls, with what was pushed
def pushed_info(events: list[CallEvent]) -> m.PushedCallInfo | None:
    """One call's kept events (oldest first) merged: later events fill in what earlier ones lacked."""
    if not events:
        return None
    info: dict[str, Any] = {}
    for event in events:
        for name in ("direction", "from_number", "to_number", "answering_number"):
            value = getattr(event, name)
            if value:
                info[name] = value
        if event.users:
            info["users"] = list(event.users)
        if event.answering_user:
            info["answering_user"] = event.answering_user
    return m.PushedCallInfo(**info)


PUSHED_READ_TIMEOUT = 0.2  # seconds the call-event lookup may add to sipgate_list_calls; the list comes anyway


async def calls_with_events(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
    """`GET /calls`, each call with what its push events said (name, direction, who answered) when known.

    The lookup (the shared state, with `TELCO_MCP_STATE_URL`) gets `PUSHED_READ_TIMEOUT`: a read never waits
    for, nor fails on, a Redis that does not answer. It then lists the calls as sipgate does and says so."""
    listed = m.call_list_from_api(response_json(response))
    if ctx.events is None or not listed.calls:
        return listed
    events = ctx.events
    calls: list[m.Call] | None = None
    why = f"did not answer within {PUSHED_READ_TIMEOUT * 1000:.0f} ms"
    with anyio.move_on_after(PUSHED_READ_TIMEOUT):
        try:
            calls = [
                call.model_copy(update={"pushed": pushed_info(await events.for_call(call.call_id))})
                for call in listed.calls
            ]
        except StateUnavailable:
            why = "cannot be reached"
    if calls is None:  # the shared state is away or slow: the calls as sipgate lists them
        logger.warning("sipgate_list_calls without pushed call information: the shared state %s", why)
        note = (
            f"Pushed call information (caller names, direction, who answered) is left out: the shared state {why}. "
            "The calls are as sipgate lists them."
        )
        return listed.model_copy(update={"note": note})
    return m.CallList(calls=calls)


# ------------------------------------------------------------------ waiting for an event
class WaitForCallEventInput(StrictInput):
    number: ShownNumber | None = Field(default=None, description="Only calls from or to this number.")
    direction: Literal["in", "out"] | None = Field(default=None, description="in: incoming calls; out: outgoing.")
    events: list[EventType] | None = Field(default=None, min_length=1, description="Only these events (default: all).")
    call_id: CallId | None = Field(default=None, description="Only events of this call.")
    after_sequence: int | None = Field(
        default=None, ge=0, description="Resume after this event sequence (misses none)."
    )
    timeout_seconds: int = Field(default=WAIT_DEFAULT, ge=1, le=WAIT_MAX, description="Seconds to wait (max 300).")

    def filter(self) -> EventFilter:
        return EventFilter(
            number=self.number, direction=self.direction, events=tuple(self.events or ()), call_id=self.call_id
        )


class CallEventWait(Result):
    status: Annotated[Literal["event", "timeout"], TRUSTED]
    event: CallEvent | None = Field(default=None, description="The matching event; absent on timeout.")
    waited_seconds: Annotated[float, TRUSTED]
    note: Annotated[str | None, TRUSTED] = None
    hidden_not_yours: m.HiddenNotYours = None


async def wait_for_event(args: WaitForCallEventInput, ctx: LocalContext) -> BaseModel:
    """The first matching event: a kept one after `after_sequence`, else the next one to arrive. An event the
    caller may not see (`ctx.visible`: another sipgate user's, in `user` ownership mode) is skipped and counted."""
    wanted = args.filter()
    started = time.monotonic()
    hidden = 0

    async def shown(event: CallEvent) -> bool:
        nonlocal hidden
        if not wanted.matches(event):
            return False
        if ctx.visible is not None and not await ctx.visible(event):
            hidden += 1
            return False
        return True

    def result(event: CallEvent | None, waited: float, note: str | None = None) -> CallEventWait:
        return CallEventWait(status="event" if event else "timeout", event=event, waited_seconds=round(waited, 3),
                             note=note, hidden_not_yours=hidden if ctx.visible is not None else None)  # fmt: skip

    async with ctx.events.subscribe() as incoming:  # subscribed before looking back: nothing slips between
        if args.after_sequence is not None:
            kept = sorted(await ctx.events.recent(10_000), key=lambda e: e.sequence)
            for event in kept:
                if event.sequence > args.after_sequence and await shown(event):
                    return result(event, 0.0)
        deadline = started + args.timeout_seconds
        await ctx.progress(0, args.timeout_seconds, "waiting for a call event")
        while (left := deadline - time.monotonic()) > 0:
            with anyio.move_on_after(min(left, PROGRESS_EVERY)):
                async for event in incoming:
                    if await shown(event):
                        return result(event, time.monotonic() - started)
            elapsed = min(time.monotonic() - started, args.timeout_seconds)
            await ctx.progress(round(elapsed, 1), args.timeout_seconds, "waiting for a call event")
    note = f"No matching call event within {args.timeout_seconds} s. Call again to keep waiting."
    return result(None, time.monotonic() - started, note)


async def not_sent(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:  # pragma: no cover
    raise AssertionError("sipgate_wait_for_call_event sends no request")
