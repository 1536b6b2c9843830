"""`telco-mcp approvals`: decide pending approvals from a terminal, outside the conversation.

Locally it reaches every telco-mcp server of this user through their Unix sockets in the state
directory (0600, in a 0700 directory). When a server has an approver PIN, the PIN is asked on the
terminal (`--pin-stdin` reads it from standard input instead); it is never an argument, since a
coding agent running as the same user can read any process's arguments.

With `--url URL` it talks to a shared server's authenticated approval API (`/api/approvals`, OAuth)
as the person whose access token it sends: from `TELCO_MCP_APPROVER_TOKEN` or `--token-file PATH`,
never from an argument.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2

from telco_mcp.access import is_loopback
from telco_mcp.approval import sockets
from telco_mcp.approval.pin import hash_pin
from telco_mcp.errors import ConfigError


@dataclass
class _Server:
    socket: Path
    pin: str | None = None

    def request(self, method: str, path: str, body: Any = None) -> httpx2.Response:
        headers = {"X-Approver-PIN": self.pin} if self.pin else {}
        transport = httpx2.HTTPTransport(uds=sockets.address(self.socket), trust_env=False)
        with httpx2.Client(transport=transport, base_url="http://telco-mcp", timeout=10, trust_env=False) as client:
            return client.request(method, path, json=body, headers=headers)


@dataclass
class _RemoteServer:
    """A shared server's approval API over HTTP(S), called with the approver's own access token."""

    base: str
    token: str
    pin: str | None = None  # never used: the token is the approver's identity

    def request(self, method: str, path: str, body: Any = None) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx2.Client(base_url=self.base, timeout=20, trust_env=False) as client:
            return client.request(method, path, json=body, headers=headers)


def _base_url(url: str) -> str:
    """The server's base URL, also when given its MCP endpoint (`.../mcp`, `.../sse`)."""
    base = url.rstrip("/")
    for suffix in ("/mcp", "/sse", "/api/approvals"):
        base = base.removesuffix(suffix)
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"approvals --url: {url!r} is not an http(s) URL")
    host = urlsplit(base).hostname or ""
    if base.startswith("http://") and not is_loopback(host):
        raise ConfigError(
            f"approvals --url: {url!r} is plain http: your access token would cross the network unencrypted; "
            "use the server's https URL"
        )
    return base


def _approver_token(token_file: str | None, from_env: str | None) -> str:
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"approvals --token-file: cannot read {token_file} ({exc.strerror})") from None
    else:
        token = (from_env or "").strip()
    if not token:
        raise ConfigError(
            "approvals --url needs your own access token: set TELCO_MCP_APPROVER_TOKEN or pass --token-file PATH "
            "(never the token itself on the command line)"
        )
    return token


class _Cli:
    def __init__(self, state_dir: Path, pin_stdin: bool, remote: _RemoteServer | None = None) -> None:
        self.state_dir = state_dir
        self.pin_stdin = pin_stdin
        self.remote = remote
        self._pin: str | None = None

    def servers(self) -> Iterator[_Server | _RemoteServer]:
        if self.remote is not None:
            yield self.remote
            return
        folder = self.state_dir / "approvals"
        for sock in sorted(folder.glob("*.sock")) if folder.is_dir() else []:
            yield _Server(sock, self._pin)

    def _read_pin(self) -> str:
        pin = self._pin
        if pin is None:
            pin = sys.stdin.readline().strip() if self.pin_stdin else getpass.getpass("Approver PIN: ")
            self._pin = pin
        return pin

    def call(self, server: _Server | _RemoteServer, method: str, path: str, body: Any = None) -> httpx2.Response | None:
        """One API call, asking for the PIN once when the server wants it; None if the server is gone."""
        if isinstance(server, _RemoteServer):
            try:
                response = server.request(method, path, body)
            except httpx2.TransportError as exc:
                raise ConfigError(f"approvals: cannot reach {server.base} ({type(exc).__name__})") from None
            if response.status_code in (401, 404):
                try:
                    said = response.json()
                except ValueError:
                    said = {}
                said = said if isinstance(said, dict) else {}
                if response.status_code == 401:
                    why = said.get("error_description")
                    if not why or why == "Authentication required":  # the SDK's answer to any invalid token
                        why = "expired, or issued for another server?"
                    raise ConfigError(f"approvals: {server.base} refused the access token ({why})")
                if said.get("error") == "not_configured":
                    raise ConfigError(f"approvals: {server.base}: {said.get('message')}")
            return response
        try:
            response = server.request(method, path, body)
            if response.status_code == 401:
                server.pin = self._read_pin()
                response = server.request(method, path, body)
        except httpx2.TransportError:
            return None  # a server that has exited leaves its socket behind
        if response.status_code == 401:
            raise ConfigError(f"approvals: {response.json().get('message', 'wrong PIN')}")
        return response

    def find(self, approval_id: str) -> tuple[_Server | _RemoteServer, dict[str, Any]]:
        for server in self.servers():
            response = self.call(server, "GET", f"/api/approvals/{approval_id}")
            if response is not None and response.status_code == 200:
                return server, response.json()
        raise ConfigError(f"approvals: no running telco-mcp server knows approval {approval_id}")


