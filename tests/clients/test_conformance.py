"""The official MCP conformance suite (`@modelcontextprotocol/conformance`, server mode) against
`telco-mcp serve --transport http` in sandbox mode, with Node 22 from tools/node.

Every scenario that applies to a tools server must pass; `conformance-baseline.yml` lists only the
scenarios for features telco-mcp deliberately lacks (or that need the suite's "everything server"
fixtures), each with its reason. The suite itself fails the run on a baseline entry that passes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import NodeTools, ServerProcess, run_bounded

BASELINE = Path(__file__).with_name("conformance-baseline.yml")
CONFORMANCE_TIMEOUT = 300.0

# Scenarios a tools server must pass (the active suite of 0.1.16 minus the baseline, named here so a
# baseline edit cannot quietly excuse one of them).
MUST_PASS = {
    "server-initialize",
    "ping",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-error",
    "server-sse-multiple-streams",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
}

_ENTRY = re.compile(r"^  - (?P<name>[a-z0-9-]+)\s+#\s*(?P<reason>\S.*)$")
_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")


def parse_baseline(path: Path = BASELINE) -> dict[str, str]:
    """The `server:` entries of the baseline with their reasons; anything else in the file is an error."""
    entries: dict[str, str] = {}
    section = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            section = line.strip()
            assert section == "server:", f"{path.name}:{number}: only a server: section is expected, got {line!r}"
            continue
        match = _ENTRY.match(line)
        assert match, f"{path.name}:{number}: expected `  - scenario  # reason`, got {line!r}"
        name = match["name"]
        assert name not in entries, f"{path.name}:{number}: {name} listed twice"
        entries[name] = match["reason"]
    return entries


def test_baseline_lists_only_deliberate_gaps_each_with_a_reason() -> None:
    entries = parse_baseline()
    assert entries, "the baseline is empty: is the file still used?"
    for name, reason in entries.items():
        assert len(reason) >= 20, f"{name}: give a real reason, not {reason!r}"
    assert not MUST_PASS & entries.keys(), f"tools-server scenarios excused: {sorted(MUST_PASS & entries.keys())}"
    # prompts/list must pass once prompts exist; only the fixture-name prompts/get scenarios are excused
    assert "prompts-list" not in entries


def _scenario_results(out_dir: Path) -> dict[str, list[str]]:
    """scenario -> statuses of its checks, from the suite's `checks.json` files."""
    results: dict[str, list[str]] = {}
    for checks in out_dir.glob("*/checks.json"):
        match = _RESULT_DIR.match(checks.parent.name)
        assert match, f"unexpected results directory {checks.parent.name}"
        results[match["scenario"]] = [check["status"] for check in json.loads(checks.read_text())]
    return results


@pytest.mark.node
@pytest.mark.clients
def test_baseline_names_real_scenarios(node_tools: NodeTools, tmp_path: Path) -> None:
    done = run_bounded(
        [node_tools.conformance, "list", "--server"], env=node_tools.env(tmp_path), cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    known = set(re.findall(r"^\s+- ([a-z0-9-]+)", done.stdout, flags=re.MULTILINE))
    assert known >= MUST_PASS, f"scenarios renamed upstream: {sorted(MUST_PASS - known)}"
    unknown = parse_baseline().keys() - known
    assert not unknown, f"baseline names scenarios the suite does not have: {sorted(unknown)}"


@pytest.mark.node
@pytest.mark.clients
def test_conformance_suite_passes_with_baseline(
    node_tools: NodeTools, http_server: ServerProcess, tmp_path: Path
) -> None:
    out_dir = tmp_path / "results"
    done = run_bounded(
        [
            node_tools.conformance,
            "server",
            "--url",
            http_server.url,
            "--expected-failures",
            BASELINE,
            "-o",
            out_dir,
        ],
        env=node_tools.env(tmp_path),
        cwd=tmp_path,
        timeout=CONFORMANCE_TIMEOUT,
    )
    summary = done.stdout[done.stdout.find("=== SUMMARY ===") :]
    assert done.returncode == 0, f"conformance failed (rc={done.returncode}):\n{summary}\n{done.stderr[-3000:]}"
    assert "Baseline check passed" in done.stdout, summary

    results = _scenario_results(out_dir)
    for name in sorted(MUST_PASS):
        statuses = results.get(name)
        assert statuses, f"{name} did not run:\n{summary}"
        assert "SUCCESS" in statuses and not {"FAILURE", "WARNING"} & set(statuses), f"{name}: {statuses}"
    failing = {name for name, statuses in results.items() if {"FAILURE", "WARNING"} & set(statuses)}
    assert failing == parse_baseline().keys(), f"failing {sorted(failing)}"
    assert http_server.proc.poll() is None, "the server died during the conformance run"
