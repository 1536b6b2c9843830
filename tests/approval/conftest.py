"""Helpers for the out-of-band approval tests: a recording `$BROWSER`, a person's browser session
(cookies, forms), and a count of the writes that reached the embedded sandbox."""

from __future__ import annotations

import html
import os
import re
import stat
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx2
import pytest
import spec_requests
from mcp import Client
from mcp.types import Implementation

from telco_mcp.server import build_server
from telco_mcp.settings import Settings

SMS = {"recipient": "+4915799912345", "message": "The trunk is down"}


def settings(audit: Path, **overrides: Any) -> Settings:
    """The embedded sandbox (no credentials), writes on, default consent mode unless overridden."""
    return Settings(**({"_env_file": None, "telco_mcp_audit_log": audit} | overrides))


def server_for(audit: Path, **overrides: Any) -> Any:
    server = build_server(settings(audit, **overrides))
    sandbox = server.telco_runtime.sandbox  # type: ignore[attr-defined]
    if sandbox is not None:  # every request the tools send it is checked against the spec
        spec_requests.watch(sandbox)
    return server


@pytest.fixture(autouse=True)
def _requests_match_the_spec() -> Iterator[None]:
    yield from spec_requests.check_watched()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here may read the specs (the fixture above checks its sandboxes' requests): all are `contract`."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.contract)


def client(server: Any, *, name: str = "test-client", **kwargs: Any) -> Client:
    return Client(server, client_info=Implementation(name=name, version="1.0"), **kwargs)


def writes(server: Any) -> list[tuple[str, str]]:
    """Every request other than a GET that reached the sandbox: what a person would call a write."""
    return [(r.method, r.path) for r in server.telco_runtime.sandbox.requests if r.method != "GET"]


async def first_call_id(c: Client) -> str:
    return (await c.call_tool("sipgate_list_calls", {})).structured_content["calls"][0]["call_id"]


class Browser:
    """`$BROWSER` for the tests: a script that appends each link it is handed to a file."""

    def __init__(self, folder: Path) -> None:
        self.log = folder / "browser.log"
        self.script = folder / "browser.sh"
        self.script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{self.log}"\n')
        self.script.chmod(self.script.stat().st_mode | stat.S_IXUSR)

    def handed(self, at_least: int = 1, timeout: float = 5.0) -> list[str]:
        """The arguments the browser was started with, as they were (what any local user could read)."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = self.log.read_text().split() if self.log.exists() else []
            if len(lines) >= at_least:
                return lines
            time.sleep(0.02)
        raise AssertionError(f"the browser was started {len(lines)} times, expected {at_least}")

    def links(self, at_least: int = 1, timeout: float = 5.0) -> list[str]:
        """The pages the browser ends up on: a handed `file://` launch file is followed to its target."""
        return [follow_launch_file(arg) for arg in self.handed(at_least, timeout)]

    def opened(self) -> int:
        return len(self.log.read_text().split()) if self.log.exists() else 0


def follow_launch_file(arg: str) -> str:
    if not arg.startswith("file://"):
        return arg
    page = Path(arg.removeprefix("file://")).read_text()
    found = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', page)
    assert found, page
    return html.unescape(found.group(1))


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Browser:
    recorder = Browser(tmp_path)
    monkeypatch.setenv("BROWSER", str(recorder.script))
    return recorder


class Form(HTMLParser):
    """The forms of a page: action, method and the default value of every named field."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action") or "",
                    "method": (a.get("method") or "get").lower(),
                    "fields": [],
                    "buttons": [],
                }
            )
        elif self.forms and tag in ("input", "select", "textarea") and a.get("name"):
            kind = a.get("type") or ""
            if kind == "checkbox":
                self.forms[-1]["fields"].append((a["name"], a.get("value") or "on"))
            else:
                self.forms[-1]["fields"].append((a["name"], a.get("value") or ""))
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value") or ""))


def forms_of(page: str) -> list[dict[str, Any]]:
    parser = Form()
    parser.feed(page)
    return parser.forms


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def follow(http: httpx2.AsyncClient, link: str) -> httpx2.Response:
    """GET `link` like a browser: redirects, and a page's own `<meta http-equiv="refresh">`."""
    page = await http.get(link)
    found = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', page.text)
    if found:
        page = await http.get(str(page.url.join(html.unescape(found.group(1)))))
    return page


async def submit(
    http: httpx2.AsyncClient, page: httpx2.Response, decision: str = "approve", **extra: str
) -> httpx2.Response:
    """Press Approve or Deny on an approval's page: its form's own fields (the session's CSRF token, or the launch
    code that rides in the form until the approval POST), as the browser sends them."""
    (form,) = [f for f in forms_of(page.text) if f["action"].endswith("/decide")]
    origin = f"{page.url.scheme}://{page.url.netloc.decode()}"
    fields = {name: value for name, value in form["fields"] if name in ("csrf", "code")}
    return await http.post(
        str(page.url.join(form["action"])), data={**fields, "decision": decision, **extra}, headers={"Origin": origin}
    )


async def decide_in_browser(link: str, decision: str = "approve", **extra: str) -> httpx2.Response:
    """A person opening the launch link and pressing Approve or Deny, as their browser sends it."""
    async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
        page = await follow(http, link)
        assert page.status_code == 200, page.text
        return await submit(http, page, decision, **extra)


@pytest.fixture
def state_home(tmp_path: Path) -> Iterator[Path]:
    yield Path(os.environ["XDG_STATE_HOME"])
