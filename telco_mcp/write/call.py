"""`WriteCall`: one call of a write tool, as every stage of the pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel

from telco_mcp.http import CallContext, ProviderClient
from telco_mcp.operation import Operation, WriteSubject
from telco_mcp.runtime import Runtime

# The fields every write tool takes besides the operation's own input; never part of a body, a
# summary or the audit log.
CONSENT_FIELDS = ("dry_run", "confirm_token")


@dataclass
class WriteCall:
    op: Operation
    runtime: Runtime
    ctx: Context[Any, Any]
    client: ProviderClient
    args: BaseModel  # the operation's own input model
    dry_run: bool = False
    confirm_token: str | None = None
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
        )

    @property
    def hooks(self) -> CallContext:
        return CallContext(self.client)

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

    def budget(self) -> dict[str, int] | None:
        return self.runtime.guardrails.budget() or None
