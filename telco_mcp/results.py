"""What a tool call returns: the result models of writes and the rendering of every result.

A success carries the result twice: as structured content (the published output schema) and as
compact JSON text for the model, always inside an `<untrusted-data>` fence (every result holds
provider-controlled text), with `_meta[UNTRUSTED_META_KEY]` listing the JSON pointers of that text
in the structured content. A failure is an `isError` result whose text starts with the error's
category in brackets, e.g. `[refused] ...`; provider text in it is fenced inline. See
`telco_mcp.untrusted`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import httpx2
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from telco_mcp.errors import TelcoError, UpstreamValidation
from telco_mcp.events.receiver import redact_webhook_secrets
from telco_mcp.models import Result
from telco_mcp.operation import Operation
from telco_mcp.untrusted import TRUSTED, UNTRUSTED_META_KEY, UNTRUSTED_NOTE, fence, inline, pointers, to_json
from telco_mcp.wire import PreparedRequest

T = TypeVar("T", bound=BaseModel)
SANDBOX_META_KEY = "io.github.telco-mcp/sandbox"


class RequestPreview(Result):
    """The exact upstream request, credentials redacted."""

    method: str
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = Field(default=None, description="The JSON body; absent when there is none.")
    form: list[tuple[str, str]] | None = Field(
        default=None, description="A form body's fields (name, value), in the order sent; absent when there is none."
    )


class WriteResult(Result, Generic[T]):
    """What a write tool returns: the outcome, in plain words and as data."""

    status: Annotated[Literal["applied", "dry_run", "confirmation_required", "approval_pending", "declined"], TRUSTED]
    summary: str = Field(description="The action in plain words.")
    result: T | None = Field(default=None, description="The provider's state after the write.")
    request: Annotated[RequestPreview | None, TRUSTED] = None
    confirm_token: Annotated[str | None, TRUSTED] = Field(
        default=None, description="Pass back with identical arguments to confirm."
    )
    approval_id: Annotated[str | None, TRUSTED] = Field(
        default=None, description="Pass back with identical arguments once approved."
    )
    expires_at: datetime | None = None
    budget: dict[str, int] | None = Field(default=None, description="Remaining hourly budget.")
    note: str | None = None


def write_result(op: Operation, **fields: Any) -> BaseModel:
    """`WriteResult[op.output]` with `fields`."""
    return WriteResult[op.output](**fields)  # type: ignore[name-defined]


def _text(op: Operation, data: dict[str, Any], lead: str | None, sandbox: bool) -> str:
    summary = data.get("summary")
    if lead and isinstance(summary, str) and summary in lead:
        # A write's summary quotes provider text (a gateway's name, a call's parties); where the lead
        # repeats it for the model, it is fenced like the rest of the data.
        lead = lead.replace(summary, inline(summary, op.provider))
    # One fence around all of it; `to_json` escapes < > and their look-alikes, line breaks and
    # invisible characters, so no third-party text can close, forge or hide in the fence.
    body = f"{fence(to_json(data), op.provider)}\n{UNTRUSTED_NOTE}"
    parts = [p for p in ("[SANDBOX: simulated provider, no real account]" if sandbox else None, lead, body) if p]
    return "\n".join(parts)


def success(op: Operation, model: BaseModel, *, sandbox: bool, lead: str | None = None) -> CallToolResult:
    data = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    meta: dict[str, Any] = {UNTRUSTED_META_KEY: {"source": op.provider, "pointers": pointers(model)}}
    if sandbox:
        meta[SANDBOX_META_KEY] = True
    return CallToolResult(
        content=[TextContent(type="text", text=_text(op, data, lead, sandbox))],
        structured_content=data,
        _meta=meta,
    )


def failure(error: TelcoError | str, *, sandbox: bool) -> CallToolResult:
    if isinstance(error, TelcoError):
        text = f"[{error.category}] {error.message}"
        if isinstance(error, UpstreamValidation) and error.field_errors:
            source = error.provider
            text += " Fields: " + "; ".join(
                f"{inline(f.field, source)}: {inline(f.message, source)}" if f.field else inline(f.message, source)
                for f in error.field_errors
            )
    else:
        text = error
    if "<untrusted-data" in text:
        text += "\n" + UNTRUSTED_NOTE
    if sandbox:
        text = "[SANDBOX] " + text
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        is_error=True,
        _meta={SANDBOX_META_KEY: True} if sandbox else None,
    )


def preview(client_base: str, request: PreparedRequest, auth_scheme: str) -> RequestPreview:
    url = httpx2.URL(client_base + request.path)
    if request.query:
        url = url.copy_merge_params(list(request.query))
    return RequestPreview(
        method=request.method,
        url=str(url),
        headers={"Authorization": f"{auth_scheme} [REDACTED]"},
        body=_without_webhook_secrets(request.json),
        form=None if request.form is None else [(name, redact_webhook_secrets(value)) for name, value in request.form],
    )


def _without_webhook_secrets(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """The body with any receiver URL's path secret hidden (sipgate_set_webhooks sends this server's URL)."""
    if body is None:
        return None
    text = json.dumps(body, ensure_ascii=False)
    redacted = redact_webhook_secrets(text)
    return body if redacted == text else json.loads(redacted)
