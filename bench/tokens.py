"""Token footprint: what the tool list and a list result cost in the model's context.

Tokens are estimated as characters / 4 of compact JSON (no spaces, non-ASCII kept), the method of
the peer comparison in ../shared/notes/peers.md section 3. Figures:

* (a) name + description + inputSchema per tool, averaged over all tools of every toolset (the peers' measure);
* (b) the whole tools/list result as the server sends it (titles, output schemas, annotations), per tool;
* (c), (d) (b) for the default exposures (the sandbox with writes; real credentials, read-only), against
  the same figures when issue 13 was filed: the default exposure may not grow while the catalogue does;
* the text content of a typical list result page (the default 20 items), against the provider's own
  JSON for the same page, which a thin pass-through server would hand the model.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.types import ListToolsResult
from pydantic import SecretStr

from bench.harness import Stat, state_dir
from bench.report import Row
from telco_mcp.server import build_server
from telco_mcp.settings import Settings

# peers.md section 3, measured the same way (compact JSON of name, description and inputSchema)
GITHUB_ALL_TOOLSETS = (136_950, 117)  # characters, tools
PUBLIC_SERVER_MEDIAN_TOKENS = 1_679  # median across 29 public servers (Softeria/ms-365-mcp-server#579)
# The default exposures' whole tools/list when issue 13 was filed (commit 62c6186, measured as below):
# the budgets say the default exposure may not grow while the catalogue does.
BASELINE_62C6186 = {"read-only": (3_462, 10), "sandbox": (11_434, 22)}
LIST_PAGES = (("signalwire_list_recordings", "signalwire"), ("sipgate_list_history", "sipgate"))


def tokens(value: Any) -> float:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"))) / 4


def _settings(**overrides: Any) -> Settings:
    """Settings for the measurement only: explicit values win over the caller's environment."""
    base: dict[str, Any] = {"_env_file": None, "telco_mcp_scopes": "*"}
    return Settings(**(base | overrides))


def _read_only_default(audit: Any) -> Settings:
    """Real-looking credentials and nothing else: the default exposure of a real deployment."""
    return _settings(
        telco_mcp_audit_log=audit,
        telco_mcp_sandbox=False,
        telco_mcp_allow_writes=None,
        signalwire_space="example",
        signalwire_project_id="00000000-0000-4000-8000-000000000000",
        signalwire_api_token=SecretStr("bench-not-a-secret"),
        sipgate_token_id="token-BENCH0",
        sipgate_token=SecretStr("bench-not-a-secret"),
    )


async def _tool_lists(audit: Any) -> tuple[ListToolsResult, ListToolsResult, ListToolsResult]:
    """Every tool (all toolsets), the sandbox's default exposure (writes on), the read-only default."""
    sandbox = {"telco_mcp_audit_log": audit, "telco_mcp_sandbox": True, "telco_mcp_allow_writes": True}
    everything = build_server(_settings(**sandbox, telco_mcp_toolsets="all"))
    default = build_server(_settings(**sandbox))
    read_only = build_server(_read_only_default(audit))
    return (
        ListToolsResult(tools=await everything.list_tools()),
        ListToolsResult(tools=await default.list_tools()),
        ListToolsResult(tools=await read_only.list_tools()),
    )


async def _list_pages(audit: Any) -> list[tuple[str, float, float]]:
    """(tool, tokens of the result text, tokens of the provider's own JSON for the same request)."""
    server = build_server(_settings(telco_mcp_audit_log=audit, telco_mcp_sandbox=True, telco_mcp_allow_writes=False))
    sandbox = server.telco_runtime.sandbox  # pyright: ignore[reportAttributeAccessIssue]
    out: list[tuple[str, float, float]] = []
    async with (
        Client(server) as client,
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), base_url="http://sandbox") as raw,
    ):
        for tool, provider in LIST_PAGES:
            sandbox.requests.clear()
            result = await client.call_tool(tool, {})
            if result.is_error:
                raise RuntimeError(f"{tool} failed: {result.content!r:.300}")
            text = "\n".join(getattr(block, "text", "") for block in result.content)
            sent = [r for r in sandbox.requests if r.provider == provider][-1]
            auth = _sandbox_auth(provider)
            upstream = await raw.get(sent.path, params=sent.query, auth=auth)
            out.append((tool, len(text) / 4, tokens(upstream.json())))
    return out


