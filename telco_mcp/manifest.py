"""Generated artefacts, all from the catalogue: `tool_manifests/*.json`, `telco_mcp/schemas.json` (the
schemas the server serves, so it need not derive them at startup), the tool table in `docs/tools.md` and
the README's summary of it (what is listed by default, what writes), `server.json`,
the MCP Bundle's `bundle/manifest.json` (its hand-written `bundle/manifest.template.json` plus the
version, tools and prompts), and, from the `Settings` class, the configuration reference in
`docs/configuration.md` (`config_reference.py`), and the client configurations `telco-mcp config` prints,
in `docs/clients.md` (`client_config.py`).

`telco-mcp manifest` writes them; `telco-mcp manifest --check` fails when any differs from what the
catalogue says, so every change to a tool's public contract shows up as a reviewable diff.
"""

from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import Path
from typing import Any

from telco_mcp import __version__, client_config, config_reference
from telco_mcp.catalogue import CATALOGUE, Operation
from telco_mcp.tools import SCHEMAS_FILE, for_mode, live_schemas, result_schema

ROOT = Path(__file__).resolve().parent.parent
TOOLS_DOC = Path("docs") / "tools.md"
TOOLS_START = "<!-- START GENERATED TOOLS (telco-mcp manifest) -->"
TOOLS_END = "<!-- END GENERATED TOOLS -->"
SUMMARY_START = "<!-- START GENERATED SUMMARY (telco-mcp manifest) -->"
SUMMARY_END = "<!-- END GENERATED SUMMARY -->"
BUNDLE_TEMPLATE = Path("bundle") / "manifest.template.json"
BUNDLE_MANIFEST = Path("bundle") / "manifest.json"
BASE_URLS = {"signalwire": "https://{space}.signalwire.com", "sipgate": "https://api.sipgate.com/v2"}


def tool_manifest(op: Operation) -> dict[str, Any]:
    return {
        "name": op.name,
        "title": op.title,
        "description": op.description,
        "provider": op.provider,
        "upstream": _upstream(op),
        "scope": op.scope,
        "effect": op.effect,
        "idempotent": op.idempotent,
        "needs_confirmation": op.is_write,
        "annotations": op.annotations.model_dump(by_alias=True, exclude_none=True),
        **_default_exposure(op),
        # A write's outputSchema names its result's identity only; the full contract is reviewed here.
        **({"resultSchema": result_schema(op)} if op.is_write else {}),
    }


PUSHED = "sipgate.io push webhooks (no request)"


def _upstream(op: Operation) -> dict[str, Any]:
    if op.local is not None:  # answered from what the provider pushed to this server
        return {"pushed": PUSHED}
    return {"method": op.method, "path": op.path, "base_url": BASE_URLS[op.provider]}


def _default_exposure(op: Operation) -> dict[str, Any]:
    """The schemas as listed under the default `TELCO_MCP_CONFIRM=auto` (other modes swap the consent field)."""
    schemas = live_schemas(op)
    if op.is_write:
        schemas["inputSchema"] = for_mode(op, schemas["inputSchema"], "auto")
        schemas["outputSchema"] = for_mode(op, schemas["outputSchema"], "auto")
    return schemas


def render_manifests() -> dict[str, str]:
    return {f"{op.name}.json": json.dumps(tool_manifest(op), indent=2, sort_keys=True) + "\n" for op in CATALOGUE}


def render_schemas() -> str:
    """`telco_mcp/schemas.json`: every tool's schemas as served (key order kept), read at startup."""
    return json.dumps({op.name: live_schemas(op) for op in CATALOGUE}, indent=1, ensure_ascii=False) + "\n"


def render_table() -> str:
    """The tool table of `docs/tools.md`, one table per toolset (`TELCO_MCP_TOOLSETS` names them)."""
    out: list[str] = []
    for toolset in dict.fromkeys(op.toolset for op in CATALOGUE):
        members = [op for op in CATALOGUE if op.toolset == toolset]
        out += [
            f"**`{toolset}`**",
            "",
            "| tool | default | upstream | effect | scope | what it does |",
            "|---|---|---|---|---|---|",
        ]
        for op in members:
            effect = op.effect + (", idempotent" if op.is_write and op.idempotent else "")
            listed = "yes" if op.default else "no"
            upstream = PUSHED if op.local is not None else f"`{op.method} {op.path}`"
            out.append(f"| `{op.name}` | {listed} | {upstream} | {effect} | `{op.scope}` | {op.description} |")
        out.append("")
    return "\n".join(out).rstrip()


def render_summary() -> str:
    """The README's first screen: what the default exposure lists, and what of it writes, in the sandbox and with
    real credentials (`safety.scopes.decide` lists exactly these; tests/test_readme.py checks it against a server)."""
    default = [op for op in CATALOGUE if op.default]
    writes = sum(op.is_write for op in default)
    reads = len(default) - writes
    toolsets = len(dict.fromkeys(op.toolset for op in CATALOGUE))
    text = (
        f"**In the sandbox** (no credentials: what `make serve` runs on a fresh clone) **writes are on**: "
        f"{len(default)} tools are listed, {writes} of them writes (hold, transfer and hang up a call, send an SMS, "
        "change a SIP gateway, delete a recording, ...). Each write changes only the sandbox's state, and only "
        "after a person approved it, as with real credentials. **With real credentials the server is read-only "
        f"until you enable writes**: only the {reads} reads of the default toolsets are listed, and "
        "`TELCO_MCP_ALLOW_WRITES=1` (or "
        f"`--allow-writes`) adds the {writes} writes. `TELCO_MCP_TOOLSETS=all` adds the other toolsets "
        f"({len(CATALOGUE)} tools in {toolsets} toolsets: [docs/tools.md](docs/tools.md)), `TELCO_MCP_SCOPES` "
        "narrows them, and `--read-only` "
        "makes the sandbox read-only too; `telco-mcp tools` prints what your settings list."
    )
    return textwrap.fill(text, width=105, break_long_words=False, break_on_hyphens=False)


