"""Where the sandbox follows the live API instead of its published spec: the one reviewed list.

Every answer the sandbox gives for a covered operation is one that the provider's OpenAPI document
(cut into ``tests/contracts/``) declares, in the declared shape; ``tests/sandbox/test_sandbox_contract.py``
validates each of them with openapi-core (the current SignalWire REST document, and sipgate's own
Swagger 2.0 document as converted to OpenAPI 3 by openapi-generator). The only exceptions are the
entries below: cases where the live API is known to answer otherwise. Each entry cites the section
of ``docs/upstream-notes.md`` it rests on (anchors ``#section-1-3`` and so on). An answer that is
neither declared by the spec nor listed here fails the validation test, and so does an entry here
that no answer uses any more.

Add an entry only with such a citation: the sandbox is only worth testing against while it answers
like the providers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NOTES = "docs/upstream-notes.md"  # relative to the repository root

Answer = Literal["no-body", "error-object", "one-object-not-array", "csv"]
"""What the sandbox sends instead of what the spec declares:

* ``no-body``: the status, with an empty body.
* ``error-object``: the status, with SignalWire's error body ``{"error": "<reason>"}``.
* ``one-object-not-array``: the declared status, but one list object where the spec declares an
  array of them; the object itself must match the spec's item schema.
* ``csv``: the declared status, with a CSV body (``text/csv``) where the spec declares another media type
  and a JSON schema.
