"""The README fits a screen and tells the truth on its first one; the docs' links lead somewhere (issue 26, item 5).

- README.md has at most 250 lines; the topics live in docs/.
- Its first screen says what is writable: the generated summary (`telco-mcp manifest`) sits within the first 25
  lines, and its figures are what a server lists: in the sandbox (writes on), with real credentials (reads only),
  and with writes enabled. A stale summary is drift for `telco-mcp manifest --check`.
- Every relative link in README.md and docs/*.md names an existing file, and every `#anchor` a heading there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SG_TOKEN, SG_TOKEN_ID, SW_PROJECT, SW_TOKEN, FakeUpstream, client_for, make_settings

from telco_mcp import manifest
from telco_mcp.catalogue import CATALOGUE

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
MAX_LINES = 250
FIRST_SCREEN = 25
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]
WRITES = {op.name for op in CATALOGUE if op.is_write}
CREDENTIALS: dict[str, Any] = {
    "signalwire_space": "acme",
    "signalwire_project_id": SW_PROJECT,
    "signalwire_api_token": SW_TOKEN,
    "sipgate_token_id": SG_TOKEN_ID,
    "sipgate_token": SG_TOKEN,
}


def test_the_readme_fits_a_screen_of_screens() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines: move a topic to docs/ (at most {MAX_LINES})"


def summary_text() -> str:
    text = README.read_text()
    start, end = text.index(manifest.SUMMARY_START), text.index(manifest.SUMMARY_END)
    assert text[:end].count("\n") < FIRST_SCREEN, "the summary of what is writable left the first screen"
    return " ".join(text[start + len(manifest.SUMMARY_START) : end].split())


def test_the_first_screen_makes_no_bare_read_only_claim() -> None:
    first = "\n".join(README.read_text().splitlines()[:FIRST_SCREEN]).lower()
    assert "read-only by default" not in first
    assert "writes are on" in first and "telco_mcp_allow_writes=1" in first


async def listed(settings_overrides: dict[str, Any], tmp_path: Path) -> set[str]:
    """The tools a client is shown, over the SDK's in-memory client (no request leaves: the upstream is fake)."""
    settings = make_settings(tmp_path / "audit.jsonl", **settings_overrides)
    async with client_for(settings, FakeUpstream()) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


@pytest.mark.anyio
async def test_the_summary_states_what_a_server_lists(tmp_path: Path) -> None:
    sandbox = await listed({}, tmp_path)
    live = await listed(CREDENTIALS, tmp_path)
    live_writes = await listed(CREDENTIALS | {"telco_mcp_allow_writes": True}, tmp_path)
    everything = await listed({"telco_mcp_toolsets": "all"}, tmp_path)
    assert sandbox & WRITES and not live & WRITES, "the sandbox lists writes, real credentials do not"
    assert live_writes == sandbox and live == sandbox - WRITES and everything == {op.name for op in CATALOGUE}

    text = summary_text()
    writes = len(sandbox & WRITES)
    assert f"{len(sandbox)} tools are listed, {writes} of them writes" in text, text
    assert f"only the {len(live)} reads of the default toolsets are listed" in text, text
    assert f"adds the {len(live_writes & WRITES)} writes" in text, text
    toolsets = len({op.toolset for op in CATALOGUE})
    assert f"({len(everything)} tools in {toolsets} toolsets" in text, text
    # the examples it names are writes the sandbox lists
    examples = {
        "hold": "sipgate_hold_call",
        "transfer": "sipgate_transfer_call",
        "hang up a call": "sipgate_hangup_call",
        "send an SMS": "sipgate_send_sms",
        "change a SIP gateway": "signalwire_update_sip_gateway",
        "delete a recording": "signalwire_delete_recording",
    }
    for words, tool in examples.items():
        assert words in text and tool in sandbox & WRITES, (words, tool)


def test_manifest_check_fails_on_a_stale_summary(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    for path, text in manifest.expected_files(REPO).items():
        target = copy / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (copy / manifest.BUNDLE_TEMPLATE).write_text((REPO / manifest.BUNDLE_TEMPLATE).read_text())
    assert manifest.check(copy) == []
    readme = copy / "README.md"
    readme.write_text(readme.read_text().replace("**writes are on**", "**read-only**"))
    assert manifest.check(copy) == ["README.md"]
    assert manifest.write(copy) == ["README.md"] and manifest.check(copy) == []
    readme.write_text(readme.read_text().replace(manifest.SUMMARY_END, ""))
    with pytest.raises(ValueError, match="README.md lacks its generated markers"):
        manifest.check(copy)


# ------------------------------------------------------------------ links
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", flags=re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")


def prose(text: str) -> str:
    """The text without code blocks and code spans (a link-like string there is not a link)."""
    return CODE.sub("", FENCE.sub("", text))


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", FENCE.sub("", path.read_text()), flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


def shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no such heading in {shown(linked)})")
    return broken


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(REPO)) for p in DOCS])
def test_every_relative_link_leads_to_a_file_and_heading(path: Path) -> None:
    assert broken_links(path) == []


def test_the_link_check_sees_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# The approver's factor (`TELCO_MCP_APPROVER_FACTOR`)\n\n## Two\n\n## Two\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#the-approvers-factor-telco_mcp_approver_factor) [ok](#top) [ok](there.md#two-1)"
        " [gone](missing.md) [bad](there.md#nowhere) `[code](ignored.md)` [web](https://example.com/x.md)\n\n# Top\n"
    )
    assert broken_links(page) == ["missing.md (no such file)", "there.md#nowhere (no such heading in there.md)"]
