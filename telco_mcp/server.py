"""`build_server(settings)`: the MCP server, its lifespan and its exposed tools.

The lifespan opens one shared, authenticated `httpx2.AsyncClient` per configured provider and closes
it at shutdown; where a transport enters the lifespan per connection (SSE), the connections share
them. With no credentials (or `--sandbox`) both providers are served by the embedded sandbox through
an in-process ASGI transport, and every result says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from telco_mcp import __version__, completions, phone, resources
from telco_mcp.access import networks
from telco_mcp.approval.service import ApprovalService, Listeners
from telco_mcp.catalogue import CATALOGUE
from telco_mcp.errors import ConfigError, StateUnavailable
from telco_mcp.events.notify import EventRelay, LegacySubscriptions
from telco_mcp.events.receiver import WEBHOOK_PREFIX, WebhookReceiver
from telco_mcp.events.secret import webhook_secret
from telco_mcp.events.store import EventStore
from telco_mcp.identity import Caller, current_caller
from telco_mcp.prompts import PROMPTS
from telco_mcp.runtime import AppState, Runtime
from telco_mcp.safety import keys, scopes
from telco_mcp.safety.audit import AuditLog, new_attempt_id
from telco_mcp.safety.confirm import ConfirmationTokens
from telco_mcp.safety.guardrails import Guardrails
from telco_mcp.settings import Settings, load_settings, split_list
from telco_mcp.state import SharedState, open_state
from telco_mcp.tools import make_tool
from telco_mcp.toolsets import discovery_tools
from telco_mcp.upstream import ProviderClient
from telco_mcp.wire import Provider

if TYPE_CHECKING:
    from telco_mcp.events.signature import SignatureCheck
    from telco_mcp.sandbox import Sandbox

logger = logging.getLogger(__name__)

SERVER_NAME = "telco-mcp"
SANDBOX_HOST = "http://sandbox.telco-mcp.invalid"
EMBEDDED_REQUEST_LOG = 500  # requests the embedded sandbox keeps in its log (memory flat over a long run)
# The derived sipgate ownership is looked up once the server is up: after the first tools/list is answered (plus
# `OWNERSHIP_LOOKUP_GAP` seconds for that answer to leave: the lookup's first request loads the HTTP stack or
# the sandbox's routes), or `OWNERSHIP_LOOKUP_AFTER` seconds after start when no client lists tools.
OWNERSHIP_LOOKUP_AFTER = 2.0
OWNERSHIP_LOOKUP_GAP = 0.2


class _SandboxTransport(httpx2.AsyncBaseTransport):
    """The embedded sandbox as an upstream: ASGI in-process, a dropped connection as a protocol error."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        from telco_mcp.sandbox import SandboxConnectionDropped

        # `sandbox.app` is built at the first request, not when the lifespan opens the clients (cold start)
        inner = httpx2.ASGITransport(app=self._sandbox.app)
        try:
            return await inner.handle_async_request(request)
        except SandboxConnectionDropped:
            raise httpx2.RemoteProtocolError("peer closed connection without sending a complete response") from None


class _SharedState:
    """The lifespan's clients, opened by the first holder and closed when the last one leaves.

    stdio and streamable HTTP enter the lifespan once per process, but the SSE transport (and the
    SDK's in-memory client) enter it once per connection. Sharing keeps one client per provider for
    the whole server on every transport: one connection pool, and one sipgate OAuth token that one
    connection's refresh does not retire under another's feet.
    """

    def __init__(self, open_state: Callable[[AsyncExitStack], Awaitable[AppState]]) -> None:
        self._open_state = open_state
        self._holders = 0
        self._stack: AsyncExitStack | None = None
        self._state: AppState | None = None
        self._ready: anyio.Event | None = None

    async def acquire(self) -> AppState:
        self._holders += 1
        if self._holders == 1:
            self._ready = ready = anyio.Event()  # bound to the event loop that is opening the clients
            stack = AsyncExitStack()
            try:
                self._state = await self._open_state(stack)
                self._stack = stack
            except BaseException:
                self._holders -= 1
                await stack.aclose()
                raise
            finally:
                ready.set()
        else:
            assert self._ready is not None
            await self._ready.wait()
        if self._state is None:
            self._holders -= 1
            raise RuntimeError("the shared provider clients could not be opened")
        return self._state

    async def release(self) -> None:
        self._holders -= 1
        if self._holders == 0 and self._stack is not None:
            stack, self._stack, self._state = self._stack, None, None
            await stack.aclose()
            logger.debug("shared clients closed")


