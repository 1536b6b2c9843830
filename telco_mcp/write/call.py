"""`WriteCall`: one call of a write tool, as every stage of the pipeline sees it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel

from telco_mcp.identity import Caller, current_caller, session_key
from telco_mcp.operation import Operation, WriteSubject
from telco_mcp.runtime import Runtime
from telco_mcp.upstream import CallContext, ProviderClient

T = TypeVar("T")


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread: the shared state (approvals, nonces, caps) may be Redis, whose calls
    block; a slow one then stalls this write, not every session of the server."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args))


@dataclass
class WriteCall:
    op: Operation
    runtime: Runtime
    ctx: Context[Any, Any]
    client: ProviderClient
    args: BaseModel  # the operation's own input model
    dry_run: bool = False
    confirm_token: str | None = None
    approval_id: str | None = None
    _summary: str | None = field(default=None, init=False)

    @classmethod
    def from_gated(
        cls, op: Operation, runtime: Runtime, ctx: Context[Any, Any], client: ProviderClient, gated: BaseModel
    ) -> WriteCall:
        plain = op.input.model_construct(**{name: getattr(gated, name) for name in op.input.model_fields})
        return cls(
            op=op,
            runtime=runtime,
            ctx=ctx,
            client=client,
            args=plain,
            dry_run=bool(getattr(gated, "dry_run", False)),
            confirm_token=getattr(gated, "confirm_token", None),
            approval_id=getattr(gated, "approval_id", None),
        )

    @functools.cached_property
    def hooks(self) -> CallContext:
        """One per call, so an operation's hooks can keep what they looked up for the rest of the call."""
        return self.runtime.call_context(self.client)

    def forget_lookups(self) -> None:
        """Read the provider's state afresh: the next summary and request are built from new lookups (after a
        person took their time to answer a question about the old ones)."""
        self.__dict__.pop("hooks", None)
        self._summary = None

    @property
    def sandbox(self) -> bool:
        return self.client.sandbox

    @property
    def subject(self) -> WriteSubject:
        return self.op.subject(self.args)

    @property
    def arguments(self) -> dict[str, Any]:
        """The arguments as JSON: what tokens sign and the audit log records."""
        return self.args.model_dump(mode="json", exclude_none=True)

    async def summary(self) -> str:
        """The write in plain words (read once per call: it may need a lookup)."""
        if self._summary is None:
            self._summary = await self.op.describe(self.args, self.hooks)
        return self._summary

    async def budget(self) -> dict[str, int] | None:
        """The hourly writes left per capped kind, read off the event loop (the caps may live in Redis)."""
        return await blocking(self.runtime.guardrails.budget) or None

    @functools.cached_property
    def caller(self) -> Caller | None:
        """The authenticated person making this call (OAuth on HTTP), else None."""
        return current_caller(self.runtime.settings)

    @property
    def caller_audit(self) -> dict[str, str] | None:
        return self.caller.audit() if self.caller is not None else None

    @property
    def caller_key(self) -> str:
        """What confirmation tokens are bound to: the authenticated caller, or nobody in particular."""
        return self.caller.key if self.caller is not None else ""

    def client_identity(self) -> tuple[str, str]:
        """Who asks: a key approvals are bound to, and the same for people to read.

        With OAuth the authenticated caller (whatever client they use); otherwise the MCP session that asked
        (`identity.session_key`), whose pending approvals expire when it closes. People read the client's
        declared name and version.
        """
        client = client_name(self.ctx)
        if self.caller is not None:
            return self.caller.key, f"{self.caller.label} via {client}"
        return binding_key(self.ctx, self.runtime), client


def client_name(ctx: Context[Any, Any]) -> str:
    """The client's declared name and version, for people to read."""
    return declared_client(ctx) or "an unnamed MCP client"


def declared_client(ctx: Context[Any, Any]) -> str | None:
    """What the MCP client says it is (its `clientInfo` name and version): its own claim, never verified."""
    params = ctx.session.client_params
    info = params.client_info if params is not None else None
    return f"{info.name} {info.version}" if info is not None else None


def binding_key(ctx: Context[Any, Any], runtime: Runtime) -> str:
    """What approvals, grants and exports are bound to: the OAuth caller, else the MCP session that asked."""
    caller = current_caller(runtime.settings)
    if caller is not None:
        return caller.key
    return session_key(ctx, client_name(ctx), runtime.approvals.session_closed)
