"""Shared test fixtures: a route-keyed fake upstream, canary credentials, servers and MCP clients.

Tests talk to the server through the SDK's in-memory `Client` (both protocol eras) and to the
upstream through `httpx2.MockTransport` routes or the sandbox; nothing patches internals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from telco_mcp.server import build_server
from telco_mcp.settings import Settings
from telco_mcp.wire import Provider

# Recognisable canary credentials: no result, log line, audit line, error or manifest may contain them.
SW_PROJECT = "0b7c5d1e-9a4f-4c2b-8e3d-0000000c0a01"
SW_TOKEN = "PT-canary-signalwire-token-7f3a"
SG_TOKEN_ID = "token-CANARY"
SG_TOKEN = "canary-sipgate-pat-2b9e6c1d"
SG_ACCESS = "canary.sipgate.access-token"
SG_REFRESH = "canary-sipgate-refresh-token"
SG_CLIENT_SECRET = "canary-sipgate-client-secret"
SG_PASSWORD = "canary-sipgate-password"
CANARIES = (SW_TOKEN, SG_TOKEN, SG_ACCESS, SG_REFRESH, SG_CLIENT_SECRET, SG_PASSWORD)

SW_BASE = "https://acme.signalwire.com"
SG_BASE = "https://api.sipgate.com/v2"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# Tiers and CI (README, "Tests"): under CI=true a skipped test is reported as a failure.
from tier_hooks import pytest_runtest_makereport, running_in_ci  # noqa: E402, F401


@dataclass
class FakeUpstream:
    """A route-keyed fake API: `fake.route("GET /path", handler_or_response)`; records every request."""

    routes: dict[str, Any] = field(default_factory=dict)
    requests: list[httpx2.Request] = field(default_factory=list)

    def route(self, key: str, answer: Any) -> None:
        """`answer`: an `httpx2.Response`, a list of them (served in order), or a callable(request)."""
        self.routes[key] = list(answer) if isinstance(answer, list) else answer

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.path}"
        answer = self.routes.get(key)
        if answer is None:
            return httpx2.Response(599, json={"error": f"no fake route for {key}"})
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        result = answer(request) if callable(answer) else answer
        assert isinstance(result, httpx2.Response)
        return result

    @property
    def transport(self) -> httpx2.AsyncBaseTransport:
        return httpx2.MockTransport(self.handler)

    def sent(self, method: str | None = None, path: str | None = None) -> list[httpx2.Request]:
        return [
            r for r in self.requests if (method is None or r.method == method) and (path is None or r.url.path == path)
        ]


def body_of(request: httpx2.Request) -> Any:
    return json.loads(request.content) if request.content else None


@pytest.fixture
def fake() -> FakeUpstream:
    return FakeUpstream()


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


def make_settings(audit: Path, **overrides: Any) -> Settings:
    # Fake upstreams do not model sipgate's users: the operator's choice of ownership is made explicit here (the
    # default, decided by the token user's admin flag, is tested against the sandbox in test_sipgate_ownership.py).
    base: dict[str, Any] = {"_env_file": None, "telco_mcp_audit_log": audit, "telco_mcp_sipgate_ownership": "account"}
    return Settings(**(base | overrides))


def signalwire_settings(audit: Path, **overrides: Any) -> Settings:
    return make_settings(
        audit,
        signalwire_space="acme",
        signalwire_project_id=SW_PROJECT,
        signalwire_api_token=SW_TOKEN,
        **overrides,
    )


def sipgate_settings(audit: Path, mode: str = "token", **overrides: Any) -> Settings:
    creds: dict[str, Any] = {
        "token": {"sipgate_token_id": SG_TOKEN_ID, "sipgate_token": SG_TOKEN},
        "oauth": {
            "sipgate_access_token": SG_ACCESS,
            "sipgate_refresh_token": SG_REFRESH,
            "sipgate_client_id": "telco-test",
            "sipgate_client_secret": SG_CLIENT_SECRET,
        },
        "password": {"sipgate_username": "ops@example.com", "sipgate_password": SG_PASSWORD},
    }[mode]
    return make_settings(audit, **(creds | overrides))


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's real provider settings, `.env` or audit file."""
    import os

    for name in list(os.environ):
        if name.startswith(("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):  # no test opens the developer's browser
        monkeypatch.delenv(name, raising=False)
    yield
    # The approval listeners of the servers this test built (a pending approval keeps them, as it should, until
    # the process exits): left running, a few hundred idle event-loop threads slowed every later test.
    from telco_mcp.approval.service import stop_every_service

    stop_every_service()
    # A server sets the process's region for national numbers from its settings (one server per process in
    # production); a test that built one with TELCO_MCP_DEFAULT_REGION=AT must not leave AT to the next test.
    from telco_mcp import phone
    from telco_mcp.settings import Settings

    phone.DEFAULT_REGION = Settings.model_fields["telco_mcp_default_region"].default


async def accept(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})


async def answer_no(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": False})


async def decline(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="decline")


async def cancel(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="cancel")


def client_for(settings: Settings, fake: FakeUpstream | None = None, **client_kwargs: Any) -> Client:
    transports: dict[Provider, httpx2.AsyncBaseTransport] | None = None
    if fake is not None:
        transports = {"signalwire": fake.transport, "sipgate": fake.transport}
    return Client(build_server(settings, transports=transports), **client_kwargs)


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def response(status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> httpx2.Response:
    if body is None:
        return httpx2.Response(status, headers=headers)
    if isinstance(body, bytes | str):
        return httpx2.Response(status, content=body, headers=headers)
    return httpx2.Response(status, json=body, headers=headers)


Handler = Callable[[httpx2.Request], httpx2.Response]


class SandboxSigned(httpx2.Auth):
    """Signs a request's body as the sandbox signs its sipgate pushes (`X-Sipgate-Signature`), for tests
    that post to a sandbox-mode server's webhook receiver themselves: such a server requires the signature."""

    requires_request_body = True

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        from telco_mcp.sandbox.signing import sign

        request.headers["X-Sipgate-Signature"] = sign(request.content)
        yield request


def sandbox_key_file(directory: Path) -> Path:
    """This process's sandbox public key as a PEM file (for a server in another process to trust)."""
    from telco_mcp.sandbox.signing import public_pem

    path = directory / "sandbox-push-key.pem"
    path.write_bytes(public_pem())
    return path