class _OwnershipLookup:
    """The sipgate ownership mode when TELCO_MCP_SIPGATE_OWNERSHIP is unset (providers/sipgate/ownership.py), looked
    up in the background once the server is up and said in the log. It never delays startup nor a tools/list, and
    a lookup that fails or does not answer within TELCO_MCP_TIMEOUT is logged as failing closed."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._listed: anyio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def listed(self) -> None:
        """A tools/list was answered: the server is up."""
        if self._listed is not None:
            self._listed.set()

    async def start(self, client: ProviderClient) -> None:
        self._listed = anyio.Event()
        # A plain asyncio task, like the event relay's: under SSE the lifespan that starts it and the one that
        # stops it may run in different tasks.
        self._task = asyncio.get_running_loop().create_task(self._run(client), name="telco-mcp-sipgate-ownership")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

    async def _run(self, client: ProviderClient) -> None:
        from telco_mcp.providers.sipgate import ownership

        assert self._listed is not None
        with anyio.move_on_after(OWNERSHIP_LOOKUP_AFTER):
            await self._listed.wait()
        await anyio.sleep(OWNERSHIP_LOOKUP_GAP)
        try:
            await ownership.announce(
                self._runtime.call_context(client), within=self._runtime.settings.telco_mcp_timeout
            )
        except Exception:  # a fault here must not end the server; each checked call looks up again
            logger.exception("sipgate ownership: the startup lookup failed unexpectedly; failing closed")


class TelcoServer(MCPServer):
    """The SDK server, answering a bad `prompts/get` as the protocol says: -32602, no traceback, and
    listing (and calling) only the catalogue tools exposed now: with dynamic toolsets that list grows."""

    def _exposed(self, name: str, caller: Caller | None, enabled: frozenset[str]) -> bool:
        """A catalogue tool exposed now: to everyone, or (dynamic toolsets over OAuth) enabled by this caller
        (`enabled`, read once per request off the event loop: `Runtime.read_enabled`)."""
        from telco_mcp.catalogue import BY_NAME

        op = BY_NAME.get(name)
        runtime = getattr(self, "telco_runtime", None)
        if op is None or runtime is None:
            return True
        return runtime.is_exposed(op, caller.key if caller is not None else None, enabled)

    @staticmethod
    def _in_scope(name: str, caller: Caller | None) -> bool:
        from telco_mcp.catalogue import BY_NAME

        op = BY_NAME.get(name)
        return op is None or caller is None or caller.may(op.scope)

    def _caller(self) -> Caller | None:
        runtime = getattr(self, "telco_runtime", None)
        return current_caller(runtime.settings) if runtime is not None else None

    async def list_tools(self) -> Any:
        caller = self._caller()  # per request: each person lists only what their token allows
        runtime = getattr(self, "telco_runtime", None)
        key = caller.key if caller else None
        enabled = await runtime.read_enabled(key, or_default=True) if runtime else frozenset[str]()
        tools = await super().list_tools()
        if runtime is not None:
            runtime.tools_listed()
        return [
            tool for tool in tools if self._exposed(tool.name, caller, enabled) and self._in_scope(tool.name, caller)
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        from telco_mcp.catalogue import BY_NAME

        caller = self._caller()
        runtime = getattr(self, "telco_runtime", None)
        op = BY_NAME.get(name)
        enabled: frozenset[str] | None = None
        if runtime is not None and caller is not None and op is not None and op not in runtime.exposed:
            try:  # only a tool an enabled toolset offers needs the shared state, read off the event loop
                enabled = await runtime.read_enabled(caller.key)
            except StateUnavailable as exc:  # and the state cannot say
                raise ToolError(f"[unavailable] {name}: {exc.message}") from None
        exposed = self._exposed(name, caller, enabled or frozenset())
        if not exposed:
            raise ToolError(f"Unknown tool: {name}")
        if not self._in_scope(name, caller):
            op = BY_NAME[name]
            message = (
                f"insufficient_scope: {name} needs the scope {op.scope}, which your access token does not grant. "
                "Nothing was sent"
            )
            if op.is_write and caller is not None:  # who tried to write beyond their scopes is worth a record
                self.telco_runtime.audit.attempt(  # type: ignore[attr-defined]
                    attempt=new_attempt_id(),
                    tool=name,
                    arguments={},  # unvalidated and unnormalised: numbers in them would escape the mask
                    confirmed_by="none",
                    outcome="refused",
                    detail=message,
                    caller=caller.audit(),
                )
            raise ToolError(message)
        return await super().call_tool(name, arguments, context)

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None, context: Any = None) -> Any:
        if name not in {prompt.name for prompt in await self.list_prompts()}:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt: {name!r} (prompts/list names the prompts)")
        try:
            return await super().get_prompt(name, arguments, context)
        except ValueError as exc:  # the SDK's wrapping of a prompt's argument errors
            raise MCPError(code=INVALID_PARAMS, message=f"Invalid arguments for prompt {name!r}: {exc}") from None


def _announce_tool_list_changes(server: MCPServer) -> None:
    """Advertise `tools.listChanged` on 2025-11-25 sessions too (MCPServer has no switch for it).

    The low-level server derives the handshake era's flags from the `NotificationOptions` it is given;
    the 2026-07-28 era derives them from `subscriptions/listen` being served, and is left as it is.
    """
    from mcp.server.lowlevel.server import NotificationOptions

    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    derive = lowlevel.get_capabilities

    def get_capabilities(notification_options: Any = None, *args: Any, **kwargs: Any) -> Any:
        options = notification_options or NotificationOptions()
        options.tools_changed = True
        return derive(options, *args, **kwargs)

    lowlevel.get_capabilities = get_capabilities  # type: ignore[method-assign]


def sandbox_settings(settings: Settings) -> Settings:
    """Provider settings that point both providers at the embedded sandbox with its own credentials."""
    from telco_mcp import sandbox as sb

    return settings.model_copy(
        update={
            "signalwire_space": sb.SIGNALWIRE_SPACE,
            "signalwire_project_id": sb.SIGNALWIRE_PROJECT_ID,
            "signalwire_api_token": _secret(sb.SIGNALWIRE_API_TOKEN),
            "signalwire_base_url": SANDBOX_HOST,
            "sipgate_token_id": sb.SIPGATE_TOKEN_ID,
            "sipgate_token": _secret(sb.SIPGATE_TOKEN),
            "sipgate_access_token": None,
            "sipgate_refresh_token": None,
            "sipgate_client_id": None,
            "sipgate_client_secret": None,
            "sipgate_username": None,
            "sipgate_password": None,
            "sipgate_base_url": SANDBOX_HOST + "/v2",
            "sipgate_token_url": None,
        }
    )


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def approval_service(
    settings: Settings, audit: AuditLog | None = None, state: SharedState | None = None
) -> ApprovalService:
    """The out-of-band approval machinery; nothing listens until the first approval is created."""
    from telco_mcp.approval.pin import ApproverPin
    from telco_mcp.approval.sessions import MemoryPageState, SecretBox
    from telco_mcp.approval.store import MemoryApprovalStore

    pin = settings.telco_mcp_approver_pin
    ring = keys.secrets_of(settings.telco_mcp_confirm_secret)  # the newest keys where wrong PINs are counted
    return ApprovalService(
        ttl=settings.telco_mcp_confirm_ttl,
        state_dir=settings.state_dir,
        pin=ApproverPin(
            pin.get_secret_value(),
            attempts=state.pins if state is not None else None,
            key=keys.derive(ring[0], keys.PIN_SOURCES) if ring else None,
        )
        if pin is not None
        else None,
        proxies=tuple(networks(settings.trusted_proxies)),
        factor=settings.telco_mcp_approver_factor,
        passkeys=state.passkeys if state is not None and state.passkeys is not None else passkey_store(settings),
        socket_group=socket_group(settings),
        webhook=settings.telco_mcp_approval_webhook,
        page_port=settings.telco_mcp_approval_port,
        grantable_tools=frozenset(op.name for op in CATALOGUE if op.grantable),
        serve=_approval_listeners,
        audit=audit,
        store=state.approvals if state is not None else MemoryApprovalStore(),
        page=state.page if state is not None else MemoryPageState(),
        box=SecretBox.from_setting(settings.telco_mcp_confirm_secret),
    )


def socket_group(settings: Settings) -> int | None:
    """TELCO_MCP_APPROVAL_SOCKET_GROUP as a group id (a name is looked up; `Settings.problems` names an unknown one)."""
    group = settings.telco_mcp_approval_socket_group
    if not group:
        return None
    if group.isdigit():
        return int(group)
    import grp

    return grp.getgrnam(group).gr_gid


def passkey_store(settings: Settings) -> Any:
    """The approvers' passkeys (public keys only): `<state dir>/approvers/passkeys.json`."""
    from telco_mcp.approval.passkeys import FilePasskeyStore

    return FilePasskeyStore(settings.state_dir / "approvers")


