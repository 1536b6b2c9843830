"""Where a provider sends a call, a message or an event: routing URLs and SIP gateway URIs, read strictly.

Every tool field that routes (a number's call and message handler URLs, the sipgate push URLs, a SIP
gateway's URI) is read here at input validation, and its host checked by the guardrails
(`telco_mcp.safety.guardrails`) against the operator's allow-lists. What cannot be read is refused,
naming the field; a refusal never repeats the value, which may hold a password.

- `routing_url`: an absolute http(s) URL with a plain host, without `user:password@`.
- `parse_sip_uri`: RFC 3261 §19.1 `sip:`/`sips:` URIs (scheme optional, any case), user and
  password, host name, IPv4 or bracketed IPv6 literal, port, `;parameters` and `?headers`. No
  maintained parser small enough exists on PyPI, so this one is written to the grammar and tested on
  odd forms (tests/test_routing.py).
- `gateway_numbers`: the numbers a SIP gateway's user part may make the far side dial, so the number
  rules (premium rate, prefixes) check them like any dialled number.
- `parse_host_entry` / `gateway_host_allowed`: `host` or `host:port` entries of
  `TELCO_MCP_ALLOWED_GATEWAY_HOSTS`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

# RFC 3261 §25.1: host names are LDH labels, the last one starting with a letter; a final dot is allowed.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.?")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_PORT = re.compile(r"[0-9]{1,5}")
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_ESCAPED = r"%[0-9A-Fa-f]{2}"
_USER = re.compile(rf"(?:[{_UNRESERVED}&=+$,;?/]|{_ESCAPED})+")
_PASSWORD = re.compile(rf"(?:[{_UNRESERVED}&=+$,]|{_ESCAPED})*")
_PARAM = re.compile(rf"(?:[{_UNRESERVED}\[\]/:&+$]|{_ESCAPED})+")
_HEADER = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESCAPED})*")
SIP_DEFAULT_PORTS = {"sip": 5060, "sips": 5061}
# Characters people put between digits; a SIP user part may carry them as visual separators (RFC 3966).
_SEPARATORS = str.maketrans("", "", " -.()")
_DIAL_STRING = re.compile(r"[+*#0-9]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def canonical_host(host: str) -> str:
    """`host` as compared: lower case, without a final dot, an IPv6 literal in its compressed form, bracketed."""
    host = host.lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
    return host


def _host(text: str) -> str:
    """A URI's host (name, IPv4 or [IPv6]) in canonical form; ValueError if it is none of these."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError("the IPv6 address is not closed with ]")
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise ValueError("the host in [brackets] is not an IPv6 address") from None
        return canonical_host(text)
    if _IPV4.fullmatch(text):
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError("the host is not an IPv4 address") from None
        return text
    if not _HOSTNAME.fullmatch(text) or len(text.rstrip(".")) > 253:
        raise ValueError("the host is not a host name (letters, digits, - and dots), IPv4 or [IPv6] address")
    return canonical_host(text)


def _port(text: str) -> int:
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise ValueError("the port is not a number from 1 to 65535")
    return int(text)


def _hostport(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        host, rest = (text, "") if end < 0 else (text[: end + 1], text[end + 1 :])
        if rest and not rest.startswith(":"):
            raise ValueError("only :port may follow the [IPv6] address")
        return _host(host), _port(rest[1:]) if rest else None
    host, colon, port = text.partition(":")
    return _host(host), _port(port) if colon else None


# ------------------------------------------------------------------ http(s) routing URLs
def routing_url(value: str) -> str:
    """An absolute http(s) URL with a plain host and no `user:password@` (a secret must not be a tool argument).

    The value is never repeated in the error: it may hold a password.
    """
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must be an absolute https:// URL without spaces or control characters")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("must be an absolute https:// URL with a host") from None
    if parts.scheme.lower() not in ("https", "http") or not parts.netloc:
        raise ValueError("must be an absolute https:// URL with a host")
    if "@" in parts.netloc:
        raise ValueError(
            "credentials in a URL (user:password@host) are refused (rule no_userinfo): a secret must not pass "
            "through a tool argument"
        )
    try:
        _hostport(parts.netloc)
    except ValueError as exc:
        raise ValueError(f"must be an https:// URL with a plain host: {exc}") from None
    return value


def url_host(url: str) -> str:
    """The canonical host of a URL that passed `routing_url`."""
    netloc = urlsplit(url).netloc
    return _hostport(netloc)[0]


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s\"]*@")


