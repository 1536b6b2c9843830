"""Stage 2, consent: has a human agreed to this write?

One `Consent` abstraction, chosen per call by `TELCO_MCP_CONFIRM` and what the client can do:

    ElicitationConsent  the client asks its user (form elicitation) in this very call
    TokenConsent        a preview with a single-use token the model relays after asking the user
    OffConsent          nobody is asked (needs an explicit acknowledgement at startup)

`Consent.obtain` answers with one of
    Granted(channel)    a human agreed (or the operator chose `off`): send it
    Pending(result)     not yet: return `result` (a question, a preview) and send nothing
    Declined(how)       the human said no
or raises `ConsentRefused` when this mode cannot accept the call at all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime

from mcp.server.elicitation import AcceptedElicitation, DeclinedElicitation, render_elicitation_schema
from mcp.types import CallToolResult, ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp.types.version import is_version_at_least
from pydantic import BaseModel, Field, ValidationError

from telco_mcp.errors import ConfirmationError, SafetyRefusal, TelcoError
from telco_mcp.results import preview, success, write_result
from telco_mcp.safety.audit import ConfirmedBy
from telco_mcp.write.call import WriteCall

ELICIT_KEY = "telco_mcp:confirm"


class Confirm(BaseModel):
    """The elicitation form: one yes/no question."""

    confirm: bool = Field(description="Perform this action?")


@dataclass(frozen=True)
class Granted:
    channel: ConfirmedBy


@dataclass(frozen=True)
class Pending:
    result: CallToolResult | InputRequiredResult


@dataclass(frozen=True)
class Declined:
    channel: ConfirmedBy
    how: str  # "answered no", "declined", "cancelled"


Decision = Granted | Pending | Declined


class ConsentRefused(Exception):
    """This consent mode cannot accept the call; nothing is sent and nobody is asked."""

    def __init__(self, error: TelcoError, channel: ConfirmedBy) -> None:
        super().__init__(error.message)
        self.error = error
        self.channel: ConfirmedBy = channel


class Consent(ABC):
    channel: ConfirmedBy

    @abstractmethod
    async def obtain(self, call: WriteCall) -> Decision: ...


def client_can_elicit(call: WriteCall) -> bool:
    """Form elicitation declared by the client, and a channel that can carry the question."""
    ctx = call.ctx
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps else None
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return False
    if not _modern(call):
        return bool(ctx.session.can_send_request)
    return True


def _modern(call: WriteCall) -> bool:
    """2026-07-28 and later: questions ride an `InputRequiredResult`, answers come on the retry."""
    return is_version_at_least(call.ctx.protocol_version or "", "2026-07-28")


# ------------------------------------------------------------------ the channels
class OffConsent(Consent):
    channel = "off"

    async def obtain(self, call: WriteCall) -> Decision:
        return Granted("off")


class ElicitationConsent(Consent):
    """The client's user is asked a yes/no question in this call, in either protocol era."""

    channel = "elicitation"

    async def obtain(self, call: WriteCall) -> Decision:
        message = f"{await call.summary()}\n\nAllow this {call.op.effect} action? Nothing is sent unless you confirm."
        if _modern(call):
            answer = self._answer_on_retry(call, message)
            if answer is None:
                return Pending(self._ask(call, message))
            return self._decide(answer)
        outcome = await call.ctx.elicit(message, Confirm)
        if isinstance(outcome, AcceptedElicitation):
            return Granted("elicitation") if outcome.data.confirm else Declined("elicitation", "answered no")
        return Declined("elicitation", "declined" if isinstance(outcome, DeclinedElicitation) else "cancelled")

    @staticmethod
    def _digest(message: str) -> str:
        return hashlib.sha256(message.encode()).hexdigest()

    def _ask(self, call: WriteCall, message: str) -> InputRequiredResult:
        # The SDK seals request_state and binds it to this tool and these exact arguments.
        state = json.dumps({"q": self._digest(message), "n": secrets.token_urlsafe(12)})
        params = ElicitRequestFormParams(message=message, requested_schema=render_elicitation_schema(Confirm))
        return InputRequiredResult(input_requests={ELICIT_KEY: ElicitRequest(params=params)}, request_state=state)

    def _answer_on_retry(self, call: WriteCall, message: str) -> ElicitResult | None:
        """The user's answer to exactly this question, asked in an earlier round of this call; else None."""
        responses, raw_state = call.ctx.input_responses, call.ctx.request_state
        if not responses or not raw_state or ELICIT_KEY not in responses:
            return None
        try:
            state = json.loads(raw_state)
            asked, nonce = state["q"], state["n"]
        except (ValueError, KeyError, TypeError):
            return None
        if asked != self._digest(message):
            return None  # the question changed since it was asked (e.g. the call's parties): ask again
        answer = responses[ELICIT_KEY]
        try:
            result = (
                answer
                if isinstance(answer, ElicitResult)
                else ElicitResult.model_validate(answer, from_attributes=True)
            )
        except ValidationError:
            return None
        if not call.runtime.tokens.use_once("elicit:" + nonce):
            raise ConsentRefused(
                ConfirmationError("this confirmation was already used for a write. Nothing was sent again."),
                "elicitation",
            )
        return result

    @staticmethod
    def _decide(answer: ElicitResult) -> Decision:
        if answer.action == "accept":
            try:
                confirmed = Confirm.model_validate(answer.content or {}).confirm
            except ValidationError:
                confirmed = False
            return Granted("elicitation") if confirmed else Declined("elicitation", "answered no")
        return Declined("elicitation", "declined" if answer.action == "decline" else "cancelled")