def _approval_listeners(service: ApprovalService) -> Listeners:
    """The page and the CLI's socket, started by the first approval."""
    # imported here: the page (its Starlette app and HTML) loads with the first approval, not at startup
    from telco_mcp.approval.listeners import ThreadListeners

    return ThreadListeners(service)


def request_state_security(settings: Settings) -> Any:
    """The SDK's request-state keys, derived from TELCO_MCP_CONFIRM_SECRET (None: the SDK's per-process key).

    With the same secret and the same server name on every replica, a 2026-07-28 multi-round call
    started on one replica is answered on any other.
    """
    from mcp.server.request_state import RequestStateSecurity

    ring = keys.secrets_of(settings.telco_mcp_confirm_secret)
    if not ring:
        return None
    return RequestStateSecurity(keys=[keys.derive(s, keys.REQUEST_STATE) for s in ring])


_APPROVAL_RULE = (
    "or, if it cannot, the first call returns approval_pending with an approval_id: tell the user what you want "
    "to do and why, and once they have approved it outside this conversation (approval page or terminal), call "
    "the tool again with the same arguments plus approval_id. You cannot approve anything yourself."
)
CONSENT_RULES = {
    "auto": "Every write is approved by a human before anything is sent: the client asks the user directly, "
    + _APPROVAL_RULE,
    "approval": "Every write is approved by a human outside this conversation: the first call returns "
    "approval_pending with an approval_id; once approved, call the tool again with the same arguments plus "
    "approval_id. You cannot approve anything yourself.",
    "elicit": "Every write is confirmed by the user when the client asks them; without that, writes are refused.",
    "token": "Every write is confirmed by a human before anything is sent: the user is asked directly, or the first "
    "call returns a preview with confirm_token; show the user the summary and call again with the same "
    "arguments plus confirm_token only if they agree.",
    "off": "Writes are sent without asking anyone (TELCO_MCP_CONFIRM=off): say exactly what you will do first.",
}


