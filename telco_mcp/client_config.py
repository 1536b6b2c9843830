"""`telco-mcp config CLIENT`: the configuration a client needs to start (or reach) this install.

The command is this install's own: the `telco-mcp` script beside the running interpreter (a client such as
Claude Desktop does not see your shell's PATH), else that interpreter with `-m telco_mcp`. The environment
is the settings you set (environment and `.env`), with every secret replaced by a placeholder to fill in
(`…`, or `${input:…}` that VS Code asks for): a secret is never printed. `--write` merges the entry into
Claude Desktop's, VS Code's or Cursor's configuration file after showing the diff, and keeps a backup.

docs/clients.md shows what this prints for an example install (`telco-mcp manifest` writes it).
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from telco_mcp.errors import ConfigError
from telco_mcp.settings import Settings

Client = Literal["claude-desktop", "claude-code", "vscode", "cursor", "inspector"]
CLIENTS: tuple[Client, ...] = ("claude-desktop", "claude-code", "vscode", "cursor", "inspector")
FILE_CLIENTS: tuple[Client, ...] = ("claude-desktop", "vscode", "cursor")
PLACEHOLDER = "…"
PIN_PLACEHOLDER = "scrypt$…"  # the hash from `telco-mcp approvals hash-pin`, never the PIN itself
DEFAULT_URL = "http://127.0.0.1:8000/mcp"  # what `make serve` serves
INSPECTOR = "@modelcontextprotocol/inspector"
HIDDEN = "<hidden>"
# Settings that are no SecretStr but whose value may carry a credential (a chat webhook's URL is one).
SENSITIVE = frozenset({"telco_mcp_approval_webhook"})


@dataclass(frozen=True)
class Launch:
    """How a client starts the server: command, arguments and environment (secrets as placeholders)."""

    command: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict[str, str])
    secrets: tuple[str, ...] = ()  # the env names whose value is a placeholder


def server_command(executable: str = sys.executable) -> list[str]:
    """This install's `telco-mcp` (beside the interpreter), else the interpreter with `-m telco_mcp`."""
    python = Path(executable).absolute()  # not resolved: a venv's python is a symlink out of the venv
    script = python.parent / ("telco-mcp.exe" if os.name == "nt" else "telco-mcp")
    if script.is_file():
        return [str(script)]
    return [str(python), "-m", "telco_mcp"]


def _is_secret(name: str, value: object) -> bool:
    from pydantic import SecretStr

    if isinstance(value, SecretStr) or name in SENSITIVE:
        return True
    return isinstance(value, str) and "@" in urlsplit(value).netloc  # user:password@ in a URL


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Path):  # the client starts the server in a directory of its own
        return str(value.expanduser().absolute())
    return str(value)


def launch(settings: Settings, command: Sequence[str] | None = None) -> Launch:
    """The stdio launch for these settings: every setting that was set, in declaration order."""
    env: dict[str, str] = {}
    secrets: list[str] = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if name not in settings.model_fields_set or value is None:
            continue
        if _is_secret(name, value):
            env[name.upper()] = PIN_PLACEHOLDER if name == "telco_mcp_approver_pin" else PLACEHOLDER
            secrets.append(name.upper())
        else:
            env[name.upper()] = _text(value)
    cmd = list(command or server_command())
    return Launch(cmd[0], [*cmd[1:], "serve"], env, tuple(secrets))


def _input_id(name: str) -> str:
    return name.lower().replace("_", "-")


def render(client: Client, run: Launch, *, name: str = "telco", url: str | None = None) -> str:
    """What the client needs: JSON for a configuration file, or a command line (Claude Code, Inspector).
    `url`: the client reaches a running server over streamable HTTP instead of starting one."""
    if client == "claude-code":
        if url:
            return shlex.join(["claude", "mcp", "add", "--transport", "http", name, url])
        envs = [arg for key, value in run.env.items() for arg in ("--env", f"{key}={value}")]
        return shlex.join(["claude", "mcp", "add", name, *envs, "--", run.command, *run.args])
    if client == "inspector":
        if url:
            return shlex.join(["npx", INSPECTOR, "--cli", url, "--transport", "http", "--method", "tools/list"])
        envs = [arg for key, value in run.env.items() for arg in ("-e", f"{key}={value}")]
        return shlex.join(["npx", INSPECTOR, *envs, run.command, *run.args])
    return json.dumps(document(client, run, name=name, url=url), indent=2, ensure_ascii=False)


