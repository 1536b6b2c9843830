"""sipgate REST v2 routes (under ``/v2``) and the OAuth token endpoint.

Behaviour worth knowing (see also the package docstring):

* Only statuses the spec declares, or that the live API is known to give (``deviations.py``), and
  no error ever has a body: none of these operations declares one.
* RTCM operations answer 204 with no body; an unknown or ended call is 404 with no body.
* A request the spec's schema refuses (a missing or mistyped field, malformed JSON, a bad query
  parameter) is 400 with no body, the status sipgate declares for invalid input on
  ``/sessions/calls``.
* A bearer token lacking the operation's scope gets 403 with no body; so does another user's id.
* Blind transfer (``attended: false``): the remote party's number becomes the target and the call
  gets a new callId; the push webhooks say so (newCall and answer for the new id, hangup for the
  old one). Attended transfer: the target joins as a new participant; callId unchanged.
* ``POST /calls/{id}/dtmf`` sends tones to the other party: it pushes no ``dtmf`` event (those
  report the caller's keys to a ``<Gather>``; see ``/_sandbox/sipgate/calls/{id}/dtmf``).
* ``POST /sessions/sms`` answers 204 like the live API: unknown ``smsId`` is 403; ``sendAt`` must
  be an integer, not in the past and at most 30 days ahead (else 400). Every accepted SMS lands in the outbox and in
  the history as an OUTGOING SMS entry.
* ``GET /history``: without ``archived`` (or with ``archived=false``) archived entries are hidden;
  ``archived=true`` shows only archived ones. ``from``/``to`` are inclusive bounds on ``created``.
* The incoming blacklist is the one family declaring error bodies: a bad number is 400, a second
  entry for a number 409, an unknown one 404, each with ``ErrorResponse``; a new entry is 201.
* ``PUT /history/{entryId}`` resets a flag left out to false (the spec's defaults); a missing note stays.
  An unknown entry is 404 without a body, on ``GET`` (a listed deviation), ``PUT`` and ``DELETE``.
"""

from __future__ import annotations

import base64
import csv
import io
import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telco_mcp.sandbox.auth import basic_pair
from telco_mcp.sandbox.bodies import MalformedJSONError, Problem, StrictModel, read_json, validate_body
from telco_mcp.sandbox.core import SandboxCore
from telco_mcp.sandbox.credentials import SIPGATE_ALL_SCOPES, SIPGATE_CLIENT_ID, SIPGATE_CLIENT_SECRET
from telco_mcp.sandbox.gateway import SIPGATE_TOKEN_PATH, auth_context
from telco_mcp.sandbox.push import is_loopback_url
from telco_mcp.sandbox.state import AccessToken, JSONDict, Participant, RunningCall, SipgateState, iso_from_timestamp
from telco_mcp.sandbox.tokens import make_access_token

M = TypeVar("M", bound=StrictModel)
logger = logging.getLogger(__name__)

ACCESS_TOKEN_LIFETIME = 300
REFRESH_TOKEN_LIFETIME = 2592000
SMS_MAX_SCHEDULE_SECONDS = 30 * 86400

HISTORY_TYPES = ("CALL", "VOICEMAIL", "SMS", "FAX")
HISTORY_DIRECTIONS = ("INCOMING", "OUTGOING", "MISSED_INCOMING", "MISSED_OUTGOING")
HISTORY_STARRED = ("STARRED", "UNSTARRED")

BLACKLIST_NUMBER = r"^\+?[1-9]\d{1,14}$"  # IncomingEntry.phoneNumber's pattern
_PHONE = re.compile(r"^\+?[0-9][0-9 ()/\-]{2,30}$")
_DEVICE = re.compile(r"^[a-z][0-9]+$")

RTCM_READ = ("rtcm:read",)
RTCM_WRITE = ("rtcm:write",)


# --------------------------------------------------------------------------------------------- bodies


class BooleanRequest(StrictModel):
    value: bool


class RecordingRequest(StrictModel):
    value: bool
    announcement: bool


class TransferRequest(StrictModel):
    attended: bool
    phoneNumber: Annotated[str, Field(min_length=1)]
    callerId: str | None = None


class DtmfRequest(StrictModel):
    sequence: Annotated[str, Field(pattern=r"^[0-9A-D#*]+$")]


class AnnouncementRequest(StrictModel):
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]


class NewCallRequest(StrictModel):
    caller: Annotated[str, Field(min_length=1)]
    callee: Annotated[str, Field(min_length=1)]
    deviceId: str | None = None
    callerId: str | None = None


class IncomingEntryRequest(StrictModel):
    phoneNumber: Annotated[str, Field(pattern=BLACKLIST_NUMBER)]
    isBlock: bool = False


class UpdateHistoryEntryRequest(StrictModel):
    note: str | None = None
    archived: bool = False
    read: bool = False
    starred: bool = False


class ForwardingRequest(StrictModel):
    destination: str
    timeout: Annotated[int, Field(ge=-(2**31), le=600)] | None = None
    active: bool = False