def instructions(runtime: Runtime) -> str:
    names = {op.name for op in runtime.exposed}
    providers = sorted({op.provider for op in runtime.exposed})
    lines = [
        "telco-mcp operates telephony: "
        + (", ".join(providers) if providers else "no provider is configured, so no tools are available")
        + ".",
    ]
    if runtime.sandbox is not None:
        lines.append("SANDBOX MODE: both providers are simulated; nothing reaches a real phone system or account.")
    lines += [
        "Look before you act: list or get a resource first and use the ids it returns (e.g. call_id from "
        "sipgate_list_calls, gateway id from signalwire_list_sip_gateways).",
        "Lists are paged: pass next_cursor back as cursor; stop when it is absent.",
    ]
    if any(op.is_write for op in runtime.exposed):
        lines.append(CONSENT_RULES[runtime.settings.consent_mode])
        lines.append(
            "dry_run=true previews the exact request. "
            "If a result says 'outcome unknown', check the state before repeating anything."
        )
    else:
        lines.append("This server is read-only: write tools are not enabled.")
    if "sipgate_send_sms" in names:
        lines.append("Phone numbers may be typed naturally; they are normalised to E.164.")
    return "\n".join(lines)


def push_signatures(settings: Settings) -> Callable[[], SignatureCheck] | None:
    """How pushes are checked (`TELCO_MCP_WEBHOOK_SIGNATURE`): against the key in
    `TELCO_MCP_WEBHOOK_PUBLIC_KEY` (read now: a bad file stops startup), else the embedded sandbox's in
    sandbox mode, else sipgate's own. The check itself, and its key, are made at the first push."""
    if settings.telco_mcp_webhook_signature == "off":
        logger.warning("TELCO_MCP_WEBHOOK_SIGNATURE=off: sipgate pushes are recorded without checking their signature")
        return None
    path = settings.telco_mcp_webhook_public_key
    if path is not None:
        from telco_mcp.events.signature import SignatureCheck, load_public_key

        try:
            key = load_public_key(path.expanduser())
        except ValueError as exc:
            raise ConfigError(f"TELCO_MCP_WEBHOOK_PUBLIC_KEY: {exc}") from None
        return lambda: SignatureCheck(lambda: key, name=f"the {path.name}")
    if settings.use_sandbox:

        def sandbox_check() -> SignatureCheck:
            from telco_mcp.events.signature import SignatureCheck
            from telco_mcp.sandbox.signing import public_key

            return SignatureCheck(public_key, name="the sandbox's")

        return sandbox_check

    def sipgate_check() -> SignatureCheck:
        from telco_mcp.events.signature import SignatureCheck, sipgate_public_key

        return SignatureCheck(sipgate_public_key, name="sipgate's")

    return sipgate_check