def document(client: Client, run: Launch, *, name: str = "telco", url: str | None = None) -> dict[str, Any]:
    """The configuration file's content for one server (Claude Desktop, VS Code, Cursor)."""
    if client == "claude-desktop" and url:
        raise ConfigError(
            "Claude Desktop's configuration file starts local servers over stdio only; drop --transport http, or "
            "add a remote server in Claude Desktop under Settings > Connectors"
        )
    if client == "vscode":
        if url:
            return {"servers": {name: {"type": "http", "url": url}}}
        env = {k: f"${{input:{_input_id(k)}}}" if k in run.secrets else v for k, v in run.env.items()}
        entry: dict[str, Any] = {"type": "stdio", "command": run.command, "args": run.args}
        inputs = [
            {"type": "promptString", "id": _input_id(k), "description": f"{k} (telco-mcp)", "password": True}
            for k in run.secrets
        ]
        doc: dict[str, Any] = {"inputs": inputs} if inputs else {}
        return doc | {"servers": {name: entry | ({"env": env} if env else {})}}
    if url:  # Cursor
        return {"mcpServers": {name: {"url": url}}}
    entry = {"command": run.command, "args": run.args} | ({"env": dict(run.env)} if run.env else {})
    return {"mcpServers": {name: entry}}


def default_path(client: Client, *, system: str | None = None, home: Path | None = None) -> Path:
    """The documented per-user location of the client's configuration file."""
    system = system or platform.system()
    home = home or Path.home()
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if system == "Darwin":
        base = home / "Library" / "Application Support"
    elif system == "Windows":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:  # Linux: Claude Desktop has no official build; community builds use ~/.config/Claude
        base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    if client == "claude-desktop":
        return base / "Claude" / "claude_desktop_config.json"
    if client == "vscode":
        return base / "Code" / "User" / "mcp.json"  # "MCP: Open User Configuration"
    raise ConfigError(f"{client} keeps its own configuration: run the printed command instead of --write")


def _servers_key(doc: Mapping[str, Any]) -> str:
    return "servers" if "servers" in doc else "mcpServers"


def merge(existing: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """`existing` with our server entry (and VS Code inputs) added or replaced; everything else kept."""
    merged = copy.deepcopy(existing)
    key = _servers_key(ours)
    servers = merged.setdefault(key, {})
    if not isinstance(servers, dict):
        raise ConfigError(f'its "{key}" is not an object: fix the file, or add the entry by hand')
    servers.update(ours[key])
    if "inputs" in ours:
        inputs = merged.setdefault("inputs", [])
        if not isinstance(inputs, list):
            raise ConfigError('its "inputs" is not a list: fix the file, or add the entry by hand')
        ids = {item["id"] for item in ours["inputs"]}
        merged["inputs"] = [i for i in inputs if not (isinstance(i, dict) and i.get("id") in ids)] + ours["inputs"]
    return merged


def _redacted(doc: dict[str, Any], ours: Sequence[str]) -> dict[str, Any]:
    """For showing only: other servers' env and header values hidden (they may be secrets)."""
    shown = copy.deepcopy(doc)
    servers = shown.get(_servers_key(shown))
    if isinstance(servers, dict):
        for name, entry in servers.items():
            if name in ours or not isinstance(entry, dict):
                continue
            for part in ("env", "headers"):
                values = entry.get(part)
                if isinstance(values, dict):
                    entry[part] = dict.fromkeys(values, HIDDEN)
    return shown


def _dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write(
    path: Path,
    ours: dict[str, Any],
    *,
    yes: bool,
    out: Callable[[str], None],
    ask: Callable[[str], str],
) -> int:
    """Merge `ours` into the file at `path`: the diff first, then (unless `yes`) a question, a backup, an
    atomic write. 0 when written or already there, 1 when the answer was no. Nothing changes on an error."""
    old_text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        old = json.loads(old_text) if old_text.strip() else {}
    except ValueError:
        raise ConfigError(
            f"{path} is not plain JSON (comments or a syntax error?): nothing was changed; add the entry by hand"
        ) from None
    if not isinstance(old, dict):
        raise ConfigError(f"{path} does not hold a JSON object: nothing was changed; add the entry by hand")
    try:
        new = merge(old, ours)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}; nothing was changed") from None
    if new == old:
        out(f"{path} already has this entry: nothing to change")
        return 0
    names = list(ours[_servers_key(ours)])
    diff = difflib.unified_diff(
        _dump(_redacted(old, names)).splitlines(keepends=True) if old_text.strip() else [],
        _dump(_redacted(new, names)).splitlines(keepends=True),
        fromfile=str(path),
        tofile=str(path),
    )
    out("".join(diff).rstrip("\n"))
    if old_text.strip() and _dump(old) != old_text:
        out("(the file is rewritten as JSON indented by 2 spaces; other servers' env values are hidden above)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    if not yes:
        where = f"; the old file is kept as {backup.name}" if path.exists() else ""
        if ask(f"Write {path}{where}? [y/N] ").strip().lower() not in ("y", "yes"):
            out("nothing was written")
            return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600
    if path.exists():
        shutil.copy2(path, backup)
        mode = path.stat().st_mode & 0o777
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_dump(new))
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    out(f"wrote {path}" + (f" (backup: {backup})" if backup.exists() else ""))
    return 0


