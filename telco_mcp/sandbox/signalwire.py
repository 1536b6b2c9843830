"""SignalWire REST routes: Fabric SIP credentials and gateways; Relay REST SIP profile, recordings and
phone numbers; voice and messaging logs.

Every answer is one the upstream spec declares for the operation, in the declared shape, except
the few the live API is known to give otherwise (``deviations.py``): 401/404 are ``{"error": ...}``;
the gateway update's 422 is ``{"errors": [{type, code, message, attribute, url}]}`` and the Relay
REST 422s are ``{"errors": [{detail, status, title, code}]}``. The Fabric lists declare no 422, so
a page that cannot be served (a wrong or missing page token) is 404 there; the recordings list
declares 422 and uses it; so do the voice and messaging log lists, in the Fabric error style their
spec gives them. The phone number list declares neither 404 nor 422: a page it cannot serve is its
declared 400 ``{"error": "Bad Request"}``. Links (``links.self`` and the rest) name the canonical host
``https://{space}.signalwire.com``, as the real API does, whatever host the request came to.
Malformed JSON is 400 ``{"error": "Bad Request"}``.

The writes are stateful: a created gateway is listed and can be read, changed and deleted; a deleted
one is gone; a phone number's new routing is read back; a sent message (201 ``Message.Message``,
``queued``) is the newest messaging log. A gateway create's 422 is in the Fabric style, a phone number
update's in the Relay REST style, and a message's in the Fabric style (``invalid_from_number`` when
``from`` is not an SMS-capable number of the project), each as the spec declares.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telco_mcp.sandbox.bodies import MalformedJSONError, NoNullModel, Problem, StrictModel, read_json, validate_body
from telco_mcp.sandbox.core import SandboxCore
from telco_mcp.sandbox.credentials import SIGNALWIRE_PROJECT_ID, SIGNALWIRE_SPACE
from telco_mcp.sandbox.state import NULL_HANDLER_FIELDS, JSONDict, iso

ErrorStyle = Literal["fabric", "relay"]
Issue = tuple[str, str, str | None]  # (error code, message, attribute)

Codec = Literal[
    "PCMU",
    "PCMA",
    "G722",
    "G729",
    "OPUS",
    "OPUS@48000H@20I",
    "OPUS@24000H@20I",
    "OPUS@16000H@20I",
    "OPUS@8000H@20I",
    "VP8",
    "H264",
]
Cipher = Literal[
    "AEAD_AES_256_GCM_8",
    "AES_256_CM_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_32",
    "AES_CM_128_HMAC_SHA1_32",
]
NonEmpty = Annotated[str, Field(min_length=1, max_length=255)]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ERROR_DOCS = "https://developer.signalwire.com/rest/overview/error-codes"
CANONICAL_ORIGIN = f"https://{SIGNALWIRE_SPACE}.signalwire.com"
"""Where the real API's links point: the space's own host, not the host a request came to."""
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


class SipGatewayRequestUpdate(NoNullModel):
    name: NonEmpty | None = None
    uri: NonEmpty | None = None
    encryption: Literal["required", "optional", "default"] | None = None
    ciphers: list[Cipher] | None = None
    codecs: list[Codec] | None = None  # the spec sets no minimum: [] is a valid update


CallHandler = Literal["default", "passthrough", "block-pstn", "resource"]
SipUsername = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s@]+$")]


Password = Annotated[str, Field(min_length=8, max_length=128)]


class _SipEndpointFields(StrictModel):
    caller_id: str | None = None
    send_as: str | None = None
    ciphers: list[Cipher] | None = None
    codecs: list[Codec] | None = None
    encryption: Literal["required", "optional", "default"] | None = None
    call_handler: CallHandler | None = None
    calling_handler_resource_id: str | None = None


class SipEndpointCreate(_SipEndpointFields):
    """What the live API takes to create a SIP credential: `username` and `password`, the rest optional, no `id`
    (the server assigns it). The spec's `SipEndpointCreateRequest` differs: `deviations.REQUEST_DEVIATIONS`."""

    username: SipUsername
    password: Password