class SetForwardingsRequest(StrictModel):
    forwardings: Annotated[list[ForwardingRequest], Field(max_length=3)] | None = None


class SetSipgateIoAccountSettingsRequest(StrictModel):
    incomingUrl: str
    outgoingUrl: str
    log: bool = False
    whitelist: list[str] | None = None


class SendWebSmsRequest(StrictModel):
    smsId: Annotated[str, Field(min_length=1)]
    recipient: str
    message: str
    sendAt: int | None = None  # Unix seconds


class ChangeNumberSettingsRequest(StrictModel):
    endpointId: str | None = None
    releaseForMnp: bool = False
    quickDial: bool = False


class SendFaxRequest(StrictModel):
    faxlineId: str
    recipient: str
    filename: str
    base64Content: Annotated[str, Field(max_length=28330000)]


class ResendFaxRequest(StrictModel):
    faxId: str
    faxlineId: str | None = None


# --------------------------------------------------------------------------------------------- helpers


def _no_content() -> Response:
    return Response(status_code=204)


def _empty(status: int) -> Response:
    return Response(status_code=status)


def _invalid(why: str) -> Response:
    """A request sipgate refuses as invalid: 400 without a body (``why`` is only logged)."""
    logger.info("sandbox sipgate 400: %s", why)
    return _empty(400)


def _blacklist_error(status: int, title: str, detail: str) -> JSONResponse:
    """The blacklist operations are the only ones declaring an error body: ``ErrorResponse``."""
    return JSONResponse({"errors": [{"status": status, "title": title, "detail": detail}]}, status_code=status)


def _is_phone(value: str) -> bool:
    return bool(_PHONE.fullmatch(value)) and sum(ch.isdigit() for ch in value) >= 3


