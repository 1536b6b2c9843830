"""Every install line the docs give runs, in order, on a fresh copy of the repository.

The install block of docs/clients.md (between the `INSTALL LINES` markers) is the only place that tells a
reader how to install telco-mcp before it is on PyPI. Each line is run as written with bash, with a
fresh virtualenv active (`pip`), and pipx and uv from the test extras, each in homes of its own:
`pip install .` must give a working `telco-mcp`, `pip wheel` exactly one wheel, `pipx install` of
that wheel a working command, and the `uvx ... serve` line a stdio server that lists its tools.
The wheel is built once, by the docs' own line.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TextIO

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from telco_mcp import __version__
from telco_mcp.safety.scopes import exposed_operations

from .conftest import ROOT, clean_env, settings
from .test_packaging import INSTALL_TIMEOUT, _run, _tool_env

INSTALL_DOC = ROOT / "docs" / "clients.md"  # "Installing the command"; the README links to it
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
START = "<!-- START INSTALL LINES (run by tests/clients/test_install_lines.py) -->"
END = "<!-- END INSTALL LINES -->"
REGISTRY_LINES = ("pip install telco-mcp", "pipx install telco-mcp", "uvx telco-mcp")


def install_lines(readme: str) -> list[str]:
    """The commands of the docs' install block (one per line; `# ...` comments left to bash)."""
    start, end = readme.index(START), readme.index(END)
    block = readme[start + len(START) : end].strip()
    assert block.startswith("```bash\n") and block.endswith("\n```"), block
    return [line for line in block.splitlines()[1:-1] if line.strip()]


def test_install_block_gives_local_artefact_lines_only() -> None:
    lines = install_lines(INSTALL_DOC.read_text())
    commands = [shlex.split(line, comments=True) for line in lines]
    assert [c[:2] for c in commands] == [["pip", "install"], ["pip", "wheel"], ["pipx", "install"], ["uvx", "--from"]]
    assert commands[0][2:] == ["."]
    for command in commands[2:]:  # the wheel the second line built, not a package of that name on an index
        assert any(arg.startswith("dist/telco_mcp-") and arg.endswith(".whl") for arg in command), command


def test_registry_lines_are_marked_as_after_the_first_release() -> None:
    """`pip install telco-mcp` and friends appear, in the README and every page of docs/, only in the paragraph
    that says they do not work yet (in docs/clients.md, beside the install block)."""
    for page in PAGES:
        for paragraph in re.split(r"\n\s*\n", page.read_text()):
            named = [line for line in REGISTRY_LINES if line in paragraph]
            if named:
                assert "After the first release" in paragraph and "not yet" in paragraph, (page.name, paragraph)
    paragraphs = re.split(r"\n\s*\n", INSTALL_DOC.read_text())
    assert any(all(line in p for line in REGISTRY_LINES) for p in paragraphs), "the future lines are gone"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository as a reader's clone has it: tracked (and new, not ignored) files, no venv, no dist."""
    out = tmp_path_factory.mktemp("clone") / "telco-mcp"
    listed = subprocess.run(
        ["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, out / name)
    return out


@pytest.mark.clients
def test_every_install_line_of_the_docs_works(clone: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=120, cwd=tmp_path, env=_tool_env(tmp_path))
    tools = tmp_path / "tools-bin"  # pipx and uv from the test extras, and nothing else of this venv
    tools.mkdir()
    for name in ("pipx", "uv", "uvx"):
        (tools / name).symlink_to(Path(sys.executable).parent / name)
    env = _tool_env(tmp_path) | {
        "PATH": f"{venv / 'bin'}:{tools}:/usr/local/bin:/usr/bin:/bin",
        "VIRTUAL_ENV": str(venv),
        "HOME": str(tmp_path / "home"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_TOOL_DIR": str(tmp_path / "uv-tools"),
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "pipx-bin"),
    }
    expected = f"telco-mcp {__version__}"
    install, build, pipx, uvx = install_lines(INSTALL_DOC.read_text())

    _run(["bash", "-euo", "pipefail", "-c", install], timeout=INSTALL_TIMEOUT, cwd=clone, env=env)
    assert _run([venv / "bin" / "telco-mcp", "--version"], timeout=60, cwd=tmp_path, env=env).strip() == expected

    _run(["bash", "-euo", "pipefail", "-c", build], timeout=INSTALL_TIMEOUT, cwd=clone, env=env)
    wheels = list((clone / "dist").glob("telco_mcp-*.whl"))
    assert [w.name for w in wheels] == [f"telco_mcp-{__version__}-py3-none-any.whl"]

    _run(["bash", "-euo", "pipefail", "-c", pipx], timeout=INSTALL_TIMEOUT, cwd=clone, env=env)
    installed = tmp_path / "pipx-bin" / "telco-mcp"
    assert _run([installed, "--version"], timeout=60, cwd=tmp_path, env=env).strip() == expected
    where = _run(["bash", "-c", "readlink -f " + shlex.quote(str(installed))], timeout=60, cwd=tmp_path, env=env)
    assert Path(where.strip()).is_relative_to(tmp_path / "pipx"), where

    # the uvx line is a stdio server: the SDK client starts it exactly as written and lists its tools
    assert uvx.split("#")[0].split()[-1] == "serve"
    server_env = env | clean_env(tmp_path / "state", home=tmp_path / "home") | {"PATH": env["PATH"]}
    params = StdioServerParameters(command="bash", args=["-euo", "pipefail", "-c", uvx], env=server_env, cwd=clone)
    with (tmp_path / "uvx.stderr").open("w") as errlog:
        listed = anyio.run(_list_tools, params, errlog)
    assert listed == {op.name for op in exposed_operations(settings())}


async def _list_tools(params: StdioServerParameters, errlog: TextIO) -> set[str]:
    with anyio.fail_after(INSTALL_TIMEOUT):
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            info = client.server_info
            assert info is not None and info.name == "telco-mcp" and info.version == __version__
            return {tool.name for tool in (await client.list_tools()).tools}