def render_server_json() -> str:
    """The MCP Registry `server.json` (schema 2025-09-29): the PyPI package, run over stdio."""
    env = [
        ("SIGNALWIRE_SPACE", False, "SignalWire space name"),
        ("SIGNALWIRE_PROJECT_ID", False, "SignalWire project id"),
        ("SIGNALWIRE_API_TOKEN", True, "SignalWire API token"),
        ("SIPGATE_TOKEN_ID", False, "sipgate personal access token id"),
        ("SIPGATE_TOKEN", True, "sipgate personal access token"),
        ("TELCO_MCP_ALLOW_WRITES", False, "1 to register write tools (each write still needs a human's yes)"),
        ("TELCO_MCP_SCOPES", False, "granted scopes, e.g. sipgate:*:read"),
    ]
    doc = {
        "$schema": "https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json",
        "name": "io.github.telco-mcp/telco-mcp",
        "title": "telco-mcp",
        "description": "Operate telephony: SignalWire SIP admin, sipgate live calls and SMS, human-confirmed writes.",
        "version": __version__,
        "repository": {"url": "https://github.com/telco-mcp/telco-mcp", "source": "github"},
        "packages": [
            {
                "registryType": "pypi",
                "registryBaseUrl": "https://pypi.org",
                "identifier": "telco-mcp",
                "version": __version__,
                "runtimeHint": "uvx",
                "transport": {"type": "stdio"},
                "packageArguments": [{"type": "positional", "value": "serve"}],
                "environmentVariables": [
                    {"name": name, "description": text, "isRequired": False, "isSecret": secret, "format": "string"}
                    for name, secret, text in env
                ],
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def render_bundle_manifest(root: Path = ROOT) -> str:
    """`bundle/manifest.json` (MCPB 0.4): the template with this version, every catalogue tool and every prompt.

    The tools a running server lists depend on the user's settings (providers, scopes, toolsets,
    writes), hence `tools_generated`; the list here is everything the bundle can offer.
    """
    from telco_mcp.prompts import PROMPTS

    doc = json.loads((root / BUNDLE_TEMPLATE).read_text(encoding="utf-8"))
    doc["version"] = __version__
    doc["tools"] = [{"name": op.name, "description": op.description} for op in CATALOGUE]
    doc["tools_generated"] = True
    doc["prompts"] = [
        {
            "name": prompt.fn.__name__,
            "description": prompt.description,
            "arguments": list(inspect.signature(prompt.fn).parameters),
            "text": f"{prompt.title} (the server renders the full prompt: prompts/get {prompt.fn.__name__})",
        }
        for prompt in PROMPTS
    ]
    doc["prompts_generated"] = True
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _between(text: str, start_marker: str, end_marker: str, body: str, what: str) -> str:
    start, end = text.find(start_marker), text.find(end_marker)
    if start == -1 or end == -1 or end < start:
        raise ValueError(f"{what} lacks its generated markers ({start_marker} ... {end_marker})")
    return text[: start + len(start_marker)] + "\n" + body + "\n" + text[end:]


def expected_files(root: Path = ROOT) -> dict[Path, str]:
    files = {root / "tool_manifests" / name: text for name, text in render_manifests().items()}
    files[root / "server.json"] = render_server_json()
    files[root / BUNDLE_MANIFEST] = render_bundle_manifest(root)
    files[root / "telco_mcp" / SCHEMAS_FILE.name] = render_schemas()
    tools = root / TOOLS_DOC  # the tool table, per toolset
    files[tools] = _between(tools.read_text(encoding="utf-8"), TOOLS_START, TOOLS_END, render_table(), str(TOOLS_DOC))
    readme = root / "README.md"  # its first screen: what is listed, and what writes, by default
    summary = render_summary()
    files[readme] = _between(readme.read_text(encoding="utf-8"), SUMMARY_START, SUMMARY_END, summary, "README.md")
    reference = root / config_reference.DOC  # the configuration reference, from the Settings class
    files[reference] = config_reference.with_reference(reference.read_text(encoding="utf-8"))
    clients = root / client_config.DOC  # what `telco-mcp config CLIENT` prints for an example install
    files[clients] = client_config.with_doc_block(clients.read_text(encoding="utf-8"))
    return files


def check(root: Path = ROOT) -> list[str]:
    """Names of generated files that are missing, stale, or no longer generated."""
    problems = []
    expected = expected_files(root)
    for path, text in expected.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            problems.append(str(path.relative_to(root)))
    for path in sorted((root / "tool_manifests").glob("*.json")):
        if path not in expected:
            problems.append(f"{path.relative_to(root)} (no such tool)")
    return problems


def write(root: Path = ROOT) -> list[str]:
    (root / "tool_manifests").mkdir(exist_ok=True)
    expected = expected_files(root)
    for path in (root / "tool_manifests").glob("*.json"):
        if path not in expected:
            path.unlink()
    changed = []
    for path, text in expected.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(str(path.relative_to(root)))
    return changed
