"""Request-body helpers shared by both providers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from starlette.requests import Request

M = TypeVar("M", bound="StrictModel")


class MalformedJSONError(Exception):
    """The body is present but is not JSON."""


class StrictModel(BaseModel):
    """Request bodies: no type coercion, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class NoNullModel(StrictModel):
    """A strict body whose optional fields may be omitted but not sent as ``null``."""

    @field_validator("*", mode="before")
    @classmethod
    def _reject_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


@dataclass(frozen=True)
class Problem:
    """One validation problem: the top-level attribute it concerns (if any) and a message."""

    attribute: str | None
    pointer: str
    message: str
    kind: str


async def read_json(request: Request) -> Any:
    """The decoded JSON body, ``None`` when the body is empty; raises MalformedJSONError."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise MalformedJSONError(str(exc)) from exc


def problems(exc: ValidationError) -> list[Problem]:
    found: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        attribute = loc[0] if loc else None
        dotted = ".".join(loc) if loc else "body"
        if error["type"] == "extra_forbidden":
            message = f"{dotted} is not a permitted parameter"
        elif error["type"] == "missing":
            message = f"{dotted} is required"
        else:
            message = f"{dotted}: {error['msg'].removeprefix('Value error, ')}"
        found.append(Problem(attribute=attribute, pointer="/" + "/".join(loc), message=message, kind=error["type"]))
    return found


def validate_body(model: type[M], data: Any) -> M | list[Problem]:
    """Validate a decoded JSON body against ``model``; a list of problems if it does not fit."""
    if data is None:
        return [Problem(attribute=None, pointer="/", message="A JSON request body is required", kind="missing")]
    if not isinstance(data, dict):
        return [Problem(attribute=None, pointer="/", message="The request body must be a JSON object", kind="type")]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return problems(exc)
