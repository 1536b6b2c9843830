"""Readers for provider JSON payloads, shared by the providers' `*_from_api` transforms.

Each reader checks one field's type and raises `ValueError` naming the payload and the field, which
the tool layer reports as an unexpected response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

T = TypeVar("T")


class PayloadShapeError(ValueError):
    """A provider answered with JSON of an unexpected shape (not the caller's input)."""


def kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def obj(payload: object, what: str) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise PayloadShapeError(f"{what}: expected a JSON object, got {kind(payload)}")
    return cast("Mapping[str, Any]", payload)


def array(value: object) -> list[Any] | None:
    return cast("list[Any]", value) if isinstance(value, list) else None


def opt_str(data: Mapping[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadShapeError(f"{what}: field {key!r} should be a string, got {kind(value)}")
    return str(value)


def req_str(data: Mapping[str, Any], key: str, what: str) -> str:
    value = opt_str(data, key, what)
    if value is None:
        raise PayloadShapeError(f"{what}: required field {key!r} is missing")
    if not value:
        raise PayloadShapeError(f"{what}: required field {key!r} is empty")
    return value


def opt_bool(data: Mapping[str, Any], key: str, what: str) -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise PayloadShapeError(f"{what}: field {key!r} should be a boolean, got {kind(value)}")


def opt_int(data: Mapping[str, Any], key: str, what: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value == int(value):
        return int(value)
    raise PayloadShapeError(f"{what}: field {key!r} should be an integer, got {kind(value)}")


def opt_float(data: Mapping[str, Any], key: str, what: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise PayloadShapeError(f"{what}: field {key!r} should be a number, got {kind(value)}")


def opt_str_list(data: Mapping[str, Any], key: str, what: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    items = array(value)
    if items is None or not all(isinstance(item, str) for item in items):
        raise PayloadShapeError(f"{what}: field {key!r} should be an array of strings, got {kind(value)}")
    return [str(item) for item in items]


def unique(items: list[T]) -> list[T]:
    dupes = sorted({str(item) for item in items if items.count(item) > 1})
    if dupes:
        raise ValueError(f"duplicate values: {', '.join(dupes)}")
    return items


def items(data: Mapping[str, Any], key: str, what: str, item: Callable[[Any], T]) -> list[T]:
    """A required array field, each element converted by ``item``; null counts as empty."""
    if key not in data:
        raise PayloadShapeError(f"{what}: required field {key!r} is missing")
    value = data[key]
    if value is None:
        return []
    items = array(value)
    if items is None:
        raise PayloadShapeError(f"{what}: field {key!r} should be an array, got {kind(value)}")
    return [item(entry) for entry in items]


def opt_records(data: Mapping[str, Any], key: str, what: str) -> list[dict[str, Any]] | None:
    """An optional array of flat objects (postal addresses, charge lines), their scalar fields kept as given."""
    value = data.get(key)
    if value is None:
        return None
    entries = array(value)
    if entries is None or not all(isinstance(entry, Mapping) for entry in entries):
        raise PayloadShapeError(f"{what}: field {key!r} should be an array of objects, got {kind(value)}")
    scalar = (str, int, float, bool)
    return [{str(k): v for k, v in entry.items() if isinstance(v, scalar)} for entry in entries]