def _sandbox_auth(provider: str) -> httpx2.Auth:
    from telco_mcp import sandbox as sb

    if provider == "signalwire":
        return httpx2.BasicAuth(sb.SIGNALWIRE_PROJECT_ID, sb.SIGNALWIRE_API_TOKEN)
    return httpx2.BasicAuth(sb.SIPGATE_TOKEN_ID, sb.SIPGATE_TOKEN)


def _as_sent(result: ListToolsResult) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


def _peer_measure(result: ListToolsResult) -> float:
    return sum(
        tokens({"name": t.name, "description": t.description, "inputSchema": t.input_schema}) for t in result.tools
    )


def run() -> list[Row]:
    with state_dir() as tmp:
        audit = tmp / "audit.jsonl"
        everything, default, read_only = anyio.run(_tool_lists, audit)
        pages = anyio.run(_list_pages, audit)
    n_all, n_default, n_ro = len(everything.tools), len(default.tools), len(read_only.tools)
    per_tool = _peer_measure(everything) / n_all
    github = GITHUB_ALL_TOOLSETS[0] / 4 / GITHUB_ALL_TOOLSETS[1]
    whole = tokens(_as_sent(everything))
    whole_default, whole_ro = tokens(_as_sent(default)), tokens(_as_sent(read_only))
    base_ro, base_default = BASELINE_62C6186["read-only"][0], BASELINE_62C6186["sandbox"][0]
    rows = [
        Row(
            figure=f"Tokens (a): name+description+inputSchema per tool, average of all {n_all} tools",
            unit="tokens",
            ours=Stat.of([per_tool]),
            reference=Stat.of([github]),
            reference_label="GitHub MCP server, all toolsets (peers.md §3)",
            ratio=Stat.of([per_tool / github]),
            max_value=150,
        ),
        Row(
            figure=f"Tokens (b): whole tools/list as sent per tool, all {n_all} tools (output schemas, annotations)",
            unit="tokens",
            ours=Stat.of([whole / n_all]),
            reference=Stat.of([_peer_measure(everything) / n_all]),
            reference_label="measure (a) for the same tools",
            ratio=Stat.of([whole / _peer_measure(everything)]),
            max_value=300,
        ),
        Row(
            figure=f"Tokens (c): default exposure, sandbox with writes, whole tools/list, {n_default} tools",
            unit="tokens",
            ours=Stat.of([whole_default]),
            reference=Stat.of([float(base_default)]),
            reference_label="the same at commit 62c6186 (22 tools), when issue 13 was filed",
            ratio=Stat.of([whole_default / base_default]),
            max_value=base_default,
        ),
        Row(
            figure=f"Tokens (d): default exposure with real credentials (read-only), whole tools/list, {n_ro} tools",
            unit="tokens",
            ours=Stat.of([whole_ro]),
            reference=Stat.of([float(base_ro)]),
            reference_label="the same at commit 62c6186 (10 tools)",
            ratio=Stat.of([whole_ro / base_ro]),
            max_value=base_ro,
        ),
        Row(
            figure=f"  (d) against the public servers: whole tools/list, {n_ro} read tools",
            unit="tokens",
            ours=Stat.of([whole_ro]),
            reference=Stat.of([float(PUBLIC_SERVER_MEDIAN_TOKENS)]),
            reference_label="median of 29 public MCP servers (peers.md §3)",
            ratio=Stat.of([whole_ro / PUBLIC_SERVER_MEDIAN_TOKENS]),
        ),
    ]
    for tool, ours, upstream in pages:
        rows.append(
            Row(
                figure=f"List result page: {tool}, default 20 items, text content",
                unit="tokens",
                ours=Stat.of([ours]),
                reference=Stat.of([upstream]),
                reference_label="the provider's own JSON for the same page",
                ratio=Stat.of([ours / upstream]),
            )
        )
    return rows
