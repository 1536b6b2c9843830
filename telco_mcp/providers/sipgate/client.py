"""sipgate's shared client, authenticated in one of the three ways sipgate documents.

- personal access token: Basic ``token_id:token``;
- OAuth2 bearer access token, refreshed once under a lock when the API answers 401;
- Basic ``username:password`` for scripts on one's own account.

Secrets stay inside the `httpx2.Auth` objects built here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio
import httpx2
from pydantic import SecretStr

from telco_mcp.errors import AuthError, parse_body
from telco_mcp.settings import Settings
from telco_mcp.upstream import ProviderClient, RetryPolicy, make_http_client


class SipgateOAuth(httpx2.Auth):
    """Bearer auth that refreshes the access token once when the API answers 401.

    Concurrent 401s trigger a single refresh (a generation counter under an `anyio.Lock`); the
    request is repeated once with the new token and never loops.
    """

    requires_response_body = False

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
        self._failed: tuple[int, AuthError] | None = None  # a refresh that failed, for its generation
        self.refreshes = 0
        self.client: httpx2.AsyncClient | None = None  # the shared client, used (without auth) to refresh

    def __repr__(self) -> str:
        return f"SipgateOAuth(token_url={self._token_url!r}, refresh={'on' if self.can_refresh else 'off'})"

    @property
    def can_refresh(self) -> bool:
        return bool(self._refresh and self._client_id and self._client_secret)

    def _authorize(self, request: httpx2.Request) -> None:
        if self._access is not None:
            request.headers["Authorization"] = f"Bearer {self._access.get_secret_value()}"

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        generation = self._generation
        self._authorize(request)
        response = yield request
        if response.status_code != 401 or not self.can_refresh:
            return
        async with self._lock:
            if self._generation == generation:  # nobody refreshed while we waited
                if self._failed is not None and self._failed[0] == generation:
                    raise self._failed[1]  # it already failed for this token: do not try again
                try:
                    self._accept(await self._fetch_token())
                except AuthError as exc:
                    self._failed = (generation, exc)
                    raise
        self._authorize(request)
        yield request  # exactly one repeat; a second 401 is reported as an auth error

    async def _fetch_token(self) -> httpx2.Response:
        assert self.client is not None, "SipgateOAuth.client is set by make_client"
        try:
            # the shared client's timeouts and transport, without this auth (no recursion)
            return await self.client.send(self._refresh_request(), auth=None)
        except httpx2.TransportError as exc:
            raise AuthError(
                f"sipgate rejected the access token and the token endpoint could not be reached to refresh it "
                f"({type(exc).__name__}). Nothing was sent again; try later.",
                provider="sipgate",
                operation="token refresh",
            ) from None

    def _refresh_request(self) -> httpx2.Request:
        assert self.client is not None and self._refresh and self._client_id and self._client_secret
        return self.client.build_request(  # build_request: the client's timeouts and User-Agent apply
            "POST",
            self._token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": self._refresh.get_secret_value(),
                "client_id": self._client_id,
                "client_secret": self._client_secret.get_secret_value(),
            },
        )

    def _accept(self, response: httpx2.Response) -> None:
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


def make_auth(settings: Settings) -> httpx2.Auth:
    mode = settings.sipgate_auth_mode
    if mode == "token":
        assert settings.sipgate_token_id and settings.sipgate_token
        return httpx2.BasicAuth(settings.sipgate_token_id, settings.sipgate_token.get_secret_value())
    if mode == "password":
        assert settings.sipgate_username and settings.sipgate_password
        return httpx2.BasicAuth(settings.sipgate_username, settings.sipgate_password.get_secret_value())
    return SipgateOAuth(
        settings.sipgate_access_token,
        token_url=settings.sipgate_token_endpoint(),
        refresh_token=settings.sipgate_refresh_token,
        client_id=settings.sipgate_client_id,
        client_secret=settings.sipgate_client_secret,
    )


def make_client(
    settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None, sandbox: bool = False
) -> ProviderClient:
    auth = make_auth(settings)
    http = make_http_client(settings.sipgate_base(), auth, timeout=settings.telco_mcp_timeout, transport=transport)
    if isinstance(auth, SipgateOAuth):
        auth.client = http
    return ProviderClient(
        "sipgate",
        http,
        retry=RetryPolicy(max_retries=settings.telco_mcp_max_retries),
        sandbox=sandbox,
        auth_scheme="Bearer" if isinstance(auth, SipgateOAuth) else "Basic",
    )
