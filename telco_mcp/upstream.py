"""The shared, authenticated HTTP client: one per provider, opened once in the server lifespan.

`ProviderClient.send` is the only place a request leaves this process. It adds nothing secret
itself (credentials come from the `httpx2.Auth` the client was built with), maps every failure onto
`telco_mcp.errors`, and retries only what is safe to repeat: reads and writes the catalogue marks
idempotent, on 429/502/503/504 and on connections refused or broken, honouring `Retry-After` with capped,
jittered backoff. A write whose response never arrived is reported as `OutcomeUnknown`.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import anyio
import httpx2

from telco_mcp import __version__
from telco_mcp.errors import (
    PROVIDER_NAMES,
    Conflict,
    NotFound,
    OutcomeUnknown,
    ProviderError,
    UnexpectedResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
    error_for_status,
    parse_body,
)
from telco_mcp.ops import metrics, tracing
from telco_mcp.untrusted import inline
from telco_mcp.wire import FORM_TYPE, PreparedRequest, Provider, response_json

if TYPE_CHECKING:
    from telco_mcp.events.store import EventStore

logger = logging.getLogger(__name__)

USER_AGENT = f"telco-mcp/{__version__} (+https://github.com/telco-mcp/telco-mcp) httpx2/{httpx2.__version__}"
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_retry_after: float = 30.0  # a longer Retry-After is reported instead of waited for

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry `attempt` (1-based), or None to give up."""
        if attempt > self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        backoff = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return backoff * (0.5 + random.random() / 2)  # "equal jitter"


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# ------------------------------------------------------------------ the client
class Sendable(Protocol):
    """What the client needs to know of the operation a request belongs to (an `Operation` or a `Lookup`)."""

    @property
    def name(self) -> str: ...
    @property
    def is_write(self) -> bool: ...
    @property
    def idempotent(self) -> bool: ...
    @property
    def retry_safe(self) -> bool: ...


@dataclass(frozen=True)
class Lookup:
    """A supporting read an operation makes (the state before or after a change, a user id)."""

    name: str
    is_write: bool = False
    idempotent: bool = True
    retry_safe: bool = True


