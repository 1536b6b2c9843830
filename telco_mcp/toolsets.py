"""Dynamic toolsets (`TELCO_MCP_DYNAMIC_TOOLSETS=1`): start small, let the model enable what it needs.

The server starts with the toolsets of `TELCO_MCP_TOOLSETS` plus two discovery tools:
`telco_list_toolsets` (one line per toolset) and `telco_enable_toolset` (lists a toolset's tools
from now on and announces the change: `notifications/tools/list_changed` on 2025-11-25 sessions,
`subscriptions/listen` on 2026-07-28). Providers, scopes and read-only mode still decide which of a
toolset's tools can be listed at all.

On stdio an enabled toolset applies to the process (one client). Over HTTP it applies to the
authenticated caller who enabled it (OAuth: `Caller.key`), and the HTTP transports refuse dynamic mode
without OAuth, where callers cannot be told apart. Per-caller choices live in the state backend
(`runtime.EnabledToolsets`): this process's memory (`runtime.MemoryEnabledToolsets`), or Redis shared by
every replica (`state/redis.py`), so the person's next request may land on any replica and still list
and call what they enabled. A choice is kept `runtime.ENABLED_FOR` (24 h) after the person last enabled one,
then they start from the default set again. What is stored only ever names tools; each replica lists
and calls a stored tool only if it may offer it at all (`Runtime.available`: providers, scopes,
read-only) and the caller's token grants its scope, so the state never widens anything.

With the shared state unreachable, enabling fails with an `[unavailable]` error, listing falls back to
the default set (a warning in the log), and calling a tool only an enabled toolset offers is refused.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from telco_mcp.catalogue import CATALOGUE
from telco_mcp.errors import StateUnavailable
from telco_mcp.identity import current_caller
from telco_mcp.runtime import Runtime
from telco_mcp.safety.scopes import TOOLSETS

LIST_TOOLSETS = "telco_list_toolsets"
ENABLE_TOOLSET = "telco_enable_toolset"


def _text(text: str, *, error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=error)


def discovery_tools(runtime: Runtime) -> list[Tool]:
    available = {op.name for op in runtime.available}

    def describe(toolset: str, key: str | None, enabled: frozenset[str]) -> str:
        ops = [op for op in runtime.available if op.toolset == toolset]
        state = "enabled" if all(runtime.is_exposed(op, key, enabled) for op in ops) else "off"
        return f"{toolset} ({state}): " + ", ".join(op.name.split("_", 1)[1] for op in ops)

    async def telco_list_toolsets() -> CallToolResult:
        """List the toolsets, one line each: enabled or off, and the tools each holds."""
        toolsets = [t for t in TOOLSETS if any(op.toolset == t for op in runtime.available)]
        caller = current_caller(runtime.settings)
        key = caller.key if caller else None
        enabled = await runtime.read_enabled(key, or_default=True)  # one read of the shared state for the list
        return _text("\n".join(describe(t, key, enabled) for t in toolsets))

    async def telco_enable_toolset(
        toolset: Annotated[str, Field(description="A name from telco_list_toolsets, e.g. sipgate:rtcm.")],
        ctx: Context,
    ) -> CallToolResult:
        """Enable a toolset: its tools are listed from now on."""
        caller = current_caller(runtime.settings)
        ops = [
            op for op in CATALOGUE
            if op.toolset == toolset and op.name in available and (caller is None or caller.may(op.scope))
        ]  # fmt: skip
        if not ops:
            known = ", ".join(t for t in TOOLSETS if any(op.toolset == t for op in runtime.available))
            return _text(f"[invalid_input] {toolset!r} is not a toolset this server can offer ({known}).", error=True)
        key = caller.key if caller is not None else None
        try:
            enabled = await runtime.read_enabled(key)
            added = [op for op in ops if not runtime.is_exposed(op, key, enabled)]
            if key is None:  # stdio: the one client of this process
                runtime.exposed.extend(added)
            else:  # HTTP with OAuth: this person only, on every replica (the state backend); kept 24 h from now
                names = [op.name for op in ops if op not in runtime.exposed]
                await anyio.to_thread.run_sync(runtime.toolsets.enable, key, names)
        except StateUnavailable:
            return _text(
                f"[unavailable] {toolset} cannot be enabled now: the shared state (TELCO_MCP_STATE_URL) that keeps "
                "each person's toolsets for every replica cannot be reached. Nothing changed; the default tools "
                "keep working. Try again once it is back.",
                error=True,
            )
        if added:
            await _announce(ctx)
        return _text(
            f"{toolset} is enabled: " + ", ".join(op.name for op in ops) + ("" if added else " (it already was).")
        )

    read = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
    change = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
    return [
        Tool.from_function(telco_list_toolsets, name=LIST_TOOLSETS, annotations=read, structured_output=False),
        Tool.from_function(telco_enable_toolset, name=ENABLE_TOOLSET, annotations=change, structured_output=False),
    ]


async def _announce(ctx: Context[Any, Any]) -> None:
    """Tell the client its tool list changed, in whichever protocol era it speaks."""
    await ctx.notify_tools_changed()  # 2026-07-28: delivered on subscriptions/listen streams
    session = ctx.session
    if getattr(session, "can_send_request", False):
        await session.send_tool_list_changed()  # 2025-11-25 sessions
