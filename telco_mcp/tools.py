"""Turn catalogue operations into MCP tools: schemas, argument validation, and the wiring.

For every exposed `Operation` this module builds one SDK `Tool` whose
- input schema is the operation's strict input model (plus the consent fields on writes),
  compacted, and whose arguments are validated by that model before anything else happens;
- output schema is the operation's result model (reads) or `WriteResult[result]` (writes);
- annotations come from the declared effect;
- handler is a read (send, interpret, render) or the write pipeline (`telco_mcp.write`).

Note: no `from __future__ import annotations` here. The SDK reads the handlers' annotations to build
schemas, and these handlers are built at run time from catalogue data.
"""

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import BaseModel, Field, ValidationError, create_model

from telco_mcp.errors import TelcoError
from telco_mcp.identity import current_caller
from telco_mcp.operation import LocalContext, Operation
from telco_mcp.ops import logs, metrics
from telco_mcp.results import WriteResult, failure, success
from telco_mcp.runtime import AppState, Runtime
from telco_mcp.write.call import WriteCall, binding_key
from telco_mcp.write.consent import consent_field, write_statuses
from telco_mcp.write.pipeline import run_write

# ------------------------------------------------------------------ schemas
SCHEMAS_FILE = Path(__file__).with_name("schemas.json")


@functools.cache
def _gated_model(op: Operation) -> type[BaseModel]:
    if not op.is_write:
        return op.input
    return create_model(
        op.input.__name__ + "Gated",
        __base__=op.input,
        # exclude=True: the consent fields never reach a body, a summary or the audit log
        dry_run=(bool, Field(False, exclude=True)),  # its name says it; docs/tools.md has the rest
        confirm_token=(
            str | None,
            Field(None, exclude=True, description="From the preview, once the user agreed."),
        ),
        approval_id=(
            str | None,
            Field(None, exclude=True, max_length=128, description="Once a human approved it."),
        ),
    )


def for_mode(op: Operation, schema: dict[str, Any], mode: str, four_eyes: str = "off") -> dict[str, Any]:
    """A write's input or output schema as the consent configuration (`TELCO_MCP_CONFIRM`, `TELCO_MCP_FOUR_EYES`)
    uses it: the consent field it ignores is not offered, and a `status` it never answers is not listed."""
    unused = {"confirm_token", "approval_id"} - {consent_field(op, mode, four_eyes)}
    properties = {k: v for k, v in schema.get("properties", {}).items() if k not in unused}
    status = properties.get("status")
    if isinstance(status, dict) and "enum" in status:
        properties["status"] = {**status, "enum": write_statuses(op, mode, four_eyes)}
    return {**schema, "properties": properties}


def live_schemas(op: Operation) -> dict[str, dict[str, Any]]:
    """The tool's inputSchema and outputSchema, derived from its models (pydantic's schema generation)."""
    output = write_output_schema(op) if op.is_write else lean_output(op.output.model_json_schema())
    return {"inputSchema": compact_schema(_gated_model(op)), "outputSchema": output}


def result_schema(op: Operation) -> dict[str, Any]:
    """The full lean schema of what a write's `result` holds once applied (the tool's manifest shows it)."""
    return lean_output(op.output.model_json_schema())


def write_output_schema(op: Operation) -> dict[str, Any]:
    """`WriteResult`'s schema for `op`: the write's own contract in full, the resource by its identity.

    Every write answers with the same envelope (status, summary, the consent fields, the budget, a note),
    typed field by field: that is what a client reads to know what happened and what to do next. `result`,
    the provider's state after an applied write, is the resource its read tools describe in full; here it
    names the fields it always has (its id, a call's id and action) and leaves the rest to those tools, and
    the request preview of a dry run is an object (method, url, headers, body; docs/tools.md). Repeating
    each resource in each of its writes made the tool list cost a quarter more on every turn.
    """
    schema = lean_output(WriteResult[op.output].model_json_schema())  # type: ignore[name-defined]
    properties = dict(schema["properties"])
    properties["result"] = _identity(result_schema(op))
    properties["request"] = {"type": "object"}
    return {**{k: v for k, v in schema.items() if k != "$defs"}, "properties": properties}


def _identity(schema: dict[str, Any]) -> dict[str, Any]:
    """An object schema cut to the fields it always has, each by its own type (nested shapes as bare types)."""
    required: list[str] = schema.get("required", [])
    properties = schema.get("properties", {})
    kept = {name: _bare(properties[name]) for name in required if name in properties}
    return {"properties": kept, "required": list(kept), "type": "object"} if kept else {"type": "object"}


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k in ("type", "enum", "format")}