class ProviderClient:
    """One provider's shared `httpx2.AsyncClient`, with error mapping and safe retries."""

    def __init__(
        self,
        provider: Provider,
        http: httpx2.AsyncClient,
        *,
        retry: RetryPolicy | None = None,
        sandbox: bool = False,
        auth_scheme: str = "Basic",
        account_id: str | None = None,
    ) -> None:
        self.provider = provider
        self.account_id = account_id  # the account the provider's paths name (SignalWire's project id), if any
        self.http = http
        self.auth_scheme = auth_scheme  # shown, redacted, in previews of the exact request
        self.retry = retry or RetryPolicy()
        self.sandbox = sandbox
        self.cache: dict[str, Any] = {}  # small per-process lookups (e.g. sipgate userId)

    @property
    def base_url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    def url_for(self, request: PreparedRequest) -> str:
        url = httpx2.URL(self.base_url + request.path)
        return str(url.copy_merge_params(list(request.query))) if request.query else str(url)

    async def _request(self, op: Sendable, request: PreparedRequest) -> httpx2.Response:
        """One HTTP attempt, timed for `telco_mcp_upstream_request_seconds` (no answer: status class "error")."""
        started, status = time.perf_counter(), None
        with tracing.span("upstream.request", provider=self.provider, operation=op.name) as span:
            try:
                response = await self.http.request(
                    request.method,
                    self.base_url + request.path,
                    params=list(request.query) or None,
                    json=request.json,
                    **_form(request),
                )
                status = response.status_code
                span.set_attribute("http.response.status_code", status)
                return response
            finally:
                metrics.upstream(self.provider, op.name, status, time.perf_counter() - started)

    async def send(self, op: Sendable, request: PreparedRequest) -> httpx2.Response:
        """Send `request` for `op`; return a 2xx response or raise a `ProviderError`."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._request(op, request)
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
                # Nothing reached the provider: repeatable for retry-safe operations.
                error: ProviderError = UpstreamUnavailable(
                    f"Could not connect to {self._name} ({type(exc).__name__}). Nothing was sent; try again later.",
                    provider=self.provider,
                    operation=op.name,
                )
                delay = self.retry.delay(attempt, None) if op.retry_safe else None
            except httpx2.TimeoutException as exc:
                raise self._no_answer(op, request, f"no answer within the timeout ({type(exc).__name__})") from None
            except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError) as exc:
                # Sent, perhaps acted on, no answer: often a keep-alive connection the provider had
                # already closed. Repeatable only for reads and absolute-state writes.
                if op.is_write:
                    error = self._no_answer(op, request, f"the connection broke ({type(exc).__name__})")
                else:
                    error = UpstreamUnavailable(
                        f"{self._name} broke the connection before answering {op.name} ({type(exc).__name__}). "
                        "Nothing was changed; try again later.",
                        provider=self.provider,
                        operation=op.name,
                    )
                delay = self.retry.delay(attempt, None) if op.retry_safe else None
            else:
                if response.is_success:
                    return response
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                error = error_for_status(
                    response.status_code,
                    parse_body(response.content),
                    provider=self.provider,
                    operation=op.name,
                    is_write=op.is_write,
                    retry_after=retry_after,
                )
                # What a documented 404 or 409 means for this operation, in its own words (Operation.not_found/conflict)
                hints = {404: ("not_found", NotFound), 409: ("conflict", Conflict)}
                name, kind = hints.get(response.status_code, ("", None))
                hint = getattr(op, name, None) if kind else None
                if hint and kind and request.fields:
                    error = kind(
                        hint.format(**request.fields) + (" Nothing was changed." if op.is_write else ""),
                        provider=self.provider,
                        operation=op.name,
                        status=response.status_code,
                    )
                retryable = op.retry_safe and response.status_code in RETRY_STATUSES
                delay = self.retry.delay(attempt, retry_after) if retryable else None
            if delay is None:
                raise error
            logger.info("%s %s: %s, retry %d in %.2fs", self.provider, op.name, error.category, attempt, delay)
            await anyio.sleep(delay)

    def _no_answer(self, op: Sendable, request: PreparedRequest, why: str) -> ProviderError:
        if not op.is_write:
            return UpstreamTimeout(
                f"{self._name} did not answer {op.name}: {why}. Nothing was changed; try again.",
                provider=self.provider,
                operation=op.name,
            )
        repeat = (
            "Repeating it is harmless (it sets an absolute state), but check first."
            if op.idempotent
            else "Do NOT repeat it blindly: check the current state first (a repeat could act twice)."
        )
        # The body can hold provider data (the SMS sender id sipgate listed) and text from anywhere: fenced.
        body = f" with body {inline(request.body, self.provider)}" if request.body is not None else ""
        return OutcomeUnknown(
            f"Outcome unknown: {request.method} {request.path}{body} was sent to {self._name} but {why}, "
            f"so {op.name} may or may not have happened. {repeat}",
            provider=self.provider,
            operation=op.name,
        )

    async def read(self, name: str, path: str, query: tuple[tuple[str, str], ...] = ()) -> Any:
        """GET `path` as a supporting read of operation `name` (retried like any read); its JSON body."""
        response = await self.send(Lookup(name), PreparedRequest("GET", path, query))
        try:
            return response_json(response)
        except ValueError:
            raise UnexpectedResponse(
                f"{self._name} answered a lookup for {name} with a body that is not JSON.",
                provider=self.provider,
                operation=name,
                status=response.status_code,
            ) from None

    @property
    def _name(self) -> str:
        return PROVIDER_NAMES[self.provider]


def _form(request: PreparedRequest) -> dict[str, Any]:
    """A form body as the exact bytes sent: its fields in the order given (the order the approver saw)."""
    if request.form is None:
        return {}
    return {"content": urlencode(request.form).encode(), "headers": {"Content-Type": FORM_TYPE}}


class CallContext:
    """What an operation's hooks may use: the provider's shared client, and lookups kept for one tool call."""

    def __init__(
        self,
        client: ProviderClient,
        events: EventStore | None = None,
        receiver_url: str | None = None,
        fax_dir: Path | None = None,
    ) -> None:
        self.client = client
        self.fax_dir = fax_dir  # the directory faxes may be sent from (TELCO_MCP_FAX_DIR), when the operator set one
        self.exports: Any = None  # where files made for the caller are kept (exports.ExportStore), on a tool call
        self.owner: Callable[[], str] | None = None  # the caller's binding key (write.call.binding_key), on a read
        self.sipgate_ownership: str | None = None  # TELCO_MCP_SIPGATE_OWNERSHIP (providers/sipgate/ownership.py)
        self.events = events  # the call events sipgate pushed, when the server receives them
        self.receiver_url = receiver_url  # this server's webhook URL as sipgate reaches it, when known
        self._once: dict[str, Any] = {}

    async def once(self, key: str, lookup: Callable[[], Awaitable[Any]]) -> Any:
        """`lookup()`'s result, read once per tool call: a write's summary and its request share it."""
        if key not in self._once:
            self._once[key] = await lookup()
        return self._once[key]


def make_http_client(
    base_url: str,
    auth: httpx2.Auth | None,
    *,
    timeout: float,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> httpx2.AsyncClient:
    """The one `httpx2.AsyncClient` of a provider: base URL, auth, timeouts, pooling, User-Agent."""
    return httpx2.AsyncClient(
        base_url=base_url,
        auth=auth,
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        transport=transport,
        follow_redirects=False,
        trust_env=False,
    )
