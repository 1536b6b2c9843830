"""sipgate authentication: OAuth refresh once on 401 (under a lock, never looping) and settings validation.

The fake sipgate accepts only the bearer token it last issued; the token endpoint is a route on the
same fake. Every test counts the requests, so a refresh loop or a repeated write shows up as a
number that is too high.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx2
import pytest
from conftest import (
    CANARIES,
    SG_ACCESS,
    SG_CLIENT_SECRET,
    SG_PASSWORD,
    SG_REFRESH,
    SG_TOKEN,
    FakeUpstream,
    accept,
    body_of,
    client_for,
    make_settings,
    response,
    sipgate_settings,
    text_of,
)

from telco_mcp.errors import ConfigError
from telco_mcp.server import build_server
from telco_mcp.settings import Settings

pytestmark = pytest.mark.anyio

MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])

TOKEN_PATH = "/login/third-party/protocol/openid-connect/token"
TOKEN_URL = "https://api.sipgate.com" + TOKEN_PATH
NEW_ACCESS = "fresh.sipgate.access-token"
ACCOUNT = {"company": "Muster Sanitär GmbH", "mainProductType": "TEAM", "verified": True}
THEM = "+4915799912345"


@dataclass
class OAuthFake(FakeUpstream):
    """The shared fake, plus the bearer token each request carried *when it arrived*.

    httpx2 repeats the same `Request` object after a refresh, so `requests` only shows the last header.
    `hold(key, n)` makes the first `n` requests for `key` wait until all `n` have arrived, so that
    concurrent tool calls really are in flight together when their 401s come back.
    """

    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    hold_key: str | None = None
    hold_count: int = 0
    _held: int = 0
    _all_in: anyio.Event | None = None

    def hold(self, key: str, count: int) -> None:
        self.hold_key, self.hold_count = key, count

    @property
    def transport(self) -> httpx2.AsyncBaseTransport:
        return _Arrivals(self)


class _Arrivals(httpx2.AsyncBaseTransport):
    def __init__(self, fake: OAuthFake) -> None:
        self.fake = fake
        self.inner = httpx2.MockTransport(fake.handler)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        fake = self.fake
        fake.seen.append((request.method, request.url.path, bearer(request)))
        if f"{request.method} {request.url.path}" == fake.hold_key and fake._held < fake.hold_count:
            fake._held += 1
            fake._all_in = fake._all_in or anyio.Event()
            if fake._held == fake.hold_count:
                fake._all_in.set()
            await fake._all_in.wait()
        return await self.inner.handle_async_request(request)


@pytest.fixture
def fake() -> OAuthFake:
    return OAuthFake()


def token_answer(access: str = NEW_ACCESS, **extra: Any) -> httpx2.Response:
    """What sipgate's Keycloak answers a successful refresh with."""
    body = {
        "access_token": access,
        "expires_in": 300,
        "refresh_expires_in": 2592000,
        "token_type": "Bearer",
        "scope": "all",
    }
    return response(200, body | extra)


