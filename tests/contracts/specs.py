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

from telco_mcp.providers.signalwire.compatibility import BASE as LAML_BASE

Provider = Literal["signalwire", "sipgate"]
# One provider may have several documents: SignalWire's REST API and its Compatibility (LaML) API.
Document = Literal["signalwire", "sipgate", "signalwire-compatibility"]

HERE = Path(__file__).resolve().parent
SIGNALWIRE_SPEC = HERE / "signalwire-rest.cut.yaml"
SIPGATE_SPEC = HERE / "sipgate-v2.cut.yaml"
COMPATIBILITY_SPEC = HERE / "signalwire-compatibility.cut.yaml"
SPEC: dict[Document, Path] = {
    "signalwire": SIGNALWIRE_SPEC,
    "sipgate": SIPGATE_SPEC,
    "signalwire-compatibility": COMPATIBILITY_SPEC,
}
# The path a document's own paths are relative to (its server's path): requests name it, the document does not.
BASE: dict[Document, str] = {"signalwire": "", "sipgate": "", "signalwire-compatibility": LAML_BASE}
SOURCES_MD = HERE / "SOURCES.md"

# Requests that are no catalogue operation of their own: (provider, method, path as a request names it).
EXTRA_OPERATIONS: tuple[tuple[Provider, str, str], ...] = (
    ("sipgate", "GET", "/authorization/userinfo"),  # the sandbox simulates it (sipgate's token check)
    ("sipgate", "GET", "/history/{entryId}"),  # the lookup before a history entry's update or deletion
    ("sipgate", "GET", "/users/{userId}"),  # whether the token's user is an admin (TELCO_MCP_SIPGATE_OWNERSHIP)
    ("sipgate", "GET", "/{userId}/faxlines"),  # the user's fax lines (a fax in user ownership mode)
    # the number check before a Compatibility call is started (is `from` the project's own?)
    ("signalwire", "GET", f"{LAML_BASE}/Accounts/{{AccountSid}}/IncomingPhoneNumbers"),
    # one participant: the lookup before a participant's update or removal
    ("signalwire", "GET", f"{LAML_BASE}/Accounts/{{AccountSid}}/Conferences/{{Sid}}/Participants/{{CallSid}}"),
)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _parsed(document: Document) -> dict[str, Any]:
    return yaml.load(SPEC[document].read_text(), Loader=_LOADER)


def load(document: Document) -> dict[str, Any]:
    """The cut `document` as a fresh dict (callers may change their copy).

    sipgate's has openapi-generator's two conversion artefacts undone (`without_generator_artefacts`).
    """
    raw = copy.deepcopy(_parsed(document))
    return without_generator_artefacts(raw) if document == "sipgate" else raw


def document_of(provider: Provider, path: str) -> tuple[Document, str]:
    """The document that declares a request of `provider` to `path`, and the path as that document names it."""
    if provider == "signalwire" and path.startswith(LAML_BASE + "/"):
        return "signalwire-compatibility", path.removeprefix(LAML_BASE)
    return provider, path


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


def needed_operations() -> dict[Document, set[tuple[str, str]]]:
    """(METHOD, path shape) of every catalogue operation that reaches a provider, plus EXTRA_OPERATIONS, by document.

    The path shape is the document's own (`document_of`): a Compatibility path without its base.
    """
    from telco_mcp.catalogue import CATALOGUE

    needed: dict[Document, set[tuple[str, str]]] = {document: set() for document in SPEC}
    requests = [(op.provider, op.method, op.path) for op in CATALOGUE if op.local is None]  # local tools send none
    for provider, method, path in [*requests, *EXTRA_OPERATIONS]:
        document, relative = document_of(provider, path)
        needed[document].add((method, shape(relative)))
    return needed
