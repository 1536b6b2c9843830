"""sipgate inputs and results of issue 27 (fax, number routing, voicemail), typed from the REST v2 spec.

Request bodies follow ``ChangeNumberSettingsRequest``, ``SendFaxRequest`` and ``ResendFaxRequest``;
results read ``NumberResponseWithEndpoint``, ``VoicemailResponse`` and ``HistoryEntryResponse``
(with the fax and voicemail fields sipgate sends beyond the 2022 schema: ``faxStatusType``,
``pageCount``, ``transcription``, ``recordingUrl``; see docs/sipgate-round2.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from telco_mcp.models import IsoTime, Page, PageInput, Result
from telco_mcp.phone import PhoneNumber
from telco_mcp.providers import payload as p
from telco_mcp.providers.sipgate.models import ConnectionId, HistoryDirection, HistoryId, HistoryType, Voicemail, _Input
from telco_mcp.untrusted import TRUSTED

Extension = Annotated[str, Field(max_length=8, pattern=r"^[a-z][0-9]{1,6}$")]
FaxlineId = Annotated[str, Field(max_length=8, pattern=r"^f[0-9]{1,6}$", description="Fax line, e.g. f0.")]


# ------------------------------------------------------------------ number routing
class RouteNumberInput(_Input):
    """Route a number to another extension."""

    number_id: str = Field(max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="id from sipgate_list_numbers.")
    endpoint_id: Extension = Field(description="New target: phoneline p1, group g0, voicemail v0...")

    def body(self) -> dict[str, Any]:
        """``ChangeNumberSettingsRequest``: only the routing (quickDial and releaseForMnp are not touched)."""
        return {"endpointId": self.endpoint_id}


# ------------------------------------------------------------------ voicemail
class GetVoicemailInput(PageInput):
    """A voicemail box's messages, newest first."""

    voicemail_id: str = Field(max_length=8, pattern=r"^v[0-9]{1,6}$", description="Box id, e.g. v0.")


class VoicemailMessage(Result):
    id: str
    source: str | None = Field(default=None, description="Caller's number.")
    source_alias: str | None = None
    created: str | None = None
    read: bool | None = None
    duration: int | None = Field(default=None, description="Seconds.")
    transcription: str | None = Field(default=None, description="Speech to text, provider data.")
    recording_url: str | None = None


class VoicemailMessages(Page):
    voicemail: Voicemail
    items: list[VoicemailMessage]
    total_count: int = Field(description="Messages in all pages.")


def voicemail_message_from_api(payload: Any) -> VoicemailMessage:
    """A ``HistoryEntryResponse`` of type VOICEMAIL -> ``VoicemailMessage``."""
    what = "voicemail entry"
    data = p.obj(payload, what)
    return VoicemailMessage(
        id=p.req_str(data, "id", what),
        source=p.opt_str(data, "source", what),
        source_alias=p.opt_str(data, "sourceAlias", what),
        created=p.opt_str(data, "created", what),
        read=p.opt_bool(data, "read", what),
        duration=p.opt_int(data, "duration", what),
        transcription=p.opt_str(data, "transcription", what),
        recording_url=p.opt_str(data, "recordingUrl", what),
    )


# ------------------------------------------------------------------ fax
class SendFaxInput(_Input):
    """Send a PDF from the fax directory."""

    file: str = Field(min_length=1, max_length=255, description="PDF path relative to TELCO_MCP_FAX_DIR.")
    recipient: PhoneNumber
    faxline_id: FaxlineId = "f0"


def faxline_ids_from_api(payload: Any) -> list[str]:
    """``FaxlinesResponse {items}`` (``GET /{userId}/faxlines``) -> the fax line ids (the ownership check)."""
    what = "fax line list"
    items = p.obj(payload, what).get("items", [])
    if not isinstance(items, list):
        raise p.PayloadShapeError(f"{what}: items is not a list")
    return [p.req_str(p.obj(item, "fax line"), "id", "fax line") for item in items]


