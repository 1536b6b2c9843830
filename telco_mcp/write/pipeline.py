"""The write pipeline, top to bottom: policy -> consent -> audit intent -> send -> interpret -> audit outcome.

Nothing reaches a provider unless policy allows the write and consent was granted; the audit log
gets an `intent` line (flushed) before the request leaves and exactly one `attempt` line for every
call that got past the preview: `applied`, `declined`, `refused`, `failed` or `unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import anyio
from mcp.types import CallToolResult, InputRequiredResult

from telco_mcp.approval.store import request_digest
from telco_mcp.errors import (
    ConfirmationError,
    OutcomeUnknown,
    ProviderError,
    SafetyRefusal,
    StateUnavailable,
    TelcoError,
)
from telco_mcp.operation import SECRET_PLACEHOLDER
from telco_mcp.ops import metrics, tracing
from telco_mcp.results import failure, preview, success, write_result
from telco_mcp.safety.audit import ConfirmedBy, Outcome, new_attempt_id
from telco_mcp.wire import PreparedRequest
from telco_mcp.write import consent, policy
from telco_mcp.write.call import WriteCall, blocking
from telco_mcp.write.send import interpret, provider_id, send


@dataclass
class _Progress:
    """How far one write got, for the audit line of a write cancelled midway (a shutdown, a client's cancel)."""

    channel: ConfirmedBy = "none"
    attempt: str | None = None
    approval: str | None = None
    sent: bool = False
    answered: bool = False  # the outcome line is written: a later cut adds nothing


async def run_write(call: WriteCall) -> CallToolResult | InputRequiredResult:
    if call.dry_run:
        return await dry_run(call)
    progress = _Progress()
    try:
        return await _run_write(call, progress)
    except anyio.get_cancelled_exc_class():
        # Cut (SIGTERM's grace period ran out, or the client cancelled): on record all the same. Sent, the
        # provider may have acted; not sent, nothing happened.
        if progress.sent and not progress.answered:
            _record(
                call, progress.attempt or new_attempt_id(), progress.channel, "unknown", approval=progress.approval,
                detail="cut before the provider answered (the server stopped or the call was cancelled): the "
                "write may have been applied; check before repeating it",
            )  # fmt: skip
        elif not progress.sent:
            _record(
                call, progress.attempt or new_attempt_id(), progress.channel, "refused", approval=progress.approval,
                detail="cut before it was sent (the server stopped or the call was cancelled): nothing was sent",
            )  # fmt: skip
        raise


async def _run_write(call: WriteCall, progress: _Progress) -> CallToolResult | InputRequiredResult:

    # 1. policy: may this happen at all?
    try:
        with tracing.span("write.policy", tool=call.op.name):
            await blocking(policy.check, call)
    except (SafetyRefusal, StateUnavailable) as exc:  # shared state down: fail closed, before anyone is asked
        return _stopped(call, exc, channel="none")

    # 2. consent: has a human agreed?
    try:
        with tracing.span("write.consent", tool=call.op.name) as stage:
            chosen = consent.choose(call)
            stage.set_attribute("channel", chosen.channel)
            await call.summary()  # the plain words every channel shows; a failed lookup stops here
            decision = await chosen.obtain(call)
            stage.set_attribute("decision", type(decision).__name__)
    except consent.ConsentRefused as exc:
        return _stopped(call, exc.error, channel=exc.channel)
    except StateUnavailable as exc:  # a redemption or nonce could not be checked: nothing is sent
        return _stopped(call, exc, channel="none")
    except TelcoError as exc:
        return failure(exc, sandbox=call.sandbox)
    if isinstance(decision, consent.Pending):
        if decision.recorded is not None:  # a preview or an approval request: nothing sent, but on record
            _record(call, new_attempt_id(), chosen.channel, decision.recorded, approval=decision.approval)
        return decision.result
    if isinstance(decision, consent.Declined):
        _record(
            call, new_attempt_id(), decision.channel, "declined", detail=f"user {decision.how}",
            approver=decision.approver,
        )  # fmt: skip
        out = write_result(
            call.op, status="declined", summary=await call.summary(), note=f"The user {decision.how}.",
            budget=await call.budget(),
        )  # fmt: skip
        return success(
            call.op, out, sandbox=call.sandbox, lead=f"Not sent: the user {decision.how}. Do not retry unless asked."
        )
    granted, approval, grant, approver = decision.channel, decision.approval, decision.grant, decision.approver
    attempt = new_attempt_id()
    progress.channel, progress.attempt, progress.approval = granted, attempt, approval
    try:
        request = await call.op.build_request(call.args, call.hooks)
        if decision.approved_request is not None:
            shown = preview(call.client.base_url, request, call.client.auth_scheme)
            if request_digest(shown.method, shown.url, shown.body, shown.form) != decision.approved_request:
                raise ConfirmationError(
                    f"what {call.op.name} would send now differs from what was approved (the provider's state "
                    "changed since, e.g. a looked-up sender or resource). Nothing was sent. Call the tool without "
                    "approval_id to ask again"
                )
        if decision.approved_summary is not None and await call.summary() != decision.approved_summary:
            raise ConfirmationError(
                f"what the person approved for {call.op.name} is no longer true: the state it showed them (e.g. "
                "a number's routing before the change, a call's parties, what a delete loses) changed since. "
                "Nothing was sent. Call the tool without approval_id to ask again with what is true now"
            )
        await blocking(policy.consume, call)  # counted against the hourly caps right before it leaves
    except (SafetyRefusal, ConfirmationError, StateUnavailable) as exc:
        return _stopped(call, exc, channel=granted, attempt=attempt, approval=approval)
    except TelcoError as exc:
        _record(
            call, attempt, granted, "failed", status=getattr(exc, "status", None), detail=exc.message, approval=approval
        )
        return failure(exc, sandbox=call.sandbox)

    # 3. audit intent: no record, no write
    try:
        with tracing.span("write.audit_intent", tool=call.op.name):
            call.runtime.audit.intent(
                attempt=attempt,
                tool=call.op.name,
                arguments=call.arguments,
                confirmed_by=granted,
                approval=approval,
                grant=grant,
                caller=call.caller_audit,
                approver=approver,
                request={"method": request.method, "url": call.client.url_for(request), "body": request.body},
            )
    except OSError as exc:
        call.runtime.audit.unwritable(exc)
        return failure(
            f"[refused] The audit log could not be written ({exc.strerror}), so nothing was sent. "
            "Fix TELCO_MCP_AUDIT_LOG and try again.",
            sandbox=call.sandbox,
        )

    # 4. send, once (with the secret a person gave on the approval page, put in only now: never audited)
    secret: str | None = None
    if (secret_field := call.op.secret_field(call.args)) is not None:
        secret = await blocking(call.runtime.approvals.take_secret, approval) if approval else None
        if secret is None:
            error = ConfirmationError(
                f"the {secret_field} given on the approval page could not be taken: it expired with its approval, "
                "was already used, the shared state is unreachable, or it was sealed under another "
                "TELCO_MCP_CONFIRM_SECRET (a replica configured differently, or a server restarted without one). "
                "Nothing was sent. Call the tool without approval_id to ask again"
            )
            return _stopped(call, error, channel=granted, attempt=attempt, approval=approval)
        request = with_secret(request, secret_field, secret)
    # content never recorded (a fax's bytes) goes in only now, read afresh and checked against what was approved
    recorded = request
    if call.op.at_send is not None:
        try:
            request = await call.op.at_send(call.args, request, call.hooks)
        except TelcoError as exc:
            return _stopped(call, exc, channel=granted, attempt=attempt, approval=approval)
    progress.sent = True
    try:
        with tracing.span("write.send", tool=call.op.name, provider=call.op.provider):
            response = await send(call, request)
    except TelcoError as exc:
        progress.answered = True
        if secret:
            exc.message = exc.message.replace(secret, "********")  # a provider that echoes the body cannot leak it
        exc.message = unfilled(exc.message, request, recorded)  # an error quoting the body shows the placeholder
        return _send_failed(call, exc, attempt, granted, approval, approver)

    # 5. interpret
    with tracing.span("write.interpret", tool=call.op.name, status=response.status_code):
        answer = await interpret(call, response)
    note = answer.note

    # 6. audit outcome: the write happened, so a failure to record it is said, never a reason to repeat
    progress.answered = True  # (no await from here to the outcome line: nothing can cut in between)
    try:
        _record(
            call, attempt, granted, "applied", status=response.status_code,
            provider_id=provider_id(answer.result), approval=approval, grant=grant, approver=approver,
        )  # fmt: skip
    except OSError as exc:
        call.runtime.audit.unwritable(exc)
        note = (note + " " if note else "") + "The write was applied but could not be recorded in the audit log."
    summary = await call.summary()
    out = write_result(
        call.op, status="applied", summary=summary, result=answer.result, budget=await call.budget(), note=note
    )
    return success(call.op, out, sandbox=call.sandbox, lead=f"Done: {summary}")


def with_secret(request: PreparedRequest, field: str, secret: str) -> PreparedRequest:
    """`request` with the secret in its body field (where the placeholder the approver saw stands)."""
    if not isinstance(request.json, dict) or request.json.get(field) != SECRET_PLACEHOLDER:
        raise AssertionError(f"the request has no {field} placeholder to fill")  # a declaration bug: send nothing
    return replace(request, json={**request.json, field: secret})


def unfilled(message: str, sent: PreparedRequest, recorded: PreparedRequest) -> str:
    """`message` with every body value filled at send time replaced by the placeholder that was recorded."""
    if not isinstance(sent.json, dict) or not isinstance(recorded.json, dict):
        return message
    for key, value in sent.json.items():
        placeholder = recorded.json.get(key)
        if isinstance(value, str) and value and value != placeholder:
            message = message.replace(value, str(placeholder))
    return message


def _send_failed(
    call: WriteCall,
    exc: TelcoError,
    attempt: str,
    granted: ConfirmedBy,
    approval: str | None,
    approver: dict[str, str] | None,
) -> CallToolResult:
    if isinstance(exc, OutcomeUnknown):
        _record(
            call, attempt, granted, "unknown", status=exc.status, detail=exc.message, approval=approval,
            approver=approver,
        )  # fmt: skip
    elif isinstance(exc, ProviderError):
        outcome: Outcome = "unknown" if exc.changed is None else "failed"
        _record(
            call, attempt, granted, outcome, status=exc.status, detail=exc.message, approval=approval,
            approver=approver,
        )  # fmt: skip
    else:
        raise exc
    return failure(exc, sandbox=call.sandbox)


async def dry_run(call: WriteCall) -> CallToolResult:
    """The exact request and the guardrails' verdict, nothing sent and nobody asked."""
    try:
        summary = await call.summary()
        request = await call.op.build_request(call.args, call.hooks)
    except TelcoError as exc:
        return failure(exc, sandbox=call.sandbox)
    verdict = policy.verdict(call)
    _record(call, new_attempt_id(), "none", "dry_run", detail=verdict)
    out = write_result(
        call.op,
        status="dry_run",
        summary=summary,
        request=preview(call.client.base_url, request, call.client.auth_scheme),
        note=f"The real call would be refused: {verdict}" if verdict else None,
        budget=await call.budget(),
    )
    return success(call.op, out, sandbox=call.sandbox, lead=f"Dry run, nothing was sent: {summary}")


def _stopped(
    call: WriteCall, error: TelcoError, *, channel: ConfirmedBy, attempt: str | None = None, approval: str | None = None
) -> CallToolResult:
    """A write refused before anything was sent: recorded, and said so."""
    _record(call, attempt or new_attempt_id(), channel, "refused", detail=error.message, approval=approval)
    if isinstance(error, SafetyRefusal):
        metrics.refused(error.rule)
    if isinstance(error, SafetyRefusal) and "Nothing was sent" not in error.message:
        return failure(f"[{error.category}] {error.message} Nothing was sent.", sandbox=call.sandbox)
    return failure(error, sandbox=call.sandbox)


def _record(
    call: WriteCall,
    attempt: str,
    channel: ConfirmedBy,
    outcome: Outcome,
    *,
    status: int | None = None,
    provider_id: str | None = None,
    detail: str | None = None,
    approval: str | None = None,
    grant: str | None = None,
    approver: dict[str, str] | None = None,
) -> None:
    metrics.tool_call(call.op.name, outcome)
    call.runtime.audit.attempt(
        attempt=attempt,
        tool=call.op.name,
        arguments=call.arguments,
        confirmed_by=channel,
        outcome=outcome,
        status=status,
        provider_id=provider_id,
        detail=detail,
        sandbox=call.sandbox,
        approval=approval,
        grant=grant,
        caller=call.caller_audit,
        approver=approver,
    )
