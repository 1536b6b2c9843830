"""The request-side contract check: every request the tools send to the sandbox, against the providers' OpenAPI.

The sandbox's own request models follow the live API, so a sandbox run alone can never show that a tool
sends something the provider does not take. This check closes that: each request the sandbox recorded
from telco-mcp's client (its User-Agent) is validated with openapi-core against the document it belongs
to (SignalWire's REST document cut to the operations the sandbox covers, SignalWire's Compatibility API
document for the requests under its base, with their form bodies, and sipgate's converted Swagger).
The only changes made to the documents are the request deviations listed, with their sources, in
``telco_mcp/sandbox/deviations.py`` (``REQUEST_DEVIATIONS``). Requests the tests send to the sandbox by
hand (the sandbox's own tests probe it with bad bodies) are not the tools' and are left alone.

Use `assert_requests_match_the_spec(sandbox)` after a run; suites that build sandbox servers register each
sandbox with `watch(sandbox)` and check them all at each test's end (`check_watched`, an autouse fixture).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

from telco_mcp.sandbox import RecordedRequest, Sandbox
from telco_mcp.sandbox.deviations import REQUEST_DEVIATIONS, RequestDeviation, request_deviation_for
from telco_mcp.upstream import USER_AGENT
from tests.contracts import specs

HOSTS = {"signalwire": "https://example.signalwire.com", "sipgate": "https://api.sipgate.com"}
AUTH = {"signalwire": "Basic eDp5", "sipgate": "Bearer x"}
PAGING = {"page_number", "page_size", "page_token"}  # SignalWire's paging, in the links it gives
TOOLS_AGENT = USER_AGENT.partition("/")[0] + "/"


def apply(document: dict[str, Any], deviation: RequestDeviation) -> None:
    """Make `deviation`'s change, and only it, to its schema in `document` (in place)."""
    schema = document["components"]["schemas"][deviation.schema]
    required = [name for name in schema.get("required", []) if name not in deviation.not_required]
    schema["required"] = required + [name for name in deviation.requires if name not in required]
    for name, min_length in deviation.adds:
        schema["properties"][name] = {"type": "string", "minLength": min_length}


@dataclass(frozen=True)
class Documents:  # by document (`specs.document_of` names the one a request belongs to)
    patched: dict[str, OpenAPI]  # with the request deviations
    pristine: dict[str, OpenAPI]  # as published (SignalWire's REST only: no other request deviation exists)
    raw: dict[str, dict[str, Any]]  # the patched documents as data: their declared query parameters


