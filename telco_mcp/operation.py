"""`Operation`: one tool, declared as data.

An `Operation` says what the tool is called, what it does upstream (method and path), what it takes
and returns (pydantic models), which scope it needs, what effect it has and whether repeating it is
safe. Providers declare theirs in `providers/<name>/operations.py`; `catalogue.py` collects them.

How a call runs: `build_request(args, ctx)` builds the exact upstream request (so a dry run or a
confirmation preview can show it without sending), the shared client sends it, and
`read_result(response, args, ctx)` turns the answer into the result model. The hooks report the
caller's mistakes as `InvalidInput` and a provider's odd answer as `UnexpectedResponse`, so the
layers above handle `TelcoError` only.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2
from mcp.types import ToolAnnotations
from pydantic import BaseModel

from telco_mcp.errors import UnexpectedResponse
from telco_mcp.events.store import EventStore
from telco_mcp.phone import pretty
from telco_mcp.providers.payload import PayloadShapeError
from telco_mcp.upstream import CallContext
from telco_mcp.wire import Method, PreparedRequest, Provider, fill_path, placeholders

Effect = Literal["read", "write", "destructive"]


@dataclass(frozen=True)
class WriteSubject:
    """What a write touches, for guardrails and the audit log.

    `destinations` lists EVERY number the provider will dial or text because of this write, from
    whichever input field it comes (an SMS recipient, a callee, a transfer target, a click-to-dial
    caller that is rung first). The guardrails check each one (premium-rate and high-cost numbers,
    allowed and denied prefixes) and `Operation.describe` makes sure each one is in the summary the
    human confirms. Numbers that are only displayed (a caller ID) are not destinations.
    """

    destinations: tuple[str, ...] = ()  # E.164 numbers called, texted or transferred to
    kind: Literal["sms", "call", "transfer", "fax"] | None = None  # counted against per-hour caps (transfer: calls)
    text: str | None = None  # SMS body, for segment limits
    target: str | None = None  # the resource id acted on
    # (input field, URL) the provider will send a number's calls or messages, or call events, to: checked
    # against the routing-host allow-list (TELCO_MCP_ALLOWED_ROUTING_HOSTS and the provider's own host)
    urls: tuple[tuple[str, str], ...] = ()
    # (input field, SIP URI) a SIP gateway will send calls to: its host is checked against
    # TELCO_MCP_ALLOWED_GATEWAY_HOSTS (a number in its user part is one of `destinations`)
    gateways: tuple[tuple[str, str], ...] = ()


@dataclass
class LocalContext:
    """What a tool the server answers itself may use: the call events, and progress for a long wait."""

    events: EventStore
    progress: Callable[[float, float | None, str | None], Awaitable[None]]
    # Which of the items it answers from this caller may see (sipgate ownership: `Operation.visible`); None: all.
    visible: Callable[[Any], Awaitable[bool]] | None = None


Prepare = Callable[[Any, CallContext], Awaitable[PreparedRequest]]
Local = Callable[[Any, LocalContext], Awaitable[BaseModel]]
Interpret = Callable[[Any, Any, CallContext], Awaitable[BaseModel]]
Summarize = Callable[[Any, CallContext], Awaitable[str]]
AtSend = Callable[[Any, PreparedRequest, CallContext], Awaitable[PreparedRequest]]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SECRET_PLACEHOLDER = "(typed by the approver on the approval page)"


@dataclass(frozen=True, kw_only=True)
class Operation:
    name: str
    title: str
    description: str
    provider: Provider
    method: Method
    path: str  # template relative to the provider base, placeholders name input fields: /calls/{call_id}
    input: type[BaseModel]
    output: type[BaseModel]
    scope: str  # <provider>:<resource>:<action>
    effect: Effect
    idempotent: bool
    interpret: Interpret
    prepare: Prepare | None = None  # default: fill the path template, send `args.body()` if it has one
    # plain words for a write: 'Send SMS to +49 ...: "text"'; quote provider text (telco_mcp.untrusted.quote)
    summarize: Summarize | None = None
    subject: Callable[[Any], WriteSubject] = field(default=lambda args: WriteSubject())
    not_found: str | None = None  # what a 404 means here, with {field} placeholders from the input
    conflict: str | None = None  # what a documented 409 means here (as `not_found`)
    # Low-risk call control an approver may allow for one call for a few minutes (a grant): hold, mute, DTMF.
    # The grant covers the call named by `subject(args).target`.
    grantable: bool = False
    # Part of the default exposure (TELCO_MCP_TOOLSETS=default): the everyday tools. Others are listed only
    # when their toolset is enabled by name (or `all`).
    default: bool = True
    # A secret only a person may type or see (a SIP password): `secret(args)` names the body field that carries
    # it in this call, or None when this call sets none. The model never fills it: the request holds
    # `SECRET_PLACEHOLDER` there, the approver types the value (or has one generated and shown once) on the
    # approval page, and the pipeline puts it in right before the request leaves. Never in a result.
    secret: Callable[[Any], str | None] | None = None
    # Content that must never be recorded (a fax's PDF bytes): `build_request` leaves a placeholder naming it
    # (`<pdf: name, size, pages, sha256>`), which the preview, the approval and the audit show; `at_send(args,
    # request, ctx)` returns the request with the content put in, right before it leaves (after the audit intent),
    # and may refuse (a `TelcoError`: nothing is sent), e.g. when the content no longer matches what was approved.
    at_send: AtSend | None = None
    # Answered by this server from what sipgate pushed (no upstream request): `local(args, LocalContext)`.
    # `method` and `path` then name no request; the manifest says "push" instead.
    local: Local | None = None
    # Provider policy on what this call may touch (sipgate ownership, providers/sipgate/ownership.py): `guard(args,
    # ctx)` refuses a target before any question or request; `screen(result, args, ctx)` filters a list result.
    guard: Callable[[Any, CallContext], Awaitable[None]] | None = None
    screen: Callable[[BaseModel, Any, CallContext], Awaitable[BaseModel]] | None = None
    # The same policy for a tool answered locally (`local`): `visible(args, ctx)` gives the test of which items
    # (pushed call events) this call may return, None for all; it may refuse (unknown ownership fails closed).
    visible: Callable[[Any, CallContext], Awaitable[Callable[[Any], Awaitable[bool]] | None]] | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"invalid tool name {self.name!r}")
        if not self.name.startswith(self.provider + "_"):
            raise ValueError(f"{self.name}: tool names start with their provider")
        if not self.scope.startswith(self.provider + ":"):
            raise ValueError(f"{self.name}: scope {self.scope!r} must start with {self.provider}:")
        if self.effect == "read" and self.method != "GET":
            raise ValueError(f"{self.name}: a read must be a GET")
        if self.effect != "read" and self.summarize is None:
            raise ValueError(f"{self.name}: a write needs a plain-words summary for its confirmation")
        if self.local is not None and self.effect != "read":
            raise ValueError(f"{self.name}: only reads can be answered locally")
        if self.grantable and self.effect != "write":
            raise ValueError(f"{self.name}: only non-destructive writes can be covered by a grant")
        if self.at_send is not None and (self.grantable or not self.is_write):
            raise ValueError(f"{self.name}: content filled at send time belongs to a write approved on its own")
        if self.secret is not None and (self.grantable or not self.is_write):
            raise ValueError(f"{self.name}: a secret is set by a write, and each one needs its own approval")

    @property
    def is_write(self) -> bool:
        return self.effect != "read"

    def secret_field(self, args: BaseModel) -> str | None:
        """The body field of this call that a person fills on the approval page, if any."""
        return self.secret(args) if self.secret is not None else None

    @property
    def toolset(self) -> str:
        """The toolset this tool belongs to: its scope's `<provider>:<resource>` (one vocabulary for both)."""
        return self.scope.rsplit(":", 1)[0]

    @property
    def retry_safe(self) -> bool:
        """Whether the shared client may repeat the request: reads and idempotent writes only."""
        return self.effect == "read" or self.idempotent

    @property
    def annotations(self) -> ToolAnnotations:
        """All four hints, set explicitly from the declared effect (hints only, never the gate)."""
        return ToolAnnotations(  # no title: the tool's own `title` says it (the tool list is paid every turn)
            read_only_hint=self.effect == "read",
            destructive_hint=self.effect == "destructive",
            idempotent_hint=self.effect == "read" or self.idempotent,
            open_world_hint=True,
        )

    # ---------------------------------------------------------------- the hooks, with errors mapped
    async def build_request(self, args: BaseModel, ctx: CallContext) -> PreparedRequest:
        """The exact upstream request for `args` (it may read supporting state first)."""
        if self.guard is not None:
            await self.guard(args, ctx)
        if self.prepare is None:
            body_fn = getattr(args, "body", None)
            body = body_fn() if callable(body_fn) else None
            fields = {name: str(getattr(args, name)) for name in placeholders(self.path)}
            return PreparedRequest(self.method, fill_path(self.path, args), json=body, fields=fields)
        try:
            return await self.prepare(args, ctx)
        except PayloadShapeError as exc:
            raise self._odd_lookup(exc) from None

    async def describe(self, args: BaseModel, ctx: CallContext) -> str:
        """The write in plain words, as the human who confirms it reads it."""
        assert self.summarize is not None, "only writes are described"
        if self.guard is not None:
            await self.guard(args, ctx)
        try:
            summary = await self.summarize(args, ctx)
        except PayloadShapeError as exc:
            raise self._odd_lookup(exc) from None
        # Every number that will be dialled or texted is in the words the human confirms.
        missing = [pretty(n) for n in self.subject(args).destinations if pretty(n) not in summary]
        if missing:
            summary += f" (numbers dialled: {', '.join(missing)})"
        return summary

    async def read_result(self, response: httpx2.Response, args: BaseModel, ctx: CallContext) -> BaseModel:
        """The result model from the provider's answer."""
        try:
            result = await self.interpret(response, args, ctx)
            return result if self.screen is None else await self.screen(result, args, ctx)
        except ValueError as exc:  # the payload readers name the field that did not fit
            raise UnexpectedResponse(
                f"{self.provider} answered {self.name} with a body of an unexpected shape ({exc}).",
                provider=self.provider,
                operation=self.name,
                status=response.status_code,
                changed=self.is_write or False,
            ) from None

    def _odd_lookup(self, exc: PayloadShapeError) -> UnexpectedResponse:
        return UnexpectedResponse(
            f"{self.provider} answered a lookup for {self.name} with a body of an unexpected shape ({exc}). "
            "Nothing was sent.",
            provider=self.provider,
            operation=self.name,
        )