class SipEndpointUpdate(_SipEndpointFields):
    """`SipEndpointUpdateRequest`, plus the optional `password` the live API takes (as above)."""

    username: SipUsername | None = None
    password: Password | None = None


class UpdateSipProfileRequest(StrictModel):
    """All fields optional; present fields replace the stored ones (the rest are kept)."""

    domain_identifier: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] | None = None
    # The spec types these as plain strings (its descriptions list today's values, not an enum).
    default_codecs: list[Annotated[str, Field(min_length=1)]] | None = None
    default_ciphers: list[Annotated[str, Field(min_length=1)]] | None = None
    default_encryption: Literal["required", "optional"] | None = None
    # "Specify null or an empty string to randomly choose a purchased or verified number".
    default_send_as: Annotated[str, Field(pattern=r"^(\+[1-9][0-9]{6,14})?$")] | None = None

    @field_validator("domain_identifier", "default_codecs", "default_ciphers", "default_encryption", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


class SipGatewayRequest(StrictModel):
    """``SipGatewayRequest``: all five fields are required."""

    name: NonEmpty
    uri: NonEmpty
    encryption: Literal["required", "optional", "default"]
    ciphers: list[Cipher]
    codecs: list[Codec]


HttpMethod = Literal["GET", "POST"]


class UpdatePhoneNumberRequest(NoNullModel):
    """``UpdatePhoneNumberRequest``: every field optional; present fields replace the stored ones."""

    name: str | None = None
    call_handler: (
        Literal[
            "relay_context", "relay_topic", "relay_script", "relay_application", "relay_connector",
            "relay_sip_endpoint", "relay_verto_endpoint", "laml_webhooks", "laml_application", "dialogflow",
            "video_room",
        ]
        | None
    ) = None  # fmt: skip
    call_receive_mode: str | None = None
    call_request_url: str | None = None
    call_request_method: HttpMethod | None = None
    call_fallback_url: str | None = None
    call_fallback_method: HttpMethod | None = None
    call_status_callback_url: str | None = None
    call_status_callback_method: HttpMethod | None = None
    call_laml_application_id: str | None = None
    call_dialogflow_agent_id: str | None = None
    call_relay_topic: str | None = None
    call_relay_topic_status_callback_url: str | None = None
    call_relay_script_url: str | None = None
    call_relay_context: str | None = None
    call_relay_context_status_callback_url: str | None = None
    call_relay_application: str | None = None
    call_relay_connector_id: str | None = None
    call_sip_endpoint_id: str | None = None
    call_verto_resource: str | None = None
    call_video_room_id: Annotated[str, Field(pattern=_UUID.pattern)] | None = None
    message_handler: (
        Literal["relay_context", "relay_topic", "relay_application", "laml_webhooks", "laml_application"] | None
    ) = None
    message_request_url: str | None = None
    message_request_method: HttpMethod | None = None
    message_fallback_url: str | None = None
    message_fallback_method: HttpMethod | None = None
    message_laml_application_id: str | None = None
    message_relay_topic: str | None = None
    message_relay_context: str | None = None
    message_relay_application: str | None = None


class CreateMessageRequest(StrictModel):
    """``Message.CreateMessageRequest`` (SMS and MMS)."""

    to: Annotated[str, Field(pattern=r"^\+?[0-9]{3,17}$")]
    from_: Annotated[str, Field(alias="from", min_length=1)]
    body: str | None = None
    media: Annotated[list[Annotated[str, Field(pattern=r"^https?://")]], Field(max_length=8)] | None = None
    send_as_mms: bool | None = None
    status_callback: Annotated[str, Field(pattern=r"^https?://")] | None = None
    custom_variables: Annotated[dict[str, str], Field(max_length=20)] | None = None


# --------------------------------------------------------------------------------------------- responses


def not_found() -> JSONResponse:
    return JSONResponse({"error": "Not Found"}, status_code=404)


def bad_request() -> JSONResponse:
    return JSONResponse({"error": "Bad Request"}, status_code=400)


def fabric_error(code: str, message: str, attribute: str | None) -> JSONDict:
    return {
        "type": "validation_error",
        "code": code,
        "message": message,
        "attribute": attribute,
        "url": f"{_ERROR_DOCS}#{code}",
    }


def relay_error(code: str, detail: str) -> JSONDict:
    return {"detail": detail, "status": "422", "title": "Invalid Parameter", "code": code}


def unprocessable(style: ErrorStyle, issues: Sequence[Issue]) -> JSONResponse:
    """422 in the style of the API family; ``issues`` are ``(code, message, attribute)``."""
    if style == "fabric":
        errors = [fabric_error(code, message, attribute) for code, message, attribute in issues]
    else:
        errors = [relay_error(code, message) for code, message, _ in issues]
    return JSONResponse({"errors": errors}, status_code=422)


def body_unprocessable(style: ErrorStyle, found: list[Problem]) -> JSONResponse:
    code = {"missing": "missing_required_parameter"}
    return unprocessable(style, [(code.get(p.kind, "invalid_parameter"), p.message, p.attribute) for p in found])


# --------------------------------------------------------------------------------------------- pagination


def _page_token(seed: int, resource: str, page_number: int, page_size: int) -> str:
    """Opaque but deterministic: the only token accepted for that page of that listing."""
    name = f"telco-mcp-sandbox:{seed}:{resource}:{page_number}:{page_size}"
    return "PA" + str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _int_param(request: Request, name: str, default: int, low: int, high: int, issues: list[Issue]) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]+", raw) or not low <= int(raw) <= high:
        issues.append(("invalid_parameter", f"{name} must be an integer between {low} and {high}", name))
        return default
    return int(raw)


