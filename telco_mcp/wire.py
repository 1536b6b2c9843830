"""What a request to a provider is made of, below every other layer.

`PreparedRequest` is the exact request a tool call sends; the helpers here fill path templates,
read JSON bodies and encode the opaque cursors of paged lists. This module imports nothing of the
package but `errors`, so the shared client, the operation type and the providers can all build on it.
"""

from __future__ import annotations

import base64
import json
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


@dataclass(frozen=True)
class PreparedRequest:
    """The exact request a tool call sends upstream (credentials are added by the client's auth)."""

    method: Method
    path: str  # relative to the provider's base URL, already encoded
    query: tuple[tuple[str, str], ...] = ()
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict, compare=False)  # path values, for messages


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
def encode_cursor(path: str, query: list[tuple[str, str]]) -> str:
    """An opaque cursor for the next page: the relative path and query, base64url JSON."""
    raw = json.dumps({"p": path, "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, expected_path: str) -> list[tuple[str, str]]:
    """The query of a cursor this server issued for `expected_path`; anything else is refused."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        path, query = data["p"], data["q"]
        pairs = [(str(k), str(v)) for k, v in query]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("cursor is not one this server issued; pass next_cursor unchanged") from None
    if path != expected_path:
        raise InvalidInput("cursor belongs to another list; pass the next_cursor of this tool's own result")
    return pairs


def next_page(base_url: str, next_url: str | None, expected_path: str) -> str | None:
    """Turn a provider's `links.next` into a cursor, refusing links that leave the provider's origin."""
    if not next_url:
        return None
    base, link = urlsplit(base_url), urlsplit(next_url)
    if link.netloc and (link.scheme, link.netloc) != (base.scheme, base.netloc):
        raise ValueError("links.next points at another host")
    path = link.path
    prefix = base.path.rstrip("/")
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) :]
    if path != expected_path:
        raise ValueError("links.next points at another list")
    return encode_cursor(path, parse_qsl(link.query, keep_blank_values=True))
