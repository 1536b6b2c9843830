"""The sandbox's state and controls: what the provider simulators, the gateway and the admin API share.

The parts of the sandbox build on `SandboxCore`; `app.Sandbox` adds the Starlette app on top, so
every import inside the package points downward.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import httpx2

from telco_mcp.sandbox.faults import Fault, FaultSet
from telco_mcp.sandbox.push import ANONYMOUS, PushSender, digits, instructions_from, is_loopback_url
from telco_mcp.sandbox.seed import build_state, describe
from telco_mcp.sandbox.state import JSONDict, Participant, PushLeg, RunningCall, SandboxState, iso_from_timestamp

logger = logging.getLogger(__name__)

Provider = Literal["signalwire", "sipgate", "sipgate-oauth"]


@dataclass
class RecordedRequest:
    """One provider request as the sandbox saw it. The ``Authorization`` value is never stored."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    auth_scheme: str | None
    json: Any
    status: int
    provider: Provider
    dropped: bool = False
    fault: str | None = None
    handled_status: int | None = None  # what the handler answered, when a fault replaced it
    timestamp: float = 0.0
    # who sent it, over what: as the listener decided (X-Forwarded-* only from TELCO_MCP_TRUSTED_PROXIES)
    client: str | None = None
    scheme: str = "http"
    form: list[tuple[str, str]] | None = None  # an application/x-www-form-urlencoded body, fields in order

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["query"] = [list(pair) for pair in self.query]
        data["form"] = [list(pair) for pair in self.form] if self.form is not None else None
        return data