def redact_userinfo(text: str | None) -> str | None:
    """`text` with the `user:password@` of every URL in it written `***@`: for URLs a provider holds (shown in
    questions and results) and for every audit line. A JSON string's quote ends a URL."""
    return _USERINFO.sub(r"\1***@", text) if text and "@" in text else text


# ------------------------------------------------------------------ SIP URIs
@dataclass(frozen=True)
class SipUri:
    scheme: str  # "sip" or "sips"
    user: str | None  # percent-decoded
    password: bool  # whether a password was given (its value is never kept)
    host: str  # canonical: lower case, no final dot, IPv6 compressed in brackets
    port: int | None  # as written; None: the port DNS (or the scheme's default) decides
    params: dict[str, str | None]  # names in lower case
    headers: tuple[tuple[str, str], ...]

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None


def parse_sip_uri(value: str) -> SipUri:
    """Read `value` as a SIP URI (RFC 3261 §19.1.1) or raise ValueError saying what is wrong, never repeating it.

    The scheme may be left out (`user@host`, as SignalWire's own examples write gateway URIs) and is
    case-insensitive. A user part may be percent-encoded; the host may end in a dot.
    """
    if not value or any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise ValueError("is not a SIP URI: it is empty or holds spaces or control characters")
    scheme, colon, rest = value.partition(":")
    if colon and scheme.lower() in SIP_DEFAULT_PORTS:
        scheme = scheme.lower()
    elif colon and _SCHEME.fullmatch(scheme) and not rest[:1].isdigit():  # tel:, https://, …; not host:port
        raise ValueError("is not a SIP URI: only sip: and sips: URIs name a gateway")
    else:
        scheme, rest = "sip", value
    if rest.count("@") > 1:
        raise ValueError("is not a SIP URI: more than one @ (write a literal @ in the user part as %40)")
    userinfo, at, rest = rest.rpartition("@")
    user: str | None = None
    password = False
    if at:
        name, pw_colon, pw = userinfo.partition(":")
        password = bool(pw_colon)
        if not name or not _USER.fullmatch(name):
            raise ValueError("is not a SIP URI: the user part before @ is empty or has characters a SIP user cannot")
        if password and not _PASSWORD.fullmatch(pw):
            raise ValueError("is not a SIP URI: the password has characters a SIP URI cannot")
        try:
            user = unquote(name, errors="strict")
        except UnicodeDecodeError:
            raise ValueError("is not a SIP URI: the user part's %-encoding is not UTF-8") from None
    rest, question, header_text = rest.partition("?")
    hostport, *param_texts = rest.split(";")
    if not hostport:
        raise ValueError("is not a SIP URI: it has no host")
    try:
        host, port = _hostport(hostport)
    except ValueError as exc:
        raise ValueError(f"is not a SIP URI: {exc}") from None
    params: dict[str, str | None] = {}
    for text in param_texts:
        name, eq, param_value = text.partition("=")
        if not _PARAM.fullmatch(name) or (eq and not _PARAM.fullmatch(param_value)):
            raise ValueError("is not a SIP URI: a ;parameter is empty or has characters a SIP URI cannot")
        if name.lower() in params:
            raise ValueError(f"is not a SIP URI: the ;{name.lower()} parameter is given twice")
        params[name.lower()] = unquote(param_value) if eq else None
    headers: list[tuple[str, str]] = []
    if question:
        for text in header_text.split("&"):
            name, eq, header_value = text.partition("=")
            if not name or not eq or not _HEADER.fullmatch(name) or not _HEADER.fullmatch(header_value):
                raise ValueError("is not a SIP URI: a ?header is not name=value")
            headers.append((unquote(name), unquote(header_value)))
    return SipUri(scheme, user, password, host, port, params, tuple(headers))


