"""The sipgate webhook receiver: `POST /webhooks/sipgate/<secret>`.

In order, a request must
1. come from an allowed network, when `TELCO_MCP_WEBHOOK_ALLOWED_NETWORKS` lists any (403). The
   source is the client address as the listener's `access.ForwardedHeaders` decided it: the peer, or,
   when the peer is one of `TELCO_MCP_TRUSTED_PROXIES`, its `X-Forwarded-For` source;
2. carry the secret in its path (compared in constant time; anything else is 404, as for any path
   that does not exist);
3. be a POST (405) with an `application/x-www-form-urlencoded` body (415) of at most
   `TELCO_MCP_WEBHOOK_MAX_BYTES` (413: counted as it arrives, so a chunked body without a
   Content-Length is cut off at the limit, never buffered whole);
4. carry sipgate's signature of those raw bytes in `X-Sipgate-Signature` (403, with a log and an
   audit line that hold no body), unless `TELCO_MCP_WEBHOOK_SIGNATURE=off`;
5. hold a sipgate event (400 naming the field).
Only then is the event recorded, once: a second delivery of the same event is answered the same and
not recorded again (`EventStore.publish`). A refused request changes nothing.

Every push is answered as sipgate's own library answers it: `application/xml`, a `<Response/>`.
`newCall` is on the live call's critical path: it is answered at once, with the XML that asks
sipgate for the `answer` and `hangup` follow-ups at this same URL, and the event is recorded after
the answer has been sent.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl
from xml.sax.saxutils import quoteattr

import anyio
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from telco_mcp.access import Network
from telco_mcp.errors import StateUnavailable
from telco_mcp.events.model import CallEvent, event_from_form
from telco_mcp.events.store import EventStore
from telco_mcp.ops import metrics

if TYPE_CHECKING:
    from telco_mcp.events.signature import SignatureCheck

logger = logging.getLogger(__name__)

WEBHOOK_PREFIX = "/webhooks/sipgate/"
FORM = "application/x-www-form-urlencoded"
PROBE_HEADER = "X-Telco-Mcp-Webhook"

_SECRET_IN_PATH = re.compile(r"(/webhooks/sipgate/)[^\s/?\"']+")


class RedactWebhookSecrets(logging.Filter):
    """Log records keep `/webhooks/sipgate/***`, never the secret (httpx2 and uvicorn log request URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_redact(a) for a in record.args) if isinstance(record.args, tuple) else record.args
        if isinstance(record.msg, str):
            record.msg = _SECRET_IN_PATH.sub(r"\1***", record.msg)
        return True


def redact_webhook_secrets(text: str) -> str:
    """`text` with every `/webhooks/sipgate/<secret>` path written `/webhooks/sipgate/***`."""
    return _SECRET_IN_PATH.sub(r"\1***", text) if "/webhooks/sipgate/" in text else text


def _redact(value: object) -> object:
    if isinstance(value, int | float) or "/webhooks/sipgate/" not in str(value):
        return value
    return _SECRET_IN_PATH.sub(r"\1***", str(value))