@functools.cache
def _shipped_schemas() -> dict[str, dict[str, dict[str, Any]]]:
    try:
        return json.loads(SCHEMAS_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def published_schemas(op: Operation) -> dict[str, dict[str, Any]]:
    """`live_schemas(op)`, read from `schemas.json` when the package ships them.

    Deriving 22 tools' schemas took pydantic a third as long as the whole SDK takes to start, so
    `telco-mcp manifest` writes them into the package and `manifest --check` (run by CI) fails when
    the file and the models disagree. An operation the file does not know is derived live.
    """
    shipped = _shipped_schemas().get(op.name)
    return shipped if shipped is not None else live_schemas(op)


def compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema without titles and with `X | None = None` shown as plain optional `X`.

    Every token of the tool list is paid on every turn; validation still uses the full model.
    """
    schema = inline_refs(compact(model.model_json_schema()))
    schema.pop("description", None)  # the tool's own description says it already
    return schema


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with each `$ref` to its `$defs` replaced by the definition: an input schema stays one flat,
    self-contained object (no client has to resolve references; the inputs' models are never recursive)."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = resolve(defs[ref.removeprefix("#/$defs/")])
            target.pop("description", None)  # a nested model's docstring: the field's own description says it
            return {**target, **{k: resolve(v) for k, v in node.items() if k != "$ref"}}
        return {key: resolve(value) for key, value in node.items() if key != "$defs"}

    return resolve(schema)


def compact(schema: dict[str, Any]) -> dict[str, Any]:
    """`compact_schema` for a schema dict. Valid for results too: they are dumped without nulls."""

    def clean(node: Any, in_properties: bool = False) -> Any:
        if isinstance(node, list):
            return [clean(item) for item in node]
        if not isinstance(node, dict):
            return node
        if in_properties:
            return {key: clean(value) for key, value in node.items()}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("title", "examples"):
                continue
            out[key] = clean(value, in_properties=key in ("properties", "$defs"))
        any_of = out.get("anyOf")
        if isinstance(any_of, list) and "default" in out and out["default"] is None:
            branches = [b for b in any_of if b != {"type": "null"}]
            if len(branches) == 1 and isinstance(branches[0], dict):
                merged = {k: v for k, v in out.items() if k not in ("anyOf", "default")}
                return {**branches[0], **merged}
        return out

    return clean(schema)


def lean_output(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema with the contract only: every field, its type, what is required, and no more.

    Output schemas were two thirds of the tool list, paid on every turn. A client reads a result by its
    fields and types; descriptions (the tool's own description and the field names say it), defaults (a
    result is dumped in full), `additionalProperties: true` (JSON Schema's default), the value type of a
    free-form map and titles go, and a definition used once is inlined where it is used.
    """
    schema = compact(schema)
    defs: dict[str, Any] = schema.get("$defs", {})
    uses: dict[str, int] = {}

    def count(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                uses[ref] = uses.get(ref, 0) + 1
            for value in node.values():
                count(value)
        elif isinstance(node, list):
            for value in node:
                count(value)

    def lean(node: Any, in_properties: bool = False) -> Any:
        if isinstance(node, list):
            return [lean(item) for item in node]
        if not isinstance(node, dict):
            return node
        if in_properties:
            return {key: lean(value) for key, value in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and uses.get(ref) == 1:
            return lean({**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}})
        out: dict[str, Any] = {}
        if isinstance(node.get("additionalProperties"), dict) and "properties" not in node:
            return {"type": "object"}  # a free-form map (a budget, a routing table): its keys vary, so no fields
        for key, value in node.items():
            if key in ("description", "default") or (key == "additionalProperties" and value is True):
                continue
            if key == "$defs":
                shared = {name: lean(d) for name, d in value.items() if uses.get(f"#/$defs/{name}", 0) > 1}
                if shared:
                    out[key] = shared
                continue
            out[key] = lean(value, in_properties=key == "properties")
        return out

    count(schema)
    return lean(schema)


def describe_validation_error(op: Operation, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "arguments"
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (see the tool's input schema)"
        elif err["type"] == "missing":
            msg = "required"
        problems.append(f"{field}: {msg}")
    return f"Invalid arguments for {op.name}, nothing was sent. " + "; ".join(problems)


# ------------------------------------------------------------------ tools
def make_tool(op: Operation, runtime: Runtime) -> Tool:
    mode, four_eyes = runtime.settings.consent_mode, runtime.settings.telco_mcp_four_eyes
    if op.local is not None:
        handler = _local_handler(op, runtime)
    else:
        handler = _write_handler(op, runtime) if op.is_write else _read_handler(op, runtime)
    # Every handler has the same signature up to its return type, so the SDK's reading of it (an argument
    # model per tool) is done once per return type and copied: about 2 % of the server's cold start.
    template = _template(handler.__annotations__["return"])
    tool = template.model_copy(
        update={
            "fn": handler,
            "name": op.name,
            "title": op.title,
            "description": op.description,
            "annotations": op.annotations,
            "fn_metadata": template.fn_metadata.model_copy(),  # its output_schema is set below, per tool
        }
    )
    schemas = published_schemas(op)
    if op.is_write:  # the consent field a mode does not use is neither taken nor returned
        tool.fn_metadata.output_schema = for_mode(op, schemas["outputSchema"], mode, four_eyes)
        tool.parameters = for_mode(op, schemas["inputSchema"], mode, four_eyes)
    else:
        tool.fn_metadata.output_schema = schemas["outputSchema"]
        tool.parameters = schemas["inputSchema"]
    tool.operation = op
    tool.runtime = runtime
    return tool


@functools.cache
def _template(returns: Any) -> "CatalogueTool":
    """The SDK's `Tool` for a handler `(args: Any, ctx: Context) -> returns`, to be copied per operation."""

    async def handler(args: Any, ctx: Context) -> Any: ...

    handler.__annotations__ = {"args": Any, "ctx": Context, "return": returns}
    tool = CatalogueTool.from_function(  # classmethod of Tool: builds a CatalogueTool
        handler,
        name="template",
        # The published output schema is set per tool. Results are dumps of the very models it is derived
        # from (see `results.success`), so the SDK's re-validation of every result would only cost time.
        structured_output=False,
    )
    assert isinstance(tool, CatalogueTool)
    return tool


class CatalogueTool(Tool):
    """An SDK tool whose arguments are validated by the operation's strict input model first."""

    operation: Any = Field(default=None, exclude=True)
    runtime: Any = Field(default=None, exclude=True)

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        try:
            args = _gated_model(self.operation).model_validate(arguments)
        except ValidationError as exc:
            metrics.tool_call(self.operation.name, "invalid")
            raise ToolError(describe_validation_error(self.operation, exc)) from None
        caller = current_caller(self.runtime.settings) if self.runtime is not None else None
        request_id = getattr(context, "request_id", "")
        with metrics.in_flight(), logs.tool_call(request_id, self.operation.name, caller and caller.subject):
            return await super().run({"args": args}, context, convert_result)


def _state(ctx: Context[Any, Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    assert isinstance(state, AppState)
    return state


def _read_handler(op: Operation, runtime: Runtime) -> Callable[..., Any]:
    async def handler(args: Any, ctx: Context) -> CallToolResult:
        client = _state(ctx).clients[op.provider]
        hooks = runtime.call_context(client, owner=lambda: binding_key(ctx, runtime))
        try:
            request = await op.build_request(args, hooks)
            response = await client.send(op, request)
            result = await op.read_result(response, args, hooks)
        except TelcoError as exc:
            metrics.tool_call(op.name, "failed")
            return failure(exc, sandbox=client.sandbox)
        metrics.tool_call(op.name, "read")
        return success(op, result, sandbox=client.sandbox)

    handler.__annotations__ = {"args": Any, "ctx": Context, "return": CallToolResult}
    handler.__name__ = handler.__qualname__ = op.name
    return handler


def _local_handler(op: Operation, runtime: Runtime) -> Callable[..., Any]:
    """A tool answered from what the server received itself (pushed call events): nothing is sent."""
    assert op.local is not None
    local = op.local

    async def handler(args: Any, ctx: Context) -> CallToolResult:
        async def progress(done: float, total: float | None, message: str | None) -> None:
            await ctx.report_progress(done, total, message)

        try:
            visible = None
            if op.visible is not None:  # provider policy on what this caller may see (sipgate ownership)
                visible = await op.visible(args, runtime.call_context(_state(ctx).clients[op.provider]))
            result = await local(args, LocalContext(events=runtime.events, progress=progress, visible=visible))
        except TelcoError as exc:
            metrics.tool_call(op.name, "failed")
            return failure(exc, sandbox=runtime.sandbox is not None)
        metrics.tool_call(op.name, "read")
        return success(op, result, sandbox=runtime.sandbox is not None)

    handler.__annotations__ = {"args": Any, "ctx": Context, "return": CallToolResult}
    handler.__name__ = handler.__qualname__ = op.name
    return handler


def _write_handler(op: Operation, runtime: Runtime) -> Callable[..., Any]:
    async def handler(args: Any, ctx: Context) -> CallToolResult | InputRequiredResult:
        call = WriteCall.from_gated(op, runtime, ctx, _state(ctx).clients[op.provider], args)
        return await run_write(call)

    handler.__annotations__ = {"args": Any, "ctx": Context, "return": CallToolResult | InputRequiredResult}
    handler.__name__ = handler.__qualname__ = op.name
    return handler