def declared_query(raw: dict[str, Any], method: str, path: str, prefix: str = "") -> set[str] | None:
    """The query parameters the document declares for `method path`; None when no operation matches.

    openapi-core ignores a query parameter an operation does not declare; the provider may not, so the
    check refuses them too (SignalWire's own SDK tests do the same: their mock flags an undeclared one).
    """
    relative = path.removeprefix(prefix)
    matches = [t for t in raw["paths"] if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)), relative)]
    matches.sort(key=lambda t: t.count("{"))  # a literal segment wins over a template
    for template in matches:
        item = raw["paths"][template]
        operation = item.get(method.lower())
        if operation is None:
            continue
        names: set[str] = set()
        for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
            if "$ref" in parameter:
                parameter = raw["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
            if parameter.get("in") == "query":
                names.add(parameter["name"])
        return names
    return None


@functools.cache
def documents() -> Documents:
    from sandbox.test_sandbox_contract import COVERED

    sw = copy.deepcopy(specs.reachable(specs.load("signalwire"), {t for p, _, t in COVERED if p == "signalwire"}))
    compatibility = specs.load("signalwire-compatibility")
    compatibility["servers"] = [{"url": HOSTS["signalwire"] + specs.BASE["signalwire-compatibility"]}]
    for document in (sw, compatibility):
        for scheme in document["components"]["securitySchemes"].values():
            if scheme.get("type") == "http":  # RFC 7235: case-insensitive schemes; openapi-core compares as written
                scheme["scheme"] = scheme["scheme"].lower()
    pristine = copy.deepcopy(sw)
    for deviation in REQUEST_DEVIATIONS:
        assert deviation.provider == "signalwire", deviation  # `apply` is only wired for SignalWire's document
        apply(sw, deviation)
    sg = specs.load("sipgate")
    # openapi-core cannot check OAuth2 (it warns); the credentials are not what this check is about.
    sg["security"] = []
    for item in sg["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation["security"] = []
    sipgate = OpenAPI.from_dict(sg)
    laml = OpenAPI.from_dict(compatibility)
    return Documents(
        patched={"signalwire": OpenAPI.from_dict(sw), "sipgate": sipgate, "signalwire-compatibility": laml},
        pristine={"signalwire": OpenAPI.from_dict(pristine), "sipgate": sipgate, "signalwire-compatibility": laml},
        raw={"signalwire": sw, "sipgate": sg, "signalwire-compatibility": compatibility},
    )


_WATCHED: list[Sandbox] = []


def watch(sandbox: Sandbox) -> Sandbox:
    """Check every request `sandbox` receives from the tools when the current test ends."""
    _WATCHED.append(sandbox)
    return sandbox


def check_watched() -> Iterator[None]:
    """The body of an autouse fixture: the requests to every sandbox watched in the test, against the documents."""
    _WATCHED.clear()
    yield
    watched, _WATCHED[:] = list(_WATCHED), []
    if watched:  # the cuts are in the repository (tests/contracts): every checkout checks
        assert_requests_match_the_spec(*watched)


def _shown(body: Any) -> Any:
    """A request body for a failure message: a password is the approver's, even in a test."""
    if isinstance(body, dict):
        return {k: "***" if "password" in k else v for k, v in body.items()}
    return body


def _mock(request: RecordedRequest) -> MockRequest:
    body = json.dumps(request.json).encode() if request.json is not None else None
    content_type = "application/json"
    if request.form is not None:  # a form body (the Compatibility API's writes) is validated as the form it is
        body, content_type = urlencode(request.form).encode(), "application/x-www-form-urlencoded"
    return MockRequest(
        HOSTS[request.provider], request.method.lower(), request.path,
        args=request.query,  # type: ignore[arg-type]  # a list of pairs keeps repeated parameters
        headers={"Authorization": AUTH[request.provider]}, data=body, content_type=content_type,
    )  # fmt: skip


def from_the_tools(request: RecordedRequest) -> bool:
    return request.provider != "sipgate-oauth" and request.headers.get("user-agent", "").startswith(TOOLS_AGENT)


def _refusal(api: OpenAPI, mock: MockRequest) -> str | None:
    try:
        api.validate_request(mock)
    except Exception as exc:  # openapi-core's errors carry the schema errors as their cause
        cause = exc.__cause__ or exc
        details = getattr(cause, "schema_errors", None) or [cause]
        return f"{exc}; " + "; ".join(str(d)[:300] for d in details)
    return None


def mismatches(requests: list[RecordedRequest]) -> tuple[list[str], set[RequestDeviation]]:
    """What in `requests` the documents refuse, and the request deviations the rest needed."""
    docs = documents()
    failures: list[str] = []
    used: set[RequestDeviation] = set()
    for request in requests:
        if not from_the_tools(request):
            continue
        mock = _mock(request)
        document, _ = specs.document_of(request.provider, request.path)  # type: ignore[arg-type]  # not sipgate-oauth
        prefix = "/v2" if request.provider == "sipgate" else specs.BASE[document]
        declared = declared_query(docs.raw[document], request.method, request.path, prefix) or set()
        sent = {name for name, _ in request.query}
        if "page_token" in sent:  # a later page asked for as the provider's own links.next names it (notes §2.3)
            declared |= PAGING
        if undeclared := sorted(sent - declared):
            failures.append(f"{request.method} {request.path}: query parameters the spec does not declare {undeclared}")
            continue
        refused = _refusal(docs.patched[document], mock)
        if refused is not None:
            failures.append(f"{request.method} {request.path} {request.query} {_shown(request.json)}: {refused}")
            continue
        deviation = _deviation_of(request)
        if deviation is not None and _refusal(docs.pristine[document], mock) is not None:
            used.add(deviation)
    return failures, used


def _deviation_of(request: RecordedRequest) -> RequestDeviation | None:
    for deviation in REQUEST_DEVIATIONS:
        prefix, _, rest = deviation.path.partition("{")
        if request.method != deviation.method or not request.path.startswith(prefix):
            continue
        tail = request.path[len(prefix) :]
        if (not rest and not tail) or (rest and tail and "/" not in tail):
            return request_deviation_for(request.provider, request.method, deviation.path)
    return None


def assert_requests_match_the_spec(*sandboxes: Sandbox) -> set[RequestDeviation]:
    """Fail, naming each request and field, if any tool request to `sandboxes` does not fit its document."""
    failures: list[str] = []
    used: set[RequestDeviation] = set()
    for sandbox in sandboxes:
        found, needed = mismatches(sandbox.requests)
        failures += found
        used |= needed
    assert not failures, "requests the providers' documents refuse:\n" + "\n".join(failures)
    return used
