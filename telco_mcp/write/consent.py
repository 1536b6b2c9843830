"""Stage 2, consent: has a human agreed to this write?

One `Consent` abstraction, chosen per call by `TELCO_MCP_CONFIRM` and what the client can do:

    ElicitationConsent  the client asks its user (form elicitation) in this very call
    ApprovalConsent     a pending approval a human decides outside the conversation (the approval
                        page, `telco-mcp approvals`); the model retries with the approval_id
    TokenConsent        a preview with a single-use token the model relays (the weaker opt-in mode)
    OffConsent          nobody is asked (needs an explicit acknowledgement at startup)

    TELCO_MCP_CONFIRM  a client that declares form elicitation   any other client
    auto (default)     ElicitationConsent                         ApprovalConsent
    elicit             ElicitationConsent                         refused
    approval           ApprovalConsent                            ApprovalConsent
    token              ElicitationConsent                         TokenConsent
    off                OffConsent                                 OffConsent

With `TELCO_MCP_APPROVER_FACTOR` = pin or passkey, auto, elicit and token act as approval for every write
(`Settings.consent_mode`): a client the model starts itself could declare form elicitation and answer yes,
so no client's answer counts; a client that can open URLs is shown the page by URL-mode elicitation.

Nothing the model sends (a token, an approval id) skips the question to an eliciting client, and a
consent field another mode uses is refused with a `[confirmation]` error naming the mode.

Under `TELCO_MCP_FOUR_EYES` (OAuth only) a write it covers always takes `ApprovalConsent`, whatever
the client can do: the caller's own yes is not a second person's, so the approval is opened for
another authenticated person, who decides it through the approval API (`approval/remote.py`).
With OAuth, approvals and tokens are bound to the authenticated caller (`WriteCall.caller`).

`Consent.obtain` answers with one of
    Granted(channel)    a human agreed (or the operator chose `off`): send it
    Pending(result)     not yet: return `result` (a question, a preview) and send nothing
    Declined(how)       the human said no
or raises `ConsentRefused` when this mode cannot accept the call at all.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from mcp.server.elicitation import (
    AcceptedElicitation,
    AcceptedUrlElicitation,
    DeclinedElicitation,
    render_elicitation_schema,
)
from mcp.types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    InputRequiredResult,
)
from mcp.types.version import is_version_at_least
from pydantic import BaseModel, Field, ValidationError

from telco_mcp.approval.notify import open_browser
from telco_mcp.approval.store import Approval, LinkChannel, arguments_digest, new_id, request_digest
from telco_mcp.errors import ConfirmationError, SafetyRefusal, TelcoError
from telco_mcp.operation import Operation
from telco_mcp.results import preview, success, write_result
from telco_mcp.safety.audit import ConfirmedBy, Outcome
from telco_mcp.write import policy
from telco_mcp.write.call import WriteCall, blocking, declared_client

ELICIT_KEY = "telco_mcp:confirm"
APPROVAL_KEY = "telco_mcp:approval"


class Confirm(BaseModel):
    """The elicitation form: one yes/no question."""

    confirm: bool = Field(description="Perform this action?")


@dataclass(frozen=True)
class Granted:
    channel: ConfirmedBy
    approval: str | None = None  # the approval (or the approval a grant was given with)
    grant: str | None = None  # the grant that covered this write, if one did
    approved_request: str | None = None  # digest of the request the person approved: what is sent must match
    approved_summary: str | None = None  # what the person read (old -> new, a call's parties): must still hold
    approver: dict[str, str] | None = None  # the authenticated person who approved it, when one did


@dataclass(frozen=True)
class Pending:
    result: CallToolResult | InputRequiredResult
    recorded: Outcome | None = None  # what the audit log says of it: a preview handed out, an approval opened
    approval: str | None = None


@dataclass(frozen=True)
class Declined:
    channel: ConfirmedBy
    how: str  # "answered no", "declined", "cancelled"
    approver: dict[str, str] | None = None


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
        asked = await call.summary()
        message = f"{asked}\n\nAllow this {call.op.effect} action? Nothing is sent unless you confirm."
        if _modern(call):  # the answer comes with a new call, whose summary is read afresh and must match
            answer = await self._answer_on_retry(call, message)
            if answer is None:
                return Pending(await self._ask(call, message))
            return self._decide(answer)
        outcome = await call.ctx.elicit(message, Confirm)
        if isinstance(outcome, AcceptedElicitation):
            if not outcome.data.confirm:
                return Declined("elicitation", "answered no")
            # The person may have taken minutes: what they said yes to must still be true.
            call.forget_lookups()
            if await call.summary() != asked:
                raise ConsentRefused(
                    ConfirmationError(
                        f"what the person confirmed for {call.op.name} is no longer true: the state the question "
                        "showed (e.g. a number's routing, a call's parties) changed while it was open. Nothing was "
                        "sent. Call the tool again to ask with what is true now"
                    ),
                    "elicitation",
                )
            return Granted("elicitation")
        return Declined("elicitation", "declined" if isinstance(outcome, DeclinedElicitation) else "cancelled")

    @staticmethod
    def _digest(message: str) -> str:
        return hashlib.sha256(message.encode()).hexdigest()

    async def _ask(self, call: WriteCall, message: str) -> InputRequiredResult:
        # The SDK seals request_state and binds it to this tool and these exact arguments.
        await blocking(call.runtime.tokens.mark_epoch)  # the answer's nonce must be checkable when it comes back
        state = json.dumps({"q": self._digest(message), "n": secrets.token_urlsafe(12), "t": int(time.time())})
        params = ElicitRequestFormParams(message=message, requested_schema=render_elicitation_schema(Confirm))
        return InputRequiredResult(input_requests={ELICIT_KEY: ElicitRequest(params=params)}, request_state=state)

    async def _answer_on_retry(self, call: WriteCall, message: str) -> ElicitResult | None:
        """The user's answer to exactly this question, asked in an earlier round of this call; else None."""
        responses, raw_state = call.ctx.input_responses, call.ctx.request_state
        if not responses or not raw_state or ELICIT_KEY not in responses:
            return None
        try:
            state = json.loads(raw_state)
            asked, nonce, issued = state["q"], state["n"], float(state["t"])
        except (ValueError, KeyError, TypeError):
            return None
        if asked != self._digest(message):
            return None  # the question changed since it was asked (e.g. the call's parties): ask again
        if not 0 <= time.time() - issued <= call.runtime.settings.telco_mcp_confirm_ttl:
            return None  # an answer older than a confirmation may live: ask again
        answer = responses[ELICIT_KEY]
        try:
            result = (
                answer
                if isinstance(answer, ElicitResult)
                else ElicitResult.model_validate(answer, from_attributes=True)
            )
        except ValidationError:
            return None
        # Remembered for longer than any answer is accepted (above), so no answer works twice.
        try:
            first = await blocking(
                functools.partial(call.runtime.tokens.use_once, issued=issued),
                "elicit:" + nonce,
                time.time() + 2 * call.runtime.settings.telco_mcp_confirm_ttl,
            )
        except ConfirmationError as exc:  # asked before the shared state lost its memory of used answers
            raise ConsentRefused(exc, "elicitation") from None
        if not first:
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
        summary = await call.summary()  # what the user confirms, and must still be true when it is sent
        if call.confirm_token:
            try:
                await blocking(
                    functools.partial(tokens.redeem, shown=summary),
                    call.op.name, call.arguments, call.confirm_token, call.caller_key,
                )  # fmt: skip
            except ConfirmationError as exc:
                raise ConsentRefused(exc, "token") from None
            return Granted("token")
        request = await call.op.build_request(call.args, call.hooks)
        token, expiry = await blocking(
            functools.partial(tokens.issue, shown=summary), call.op.name, call.arguments, call.caller_key
        )
        out = write_result(
            call.op,
            status="confirmation_required",
            summary=summary,
            request=preview(call.client.base_url, request, call.client.auth_scheme),
            confirm_token=token,
            expires_at=datetime.fromtimestamp(expiry, UTC),
            budget=await call.budget(),
        )
        lead = (
            f"Not sent yet. Ask the user to confirm: {summary}. Only if they agree, call {call.op.name} again with "
            f"the same arguments and confirm_token set to the token below (valid {tokens.ttl // 60} min, once)."
        )
        return Pending(success(call.op, out, sandbox=call.sandbox, lead=lead), recorded="previewed")