def webhook_receiver(settings: Settings, events: EventStore, audit: AuditLog | None = None) -> WebhookReceiver:
    """The sipgate webhook receiver of this server (`telco_mcp.events.receiver`)."""
    secret = webhook_secret(settings)
    path = WEBHOOK_PREFIX + secret

    def public_url(request: Any) -> str:
        base = settings.telco_mcp_public_url or str(request.base_url)
        return base.rstrip("/") + path

    return WebhookReceiver(
        events,
        secret=secret,
        allowed=networks(split_list(settings.telco_mcp_webhook_allowed_networks)),
        max_bytes=settings.telco_mcp_webhook_max_bytes,
        public_url=public_url,
        signatures=push_signatures(settings),
        audit_refusal=None
        if audit is None
        else lambda source, reason: audit.webhook_refused(source=source, status=403, detail=reason),
    )


def event_relay(events: EventStore, bus: InMemorySubscriptionBus, legacy: LegacySubscriptions) -> EventRelay:
    """Every session of this server hears that the events resource changed, whichever replica got the event."""
    from mcp.server.subscriptions import ResourceUpdated

    async def changed() -> None:
        await bus.publish(ResourceUpdated(uri=resources.CALL_EVENTS_URI))  # 2026-07-28: subscriptions/listen
        await legacy.updated(resources.CALL_EVENTS_URI)  # 2025-era sessions that resources/subscribe'd

    return EventRelay(events, changed)