class SandboxCore:
    """The simulator's state and controls, without the app that serves them (see `app.Sandbox`).

    ``clock`` returns Unix seconds and drives every "now" (token expiry, SMS scheduling,
    updated_at); seeded data uses a fixed reference time.
    """

    def __init__(
        self, seed: int = 0, *, clock: Callable[[], float] = time.time, max_logged_requests: int = 2000
    ) -> None:
        self.seed = seed
        self.clock = clock
        self._state: SandboxState | None = None  # seeded on first use: keeps it off the server's startup
        self.requests: list[RecordedRequest] = []  # the newest `max_logged_requests`, oldest first
        self.max_logged_requests = max_logged_requests
        self.faults = FaultSet()
        self.latency_ms = 0
        self.push = PushSender()
        self.push_url: str | None = None  # the embedded sandbox's default push URLs (the server's receiver)
        self._resets = 0

    # ---- state

    @property
    def state(self) -> SandboxState:
        """The simulated accounts, seeded (deterministically from `seed`) the first time they are read."""
        if self._state is None:
            self._state = self._seeded()
        return self._state

    def _seeded(self) -> SandboxState:
        state = build_state(self.seed)
        if self.push_url is not None:
            state.sipgate.sipgateio.update(incomingUrl=self.push_url, outgoingUrl=self.push_url)
        return state

    def configure_push(self, url: str, *, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        """Post webhooks to `url` by default (incoming and outgoing), through `transport` if given."""
        if not is_loopback_url(url):
            raise ValueError("the sandbox posts webhooks to loopback addresses only")
        self.push_url = url
        self.push.transport = transport
        if self._state is not None:
            self._state.sipgate.sipgateio.update(incomingUrl=url, outgoingUrl=url)

    def reset(self) -> None:
        """Back to the seeded state; clears faults, latency and the request log. What is made after the
        reset (call ids above all) differs from what was made before it: like sipgate's, a call id is
        never used twice, and a receiver takes a second push for one call id as a duplicate."""
        self._state = self._seeded()
        self._resets += 1
        self._state.rng.seed(f"{self.seed}/reset {self._resets}")
        self.push.deliveries.clear()
        self.requests.clear()
        self.faults.clear()
        self.latency_ms = 0
        logger.info("sandbox reset (seed=%s)", self.seed)

    @property
    def outbox(self) -> list[JSONDict]:
        """Every SMS accepted by ``POST /v2/sessions/sms`` since the last reset."""
        return self.state.sipgate.outbox

    def summary(self) -> dict[str, Any]:
        return {"seed": self.seed, **describe(self.state)}

    def call_events(self, call_id: str) -> JSONDict | None:
        """Events (created, hold, muted, recording, transfer, dtmf, announcement, keys, hangup) of a call.

        Any id the call ever had works, including ids replaced by a blind transfer.
        """
        call = self.state.sipgate.call_index.get(call_id)
        if call is None:
            return None
        return {
            "callId": call_id,
            "currentCallId": call.call_id,
            "previousCallIds": list(call.previous_call_ids),
            "ended": call.ended,
            "sessionId": call.session_id,
            "events": list(call.events),
        }

    # ---- faults and tokens

    def add_fault(self, fault: Fault) -> Fault:
        logger.info("sandbox fault added: %s", fault)
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def expire_sipgate_access_token(self) -> int:
        """Invalidate every sipgate access token (the next bearer request gets 401); returns how many."""
        sipgate = self.state.sipgate
        expired = len(sipgate.access_tokens)
        sipgate.access_tokens.clear()
        sipgate.current_access_token = None
        return expired

    # ---- sipgate.io push: the webhooks of simulated calls

    def _user_fields(self, user_id: str | None = None) -> dict[str, Any]:
        users = self.state.sipgate.users
        user = next((u for u in users if u["id"] == user_id), users[0] if users else None)
        if user is None:
            return {}
        name = f"{user.get('firstname', '')} {user.get('lastname', '')}".strip()
        return {
            "user": name,
            "userId": user["id"],
            "fullUserId": f"{self.state.sipgate.userinfo.get('masterSipId', '0')}{user['id']}",
        }

    def _note(self, call: RunningCall, kind: str, **details: Any) -> None:
        call.events.append({"type": kind, "at": iso_from_timestamp(self.clock()), "callId": call.call_id, **details})

    async def push_new_call(
        self,
        call: RunningCall,
        *,
        caller: str,
        callee: str,
        orig_call_id: str | None = None,
        diversion: str | None = None,
    ) -> int | None:
        """``newCall`` to the incoming or outgoing URL: starts the call's leg (`PushLeg`) for its current
        callId, with what the answer asks for (follow-up URLs, a Gather). A ``<Reject>`` or ``<Hangup/>``
        answer ends the call at once (`refused`)."""
        settings = self.state.sipgate.sipgateio
        url = settings["incomingUrl"] if call.direction == "in" else settings["outgoingUrl"]
        leg = PushLeg(
            call_id=call.call_id,
            orig_call_id=orig_call_id or call.call_id,
            direction=call.direction,
            from_number=digits(caller) or ANONYMOUS,
            to_number=digits(callee),
            xcid=self.state.new_hex(16).lower(),
            diversion=digits(diversion or "") or None,
        )
        user = self._user_fields()
        fields: dict[str, Any] = {
            "event": "newCall",
            "direction": leg.direction,
            "from": leg.from_number,
            "to": leg.to_number,
            "callId": leg.call_id,
            "origCallId": leg.orig_call_id,
            "user[]": [user["user"]] if user else [],
            "userId[]": [user["userId"]] if user else [],
            "fullUserId[]": [user["fullUserId"]] if user else [],
            "xcid": leg.xcid,
        } | ({"diversion": leg.diversion} if leg.diversion else {})
        response = await self.push.post(url or None, fields)
        answer = instructions_from(response)
        leg.on_answer, leg.on_hangup, leg.gather = answer.on_answer, answer.on_hangup, answer.gather
        call.leg = leg
        if answer.reject is not None or answer.hangup:
            # sipgate's causes: busy "the called party was busy", noAnswer "the called party rejected the call".
            cause = "normalClearing" if answer.hangup else "busy" if answer.reject == "busy" else "noAnswer"
            await self.refused(call, cause)
        return None if response is None else response.status_code

    async def refused(self, call: RunningCall, cause: str) -> None:
        """The receiver's answer ended the call (``<Reject>``, ``<Hangup/>``): gone from ringing and
        ``GET /v2/calls``, and its ``hangup`` is pushed."""
        sipgate = self.state.sipgate
        sipgate.ringing.pop(call.call_id, None)
        sipgate.calls.pop(call.call_id, None)
        call.ended = True
        self._note(call, "hangup", cause=cause)
        await self.push_hangup(call.leg, cause)

    def _common(self, event: str, leg: PushLeg) -> dict[str, Any]:
        """The fields every follow-up of a leg carries (sipgate.io: answer and hangup)."""
        return {"event": event, "callId": leg.call_id, "origCallId": leg.orig_call_id, "direction": leg.direction,
                "from": leg.from_number, "to": leg.to_number, "xcid": leg.xcid}  # fmt: skip

    async def push_answer(
        self, call: RunningCall, user_id: str | None = None, *, answering_number: str | None = None
    ) -> int | None:
        """``answer`` to the leg's ``onAnswer`` URL, if its newCall answer asked for one. A user of this
        account answers, unless `answering_number` (an outside number: no user fields) does."""
        leg = call.leg
        if leg is None:
            return None
        user = self._user_fields(user_id) if answering_number is None else {}
        answering = digits(answering_number or "") or leg.to_number
        fields = self._common("answer", leg) | user | {"answeringNumber": answering}
        if leg.diversion:
            fields["diversion"] = leg.diversion
        response = await self.push.post(leg.on_answer, fields)
        return None if response is None else response.status_code

    async def push_hangup(self, leg: PushLeg | None, cause: str = "normalClearing") -> int | None:
        """``hangup`` to the leg's ``onHangup`` URL, if its newCall answer asked for one; ends its Gather."""
        if leg is None:
            return None
        leg.gather = None
        fields = self._common("hangup", leg) | {"cause": cause, "answeringNumber": leg.to_number}
        if leg.diversion:
            fields["diversion"] = leg.diversion
        response = await self.push.post(leg.on_hangup, fields)
        return None if response is None else response.status_code

    async def press(self, call_id: str, keys: str) -> JSONDict | None:
        """The caller presses `keys` on the keypad, then stops (the Gather's timeout passes).

        Only an active ``<Gather>`` hears them (sipgate pushes ``dtmf`` nowhere else): it takes up to
        ``maxDigits`` keys and posts them as one ``dtmf`` event to its ``onData`` URL, fewer (or none:
        ``dtmf`` is empty) when the caller stops first. The answer to that post may start the next
        Gather, which takes the keys left over; keys no Gather hears are lost, as on a real line.
        None: no such live call (ringing or running) under this id.
        """
        sipgate = self.state.sipgate
        call = sipgate.calls.get(call_id) or sipgate.ringing.get(call_id)
        if call is None:
            return None
        self._note(call, "keys", keys=keys)
        posted: list[JSONDict] = []
        leg, left = call.leg, keys
        while leg is not None and leg.gather is not None and (left or not posted):
            gather, leg.gather = leg.gather, None
            taken, left = left[: gather.max_digits], left[gather.max_digits :]
            fields = {"event": "dtmf", "callId": leg.call_id, "origCallId": leg.orig_call_id, "dtmf": taken}
            response = await self.push.post(gather.on_data, fields)
            posted.append({"dtmf": taken, "webhook_status": None if response is None else response.status_code})
            leg.gather = instructions_from(response).gather  # the answer may gather again
        active = leg.gather if leg is not None else None
        return {
            "callId": call.call_id,
            "dtmf_events": posted,
            "unheard": left,
            "gather": active.describe() if active is not None else None,
        }

    async def ring(self, caller: str, callee: str | None = None) -> tuple[RunningCall, int | None]:
        """An inbound call starts ringing (not yet in ``GET /v2/calls``): its ``newCall`` is pushed."""
        sipgate, state = self.state.sipgate, self.state
        call = RunningCall(
            call_id=state.new_hex(16),
            participants=[
                Participant(participant_id=state.new_hex(16), phone_number=callee or sipgate.main_number, owner=True),
                # sipgate lists a withheld number as an empty phoneNumber
                Participant(participant_id=state.new_hex(16), phone_number="" if caller == ANONYMOUS else caller),
            ],
            direction="in",
        )
        sipgate.ringing[call.call_id] = call
        sipgate.call_index[call.call_id] = call
        self._note(call, "ringing", caller=caller)
        status = await self.push_new_call(call, caller=caller, callee=callee or sipgate.main_number)
        return call, status

    async def answer(self, call_id: str, user_id: str | None = None) -> tuple[RunningCall, int | None] | None:
        """A ringing inbound call is answered: it is listed in ``GET /v2/calls`` and ``answer`` is pushed."""
        sipgate = self.state.sipgate
        call = sipgate.ringing.pop(call_id, None)
        if call is None:
            return None
        sipgate.calls[call.call_id] = call
        self._note(call, "answered", user=user_id)
        return call, await self.push_answer(call, user_id)

    async def end_ringing(self, call_id: str, cause: str) -> tuple[RunningCall, int | None] | None:
        """A ringing inbound call ends unanswered (the caller gives up: cancel; nobody answers: noAnswer)."""
        call = self.state.sipgate.ringing.pop(call_id, None)
        if call is None:
            return None
        call.ended = True
        self._note(call, "hangup", cause=cause)
        return call, await self.push_hangup(call.leg, cause)