# carried into the links
_KEPT_FILTERS = ("created_after", "created_before", "created_on", "include_deleted", "filter_name", "filter_number")


def created_window(request: Request, items: list[JSONDict]) -> list[JSONDict] | JSONResponse:
    """The logs' `created_after` / `created_before` / `created_on` filters (dates or ISO 8601 times; 422 else) and
    `include_deleted` (the discarded logs, left out unless it is true)."""
    bounds: dict[str, datetime] = {}
    for name in ("created_after", "created_before", "created_on"):
        raw = request.query_params.get(name)
        if raw is None:
            continue
        try:
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return unprocessable("fabric", [("invalid_parameter", f"{name} must be a date or an ISO 8601 time", name)])
        bounds[name] = when if when.tzinfo else when.replace(tzinfo=UTC)

    def created(item: JSONDict) -> datetime:
        return datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00"))

    deleted = request.query_params.get("include_deleted", "false")
    if deleted not in ("true", "false"):
        return unprocessable(
            "fabric", [("invalid_parameter", "include_deleted must be true or false", "include_deleted")]
        )
    # A log of deleted activity (discarded) is listed only when asked for.
    kept = items if deleted == "true" else [i for i in items if "discarded_at" not in i]
    if "created_after" in bounds:
        kept = [i for i in kept if created(i) > bounds["created_after"]]
    if "created_before" in bounds:
        kept = [i for i in kept if created(i) < bounds["created_before"]]
    if "created_on" in bounds:
        kept = [i for i in kept if created(i).date() == bounds["created_on"].date()]
    return kept


def paginate(
    request: Request,
    items: list[JSONDict],
    *,
    resource: str,
    seed: int,
    style: ErrorStyle,
    refuse: Callable[[list[Issue]], JSONResponse] | None = None,
) -> JSONResponse:
    """One page of ``items``; a page that cannot be served is ``refuse(issues)`` when given, else 422
    where the list declares it (the Relay REST lists) and 404 where it does not (the Fabric lists)."""
    issues: list[Issue] = []
    page_size = _int_param(request, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE, issues)
    page_number = _int_param(request, "page_number", 0, 0, 10**9, issues)
    token = request.query_params.get("page_token")
    if not issues and page_number > 0 and not token:
        required = "page_token is required when page_number is greater than 0"
        issues.append(("page_token_required", required, "page_token"))
    if not issues and token is not None and token != _page_token(seed, resource, page_number, page_size):
        issues.append(("invalid_parameter", "page_token is invalid for this page", "page_token"))
    if issues:
        if refuse is not None:
            return refuse(issues)
        return unprocessable(style, issues) if style == "relay" else not_found()

    base = f"{CANONICAL_ORIGIN}{request.url.path}"

    def link(number: int) -> str:
        query: dict[str, str | int] = {k: v for k, v in request.query_params.items() if k in _KEPT_FILTERS}
        query |= {"page_number": number, "page_size": page_size}
        if number > 0:
            query["page_token"] = _page_token(seed, resource, number, page_size)
        return f"{base}?{urlencode(query)}"

    start = page_number * page_size
    page = items[start : start + page_size]
    links: dict[str, str] = {"self": link(page_number), "first": link(0)}
    if start + page_size < len(items):
        links["next"] = link(page_number + 1)
    if page_number > 0:
        links["prev"] = link(page_number - 1)
    return JSONResponse({"data": page, "links": links})