def redact_secrets_in_logs() -> None:
    """Install the filter on the loggers that print request URLs (idempotent)."""
    for name in ("httpx2", "uvicorn.access"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactWebhookSecrets) for f in target.filters):
            target.addFilter(RedactWebhookSecrets())


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def _within(address: str, nets: list[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in net for net in nets)


def _refused(reason: str, response: Response) -> Response:
    """`response`, counted in telco_mcp_webhook_refused_total by `reason` (one of a fixed set)."""
    metrics.webhook_refused(reason)
    return response


def _plain(status: int, text: str) -> Response:
    return PlainTextResponse(text + "\n", status_code=status)


def xml_answer(on_answer_and_hangup: str | None = None) -> str:
    """sipgate's XML answer: `<Response/>`, asking for the answer and hangup follow-ups at the given URL."""
    if on_answer_and_hangup is None:
        return '<?xml version="1.0" encoding="UTF-8"?>\n<Response />\n'
    url = quoteattr(on_answer_and_hangup)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Response onAnswer={url} onHangup={url} />\n'


class WebhookReceiver:
    """The receiver for one event store. `url_for(request)` is the public URL of this receiver,
    used in the `newCall` answer (the follow-ups come back to it)."""

    def __init__(
        self,
        store: EventStore,
        *,
        secret: str,
        allowed: list[Network],
        max_bytes: int,
        public_url: Callable[[Request], str],
        signatures: Callable[[], SignatureCheck] | None = None,
        audit_refusal: Callable[[str, str], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        redact_secrets_in_logs()
        self.store = store
        self._secret = secret.encode()
        self.allowed = allowed
        self.max_bytes = max_bytes
        self.public_url = public_url
        self.signatures = signatures  # None: TELCO_MCP_WEBHOOK_SIGNATURE=off
        self._check: SignatureCheck | None = None  # made at the first post: it loads the key
        self.audit_refusal = audit_refusal  # (source, reason): the audit line of a refused signature
        self.now = now
        self.app = Starlette(routes=[Route(WEBHOOK_PREFIX + "{secret}", self.receive, methods=["GET", "POST"])])

    @property
    def path(self) -> str:
        return WEBHOOK_PREFIX + self._secret.decode()

    def _source(self, request: Request) -> str:
        return request.client.host if request.client else ""  # X-Forwarded-For already applied (access.py)

    async def record(self, event: CallEvent) -> None:
        try:
            recorded = await self.store.publish(event)  # its subscribers (waiting tools, `EventRelay`) hear of it
        except StateUnavailable as exc:  # sipgate has its answer already: the call goes on, the event is lost
            logger.warning("call event %s of call %s not recorded: %s", event.event, event.call_id, exc)
            return
        if recorded is None:
            logger.info("call event %s of call %s delivered again: recorded once", event.event, event.call_id)

    def _signature_refusal(self, body: bytes, signature: str | None) -> str | None:
        if self.signatures is None:
            return None
        if self._check is None:
            self._check = self.signatures()
        return self._check.refusal(body, signature)

    async def _refused_signature(self, source: str, reason: str) -> Response:
        """403, a log line and an audit line; none of them holds the body."""
        logger.warning("webhook refused (403): %s (from %s)", reason, source)
        if self.audit_refusal is not None:
            try:
                await anyio.to_thread.run_sync(self.audit_refusal, source, reason)
            except OSError as exc:  # the push is refused either way
                logger.error("the refused webhook could not be audited: %s", exc)
        return _plain(403, "signature not valid")

    async def receive(self, request: Request) -> Response:
        source = self._source(request)
        if self.allowed and not _within(source, self.allowed):
            logger.warning("webhook refused: source %s is not in TELCO_MCP_WEBHOOK_ALLOWED_NETWORKS", source)
            return _refused("network", _plain(403, "source not allowed"))
        if not hmac.compare_digest(request.path_params["secret"].encode(), self._secret):
            logger.warning("webhook refused: wrong secret in the path (from %s)", source)
            return _refused("path", _plain(404, "Not Found"))
        if request.method != "POST":  # `telco-mcp doctor` probes the public URL with a GET
            return Response(status_code=405, headers={"Allow": "POST", PROBE_HEADER: "ready"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM:
            return _refused("content_type", _plain(415, f"expected {FORM}"))
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return _refused("size", _plain(413, f"body larger than {self.max_bytes} bytes"))
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > self.max_bytes:
                    return _refused("size", _plain(413, f"body larger than {self.max_bytes} bytes"))
        except ClientDisconnect:
            return _refused("disconnected", Response(status_code=400))
        refusal = self._signature_refusal(bytes(body), request.headers.get("x-sipgate-signature"))
        if refusal is not None:
            return _refused("signature", await self._refused_signature(source, refusal))
        try:
            text = bytes(body).decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=128)
            event = event_from_form(pairs, self.now())
        except (UnicodeDecodeError, ValueError) as exc:
            reason = "body is not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
            logger.warning("webhook refused (400): %s", reason)
            return _refused("not_an_event", _plain(400, f"not a sipgate event: {reason}"))
        metrics.webhook_event(event.event)
        record = BackgroundTask(self.record, event)  # after the answer: the call is waiting on it
        xml = xml_answer(self.public_url(request) if event.event == "newCall" else None)
        return Response(xml, media_type="application/xml", background=record)
