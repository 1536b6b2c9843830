"""The providers' OpenAPI documents the tests validate against: where they are and how they are read.

The documents live in this folder, cut by ``tools/cut_specs.py`` to the operations the catalogue
uses (plus ``EXTRA_OPERATIONS``) and every component those reach; ``SOURCES.md`` says where each
came from, under which licence, and the sha256 of source and cut. Every test reads them through
this module, so a fresh clone validates exactly what CI validates, with nothing beside the checkout.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

Provider = Literal["signalwire", "sipgate"]

HERE = Path(__file__).resolve().parent
SIGNALWIRE_SPEC = HERE / "signalwire-rest.cut.yaml"
SIPGATE_SPEC = HERE / "sipgate-v2.cut.yaml"
SPEC: dict[Provider, Path] = {"signalwire": SIGNALWIRE_SPEC, "sipgate": SIPGATE_SPEC}
SOURCES_MD = HERE / "SOURCES.md"

# Requests that are no catalogue operation of their own: (provider, method, spec path template).
EXTRA_OPERATIONS: tuple[tuple[Provider, str, str], ...] = (
    ("sipgate", "GET", "/authorization/userinfo"),  # the sandbox simulates it (sipgate's token check)
    ("sipgate", "GET", "/history/{entryId}"),  # the lookup before a history entry's update or deletion
)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _parsed(provider: Provider) -> dict[str, Any]:
    return yaml.load(SPEC[provider].read_text(), Loader=_LOADER)


def load(provider: Provider) -> dict[str, Any]:
    """The cut document of `provider` as a fresh dict (callers may change their copy).

    sipgate's has openapi-generator's two conversion artefacts undone (`without_generator_artefacts`).
    """
    raw = copy.deepcopy(_parsed(provider))
    return without_generator_artefacts(raw) if provider == "sipgate" else raw


def without_generator_artefacts(node: Any) -> Any:
    """Undo two artefacts of openapi-generator's Swagger 2.0 -> OpenAPI 3 conversion (upstream notes §1.1).

    ``content: {}`` stands for "no body" (Swagger 2.0 declares no schema there), and ``*/*`` stands for
    the JSON every sipgate operation produces. Nothing else is changed.
    """
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "content" and value == {}:
                continue
            if key == "*/*":
                key = "application/json"
            out[key] = without_generator_artefacts(value)
        return out
    if isinstance(node, list):
        return [without_generator_artefacts(item) for item in node]
    return node


def reachable(raw: dict[str, Any], paths: set[str]) -> dict[str, Any]:
    """`raw` cut to `paths` and the components they reach (shared with `raw`, not copied)."""
    out = dict(raw, paths={t: raw["paths"][t] for t in paths}, components={})
    pending = [out["paths"], raw.get("security", [])]
    seen: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/") and ref not in seen:
                seen.add(ref)
                _, _, kind, name = ref.split("/", 3)
                target = raw["components"][kind][name]
                out["components"].setdefault(kind, {})[name] = target
                pending.append(target)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    out["components"]["securitySchemes"] = raw["components"].get("securitySchemes", {})
    return out


def shape(path: str) -> str:
    """A path template with its placeholders' names dropped: `/calls/{call_id}` and `/calls/{callId}` agree."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def operations(raw: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (METHOD, path shape) a document declares."""
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {(m.upper(), shape(t)) for t, item in raw["paths"].items() for m in item if m in methods}


def needed_operations() -> dict[Provider, set[tuple[str, str]]]:
    """(METHOD, path shape) of every catalogue operation that reaches the provider, plus EXTRA_OPERATIONS."""
    from telco_mcp.catalogue import CATALOGUE

    needed: dict[Provider, set[tuple[str, str]]] = {"signalwire": set(), "sipgate": set()}
    for op in CATALOGUE:
        if op.local is None:  # local tools (e.g. waiting for a pushed call event) send no request
            needed[op.provider].add((op.method, shape(op.path)))
    for provider, method, path in EXTRA_OPERATIONS:
        needed[provider].add((method, shape(path)))
    return needed