def notes(client: Client, run: Launch, *, url: str | None, path: Path | None) -> list[str]:
    """What to do with the printed configuration (for stderr: stdout stays copyable)."""
    lines: list[str] = []
    if client == "claude-code":
        lines.append("Run this line in a terminal: Claude Code keeps its own configuration (`claude mcp list`).")
    elif client == "inspector":
        lines.append("The Inspector needs Node >= 22 (`node --version`); on older Node, npx silently installs a")
        lines.append("year-old Inspector. It prints the URL of its UI.")
    elif path is not None:
        key = "servers" if client == "vscode" else "mcpServers"
        lines.append(f'Put this in {path} (merge it into "{key}" if the file exists), or run with --write.')
    if run.secrets and not url:
        how = "VS Code asks for them once and keeps them" if client == "vscode" else f"replace each {PLACEHOLDER}"
        lines.append(f"Secrets are placeholders ({how}): {', '.join(run.secrets)}.")
        if "TELCO_MCP_APPROVER_PIN" in run.secrets:
            lines.append("TELCO_MCP_APPROVER_PIN takes the hash `telco-mcp approvals hash-pin` prints, not the PIN.")
    if url:
        lines.append(f"Start the server first (`make serve` serves {DEFAULT_URL}).")
    elif not run.env:
        lines.append("No settings are set here, so the server runs the sandbox (no account needed).")
    return lines


# ------------------------------------------------------------------ docs/clients.md
DOC = Path("docs") / "clients.md"
START = "<!-- START GENERATED CLIENT CONFIGS (telco-mcp manifest) -->"
END = "<!-- END GENERATED CLIENT CONFIGS -->"
EXAMPLE_COMMAND = ["/home/you/telco-mcp/.venv/bin/telco-mcp"]
TITLES: dict[Client, tuple[str, str]] = {
    "claude-desktop": ("Claude Desktop", "json"),
    "claude-code": ("Claude Code", "bash"),
    "vscode": ("VS Code", "json"),
    "cursor": ("Cursor", "json"),
    "inspector": ("MCP Inspector", "bash"),
}


def render_doc_block() -> str:
    """The examples in docs/clients.md: what `telco-mcp config CLIENT` prints for an example install (the venv
    of a clone in /home/you/telco-mcp, a sipgate token, writes on, an approver PIN), then over HTTP."""
    from pydantic import SecretStr

    example = Settings.model_construct(  # these values only: no environment, no .env
        sipgate_token_id="token-ABC123",
        sipgate_token=SecretStr("example-secret-never-shown"),
        telco_mcp_allow_writes=True,
        telco_mcp_approver_pin=SecretStr("scrypt$example-hash-never-shown"),
    )
    run = launch(example, EXAMPLE_COMMAND)
    out: list[str] = []
    for client in CLIENTS:
        title, lang = TITLES[client]
        out += [f"**{title}** (`telco-mcp config {client}`):", "", f"```{lang}", render(client, run), "```", ""]
    out += ["Over HTTP, to a running `make serve` (`--transport http`; Claude Desktop's file has no such form):", ""]
    for client in CLIENTS:
        if client != "claude-desktop":
            title, lang = TITLES[client]
            out += [f"{title}:", "", f"```{lang}", render(client, run, url=DEFAULT_URL), "```", ""]
    return "\n".join(out).rstrip()


def with_doc_block(doc: str) -> str:
    start, end = doc.find(START), doc.find(END)
    if start == -1 or end == -1:
        raise ValueError(f"{DOC} lacks the generated-client-config markers")
    return doc[: start + len(START)] + "\n" + render_doc_block() + "\n" + doc[end:]
