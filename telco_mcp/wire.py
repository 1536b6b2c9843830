"""What a request to a provider is made of, below every other layer.

`PreparedRequest` is the exact request a tool call sends; the helpers here fill path templates,
read JSON bodies and encode the opaque cursors of paged lists. This module imports nothing of the
package but `errors`, so the shared client, the operation type and the providers can all build on it.
"""

from __future__ import annotations

import base64
import json
import logging
import string
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit

import httpx2
from pydantic import BaseModel

from telco_mcp.errors import InvalidInput

Provider = Literal["signalwire", "sipgate"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

PROVIDERS: tuple[Provider, ...] = ("signalwire", "sipgate")
FORM_TYPE = "application/x-www-form-urlencoded"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedRequest:
    """The exact request a tool call sends upstream (credentials are added by the client's auth)."""

    method: Method
    path: str  # relative to the provider's base URL, already encoded
    query: tuple[tuple[str, str], ...] = ()
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict, compare=False)  # path values, for messages
    # An application/x-www-form-urlencoded body (SignalWire's Compatibility API), fields in the order sent;
    # a request carries a JSON body or a form body, never both.
    form: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self) -> None:
        if self.form is not None and self.json is not None:
            raise ValueError("a request has a JSON body or a form body, not both")

    @property
    def body(self) -> Any:
        """The body as people read it (previews, approvals, the audit): the JSON, or the form's (name, value) pairs."""
        return [list(pair) for pair in self.form] if self.form is not None else self.json


def encode_segment(value: object) -> str:
    """Percent-encode one path segment, refusing values that would change the path's meaning."""
    text = str(value)
    if text in ("", ".", ".."):
        raise InvalidInput(f"invalid path segment {text!r}")
    return quote(text, safe="")


def placeholders(template: str) -> list[str]:
    """The `{field}` names in a path template."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def fill_path(template: str, args: BaseModel) -> str:
    """Fill `{field}` placeholders from `args`, each value encoded as a single segment."""
    values = {name: encode_segment(getattr(args, name)) for name in placeholders(template)}
    return template.format(**values)


def response_json(response: httpx2.Response) -> Any:
    """The JSON body of a response (None when empty); `ValueError` when it is not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ValueError("the body is not JSON") from None


# ------------------------------------------------------------------ cursors
def encode_cursor(path: str, query: list[tuple[str, str]], *, skip: int = 0, limit: int | None = None) -> str:
    """An opaque cursor for the next page: the relative path and query, base64url JSON.

    `skip` and `limit` serve lists paged on our side (`cursor_position`): how many items of the page the
    query names were already shown, and how many the next page shows when the call gives no `limit`.
    """
    data: dict[str, Any] = {"p": path, "q": query}
    if skip:
        data["s"] = skip
    if limit is not None:
        data["n"] = limit
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_position(cursor: str, *, max_size: int) -> tuple[int, int | None]:
    """The `skip` and `limit` a cursor carries (see `encode_cursor`); call `decode_cursor` first."""
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    skip, limit = data.get("s", 0), data.get("n")
    if not isinstance(skip, int) or isinstance(skip, bool) or not 0 <= skip <= 10_000:
        raise InvalidInput("cursor is not one this server issued; pass next_cursor unchanged")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= max_size):
        raise InvalidInput("cursor is not one this server issued; pass next_cursor unchanged")
    return skip, limit


def decode_cursor(cursor: str, expected_path: str, *, size: str, max_size: int) -> list[tuple[str, str]]:
    """The query of a cursor this server issued for `expected_path`; anything else is refused.

    A cursor is only base64 JSON, so anyone can edit it: its page size (the query parameter `size`)
    is checked against the tool's own bound, `max_size`, so that no cursor can ask for more items
    per page than the `limit` argument allows.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        path, query = data["p"], data["q"]
        pairs = [(str(k), str(v)) for k, v in query]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("cursor is not one this server issued; pass next_cursor unchanged") from None
    if path != expected_path:
        raise InvalidInput("cursor belongs to another list; pass the next_cursor of this tool's own result")
    for key, value in pairs:
        if key == size and not (value.isascii() and value.isdigit() and 1 <= int(value) <= max_size):
            raise InvalidInput(
                f"cursor asks for {value[:20]!r} items per page, more than the {max_size} a page may hold; "
                "pass next_cursor unchanged"
            )
    return pairs


def next_page(next_url: str | None, path: str, *, limit: int | None = None) -> str | None:
    """Turn a provider's `links.next` into a cursor for the tool's own `path`.

    Only the link's query is kept: the next page is always requested on the configured base URL
    at the tool's own path, whatever host, port, case or path prefix the provider (or a proxy in
    front of it) wrote into the link. A link without a query cannot name a next page: None.
    """
    if not next_url:
        return None
    try:
        query = parse_qsl(urlsplit(next_url).query, keep_blank_values=True)
    except ValueError:  # e.g. a malformed IPv6 host: the host is never used anyway
        query = parse_qsl(next_url.partition("?")[2].partition("#")[0], keep_blank_values=True)
    if not query:
        logger.warning("links.next %r has no query naming the next page; paging stops here", next_url[:200])
        return None
    return encode_cursor(path, query, limit=limit)