def build_server(
    settings: Settings | None = None,
    *,
    transports: dict[Provider, httpx2.AsyncBaseTransport] | None = None,
) -> MCPServer:
    """The telco-mcp server for `settings` (default: from the environment).

    `transports` replaces a provider's network transport (tests use `httpx2.MockTransport`).
    """
    settings = (settings or load_settings()).check()
    phone.DEFAULT_REGION = settings.telco_mcp_default_region
    sandbox = None
    client_settings = settings
    if settings.use_sandbox:
        from telco_mcp.sandbox import Sandbox

        # Its request log is for tests and the admin API: a server running for days keeps the newest 500 (each
        # record holds its request's headers, about 1 KB), not the 2,000 a standalone sandbox keeps.
        sandbox = Sandbox(max_logged_requests=EMBEDDED_REQUEST_LOG)
        client_settings = sandbox_settings(settings)
    state = open_state(settings)
    events = state.events  # in this process, or shared by every replica (TELCO_MCP_STATE_URL)
    bus = InMemorySubscriptionBus()  # subscriptions/listen (2026-07-28): resource-updated notifications
    legacy = LegacySubscriptions(frozenset({resources.CALL_EVENTS_URI}))
    audit = AuditLog(
        settings.audit_path,
        mask_phone_numbers=not settings.telco_mcp_audit_unmasked,
        secret=settings.telco_mcp_confirm_secret,
    )
    if state.seal is not None:  # a shared record that fails its MAC is on record (state/integrity.py)
        state.seal.on_refusal = audit.integrity
    receiver = webhook_receiver(settings, events, audit)
    relay = event_relay(events, bus, legacy)
    if sandbox is not None:  # the embedded sandbox posts its webhooks to this server's own receiver
        sandbox.configure_push(f"http://127.0.0.1{receiver.path}", transport=httpx2.ASGITransport(app=receiver.app))
    decisions = scopes.decide(settings)
    exposed = [d.operation for d in decisions if d.exposed]
    available = exposed
    if settings.telco_mcp_dynamic_toolsets:  # every toolset the model may enable later, within scopes/read-only
        everything = scopes.decide(settings.model_copy(update={"telco_mcp_toolsets": "all"}))
        available = [d.operation for d in everything if d.exposed]
    if not exposed:
        reasons = sorted({d.reason for d in decisions})
        logger.warning(
            "NO TOOLS ARE EXPOSED: a client connecting now gets an empty tool list. Every tool is hidden because: "
            "%s. Run `telco-mcp tools` to see each tool's reason.",
            "; ".join(reasons),
        )
    runtime = Runtime(
        settings=settings,
        exposed=exposed,
        tokens=ConfirmationTokens(
            keys.secrets_of(settings.telco_mcp_confirm_secret),
            ttl=settings.telco_mcp_confirm_ttl,
            nonces=state.nonces,
        ),
        guardrails=Guardrails(settings, counter=state.caps, signalwire_space=client_settings.signalwire_space),
        audit=audit,
        approvals=approval_service(settings, audit, state),
        sandbox=sandbox,
        providers=tuple(p for p in ("signalwire", "sipgate") if any(op.provider == p for op in available)),
        available=list(available),
        events=events,
        toolsets=state.toolsets,
        state_ping=state.ping,
        exports=state.exports,
        webhooks=receiver,
        webhook_url=(settings.telco_mcp_public_url or "").rstrip("/") + receiver.path
        if settings.telco_mcp_public_url
        else (sandbox.push_url if sandbox is not None else None),
    )

    lookup = None
    if "sipgate" in runtime.providers and settings.telco_mcp_sipgate_ownership is None:
        lookup = _OwnershipLookup(runtime)
        runtime.tools_listed = lookup.listed

    def client_for(provider: Provider) -> ProviderClient:
        transport = (transports or {}).get(provider)
        if sandbox is not None and transport is None:
            transport = _SandboxTransport(sandbox)
        if provider == "signalwire":
            from telco_mcp.providers.signalwire.client import make_client
        else:
            from telco_mcp.providers.sipgate.client import make_client
        return make_client(client_settings, transport=transport, sandbox=sandbox is not None)

    async def open_clients(stack: AsyncExitStack) -> AppState:
        clients: dict[Provider, ProviderClient] = {}
        for provider in runtime.providers:
            client = client_for(provider)
            await stack.enter_async_context(client.http)
            clients[provider] = client
        logger.debug("shared clients opened: %s", ", ".join(clients) or "none")
        runtime.open_clients = clients
        stack.callback(lambda: setattr(runtime, "open_clients", {}))
        if "sipgate" in clients:
            _log_sipgate_ownership(settings)
            if lookup is not None:
                await lookup.start(clients["sipgate"])
                stack.push_async_callback(lookup.stop)
        return AppState(clients=clients)

    async def close_approvals(stack: AsyncExitStack) -> AppState:
        state = await open_clients(stack)
        if "sipgate" in runtime.providers:  # the call events resource changes: its subscribers are told
            await relay.start()
            stack.push_async_callback(relay.stop)
        # The page and the CLI socket go with the last connection unless an approval is still pending
        # (SSE enters the lifespan per connection: a person may approve between two connections).
        stack.callback(runtime.approvals.stop_when_idle)
        return state

    shared = _SharedState(close_approvals)

    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[AppState]:
        state = await shared.acquire()
        try:
            yield state
        finally:
            await shared.release()

    oauth: dict[str, Any] = {}
    if settings.oauth_enabled:  # the HTTP transports then take OAuth access tokens (see oauth.py)
        from telco_mcp.oauth import JwtVerifier, auth_settings

        runtime.token_verifier = JwtVerifier(settings)
        oauth = {"token_verifier": runtime.token_verifier, "auth": auth_settings(settings)}
    server = TelcoServer(
        SERVER_NAME,
        version=__version__,
        title="telco-mcp",
        instructions=instructions(runtime),
        website_url="https://github.com/telco-mcp/telco-mcp",
        lifespan=lifespan,
        request_state_security=request_state_security(settings),
        subscriptions=bus,
        tools=[make_tool(op, runtime) for op in available]
        + (discovery_tools(runtime) if settings.telco_mcp_dynamic_toolsets else []),
        **oauth,
    )
    if settings.telco_mcp_dynamic_toolsets:
        _announce_tool_list_changes(server)
    for prompt in PROMPTS:
        prompt.register(server, runtime)
    resources.register(server, runtime)
    completions.register(server, runtime)
    if "sipgate" in runtime.providers:
        legacy.install(server)
    server.telco_runtime = runtime  # type: ignore[attr-defined]
    return server


def _log_sipgate_ownership(settings: Settings) -> None:
    """Say at startup which sipgate ownership applies (providers/sipgate/ownership.py): a configured mode at once;
    unset, that it is being looked up (`_OwnershipLookup` logs what it found)."""
    if settings.telco_mcp_sipgate_ownership:
        logger.info("sipgate ownership: %s (TELCO_MCP_SIPGATE_OWNERSHIP)", settings.telco_mcp_sipgate_ownership)
    else:
        logger.info(
            "sipgate ownership: account if the token's user is an admin, else user (TELCO_MCP_SIPGATE_OWNERSHIP "
            "unset); looking it up once the server is up"
        )