class SentFax(Result):
    fax_id: str = Field(description="sessionId = history entry id: sipgate_get_fax_status.")
    recipient: str
    file: str
    size: int
    pages: int
    sha256: Annotated[str, TRUSTED]


class GetFaxStatusInput(_Input):
    """A fax's state."""

    fax_id: HistoryId = Field(description="fax_id from sipgate_send_fax (a history entry id).")


class FaxStatus(Result):
    fax_id: str
    status: str | None = Field(default=None, description="SENT, PENDING, SENDING, SCHEDULED or FAILED.")
    recipient: str | None = None
    direction: str | None = None
    created: str | None = None
    page_count: int | None = None


def fax_status_from_api(payload: Any) -> FaxStatus:
    """A ``HistoryEntryResponse`` of type FAX -> ``FaxStatus``; another type is an odd answer here."""
    what = "fax history entry"
    data = p.obj(payload, what)
    kind = p.req_str(data, "type", what)
    if kind != "FAX":
        raise p.PayloadShapeError(f"{what}: the entry is of type {kind!r}, not FAX")
    incoming = p.opt_bool(data, "incoming", what)
    return FaxStatus(
        fax_id=p.req_str(data, "id", what),
        status=p.opt_str(data, "faxStatusType", what),
        recipient=p.opt_str(data, "source" if incoming else "target", what),
        direction=p.opt_str(data, "direction", what),
        created=p.opt_str(data, "created", what),
        page_count=p.opt_int(data, "pageCount", what),
    )


class ResendFaxInput(_Input):
    """Send an outgoing fax again."""

    fax_id: HistoryId = Field(description="The fax's history entry id.")
    recipient: PhoneNumber = Field(description="Its recipient, as a check.")
    faxline_id: FaxlineId = "f0"

    def body(self) -> dict[str, Any]:
        """``ResendFaxRequest``."""
        return {"faxId": self.fax_id, "faxlineId": self.faxline_id}


class ResentFax(Result):
    fax_id: str
    recipient: str
    resent: bool


# ------------------------------------------------------------------ history export
class ExportHistoryInput(_Input):
    """Export history as CSV (a resource link, kept 10 minutes)."""

    types: Annotated[list[HistoryType], AfterValidator(p.unique)] | None = Field(default=None, min_length=1)
    directions: Annotated[list[HistoryDirection], AfterValidator(p.unique)] | None = Field(default=None, min_length=1)
    connection_ids: Annotated[list[ConnectionId], AfterValidator(p.unique)] | None = Field(
        default=None, min_length=1, max_length=50, description="Extensions, e.g. p0."
    )
    archived: bool | None = Field(default=None, description="true = archived only.")
    starred: bool | None = None
    start: IsoTime | None = Field(default=None, description="Not before (ISO 8601 with offset).")
    end: IsoTime | None = None
    limit: int = Field(default=1000, ge=1, le=1000, description="Rows.")

    @model_validator(mode="after")
    def _start_before_end(self) -> ExportHistoryInput:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start ({self.start.isoformat()}) is after end ({self.end.isoformat()})")
        return self

    def query(self) -> tuple[tuple[str, str], ...]:
        """``GET /history/export`` query parameters; list filters repeated, as for ``GET /history``."""
        params = [("offset", "0"), ("limit", str(self.limit))]
        params += [("types", v) for v in self.types or ()] + [("directions", v) for v in self.directions or ()]
        params += [("connectionIds", v) for v in self.connection_ids or ()]
        if self.archived is not None:
            params.append(("archived", "true" if self.archived else "false"))
        if self.starred is not None:
            params.append(("starred", "STARRED" if self.starred else "UNSTARRED"))
        for name, value in (("from", self.start), ("to", self.end)):
            if value is not None:
                params.append((name, value.strftime("%Y-%m-%dT%H:%M:%SZ")))
        return tuple(params)


class HistoryExport(Result):
    uri: Annotated[str, TRUSTED] = Field(description="Read it with resources/read; yours only.")
    size: int = Field(description="Bytes.")
    rows: int
    expires_in_seconds: int
