"""Fuzzing every tool from its published inputSchema, through the in-process server on the embedded sandbox.

Valid arguments come from the schema itself (`hypothesis_jsonschema.from_schema`), sometimes with a
real id from the sandbox's seed so the happy path is reached too. Invalid ones are valid ones with
one mutation: a field of the wrong JSON type, an unknown field, or a required field left out.

Writes run for real with a client that accepts every confirmation (`accept`), not only as dry runs:
a dry run never sends anything upstream, so it could not show that a schema-valid write stays
within the provider's contract. `dry_run` itself is part of the schema and is generated like any
other field, so both paths are covered. `confirm_token` is dropped from generated writes: a random
token is refused before anything is sent (the confirmation tests cover that), and would hide the
upstream check. The sandbox is reset after every applied write, so seeded ids stay valid.

Each tool gets its own server; the hypothesis loop is synchronous and drives the async client
through a blocking portal (one event loop, one client, one server lifespan per tool).
"""

from __future__ import annotations

import logging
import re
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from mcp import Client

from telco_mcp.catalogue import BY_NAME, CATALOGUE
from telco_mcp.sandbox import Sandbox
from telco_mcp.server import build_server

from .conftest import ID_FIELDS, accept, assert_not_crashed, make_settings, seeded_ids, text_of

TOOLS = [op.name for op in CATALOGUE]
EXAMPLES = 25
SLOW_EXAMPLES = 300
CALL_TIMEOUT = 30.0
# Statuses with which a provider refuses a request as malformed: none may ever come back.
CONTRACT_VIOLATIONS = frozenset({400, 422})
# Strings pydantic accepts as booleans in lax mode: not a "wrong type" for a boolean field.
BOOL_WORDS = frozenset({"0", "1", "f", "n", "t", "y", "no", "off", "on", "yes", "true", "false"})
CUSTOM_FORMATS = {"uuid": st.uuids().map(str)}
# Tools that wait for real (issue 16): each valid example waits at most this long, not the default 45 s.
WAIT_CAPS = {"sipgate_wait_for_call_event": {"timeout_seconds": 1}}


@dataclass
class Fuzzed:
    portal: BlockingPortal
    client: Client
    sandbox: Sandbox
    schemas: dict[str, dict[str, Any]]

    def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        async def call() -> Any:
            import anyio

            with anyio.fail_after(CALL_TIMEOUT):
                return await self.client.call_tool(tool, arguments)

        return self.portal.call(call)


@pytest.fixture
def fuzzed(audit_path: Path) -> Iterator[Fuzzed]:
    """The whole server in sandbox mode, writes on, a client that confirms everything."""
    server = build_server(
        make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_allow_writes=True, telco_mcp_toolsets="all")
    )
    sandbox = server.telco_runtime.sandbox  # pyright: ignore[reportAttributeAccessIssue]
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(Client(server, elicitation_callback=accept)) as client,
    ):
        tools = portal.call(client.list_tools).tools
        yield Fuzzed(portal, client, sandbox, {t.name: t.input_schema for t in tools})


# ------------------------------------------------------------------ strategies
def arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects valid against a flat tool input schema, built property by property.

    `from_schema` on the whole object schema fails with the installed hypothesis (hypothesis-jsonschema
    0.23.1 calls the removed `many.more()`); every input schema here is a flat object with
    `additionalProperties: false`, so a fixed dictionary of per-property strategies is the same set.
    """
    assert schema.get("type") == "object" and schema.get("additionalProperties") is False, schema
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    strategy = {name: _property(prop) for name, prop in properties.items()}
    return st.fixed_dictionaries(
        {name: s for name, s in strategy.items() if name in required},
        optional={name: s for name, s in strategy.items() if name not in required},
    )


def _property(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """One property's values; a list of objects (e.g. forwardings) is built object by object, as above."""
    items = prop.get("items")
    if prop.get("type") == "array" and isinstance(items, dict) and items.get("type") == "object":
        return st.lists(arguments(items), min_size=prop.get("minItems", 0), max_size=prop.get("maxItems", 5))
    return from_schema(prop, custom_formats=CUSTOM_FORMATS)


