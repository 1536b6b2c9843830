"""The benchmark runner (`python -m bench`) without running a benchmark: a figure that raises or times out is
one FAILED row naming why, and every other figure is still measured and in the table."""

from __future__ import annotations

import subprocess

import pytest

from bench import report
from bench.__main__ import measure
from bench.harness import Stat, time_budget
from bench.report import Row


def test_a_failing_figure_is_marked_and_the_others_stay_in_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    measured: list[str] = []

    def fine(name: str) -> list[Row]:
        measured.append(name)
        return [Row(figure=f"{name} figure", unit="ms", ours=Stat.of([1.0, 2.0]), max_value=5)]

    def times_out() -> list[Row]:
        raise subprocess.TimeoutExpired(["python", "-m", "bench.memory", "--worker"], 560.0)

    def breaks() -> list[Row]:
        raise RuntimeError("the sandbox | said\nno")

    figures = {
        "cold": lambda: fine("cold"),
        "memory": times_out,
        "call": lambda: fine("call"),
        "events": breaks,
        "tokens": lambda: fine("tokens"),
    }
    rows = measure(list(figures), figures)
    assert measured == ["cold", "call", "tokens"], "the figures after a failed one are still measured"
    table = report.document(rows, quick=True, seconds=1.0)
    lines = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(lines) == 5
    assert lines[0].startswith("| cold figure |") and lines[0].endswith("| PASS |")
    assert lines[1].startswith("| Memory: RSS after 10,000 in-process tool calls |")
    assert lines[1].endswith("| FAILED: timeout after 560 s |")
    assert lines[3].endswith("| FAILED: RuntimeError: the sandbox / said no |"), "one line, no cell broken"
    assert lines[4].startswith("| tokens figure |") and lines[4].endswith("| PASS |")
    assert "RuntimeError" in capsys.readouterr().err, "the traceback goes to stderr"


def test_time_budgets_grow_with_the_work() -> None:
    small, large = time_budget(1_000, 0.02, floor=60), time_budget(10_000, 0.02, floor=60)
    assert large - small >= 9_000 * 0.02 and small >= 80