def accepting(*tokens: str, body: Any = ACCOUNT):
    """An endpoint that answers 200 with `body` to these bearer tokens and 401 to anything else."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        if bearer(request) in tokens:
            return response(200, body)
        return response(401, {"error": "invalid_token"})

    return answer


def bearer(request: httpx2.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


def form(request: httpx2.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode(), strict_parsing=True).items()}


def refreshes(fake: FakeUpstream) -> list[httpx2.Request]:
    return fake.sent("POST", TOKEN_PATH)


def assert_no_secret(text: str) -> None:
    for canary in (*CANARIES, NEW_ACCESS):
        assert canary not in text


def oauth(audit_path: Path, **overrides: Any) -> Settings:
    return sipgate_settings(audit_path, "oauth", **overrides)


# ------------------------------------------------------------------ refresh
@MODES
async def test_a_401_refreshes_the_token_once_and_repeats_the_request_with_the_new_bearer(
    fake: OAuthFake, audit_path: Path, mode: str
) -> None:
    fake.route("GET /v2/account", accepting(NEW_ACCESS))
    fake.route(f"POST {TOKEN_PATH}", token_answer())
    async with client_for(oauth(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_get_account", {})
        again = await client.call_tool("sipgate_get_account", {})
    assert not result.is_error, text_of(result)
    assert result.structured_content["company"] == "Muster Sanitär GmbH"
    assert not again.is_error, text_of(again)
    assert fake.seen == [
        ("GET", "/v2/account", SG_ACCESS),
        ("POST", TOKEN_PATH, None),
        ("GET", "/v2/account", NEW_ACCESS),
        ("GET", "/v2/account", NEW_ACCESS),  # the new token is kept
    ]
    (refresh,) = refreshes(fake)
    assert str(refresh.url) == TOKEN_URL
    assert refresh.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in refresh.headers
    assert form(refresh) == {
        "grant_type": "refresh_token",
        "refresh_token": SG_REFRESH,
        "client_id": "telco-test",
        "client_secret": SG_CLIENT_SECRET,
    }
    assert_no_secret(text_of(result))


async def test_the_token_endpoint_follows_sipgate_base_url_or_its_own_override(
    fake: OAuthFake, audit_path: Path
) -> None:
    fake.route("GET /v2/account", accepting(NEW_ACCESS))
    fake.route(f"POST {TOKEN_PATH}", token_answer())
    fake.route("POST /auth/token", token_answer())
    moved = oauth(audit_path, sipgate_base_url="https://sipgate-mock.example.test/v2")
    overridden = oauth(audit_path, sipgate_token_url="https://login.example.test/auth/token")
    for settings in (moved, overridden):
        async with client_for(settings, fake) as client:
            result = await client.call_tool("sipgate_get_account", {})
        assert not result.is_error, text_of(result)
    assert [str(r.url) for r in fake.requests if r.method == "POST"] == [
        "https://sipgate-mock.example.test" + TOKEN_PATH,
        "https://login.example.test/auth/token",
    ]


async def test_a_rotated_refresh_token_is_used_for_the_next_refresh(fake: OAuthFake, audit_path: Path) -> None:
    fake.route("GET /v2/account", accepting("second.access-token"))
    fake.route(
        f"POST {TOKEN_PATH}",
        [
            token_answer("first.access-token", refresh_token="rotated-refresh-token"),
            token_answer("second.access-token"),
        ],
    )
    async with client_for(oauth(audit_path), fake) as client:
        first = await client.call_tool("sipgate_get_account", {})  # refreshed, but rejected again
        second = await client.call_tool("sipgate_get_account", {})
    assert first.is_error and text_of(first).startswith("[auth]")
    assert not second.is_error, text_of(second)
    assert [form(r)["refresh_token"] for r in refreshes(fake)] == [SG_REFRESH, "rotated-refresh-token"]


async def test_the_token_refresh_request_has_the_configured_timeout(fake: OAuthFake, audit_path: Path) -> None:
    """A token endpoint that never answers must not hang the call (and the refresh lock) forever."""
    fake.route("GET /v2/account", accepting(NEW_ACCESS))
    fake.route(f"POST {TOKEN_PATH}", token_answer())
    async with client_for(oauth(audit_path, telco_mcp_timeout=7.0), fake) as client:
        result = await client.call_tool("sipgate_get_account", {})
    assert not result.is_error, text_of(result)
    api_timeout = fake.requests[0].extensions.get("timeout")
    assert api_timeout and api_timeout["read"] == 7.0
    (refresh,) = refreshes(fake)
    assert refresh.extensions.get("timeout") == api_timeout


async def five_concurrent_reads(client: Any) -> list[Any]:
    results: list[Any] = []

    async def one() -> None:
        results.append(await client.call_tool("sipgate_get_account", {}))

    with anyio.fail_after(10):  # the rendezvous never opens if the calls are not concurrent
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(one)
    return results


@MODES
async def test_concurrent_401s_share_a_single_refresh(fake: OAuthFake, audit_path: Path, mode: str) -> None:
    fake.route("GET /v2/account", accepting(NEW_ACCESS))
    fake.route(f"POST {TOKEN_PATH}", token_answer())
    fake.hold("GET /v2/account", 5)
    async with client_for(oauth(audit_path), fake, mode=mode) as client:
        results = await five_concurrent_reads(client)
    assert [r.is_error for r in results] == [False] * 5, [text_of(r) for r in results]
    assert len(refreshes(fake)) == 1
    tokens = [token for method, _, token in fake.seen if method == "GET"]
    assert tokens == [SG_ACCESS] * 5 + [NEW_ACCESS] * 5


@MODES
async def test_a_failed_refresh_is_a_clean_auth_error_and_is_not_retried(
    fake: OAuthFake, audit_path: Path, mode: str
) -> None:
    fake.route("GET /v2/account", accepting(NEW_ACCESS))
    fake.route(
        f"POST {TOKEN_PATH}",
        response(400, {"error": "invalid_grant", "error_description": "Token is not active"}),
    )
    async with client_for(oauth(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_get_account", {})
    assert result.is_error
    text = text_of(result)
    assert text.startswith("[auth]")
    assert "refreshing it failed" in text and "invalid_grant" in text
    assert [(r.method, r.url.path) for r in fake.requests] == [("GET", "/v2/account"), ("POST", TOKEN_PATH)]
    assert_no_secret(text)


@MODES
async def test_calls_waiting_on_a_failed_refresh_do_not_each_try_again(
    fake: OAuthFake, audit_path: Path, mode: str
) -> None:
    """'Refresh once, under a lock': a refresh token that was just rejected is not sent four more times."""
    fake.route("GET /v2/account", response(401))
    fake.route(f"POST {TOKEN_PATH}", response(400, {"error": "invalid_grant"}))
    fake.hold("GET /v2/account", 5)
    async with client_for(oauth(audit_path), fake, mode=mode) as client:
        results = await five_concurrent_reads(client)
    assert all(r.is_error and text_of(r).startswith("[auth]") for r in results), [text_of(r) for r in results]
    assert len(refreshes(fake)) == 1


@MODES
async def test_a_second_401_after_a_successful_refresh_is_an_auth_error_without_another_refresh(
    fake: OAuthFake, audit_path: Path, mode: str
) -> None:
    fake.route("GET /v2/account", response(401))
    fake.route(f"POST {TOKEN_PATH}", token_answer())
    async with client_for(oauth(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_get_account", {})
    assert result.is_error
    assert text_of(result).startswith("[auth]")
    assert fake.seen == [
        ("GET", "/v2/account", SG_ACCESS),
        ("POST", TOKEN_PATH, None),
        ("GET", "/v2/account", NEW_ACCESS),
    ]
    assert_no_secret(text_of(result))


@MODES
async def test_a_write_rejected_with_401_is_sent_again_once_after_the_refresh(
    fake: OAuthFake, audit_path: Path, mode: str
) -> None:
    fake.route("POST /v2/sessions/calls", accepting(NEW_ACCESS, body={"sessionId": "5F3C2A1B0D9E8F7A"}))
    fake.route(f"POST {TOKEN_PATH}", token_answer())
    settings = oauth(audit_path, telco_mcp_allow_writes=True)
    async with client_for(settings, fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_start_call", {"caller": "e0", "callee": THEM})
    assert not result.is_error, text_of(result)
    assert result.structured_content["result"] == {"session_id": "5F3C2A1B0D9E8F7A"}
    assert [(path, token) for method, path, token in fake.seen if method == "POST"] == [
        ("/v2/sessions/calls", SG_ACCESS),
        (TOKEN_PATH, None),
        ("/v2/sessions/calls", NEW_ACCESS),
    ]
    (post,) = set(fake.sent("POST", "/v2/sessions/calls"))  # httpx2 repeats the same request object
    assert body_of(post) == {"caller": "e0", "callee": THEM}
    assert len(refreshes(fake)) == 1


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(lambda p: sipgate_settings(p, "token"), id="personal-access-token"),
        pytest.param(lambda p: sipgate_settings(p, "password"), id="username-password"),
        pytest.param(lambda p: make_settings(p, sipgate_access_token=SG_ACCESS), id="oauth-without-refresh-settings"),
    ],
)
async def test_without_refresh_credentials_a_401_is_an_auth_error_and_the_token_endpoint_is_never_called(
    fake: OAuthFake, audit_path: Path, settings: Any
) -> None:
    fake.route("GET /v2/account", response(401))
    fake.route(f"POST {TOKEN_PATH}", token_answer())
    async with client_for(settings(audit_path), fake) as client:
        result = await client.call_tool("sipgate_get_account", {})
    assert result.is_error
    text = text_of(result)
    assert text.startswith("[auth]") and "(401)" in text
    assert [(r.method, r.url.path) for r in fake.requests] == [("GET", "/v2/account")]
    assert_no_secret(text)


async def test_personal_access_token_mode_never_calls_the_token_endpoint_even_on_success(
    fake: OAuthFake, audit_path: Path
) -> None:
    fake.route("GET /v2/account", response(200, ACCOUNT))
    fake.route("GET /v2/calls", response(200, {"data": []}))
    async with client_for(sipgate_settings(audit_path, "token"), fake) as client:
        for tool in ("sipgate_get_account", "sipgate_list_calls", "sipgate_get_account"):
            assert not (await client.call_tool(tool, {})).is_error
    assert refreshes(fake) == []
    assert len(fake.requests) == 3


# ------------------------------------------------------------------ settings validation
SECRETS = (SG_TOKEN, SG_ACCESS, SG_REFRESH, SG_CLIENT_SECRET, SG_PASSWORD)

PROBLEMS = [
    pytest.param({"sipgate_token_id": "token-ABC123"}, ["SIPGATE_TOKEN is missing"], id="token-id-without-token"),
    pytest.param({"sipgate_token": SG_TOKEN}, ["SIPGATE_TOKEN_ID is missing"], id="token-without-token-id"),
    pytest.param(
        {"sipgate_token_id": "ABC123", "sipgate_token": SG_TOKEN},
        ["SIPGATE_TOKEN_ID must look like token-ABC123"],
        id="malformed-token-id",
    ),
    pytest.param(
        {"sipgate_token_id": "token-AB12", "sipgate_token": SG_TOKEN},
        ["SIPGATE_TOKEN_ID must look like token-ABC123"],
        id="token-id-too-short",
    ),
    pytest.param(
        {"sipgate_token_id": "token-ABC123", "sipgate_token": SG_TOKEN, "sipgate_password": SG_PASSWORD},
        ["exactly one way to authenticate", "password and token"],
        id="token-and-password",
    ),
    pytest.param(
        {"sipgate_access_token": SG_ACCESS, "sipgate_username": "ops@example.com", "sipgate_password": SG_PASSWORD},
        ["exactly one way to authenticate", "oauth and password"],
        id="oauth-and-password",
    ),
    pytest.param(
        {"sipgate_access_token": SG_ACCESS, "sipgate_refresh_token": SG_REFRESH, "sipgate_client_id": "telco-test"},
        ["SIPGATE_CLIENT_SECRET is missing"],
        id="refresh-token-without-client-secret",
    ),
    pytest.param(
        {"sipgate_access_token": SG_ACCESS, "sipgate_refresh_token": SG_REFRESH},
        ["SIPGATE_CLIENT_ID is missing", "SIPGATE_CLIENT_SECRET is missing"],
        id="refresh-token-without-client",
    ),
    pytest.param(
        {"sipgate_client_id": "telco-test", "sipgate_client_secret": SG_CLIENT_SECRET},
        ["SIPGATE_ACCESS_TOKEN"],
        id="client-credentials-without-any-token",
    ),
    pytest.param({"sipgate_username": "ops@example.com"}, ["SIPGATE_PASSWORD is missing"], id="username-only"),
    pytest.param({"sipgate_password": SG_PASSWORD}, ["SIPGATE_USERNAME is missing"], id="password-only"),
    pytest.param(
        {"sipgate_token_id": SG_TOKEN, "sipgate_token": "token-ABC123"},
        ["SIPGATE_TOKEN_ID must look like token-ABC123"],
        id="token-and-token-id-swapped",
    ),
    pytest.param(
        {"sipgate_access_token": SG_ACCESS, "sipgate_base_url": "api.sipgate.com/v2"},
        ["SIPGATE_BASE_URL must be an http(s) URL"],
        id="base-url-without-scheme",
    ),
]


@pytest.mark.parametrize(("values", "named"), PROBLEMS)
def test_settings_problems_name_the_setting_and_never_echo_a_secret(
    audit_path: Path, values: dict[str, Any], named: list[str]
) -> None:
    settings = make_settings(audit_path, **values)
    problems = "\n".join(settings.problems())
    for phrase in named:
        assert phrase in problems
    with pytest.raises(ConfigError) as raised:
        settings.check()
    with pytest.raises(ConfigError):
        build_server(settings)
    for secret in SECRETS:
        assert secret not in problems
        assert secret not in str(raised.value)
        assert secret not in repr(settings)


@pytest.mark.parametrize("auth", ["token", "oauth", "password"])
def test_each_complete_auth_mode_has_no_problems(audit_path: Path, auth: str) -> None:
    settings = sipgate_settings(audit_path, auth)
    assert settings.problems() == []
    assert settings.check() is settings
    assert settings.sipgate_auth_mode == auth


def test_an_access_token_alone_is_a_complete_oauth_configuration(audit_path: Path) -> None:
    settings = make_settings(audit_path, sipgate_access_token=SG_ACCESS)
    assert settings.problems() == []
    assert settings.sipgate_auth_mode == "oauth"