def wrong_type(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """JSON values of another type than `prop` declares, which no lax coercion turns into a valid one."""
    words = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8).filter(lambda s: s.lower() not in BOOL_WORDS)
    fractions = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer())
    lists = st.lists(st.integers(), min_size=1, max_size=3)
    objects = st.dictionaries(
        st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=5), st.integers(), min_size=1
    )
    kind = prop.get("type")
    if kind == "string":
        return st.one_of(st.integers(), fractions, st.booleans(), lists, objects)
    if kind == "integer":
        return st.one_of(fractions, words, lists, objects)
    if kind == "boolean":
        return st.one_of(fractions, words, lists, objects, st.integers().filter(lambda i: i not in (0, 1)))
    if kind == "array":
        return st.one_of(st.integers(), words, objects, st.booleans())
    raise AssertionError(f"no wrong-type strategy for {prop!r}")


@st.composite
def invalid_arguments(draw: st.DrawFn, schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Valid arguments with one mutation, and the field the error must name."""
    args = draw(arguments(schema))
    properties: dict[str, Any] = schema.get("properties", {})
    required: list[str] = schema.get("required", [])
    mutations = ["extra"] + (["wrong_type"] if properties else []) + (["missing"] if required else [])
    mutation = draw(st.sampled_from(mutations))
    if mutation == "wrong_type":
        field = draw(st.sampled_from(sorted(properties)))
        args[field] = draw(wrong_type(properties[field]))
    elif mutation == "missing":
        field = draw(st.sampled_from(required))
        args.pop(field, None)
    else:
        field = draw(st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(lambda n: n not in properties))
        args[field] = draw(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans()))
    return args, field


def names(field: str, text: str) -> bool:
    """Whether an error text names `field` the way `describe_validation_error` does (`field: ...`)."""
    return re.search(rf"(?<![\w.]){re.escape(field)}(?:\.\d+)*:", text) is not None


# ------------------------------------------------------------------ checks
def check_valid(fuzzed: Fuzzed, tool: str, args: dict[str, Any], use_seeded: dict[str, bool]) -> None:
    op = BY_NAME[tool]
    ids = seeded_ids(fuzzed.sandbox)
    for (name, field), kind in ID_FIELDS.items():
        if name == tool and use_seeded.get(field) and ids[kind] and field in args:
            args[field] = ids[kind][0]
    if op.is_write:
        args.pop("confirm_token", None)
    for field, cap in WAIT_CAPS.get(tool, {}).items():
        args[field] = min(args.get(field, cap), cap)
    fuzzed.sandbox.requests.clear()
    result = fuzzed.call(tool, args)
    assert_not_crashed(result, tool)
    rejected = [
        (r.method, r.path, r.status)
        for r in fuzzed.sandbox.requests
        if r.status in CONTRACT_VIOLATIONS or (r.fault is None and r.status >= 500)
    ]
    assert not rejected, f"{tool}({args!r}) sent requests the provider refused: {rejected}"
    if op.is_write and (result.structured_content or {}).get("status") == "applied":
        fuzzed.sandbox.reset()  # keep the seeded ids valid for the next example


def check_invalid(fuzzed: Fuzzed, tool: str, args: dict[str, Any], field: str) -> None:
    fuzzed.sandbox.requests.clear()
    result = fuzzed.call(tool, args)
    assert_not_crashed(result, tool)
    text = text_of(result)
    assert result.is_error, f"{tool} accepted invalid arguments {args!r}: {text[:300]!r}"
    assert names(field, text), f"{tool}: the error for {args!r} does not name {field!r}: {text[:300]!r}"
    assert not fuzzed.sandbox.requests, f"{tool}: invalid arguments reached the provider: {args!r}"


def fuzz(fuzzed: Fuzzed, tool: str, examples: int) -> None:
    schema = fuzzed.schemas[tool]
    options = settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )

    @options
    @given(
        args=arguments(schema),
        use_seeded=st.dictionaries(st.sampled_from(["id", "call_id", "sms_id", "device_id", "caller"]), st.booleans()),
    )
    def valid(args: dict[str, Any], use_seeded: dict[str, bool]) -> None:
        check_valid(fuzzed, tool, args, use_seeded)

    @options
    @given(case=invalid_arguments(schema))
    def invalid(case: tuple[dict[str, Any], str]) -> None:
        check_invalid(fuzzed, tool, *case)

    valid()
    invalid()


# ------------------------------------------------------------------ tests
def test_the_published_schemas_are_flat_strict_objects(fuzzed: Fuzzed) -> None:
    assert sorted(fuzzed.schemas) == sorted(TOOLS)
    for tool, schema in fuzzed.schemas.items():
        assert schema["type"] == "object" and schema["additionalProperties"] is False, tool
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("type") in ("string", "integer", "boolean", "array"), (tool, name, prop)


@pytest.mark.parametrize("tool", TOOLS)
def test_schema_generated_arguments_never_crash_the_server_or_break_the_provider_contract(
    fuzzed: Fuzzed, tool: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    fuzz(fuzzed, tool, EXAMPLES)
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not crashes, f"{tool}: the server logged errors: {[r.getMessage() for r in crashes][:3]}"


@pytest.mark.slow
@pytest.mark.parametrize("tool", TOOLS)
def test_long_fuzzing_run_never_crashes_the_server(fuzzed: Fuzzed, tool: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    fuzz(fuzzed, tool, SLOW_EXAMPLES)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_invalid_call_leaves_the_server_serving_the_next_valid_one(fuzzed: Fuzzed) -> None:
    bad = fuzzed.call("sipgate_hold_call", {"call_id": ["x"], "value": "maybe", "extra": 1})
    assert bad.is_error and all(names(f, text_of(bad)) for f in ("call_id", "value", "extra"))
    good = fuzzed.call("sipgate_list_calls", {})
    assert not good.is_error and good.structured_content is not None


# ------------------------------------------------------------------ what fuzzing found, pinned down
@pytest.mark.parametrize("bound", [{"start": "0001-01-01T00:00:00+01:00"}, {"end": "9999-12-31T23:59:59-01:00"}])
def test_a_history_bound_at_the_edge_of_the_calendar_is_refused_not_a_crash(
    fuzzed: Fuzzed, bound: dict[str, str]
) -> None:
    result = fuzzed.call("sipgate_list_history", bound)
    assert_not_crashed(result, "sipgate_list_history")
    assert result.is_error and names(next(iter(bound)), text_of(result))


def test_a_history_bound_before_the_year_1000_never_reaches_the_provider_malformed(fuzzed: Fuzzed) -> None:
    fuzzed.sandbox.requests.clear()
    result = fuzzed.call("sipgate_list_history", {"start": "0999-01-01T00:00:00Z"})
    assert_not_crashed(result, "sipgate_list_history")
    assert [r.status for r in fuzzed.sandbox.requests if r.status in CONTRACT_VIOLATIONS] == []


@pytest.mark.parametrize(("tool", "field"), [("sipgate_list_history", "end"), ("sipgate_send_sms", "send_at")])
def test_a_number_is_not_taken_for_a_date_time(fuzzed: Fuzzed, tool: str, field: str) -> None:
    """The schema says an ISO 8601 string; a bare number would silently become a Unix timestamp."""
    args: dict[str, Any] = {field: int(time.time()) + 86_400}  # tomorrow, as Unix seconds
    if tool == "sipgate_send_sms":
        args |= {"recipient": "+4915228817399", "message": "x", "dry_run": True}
    result = fuzzed.call(tool, args)
    assert result.is_error and names(field, text_of(result)), text_of(result)[:300]
