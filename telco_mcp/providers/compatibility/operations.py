"""The 2010-04-01 Compatibility API's calls, conferences and queues, declared once for any provider that speaks it.

`compatibility_operations(provider, base=..., account=...)` builds the catalogue entries of one provider:
SignalWire's instance (`providers/signalwire/compatibility.py`) is
`/api/laml/2010-04-01/Accounts/{project_id}/...` on the space's host with Basic auth. Another provider of the
same shape (Twilio's `https://api.twilio.com/2010-04-01`) would call it with its own name, base path and
account source, and bring its own client (base URL, auth); see docs/signalwire-compatibility.md.

Writes are form bodies (`PreparedRequest.form`), their fields in a fixed order: the order the approver reads.
Lists follow the provider's `next_page_uri`: its query (`Page`, `PageSize`, `PageToken`) becomes an opaque
cursor for the tool's own path on the configured base URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
from pydantic import BaseModel

from telco_mcp.errors import InvalidInput, NotFound
from telco_mcp.models import MAX_LIMIT
from telco_mcp.operation import Operation, WriteSubject
from telco_mcp.phone import pretty
from telco_mcp.providers import payload as p
from telco_mcp.providers.compatibility import models as m
from telco_mcp.untrusted import quote
from telco_mcp.upstream import CallContext
from telco_mcp.wire import PreparedRequest, Provider, decode_cursor, encode_segment, next_page, response_json

Account = Callable[[CallContext], str]
"""Where a call of a tool finds the AccountSid its paths name (SignalWire: the project id of its client)."""


def compatibility_operations(provider: Provider, *, base: str, account: Account) -> tuple[Operation, ...]:
    """The calls, conferences and queues tools of `provider`, whose Compatibility API lives at `base`."""
    return _Family(provider, base, account).operations()


def _party(value: str | None) -> str:
    """A call's party as people read it: a number spaced, anything else (a SIP URI, a client) quoted."""
    return pretty(value) if value and value.startswith("+") else quote(value or "(unknown)")


