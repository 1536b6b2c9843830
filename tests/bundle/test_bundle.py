"""The MCP Bundle for Claude Desktop: `make bundle` builds it with the pinned `mcpb` CLI, and the unpacked
bundle starts exactly as its manifest says.

The launch substitutes `${__dirname}` and every `${user_config.KEY}` the way the host does: the
user's value, else the field's default, else an empty string for an optional field left blank. The
server is then spoken to over stdio with the SDK client. `uv` comes from the test extras (Claude
Desktop brings its own); it creates the bundle's environment from the bundle's `pyproject.toml`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import typing
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import SecretStr

from telco_mcp import __version__
from telco_mcp.catalogue import CATALOGUE
from telco_mcp.prompts import PROMPTS
from telco_mcp.safety.scopes import exposed_operations
from telco_mcp.settings import Settings
from tests.clients.conftest import NODE_MODULES, ROOT, clean_env, run_bounded, settings

pytestmark = pytest.mark.node

MCPB = NODE_MODULES / ".bin" / "mcpb"
LAUNCH_TIMEOUT = 300  # the first start creates the bundle's environment with uv
PLACEHOLDER = re.compile(r"\$\{user_config\.([a-z0-9_]+)\}")
# Every credential and safety setting an operator sets up in Claude Desktop's form.
EXPECTED_SETTINGS = {
    "SIGNALWIRE_SPACE",
    "SIGNALWIRE_PROJECT_ID",
    "SIGNALWIRE_API_TOKEN",
    "SIPGATE_TOKEN_ID",
    "SIPGATE_TOKEN",
    "TELCO_MCP_ALLOW_WRITES",
    "TELCO_MCP_CONFIRM",
    "TELCO_MCP_APPROVER_PIN",
    "TELCO_MCP_SCOPES",
    "TELCO_MCP_TOOLSETS",
    "TELCO_MCP_ALLOWED_PREFIXES",
    "TELCO_MCP_DENIED_PREFIXES",
    "TELCO_MCP_BLOCK_PREMIUM",
    "TELCO_MCP_SMS_PER_HOUR",
    "TELCO_MCP_CALLS_PER_HOUR",
}
CANARY_TOKEN = "canary-bundle-sipgate-pat-5d1f"
CANARY_PIN = "canary-bundle-pin-8812"


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make bundle`, written into a temporary directory instead of dist/."""
    if not MCPB.exists():
        pytest.fail(f"{MCPB} is missing: run `make node` (make test installs it)", pytrace=False)
    out = tmp_path_factory.mktemp("bundle")
    target = out / "telco-mcp.mcpb"
    done = run_bounded(
        ["make", "--no-print-directory", "bundle", f"BUNDLE={target}", f"BUNDLE_STAGE={out / 'stage'}"],
        env=os.environ,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, f"make bundle failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Manifest schema validation passes" in done.stdout, done.stdout[-2000:]
    assert target.is_file()
    return target


@pytest.fixture(scope="module")
def unpacked(bundle_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("unpacked") / "telco-mcp"
    done = run_bounded([MCPB, "unpack", bundle_file, where], env=os.environ, cwd=where.parent, timeout=120)
    assert done.returncode == 0, done.stderr
    return where


def manifest_of(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text())


# ------------------------------------------------------------------ the manifest
@pytest.mark.clients  # builds and launches the bundle
def test_bundle_holds_the_generated_manifest_the_icon_and_the_project(bundle_file: Path, unpacked: Path) -> None:
    manifest = manifest_of(unpacked)
    assert manifest == json.loads((ROOT / "bundle" / "manifest.json").read_text())
    assert manifest["manifest_version"] == "0.4" and manifest["version"] == __version__
    server = manifest["server"]
    assert server["type"] == "uv" and (unpacked / server["entry_point"]).is_file()
    assert (unpacked / manifest["icon"]).read_bytes().startswith(b"\x89PNG")
    assert (unpacked / "pyproject.toml").read_bytes() == (ROOT / "pyproject.toml").read_bytes()
    # the dependency versions resolved when the bundle was built, installed as they are (`uv run --frozen`)
    lock = (unpacked / "uv.lock").read_text()
    assert 'name = "telco-mcp"' in lock and 'name = "mcp"' in lock and 'name = "pydantic-core"' in lock
    assert "--frozen" in server["mcp_config"]["args"]
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "telco_mcp").rglob("*") if p.is_file()}
    source = {name for name in source if "__pycache__" not in name}
    with zipfile.ZipFile(bundle_file) as zf:
        names = set(zf.namelist())
    assert source <= names, sorted(source - names)
    strays = [n for n in names if n.startswith(("tests/", ".venv/", "tools/")) or "__pycache__" in n]
    assert not strays and not [n for n in names if n.endswith((".pyc", ".env"))], strays
    assert manifest["compatibility"]["runtimes"]["python"] == ">=3.11"
    assert set(manifest["compatibility"]["platforms"]) == {"darwin", "win32", "linux"}


