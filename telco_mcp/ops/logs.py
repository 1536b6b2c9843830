"""Log lines: text (default) or, with TELCO_MCP_LOG_FORMAT=json, one JSON object a line on stderr.

A JSON line holds time, level, logger and message, and while a tool call is handled its request id and
tool, and the caller when one is authenticated (OAuth `sub`). Lines written before the settings are
read (a malformed setting, say) are plain text: the format is itself a setting. The webhook-secret
redaction filter sits on the loggers, not the handler, so it applies to both formats.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class CallFields:
    request_id: str
    tool: str
    caller: str | None = None


_current: ContextVar[CallFields | None] = ContextVar("telco_mcp_log_call", default=None)


@contextmanager
def tool_call(request_id: object, tool: str, caller: str | None) -> Iterator[None]:
    """Name this tool call in every log line written while it is handled."""
    token = _current.set(CallFields(str(request_id), tool, caller))
    try:
        yield
    finally:
        _current.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        call = _current.get()
        if call is not None:
            line["request_id"] = call.request_id
            line["tool"] = call.tool
            if call.caller:
                line["caller"] = call.caller
        line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str, fmt: str = "text") -> None:
    """Logging for every subcommand: stderr only (stdout carries the stdio protocol), at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(handlers=[handler], level=getattr(logging, level, logging.INFO), force=True)
    for noisy in ("httpx2", "httpcore2", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
