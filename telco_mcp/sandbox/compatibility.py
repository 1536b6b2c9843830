"""SignalWire's Compatibility (LaML) API in the sandbox: calls, conferences, queues and the project's numbers.

Under `/api/laml/2010-04-01/Accounts/{AccountSid}` (the sandbox project's id; another AccountSid is 401). Every
answer is the one `signalwire-compatibility-openapi.yaml` declares, in the declared shape: lists are
`{uri, first_page_uri, next_page_uri, previous_page_uri, page, page_size, <key>}` paged with `Page`, `PageSize` and
`PageToken`; errors are `CompatibilityErrorResponse` (`{code, message, more_info, status}`), and a call create's
invalid body is its declared 400 `{errors: [{code, message, more_info}]}`.

Writes are form bodies (`application/x-www-form-urlencoded`), checked field by field against the spec's request
schemas (an unknown field is refused, naming it). The state is seeded on first use and is stateful: a started call
is listed (queued); hanging it up completes or cancels it and takes it out of its conference or queue; a
participant's mute and hold change and are read back; a removed participant is gone and its call completed.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode

from pydantic import Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telco_mcp.sandbox.bodies import StrictModel, problems
from telco_mcp.sandbox.core import SandboxCore
from telco_mcp.sandbox.credentials import SIGNALWIRE_PROJECT_ID
from telco_mcp.sandbox.seed import SEED_REFERENCE_TIME
from telco_mcp.sandbox.state import JSONDict

BASE = "/api/laml/2010-04-01"
ACCOUNT = f"{BASE}/Accounts/{{AccountSid}}"
MORE_INFO = "https://signalwire.com/docs/compatibility-api/reference/errors"
LIVE = ("queued", "ringing", "in-progress")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_E164 = r"^\+[1-9][0-9]{6,14}$"
Verb = Literal["GET", "POST"]
Link = Annotated[str, Field(pattern=r"^https?://")]
Bool = Literal["true", "false", "True", "False"]


def rfc2822(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC)).replace("-0000", "+0000")


# --------------------------------------------------------------------------------------------- request bodies


class CreateCallForm(StrictModel):
    """`CreateCallRequest` (the fields the sandbox simulates; the rest of the spec's are refused as unknown)."""

    To: Annotated[str, Field(pattern=_E164)]
    From: Annotated[str, Field(pattern=_E164)]
    Url: Link | None = None
    ApplicationSid: str | None = None
    Method: Verb | None = None
    FallbackUrl: Link | None = None
    FallbackMethod: Verb | None = None
    StatusCallback: Link | None = None
    StatusCallbackMethod: Verb | None = None
    Timeout: Annotated[str, Field(pattern=r"^[0-9]{1,3}$")] | None = None
    CallerId: str | None = None
    SendDigits: Annotated[str, Field(pattern=r"^[\d#*wW]{1,32}$")] | None = None


class UpdateCallForm(StrictModel):
    """`UpdateCallRequest`."""

    Url: Link | None = None
    Method: Verb | None = None
    Status: Literal["canceled", "completed"] | None = None
    FallbackUrl: Link | None = None
    FallbackMethod: Verb | None = None
    StatusCallback: Link | None = None
    StatusCallbackMethod: Verb | None = None


class UpdateParticipantForm(StrictModel):
    """`UpdateConferenceParticipantRequest` (without coaching, which the sandbox does not simulate)."""

    Muted: Bool | None = None
    Hold: Bool | None = None
    HoldUrl: Link | None = None
    HoldMethod: Verb | None = None
    AnnounceUrl: Link | None = None
    AnnounceMethod: Verb | None = None
    WaitUrl: Link | None = None
    WaitMethod: Verb | None = None


# --------------------------------------------------------------------------------------------- answers


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "more_info": MORE_INFO, "status": status}, status_code=status
    )


def not_found(what: str, sid: str) -> JSONResponse:
    return error(404, 20404, f"The requested resource {what} {sid} was not found")