def test_bundle_lists_every_catalogue_tool_and_prompt() -> None:
    manifest = json.loads((ROOT / "bundle" / "manifest.json").read_text())
    assert [t["name"] for t in manifest["tools"]] == [op.name for op in CATALOGUE]
    assert {t["name"]: t["description"] for t in manifest["tools"]} == {op.name: op.description for op in CATALOGUE}
    assert [p["name"] for p in manifest["prompts"]] == [p.fn.__name__ for p in PROMPTS]
    assert manifest["prompts"][0]["arguments"] == ["caller", "goal"]
    assert manifest["tools_generated"] is True and manifest["prompts_generated"] is True


def test_user_config_covers_every_credential_and_safety_setting_and_hides_secrets() -> None:
    manifest = json.loads((ROOT / "bundle" / "manifest.json").read_text())
    env: dict[str, str] = manifest["server"]["mcp_config"]["env"]
    user_config: dict[str, dict[str, Any]] = manifest["user_config"]
    assert set(env) == EXPECTED_SETTINGS
    fields = Settings.model_fields
    used = set()
    for name, value in env.items():
        assert name.lower() in fields, f"{name} is not a setting"
        (key,) = PLACEHOLDER.findall(value)
        assert value == f"${{user_config.{key}}}" and key in user_config, name
        used.add(key)
        secret = SecretStr in typing.get_args(fields[name.lower()].annotation)
        assert user_config[key].get("sensitive", False) is secret, f"{key}: sensitive must be {secret}"
        assert user_config[key].get("required") is False, f"{key}: every field is optional (sandbox without any)"
    assert used == set(user_config), f"user_config fields never passed on: {set(user_config) - used}"
    # the confirmation choice: auto by default, and no way to switch confirmation off from the form
    confirm = user_config["confirm"]
    assert confirm["default"] == "auto"
    assert re.findall(r"\b(auto|approval|elicit|token|off)\b", confirm["description"]).count("off") == 0
    assert "TELCO_MCP_CONFIRM_OFF_ACKNOWLEDGED" not in env and "--i-accept-unconfirmed-writes" not in json.dumps(
        manifest
    )
    assert user_config["allow_writes"]["default"] is False and user_config["block_premium"]["default"] is True
    args = manifest["server"]["mcp_config"]["args"]
    assert not any("user_config" in arg for arg in args), "settings go in env, never on the command line"


# ------------------------------------------------------------------ launching it as the host does
def launch_command(directory: Path, values: Mapping[str, Any]) -> tuple[str, list[str], dict[str, str]]:
    """The manifest's command, args and env with `${__dirname}` and `${user_config.*}` substituted."""
    manifest = manifest_of(directory)
    user_config = manifest["user_config"]

    def value(key: str) -> str:
        raw = values[key] if key in values else user_config[key].get("default", "")
        if isinstance(raw, bool):
            return "true" if raw else "false"
        return str(raw)

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: value(m[1]), text.replace("${__dirname}", str(directory)))

    config = manifest["server"]["mcp_config"]
    return fill(config["command"]), [fill(a) for a in config["args"]], {k: fill(v) for k, v in config["env"].items()}


