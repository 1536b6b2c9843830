"""The audit log: one JSON line per write attempt, written before and after the request.

For every attempt that reaches the provider an `intent` line is appended and flushed to disk
before the request is sent (so a crash mid-write still leaves a record), and exactly one `attempt`
line records the outcome: `applied`, `declined`, `refused`, `failed` or `unknown`. Phone numbers
are masked to their last four digits unless configured otherwise. Nothing secret is written:
arguments are the tool's own (credentials never are), and confirmation tokens are left out.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from telco_mcp.phone import mask

logger = logging.getLogger(__name__)

Outcome = Literal["applied", "declined", "refused", "failed", "unknown"]
ConfirmedBy = Literal["elicitation", "approval-page", "cli", "token", "off", "none"]
_NUMBER = re.compile(r"\+[1-9][0-9]{5,14}")


def mask_numbers(value: Any) -> Any:
    if isinstance(value, str):
        return _NUMBER.sub(lambda m: mask(m.group(0)), value)
    if isinstance(value, dict):
        return {k: mask_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_numbers(v) for v in value]
    return value


class AuditLog:
    def __init__(self, path: Path, *, mask_phone_numbers: bool = True) -> None:
        self.path = path
        self.mask = mask_phone_numbers
        self._lock = threading.Lock()

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":"))
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def _args(self, arguments: dict[str, Any]) -> dict[str, Any]:
        clean = {k: v for k, v in arguments.items() if k not in ("confirm_token", "approval_id") and v is not None}
        return mask_numbers(clean) if self.mask else clean

    def intent(
        self,
        *,
        attempt: str,
        tool: str,
        arguments: dict[str, Any],
        confirmed_by: ConfirmedBy,
        request: dict[str, Any],
        approval: str | None = None,
    ) -> None:
        record = {
            "time": datetime.now(UTC).isoformat(),
            "event": "intent",
            "attempt": attempt,
            "tool": tool,
            "arguments": self._args(arguments),
            "confirmed_by": confirmed_by,
            "approval": approval,
            "request": mask_numbers(request) if self.mask else request,
        }
        self._write({k: v for k, v in record.items() if v is not None})

    def attempt(
        self,
        *,
        attempt: str,
        tool: str,
        arguments: dict[str, Any],
        confirmed_by: ConfirmedBy,
        outcome: Outcome,
        status: int | None = None,
        provider_id: str | None = None,
        detail: str | None = None,
        sandbox: bool = False,
        approval: str | None = None,
    ) -> None:
        record = {
            "time": datetime.now(UTC).isoformat(),
            "event": "attempt",
            "attempt": attempt,
            "tool": tool,
            "arguments": self._args(arguments),
            "confirmed_by": confirmed_by,
            "approval": approval,
            "outcome": outcome,
            "status": status,
            "provider_id": provider_id,
            "detail": mask_numbers(detail) if self.mask and detail else detail,
        }
        if sandbox:
            record["sandbox"] = True
        self._write({k: v for k, v in record.items() if v is not None})

    def unwritable(self, exc: OSError) -> None:
        """Say on stderr that the log could not be written (the caller decides what that stops)."""
        logger.error("audit log %s is not writable: %s", self.path, exc.strerror)


def new_attempt_id() -> str:
    return uuid.uuid4().hex[:16]