# ------------------------------------------------------------------ the approval channel
class ApprovalConsent(Consent):
    """A human approves outside the conversation; the model's retry with the approval_id sends it once."""

    channel = "approval-page"

    async def obtain(self, call: WriteCall) -> Decision:
        service = call.runtime.approvals
        client, label = call.client_identity()
        digest = arguments_digest(call.op.name, call.arguments)
        if call.approval_id:
            return await self._redeem(call, call.approval_id, digest, client)
        if _modern(call) and call.ctx.request_state and call.ctx.input_responses:
            return await self._after_url_round(call)
        if call.op.grantable and (target := call.subject.target):
            grant = await blocking(service.store.find_grant, call.op.name, target, client)
            if grant is not None:
                return Granted(_channel(grant.decided_by), approval=grant.approval, grant=grant.id)
        request = await call.op.build_request(call.args, call.hooks)
        shown = preview(call.client.base_url, request, call.client.auth_scheme)
        now = service.clock()
        try:
            approval, new = await blocking(
                service.create,
                Approval(
                    id=new_id(),
                    tool=call.op.name,
                    digest=digest,
                    client=client,
                    client_label=label,
                    client_info=declared_client(call.ctx),
                    summary=await call.summary(),
                    provider=call.op.provider,
                    method=shown.method,
                    url=shown.url,
                    body=shown.body,
                    form=shown.form,
                    verdict=policy.verdict(call),
                    created=now,
                    expires=now + service.ttl,
                    effect=call.op.effect,
                    request_digest=request_digest(shown.method, shown.url, shown.body, shown.form),
                    grant_target=call.subject.target if call.op.grantable else None,
                    secret_field=call.op.secret_field(call.args),
                    sandbox=call.sandbox,
                    caller=call.caller_audit,
                    four_eyes=four_eyes(call),
                ),
            )
        except ConfirmationError as exc:
            raise ConsentRefused(exc, "approval-page") from None
        if not new:  # asked again before anyone decided: the same approval, no second page or notice
            return Pending(await self._pending(call, approval, still=True))
        return await self._deliver(call, approval)

    async def _deliver(self, call: WriteCall, approval: Approval) -> Decision:
        """Send the link to the human by channels the model does not read, and tell the model where to point.
        Each channel that reached a person is recorded on the approval, so every retry names it."""
        service = call.runtime.approvals
        service.announce(approval)  # the webhook, if any: recorded once its receiver took the notice
        second_person = four_eyes(call)  # the caller's own browser or client cannot approve it
        reached: LinkChannel | None = None
        if not second_person and client_can_open_url(call) and service.signs_in:
            message = f"Approve or deny on the approval page: {approval.summary}"
            url = service.page_url(approval.id)
            if _modern(call):
                params = ElicitRequestURLParams(message=message, url=url)
                state = json.dumps({"approval": approval.id})
                return Pending(
                    InputRequiredResult(
                        input_requests={APPROVAL_KEY: ElicitRequest(params=params)}, request_state=state
                    ),
                    recorded="pending",
                    approval=approval.id,
                )
            outcome = await call.ctx.elicit_url(message, url, approval.id)
            if not isinstance(outcome, AcceptedUrlElicitation):
                return await self._declined_link(call, approval)
            reached = "url-elicitation"
        elif not second_person and service.local_page and open_browser(await blocking(service.browser_link, approval)):
            reached = "browser"
        approval = await self._reached(call, approval, reached)
        return Pending(await self._pending(call, approval), recorded="pending", approval=approval.id)

    @staticmethod
    async def _reached(call: WriteCall, approval: Approval, channel: LinkChannel | None) -> Approval:
        """The approval, with `channel` recorded in the store (and on the copy in hand)."""
        if channel is None:
            return approval
        await blocking(call.runtime.approvals.store.add_channel, approval.id, channel)
        if channel in approval.channels:
            return approval
        return replace(approval, channels=(*approval.channels, channel))

    async def _after_url_round(self, call: WriteCall) -> Decision:
        """The retry after a URL-mode elicitation (2026-07-28): the user saw the link, or declined it."""
        service = call.runtime.approvals
        try:
            approval_id = json.loads(call.ctx.request_state or "")["approval"]
        except (ValueError, KeyError, TypeError):
            raise ConsentRefused(
                ConfirmationError("the approval round is not one this server started"), "none"
            ) from None
        approval = await blocking(service.store.get, approval_id)
        if approval is None:
            raise ConsentRefused(ConfirmationError(f"no approval {approval_id} is known to this server"), "none")
        answer = (call.ctx.input_responses or {}).get(APPROVAL_KEY)
        action = getattr(answer, "action", None) if answer is not None else None
        if isinstance(answer, dict):
            action = answer.get("action")
        if action != "accept":
            return await self._declined_link(call, approval)
        return Pending(await self._pending(call, await self._reached(call, approval, "url-elicitation")))

    async def _declined_link(self, call: WriteCall, approval: Approval) -> Decision:
        try:
            await blocking(call.runtime.approvals.decide, approval.id, False, "client")
        except ConfirmationError:  # a person decided it meanwhile, on the page or in a terminal
            current = await blocking(call.runtime.approvals.store.get, approval.id) or approval
            return Pending(await self._pending(call, current, still=current.status == "pending"))
        return Declined("approval-page", "declined to open the approval page")

    async def _redeem(self, call: WriteCall, approval_id: str, digest: str, client: str) -> Decision:
        service = call.runtime.approvals
        try:
            approval = await blocking(service.store.redeem, approval_id, call.op.name, digest, client)
        except ConfirmationError as exc:
            raise ConsentRefused(exc, "approval-page") from None
        channel = _channel(approval.decided_by)
        if approval.status == "approved":
            return Granted(
                channel,
                approval=approval.id,
                approved_request=approval.request_digest,
                approved_summary=approval.summary,
                approver=approval.approver,
            )
        if approval.status == "denied":
            where = {
                "cli": "in the terminal",
                "client": "when their client offered the link",
                "approval-api": "through the approval API",
            }
            who = f" ({approval.approver['sub']})" if approval.approver else ""
            return Declined(
                channel,
                f"denied it {where.get(approval.decided_by or '', 'on the approval page')}{who}",
                approver=approval.approver,
            )
        if approval.expired(service.clock()):
            raise ConsentRefused(
                ConfirmationError(
                    f"approval {approval.id} expired before anyone decided it. Nothing was sent. Call the tool "
                    "without approval_id to ask again."
                ),
                "approval-page",
            )
        return Pending(await self._pending(call, approval, still=True))

    @staticmethod
    def _places(call: WriteCall, approval: Approval) -> str:
        """Where the person decides it: the channels that reached them (recorded on the approval), then the
        places that always work: the page's pending list and the terminal (PIN only: without one, a model with
        a shell could approve its own write there); under four eyes, the approval API."""
        service = call.runtime.approvals
        said = [REACHED[c].format(proof=service.proof) for c in approval.channels]
        if service.webhook and "webhook" not in approval.channels:  # posted, its receiver has not taken it (yet)
            said.append("a notice was posted to the team's approval channel (not confirmed received)")
        reached = "; ".join(said)
        if four_eyes(call):
            also = (
                "another person of the team must approve it with their own access token: "
                f"telco-mcp approvals approve <id> --url {service.base_url}"
            )
            return f"{reached}; {also}" if reached else also
        if not service.signs_in:
            if reached:
                return reached
            # nothing could reach a person (no browser here, no PIN, no webhook): say how to fix it
            return (
                "no approval channel could reach a person from here: there is no browser to open, so the "
                "operator must set TELCO_MCP_APPROVER_PIN (then the page's pending list and `telco-mcp "
                "approvals` work) or TELCO_MCP_APPROVAL_WEBHOOK"
            )
        if service.factor == "passkey":  # a terminal cannot make an assertion: the page only
            also = f"on the pending list at {service.list_url()} (passkey)"
        else:
            also = (
                f"on the pending list at {service.list_url()} (approver PIN) "
                "or in a terminal: telco-mcp approvals approve <id> (approver PIN)"
            )
        return f"{reached}; or {also}" if reached else also

    @staticmethod
    async def _pending(call: WriteCall, approval: Approval, *, still: bool = False) -> CallToolResult:
        service = call.runtime.approvals
        minutes = max(1, int((approval.expires - service.clock()) // 60))
        places = await blocking(ApprovalConsent._places, call, approval)  # the page's URL may start its listener
        if still:
            lead = (
                f"Still pending: nobody has approved {approval.id} yet, nothing was sent and nothing was used up. "
                f"Ask the user to decide it ({places}), then call {call.op.name} again with the same "
                f"arguments and approval_id (valid about {minutes} min more)."
            )
        else:
            lead = (
                "Not sent yet: a human must approve this outside the conversation "
                f"({places}). Tell the user what you want to do and why. When they have approved it, "
                f"call {call.op.name} again with the same arguments and approval_id set to the id below "
                f"(valid {minutes} min, once). You cannot approve it yourself."
            )
        out = write_result(
            call.op,
            status="approval_pending",
            summary=approval.summary,
            approval_id=approval.id,
            expires_at=datetime.fromtimestamp(approval.expires, UTC),
            budget=await call.budget(),
            note=approval.verdict and f"The guardrails would refuse it now: {approval.verdict}",
        )
        return success(call.op, out, sandbox=call.sandbox, lead=lead)


# How each channel reached the person, as the model reads it (`Approval.channels`).
REACHED: dict[LinkChannel, str] = {
    "browser": "the approval page was opened in the user's browser",
    "url-elicitation": "your MCP client showed the user the approval page ({proof})",
    "webhook": "a notice went to the team's approval channel",
}


def client_can_open_url(call: WriteCall) -> bool:
    """URL-mode elicitation declared by the client, and a channel that can carry it."""
    caps = call.ctx.client_capabilities
    elicitation = caps.elicitation if caps else None
    if elicitation is None or elicitation.url is None:
        return False
    return _modern(call) or bool(call.ctx.session.can_send_request)


def _channel(decided_by: str | None) -> ConfirmedBy:
    if decided_by == "cli":
        return "cli"
    if decided_by == "approval-api":
        return "approval-api"
    return "approval-page"


def four_eyes(call: WriteCall) -> bool:
    """Whether TELCO_MCP_FOUR_EYES asks a second person to approve this write."""
    return covered_by_four_eyes(call.op, call.runtime.settings.telco_mcp_four_eyes)


def _secret_channel(call: WriteCall, mode: str, secret: str) -> Consent:
    """A write that sets a secret (a SIP password) needs a channel a person reads and the model does not.

    The MCP spec forbids secrets in form elicitation, and a token, or no confirmation at all, would leave the
    model to fill the field: only the approval page takes it, reached directly (auto, approval) or through a
    URL-mode elicitation (elicit; its link carries no secret, so the approver signs in with the PIN).
    """
    if four_eyes(call):
        raise ConsentRefused(
            SafetyRefusal(
                f"{call.op.name} sets a {secret}, which only the approval page takes, and TELCO_MCP_FOUR_EYES needs "
                "a second person signed in with their own token, which that page does not know. Set it without "
                "four eyes for this tool's scope, or in SignalWire's dashboard.",
                rule="four_eyes",
            ),
            "none",
        )
    if mode in ("auto", "approval"):
        return ApprovalConsent()
    if mode == "elicit" and client_can_open_url(call) and call.runtime.approvals.signs_in:
        return ApprovalConsent()
    why = {
        "elicit": "this client offers no URL-mode elicitation (or the server has no TELCO_MCP_APPROVER_PIN to sign "
        "in on the page it would open)",
        "token": "a confirmation token would leave the model to fill it",
        "off": "nobody is asked, so nobody could type it",
    }[mode]
    raise ConsentRefused(
        SafetyRefusal(
            f"{call.op.name} sets a {secret}, which only a person may type or see: it needs the approval page "
            f"(TELCO_MCP_CONFIRM=auto or approval) or URL-mode elicitation, and TELCO_MCP_CONFIRM={mode} offers "
            f"neither: {why}.",
            rule="confirm_mode",
        ),
        "none",
    )


# ------------------------------------------------------------------ choosing one
CONSENT_FIELD = {"auto": "approval_id", "approval": "approval_id", "token": "confirm_token"}  # per mode


def covered_by_four_eyes(op: Operation, rule: str) -> bool:
    """Whether `TELCO_MCP_FOUR_EYES=rule` asks a second person to approve `op`."""
    return op.is_write and (rule == "writes" or (rule == "destructive" and op.effect == "destructive"))


def consent_field(op: Operation, mode: str, four_eyes_rule: str = "off") -> str | None:
    """The consent field a tool takes under `mode`: a tool that may set a secret goes through the approval page
    in every mode that has one (elicit reaches it by URL-mode elicitation), and so does every write four eyes
    covers, whatever the mode (the second person decides it through the approval API)."""
    if op.secret is not None:
        return "approval_id" if mode in ("auto", "approval", "elicit") else None
    if mode != "off" and covered_by_four_eyes(op, four_eyes_rule):
        return "approval_id"
    return CONSENT_FIELD.get(mode)


def write_statuses(op: Operation, mode: str, four_eyes_rule: str = "off") -> list[str]:
    """The `status` values a write can answer with under this configuration, in `WriteResult`'s order.

    `confirmation_required` comes with a confirmation token, `approval_pending` with an approval, and
    `declined` wherever a person is asked: an elicitation (every mode but approval and off asks a client that
    can elicit) or an approval (denied, or its link declined). Under `off` nobody is asked."""
    field = consent_field(op, mode, four_eyes_rule)
    out = ["applied", "dry_run"]
    if field == "confirm_token":
        out.append("confirmation_required")
    if field == "approval_id":
        out.append("approval_pending")
    if mode != "off":
        out.append("declined")
    return out


def _mode_named(call: WriteCall) -> str:
    """The configuration that decided the consent mode, as the operator wrote it."""
    settings = call.runtime.settings
    named = f"TELCO_MCP_CONFIRM={settings.telco_mcp_confirm}"
    if settings.consent_mode != settings.telco_mcp_confirm:
        named += f" with TELCO_MCP_APPROVER_FACTOR={settings.telco_mcp_approver_factor} (every write is approved)"
    return named


def choose(call: WriteCall) -> Consent:
    """The consent channel for this call under `TELCO_MCP_CONFIRM` (see the table above)."""
    mode = call.runtime.settings.consent_mode  # an approver factor turns auto, elicit and token into approval
    takes = consent_field(call.op, mode, call.runtime.settings.telco_mcp_four_eyes)
    if call.confirm_token and four_eyes(call):  # the caller's own yes (a token) is not a second person's
        raise ConsentRefused(
            ConfirmationError(
                f"{call.op.name} needs a second person's approval (TELCO_MCP_FOUR_EYES), not a confirm_token. "
                "Nothing was sent. Call the tool without it to ask for an approval."
            ),
            "none",
        )
    for name in ("confirm_token", "approval_id"):
        if getattr(call, name) and takes != name:
            raise ConsentRefused(
                ConfirmationError(
                    f"{name} is not used when {_mode_named(call)}"
                    + (f" (this server takes {takes})" if takes else "")
                    + ". Nothing was sent. Call the tool without it."
                ),
                "none",
            )
    if (secret := call.op.secret_field(call.args)) is not None:
        return _secret_channel(call, mode, secret)
    if mode == "off":
        return OffConsent()
    if four_eyes(call):  # the caller's own yes (elicitation, a token) is not a second person's
        return ApprovalConsent()
    if mode != "approval" and client_can_elicit(call):
        return ElicitationConsent()
    if mode == "elicit":
        raise ConsentRefused(
            SafetyRefusal(
                f"{call.op.name} needs a human confirmation: TELCO_MCP_CONFIRM=elicit requires a client that "
                "supports elicitation; this one does not.",
                rule="confirm_mode",
            ),
            "none",
        )
    if mode == "token":
        return TokenConsent()
    return ApprovalConsent()
