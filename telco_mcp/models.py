"""Base models shared by every provider.

Inputs are strict (unknown fields are an error the model can correct); results are tolerant
(a new provider field never breaks a tool) and are dumped without nulls to keep results compact.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from telco_mcp.untrusted import TRUSTED


class StrictInput(BaseModel):
    """Base for every tool input: unknown fields are rejected, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Result(BaseModel):
    """Base for every tool result: tolerant of extra provider fields."""

    model_config = ConfigDict(extra="allow", defer_build=True)


MAX_LIMIT = 100
"""The most items one page of any list tool holds; cursors are held to it too."""

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"Items per page (1-{MAX_LIMIT}).")]
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
