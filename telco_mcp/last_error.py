"""`last-error` in the state directory: why the server last failed to start.

A client that starts the server itself (Claude Code, Claude Desktop) often hides its stderr and shows only
that the connection closed. So `telco-mcp serve` that cannot start writes its one-line reason to stderr and
also to `$XDG_STATE_HOME/telco-mcp/last-error` (JSON: time, command, error), owner-only and atomically
(a reader sees the old file or the new one, never half of one). A server that starts removes it: the file
is always about the latest attempt that failed since the last start that worked. `telco-mcp doctor`
shows it.

The error is the message the user saw on stderr: startup errors (`ConfigError`) name settings, never their
values. Anything else is recorded by its type only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NAME = "last-error"


def path(state_dir: Path) -> Path:
    return state_dir / NAME


def record(state_dir: Path, argv: Sequence[str], error: str) -> Path | None:
    """Write the failure (atomically, mode 0600); None (and nothing else) when the directory is not writable:
    the stderr line is still there, and a failure to record must not hide the failure itself."""
    doc = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": shlex.join(["telco-mcp", *argv]),  # secrets are never arguments (see cli.py)
        "error": error,
    }
    import tempfile

    target = path(state_dir)
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{NAME}.", dir=state_dir)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(doc, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except OSError:
        return None
    return target


def clear(state_dir: Path) -> None:
    """A start that worked: the last failure is history."""
    with contextlib.suppress(OSError):
        path(state_dir).unlink(missing_ok=True)


def read(state_dir: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def describe(state_dir: Path) -> str:
    """`telco-mcp doctor`'s line (with the error's further lines indented below it)."""
    doc = read(state_dir)
    if doc is None:
        return f"last failed start: none recorded ({path(state_dir)})"
    error = str(doc.get("error", "")).replace("\n", "\n    ")
    return f"last failed start: {doc.get('time')} `{doc.get('command')}` ({path(state_dir)}):\n    {error}"
