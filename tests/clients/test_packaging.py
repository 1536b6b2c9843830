"""The built wheel, installed into a clean virtualenv, runs the server: what `pip install` of the wheel
gets (the README's pipx and uvx lines are run by test_install_lines.py).

One wheel build and one install per session (dependencies come from the package index), both with uv
and its cache: the same PEP 517 build and the same wheel metadata as pip's, in a fraction of the time.
pip's own path (`pip install .`, `pip wheel`, pipx, uvx) is the install-line test's, in the clients tier.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from email.parser import Parser
from pathlib import Path

import anyio
import pytest
from filelock import FileLock
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from telco_mcp import __version__
from telco_mcp.safety.scopes import exposed_operations

from .conftest import ROOT, SANDBOX_META, clean_env, settings

BUILD_TIMEOUT = 300
UV = Path(sys.executable).parent / "uv"  # from the test extras
INSTALL_TIMEOUT = 900


def _run(cmd: Sequence[str | Path], *, timeout: float, cwd: Path, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            [str(c) for c in cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"timed out after {timeout}s: {' '.join(map(str, cmd))}\n{exc.stdout}\n{exc.stderr}")
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _tool_env(tmp: Path) -> dict[str, str]:
    """The caller's environment (package index configuration) minus anything telco-mcp reads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_"))}
    env.pop("VIRTUAL_ENV", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["XDG_STATE_HOME"] = str(tmp / "state")
    return env


def _shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every pytest-xdist worker of this run shares (the base temp directory's parent under xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once per run: under xdist the first worker builds it, under a file lock, for all."""
    shared = _shared(tmp_path_factory)
    out = shared / "dist"
    with FileLock(str(shared / "wheel.lock")):
        if not list(out.glob("telco_mcp-*.whl")):
            out.mkdir(exist_ok=True)
            _run([UV, "build", "--wheel", "--out-dir", out, ROOT], timeout=BUILD_TIMEOUT, cwd=out, env=_tool_env(out))
    wheels = list(out.glob("telco_mcp-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="session")
def clean_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site packages) with only the wheel and its dependencies installed, once per run."""
    shared = _shared(tmp_path_factory)
    base = shared / "venv"
    venv = base / "venv"
    with FileLock(str(shared / "venv.lock")):
        if not (venv / "bin" / "telco-mcp").exists():
            base.mkdir(exist_ok=True)
            _run([sys.executable, "-m", "venv", venv], timeout=120, cwd=base, env=_tool_env(base))
            _run(
                [UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel],
                timeout=INSTALL_TIMEOUT,
                cwd=base,
                env=_tool_env(base),
            )
    return venv


def zf_text(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        assert name in zf.namelist(), f"{name} is not in the wheel"
        return zf.read(name).decode()


def test_wheel_ships_the_package_and_sandbox_but_no_tests(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = f"telco_mcp-{__version__}.dist-info"
        metadata = Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()

    source = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "telco_mcp").rglob("*.py") if "__pycache__" not in p.parts
    }
    assert source <= names, f"missing from the wheel: {sorted(source - names)}"
    assert "telco_mcp/sandbox/__init__.py" in names and any(n.startswith("telco_mcp/sandbox/") for n in source)
    assert {"telco_mcp/schemas.json", "telco_mcp/py.typed"} <= names  # data read at startup; typing marker
    page_data = {  # the approval page's templates, stylesheet and passkey script
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "telco_mcp" / "approval").rglob("*")
        if p.suffix in (".html", ".css", ".js")
    }
    assert "telco_mcp/approval/static/passkey.js" in page_data and page_data <= names, sorted(page_data - names)
    strays = [n for n in names if not n.startswith(("telco_mcp/", f"{dist_info}/"))]
    assert not strays, f"unexpected files in the wheel: {strays}"
    assert not [n for n in names if "/tests/" in n or n.startswith("tests/") or n.endswith((".pyc", ".env"))]

    assert metadata["Name"] == "telco-mcp" and metadata["Version"] == __version__
    # the licence the metadata declares, shipped with its text
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    licence = zf_text(wheel, f"{dist_info}/licenses/LICENSE")
    assert licence == (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Copyright (c) 2026 telco-mcp developers" in licence
    requires = metadata.get_all("Requires-Dist") or []
    assert any(r.startswith("mcp") for r in requires) and not any("pytest" in r and "extra" not in r for r in requires)
    assert "telco-mcp = telco_mcp.cli:main" in entry_points


def test_installed_cli_reports_its_version(clean_venv: Path, tmp_path: Path) -> None:
    bin_dir = clean_venv / "bin"
    env = clean_env(tmp_path / "state")
    assert _run([bin_dir / "telco-mcp", "--version"], timeout=60, cwd=tmp_path, env=env).strip() == (
        f"telco-mcp {__version__}"
    )
    assert __version__ in _run([bin_dir / "python", "-m", "telco_mcp", "--version"], timeout=60, cwd=tmp_path, env=env)
    # imported from the clean venv, not from this checkout
    where = _run([bin_dir / "python", "-c", "import telco_mcp; print(telco_mcp.__file__)"], timeout=60, cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(clean_venv), where
    _run([bin_dir / "python", "-m", "pip", "check"], timeout=120, cwd=tmp_path, env=_tool_env(tmp_path))


@pytest.mark.anyio
async def test_installed_server_serves_stdio(clean_venv: Path, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=str(clean_venv / "bin" / "telco-mcp"), args=["serve"], env=clean_env(tmp_path / "state"), cwd=tmp_path
    )
    with (tmp_path / "stderr.log").open("w") as errlog, anyio.fail_after(60):
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            info = client.server_info
            assert info is not None and info.name == "telco-mcp" and info.version == __version__
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == {op.name for op in exposed_operations(settings())}, "what this checkout exposes"
            result = await client.call_tool("signalwire_list_sip_gateways", {})
            assert not result.is_error
            assert result.meta is not None and result.meta[SANDBOX_META] is True
            assert result.structured_content is not None and result.structured_content["items"]
