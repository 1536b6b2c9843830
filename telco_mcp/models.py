"""Base models shared by every provider.

Inputs are strict (unknown fields are an error the model can correct); results are tolerant
(a new provider field never breaks a tool) and are dumped without nulls to keep results compact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from telco_mcp.untrusted import TRUSTED


class StrictInput(BaseModel):
    """Base for every tool input: unknown fields are rejected, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Result(BaseModel):
    """Base for every tool result: tolerant of extra provider fields."""

    model_config = ConfigDict(extra="allow", defer_build=True)


MAX_LIMIT = 100
"""The most items one page of any list tool holds; cursors are held to it too."""

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]  # per page; its bounds say the rest
Cursor = Annotated[str, Field(min_length=1, max_length=2048, description="next_cursor of the last page.")]


class PageInput(StrictInput):
    """Bounded list input: a page size and an opaque cursor."""

    limit: Limit = 20
    cursor: Cursor | None = None


class Page(Result):
    """Common shape of a bounded list result."""

    next_cursor: Annotated[str | None, TRUSTED] = Field(
        default=None, description="Pass as cursor to get the next page; absent at the end."
    )


def _iso_text(value: object) -> object:
    """Times are ISO 8601 strings: a bare number would silently be read as Unix seconds."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string such as 2026-05-04T09:30:00+02:00")
    return value


def _zoned(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError("has no timezone: add an offset, e.g. 2026-05-04T09:30:00+02:00 or ...Z for UTC")
    if not 2000 <= value.year <= 2100:  # before any UTC arithmetic can overflow
        raise ValueError("must be between the years 2000 and 2100")
    return value.astimezone(UTC)


IsoTime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_zoned)]
"""A time the model gives: ISO 8601 text with a zone, in this century, held in UTC."""


def _iso_date_text(value: object) -> object:
    """Days are ISO 8601 strings too (2026-05-04): a bare number would be read as Unix seconds."""
    if value is not None and not isinstance(value, str | date):
        raise ValueError("must be an ISO 8601 date string such as 2026-05-04")
    return value


def _this_century(value: date) -> date:
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text), AfterValidator(_this_century)]
"""A day the model gives: ISO 8601 text (YYYY-MM-DD), in this century."""
