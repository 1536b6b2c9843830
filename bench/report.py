"""Rows of the results table and their markdown rendering."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Stat


@dataclass(frozen=True)
class Row:
    """One figure: ours against its reference, as values and as a ratio, with a verdict.

    `max_ratio` checks the median ratio, `max_value` checks our median itself; neither means the
    figure is reported for information only. `failed` says why a figure could not be measured
    (`Row.failure`): its row is marked, the other rows stand.
    """

    figure: str
    unit: str
    ours: Stat | None
    reference: Stat | None = None
    reference_label: str = ""
    ratio: Stat | None = None
    max_ratio: float | None = None
    max_value: float | None = None
    note: str = ""
    failed: str | None = None

    @classmethod
    def failure(cls, figure: str, why: str) -> Row:
        return cls(figure=figure, unit="", ours=None, failed=why)

    @property
    def target(self) -> str:
        if self.max_ratio is not None:
            return f"≤ {self.max_ratio:g}x"
        if self.max_value is not None:
            return f"≤ {_number(self.max_value, self.unit)} {self.unit}"
        return "—"

    @property
    def verdict(self) -> str:
        if self.failed is not None or self.ours is None:
            return f"FAILED: {self.failed or 'not measured'}"
        if self.max_ratio is not None:
            assert self.ratio is not None
            return "PASS" if self.ratio.median <= self.max_ratio else "FAIL"
        if self.max_value is not None:
            return "PASS" if self.ours.median <= self.max_value else "FAIL"
        return "info"


def _number(value: float, unit: str) -> str:
    if unit in ("tokens", "chars", "calls"):
        return f"{value:,.0f}"
    if unit == "x":
        return f"{value:.2f}"
    if unit in ("MiB",):
        return f"{value:,.1f}"
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def cell(stat: Stat | None, unit: str) -> str:
    if stat is None:
        return "—"
    suffix = "x" if unit == "x" else f" {unit}"
    if stat.n == 1 or stat.min == stat.max:
        return f"{_number(stat.median, unit)}{suffix}"
    return f"{_number(stat.median, unit)}{suffix} ({_number(stat.min, unit)}–{_number(stat.max, unit)})"


def table(rows: list[Row]) -> str:
    lines = [
        "| Figure | Ours | Reference | Ratio | Target | Verdict |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        reference = cell(row.reference, row.unit)
        if row.reference_label:
            reference = f"{reference} — {row.reference_label}" if row.reference is not None else row.reference_label
        figure = row.figure + (f" ({row.note})" if row.note else "")
        lines.append(
            f"| {figure} | {cell(row.ours, row.unit)} | {reference} | {cell(row.ratio, 'x')} | {row.target} "
            f"| {row.verdict} |"
        )
    return "\n".join(lines)


def environment(quick: bool, seconds: float) -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    from importlib.metadata import version

    from telco_mcp import __version__

    mcp_version = version("mcp")

    return (
        f"telco-mcp {__version__}{f' ({commit}, uncommitted changes possible)' if commit else ''}, mcp {mcp_version}, "
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load}; {'--quick' if quick else 'full'} run of {seconds:.0f} s, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC."
    )


def document(rows: list[Row], *, quick: bool, seconds: float) -> str:
    return "\n".join(
        [
            "# telco-mcp benchmark results",
            "",
            "Each cell is the median over repeated runs, with (min–max). Ratios are ours / reference, paired",
            "per run; the verdict compares the median ratio (or our median) with the target.",
            "Reproduce with `python -m bench` (see bench/README.md).",
            "",
            table(rows),
            "",
            environment(quick, seconds),
            "",
        ]
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def echo(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
