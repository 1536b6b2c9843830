"""The test tiers (README, "Testing"): the default tier keeps one end-to-end test of every real component,
the long ones are in tiers `make test-all` runs, Claude Code's CLI only under `make client-matrix`, and
under CI=true a skip is a failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SDK_READ = r"tests/clients/test_sdk_clients\.py::test_lists_tools_and_calls_a_read_tool"
# Each real component, and the default-tier tests that run it (node ids, as regular expressions).
COMPONENTS = {
    "a built wheel, installed and run": r"^tests/clients/test_packaging\.py::test_installed_server_serves_stdio$",
    "Chromium": r"^tests/browser/test_approval_page_in_chromium\.py::",
    "redis-server": r"^tests/state/test_redis_state\.py::",
    "haproxy": r"^tests/state/test_replicas\.py::",
    "a real client over stdio": rf"^{SDK_READ}\[stdio",
    "a real client over streamable HTTP": rf"^{SDK_READ}\[http",
    "a real client over SSE": r"^tests/clients/test_http_security\.py::test_sdk_client_over_sse_with_token$",
}
# The tests that left the default tier for `clients` (make test-all), and Claude Code's (make client-matrix).
CLIENTS = {
    "install lines": r"^tests/clients/test_install_lines\.py::test_every_install_line_of_the_docs_works$",
    "TypeScript clients": r"^tests/clients/test_ts_clients\.py::",
    "Inspector": r"^tests/clients/test_inspector\.py::",
    "conformance": r"^tests/clients/test_conformance\.py::test_conformance_suite_passes_with_baseline$",
    "bundle launch": r"^tests/bundle/test_bundle\.py::test_unpacked_bundle_serves_stdio",
}
CLIENT_MATRIX = r"^tests/clients/test_claude_code\.py::"

# Collects the default tier in a child pytest (exactly what `make test` selects) and writes, for every
# test, whether it was selected and its markers.
COLLECT = """
import json, sys, pytest

class Recorder:
    def __init__(self):
        self.tests = {}

    def note(self, items, selected):
        for item in items:
            self.tests[item.nodeid] = {"selected": selected, "markers": sorted({m.name for m in item.iter_markers()})}

    def pytest_deselected(self, items):
        self.note(items, False)

    def pytest_collection_finish(self, session):
        self.note(session.items, True)

recorder = Recorder()
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "tests"], plugins=[recorder])
json.dump({"code": int(code), "tests": recorder.tests}, open(sys.argv[1], "w"))
"""


def _default_tier(tmp_path: Path) -> dict[str, dict[str, Any]]:
    out = tmp_path / "tiers.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    done = subprocess.run(
        [sys.executable, "-c", COLLECT, str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["code"] == 0, done.stdout[-3000:]
    return result["tests"]


def _matching(tests: dict[str, dict[str, Any]], pattern: str) -> dict[str, dict[str, Any]]:
    return {nodeid: test for nodeid, test in tests.items() if re.search(pattern, nodeid)}


def test_the_default_tier_runs_every_real_component_and_the_other_tiers_hold_the_rest(tmp_path: Path) -> None:
    tests = _default_tier(tmp_path)
    selected = {nodeid for nodeid, test in tests.items() if test["selected"]}
    assert len(selected) > 1000, f"the default tier holds only {len(selected)} tests"
    for component, pattern in COMPONENTS.items():
        assert any(re.search(pattern, nodeid) for nodeid in selected), (
            f"no test of the default tier runs {component} ({pattern}): it has left `make test`"
        )
    for tier, pattern in CLIENTS.items():
        moved = _matching(tests, pattern)
        assert moved, f"no {tier} test collected ({pattern})"
        for nodeid, test in moved.items():  # `make test-all` (-m "not client_matrix") runs them
            assert not test["selected"] and "clients" in test["markers"], (nodeid, test)
            assert "client_matrix" not in test["markers"], nodeid
    claude = _matching(tests, CLIENT_MATRIX)
    assert claude, "Claude Code's test is gone"
    for nodeid, test in claude.items():  # deselected by `make test` and `make test-all`, run by `make client-matrix`
        assert not test["selected"] and "client_matrix" in test["markers"], (nodeid, test)
    # Nothing leaves the default tier except through these three markers.
    for nodeid, test in tests.items():
        assert test["selected"] or {"slow", "clients", "client_matrix"} & set(test["markers"]), nodeid


def test_the_make_targets_select_the_tiers() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipes = dict(re.findall(r"^([a-z-]+):[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M))
    assert re.search(r"^\t\$\(BIN\)/python -m pytest -q \$\(XDIST\)$", recipes["test"], re.M), recipes["test"]
    assert "the default tier" in recipes["test"]  # and says so
    assert '-m pytest -q $(XDIST) -m "not client_matrix"' in recipes["test-all"]
    # Four xdist workers, grouped so the serial group stays on one; WORKERS=0 is one process.
    assert re.search(r"^WORKERS \?= 4$", makefile, re.M)
    assert "XDIST := $(if $(filter 0,$(WORKERS)),-p no:xdist,-n $(WORKERS) --dist loadgroup)" in makefile
    assert "-m pytest -q -m client_matrix" in recipes["client-matrix"]
    assert "TELCO_MCP_CLAUDE_CODE=" in recipes["client-matrix"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test-all$", ci, re.M)
    assert "-m contract" in ci


SKIPPING = """
import pytest

def test_a_tool_is_missing():
    pytest.skip("no such tool here")
"""
# The child run gets the suite's report hook, exactly as tests/conftest.py takes it, and nothing else.
CONFTEST = f"""
import sys

sys.path.insert(0, {str(ROOT / "tests")!r})
from tier_hooks import pytest_runtest_makereport
"""


def test_under_ci_a_skip_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_skipping.py").write_text(SKIPPING)

    def run(ci: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
        env |= {"CI": ci} if ci is not None else {}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)]
        return subprocess.run([*command, str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True)

    ci = run("true")
    assert ci.returncode == 1 and "1 failed" in ci.stdout, ci.stdout
    assert "skipped under CI=true" in ci.stdout and "no such tool here" in ci.stdout, ci.stdout
    for value in (None, "false"):
        local = run(value)
        assert local.returncode == 0 and "1 skipped" in local.stdout, (value, local.stdout)
