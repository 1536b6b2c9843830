"""sipgate ownership: in `user` mode, a tool acts only on what the token's sipgate user owns.

`TELCO_MCP_SIPGATE_OWNERSHIP` = `account` (every target of the account) or `user`. Unset, it is `account`
when ``GET /users/{id}`` reports the token's user (``GET /authorization/userinfo``'s ``sub``) as an admin,
else `user`. The server logs at startup what applies: a configured mode at once; a derived one (`announce`)
once the server is up (after the first tools/list is answered, or `server.OWNERSHIP_LOOKUP_AFTER` seconds
after it started), looked up in the background within TELCO_MCP_TIMEOUT; a lookup that fails or does not
answer in time is logged as failing closed. A call that needs ownership logs the mode found when it differs
from what was last said (`describe`).

In `user` mode the user's own things are looked up (and kept `OWNED_FOR` seconds per process): their
devices and phonelines (``/{userId}/devices``, ``/{userId}/phonelines``), SMS extensions
(``/{userId}/sms``), the voicemail boxes of their phonelines (``/voicemails``) and the numbers routed to any
of those (``/numbers``). Then:

* every target a tool names is checked before anything is sent or anyone is asked (`TARGETS`): a device, a
  phoneline, an extension (box, SMS sender, routing target), a number, a history entry (owned when one of its
  connection ids or endpoints is the user's extension; read first), a running call (owned when one of its
  participants is one of the user's numbers; read first), another user's id. A target that is not the
  user's is refused, named;
* lists are filtered (`LISTS`) and say how many items were hidden (`hidden_not_yours`); so is the wait for a
  pushed call event (`EVENTS`): an event is the user's when it names the user (newCall's userId[], answer's
  userId) or one of the user's numbers, or when an earlier event of its call does (dtmf names neither);
* a history export must name the user's extensions (`connection_ids`), since a CSV cannot be filtered here.

Any lookup that fails leaves ownership unknown, and then every checked tool is refused (fail closed). The
user's fax lines (``/{userId}/faxlines``) are looked up too: a fax is sent or resent only from one of them.
sipgate answers that read 403 when fax is not booked (or the token may not read fax lines): the fax lines
are then unknown and a fax is refused, saying why, while every other check works.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from pydantic import BaseModel

from telco_mcp.errors import NotFound, PermissionDenied, SafetyRefusal, TelcoError
from telco_mcp.events.model import CallEvent
from telco_mcp.events.store import EventStore
from telco_mcp.operation import Operation
from telco_mcp.phone import same_number
from telco_mcp.providers.sipgate import models as m
from telco_mcp.providers.sipgate.models_round2 import faxline_ids_from_api
from telco_mcp.upstream import CallContext
from telco_mcp.wire import encode_segment

logger = logging.getLogger(__name__)

OWNED_FOR = 300.0  # seconds a process keeps what a user owns (a change in sipgate shows after this)
Mode = Literal["account", "user"]
Kind = Literal["user", "device", "phoneline", "extension", "number", "entry", "call", "faxline"]
_DEVICE = m._DEVICE_ID  # pyright: ignore[reportPrivateUsage]


@dataclass(frozen=True)
class Owned:
    mode: Mode
    why: str
    user_id: str | None = None
    devices: frozenset[str] = frozenset()
    phonelines: frozenset[str] = frozenset()
    extensions: frozenset[str] = frozenset()  # phonelines, devices, boxes, SMS senders
    numbers: tuple[m.Number, ...] = ()
    faxlines: frozenset[str] | None = frozenset()  # None: sipgate refused the read (fax not booked)
    _numbers_by_id: frozenset[str] = field(default=frozenset(), repr=False)

    def owns_number(self, written: str | None) -> bool:
        return any(same_number(written, n.number) for n in self.numbers) if written else False


def _refused(message: str) -> SafetyRefusal:
    return SafetyRefusal(message, rule="sipgate_ownership")


async def owned(ctx: CallContext, operation: str) -> Owned:
    """What applies now: cached per process for `OWNED_FOR` seconds; unknown ownership raises (fail closed)."""
    setting = getattr(ctx, "sipgate_ownership", None)
    if setting == "account":
        return Owned("account", "TELCO_MCP_SIPGATE_OWNERSHIP=account")
    cached = ctx.client.cache.get("ownership")
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    try:
        found = await _look_up(ctx, operation, setting)
    except TelcoError as exc:
        logger.warning("sipgate ownership: unknown, so %s is refused (fail closed): %s", operation, exc.message)
        raise _refused(
            f"which sipgate resources are yours is unknown ({exc.message.rstrip('.')}), so {operation} is refused "
            "(fail closed). Set TELCO_MCP_SIPGATE_OWNERSHIP=account if this token may act on the whole account"
        ) from None
    _say(ctx, found, describe(found))  # the first time, and whenever it changes
    ctx.client.cache["ownership"] = (time.monotonic() + OWNED_FOR, found)
    return found


def _say(ctx: CallContext, found: Owned, line: str) -> None:
    """Log `line` unless the mode and its reason are what was last said (at startup or by an earlier call)."""
    if ctx.client.cache.get("ownership-said") != (found.mode, found.why):
        ctx.client.cache["ownership-said"] = (found.mode, found.why)
        logger.info(line)


async def _admin(ctx: CallContext, operation: str) -> tuple[str, bool]:
    """The token's user and whether ``GET /users/{id}`` calls them an admin: kept `OWNED_FOR` seconds, and read
    by one caller at a time (the startup lookup and a first call share one answer)."""
    from telco_mcp.providers.sipgate.operations import _own_user_id  # pyright: ignore[reportPrivateUsage]

    cache = ctx.client.cache
    lock = cache.get("admin-lock")
    if lock is None:
        lock = cache["admin-lock"] = anyio.Lock()
    async with lock:
        kept = cache.get("admin")
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        user_id = await _own_user_id(ctx, operation)
        user = m.user_from_api(await ctx.client.read(operation, f"/users/{encode_segment(user_id)}"))
        answer = (user_id, bool(user.admin))
        cache["admin"] = (time.monotonic() + OWNED_FOR, answer)
        return answer


def _derived(user_id: str, admin: bool) -> Owned:
    if admin:
        return Owned("account", f"the token's user {user_id} is an admin of the account", user_id)
    return Owned("user", f"the token's user {user_id} is not an admin of the account", user_id)


async def announce(ctx: CallContext, *, within: float) -> Owned | None:
    """Look up and log the derived mode (TELCO_MCP_SIPGATE_OWNERSHIP unset) within `within` seconds: the
    startup log's line. A lookup that fails or does not answer in time is logged as failing closed (user mode,
    every checked call refused until a lookup succeeds: each such call looks again) and gives None."""
    try:
        with anyio.fail_after(within):
            found = _derived(*await _admin(ctx, "sipgate ownership lookup"))
    except TimeoutError:
        why = f"no answer within {within:g} s (TELCO_MCP_TIMEOUT)"
    except TelcoError as exc:
        why = exc.message.rstrip(".")
    else:
        _say(ctx, found, describe(found, counts=False))
        return found
    ctx.client.cache.pop("ownership-said", None)
    logger.warning(
        "sipgate ownership: user, failing closed: the lookup of the token's user failed (%s), so every sipgate "
        "tool that names a target or lists one is refused until a lookup succeeds; each such call looks again. "
        "Set TELCO_MCP_SIPGATE_OWNERSHIP to choose the mode",
        why,
    )
    return None


async def _look_up(ctx: CallContext, operation: str, setting: str | None) -> Owned:
    from telco_mcp.providers.sipgate.operations import _own_user_id  # pyright: ignore[reportPrivateUsage]

    if setting is None:
        derived = _derived(*await _admin(ctx, operation))
        if derived.mode == "account":
            return derived
        user_id, why = derived.user_id or "", derived.why
    else:
        user_id, why = await _own_user_id(ctx, operation), "TELCO_MCP_SIPGATE_OWNERSHIP=user"
    segment = encode_segment(user_id)
    devices = m.device_list_from_api(await ctx.client.read(operation, f"/{segment}/devices")).items
    lines = m.phoneline_list_from_api(await ctx.client.read(operation, f"/{segment}/phonelines")).items
    senders = m.sms_sender_list_from_api(await ctx.client.read(operation, f"/{segment}/sms")).items
    boxes = m.voicemail_list_from_api(await ctx.client.read(operation, "/voicemails")).items
    try:
        faxlines: frozenset[str] | None = frozenset(
            faxline_ids_from_api(await ctx.client.read(operation, f"/{segment}/faxlines"))
        )
    except PermissionDenied:  # fax not booked, or the token may not read fax lines: only a fax is refused
        faxlines = None
    phonelines = frozenset(line.id for line in lines)
    extensions = phonelines | {d.id for d in devices} | {s.id for s in senders} | (faxlines or frozenset())
    extensions |= {box.id for box in boxes if box.extension in phonelines}
    numbers: list[m.Number] = []
    offset = 0
    while True:  # every page: a number routed to one of the user's extensions is theirs
        query = (("offset", str(offset)), ("limit", "1000"))
        page = m.number_list_from_api(await ctx.client.read(operation, "/numbers", query))
        numbers += [n for n in page if n.endpoint_id in extensions]
        if len(page) < 1000:
            break
        offset += len(page)
    return Owned("user", why, user_id, devices=frozenset(d.id for d in devices), phonelines=phonelines,
                 extensions=frozenset(extensions), numbers=tuple(numbers), faxlines=faxlines,
                 _numbers_by_id=frozenset(n.id for n in numbers if n.id))  # fmt: skip


def describe(found: Owned, *, counts: bool = True) -> str:
    """The line the log writes (at startup without the counts: what the user owns is read at the first call)."""
    if found.mode == "account":
        return f"sipgate ownership: account ({found.why}): tools may act on every resource of the account"
    owns = f" ({len(found.extensions)} extensions, {len(found.numbers)} numbers)" if counts else ""
    return (f"sipgate ownership: user ({found.why}): tools act only on what sipgate user {found.user_id} "
            f"owns{owns}")  # fmt: skip


# ------------------------------------------------------------------ the checks
def _entry_is_theirs(entry: m.HistoryEntry, found: Owned) -> bool:
    ids = set(entry.connection_ids or ()) | {e.extension for e in entry.endpoints or () if e.extension}
    return bool(ids & found.extensions)


def _call_is_theirs(call: m.CallState, found: Owned) -> bool:
    return any(found.owns_number(p.phone_number) for p in call.participants)


async def _check(kind: Kind, ident: str, found: Owned, ctx: CallContext, operation: str) -> None:
    mine = f"sipgate user {found.user_id} owns (TELCO_MCP_SIPGATE_OWNERSHIP: user, {found.why})"
    if kind == "user":
        if ident != found.user_id:
            raise _refused(f"user {ident} is another sipgate user: {operation} may act only on what {mine}.")
        return
    if kind == "entry":
        try:
            entry = m.history_entry_from_api(await ctx.client.read(operation, f"/history/{encode_segment(ident)}"))
        except NotFound:
            return  # the tool itself reports the missing entry
        theirs = _entry_is_theirs(entry, found)
    elif kind == "call":
        calls = m.call_list_from_api(await ctx.client.read(operation, "/calls")).calls
        call = next((c for c in calls if c.call_id == ident), None)
        if call is None:
            return  # the tool itself reports the ended call
        theirs = _call_is_theirs(call, found)
    elif kind == "faxline" and found.faxlines is None:
        raise _refused(f"which fax lines are yours is unknown (sipgate refused GET /{found.user_id}/faxlines: fax "
                       f"not booked, or this token may not read fax lines), so {operation} is refused (fail "
                       "closed). Nothing was sent.")  # fmt: skip
    else:
        owned_ids = {"device": found.devices, "phoneline": found.phonelines, "extension": found.extensions,
                     "faxline": found.faxlines or frozenset(),
                     "number": found._numbers_by_id}[kind]  # fmt: skip  # pyright: ignore[reportPrivateUsage]
        theirs = ident in owned_ids
    if not theirs:
        shown = {"entry": "history entry", "faxline": "fax line"}.get(kind, kind)
        raise _refused(f"{shown} {ident} is not yours: {operation} may act only "
                       f"on what {mine}. Nothing was sent.")  # fmt: skip


Targets = Callable[[Any], Iterable[tuple[Kind, str | None]]]


def _device_caller(a: Any) -> Iterable[tuple[Kind, str | None]]:
    yield ("device", a.caller) if _DEVICE.fullmatch(a.caller) else ("number", None)
    yield ("device", a.device_id)


_CALL: Targets = lambda a: [("call", a.call_id)]  # noqa: E731
_USER_LINE: Targets = lambda a: [("user", a.user_id), ("phoneline", getattr(a, "phoneline_id", None))]  # noqa: E731

# Every sipgate tool that names a target: which of its fields name what. A tool that names none is
# account-wide (the account, its balance, contacts, blacklist, push URLs) or the user's own (SMS senders).
TARGETS: dict[str, Targets] = {
    **dict.fromkeys(
        (
            "sipgate_hold_call",
            "sipgate_mute_call",
            "sipgate_record_call",
            "sipgate_transfer_call",
            "sipgate_send_dtmf",
            "sipgate_play_announcement",
            "sipgate_hangup_call",
        ),
        _CALL,
    ),  # fmt: skip
    "sipgate_start_call": _device_caller,
    "sipgate_send_sms": lambda a: [("extension", a.sms_id)],
    "sipgate_list_history": lambda a: [("extension", c) for c in a.connection_ids or ()],
    "sipgate_list_devices": _USER_LINE,
    "sipgate_list_phonelines": _USER_LINE,
    "sipgate_get_forwardings": _USER_LINE,
    "sipgate_set_forwardings": _USER_LINE,
    "sipgate_update_history_entry": lambda a: [("entry", a.entry_id)],
    "sipgate_delete_history_entry": lambda a: [("entry", a.entry_id)],
    "sipgate_route_number": lambda a: [("number", a.number_id), ("extension", a.endpoint_id)],
    "sipgate_get_voicemail": lambda a: [("extension", a.voicemail_id)],
    "sipgate_send_fax": lambda a: [("faxline", a.faxline_id)],
    "sipgate_get_fax_status": lambda a: [("entry", a.fax_id)],
    "sipgate_resend_fax": lambda a: [("entry", a.fax_id), ("faxline", a.faxline_id)],
    "sipgate_export_history": lambda a: [("extension", c) for c in a.connection_ids or ()],
}


def _guard(name: str, targets: Targets) -> Callable[..., Any]:
    async def guard(args: Any, ctx: CallContext) -> None:
        await ctx.once("ownership", lambda: _checked(args, ctx))

    async def _checked(args: Any, ctx: CallContext) -> None:
        named: list[tuple[Kind, str]] = [(kind, ident) for kind, ident in targets(args) if ident]
        if not named and name != "sipgate_export_history":
            return  # this call names no target (e.g. the default SMS sender): nothing to check
        found = await owned(ctx, name)
        if found.mode == "account":
            return
        if name == "sipgate_export_history" and not args.connection_ids:
            raise _refused(f"a CSV export cannot be filtered here: give connection_ids, your extensions "
                           f"({', '.join(sorted(found.extensions)) or 'none'}). Nothing was sent.")  # fmt: skip
        for kind, ident in named:
            await _check(kind, ident, found, ctx, name)

    return guard


# ------------------------------------------------------------------ the lists
def _screen(field_name: str, keep: Callable[[Any, Owned], bool], name: str) -> Callable[..., Any]:
    async def screen(result: BaseModel, args: Any, ctx: CallContext) -> BaseModel:
        found = await owned(ctx, name)
        if found.mode == "account":
            return result
        items = getattr(result, field_name)
        kept = [item for item in items if keep(item, found)]
        return result.model_copy(update={field_name: kept, "hidden_not_yours": len(items) - len(kept)})

    return screen


LISTS: dict[str, tuple[str, Callable[[Any, Owned], bool]]] = {
    "sipgate_list_calls": ("calls", _call_is_theirs),
    "sipgate_list_history": ("items", _entry_is_theirs),
    "sipgate_list_numbers": ("items", lambda n, f: n.id in f._numbers_by_id),  # pyright: ignore[reportPrivateUsage]
    "sipgate_list_voicemails": ("items", lambda box, f: box.id in f.extensions),
}


# ------------------------------------------------------------------ pushed call events
def _event_names_them(event: CallEvent, found: Owned) -> bool:
    """The event is for the user (newCall's userId[], answer's userId) or one of its numbers is theirs."""
    if found.user_id and (found.user_id in event.user_ids or event.answering_user_id == found.user_id):
        return True
    return any(found.owns_number(n) for n in (event.from_number, event.to_number, event.answering_number))


async def _event_is_theirs(event: CallEvent, found: Owned, events: EventStore | None) -> bool:
    """The event is theirs, or an event of the same call is (dtmf names neither a number nor a user)."""
    if _event_names_them(event, found):
        return True
    if events is None:
        return False
    for call_id in {event.call_id, event.orig_call_id} - {None}:
        if any(_event_names_them(e, found) for e in await events.for_call(call_id or "")):
            return True
    return False


def _visible(name: str) -> Callable[..., Any]:
    async def visible(args: Any, ctx: CallContext) -> Callable[[Any], Any] | None:
        found = await owned(ctx, name)
        if found.mode == "account":
            return None
        events = ctx.events

        async def theirs(event: CallEvent) -> bool:
            return await _event_is_theirs(event, found, events)

        return theirs

    return visible


# Tools answered from pushed call events: in `user` mode they return only the user's calls' events.
EVENTS = frozenset({"sipgate_wait_for_call_event"})


async def events_theirs(ctx: CallContext, events: Iterable[CallEvent], operation: str) -> tuple[list[CallEvent], int]:
    """`events` as `operation` may show them (the call events resource): in `user` mode the user's calls' only,
    with how many were hidden; unknown ownership raises (fail closed)."""
    found = await owned(ctx, operation)
    listed = list(events)
    if found.mode == "account":
        return listed, 0
    kept = [event for event in listed if await _event_is_theirs(event, found, ctx.events)]
    return kept, len(listed) - len(kept)


def with_ownership(ops: Iterable[Operation]) -> tuple[Operation, ...]:
    """`ops` with the ownership checks of `TARGETS`, `LISTS` and `EVENTS` attached (sipgate only)."""
    out: list[Operation] = []
    for op in ops:
        hooks: dict[str, Any] = {}
        if op.name in TARGETS:
            hooks["guard"] = _guard(op.name, TARGETS[op.name])
        if op.name in LISTS:
            hooks["screen"] = _screen(*LISTS[op.name], op.name)
        if op.name in EVENTS:
            hooks["visible"] = _visible(op.name)
        out.append(dataclasses.replace(op, **hooks) if hooks else op)
    return tuple(out)