def host_env(tmp: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """A clean child environment with `uv` (from the test extras) on PATH and a uv cache of the test's own."""
    tools = tmp / "host-bin"
    tools.mkdir(exist_ok=True)
    if not (tools / "uv").exists():
        uv = Path(sys.executable).parent / "uv"
        (tools / "uv").symlink_to(uv if uv.exists() else Path(shutil.which("uv") or "uv"))
    # the caller's environment (package index and TLS configuration), without anything telco-mcp reads
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_"))}
    base.pop("VIRTUAL_ENV", None)
    base["UV_CACHE_DIR"] = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")  # the user's cache
    base |= clean_env(tmp / "state", home=tmp)
    base.pop("TELCO_MCP_APPROVER_PIN")  # only what the manifest passes
    base["PATH"] = f"{tools}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return base | dict(extra)


async def _session(command: str, args: list[str], env: dict[str, str], cwd: Path, errlog: TextIO) -> dict[str, Any]:
    params = StdioServerParameters(command=command, args=args, env=env, cwd=cwd)
    with anyio.fail_after(LAUNCH_TIMEOUT):
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            info = client.server_info
            assert info is not None and info.name == "telco-mcp" and info.version == __version__
            tools = {tool.name for tool in (await client.list_tools()).tools}
            prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
            config = await client.read_resource("telco-mcp://configuration")
            text = getattr(config.contents[0], "text", "")
            return {"tools": tools, "prompts": prompts, "config": json.loads(text)}


def run_bundle(unpacked: Path, tmp: Path, values: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    command, args, env = launch_command(unpacked, values)
    errlog_path = tmp / "bundle-server.stderr"
    with errlog_path.open("w") as errlog:
        seen = anyio.run(_session, command, args, host_env(tmp, env), tmp, errlog)
    return seen, errlog_path.read_text(errors="replace")


@pytest.mark.clients  # builds and launches the bundle
def test_unpacked_bundle_serves_stdio_with_every_optional_field_blank(unpacked: Path, tmp_path: Path) -> None:
    """Nothing filled in: the host passes "" for the blanks and the defaults for the rest; the server starts
    in the sandbox, read-only (the form's default), with every other setting at its own default."""
    blanks = {key: "" for key, field in manifest_of(unpacked)["user_config"].items() if "default" not in field}
    seen, _ = run_bundle(unpacked, tmp_path, blanks)
    assert seen["tools"] == {op.name for op in exposed_operations(settings(telco_mcp_allow_writes=False))}
    assert seen["tools"] and not any(op.is_write for op in CATALOGUE if op.name in seen["tools"])
    config = seen["config"]
    assert config["mode"].startswith("sandbox") and config["writes_enabled"] is False
    assert config["confirmation"]["mode"] == "auto" and config["scopes"] == ["*"]
    assert config["guardrails"]["block_premium"] is True and config["guardrails"]["allowed_prefixes"] == []
    assert config["guardrails"]["sms_per_hour"] is None
    assert seen["prompts"] == {p.fn.__name__ for p in PROMPTS}


@pytest.mark.clients  # builds and launches the bundle
def test_user_config_values_reach_the_server(unpacked: Path, tmp_path: Path) -> None:
    values = {
        "sipgate_token_id": "token-ABC123",
        "sipgate_token": CANARY_TOKEN,
        "signalwire_space": "",
        "signalwire_project_id": "",
        "signalwire_api_token": "",
        "allow_writes": True,
        "confirm": "approval",
        "approver_pin": CANARY_PIN,
        "scopes": "sipgate:rtcm:*,sipgate:sessions:sms:*",
        "toolsets": "all",
        "allowed_prefixes": "+49,+43",
        "denied_prefixes": "+4990",
        "block_premium": False,
        "sms_per_hour": 5,
        "calls_per_hour": 3,
    }
    seen, stderr = run_bundle(unpacked, tmp_path, values)
    expected = exposed_operations(
        settings(
            sipgate_token_id="token-ABC123",
            sipgate_token=CANARY_TOKEN,
            telco_mcp_allow_writes=True,
            telco_mcp_scopes=values["scopes"],
            telco_mcp_toolsets="all",
        )
    )
    assert seen["tools"] == {op.name for op in expected}
    assert "sipgate_send_sms" in seen["tools"] and not any(name.startswith("signalwire_") for name in seen["tools"])
    config = seen["config"]
    assert config["mode"] == "live" and config["providers"]["sipgate"]["auth"] == "token"
    assert config["writes_enabled"] is True and config["confirmation"]["mode"] == "approval"
    assert config["scopes"] == ["sipgate:rtcm:*", "sipgate:sessions:sms:*"]
    guardrails = config["guardrails"]
    assert guardrails["allowed_prefixes"] == ["+49", "+43"] and guardrails["denied_prefixes"] == ["+4990"]
    assert guardrails["block_premium"] is False
    assert (guardrails["sms_per_hour"], guardrails["calls_per_hour"]) == (5, 3)
    for secret in (CANARY_TOKEN, CANARY_PIN):
        assert secret not in json.dumps(config) and secret not in stderr


@pytest.mark.clients  # builds and launches the bundle
def test_bundle_cannot_switch_confirmation_off(unpacked: Path, tmp_path: Path) -> None:
    """Typing `off` into the confirmation field stops the server with a message naming the setting: the
    bundle never passes the acknowledgement that unconfirmed writes need."""
    command, args, env = launch_command(unpacked, {"confirm": "off", "allow_writes": True})
    done = subprocess.run(
        [shutil.which(command, path=host_env(tmp_path, {})["PATH"]) or command, *args],
        env=host_env(tmp_path, env),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT,
        check=False,
    )
    assert done.returncode != 0 and done.stdout == ""
    assert "TELCO_MCP_CONFIRM=off also needs TELCO_MCP_CONFIRM_OFF_ACKNOWLEDGED" in done.stderr, done.stderr[-2000:]