def gateway_uri(value: str) -> str:
    """A SIP gateway URI that names exactly where calls go, or ValueError saying why not.

    Refused besides what `parse_sip_uri` refuses: a password (a secret must not pass through a tool
    argument), `;maddr=` (it sends requests to another host than the URI's) and `?headers` (a `Route`
    header sends them through another proxy). A number as the user part must be one the number rules
    can check (`gateway_numbers`).
    """
    uri = parse_sip_uri(value)
    if uri.password:
        raise ValueError(
            "carries a password (user:password@) (rule no_userinfo): a secret must not pass through a tool argument; "
            "set the gateway's credentials in the SignalWire dashboard"
        )
    if "maddr" in uri.params:
        raise ValueError("has ;maddr=, which sends calls to another host than the URI's: name that host instead")
    if uri.headers:
        raise ValueError("has ?headers, which can route calls elsewhere (Route) or add to them: leave them out")
    gateway_numbers(uri)
    return value


def gateway_numbers(uri: SipUri) -> tuple[str, ...]:
    """Every E.164 number the gateway's far side may dial because of the URI's user part (empty for a name).

    A user part is a number when it is a dial string: digits with an optional leading `+`, visual
    separators (space, -, ., parentheses) and `;` parameters aside, percent-decoded and with
    full-width digits folded. Read the ways a carrier may: `+49…` and `0049…` as international,
    `0…` as national (TELCO_MCP_DEFAULT_REGION), bare digits as international without the `+` and
    as national. Each reading that is a valid number is returned; the number rules check every one.

    ValueError (the number rules could not clear it) for an international or national number that is
    not a valid number in its numbering plan, bare digits that make a possible but invalid
    international number (`4990012345678`), and dial strings with `*` or `#` (service codes).
    Bare digits that are no possible international number (an extension such as `1001`) are a name.
    """
    from telco_mcp.phone import parse_number, to_e164

    if uri.user is None:
        return ()
    dial = unicodedata.normalize("NFKC", uri.user).split(";", 1)[0].translate(_SEPARATORS)
    if not dial or not _DIAL_STRING.fullmatch(dial) or not any(c.isdigit() for c in dial):
        return ()  # a name: no number rule
    if "*" in dial or "#" in dial or "+" in dial[1:]:
        raise ValueError(
            "has a user part that dials a service code (* or #): the number rules cannot check it; give the number "
            "in E.164 (+…) or name the user"
        )

    def strict(number: str) -> str:
        try:
            return to_e164(number)
        except ValueError as exc:
            raise ValueError(f"has a user part the number rules cannot clear: {exc}") from None

    if dial.startswith("+"):
        return (strict(dial),)
    if dial.startswith("00"):
        return (strict("+" + dial[2:]),)
    if dial.startswith("0"):
        return (strict(dial),)
    found: list[str] = []
    try:
        parse_number("+" + dial, valid=False)  # a possible international number must be a valid one
    except ValueError:
        pass  # no possible international number: an extension, unless it is a valid national one
    else:
        found.append(strict("+" + dial))
    try:
        national = to_e164(dial)
    except ValueError:
        pass
    else:
        if national not in found:
            found.append(national)
    return tuple(found)


# ------------------------------------------------------------------ TELCO_MCP_ALLOWED_GATEWAY_HOSTS
def parse_host_entry(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[IPv6]` or `[IPv6]:port` as (canonical host, port or None); ValueError if not."""
    if "://" in entry or "/" in entry or "@" in entry or entry.startswith("*"):
        raise ValueError("not a host or host:port")
    return _hostport(entry)


def gateway_host_allowed(uri: SipUri, entries: list[tuple[str, int | None]]) -> bool:
    """Whether `uri` points at an allowed host: a `host` entry allows any port, `host:port` only that port
    written in the URI (without a port, DNS decides it)."""
    return any(uri.host == host and (port is None or uri.port == port) for host, port in entries)
