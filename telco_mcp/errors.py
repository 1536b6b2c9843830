"""Every failure the server can report, in one small hierarchy.

    TelcoError                      base; `category` names the kind, `message` says what to do
    ├── ConfigError                 a missing or malformed setting (startup)
    ├── SafetyRefusal               a scope, policy or guardrail said no; nothing was sent
    ├── ConfirmationError           a confirmation token was missing, forged, expired or reused
    ├── InvalidInput                the caller's input is wrong in a way only a lookup could tell
    ├── StateUnavailable            the shared state (Redis) is unreachable: writes fail closed
    └── ProviderError               the upstream API (or the way to it) failed
        ├── AuthError               401: the credentials were rejected
        ├── PermissionDenied        403: the credentials lack a scope or feature
        ├── NotFound                404: no such resource (or the call already ended)
        ├── UpstreamValidation      400/422: the provider rejected a field; `field_errors` lists them
        ├── InsufficientFunds       402: the account has no credit
        ├── RateLimited             429: too many requests; `retry_after` seconds when known
        ├── UpstreamUnavailable     5xx or the connection failed before anything was sent
        ├── UpstreamTimeout         a read that did not answer in time
        ├── UnexpectedResponse      a status or body the contract does not allow
        └── OutcomeUnknown          a write was sent but no answer came back: it may have happened

Status codes map onto classes in exactly one place, `error_for_status`. Messages never contain
credentials: they are built from the provider, the operation, the status and the provider's own
error text, and the shared client never puts a secret in any of those. The provider's error text
is provider-controlled (it may echo what was sent, or be written by anyone who can plant data), so
it is fenced inline (`telco_mcp.untrusted.inline`), never pasted as prose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from telco_mcp.untrusted import inline


class TelcoError(Exception):
    """Base of every error this package raises on purpose."""

    category: ClassVar[str] = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(TelcoError):
    category = "config"


class SafetyRefusal(TelcoError):
    """A policy refused the action before anything was sent."""

    category = "refused"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class ConfirmationError(TelcoError):
    category = "confirmation"


class InvalidInput(TelcoError):
    """The arguments passed validation but cannot be used (an unknown sender, a foreign cursor)."""

    category = "invalid_input"

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}. Nothing was sent.")


class StateUnavailable(TelcoError):
    """The shared state (Redis) cannot be reached: writes fail closed, nothing was sent."""

    category = "unavailable"


@dataclass(frozen=True)
class FieldError:
    """One field the provider rejected."""

    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ProviderError(TelcoError):
    category = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        operation: str,
        status: int | None = None,
        changed: bool | None = False,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.operation = operation
        self.status = status
        self.changed = changed


class AuthError(ProviderError):
    category = "auth"


class PermissionDenied(ProviderError):
    category = "permission"


class NotFound(ProviderError):
    category = "not_found"


class UpstreamValidation(ProviderError):
    category = "validation"

    def __init__(self, message: str, *, field_errors: list[FieldError], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field_errors = field_errors


class Conflict(ProviderError):
    """The provider refused a write that clashes with what exists (409): an entry already there."""

    category = "conflict"


class InsufficientFunds(ProviderError):
    category = "insufficient_funds"


class RateLimited(ProviderError):
    category = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamUnavailable(ProviderError):
    category = "upstream_unavailable"


class UpstreamTimeout(ProviderError):
    category = "timeout"


class UnexpectedResponse(ProviderError):
    category = "unexpected_response"


class OutcomeUnknown(ProviderError):
    category = "outcome_unknown"

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("changed", None)
        super().__init__(message, **kwargs)


PROVIDER_NAMES = {"signalwire": "SignalWire", "sipgate": "sipgate"}


def _provider_detail(body: Any) -> tuple[str | None, list[FieldError]]:
    """The provider's own error text and field errors, from any of the documented shapes.

    SignalWire fabric 422: {"errors": [{type, code, message, attribute}]}
    SignalWire relay-rest 422: {"errors": [{detail, status, title, code}]}
    SignalWire 401/404/500: {"error": "Not Found"}
    sipgate: {"errors": [{detail, source: {pointer}, status, title}]} or no body at all
    """
    if not isinstance(body, dict):
        return None, []
    fields: list[FieldError] = []
    errors = body.get("errors")
    if isinstance(errors, list):
        for item in errors:
            if not isinstance(item, dict):
                continue
            text = item.get("message") or item.get("detail") or item.get("title") or item.get("code")
            field = item.get("attribute")
            source = item.get("source")
            if field is None and isinstance(source, dict) and isinstance(source.get("pointer"), str):
                field = source["pointer"].rsplit("/", 1)[-1] or None
            fields.append(FieldError(str(field) if field else None, str(text or "invalid")))
        return ("; ".join(str(f) for f in fields) or None), fields
    for key in ("error", "message", "detail"):
        if isinstance(body.get(key), str):
            return body[key], []
    return None, []


def parse_body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def error_for_status(
    status: int,
    body: Any,
    *,
    provider: str,
    operation: str,
    is_write: bool,
    retry_after: float | None = None,
) -> ProviderError:
    """Map an upstream error status onto the hierarchy, with a message the model can act on."""
    name = PROVIDER_NAMES.get(provider, provider)
    detail, field_errors = _provider_detail(body)
    said = f" (it said {inline(detail, provider)})" if detail else ""
    unchanged = " Nothing was changed." if is_write else ""
    kw: dict[str, Any] = {"provider": provider, "operation": operation, "status": status}
    if status == 401:
        return AuthError(
            f"{name} rejected the credentials (401){said}. Check the {name} settings of this server; "
            "retrying will not help." + unchanged,
            **kw,
        )
    if status == 403:
        return PermissionDenied(
            f"{name} refused {operation} (403){said}: the credentials lack the scope or feature it needs." + unchanged,
            **kw,
        )
    if status == 404:
        return NotFound(f"{name} found no such resource for {operation} (404){said}." + unchanged, **kw)
    if status == 409:
        return Conflict(
            f"{name} refused {operation}: it clashes with what already exists (409){said}." + unchanged, **kw
        )
    if status == 402:
        return InsufficientFunds(f"{name} refused {operation}: insufficient funds (402)." + unchanged, **kw)
    if status in (400, 422):
        return UpstreamValidation(
            f"{name} rejected the request ({status}){said}. Correct the named fields and try again." + unchanged,
            field_errors=field_errors,
            **kw,
        )
    if status == 429:
        wait = f" Retry after {retry_after:g} s." if retry_after is not None else " Wait before retrying."
        return RateLimited(f"{name} is rate limiting requests (429).{wait}" + unchanged, retry_after=retry_after, **kw)
    if is_write and status in (502, 504):
        return OutcomeUnknown(
            f"Outcome unknown: a gateway in front of {name} answered {status} after the request was sent, so "
            f"{operation} may or may not have happened. Check the current state before repeating it.",
            **kw,
        )
    if status >= 500:
        if is_write and status == 500:
            return UpstreamUnavailable(
                f"{name} failed with an internal error (500){said}. It probably did not apply {operation}, "
                "but check the current state before repeating it.",
                provider=provider,
                operation=operation,
                status=status,
                changed=None,
            )
        return UpstreamUnavailable(f"{name} is unavailable ({status}){said}. Try again later." + unchanged, **kw)
    return UnexpectedResponse(f"{name} answered {operation} with an unexpected status {status}{said}.", **kw)
