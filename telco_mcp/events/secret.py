"""The webhook path secret: `TELCO_MCP_WEBHOOK_SECRET`, else one long random value kept for this user.

The random value is made once (256 bits, URL-safe) and kept in `<state dir>/webhook-secret`
(mode 0600), so that `telco-mcp doctor` shows the URL the server really listens on and a restart
does not break what sipgate was configured with. Deployments without a kept state directory (a
container, several replicas) set `TELCO_MCP_WEBHOOK_SECRET` instead.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

from telco_mcp.settings import Settings

logger = logging.getLogger(__name__)

_VALID = re.compile(r"[A-Za-z0-9_-]{32,128}")


def webhook_secret(settings: Settings) -> str:
    configured = settings.telco_mcp_webhook_secret
    if configured is not None:
        return configured.get_secret_value()
    path = settings.state_dir / "webhook-secret"
    try:
        kept = path.read_text(encoding="utf-8").strip()
        if _VALID.fullmatch(kept):
            return kept
    except OSError:
        pass
    made = secrets.token_urlsafe(32)
    try:
        _write_private(path, made)
    except OSError as exc:  # still works, for this process only
        logger.warning("could not keep the webhook secret in %s (%s): it changes at each start", path, exc.strerror)
    return made


def _write_private(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