class _Family:
    def __init__(self, provider: Provider, base: str, account: Account) -> None:
        self.provider: Provider = provider
        self.base = base.rstrip("/")
        self.account = account

    # ---------------------------------------------------------------- paths
    def path(self, ctx: CallContext, *segments: object) -> str:
        """`{base}/Accounts/{AccountSid}/<segments>`, each segment encoded (an id can never add a path level)."""
        return "/".join([f"{self.base}/Accounts/{encode_segment(self.account(ctx))}", *map(encode_segment, segments)])

    def template(self, *segments: str) -> str:
        """The path as the manifest shows it: `{AccountSid}` and the input fields as placeholders."""
        return "/".join([f"{self.base}/Accounts/{{AccountSid}}", *segments])

    # ---------------------------------------------------------------- reads
    def _list(
        self, name: str, description: str, resource: str, key: str, item: Any, segments: Callable[[Any], list[object]],
        input: type[BaseModel], output: type[BaseModel], template: str, not_found: str | None = None,
    ) -> Operation:  # fmt: skip
        reader = m.page_reader(key, item)

        async def prepare(args: Any, ctx: CallContext) -> PreparedRequest:
            path = self.path(ctx, *segments(args))
            fields = {k: str(v) for k, v in args.model_dump(include={"conference_sid", "queue_sid"}).items()}
            if args.cursor:
                query = decode_cursor(args.cursor, path, size="PageSize", max_size=MAX_LIMIT)
                return PreparedRequest("GET", path, tuple(query), fields=fields)
            filters = args.filters() if hasattr(args, "filters") else []
            return PreparedRequest("GET", path, (("PageSize", str(args.limit)), *filters), fields=fields)

        async def interpret(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
            items, next_uri = reader(response_json(response))
            return output(items=items, next_cursor=next_page(next_uri, self.path(ctx, *segments(args))))

        return self._read(name, description, resource, input, output, template, prepare, interpret, not_found)

    def _read(
        self, name: str, description: str, resource: str, input: type[BaseModel], output: type[BaseModel],
        template: str, prepare: Any, interpret: Any, not_found: str | None = None,
    ) -> Operation:  # fmt: skip
        return Operation(
            name=name,
            title=description.split(":")[0].split(",")[0].rstrip("."),
            description=description,
            provider=self.provider,
            method="GET",
            path=template,
            input=input,
            output=output,
            scope=f"{self.provider}:{resource}:read",
            effect="read",
            idempotent=True,
            default=False,
            prepare=prepare,
            interpret=interpret,
            not_found=not_found,
        )

    # ---------------------------------------------------------------- lookups a write makes
    async def call(self, ctx: CallContext, operation: str, call_sid: object) -> m.Call:
        """The call a write touches (read once per tool call): the question names its parties."""

        async def lookup() -> m.Call:
            try:
                raw = await ctx.client.read(operation, self.path(ctx, "Calls", call_sid))
            except NotFound:
                raise NotFound(f"No call {call_sid}. Nothing was sent.", provider=self.provider,
                               operation=operation) from None  # fmt: skip
            return m.call_from_api(raw)

        return await ctx.once(f"call:{call_sid}", lookup)

    async def participant(self, ctx: CallContext, operation: str, args: m.ParticipantInput) -> m.Participant:
        async def lookup() -> m.Participant:
            try:
                raw = await ctx.client.read(
                    operation, self.path(ctx, "Conferences", args.conference_sid, "Participants", args.call_sid)
                )
            except NotFound:
                raise NotFound(f"No participant {args.call_sid} in conference {args.conference_sid}. Nothing was "
                               "sent.", provider=self.provider, operation=operation) from None  # fmt: skip
            return m.participant_from_api(raw)

        return await ctx.once("participant", lookup)

    async def own_number(self, ctx: CallContext, operation: str, number: str) -> str:
        """`number` as the account spells it, if it is one of the account's numbers (and can call); else refused."""

        async def lookup() -> str:
            raw = await ctx.client.read(operation, self.path(ctx, "IncomingPhoneNumbers"), (("PhoneNumber", number),))
            listed = p.items(
                p.obj(raw, "phone numbers"),
                "incoming_phone_numbers",
                "phone numbers",
                lambda e: p.obj(e, "phone number"),
            )
            digits = number.lstrip("+")
            for entry in listed:
                spelled = p.req_str(entry, "phone_number", "phone number")
                if "".join(c for c in spelled if c.isdigit()) == digits:
                    capabilities = entry.get("capabilities")
                    if isinstance(capabilities, dict) and capabilities.get("voice") is False:
                        raise InvalidInput(f"from_number {pretty(number)} cannot make calls (voice is not among its "
                                           "capabilities)")  # fmt: skip
                    return spelled
            raise InvalidInput(f"from_number {pretty(number)} is not one of this project's numbers: call from a number "
                               f"the project owns ({self.provider}'s IncomingPhoneNumbers)")  # fmt: skip

        return await ctx.once("own-number", lookup)

    # ---------------------------------------------------------------- the operations
    def operations(self) -> tuple[Operation, ...]:
        return (*self.call_operations(), *self.conference_operations(), *self.queue_operations())

    def call_operations(self) -> tuple[Operation, ...]:
        name = self.provider
        family = self

        async def get_call(args: m.GetCallInput, ctx: CallContext) -> PreparedRequest:
            return PreparedRequest(
                "GET", self.path(ctx, "Calls", args.call_sid), fields={"call_sid": str(args.call_sid)}
            )

        async def one_call(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
            return m.call_from_api(response_json(response))

        # ---- start a call
        start = f"{name}_start_call"

        async def prepare_start(args: m.StartCallInput, ctx: CallContext) -> PreparedRequest:
            spelled = await family.own_number(ctx, start, args.from_number)
            return PreparedRequest("POST", self.path(ctx, "Calls"), form=args.form(spelled))

        async def summarize_start(args: m.StartCallInput, ctx: CallContext) -> str:
            await family.own_number(ctx, start, args.from_number)
            words = (
                f"Call {pretty(args.to_number)} from {pretty(args.from_number)}; the call follows the instructions at "
            )
            words += quote(args.url)
            others = (("fallback", args.fallback_url), ("status events to", args.status_callback))
            extra = [f"{label} {quote(url)}" for label, url in others if url]
            if extra:
                words += " (" + ", ".join(extra) + ")"
            return words + (f", ringing up to {args.timeout} s" if args.timeout else "")

        # ---- hang up or redirect
        update = f"{name}_update_call"

        async def prepare_update(args: m.UpdateCallInput, ctx: CallContext) -> PreparedRequest:
            call = await family.call(ctx, update, args.call_sid)
            if call.status not in m.LIVE:
                raise InvalidInput(f"call {args.call_sid} is {quote(call.status or 'not live')}: only a queued, "
                                   "ringing or in-progress call can be hung up or redirected")  # fmt: skip
            if args.action == "redirect":
                assert args.url is not None
                form: tuple[tuple[str, str], ...] = (("Url", args.url),)
            else:  # a call not yet answered is canceled; an answered one completed (the spec's two statuses)
                form = (("Status", "completed" if call.status == "in-progress" else "canceled"),)
            path = self.path(ctx, "Calls", args.call_sid)
            return PreparedRequest("POST", path, form=form, fields={"call_sid": str(args.call_sid)})

        async def summarize_update(args: m.UpdateCallInput, ctx: CallContext) -> str:
            call = await family.call(ctx, update, args.call_sid)
            parties = f"call {args.call_sid} from {_party(call.from_number)} to {_party(call.to_number)}, "
            parties += quote(call.status)
            if args.action == "hangup":
                return f"Hang up the {parties}: both parties are disconnected"
            return f"Redirect the {parties} to the instructions at {quote(args.url)}: what the call does now stops"

        return (
            self._list(
                f"{name}_list_calls",
                "List calls, newest first: filter by status, from, to, start time.",
                "calls",
                "calls",
                m.call_from_api,
                lambda a: ["Calls"],
                m.ListCallsInput,
                m.CallPage,
                self.template("Calls"),
            ),  # fmt: skip
            self._read(
                f"{name}_get_call",
                "Get a call: parties, status, times, duration.",
                "calls",
                m.GetCallInput,
                m.Call,
                self.template("Calls", "{call_sid}"),
                get_call,
                one_call,
                not_found="No call {call_sid}.",
            ),  # fmt: skip
            Operation(
                name=start,
                title="Start a call",
                description="Call a number from one of the project's numbers; url (https, allowed host) gives the "
                "cXML. Also: fallback_url, status_callback, timeout.",
                provider=self.provider,
                method="POST",
                path=self.template("Calls"),
                input=m.StartCallInput,
                output=m.Call,
                scope=f"{name}:calls:write",
                effect="write",
                idempotent=False,
                default=False,
                prepare=prepare_start,
                interpret=one_call,
                summarize=summarize_start,
                subject=lambda a: WriteSubject(destinations=(a.to_number,), kind="call", urls=a.urls()),
            ),
            Operation(
                name=update,
                title="Hang up or redirect a call",
                description="Hang up a live call, or redirect it to new cXML at url (https, allowed host).",
                provider=self.provider,
                method="POST",
                path=self.template("Calls", "{call_sid}"),
                input=m.UpdateCallInput,
                output=m.Call,
                scope=f"{name}:calls:write",
                effect="destructive",
                idempotent=False,
                default=False,
                prepare=prepare_update,
                interpret=one_call,
                summarize=summarize_update,
                subject=lambda a: WriteSubject(target=str(a.call_sid), urls=a.urls()),
                not_found="No call {call_sid}.",
            ),
        )

    def conference_operations(self) -> tuple[Operation, ...]:
        name = self.provider
        family = self
        participant = self.template("Conferences", "{conference_sid}", "Participants", "{call_sid}")
        fields = lambda a: {"conference_sid": str(a.conference_sid), "call_sid": str(a.call_sid)}  # noqa: E731

        async def words(args: m.ParticipantInput, ctx: CallContext, operation: str) -> str:
            await family.participant(ctx, operation, args)
            call = await family.call(ctx, operation, args.call_sid)
            return (f"participant {_party(call.from_number)} to {_party(call.to_number)} (call {args.call_sid}) "
                    f"of conference {args.conference_sid}")  # fmt: skip

        update = f"{name}_update_conference_participant"

        async def prepare_update(args: m.UpdateParticipantInput, ctx: CallContext) -> PreparedRequest:
            await family.participant(ctx, update, args)
            path = self.path(ctx, "Conferences", args.conference_sid, "Participants", args.call_sid)
            return PreparedRequest("POST", path, form=args.form(), fields=fields(args))

        async def summarize_update(args: m.UpdateParticipantInput, ctx: CallContext) -> str:
            verb = {"mute": "Mute", "unmute": "Unmute", "hold": "Hold", "unhold": "Take off hold"}[args.action]
            return f"{verb} {await words(args, ctx, update)}"

        async def one_participant(response: httpx2.Response, args: Any, ctx: CallContext) -> BaseModel:
            return m.participant_from_api(response_json(response))

        remove = f"{name}_remove_conference_participant"

        async def prepare_remove(args: m.ParticipantInput, ctx: CallContext) -> PreparedRequest:
            await family.participant(ctx, remove, args)
            path = self.path(ctx, "Conferences", args.conference_sid, "Participants", args.call_sid)
            return PreparedRequest("DELETE", path, fields=fields(args))

        async def summarize_remove(args: m.ParticipantInput, ctx: CallContext) -> str:
            return f"Remove {await words(args, ctx, remove)}: their call leaves the conference and is hung up"

        async def removed(response: httpx2.Response, args: m.ParticipantInput, ctx: CallContext) -> BaseModel:
            return m.RemovedParticipant(call_sid=str(args.call_sid), conference_sid=str(args.conference_sid))

        not_found = "No participant {call_sid} in conference {conference_sid}."
        return (
            self._list(
                f"{name}_list_conferences",
                "List conferences, newest first.",
                "conferences",
                "conferences",
                m.conference_from_api,
                lambda a: ["Conferences"],
                m.ListConferencesInput,
                m.ConferencePage,
                self.template("Conferences"),
            ),  # fmt: skip
            self._list(
                f"{name}_list_conference_participants",
                "List a conference's participants: muted, on hold.",
                "conferences",
                "participants",
                m.participant_from_api,
                lambda a: ["Conferences", a.conference_sid, "Participants"],
                m.ListParticipantsInput,
                m.ParticipantPage,
                self.template("Conferences", "{conference_sid}", "Participants"),
                not_found="No conference {conference_sid}.",
            ),  # fmt: skip
            Operation(
                name=update,
                title="Mute or hold a participant",
                description="Mute, unmute, hold or unhold a conference participant.",
                provider=self.provider,
                method="POST",
                path=participant,
                input=m.UpdateParticipantInput,
                output=m.Participant,
                scope=f"{name}:conferences:write",
                effect="write",
                idempotent=True,
                default=False,
                prepare=prepare_update,
                interpret=one_participant,
                summarize=summarize_update,
                subject=lambda a: WriteSubject(target=str(a.call_sid)),
                not_found=not_found,
            ),
            Operation(
                name=remove,
                title="Remove a participant",
                description="Remove a participant from a conference; their call is hung up.",
                provider=self.provider,
                method="DELETE",
                path=participant,
                input=m.ParticipantInput,
                output=m.RemovedParticipant,
                scope=f"{name}:conferences:write",
                effect="destructive",
                idempotent=False,
                default=False,
                prepare=prepare_remove,
                interpret=removed,
                summarize=summarize_remove,
                subject=lambda a: WriteSubject(target=str(a.call_sid)),
                not_found=not_found,
            ),
        )

    def queue_operations(self) -> tuple[Operation, ...]:
        name = self.provider
        return (
            self._list(
                f"{name}_list_queues",
                "List call queues: size, average wait.",
                "queues",
                "queues",
                m.queue_from_api,
                lambda a: ["Queues"],
                m.ListQueuesInput,
                m.QueuePage,
                self.template("Queues"),
            ),  # fmt: skip
            self._list(
                f"{name}_list_queue_members",
                "List the calls waiting in a queue, by position.",
                "queues",
                "queue_members",
                m.queue_member_from_api,
                lambda a: ["Queues", a.queue_sid, "Members"],
                m.ListQueueMembersInput,
                m.QueueMemberPage,
                self.template("Queues", "{queue_sid}", "Members"),
                not_found="No queue {queue_sid}.",
            ),  # fmt: skip
        )
