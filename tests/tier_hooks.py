"""The suite's tier and CI plumbing, imported by tests/conftest.py (a module of its own, so a test can load
it into a child pytest without the rest of the suite)."""

from __future__ import annotations

import os
from typing import Any

import pytest


def running_in_ci() -> bool:
    """CI=true (any value but empty, 0 or false): every tool `make` installs is there, so nothing may skip."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under CI a skip is a failure: a test that cannot run there has lost its tool, its file or its tier."""
    report = yield
    if report.skipped and running_in_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where nothing may skip: {reason}"
    return report