# --------------------------------------------------------------------------------------------- routes


def _lookup(table: dict[str, JSONDict], raw_id: str) -> JSONDict | None:
    if not _UUID.match(raw_id):
        return None
    return table.get(raw_id.lower())


class SignalWireApi:
    def __init__(self, sandbox: SandboxCore) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        fabric = "/api/fabric/resources"
        relay = "/api/relay/rest"
        return [
            Route(f"{fabric}/sip_endpoints", self.list_sip_endpoints, methods=["GET"]),
            Route(f"{fabric}/sip_endpoints", self.create_sip_endpoint, methods=["POST"]),
            Route(f"{fabric}/sip_endpoints/{{id}}", self.get_sip_endpoint, methods=["GET"]),
            Route(f"{fabric}/sip_endpoints/{{id}}", self.update_sip_endpoint, methods=["PUT"]),
            Route(f"{fabric}/sip_endpoints/{{id}}", self.delete_sip_endpoint, methods=["DELETE"]),
            Route(f"{fabric}/sip_gateways", self.list_sip_gateways, methods=["GET"]),
            Route(f"{fabric}/sip_gateways", self.create_sip_gateway, methods=["POST"]),
            Route(f"{fabric}/sip_gateways/{{id}}", self.get_sip_gateway, methods=["GET"]),
            Route(f"{fabric}/sip_gateways/{{id}}", self.update_sip_gateway, methods=["PATCH"]),
            Route(f"{fabric}/sip_gateways/{{id}}", self.delete_sip_gateway, methods=["DELETE"]),
            Route(f"{relay}/sip_profile", self.get_sip_profile, methods=["GET"]),
            Route(f"{relay}/sip_profile", self.update_sip_profile, methods=["PUT"]),
            Route(f"{relay}/recordings", self.list_recordings, methods=["GET"]),
            Route(f"{relay}/recordings/{{id}}", self.get_recording, methods=["GET"]),
            Route(f"{relay}/recordings/{{id}}", self.delete_recording, methods=["DELETE"]),
            Route(f"{relay}/phone_numbers", self.list_phone_numbers, methods=["GET"]),
            Route(f"{relay}/phone_numbers/{{id}}", self.get_phone_number, methods=["GET"]),
            Route(f"{relay}/phone_numbers/{{id}}", self.update_phone_number, methods=["PUT"]),
            Route("/api/voice/logs", self.list_voice_logs, methods=["GET"]),
            Route("/api/voice/logs/{id}", self.get_voice_log, methods=["GET"]),
            Route("/api/messaging/logs", self.list_messaging_logs, methods=["GET"]),
            Route("/api/messaging/messages", self.send_message, methods=["POST"]),
        ]

    def _now(self) -> str:
        return iso(datetime.fromtimestamp(self.sb.clock(), tz=UTC))

    # ---- SIP credentials (Fabric "sip_endpoints")

    async def list_sip_endpoints(self, request: Request) -> Response:
        # The spec declares an array of list responses; the real API (and SignalWire's SDK) use one object.
        items = list(self.sb.state.signalwire.sip_endpoints.values())
        return paginate(request, items, resource="sip_endpoints", seed=self.sb.seed, style="fabric")

    async def get_sip_endpoint(self, request: Request) -> Response:
        endpoint = _lookup(self.sb.state.signalwire.sip_endpoints, request.path_params["id"])
        return not_found() if endpoint is None else JSONResponse(endpoint)

    def _taken(self, username: str, other_than: str | None = None) -> JSONResponse | None:
        """422 when another credential of the project already has this username (usernames are unique)."""
        for endpoint in self.sb.state.signalwire.sip_endpoints.values():
            if endpoint["username"] == username and endpoint["id"] != other_than:
                issue = ("username_taken", "Username has already been taken", "username")
                return unprocessable("fabric", [issue])
        return None

    async def create_sip_endpoint(self, request: Request) -> Response:
        try:
            data = await read_json(request)
        except MalformedJSONError:
            return bad_request()
        body = validate_body(SipEndpointCreate, data)
        if isinstance(body, list):
            return body_unprocessable("fabric", body)
        if (taken := self._taken(body.username)) is not None:
            return taken
        state = self.sb.state.signalwire
        endpoint: JSONDict = {"type": "sip_endpoint", "id": self.sb.state.new_uuid()}
        endpoint.update(dict.fromkeys(NULL_HANDLER_FIELDS))
        fields = body.model_dump(exclude={"password"})
        profile = state.sip_profile
        endpoint.update(
            username=body.username,
            caller_id=fields["caller_id"],
            send_as=fields["send_as"] or "random",
            ciphers=fields["ciphers"] if fields["ciphers"] is not None else list(profile.get("default_ciphers") or []),
            codecs=fields["codecs"] if fields["codecs"] is not None else list(profile.get("default_codecs") or []),
            encryption=fields["encryption"] or "default",
            # The request's call_handler is the OUTBOUND policy (default, passthrough, ...); the answer's field of
            # the same name is the INBOUND handler (relay_script, ...), of which a new credential has none.
            call_handler=None,
            calling_handler_resource_id=fields["calling_handler_resource_id"],
        )
        state.sip_endpoints = {endpoint["id"]: endpoint, **state.sip_endpoints}
        state.sip_passwords[endpoint["id"]] = body.password
        return JSONResponse(endpoint)

    async def update_sip_endpoint(self, request: Request) -> Response:
        endpoint = _lookup(self.sb.state.signalwire.sip_endpoints, request.path_params["id"])
        if endpoint is None:
            return not_found()
        try:
            data = await read_json(request)
        except MalformedJSONError:
            return bad_request()
        body = validate_body(SipEndpointUpdate, data)
        if isinstance(body, list):
            return body_unprocessable("fabric", body)
        if body.username is not None and (taken := self._taken(body.username, endpoint["id"])) is not None:
            return taken
        # call_handler: the outbound policy, not the inbound handler the answer lists under that name (see above)
        changes = body.model_dump(exclude_unset=True, exclude={"password", "call_handler"})
        endpoint.update(changes)
        if body.password is not None:
            self.sb.state.signalwire.sip_passwords[endpoint["id"]] = body.password
        return JSONResponse(endpoint)

    async def delete_sip_endpoint(self, request: Request) -> Response:
        state = self.sb.state.signalwire
        endpoint = _lookup(state.sip_endpoints, request.path_params["id"])
        if endpoint is None:
            return not_found()
        del state.sip_endpoints[endpoint["id"]]
        state.sip_passwords.pop(endpoint["id"], None)
        return Response(status_code=204)

    # ---- SIP gateways

    async def list_sip_gateways(self, request: Request) -> Response:
        items = list(self.sb.state.signalwire.sip_gateways.values())
        return paginate(request, items, resource="sip_gateways", seed=self.sb.seed, style="fabric")

    async def get_sip_gateway(self, request: Request) -> Response:
        gateway = _lookup(self.sb.state.signalwire.sip_gateways, request.path_params["id"])
        return not_found() if gateway is None else JSONResponse(gateway)

    async def update_sip_gateway(self, request: Request) -> Response:
        gateway = _lookup(self.sb.state.signalwire.sip_gateways, request.path_params["id"])
        if gateway is None:
            return not_found()
        try:
            data = await read_json(request)
        except MalformedJSONError:
            return bad_request()
        update = validate_body(SipGatewayRequestUpdate, data)
        if isinstance(update, list):
            return body_unprocessable("fabric", update)
        changes = update.model_dump(exclude_unset=True)
        gateway["sip_gateway"].update(changes)
        if "name" in changes:
            gateway["display_name"] = changes["name"]
        gateway["updated_at"] = self._now()
        return JSONResponse(gateway)

    async def create_sip_gateway(self, request: Request) -> Response:
        try:
            data = await read_json(request)
        except MalformedJSONError:
            return bad_request()
        create = validate_body(SipGatewayRequest, data)
        if isinstance(create, list):
            return body_unprocessable("fabric", create)
        now, resource_id = self._now(), self.sb.state.new_uuid()
        gateway: JSONDict = {
            "id": resource_id,
            "project_id": SIGNALWIRE_PROJECT_ID,
            "display_name": create.name,
            "type": "sip_gateway",
            "created_at": now,
            "updated_at": now,
            "sip_gateway": {"id": self.sb.state.new_uuid()} | create.model_dump(),
        }
        self.sb.state.signalwire.sip_gateways[resource_id] = gateway
        return JSONResponse(gateway, status_code=201)

    async def delete_sip_gateway(self, request: Request) -> Response:
        gateway = _lookup(self.sb.state.signalwire.sip_gateways, request.path_params["id"])
        if gateway is None:
            return not_found()
        del self.sb.state.signalwire.sip_gateways[gateway["id"]]
        return Response(status_code=204)

    # ---- SIP profile

    async def get_sip_profile(self, request: Request) -> Response:
        return JSONResponse(self.sb.state.signalwire.sip_profile)

    async def update_sip_profile(self, request: Request) -> Response:
        try:
            data = await read_json(request)
        except MalformedJSONError:
            return bad_request()
        update = validate_body(UpdateSipProfileRequest, data)
        if isinstance(update, list):
            return body_unprocessable("relay", update)
        profile = self.sb.state.signalwire.sip_profile
        changes = update.model_dump(exclude_unset=True)
        if "default_send_as" in changes and changes["default_send_as"] is None:
            changes["default_send_as"] = ""
        profile.update(changes)
        if "domain_identifier" in changes:
            profile["domain"] = f"{SIGNALWIRE_SPACE}-{changes['domain_identifier']}.sip.signalwire.com"
        return JSONResponse(profile, status_code=201)

    # ---- recordings

    async def list_recordings(self, request: Request) -> Response:
        items = list(self.sb.state.signalwire.recordings.values())
        return paginate(request, items, resource="recordings", seed=self.sb.seed, style="relay")

    async def get_recording(self, request: Request) -> Response:
        recording = _lookup(self.sb.state.signalwire.recordings, request.path_params["id"])
        return not_found() if recording is None else JSONResponse(recording)

    async def delete_recording(self, request: Request) -> Response:
        recording = _lookup(self.sb.state.signalwire.recordings, request.path_params["id"])
        if recording is None:
            return not_found()
        del self.sb.state.signalwire.recordings[recording["id"]]
        return Response(status_code=204)

    # ---- phone numbers

    async def list_phone_numbers(self, request: Request) -> Response:
        name, number = request.query_params.get("filter_name"), request.query_params.get("filter_number")
        items = [
            n
            for n in self.sb.state.signalwire.phone_numbers.values()
            if (name is None or name.lower() in str(n.get("name") or "").lower())
            and (number is None or number in n["number"])
        ]  # both filters: "containing this value as a substring"
        return paginate(
            request, items, resource="phone_numbers", seed=self.sb.seed, style="relay", refuse=lambda _: bad_request()
        )

    async def get_phone_number(self, request: Request) -> Response:
        number = _lookup(self.sb.state.signalwire.phone_numbers, request.path_params["id"])
        return not_found() if number is None else JSONResponse(number)

    async def update_phone_number(self, request: Request) -> Response:
        number = _lookup(self.sb.state.signalwire.phone_numbers, request.path_params["id"])
        if number is None:
            return not_found()
        try:
            data = await read_json(request)
        except MalformedJSONError:
            return bad_request()
        update = validate_body(UpdatePhoneNumberRequest, data)
        if isinstance(update, list):
            return body_unprocessable("relay", update)
        changes = update.model_dump(exclude_unset=True)
        # A new handler replaces the Fabric resource that handled the number's calls or messages.
        if "call_handler" in changes:
            number["calling_handler_resource_id"] = None
        if "message_handler" in changes:
            number["messaging_handler_resource_id"] = None
        number.update(changes)
        number["updated_at"] = self._now()
        return JSONResponse(number)

    # ---- messages (SMS and MMS; the 422s are in the Fabric style, as the spec declares)

    async def send_message(self, request: Request) -> Response:
        try:
            data = await read_json(request)
        except MalformedJSONError:
            return bad_request()
        message = validate_body(CreateMessageRequest, data)
        if isinstance(message, list):
            return body_unprocessable("fabric", message)
        if not message.body and not message.media:
            return _fabric_422([("missing_required_parameter", "Body is required when no media is given", "body")])
        ours = next((n for n in self.sb.state.signalwire.phone_numbers.values() if n["number"] == message.from_), None)
        if ours is None or "sms" not in ours["capabilities"]:
            issue = (
                "From must be a valid purchased phone number or WhatsApp business number from your SignalWire project."
            )
            return _fabric_422([("invalid_from_number", issue, "from")])
        kind = "mms" if message.media or message.send_as_mms else "sms"
        segments = 1 if kind == "mms" else _segments(message.body or "")
        now, message_id = self._now(), self.sb.state.new_uuid()
        sent: JSONDict = {
            "id": message_id,
            "from": message.from_,
            "to": message.to,
            "body": message.body or "",
            "status": "queued",
            "direction": "outbound",
            "kind": kind,
            "media": message.media or [],
            "number_of_segments": segments,
            "error_code": None,
            "error_message": None,
            "created_at": now,
            "project_id": SIGNALWIRE_PROJECT_ID,
            "status_callback_url": message.status_callback,
            "message_uri": f"/api/messaging/logs/{message_id}",
        }
        charge = round(segments * (0.02 if kind == "mms" else 0.0079), 4)
        log: JSONDict = {
            key: sent[key] for key in ("id", "from", "to", "status", "kind", "number_of_segments", "created_at")
        } | {
            "direction": "outbound-api",
            "source": "realtime_api",
            "type": "relay_message",
            "url": None,
            "charge": charge,
            "charge_details": [{"description": f"{kind.upper()} segments", "charge": charge}],
            "error_message": None,
            "error_code": None,
        }
        logs = self.sb.state.signalwire
        logs.messaging_logs = {message_id: log} | logs.messaging_logs  # newest first
        return JSONResponse(sent, status_code=201)

    # ---- voice and messaging logs (their 422s are in the Fabric style: {errors: [{type, code, ...}]})

    async def list_voice_logs(self, request: Request) -> Response:
        items = created_window(request, list(self.sb.state.signalwire.voice_logs.values()))
        if isinstance(items, JSONResponse):
            return items
        return paginate(request, items, resource="voice_logs", seed=self.sb.seed, style="fabric", refuse=_fabric_422)

    async def get_voice_log(self, request: Request) -> Response:
        log = _lookup(self.sb.state.signalwire.voice_logs, request.path_params["id"])
        return not_found() if log is None else JSONResponse(log)

    async def list_messaging_logs(self, request: Request) -> Response:
        items = created_window(request, list(self.sb.state.signalwire.messaging_logs.values()))
        if isinstance(items, JSONResponse):
            return items
        return paginate(
            request, items, resource="messaging_logs", seed=self.sb.seed, style="fabric", refuse=_fabric_422
        )


def _segments(text: str) -> int:
    """SMS segments: GSM-7 (160, 153 per part) for plain ASCII, else UCS-2 (70, 67 per part)."""
    single, part = (160, 153) if text.isascii() else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // part)


def _fabric_422(issues: list[Issue]) -> JSONResponse:
    return unprocessable("fabric", issues)