"""


@dataclass(frozen=True)
class Deviation:
    provider: Literal["signalwire", "sipgate"]
    method: str  # HTTP method, or "*": every covered operation of the provider
    path: str  # the spec's path template, or "*"
    status: int
    answer: Answer
    live: str  # what the live API does, in words
    source: str  # the section of NOTES it rests on

    def covers(self, provider: str, method: str, path: str, status: int) -> bool:
        return (
            self.provider == provider
            and self.method in ("*", method.upper())
            and self.path in ("*", path)
            and self.status == status
        )


def _malformed_json_400(method: str, path: str) -> Deviation:
    return Deviation(
        provider="signalwire",
        method=method,
        path=path,
        status=400,
        answer="error-object",
        live="Malformed JSON is 400 (the docs' error-codes page), although the operation does not declare it.",
        source=f"{NOTES} §2.3 (Error formats: 400 for malformed JSON)",
    )


# SignalWire's writes answer malformed JSON with 400, which these operations do not declare.
_MALFORMED_JSON = (
    ("PATCH", "/api/fabric/resources/sip_gateways/{id}"),
    ("POST", "/api/fabric/resources/sip_endpoints"),
    ("PUT", "/api/fabric/resources/sip_endpoints/{id}"),
    ("POST", "/api/fabric/resources/sip_gateways"),
    ("PUT", "/api/relay/rest/phone_numbers/{id}"),
    ("PUT", "/api/relay/rest/sip_profile"),
)

DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        provider="sipgate",
        method="POST",
        path="/sessions/sms",
        status=204,
        answer="no-body",
        live="An accepted SMS is answered 204 No Content; the spec declares no 2xx at all (only 402).",
        source=f"{NOTES} §1.3 (POST /sessions/sms row)",
    ),
    Deviation(
        provider="sipgate",
        method="PUT",
        path="/{userId}/phonelines/{phonelineId}/forwardings",
        status=204,
        answer="no-body",
        live=(
            "Accepted forwardings are answered 204 No Content; like sendWebSms, the spec declares no 2xx at all "
            "(only 400 and 403)."
        ),
        source=f"{NOTES} §1.3 (the POST /sessions/sms row: sipgate's writes answer 204 where no 2xx is declared)",
    ),
    Deviation(
        provider="sipgate",
        method="PUT",
        path="/settings/sipgateio",
        status=204,
        answer="no-body",
        live=(
            "The spec declares no 2xx for this PUT (only 403), as for POST /sessions/sms, which real clients see "
            "answered 204 No Content; the sandbox answers the accepted settings the same way, with no body. "
            "Not confirmed against the live API."
        ),
        source=f"{NOTES} §1.3 (POST /sessions/sms row: no 2xx declared, real clients see 204)",
    ),
    Deviation(
        provider="sipgate",
        method="*",
        path="*",
        status=401,
        answer="no-body",
        live=(
            "Missing or bad credentials (PAT, Basic or Bearer) are 401. The spec models only OAuth2 security "
            "and declares 401 on /authorization/userinfo alone, and declares no error bodies."
        ),
        source=f"{NOTES} §1.2 (the spec does not describe Basic/PAT) and §1.5 (clients branch on 401)",
    ),
    Deviation(
        provider="sipgate",
        method="*",
        path="*",
        status=403,
        answer="no-body",
        live=(
            "A token without the operation's scope, a feature the account lacks, another user's resources or an "
            "invalid smsId are 403, with no body."
        ),
        source=f"{NOTES} §1.5 (403 is a missing scope, a missing feature, or an invalid smsId) and §1.3",
    ),
    Deviation(
        provider="sipgate",
        method="*",
        path="*",
        status=400,
        answer="no-body",
        live=(
            "A request sipgate cannot accept (a field missing or of the wrong type, malformed JSON, a bad query "
            "parameter, a recipient that is no number, sendAt in the past) is refused with 400, the status the "
            "spec declares for invalid input on POST /sessions/calls; no operation here declares an error body."
        ),
        source=f"{NOTES} §1.3 (POST /sessions/calls: 400 for invalid callee or caller) and §1.5 (no error bodies)",
    ),
    Deviation(
        provider="sipgate",
        method="GET",
        path="/history/{entryId}",
        status=404,
        answer="no-body",
        live=(
            "An unknown history entry id is 404 with no body; the spec declares only 200 here. Clients branch on "
            '404 as "no such resource", and no history operation declares an error body.'
        ),
        source=f"{NOTES} §1.5 (clients branch on the status code; none of our operations declares an error body)",
    ),
    Deviation(
        provider="signalwire",
        method="GET",
        path="/api/fabric/resources/sip_endpoints",
        status=200,
        answer="one-object-not-array",
        live=(
            "The list is one {links, data} object, as SignalWire's own SDK reads it; the spec declares an array "
            "of such objects (a spec bug present in the seed and upstream)."
        ),
        source=f"{NOTES} §2.2 (Spec bug in list_sip_credentials)",
    ),
    *(_malformed_json_400(method, path) for method, path in _MALFORMED_JSON),
    # sipgate round 2 (issue 27): writes whose spec declares no 2xx (docs/upstream-notes.md, "sipgate round 2")
    Deviation(
        provider="sipgate",
        method="PUT",
        path="/numbers/{numberId}",
        status=204,
        answer="no-body",
        live=(
            "changeNumberSettings declares only 404 (Number not found), no 2xx. Like POST /sessions/sms, which real "
            "clients see answered 204 No Content, an accepted change is answered 204 with no body. Not confirmed "
            "against the live API; the tool reads the number back instead of reading the answer."
        ),
        source=f"{NOTES} §1.3 (POST /sessions/sms row: no 2xx declared, real clients see 204)",
    ),
    Deviation(
        provider="sipgate",
        method="GET",
        path="/history/export",
        status=200,
        answer="csv",
        live=(
            "getHistoryCSV is 'List all calls, faxes, SMS and voicemails as csv' and produces application/octet-stream "
            "(sipgate's Swagger 2.0 document), yet declares the JSON schema HistoryResponse for it, which no CSV can "
            "match; the sandbox answers CSV (text/csv), one row per entry after a header row."
        ),
        source=f"{NOTES} §1.1 (the spec is sipgate's Swagger 2.0 document; its media types as converted)",
    ),
    Deviation(
        provider="sipgate",
        method="POST",
        path="/sessions/fax/resend",
        status=204,
        answer="no-body",
        live=(
            "resendFax declares only 402 (Insufficient funds), no 2xx; an accepted resend is answered like the other "
            "session writes without a declared 2xx, 204 with no body. Not confirmed against the live API."
        ),
        source=f"{NOTES} §1.3 (POST /sessions/sms row: no 2xx declared, real clients see 204)",
    ),
)


def deviation_for(provider: str, method: str, path: str, status: int) -> Deviation | None:
    """The listed deviation for an answer, if there is one."""
    return next((d for d in DEVIATIONS if d.covers(provider, method, path, status)), None)


# ------------------------------------------------------------------ requests
@dataclass(frozen=True)
class RequestDeviation:
    """A request body the live API takes although the spec's schema for it refuses it.

    The request-side twin of `Deviation`: ``tests/spec_requests.py`` validates every request the tools
    send to the sandbox against the spec with exactly these changes made to the named schema, and the
    sandbox's own request models follow the live API. An entry no request needs any more fails there.
    """

    provider: Literal["signalwire", "sipgate"]
    method: str
    path: str  # the spec's path template
    schema: str  # the request body's component schema
    adds: tuple[tuple[str, int], ...]  # (property, minLength): a string property the live API takes
    not_required: tuple[str, ...]  # names the schema requires that the live API does not take or need
    requires: tuple[str, ...]  # added names the live API requires
    live: str
    source: str  # the section of NOTES it rests on, and that section's sources


_PASSWORD_SOURCE = f"{NOTES} (SIP credential password)"

REQUEST_DEVIATIONS: tuple[RequestDeviation, ...] = (
    RequestDeviation(
        provider="signalwire",
        method="POST",
        path="/api/fabric/resources/sip_endpoints",
        schema="SipEndpointCreateRequest",
        adds=(("password", 8),),
        not_required=(
            "id",
            "caller_id",
            "send_as",
            "ciphers",
            "codecs",
            "encryption",
            "call_handler",
            "calling_handler_resource_id",
        ),  # fmt: skip
        requires=("password",),
        live=(
            "A SIP credential is created from a username and a password (at least 8 characters); the id is "
            "assigned by the server and every other field is optional. The spec's schema is the response "
            "model's fields (it spreads `SipEndpoint`), so it requires an id and has no password."
        ),
        source=_PASSWORD_SOURCE,
    ),
    RequestDeviation(
        provider="signalwire",
        method="PUT",
        path="/api/fabric/resources/sip_endpoints/{id}",
        schema="SipEndpointUpdateRequest",
        adds=(("password", 8),),
        not_required=(),
        requires=(),
        live="An update may set a new password (at least 8 characters); the spec's schema lacks it.",
        source=_PASSWORD_SOURCE,
    ),
)


def request_deviation_for(provider: str, method: str, path: str) -> RequestDeviation | None:
    """The listed request deviation of an operation, if there is one."""
    return next(
        (d for d in REQUEST_DEVIATIONS if (d.provider, d.method, d.path) == (provider, method.upper(), path)),
        None,
    )
