"""How an approval link reaches the human, by channels the model does not read.

- The local browser: `$BROWSER` (entries separated by the path separator, `%s` replaced by the
  link, otherwise the link is the one argument, as Python's `webbrowser` does), else a graphical
  opener (`xdg-open` with a display, `open` on macOS). Started detached, all three standard streams
  closed to it, so under stdio it can never read or write the protocol's pipes. Console browsers
  are never used: they would read the protocol's stdin.
- A webhook (`TELCO_MCP_APPROVAL_WEBHOOK`): a JSON notice with a link that carries no secret.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
from typing import Any

import httpx2

logger = logging.getLogger(__name__)


def browser_commands(url: str) -> list[list[str]]:
    """The commands that would open `url`, in order of preference (empty: no graphical browser)."""
    configured = os.environ.get("BROWSER", "")
    commands: list[list[str]] = []
    for entry in (e for e in configured.split(os.pathsep) if e.strip()):
        try:
            parts = shlex.split(entry)
        except ValueError:
            logger.warning("ignoring a $BROWSER entry that is not a command line: %r", entry)
            continue
        commands.append([p.replace("%s", url) for p in parts] if "%s" in entry else [*parts, url])
    if commands:
        return commands
    if sys.platform == "darwin":
        return [["open", url]]
    if sys.platform.startswith("win"):
        return [["cmd", "/c", "start", "", url]]
    if (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and shutil.which("xdg-open"):
        return [["xdg-open", url]]
    return []


def open_browser(url: str) -> bool:
    """Start the first browser command that exists; True if one was started."""
    for command in browser_commands(url):
        try:
            browser = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            logger.warning("could not start the browser %r: %s", command[0], exc.strerror)
            continue
        threading.Thread(target=browser.wait, name="telco-mcp-browser", daemon=True).start()  # reaped, no zombie
        return True
    return False


async def post_webhook(url: str, notice: dict[str, Any], *, timeout: float = 5.0) -> bool:
    """POST the notice; True when the receiver answered 2xx. Never raises: a failed notice is logged."""
    try:
        async with httpx2.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = await client.post(url, json=notice)
    except httpx2.HTTPError as exc:
        logger.warning("approval webhook failed: %s", type(exc).__name__)
        return False
    if not response.is_success:
        logger.warning("approval webhook answered %d", response.status_code)
        return False
    return True
