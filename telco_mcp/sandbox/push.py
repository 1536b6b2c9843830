"""sipgate.io push webhooks, as the sandbox sends them.

The account's push URLs live in ``GET/PUT /v2/settings/sipgateio``. When a simulated call starts
(``POST /v2/sessions/calls``, or an inbound call rung with ``POST /_sandbox/sipgate/ring``), the
sandbox POSTs a ``newCall`` event in sipgate's form-encoded format to the outgoing or incoming URL.
Like sipgate, it sends the ``answer`` and ``hangup`` follow-ups only to the URLs the receiver's XML
answer asked for (``<Response onAnswer="..." onHangup="..."/>``), and ``dtmf`` events only to the
``onData`` URL of a ``<Gather>`` in that answer (the caller's keys: ``/_sandbox/sipgate/calls/{id}/dtmf``).
``<Reject>`` and ``<Hangup/>`` answers end the call. A blind transfer gives the call a new
``callId``: ``newCall`` and ``answer`` for it, ``hangup`` for the old one; every event names the
call's first ``callId`` as ``origCallId``.

Sources: sipgate.io's push API reference (events, fields, the XML answer, hangup causes), its FAQ
(transfers and forwarding), and the official sipgateio-node library (``origCallId`` on every event,
the XML answer to a ``dtmf`` post).

Each push is signed as sipgate signs it (``X-Sipgate-Signature`` over the raw body), with the
sandbox's own key pair (`telco_mcp.sandbox.signing`).

The sandbox posts to loopback addresses only (127.0.0.0/8, ::1, localhost): a push URL anywhere
else is refused when it is set (400) and never posted to. The embedded sandbox is configured to
post to the server's own receiver (`SandboxCore.configure_push`).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx2

from telco_mcp.sandbox.state import Gather

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

logger = logging.getLogger(__name__)

MAX_DELIVERIES = 500
ANONYMOUS = "anonymous"  # what sipgate pushes for a withheld number
PUSH_TIMEOUT = 5.0


def is_loopback_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def digits(number: str) -> str:
    """sipgate pushes numbers as digits without ``+``: ``+49 30 1234`` -> ``49301234``."""
    return "".join(ch for ch in number if ch.isdigit())


@dataclass
class Instructions:
    """What the receiver's XML answer to a push asked for (sipgate.io's ``<Response>``).

    ``on_answer`` and ``on_hangup`` are the follow-up URLs (attributes of ``<Response>``); the first
    action inside decides the rest: ``<Gather onData="URL" maxDigits="1" timeout="2000">`` collects the
    caller's keys, ``<Reject reason="rejected|busy"/>`` and ``<Hangup/>`` end the call. ``<Play>`` and
    ``<Dial>`` are accepted and change nothing here (the sandbox has no audio and no redirection).
    """

    on_answer: str | None = None
    on_hangup: str | None = None
    gather: Gather | None = None
    reject: str | None = None  # rejected or busy
    hangup: bool = False


def _positive(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    return int(value) if value.strip().isdigit() and int(value) >= 1 else None


def _gather(element: ET.Element) -> Gather | None:
    """The documented attributes: ``onData`` (required, absolute URL), ``maxDigits`` and ``timeout``
    (integers >= 1, defaults 1 and 2000 ms), ``type`` (only dtmf). Anything else: no Gather."""
    on_data = element.get("onData") or ""
    max_digits, timeout = _positive(element.get("maxDigits"), 1), _positive(element.get("timeout"), 2000)
    if urlsplit(on_data).scheme not in ("http", "https") or max_digits is None or timeout is None:
        logger.info("sandbox: a <Gather> without a valid onData, maxDigits or timeout is ignored")
        return None
    if element.get("type", "dtmf") != "dtmf":
        logger.info("sandbox: a <Gather> of a type other than dtmf is ignored")
        return None
    return Gather(on_data=on_data, max_digits=max_digits, timeout_ms=timeout)


def instructions_from(response: httpx2.Response | None) -> Instructions:
    import xml.etree.ElementTree as ET  # here: only a push's answer is XML, so the parser stays off the startup path

    if response is None or response.status_code != 200 or not response.content.strip():
        return Instructions()
    try:
        root = ET.fromstring(response.content[:65536])
    except ET.ParseError:
        return Instructions()
    if root.tag != "Response":
        return Instructions()
    found = Instructions(on_answer=root.get("onAnswer") or None, on_hangup=root.get("onHangup") or None)
    action = next(iter(root), None)
    if action is None:
        return found
    if action.tag == "Gather":
        found.gather = _gather(action)
    elif action.tag == "Reject":
        found.reject = "busy" if action.get("reason") == "busy" else "rejected"
    elif action.tag == "Hangup":
        found.hangup = True
    return found


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


@dataclass
class PushSender:
    """Posts form-encoded events; keeps the outcome of each (never the URL: it holds a secret)."""

    transport: httpx2.AsyncBaseTransport | None = None
    deliveries: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    async def post(self, url: str | None, fields: dict[str, Any]) -> httpx2.Response | None:
        from telco_mcp.sandbox.signing import sign  # here: `cryptography`'s RSA stays off the startup path

        if not url:
            return None
        record: dict[str, Any] = {"event": fields.get("event"), "callId": fields.get("callId")}
        if not is_loopback_url(url):
            logger.warning("sandbox push refused: %s is not a loopback address", urlsplit(url).hostname)
            self._keep(record | {"status": None, "error": "not a loopback URL"})
            return None
        try:
            # One TLS context for every post: building one per client costs ~20 ms, on a live call's path.
            async with httpx2.AsyncClient(
                transport=self.transport, timeout=PUSH_TIMEOUT, trust_env=False, verify=_tls()
            ) as client:
                body = urlencode(fields, doseq=True).encode()  # signed as sent: the raw bytes
                headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Sipgate-Signature": sign(body)}
                response = await client.post(url, content=body, headers=headers)
        except httpx2.HTTPError as exc:
            logger.warning("sandbox push of %s failed: %s", fields.get("event"), type(exc).__name__)
            self._keep(record | {"status": None, "error": type(exc).__name__})
            return None
        self._keep(record | {"status": response.status_code})
        return response

    def _keep(self, record: dict[str, Any]) -> None:
        self.deliveries.append(record)
        del self.deliveries[:-MAX_DELIVERIES]