def _line(item: dict[str, Any]) -> str:
    expires = datetime.fromtimestamp(item["expires_at"], UTC).strftime("%H:%M:%S UTC")
    return f"{item['id']}  {item['status']:<8}  {item['tool']}  (expires {expires})\n    {item['summary']}"


def run(args: argparse.Namespace, state_dir: Path, approver_token: str | None = None) -> int:
    if args.action == "hash-pin":
        pin = sys.stdin.readline().strip() if args.pin_stdin else getpass.getpass("PIN to hash: ")
        if len(pin) < 6:
            raise ConfigError("approvals: a PIN needs at least 6 characters")
        print(hash_pin(pin))
        return 0
    remote = None
    if args.url:
        remote = _RemoteServer(_base_url(args.url), _approver_token(args.token_file, approver_token))
    cli = _Cli(state_dir, args.pin_stdin, remote)
    if args.action == "list":
        found = []
        for server in cli.servers():
            response = cli.call(server, "GET", "/api/approvals")
            if response is not None and response.status_code == 200:
                found.extend(response.json()["approvals"])
        if args.json:
            print(json.dumps(found, indent=2))
        else:
            print("\n".join(_line(item) for item in found) or "nothing is waiting for approval")
        return 0
    if args.id is None:
        raise ConfigError(f"approvals {args.action}: give the approval id (see `telco-mcp approvals list`)")
    server, item = cli.find(args.id)
    if args.action == "show":
        print(json.dumps(item, indent=2) if args.json else _line(item))
        if not args.json:
            print(f"    {item['method']} {item['url']}")
            if item.get("body") is not None:
                print("    body: " + json.dumps(item["body"], ensure_ascii=False))
            if item.get("form") is not None:
                print("    form: " + json.dumps(item["form"], ensure_ascii=False))
            if item.get("verdict"):
                print(f"    guardrails: {item['verdict']}")
            print(f"    asked by: {item.get('asked_by') or item['client']}")
            if item.get("four_eyes"):
                print("    four eyes: another person than the caller must approve it")
        return 0
    body: dict[str, Any] = {"approve": args.action == "approve"}
    if args.grant_minutes:
        body["grant_minutes"] = args.grant_minutes
    response = cli.call(server, "POST", f"/api/approvals/{args.id}/decide", body)
    if response is None or response.status_code != 200:
        message = response.json().get("message", response.text) if response is not None else "the server is gone"
        print(f"telco-mcp approvals: {args.id} was not decided: {message}", file=sys.stderr)
        return 1
    decided = response.json()
    print(f"{decided['id']} {decided['status']}: {decided['summary']}")
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "approvals",
        help="list, show, approve or deny pending writes of the running servers",
        description="Decide pending approvals of the telco-mcp servers running as this user.",
    )
    parser.add_argument("action", choices=["list", "show", "approve", "deny", "hash-pin"], help="what to do")
    parser.add_argument("id", nargs="?", help="the approval id (apr_...), for show, approve and deny")
    parser.add_argument(
        "--grant-minutes",
        type=int,
        default=None,
        help="with approve: also allow, on the same call, the call-control tools a grant covers (the approval page "
        "names them) for this many minutes (max 60)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (list and show)")
    parser.add_argument(
        "--pin-stdin", action="store_true", help="read the approver PIN from standard input instead of the terminal"
    )
    parser.add_argument(
        "--url",
        default=None,
        help="a shared server's base URL (OAuth): decide through its approval API as yourself, with your access "
        "token from TELCO_MCP_APPROVER_TOKEN or --token-file",
    )
    parser.add_argument(
        "--token-file", default=None, help="with --url: a file holding your access token (instead of the variable)"
    )
    return parser
