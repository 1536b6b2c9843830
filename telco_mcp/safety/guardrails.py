"""Telephony guardrails: checked before a human is asked, and again when the write is sent.

Rules (all but the first are off by default): refuse premium-rate and other high-cost destinations
(`telco_mcp.phone.costly_kind` says which); allow-list / deny-list of E.164 prefixes; a maximum SMS
length in segments; per-hour caps on SMS sent and on calls started or transferred. A refusal names
the rule that fired. The caps' windows live in a `CapCounter` (in memory, or Redis shared by every
replica): the count right before a write leaves is one atomic check-and-count.

Routing URLs (where a provider sends a number's calls and messages, or sipgate its call events)
must be https and on a host of `TELCO_MCP_ALLOWED_ROUTING_HOSTS`, or for SignalWire on the configured
space's own host (`{space}.signalwire.com`, where its script bins live): repointing a number at another
host is a hijack path, and every customer's space is a subdomain of signalwire.com. Only the sandbox
accepts plain http, and only to a loopback host. A SIP gateway's URI must name a host of
`TELCO_MCP_ALLOWED_GATEWAY_HOSTS` (none by default: no gateway may be created or re-pointed). The
rules per field, with examples, are in docs/guardrails.md.

The number rules apply to every number a provider will dial or text, whatever the field: the
operation declares them as `WriteSubject.destinations` (a click-to-dial's `caller` number rings
first, so it is one too).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from telco_mcp.errors import SafetyRefusal, StateUnavailable
from telco_mcp.operation import WriteSubject
from telco_mcp.phone import costly_kind, mask
from telco_mcp.routing import (
    canonical_host,
    gateway_host_allowed,
    gateway_numbers,
    parse_host_entry,
    parse_sip_uri,
    url_host,
)
from telco_mcp.settings import Settings, split_list
from telco_mcp.wire import Provider

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")
_HOUR = 3600.0
# Which hourly budget a write kind draws on: a transfer makes the provider dial out like a new call.
_BUDGET = {"sms": "sms", "call": "call", "transfer": "call", "fax": "fax"}
_CAP_RULES = {"sms": "sms_per_hour", "call": "calls_per_hour", "fax": "fax_per_hour"}


def routing_hosts(settings: Settings, signalwire_space: str | None) -> dict[Provider, list[str]]:
    """The hosts each provider may be told to send calls, messages or events to.

    SignalWire: the space's own host (its cXML and RELAY script bins live there, e.g.
    `https://example.signalwire.com/laml-bins/…` in SignalWire's OpenAPI examples; no routing field
    needs another SignalWire host), then the operator's list. sipgate: the operator's list only.
    """
    listed = split_list(settings.telco_mcp_allowed_routing_hosts)
    space = (signalwire_space or "").strip().lower().removesuffix(".signalwire.com")
    own = [f"{space}.signalwire.com"] if space else []
    return {"signalwire": [*own, *listed], "sipgate": listed}


def gateway_hosts(settings: Settings) -> list[tuple[str, int | None]]:
    """TELCO_MCP_ALLOWED_GATEWAY_HOSTS as (host, port or None); entries that do not parse allow nothing
    (`Settings.problems` names them at startup)."""
    entries = []
    for entry in split_list(settings.telco_mcp_allowed_gateway_hosts):
        try:
            entries.append(parse_host_entry(entry))
        except ValueError:
            continue
    return entries


def _host_allowed(host: str, allowed: list[str]) -> bool:
    host = canonical_host(host)
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*.") and host.endswith(entry[1:]) or host == entry:
            return True
    return False


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def sms_segments(text: str) -> int:
    """Segments an SMS needs: GSM-7 (160, or 153 per part) unless it needs UCS-2 (70, or 67 per part)."""
    if all(c in _GSM7 or c in _GSM7_EXT for c in text):
        units = sum(2 if c in _GSM7_EXT else 1 for c in text)
        single, part = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, part = 70, 67
    return 1 if units <= single else -(-units // part)


class CapCounter(Protocol):
    """Sliding one-hour windows, one per budget (`sms`, `call`): in this process (`MemoryCaps`) or
    shared by replicas (`telco_mcp.state.redis`)."""

    def count(self, kind: str) -> int:
        """Writes counted in the last hour."""
        ...

    def take(self, kind: str, cap: int) -> bool:
        """Count one write if fewer than `cap` were counted in the last hour; False (nothing counted) if not."""
        ...


@dataclass
class MemoryCaps:
    clock: Callable[[], float] = time.monotonic
    _sent: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _window(self, kind: str) -> deque[float]:
        sent = self._sent.setdefault(kind, deque())
        horizon = self.clock() - _HOUR
        while sent and sent[0] <= horizon:
            sent.popleft()
        return sent

    def count(self, kind: str) -> int:
        with self._lock:
            return len(self._window(kind))

    def take(self, kind: str, cap: int) -> bool:
        with self._lock:
            window = self._window(kind)
            if len(window) >= cap:
                return False
            window.append(self.clock())
            return True


class Guardrails:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        counter: CapCounter | None = None,
        signalwire_space: str | None = None,
    ) -> None:
        """`signalwire_space`: the space the SignalWire client talks to (the sandbox's own in sandbox mode;
        default SIGNALWIRE_SPACE)."""
        self.block_premium = settings.telco_mcp_block_premium
        self.allowed = split_list(settings.telco_mcp_allowed_prefixes)
        self.denied = split_list(settings.telco_mcp_denied_prefixes)
        self.max_segments = settings.telco_mcp_max_sms_segments
        self.routing_hosts = routing_hosts(settings, signalwire_space or settings.signalwire_space)
        self.gateway_hosts = gateway_hosts(settings)
        self.gateway_hosts_text = settings.telco_mcp_allowed_gateway_hosts
        self.sandbox = settings.use_sandbox
        self.caps = {
            "sms": settings.telco_mcp_sms_per_hour,
            "call": settings.telco_mcp_calls_per_hour,
            "fax": settings.telco_mcp_fax_per_hour,
        }
        self._counter: CapCounter = counter if counter is not None else MemoryCaps(clock=clock)

    def check(self, subject: WriteSubject, provider: Provider) -> None:
        """Raise `SafetyRefusal` if any rule forbids this write to `provider`. Changes nothing."""
        for name, uri in subject.gateways:  # first: a refusal of the number in its user part names the field
            self._check_gateway(name, uri)
        for number in subject.destinations:
            self._check_destination(number)
        for name, url in subject.urls:
            self._check_routing_url(name, url, provider)
        if subject.kind == "sms" and subject.text is not None and self.max_segments is not None:
            segments = sms_segments(subject.text)
            if segments > self.max_segments:
                raise SafetyRefusal(
                    f"Refused by rule max_sms_segments: the message needs {segments} SMS segments, the limit is "
                    f"{self.max_segments}. Shorten it.",
                    rule="max_sms_segments",
                )
        self._check_cap(_BUDGET.get(subject.kind or ""))

    def _check_destination(self, number: str) -> None:
        if self.block_premium and (kind := costly_kind(number)):
            raise SafetyRefusal(
                f"Refused by rule block_premium: {mask(number)} is {kind} (TELCO_MCP_BLOCK_PREMIUM is on).",
                rule="block_premium",
            )
        denied = next((p for p in self.denied if number.startswith(p)), None)
        if denied:
            raise SafetyRefusal(
                f"Refused by rule denied_prefixes: {mask(number)} starts with the denied prefix {denied}.",
                rule="denied_prefixes",
            )
        if self.allowed and not any(number.startswith(p) for p in self.allowed):
            raise SafetyRefusal(
                f"Refused by rule allowed_prefixes: {mask(number)} is not under any allowed prefix "
                f"({', '.join(self.allowed)}).",
                rule="allowed_prefixes",
            )

    def _check_routing_url(self, name: str, url: str, provider: Provider) -> None:
        # Refusals name the field and the rule, never the URL: it may hold a password.
        parts = urlsplit(url)
        if "@" in parts.netloc:
            raise SafetyRefusal(
                f"Refused by rule allowed_routing_hosts: {name} carries credentials (user:password@); "
                "a secret must not pass through a tool argument.",
                rule="allowed_routing_hosts",
            )
        try:
            host = url_host(url)
        except ValueError:
            raise SafetyRefusal(
                f"Refused by rule allowed_routing_hosts: {name} has no plain host name or IP address.",
                rule="allowed_routing_hosts",
            ) from None
        scheme = parts.scheme.lower()
        if scheme != "https" and not (self.sandbox and scheme == "http" and _loopback(host)):
            raise SafetyRefusal(
                f"Refused by rule allowed_routing_hosts: {name} must be an https:// URL (plain http only to a "
                "loopback host in the sandbox).",
                rule="allowed_routing_hosts",
            )
        allowed = self.routing_hosts[provider]
        if not _host_allowed(host, allowed):
            listed = ", ".join(allowed) if allowed else "none"
            raise SafetyRefusal(
                f"Refused by rule allowed_routing_hosts: {name} points at {host!r}, which is not an allowed routing "
                f"host for {provider} ({listed}). Add it to TELCO_MCP_ALLOWED_ROUTING_HOSTS to allow it.",
                rule="allowed_routing_hosts",
            )

    def _check_gateway(self, name: str, value: str) -> None:
        try:
            uri = parse_sip_uri(value)
        except ValueError:
            raise SafetyRefusal(f"Refused by rule gateway_uri: {name} is not a SIP URI.", rule="gateway_uri") from None
        where = uri.host + (f":{uri.port}" if uri.port else "")
        if not self.gateway_hosts:
            raise SafetyRefusal(
                f"Refused by rule allowed_gateway_hosts: {name} points at {where!r}, and "
                "TELCO_MCP_ALLOWED_GATEWAY_HOSTS is empty, so no SIP gateway may be created or re-pointed. "
                "List your SIP trunks' hosts there (host or host:port) to allow them.",
                rule="allowed_gateway_hosts",
            )
        if not gateway_host_allowed(uri, self.gateway_hosts):
            raise SafetyRefusal(
                f"Refused by rule allowed_gateway_hosts: {name} points at {where!r}, which is not an allowed gateway "
                f"host ({self.gateway_hosts_text}). Add it to TELCO_MCP_ALLOWED_GATEWAY_HOSTS to allow it (a "
                "host:port entry allows only a URI that names that port).",
                rule="allowed_gateway_hosts",
            )
        try:
            numbers = gateway_numbers(uri)
        except ValueError as exc:  # the input model refuses these first: kept for a subject built otherwise
            raise SafetyRefusal(f"Refused by rule gateway_uri: {name} {exc}.", rule="gateway_uri") from None
        for number in numbers:
            try:
                self._check_destination(number)
            except SafetyRefusal as exc:
                raise SafetyRefusal(
                    f"{exc.message} It is the user part of {name}: the gateway's far side would dial it.", rule=exc.rule
                ) from None

    @staticmethod
    def _refusal(kind: str, cap: int) -> SafetyRefusal:
        rule = _CAP_RULES[kind]
        message = f"Refused by rule {rule}: the hourly budget of {cap} is used up. Try again later."
        return SafetyRefusal(message, rule=rule)

    def _check_cap(self, kind: str | None) -> None:
        cap = self.caps.get(kind) if kind in self.caps else None
        if kind is None or cap is None:
            return
        if self._counter.count(kind) >= cap:
            raise self._refusal(kind, cap)

    def consume(self, subject: WriteSubject, provider: Provider) -> None:
        """Re-check and count a write that is about to be sent (raises if the budget ran out meanwhile).

        The count is one atomic check-and-count, so concurrent writes (on any replica) never overshoot.
        """
        self.check(subject, provider)
        kind = _BUDGET.get(subject.kind or "")
        cap = self.caps.get(kind) if kind is not None else None
        if kind is not None and cap is not None and not self._counter.take(kind, cap):
            raise self._refusal(kind, cap)

    def budget(self) -> dict[str, int]:
        """Remaining writes this hour for each capped kind (empty when the shared state cannot say)."""
        try:
            return {
                f"{kind}_remaining_this_hour": max(0, cap - self._counter.count(kind))
                for kind, cap in self.caps.items()
                if cap is not None
            }
        except StateUnavailable:  # a result (maybe of a write already sent) must not fail for want of a figure
            return {}