async def read_form(request: Request) -> dict[str, str] | JSONResponse:
    """The form body as a dict (a repeated field is refused: none of these bodies has a list)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return error(400, 21100, "The request body must be application/x-www-form-urlencoded")
    pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            return error(422, 21100, f"{name} is given more than once")
        form[name] = value
    return form


def invalid(model: type[StrictModel], form: dict[str, str]) -> list[str] | StrictModel:
    try:
        return model.model_validate(form)
    except ValidationError as exc:
        return [p.message for p in problems(exc)]


class CompatibilityApi:
    def __init__(self, sandbox: SandboxCore) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        return [
            Route(f"{ACCOUNT}/Calls", self.list_calls, methods=["GET"]),
            Route(f"{ACCOUNT}/Calls", self.create_call, methods=["POST"]),
            Route(f"{ACCOUNT}/Calls/{{Sid}}", self.get_call, methods=["GET"]),
            Route(f"{ACCOUNT}/Calls/{{Sid}}", self.update_call, methods=["POST"]),
            Route(f"{ACCOUNT}/Conferences", self.list_conferences, methods=["GET"]),
            Route(f"{ACCOUNT}/Conferences/{{ConferenceSid}}/Participants", self.list_participants, methods=["GET"]),
            Route(
                f"{ACCOUNT}/Conferences/{{ConferenceSid}}/Participants/{{CallSid}}",
                self.get_participant,
                methods=["GET"],
            ),  # fmt: skip
            Route(
                f"{ACCOUNT}/Conferences/{{ConferenceSid}}/Participants/{{CallSid}}",
                self.update_participant,
                methods=["POST"],
            ),  # fmt: skip
            Route(
                f"{ACCOUNT}/Conferences/{{ConferenceSid}}/Participants/{{CallSid}}",
                self.remove_participant,
                methods=["DELETE"],
            ),  # fmt: skip
            Route(f"{ACCOUNT}/Queues", self.list_queues, methods=["GET"]),
            Route(f"{ACCOUNT}/Queues/{{QueueSid}}/Members", self.list_members, methods=["GET"]),
            Route(f"{ACCOUNT}/IncomingPhoneNumbers", self.list_numbers, methods=["GET"]),
        ]

    # ---- state

    @property
    def laml(self) -> JSONDict:
        """The calls, conferences and queues, seeded (deterministically) the first time they are read."""
        laml = self.sb.state.signalwire.laml
        if not laml:
            laml.update(self._seed())
        return laml

    def _sid(self, name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"telco-mcp-sandbox:{self.sb.seed}:laml:{name}"))

    def _uri(self, *segments: str) -> str:
        return "/".join([f"{BASE}/Accounts/{SIGNALWIRE_PROJECT_ID}", *segments]) + ".json"

    def _call(self, sid: str, frm: str, to: str, status: str, direction: str, started: datetime | None) -> JSONDict:
        ours = {n["number"]: n["id"] for n in self.sb.state.signalwire.phone_numbers.values()}
        when = rfc2822(started or SEED_REFERENCE_TIME)
        return {
            "sid": sid, "account_sid": SIGNALWIRE_PROJECT_ID, "date_created": when, "date_updated": when,
            "parent_call_sid": None, "to": to, "formatted_to": to, "to_formatted": to, "from": frm,
            "formatted_from": frm, "from_formatted": frm,
            "phone_number_sid": ours.get(frm if direction == "outbound" else to), "status": status,
            "start_time": rfc2822(started) if started else None, "end_time": None, "duration": 0, "price": None,
            "price_unit": "USD", "direction": direction, "answered_by": None, "api_version": "2010-04-01",
            "forwarded_from": None, "caller_name": None, "uri": self._uri("Calls", sid),
            "subresource_uris": {"notifications": None, "recordings": self._uri("Calls", sid, "Recordings")},
            "annotation": None, "group_sid": None, "audio_in_mos": None, "sip_result_code": None,
            "audio_rtt_avg": None, "audio_rtt_min": None, "audio_rtt_max": None, "audio_out_jitter_min": None,
            "audio_out_jitter_max": None, "audio_out_jitter_avg": None, "audio_out_lost": None,
        }  # fmt: skip

    def _seed(self) -> JSONDict:
        ref = SEED_REFERENCE_TIME
        numbers = [n["number"] for n in self.sb.state.signalwire.phone_numbers.values()]
        main, support = numbers[0], numbers[1] if len(numbers) > 1 else numbers[0]
        calls = [
            self._call(self._sid("call-bridge-1"), main, "+12025550181", "in-progress", "outbound",
                       ref - timedelta(minutes=12)),
            self._call(self._sid("call-bridge-2"), "+12025550182", main, "in-progress", "inbound",
                       ref - timedelta(minutes=11)),
            self._call(self._sid("call-waiting"), "+12025550183", support, "in-progress", "inbound",
                       ref - timedelta(minutes=3)),
            self._call(self._sid("call-earlier"), main, "+12025550184", "completed", "outbound",
                       ref - timedelta(hours=5)),
        ]  # fmt: skip
        calls[3].update(end_time=rfc2822(ref - timedelta(hours=5) + timedelta(seconds=184)), duration=184)
        conference = self._sid("conference-ops")
        when = rfc2822(ref - timedelta(minutes=12))
        conferences = [
            {
                "sid": conference, "account_sid": SIGNALWIRE_PROJECT_ID, "date_created": when, "date_updated": when,
                "friendly_name": "Ops bridge", "status": "in-progress", "api_version": "2010-04-01", "region": "us1",
                "uri": self._uri("Conferences", conference),
                "subresource_uris": {"participants": self._uri("Conferences", conference, "Participants"),
                                     "recordings": self._uri("Conferences", conference, "Recordings")},
            }
        ]  # fmt: skip
        participants = {conference: [self._participant(conference, c["sid"], c["date_created"]) for c in calls[:2]]}
        queue = self._sid("queue-support")
        queues = [
            {
                "sid": queue, "account_sid": SIGNALWIRE_PROJECT_ID, "friendly_name": "Support", "max_size": 100,
                "current_size": 1, "average_wait_time": 180, "date_created": rfc2822(ref - timedelta(days=30)),
                "date_updated": rfc2822(ref - timedelta(minutes=3)), "api_version": "2010-04-01",
                "uri": self._uri("Queues", queue),
            }
        ]  # fmt: skip
        members = {
            queue: [
                {
                    "call_sid": calls[2]["sid"], "account_sid": SIGNALWIRE_PROJECT_ID, "queue_sid": queue,
                    "date_enqueued": calls[2]["date_created"], "position": 1, "wait_time": 180,
                    "member_type": "call", "uri": self._uri("Queues", queue, "Members", calls[2]["sid"]),
                }
            ]
        }  # fmt: skip
        return {
            "calls": {c["sid"]: c for c in calls},
            "conferences": conferences,
            "participants": participants,
            "queues": queues,
            "members": members,
        }

    def _participant(self, conference: str, call_sid: str, when: str) -> JSONDict:
        return {
            "account_sid": SIGNALWIRE_PROJECT_ID, "call_sid": call_sid, "call_sid_to_coach": None, "coaching": False,
            "conference_sid": conference, "date_created": when, "status": "in-progress", "date_updated": when,
            "end_conference_on_exit": False, "muted": False, "hold": False, "start_conference_on_enter": True,
            "uri": self._uri("Conferences", conference, "Participants", call_sid),
        }  # fmt: skip

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.sb.clock(), tz=UTC)

    # ---- shared checks

    @staticmethod
    def _account(request: Request) -> JSONResponse | None:
        if request.path_params["AccountSid"] != SIGNALWIRE_PROJECT_ID:
            return error(401, 20003, "Authentication failed")
        return None

    def _page(self, request: Request, items: list[JSONDict], key: str, kept: tuple[str, ...] = ()) -> JSONResponse:
        query = request.query_params
        size_raw, page_raw, token = query.get("PageSize", "50"), query.get("Page", "0"), query.get("PageToken")
        if not (size_raw.isdigit() and 1 <= int(size_raw) <= 1000):
            return error(400, 20005, "PageSize must be an integer between 1 and 1000")
        if not page_raw.isdigit():
            return error(400, 20005, "Page must be a non-negative integer")
        size, page = int(size_raw), int(page_raw)
        path = request.url.path

        def token_for(number: int) -> str:
            return "PA" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.sb.seed}:{path}:{number}:{size}"))

        if page > 0 and token != token_for(page):
            return error(400, 20005, "PageToken is missing or invalid for this page")

        def uri(number: int) -> str:
            params = [(k, v) for k, v in query.multi_items() if k in kept]
            params += [("Page", str(number)), ("PageSize", str(size))]
            if number > 0:
                params.append(("PageToken", token_for(number)))
            return f"{path}?{urlencode(params)}"

        start = page * size
        more = start + size < len(items)
        return JSONResponse({
            "uri": uri(page), "first_page_uri": uri(0), "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None, "page": page, "page_size": size,
            key: items[start : start + size],
        })  # fmt: skip

    def _find_call(self, sid: str) -> JSONDict | None:
        return self.laml["calls"].get(sid.lower()) if _UUID.match(sid.lower()) else None

    def _end(self, call: JSONDict, status: str) -> None:
        """The call ends: it leaves any conference and queue it is in."""
        now = self._now()
        call.update(status=status, date_updated=rfc2822(now))
        if status == "completed" and call["start_time"]:
            started = datetime.strptime(call["start_time"], "%a, %d %b %Y %H:%M:%S %z")
            call.update(end_time=rfc2822(now), duration=max(0, int((now - started).total_seconds())))
        for participants in self.laml["participants"].values():
            participants[:] = [p for p in participants if p["call_sid"] != call["sid"]]
        for queue in self.laml["queues"]:
            members = self.laml["members"].get(queue["sid"], [])
            members[:] = [m for m in members if m["call_sid"] != call["sid"]]
            for position, member in enumerate(members, start=1):
                member["position"] = position
            queue["current_size"] = len(members)

    # ---- calls

    async def list_calls(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        query = request.query_params
        calls = sorted(self.laml["calls"].values(), key=lambda c: _when(c["date_created"]), reverse=True)
        for name, field in (("Status", "status"), ("From", "from"), ("To", "to")):
            if (wanted := query.get(name)) is not None:
                calls = [c for c in calls if c[field] == wanted]
        for name, after in (("StartTime>", True), ("StartTime<", False)):
            if (raw := query.get(name)) is None:
                continue
            try:
                bound = _parse_time(raw)
            except ValueError:
                return error(
                    400, 20001, f"{name} must be a date (YYYY-MM-DD), an ISO 8601 UTC time or an RFC 2822 time"
                )
            calls = [c for c in calls if c["start_time"] and (_when(c["start_time"]) > bound) == after]
        kept = ("Status", "From", "To", "StartTime>", "StartTime<")
        return self._page(request, [_public(c) for c in calls], "calls", kept)

    async def get_call(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        call = self._find_call(request.path_params["Sid"])
        return not_found("Call", request.path_params["Sid"]) if call is None else JSONResponse(_public(call))

    async def create_call(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        form = await read_form(request)
        if isinstance(form, JSONResponse):
            return form
        body = invalid(CreateCallForm, form)
        if isinstance(body, list):
            return _errors_400([(21100, message) for message in body])
        assert isinstance(body, CreateCallForm)
        if body.Url is None and body.ApplicationSid is None:
            return _errors_400([(21205, "Url or ApplicationSid is required")])
        ours = {n["number"]: n for n in self.sb.state.signalwire.phone_numbers.values()}
        if body.From not in ours or "voice" not in ours[body.From].get("capabilities", []):
            return _errors_400([(21210, f"From {body.From} is not a phone number of this project that can call")])
        sid = self.sb.state.new_uuid()
        call = self._call(sid, body.From, body.To, "queued", "outbound", None)
        call.update(date_created=rfc2822(self._now()), date_updated=rfc2822(self._now()))
        call["_url"] = body.Url
        self.laml["calls"][sid] = call
        return JSONResponse(_public(call))

    async def update_call(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        call = self._find_call(request.path_params["Sid"])
        if call is None:
            return not_found("Call", request.path_params["Sid"])
        form = await read_form(request)
        if isinstance(form, JSONResponse):
            return form
        body = invalid(UpdateCallForm, form)
        if isinstance(body, list):
            return error(422, 21100, "; ".join(body))
        assert isinstance(body, UpdateCallForm)
        if call["status"] not in LIVE:
            return error(422, 21220, f"Call is not in-progress ({call['status']}): it cannot be redirected or ended")
        if body.Status == "canceled" and call["status"] == "in-progress":
            return error(422, 21220, "An in-progress call cannot be canceled: set Status=completed to hang up")
        if body.Status is not None:
            self._end(call, body.Status)
        elif body.Url is not None:
            call.update(_url=body.Url, date_updated=rfc2822(self._now()))
        return JSONResponse(_public(call))

    # ---- conferences

    def _conference(self, sid: str) -> JSONDict | None:
        return next((c for c in self.laml["conferences"] if c["sid"] == sid.lower()), None)

    async def list_conferences(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        conferences = list(self.laml["conferences"])
        if (status := request.query_params.get("Status")) is not None:
            if status not in ("init", "in-progress", "completed"):
                return error(400, 20001, "Status must be init, in-progress or completed")
            conferences = [c for c in conferences if c["status"] == status]
        return self._page(request, conferences, "conferences", ("Status",))

    async def list_participants(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        conference = self._conference(request.path_params["ConferenceSid"])
        if conference is None:
            return not_found("Conference", request.path_params["ConferenceSid"])
        return self._page(request, list(self.laml["participants"].get(conference["sid"], [])), "participants")

    def _find_participant(self, request: Request) -> JSONDict | JSONResponse:
        conference = self._conference(request.path_params["ConferenceSid"])
        if conference is None:
            return not_found("Conference", request.path_params["ConferenceSid"])
        call_sid = request.path_params["CallSid"].lower()
        found = next(
            (p for p in self.laml["participants"].get(conference["sid"], []) if p["call_sid"] == call_sid), None
        )
        return not_found("Participant", call_sid) if found is None else found

    async def get_participant(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        found = self._find_participant(request)
        return found if isinstance(found, JSONResponse) else JSONResponse(found)

    async def update_participant(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        found = self._find_participant(request)
        if isinstance(found, JSONResponse):
            return found
        form = await read_form(request)
        if isinstance(form, JSONResponse):
            return form
        body = invalid(UpdateParticipantForm, form)
        if isinstance(body, list):
            return error(422, 21100, "; ".join(body))
        assert isinstance(body, UpdateParticipantForm)
        if body.Muted is not None:
            found["muted"] = body.Muted.lower() == "true"
        if body.Hold is not None:
            found["hold"] = body.Hold.lower() == "true"
        found["date_updated"] = rfc2822(self._now())
        return JSONResponse(found)

    async def remove_participant(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        found = self._find_participant(request)
        if isinstance(found, JSONResponse):
            return found
        call = self.laml["calls"].get(found["call_sid"])
        if call is not None and call["status"] in LIVE:
            self._end(call, "completed")  # the participant's call is hung up: it leaves the conference too
        participants = self.laml["participants"].get(found["conference_sid"], [])
        participants[:] = [p for p in participants if p is not found]
        return Response(status_code=204)

    # ---- queues

    async def list_queues(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        return self._page(request, list(self.laml["queues"]), "queues")

    async def list_members(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        sid = request.path_params["QueueSid"].lower()
        if not any(q["sid"] == sid for q in self.laml["queues"]):
            return not_found("Queue", sid)
        return self._page(request, list(self.laml["members"].get(sid, [])), "queue_members")

    # ---- the project's numbers (what a call's From is checked against)

    async def list_numbers(self, request: Request) -> Response:
        if (refused := self._account(request)) is not None:
            return refused
        numbers = [_incoming(n) for n in self.sb.state.signalwire.phone_numbers.values()]
        if (wanted := request.query_params.get("PhoneNumber")) is not None:
            digits = "".join(c for c in wanted if c.isdigit())
            numbers = [n for n in numbers if "".join(c for c in n["phone_number"] if c.isdigit()) == digits]
        return self._page(request, numbers, "incoming_phone_numbers", ("PhoneNumber",))


def _incoming(number: JSONDict) -> JSONDict:
    """A Relay REST phone number as the Compatibility API's `IncomingPhoneNumber`."""
    capabilities = number.get("capabilities") or []
    return {
        "account_id": SIGNALWIRE_PROJECT_ID, "account_sid": SIGNALWIRE_PROJECT_ID, "address_requirements": "none",
        "address_sid": None, "api_version": "2010-04-01", "beta": False,
        "capabilities": {kind: kind in capabilities for kind in ("voice", "sms", "mms", "fax")},
        "country_code": number.get("country_code") or "US", "date_created": _rfc(number["created_at"]),
        "date_updated": _rfc(number.get("updated_at") or number["created_at"]), "emergency_address_sid": None,
        "emergency_status": "Inactive", "friendly_name": number.get("name") or number["number"], "identity_sid": None,
        "origin": "signalwire", "phone_number": number["number"], "sid": number["id"], "sms_application_sid": None,
        "sms_fallback_method": "POST", "sms_fallback_url": None, "sms_method": "POST", "sms_url": None,
        "status_callback": None, "status_callback_method": "POST", "trunk_sid": None,
        "uri": f"{BASE}/Accounts/{SIGNALWIRE_PROJECT_ID}/IncomingPhoneNumbers/{number['id']}.json",
        "voice_application_sid": None, "voice_caller_id_lookup": None, "voice_fallback_method": "POST",
        "voice_fallback_url": None, "voice_method": "POST", "voice_url": None,
    }  # fmt: skip


def _rfc(iso_time: str) -> str:
    """The Relay REST API's ISO 8601 time as the Compatibility API writes times (RFC 2822)."""
    return rfc2822(datetime.fromisoformat(iso_time.replace("Z", "+00:00")))


def _public(call: JSONDict) -> JSONDict:
    """A call as the API shows it (the sandbox's own notes, such as the current instructions URL, left out)."""
    return {k: v for k, v in call.items() if not k.startswith("_")}


def _when(text: str) -> datetime:
    return datetime.strptime(text, "%a, %d %b %Y %H:%M:%S %z")


def _parse_time(raw: str) -> datetime:
    """A `StartTime` bound: a date (the providers' docs), ISO 8601 in UTC (what their SDKs send) or RFC 2822."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", raw):
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return _when(raw)


def _errors_400(issues: list[tuple[int, str]]) -> JSONResponse:
    """A call create's declared 400: `CompatibilityErrorArrayResponse`."""
    errors = [{"code": str(code), "message": message, "more_info": MORE_INFO} for code, message in issues]
    return JSONResponse({"errors": errors}, status_code=400)
