"""tests/processes.py: a child that ignores Ctrl-C fails the test with its stacks, and is always reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import FAULTHANDLER, interrupt

DEAF = (
    "import signal, sys, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "print('up', file=sys.stderr, flush=True); time.sleep(60)"
)


def started(code: str, stderr: Path) -> subprocess.Popen[bytes]:
    with stderr.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", code], stderr=err, env=os.environ | FAULTHANDLER)
    deadline = time.monotonic() + 30
    while b"up" not in stderr.read_bytes():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def test_a_child_that_ignores_ctrl_c_fails_with_its_stacks_and_is_reaped(tmp_path: Path) -> None:
    proc = started(DEAF, tmp_path / "err")
    with pytest.raises(AssertionError, match="did not exit within 1 s") as failed:
        interrupt(proc, tmp_path / "err", within=1)
    assert 'File "<string>", line 1 in <module>' in str(failed.value)  # faulthandler's stack of the main thread
    assert proc.returncode is not None  # reaped: no ResourceWarning for a later test


def test_a_child_that_stops_on_ctrl_c_gives_its_status(tmp_path: Path) -> None:
    proc = started("import sys, time; print('up', file=sys.stderr, flush=True); time.sleep(60)", tmp_path / "err")
    assert interrupt(proc, tmp_path / "err") == -signal.SIGINT  # an uncaught KeyboardInterrupt ends by SIGINT
