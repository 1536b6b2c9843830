"""Stopping a server a test started: Ctrl-C, and if it does not exit, its threads' stacks in the failure.

A child started with `PYTHONFAULTHANDLER=1` (see `FAULTHANDLER`) writes every thread's stack to its stderr on
SIGABRT. A server that ignores Ctrl-C is a bug worth a readable failure, and the child is always reaped, so a
hung process never turns into a `ResourceWarning` that fails whichever later test collects it.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

FAULTHANDLER = {"PYTHONFAULTHANDLER": "1"}  # stacks on SIGABRT (and on a crash), to stderr
STOP_WITHIN = 30.0  # seconds after Ctrl-C: generous for a loaded 2-core machine running four workers


def interrupt(proc: subprocess.Popen[bytes], stderr: Path | None = None, within: float = STOP_WITHIN) -> int:
    """Ctrl-C (SIGINT: an HTTP server skips the drain SIGTERM gives a balancer) and wait; its exit status.

    If it is still running after `within` seconds: SIGABRT (stacks to stderr), then SIGKILL, and the test fails
    with the end of `stderr`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        tail = stderr.read_text(errors="replace")[-6000:] if stderr is not None and stderr.exists() else ""
        failure = f"the server did not exit within {within:g} s of Ctrl-C; its stderr ends:\n{tail}"
        raise AssertionError(failure) from None