class TokenConsent(Consent):
    """A preview with a single-use, argument-bound token; the write happens when it comes back."""

    channel = "token"

    async def obtain(self, call: WriteCall) -> Decision:
        tokens = call.runtime.tokens
        if call.confirm_token:
            try:
                tokens.redeem(call.op.name, call.arguments, call.confirm_token)
            except ConfirmationError as exc:
                raise ConsentRefused(exc, "token") from None
            return Granted("token")
        summary = await call.summary()
        request = await call.op.build_request(call.args, call.hooks)
        token, expiry = tokens.issue(call.op.name, call.arguments)
        out = write_result(
            call.op,
            status="confirmation_required",
            summary=summary,
            request=preview(call.client.base_url, request, call.client.auth_scheme),
            confirm_token=token,
            expires_at=datetime.fromtimestamp(expiry, UTC),
            budget=call.budget(),
        )
        lead = (
            f"Not sent yet. Ask the user to confirm: {summary}. Only if they agree, call {call.op.name} again with "
            f"the same arguments and confirm_token set to the token below (valid {tokens.ttl // 60} min, once)."
        )
        return Pending(success(call.op, out, sandbox=call.sandbox, lead=lead))


# ------------------------------------------------------------------ choosing one
def choose(call: WriteCall) -> Consent:
    """The consent channel for this call under `TELCO_MCP_CONFIRM`."""
    mode = call.runtime.settings.telco_mcp_confirm
    can_elicit = client_can_elicit(call)
    if mode == "elicit" and (call.confirm_token or not can_elicit):
        reason = (
            "TELCO_MCP_CONFIRM=elicit accepts only a confirmation given by elicitation, not a token"
            if call.confirm_token
            else "TELCO_MCP_CONFIRM=elicit requires a client that supports elicitation; this one does not"
        )
        raise ConsentRefused(
            SafetyRefusal(f"{call.op.name} needs a human confirmation: {reason}.", rule="confirm_mode"), "none"
        )
    if call.confirm_token:
        return TokenConsent()
    if mode == "off":
        return OffConsent()
    if can_elicit:
        return ElicitationConsent()
    return TokenConsent()