def normalize_number(value: str) -> str:
    """Digits in international form without ``+``: ``+49 30 ...``, ``0049 30 ...``, ``030 ...`` -> ``4930...``."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if value.strip().startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith("0"):
        return "49" + digits[1:]
    return digits


def _parse_iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=400, headers={"Cache-Control": "no-store"}
    )


# --------------------------------------------------------------------------------------------- routes


class SipgateApi:
    def __init__(self, sandbox: SandboxCore) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        calls = "/v2/calls/{call_id}"
        return [
            Route(SIPGATE_TOKEN_PATH, self.token, methods=["POST"]),
            Route("/v2/account", self.get_account, methods=["GET"]),
            Route("/v2/authorization/userinfo", self.userinfo, methods=["GET"]),
            Route("/v2/history", self.get_history, methods=["GET"]),
            Route("/v2/calls", self.get_calls, methods=["GET"]),
            Route(calls, self.hangup, methods=["DELETE"]),
            Route(f"{calls}/hold", self.set_hold, methods=["PUT"]),
            Route(f"{calls}/muted", self.set_muted, methods=["PUT"]),
            Route(f"{calls}/recording", self.set_recording, methods=["PUT"]),
            Route(f"{calls}/transfer", self.transfer, methods=["POST"]),
            Route(f"{calls}/dtmf", self.send_dtmf, methods=["POST"]),
            Route(f"{calls}/announcements", self.announce, methods=["POST"]),
            Route("/v2/sessions/calls", self.new_call, methods=["POST"]),
            Route("/v2/sessions/sms", self.send_sms, methods=["POST"]),
            Route("/v2/users", self.get_users, methods=["GET"]),
            Route("/v2/users/{user_id}", self.get_user, methods=["GET"]),
            Route("/v2/numbers", self.get_numbers, methods=["GET"]),
            Route("/v2/balance", self.get_balance, methods=["GET"]),
            Route("/v2/contacts", self.get_contacts, methods=["GET"]),
            Route("/v2/voicemails", self.get_voicemails, methods=["GET"]),
            Route("/v2/blacklist/incoming", self.get_blacklist, methods=["GET"]),
            Route("/v2/blacklist/incoming", self.block, methods=["POST"]),
            Route("/v2/blacklist/incoming/{phone_number}", self.unblock, methods=["DELETE"]),
            Route("/v2/numbers/{number_id}", self.route_number, methods=["PUT"]),
            Route("/v2/sessions/fax", self.send_fax, methods=["POST"]),
            Route("/v2/sessions/fax/resend", self.resend_fax, methods=["POST"]),
            Route("/v2/settings/sipgateio", self.get_sipgateio, methods=["GET"]),
            Route("/v2/settings/sipgateio", self.set_sipgateio, methods=["PUT"]),
            Route("/v2/history/export", self.export_history, methods=["GET"]),
            Route("/v2/history/{entry_id}", self.get_history_entry, methods=["GET"]),
            Route("/v2/history/{entry_id}", self.update_history_entry, methods=["PUT"]),
            Route("/v2/history/{entry_id}", self.delete_history_entry, methods=["DELETE"]),
            # Last: "/v2/{user_id}/sms" would otherwise also match "/v2/sessions/sms".
            Route("/v2/{user_id}/sms", self.get_sms_extensions, methods=["GET"]),
            Route("/v2/{user_id}/devices", self.get_devices, methods=["GET"]),
            Route("/v2/{user_id}/phonelines", self.get_phonelines, methods=["GET"]),
            Route("/v2/{user_id}/faxlines", self.get_faxlines, methods=["GET"]),
            Route("/v2/{user_id}/phonelines/{phoneline_id}/forwardings", self.get_forwardings, methods=["GET"]),
            Route("/v2/{user_id}/phonelines/{phoneline_id}/forwardings", self.set_forwardings, methods=["PUT"]),
        ]

    # ---- plumbing

    @property
    def _state(self) -> SipgateState:
        return self.sb.state.sipgate

    def _denied(self, request: Request, scopes: tuple[str, ...]) -> Response | None:
        context = auth_context(request.scope)
        if context is None or not context.allows(scopes):
            return _empty(403)
        return None

    async def _body(self, request: Request, model: type[M]) -> M | Response:
        try:
            data = await read_json(request)
        except MalformedJSONError as exc:
            return _invalid(f"malformed JSON: {exc}")
        result = validate_body(model, data)
        return _invalid("; ".join(p.message for p in result)) if isinstance(result, list) else result

    def _call(self, request: Request) -> RunningCall | None:
        return self._state.calls.get(request.path_params["call_id"])

    def _event(self, call: RunningCall, kind: str, **details: Any) -> None:
        call.events.append({"type": kind, "at": iso_from_timestamp(self.sb.clock()), "callId": call.call_id, **details})

    async def _call_and_body(self, request: Request, model: type[M]) -> tuple[RunningCall, M] | Response:
        if denied := self._denied(request, RTCM_WRITE):
            return denied
        body = await self._body(request, model)
        if isinstance(body, Response):
            return body
        call = self._call(request)
        if call is None:
            return _empty(404)
        return call, body

    # ---- account and user

    async def get_account(self, request: Request) -> Response:
        if denied := self._denied(request, ("account:read",)):
            return denied
        return JSONResponse(self._state.account)

    async def userinfo(self, request: Request) -> Response:
        return JSONResponse(self._state.userinfo)

    async def get_sms_extensions(self, request: Request) -> Response:
        if denied := self._denied(request, ("sms:read",)):
            return denied
        if request.path_params["user_id"] != self._state.userinfo["sub"]:
            return _empty(403)  # another user's SMS extensions
        return JSONResponse({"items": self._state.sms_extensions})

    # ---- the account's directory (read-only)

    def _user(self, request: Request) -> str | None:
        """The path's user id if the account has that user (another account's id or an unknown one: None)."""
        user_id = request.path_params["user_id"]
        return user_id if any(user["id"] == user_id for user in self._state.users) else None

    def _page(self, request: Request, items: list[JSONDict], default_limit: int) -> list[JSONDict] | Response:
        """``offset``/``limit`` applied to ``items``; a value that is no int32 >= 0 is 400."""
        bounds: list[int] = []
        for name, default in (("offset", 0), ("limit", default_limit)):
            raw = request.query_params.get(name)
            if raw is not None and (not re.fullmatch(r"[0-9]{1,10}", raw) or int(raw) > 2**31 - 1):
                return _invalid(f"{name} must be a non-negative integer")
            bounds.append(default if raw is None else int(raw))
        offset, limit = bounds
        return items[offset : offset + limit]

    async def get_users(self, request: Request) -> Response:
        if denied := self._denied(request, ("users:read",)):
            return denied
        return JSONResponse({"items": self._state.users})

    async def get_user(self, request: Request) -> Response:
        """One user (``UserResponse``); an unknown id is the declared 404."""
        if denied := self._denied(request, ("users:read",)):
            return denied
        user = next((u for u in self._state.users if u["id"] == request.path_params["user_id"]), None)
        return _empty(404) if user is None else JSONResponse(user)

    async def get_devices(self, request: Request) -> Response:
        if denied := self._denied(request, ("devices:read",)):
            return denied
        user_id = self._user(request)
        if user_id is None:
            return _empty(403)  # not a user of this account
        return JSONResponse({"items": self._state.user_devices.get(user_id, [])})

    async def get_phonelines(self, request: Request) -> Response:
        if denied := self._denied(request, ("phonelines:read",)):
            return denied
        user_id = self._user(request)
        if user_id is None:
            return _empty(403)
        return JSONResponse({"items": self._state.phonelines.get(user_id, [])})

    async def get_faxlines(self, request: Request) -> Response:
        """A user's fax lines (``FaxlinesResponse``); an unknown user is 403, as sipgate answers a foreign id."""
        if denied := self._denied(request, ("faxlines:read",)):
            return denied
        user_id = self._user(request)
        if user_id is None:
            return _empty(403)
        owners = self._state.faxline_users
        lines = [line for line in self._state.faxlines if owners.get(line["id"]) == user_id]
        return JSONResponse({"items": [line | {"canSend": True, "canReceive": True} for line in lines]})

    async def get_forwardings(self, request: Request) -> Response:
        if denied := self._denied(request, ("phonelines:read", "phonelines:forwardings:read")):
            return denied
        phoneline_id = self._own_phoneline(request)
        if phoneline_id is None:
            return _empty(403)  # another user's or an unknown phoneline
        return JSONResponse({"items": self._state.forwardings.get(phoneline_id, [])})

    def _own_phoneline(self, request: Request) -> str | None:
        """The path's phoneline if it belongs to the path's user of this account; else None (sipgate: 403)."""
        phoneline_id = request.path_params["phoneline_id"]
        lines = self._state.phonelines.get(self._user(request) or "", [])
        return phoneline_id if any(line["id"] == phoneline_id for line in lines) else None

    async def set_forwardings(self, request: Request) -> Response:
        """PUT replaces the whole list (an empty or missing one removes every forwarding); 204 as live."""
        if denied := self._denied(request, ("phonelines:write", "phonelines:forwardings:write")):
            return denied
        body = await self._body(request, SetForwardingsRequest)
        if isinstance(body, Response):
            return body
        phoneline_id = self._own_phoneline(request)
        if phoneline_id is None:
            return _empty(403)
        aliases = {e["id"]: e.get("alias") for lines in self._state.phonelines.values() for e in lines}
        aliases |= {box["id"]: box.get("alias") for box in self._state.voicemails}
        items: list[JSONDict] = []
        for forwarding in body.forwardings or []:
            target = forwarding.destination
            if target in aliases:
                alias = aliases[target]
            elif re.fullmatch(r"\+?[1-9][0-9]{5,15}", target):
                target, alias = "+" + target.lstrip("+"), None
            else:
                return _invalid(f"destination {target!r} is no phone number or extension of this account")
            entry: JSONDict = {"destination": target, "timeout": forwarding.timeout or 0, "active": forwarding.active}
            items.append(entry | ({"alias": alias} if alias else {}))
        self._state.forwardings[phoneline_id] = items
        return _no_content()

    async def get_numbers(self, request: Request) -> Response:
        if denied := self._denied(request, ("numbers:read",)):
            return denied
        page = self._page(request, self._state.numbers, 2**31 - 1)
        return page if isinstance(page, Response) else JSONResponse({"items": page})

    def _extensions(self) -> dict[str, str | None]:
        """Every extension of the account a number can route to, with its alias."""
        found = {e["id"]: e.get("alias") for lines in self._state.phonelines.values() for e in lines}
        found |= {box["id"]: box.get("alias") for box in self._state.voicemails}
        return found | {line["id"]: line.get("alias") for line in self._state.faxlines}

    async def route_number(self, request: Request) -> Response:
        """PUT: route a number to another extension; 204 as sipgate's writes without a declared 2xx (deviations)."""
        if denied := self._denied(request, ("numbers:write",)):
            return denied
        body = await self._body(request, ChangeNumberSettingsRequest)
        if isinstance(body, Response):
            return body
        number = next((n for n in self._state.numbers if n["id"] == request.path_params["number_id"]), None)
        if number is None:
            return _empty(404)  # the one status the spec declares: "Number not found"
        if body.endpointId is not None:
            extensions = self._extensions()
            if body.endpointId not in extensions:
                return _invalid(f"endpointId {body.endpointId!r} is no extension of this account")
            owner = next((u for u, lines in self._state.phonelines.items()
                          if any(line["id"] == body.endpointId for line in lines)), "w0")  # fmt: skip
            number.update(endpointId=body.endpointId, endpointAlias=extensions[body.endpointId] or "",
                          endpointUrl=f"https://api.sipgate.com/v2/{owner}/phonelines/{body.endpointId}")  # fmt: skip
        return _no_content()

    async def send_fax(self, request: Request) -> Response:
        """A fax is accepted when its line is the account's and its content is a base64 PDF; it lands in the
        history as an OUTGOING FAX entry whose id is the session id (sipgate's fax examples poll
        ``GET /history/{sessionId}``)."""
        if denied := self._denied(request, ("sessions:fax:write", "sessions:write")):
            return denied
        body = await self._body(request, SendFaxRequest)
        if isinstance(body, Response):
            return body
        if not any(line["id"] == body.faxlineId for line in self._state.faxlines):
            return _empty(403)  # not one of this account's fax lines
        if not _is_phone(body.recipient):
            return _invalid("Invalid recipient number")
        try:
            content = base64.b64decode(body.base64Content, validate=True)
        except ValueError:
            return _invalid("base64Content is not base64")
        if not content.startswith(b"%PDF-"):
            return _invalid("base64Content is not a PDF")
        pages = max(1, len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", content)))
        entry = self._fax_entry(body.recipient, body.faxlineId, pages=pages)
        self._state.faxes.append({"id": entry["id"], "filename": body.filename, "bytes": len(content)})
        return JSONResponse({"sessionId": entry["id"]})

    async def resend_fax(self, request: Request) -> Response:
        """Resend an OUTGOING fax of the history: a new entry, answered 204 (the spec declares no 2xx)."""
        if denied := self._denied(request, ("sessions:fax:write", "sessions:write")):
            return denied
        body = await self._body(request, ResendFaxRequest)
        if isinstance(body, Response):
            return body
        sent = next((e for e in self._state.history if e["id"] == body.faxId and e["type"] == "FAX"), None)
        if sent is None or sent["direction"] != "OUTGOING":
            return _invalid(f"faxId {body.faxId!r} is no sent fax")
        line = body.faxlineId or sent["connectionIds"][0]
        if not any(faxline["id"] == line for faxline in self._state.faxlines):
            return _empty(403)
        self._fax_entry(sent["target"], line, pages=int(sent.get("pageCount") or 1))
        return _no_content()

    def _fax_entry(self, recipient: str, faxline: str, *, pages: int) -> JSONDict:
        created = iso_from_timestamp(self.sb.clock())
        entry: JSONDict = {
            "id": str(self._state.next_history_id), "source": self._state.main_number, "target": recipient,
            "sourceAlias": "Sandbox Telefonie", "targetAlias": "", "type": "FAX", "created": created,
            "lastModified": created, "direction": "OUTGOING", "incoming": False, "status": "PICKUP",
            "connectionIds": [faxline], "read": True, "archived": False, "note": "", "endpoints": [],
            "starred": False, "labels": [], "faxStatusType": "SENT", "pageCount": pages,
        }  # fmt: skip
        self._state.next_history_id += 1
        self._state.history.insert(0, entry)
        return entry

    async def get_balance(self, request: Request) -> Response:
        if denied := self._denied(request, ("balance:read",)):
            return denied
        return JSONResponse(self._state.balance)

    async def get_contacts(self, request: Request) -> Response:
        if denied := self._denied(request, ("contacts:read",)):
            return denied
        contacts = self._state.contacts
        wanted = {normalize_number(n) for n in request.query_params.getlist("phonenumbers") if n.strip()}
        if wanted:
            contacts = [c for c in contacts if any(normalize_number(n["number"]) in wanted for n in c["numbers"])]
        page = self._page(request, contacts, 5000)
        return page if isinstance(page, Response) else JSONResponse({"items": page, "totalCount": len(contacts)})

    async def get_voicemails(self, request: Request) -> Response:
        if denied := self._denied(request, ("voicemails:read",)):
            return denied
        return JSONResponse({"items": self._state.voicemails})

    async def get_blacklist(self, request: Request) -> Response:
        if denied := self._denied(request, ("blacklist:read",)):
            return denied
        return JSONResponse({"items": self._state.blacklist})

    async def block(self, request: Request) -> Response:
        if denied := self._denied(request, ("blacklist:write",)):
            return denied
        try:
            data = await read_json(request)
        except MalformedJSONError as exc:
            return _blacklist_error(400, "Bad Request", f"malformed JSON: {exc}")
        body = validate_body(IncomingEntryRequest, data)
        if isinstance(body, list):
            return _blacklist_error(400, "Bad Request", "Invalid phoneNumber supplied")
        if any(normalize_number(e["phoneNumber"]) == normalize_number(body.phoneNumber) for e in self._state.blacklist):
            return _blacklist_error(409, "Conflict", "IncomingEntry already exists")
        entry = {"phoneNumber": body.phoneNumber, "isBlock": body.isBlock}
        self._state.blacklist.append(entry)
        return JSONResponse(dict(entry), status_code=201)

    async def unblock(self, request: Request) -> Response:
        if denied := self._denied(request, ("blacklist:write",)):
            return denied
        number = request.path_params["phone_number"]
        if not re.fullmatch(BLACKLIST_NUMBER, number):
            return _blacklist_error(400, "Bad Request", "Invalid phoneNumber supplied")
        kept = [e for e in self._state.blacklist if normalize_number(e["phoneNumber"]) != normalize_number(number)]
        if len(kept) == len(self._state.blacklist):
            return _blacklist_error(404, "Not Found", "IncomingEntry not found")
        self._state.blacklist = kept
        return _no_content()

    # ---- sipgate.io push settings (403 "sipgate.io feature not booked" when the account lacks it)

    async def get_sipgateio(self, request: Request) -> Response:
        if denied := self._denied(request, ("settings:read", "settings:sipgateio:read")):
            return denied
        if not self._state.sipgateio_booked:
            return _empty(403)
        return JSONResponse(dict(self._state.sipgateio))

    async def set_sipgateio(self, request: Request) -> Response:
        if denied := self._denied(request, ("settings:write", "settings:sipgateio:write")):
            return denied
        if not self._state.sipgateio_booked:
            return _empty(403)
        body = await self._body(request, SetSipgateIoAccountSettingsRequest)
        if isinstance(body, Response):
            return body
        for url in (body.incomingUrl, body.outgoingUrl):
            if url and not is_loopback_url(url):
                return _invalid("the sandbox posts webhooks to loopback addresses only")
        self._state.sipgateio = {
            "incomingUrl": body.incomingUrl,
            "outgoingUrl": body.outgoingUrl,
            "log": body.log,
            "whitelist": list(body.whitelist or []),
        }
        return _no_content()

    # ---- one history entry (404 without a body for an unknown id)

    def _history_entry(self, request: Request) -> JSONDict | None:
        entry_id = request.path_params["entry_id"]
        return next((e for e in self._state.history if e["id"] == entry_id), None)

    async def get_history_entry(self, request: Request) -> Response:
        if denied := self._denied(request, ("history:read",)):
            return denied
        entry = self._history_entry(request)
        return _empty(404) if entry is None else JSONResponse(entry)

    async def update_history_entry(self, request: Request) -> Response:
        """PUT: a flag left out is reset to its default (false), as the spec's defaults say; a missing note stays."""
        if denied := self._denied(request, ("history:write",)):
            return denied
        body = await self._body(request, UpdateHistoryEntryRequest)
        if isinstance(body, Response):
            return body
        entry = self._history_entry(request)
        if entry is None:
            return _empty(404)
        entry.update(archived=body.archived, read=body.read, starred=body.starred)
        if body.note is not None:
            entry["note"] = body.note
        entry["lastModified"] = iso_from_timestamp(self.sb.clock())
        return _no_content()

    async def delete_history_entry(self, request: Request) -> Response:
        if denied := self._denied(request, ("history:write",)):
            return denied
        entry = self._history_entry(request)
        if entry is None:
            return _empty(404)
        self._state.history.remove(entry)
        return _no_content()

    # ---- running calls (RTCM)

    async def get_calls(self, request: Request) -> Response:
        if denied := self._denied(request, RTCM_READ):
            return denied
        return JSONResponse({"data": [call.to_api() for call in self._state.calls.values()]})

    async def hangup(self, request: Request) -> Response:
        if denied := self._denied(request, RTCM_WRITE):
            return denied
        call = self._call(request)
        if call is None:
            return _empty(404)
        call.ended = True
        del self._state.calls[call.call_id]
        self._event(call, "hangup")
        await self.sb.push_hangup(call.leg)
        return _no_content()

    async def set_hold(self, request: Request) -> Response:
        found = await self._call_and_body(request, BooleanRequest)
        if isinstance(found, Response):
            return found
        call, body = found
        call.hold = body.value
        for participant in call.participants:
            participant.hold = body.value
        self._event(call, "hold", value=body.value)
        return _no_content()

    async def set_muted(self, request: Request) -> Response:
        found = await self._call_and_body(request, BooleanRequest)
        if isinstance(found, Response):
            return found
        call, body = found
        call.muted = body.value
        owner = call.owner()
        if owner is not None:
            owner.muted = body.value
        self._event(call, "muted", value=body.value)
        return _no_content()

    async def set_recording(self, request: Request) -> Response:
        found = await self._call_and_body(request, RecordingRequest)
        if isinstance(found, Response):
            return found
        call, body = found
        call.recording = body.value
        self._event(call, "recording", value=body.value, announcement=body.announcement)
        return _no_content()

    async def transfer(self, request: Request) -> Response:
        found = await self._call_and_body(request, TransferRequest)
        if isinstance(found, Response):
            return found
        call, body = found
        if body.attended:
            joined = Participant(participant_id=self.sb.state.new_hex(16), phone_number=body.phoneNumber)
            call.participants.append(joined)
            self._event(call, "transfer", attended=True, phoneNumber=body.phoneNumber, callerId=body.callerId,
                        previousCallId=call.call_id)  # fmt: skip
            return _no_content()
        await self._blind_transfer(call, body)
        return _no_content()

    async def _blind_transfer(self, call: RunningCall, body: TransferRequest) -> None:
        """The call gets a new callId and its remote party now talks to the target.

        Pushed as sipgate.io's FAQ shows a transfer: ``newCall`` for the new callId (``origCallId``: the
        call's first id; ``from``: the party being transferred; ``diversion``: the number that
        transferred it), ``answer`` when the target picks up (here at once), then ``hangup`` for the old
        callId (cause normalClearing: that leg was established and is cleared).
        """
        state = self.sb.state
        old_id, old_leg = call.call_id, call.leg
        owner, remote = call.owner(), call.remote()
        transferred = remote.phone_number if remote is not None else ""
        if remote is None:
            call.participants.append(Participant(participant_id=state.new_hex(16), phone_number=body.phoneNumber))
        else:
            remote.phone_number = body.phoneNumber
        new_id = state.new_hex(16)
        call.previous_call_ids.append(old_id)
        call.call_id = new_id
        # Re-key in place so the call keeps its position in GET /calls.
        self._state.calls = {(new_id if key == old_id else key): value for key, value in self._state.calls.items()}
        self._state.call_index[new_id] = call
        self._event(call, "transfer", attended=False, phoneNumber=body.phoneNumber, callerId=body.callerId,
                    previousCallId=old_id)  # fmt: skip
        await self.sb.push_new_call(
            call,
            caller=transferred or "anonymous",
            callee=body.phoneNumber,
            orig_call_id=call.previous_call_ids[0],
            diversion=owner.phone_number if owner is not None else self._state.main_number,
        )
        if not call.ended:  # the target's newCall answer may have refused it
            await self.sb.push_answer(call, answering_number=body.phoneNumber)
        await self.sb.push_hangup(old_leg, "normalClearing")

    async def send_dtmf(self, request: Request) -> Response:
        found = await self._call_and_body(request, DtmfRequest)
        if isinstance(found, Response):
            return found
        call, body = found
        self._event(call, "dtmf", sequence=body.sequence)
        return _no_content()

    async def announce(self, request: Request) -> Response:
        found = await self._call_and_body(request, AnnouncementRequest)
        if isinstance(found, Response):
            return found
        call, body = found
        self._event(call, "announcement", url=body.url)
        return _no_content()

    # ---- sessions

    async def new_call(self, request: Request) -> Response:
        if denied := self._denied(request, ("sessions:calls:write", "sessions:write")):
            return denied
        body = await self._body(request, NewCallRequest)
        if isinstance(body, Response):
            return body
        devices = self._state.devices
        if not _is_phone(body.callee):
            return _invalid("User supplied invalid callee number")
        if _DEVICE.fullmatch(body.caller):
            device_id = body.caller
            owner_number = devices.get(device_id)
        elif _is_phone(body.caller):
            if not body.deviceId:
                return _invalid("DeviceId is required if caller is a phone number")
            device_id = body.deviceId
            owner_number = body.caller if device_id in devices else None
        else:
            return _invalid("User supplied invalid caller number")
        if owner_number is None:
            return _empty(403)  # not one of this user's devices
        if body.callerId is not None and not _is_phone(body.callerId):
            return _invalid("User supplied invalid callerId")

        state = self.sb.state
        session_id = state.new_hex(32)
        call = RunningCall(
            call_id=state.new_hex(16),
            participants=[
                Participant(participant_id=state.new_hex(16), phone_number=owner_number, owner=True),
                Participant(participant_id=state.new_hex(16), phone_number=body.callee),
            ],
            session_id=session_id,
        )
        self._state.calls[call.call_id] = call
        self._state.call_index[call.call_id] = call
        self._event(
            call,
            "created",
            sessionId=session_id,
            caller=body.caller,
            callee=body.callee,
            deviceId=device_id,
            callerId=body.callerId,
        )
        # The sandbox connects at once: newCall (out), then answer if the receiver asked for it.
        await self.sb.push_new_call(call, caller=owner_number, callee=body.callee)
        if not call.ended:  # the newCall answer may have refused it (<Reject>, <Hangup/>)
            await self.sb.push_answer(call)
        return JSONResponse({"sessionId": session_id})

    async def send_sms(self, request: Request) -> Response:
        if denied := self._denied(request, ("sessions:sms:write", "sessions:write")):
            return denied
        body = await self._body(request, SendWebSmsRequest)
        if isinstance(body, Response):
            return body
        extension = self._state.sms_extension(body.smsId)
        if extension is None:
            return _empty(403)  # sipgate: invalid SMS extension
        if not _is_phone(body.recipient):
            return _invalid("Invalid recipient number")
        if not body.message.strip():
            return _invalid("Message must not be empty")
        now = self.sb.clock()
        if body.sendAt is not None:
            if body.sendAt < int(now):
                return _invalid("sendAt must not be in the past")
            if body.sendAt > now + SMS_MAX_SCHEDULE_SECONDS:
                return _invalid("sendAt must be at most 30 days in the future")

        state = self.sb.state
        created = iso_from_timestamp(now)
        history_id = str(self._state.next_history_id)
        self._state.next_history_id += 1
        self._state.outbox.append(
            {
                "id": state.new_uuid(),
                "smsId": body.smsId,
                "callerId": extension["callerId"],
                "recipient": body.recipient,
                "message": body.message,
                "sendAt": body.sendAt,
                "created": created,
                "historyId": history_id,
            }
        )
        self._state.history.insert(
            0,
            {
                "id": history_id,
                "source": extension["callerId"],
                "target": body.recipient,
                "sourceAlias": extension["alias"],
                "targetAlias": "",
                "type": "SMS",
                "created": created,
                "lastModified": created,
                "direction": "OUTGOING",
                "incoming": False,
                "status": "PICKUP",
                "connectionIds": [body.smsId],
                "read": True,
                "archived": False,
                "note": "",
                "endpoints": [],
                "starred": False,
                "labels": [],
            },
        )
        return _no_content()

    # ---- history

    async def get_history(self, request: Request) -> Response:
        if denied := self._denied(request, ("history:read",)):
            return denied
        found = self._history_query(request)
        if isinstance(found, Response):
            return found
        matching, offset, limit = found
        return JSONResponse({"items": matching[offset : offset + limit], "totalCount": len(matching)})

    async def export_history(self, request: Request) -> Response:
        """The history as CSV (``text/csv``), filtered like ``GET /history`` (a listed deviation: the spec
        declares ``application/octet-stream`` with the JSON schema of ``GET /history``)."""
        if denied := self._denied(request, ("history:read",)):
            return denied
        found = self._history_query(request)
        if isinstance(found, Response):
            return found
        matching, offset, limit = found
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        columns = ("id", "created", "type", "direction", "source", "sourceAlias", "target", "targetAlias", "status")
        writer.writerow(columns)
        for entry in matching[offset : offset + limit]:
            writer.writerow([entry.get(name, "") for name in columns])
        return Response(out.getvalue().encode(), media_type="text/csv; charset=utf-8")

    def _history_query(self, request: Request) -> tuple[list[JSONDict], int, int] | Response:
        """The entries ``GET /history``'s filters select, newest first, with its offset and limit (or a 400)."""
        params = request.query_params
        found: list[Problem] = []

        def problem(name: str, message: str) -> None:
            found.append(Problem(attribute=name, pointer=f"/{name}", message=message, kind="invalid"))

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = params.get(name)
            if raw is None:
                return default
            if not re.fullmatch(r"-?[0-9]+", raw) or not low <= int(raw) <= high:
                problem(name, f"{name} must be an integer between {low} and {high}")
                return default
            return int(raw)

        def choices(name: str, allowed: tuple[str, ...]) -> set[str]:
            values = params.getlist(name)
            for value in values:
                if value not in allowed:
                    problem(name, f"{name} must be one of {', '.join(allowed)}")
            return set(values)

        def moment(name: str) -> datetime | None:
            raw = params.get(name)
            if raw is None:
                return None
            parsed = _parse_iso(raw)
            if parsed is None:
                problem(name, f"{name} must be an ISO 8601 date-time")
            return parsed

        offset = integer("offset", 0, 0, 2**31 - 1)
        limit = integer("limit", 10, 0, 1000)
        types = choices("types", HISTORY_TYPES)
        directions = choices("directions", HISTORY_DIRECTIONS)
        starred = choices("starred", HISTORY_STARRED)
        connection_ids = set(params.getlist("connectionIds"))
        since, until = moment("from"), moment("to")
        archived_raw = params.get("archived", "false").lower()
        if archived_raw not in ("true", "false"):
            problem("archived", "archived must be true or false")
        phonenumber = params.get("phonenumber")
        if found:
            return _invalid("; ".join(p.message for p in found))

        wanted_number = normalize_number(phonenumber) if phonenumber else ""

        def keep(entry: JSONDict) -> bool:
            created = _parse_iso(entry["created"])
            assert created is not None
            return (
                (not types or entry["type"] in types)
                and (not directions or entry["direction"] in directions)
                and (not starred or ("STARRED" if entry["starred"] else "UNSTARRED") in starred)
                and (not connection_ids or bool(connection_ids.intersection(entry["connectionIds"])))
                and entry["archived"] == (archived_raw == "true")
                and (since is None or created >= since)
                and (until is None or created <= until)
                and (
                    not phonenumber
                    or (
                        wanted_number != ""
                        and wanted_number in (normalize_number(entry["source"]), normalize_number(entry["target"]))
                    )
                )
            )

        return [entry for entry in self._state.history if keep(entry)], offset, limit

    # ---- OAuth

    async def token(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error("invalid_request", "Expected an application/x-www-form-urlencoded body")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = basic_pair(request.headers.get("authorization"))
        if basic is not None:
            client_id, client_secret = basic
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error("invalid_request", "Missing form parameter: grant_type")
        if grant_type != "refresh_token":
            return _oauth_error("unsupported_grant_type", f"Unsupported grant_type: {grant_type}")
        if client_id != SIPGATE_CLIENT_ID or client_secret != SIPGATE_CLIENT_SECRET:
            return _oauth_error("invalid_grant", "Invalid client or client credentials")
        refresh_token = form.get("refresh_token", "")
        state = self._state
        granted = state.refresh_tokens.get(refresh_token)
        if granted is None:
            return _oauth_error("invalid_grant", "Invalid refresh token")
        scopes = granted
        if form.get("scope"):
            requested = set(form["scope"].split())
            if not requested <= set(granted):
                return _oauth_error("invalid_scope", "Requested scope exceeds the granted scope")
            scopes = tuple(scope for scope in SIPGATE_ALL_SCOPES if scope in requested)

        now = int(self.sb.clock())
        access_token = make_access_token(
            scopes=scopes, iat=now, exp=now + ACCESS_TOKEN_LIFETIME, jti=self.sb.state.new_uuid(), client_id=client_id
        )
        new_refresh_token = "sandbox-refresh-" + self.sb.state.new_hex(32).lower()
        if state.current_access_token is not None:
            state.access_tokens.pop(state.current_access_token, None)  # a refresh retires the previous token
        state.access_tokens[access_token] = AccessToken(scopes=scopes, exp=now + ACCESS_TOKEN_LIFETIME)
        state.current_access_token = access_token
        state.refresh_tokens[new_refresh_token] = granted
        return JSONResponse(
            {
                "access_token": access_token,
                "expires_in": ACCESS_TOKEN_LIFETIME,
                "refresh_expires_in": REFRESH_TOKEN_LIFETIME,
                "refresh_token": new_refresh_token,
                "token_type": "Bearer",
                "scope": " ".join(scopes),
            },
            headers={"Cache-Control": "no-store"},
        )
