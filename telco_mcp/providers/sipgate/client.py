"""sipgate's shared client, authenticated in one of the three ways sipgate documents.

- personal access token: Basic ``token_id:token``;
- OAuth2 bearer access token, refreshed once under a lock when the API answers 401;
- Basic ``username:password`` for scripts on one's own account.

Secrets stay inside the `httpx.Auth` objects built here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio
import httpx
from pydantic import SecretStr

from telco_mcp.errors import AuthError, parse_body
from telco_mcp.http import ProviderClient, RetryPolicy, make_http_client
from telco_mcp.settings import Settings


class SipgateOAuth(httpx.Auth):
    """Bearer auth that refreshes the access token once when the API answers 401.

    Concurrent 401s trigger a single refresh (a generation counter under an `anyio.Lock`); the
    request is repeated once with the new token and never loops.
    """

    requires_response_body = True

    def __init__(
        self,
        access_token: SecretStr | None,
        *,
        token_url: str,
        refresh_token: SecretStr | None = None,
        client_id: str | None = None,
        client_secret: SecretStr | None = None,
    ) -> None:
        self._access = access_token
        self._refresh = refresh_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        self._lock = anyio.Lock()
        self._generation = 0
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"SipgateOAuth(token_url={self._token_url!r}, refresh={'on' if self.can_refresh else 'off'})"

    @property
    def can_refresh(self) -> bool:
        return bool(self._refresh and self._client_id and self._client_secret)

    def _authorize(self, request: httpx.Request) -> None:
        if self._access is not None:
            request.headers["Authorization"] = f"Bearer {self._access.get_secret_value()}"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        generation = self._generation
        self._authorize(request)
        response = yield request
        if response.status_code != 401 or not self.can_refresh:
            return
        async with self._lock:
            if self._generation == generation:  # nobody refreshed while we waited
                token_response = yield self._refresh_request()
                self._accept(token_response)
        self._authorize(request)
        yield request  # exactly one repeat; a second 401 is reported as an auth error

    def _refresh_request(self) -> httpx.Request:
        assert self._refresh and self._client_id and self._client_secret
        return httpx.Request(
            "POST",
            self._token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": self._refresh.get_secret_value(),
                "client_id": self._client_id,
                "client_secret": self._client_secret.get_secret_value(),
            },
        )

    def _accept(self, response: httpx.Response) -> None:
        body = parse_body(response.content)
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str):
            reason = body.get("error") if isinstance(body, dict) else None
            raise AuthError(
                f"sipgate rejected the access token and refreshing it failed ({response.status_code}"
                + (f" {reason}" if isinstance(reason, str) else "")
                + "). Configure a fresh SIPGATE_ACCESS_TOKEN / SIPGATE_REFRESH_TOKEN. Nothing was sent.",
                provider="sipgate",
                operation="token refresh",
                status=response.status_code,
            )
        self._access = SecretStr(token)
        new_refresh = body.get("refresh_token") if isinstance(body, dict) else None
        if isinstance(new_refresh, str):
            self._refresh = SecretStr(new_refresh)
        self._generation += 1
        self.refreshes += 1


def make_auth(settings: Settings) -> httpx.Auth:
    mode = settings.sipgate_auth_mode
    if mode == "token":
        assert settings.sipgate_token_id and settings.sipgate_token
        return httpx.BasicAuth(settings.sipgate_token_id, settings.sipgate_token.get_secret_value())
    if mode == "password":
        assert settings.sipgate_username and settings.sipgate_password
        return httpx.BasicAuth(settings.sipgate_username, settings.sipgate_password.get_secret_value())
    return SipgateOAuth(
        settings.sipgate_access_token,
        token_url=settings.sipgate_token_endpoint(),
        refresh_token=settings.sipgate_refresh_token,
        client_id=settings.sipgate_client_id,
        client_secret=settings.sipgate_client_secret,
    )


def make_client(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, sandbox: bool = False
) -> ProviderClient:
    http = make_http_client(
        settings.sipgate_base(), make_auth(settings), timeout=settings.telco_mcp_timeout, transport=transport
    )
    return ProviderClient(
        "sipgate", http, retry=RetryPolicy(max_retries=settings.telco_mcp_max_retries), sandbox=sandbox
    )
