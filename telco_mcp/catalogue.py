"""The operation catalogue: every tool is declared once, as data.

An `Operation` says what the tool is called, what it does upstream (method and path), what it takes
and returns (pydantic models), which scope it needs, what effect it has and whether repeating it is
safe. Registration, MCP annotations, `tool_manifests/`, the README table, the safety layer and the
tests all read `CATALOGUE`; providers declare their operations in `providers/<name>/operations.py`.

How a call runs: `prepare(args, ctx)` builds the exact upstream request (so a dry run or a
confirmation preview can show it without sending), the shared client sends it, and
`interpret(response, args, ctx)` turns the answer into the result model.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mcp.types import ToolAnnotations
from pydantic import BaseModel

if TYPE_CHECKING:
    from telco_mcp.http import ProviderClient

Provider = Literal["signalwire", "sipgate"]
Effect = Literal["read", "write", "destructive"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

PROVIDERS: tuple[Provider, ...] = ("signalwire", "sipgate")


@dataclass(frozen=True)
class PreparedRequest:
    """The exact request a tool call sends upstream (credentials are added by the client's auth)."""

    method: Method
    path: str  # relative to the provider's base URL, already encoded
    query: tuple[tuple[str, str], ...] = ()
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict, compare=False)  # path values, for messages


@dataclass(frozen=True)
class WriteSubject:
    """What a write touches, for guardrails and the audit log."""

    destinations: tuple[str, ...] = ()  # E.164 numbers called, texted or transferred to
    kind: Literal["sms", "call", "transfer"] | None = None  # counted against per-hour caps
    text: str | None = None  # SMS body, for segment limits
    target: str | None = None  # the resource id acted on


class CallContext:
    """What an operation's hooks may use: the provider's shared client."""

    def __init__(self, client: ProviderClient) -> None:
        self.client = client


Prepare = Callable[[Any, CallContext], Awaitable[PreparedRequest]]
Interpret = Callable[[Any, Any, CallContext], Awaitable[BaseModel]]
Summarize = Callable[[Any, CallContext], Awaitable[str]]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


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
    summarize: Summarize | None = None  # plain words for a write: "Send SMS to +49 ...: 'text'"
    subject: Callable[[Any], WriteSubject] = field(default=lambda args: WriteSubject())
    untrusted: tuple[str, ...] = ()  # result fields holding third-party text (fenced in the text content)
    not_found: str | None = None  # what a 404 means here, with {field} placeholders from the input

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

    @property
    def is_write(self) -> bool:
        return self.effect != "read"

    @property
    def retry_safe(self) -> bool:
        """Whether the shared client may repeat the request: reads and idempotent writes only."""
        return self.effect == "read" or self.idempotent

    @property
    def annotations(self) -> ToolAnnotations:
        """All four hints, set explicitly from the declared effect (hints only, never the gate)."""
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.effect == "read",
            destructive_hint=self.effect == "destructive",
            idempotent_hint=self.effect == "read" or self.idempotent,
            open_world_hint=True,
        )

    async def build_request(self, args: BaseModel, ctx: CallContext) -> PreparedRequest:
        if self.prepare is not None:
            return await self.prepare(args, ctx)
        from telco_mcp.http import fill_path, placeholders

        body_fn = getattr(args, "body", None)
        body = body_fn() if callable(body_fn) else None
        fields = {name: str(getattr(args, name)) for name in placeholders(self.path)}
        return PreparedRequest(self.method, fill_path(self.path, args), json=body, fields=fields)


def _load() -> tuple[Operation, ...]:
    from telco_mcp.providers.signalwire.operations import OPERATIONS as SIGNALWIRE
    from telco_mcp.providers.sipgate.operations import OPERATIONS as SIPGATE

    ops = (*SIGNALWIRE, *SIPGATE)
    names = [op.name for op in ops]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate tool names: {sorted(duplicates)}")
    return ops


CATALOGUE: tuple[Operation, ...] = _load()
BY_NAME: dict[str, Operation] = {op.name: op for op in CATALOGUE}
