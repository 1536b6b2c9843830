"""Validation of the tool inputs and the upstream payload -> result transforms of both providers.

Payloads are built from the examples in the specs (signalwire-rest-subset-telephony.yaml and
sipgate-v2-subset-telephony.mock.yaml), plus the quirks noted in upstream-apis.md.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from telco_mcp.providers.signalwire import models as sw
from telco_mcp.providers.sipgate import models as sg

GATEWAY_ID = "0823a606-0aff-4c90-9eba-f88ba118fe05"
CREDENTIAL_ID = "67075301-69b2-4fc3-8a2c-c95a69a5665e"
RECORDING_ID = "d369a402-7b43-4512-8735-9d5e1f387814"
LEG_ID = "5f0e1c9a-63e4-4f0a-9d6b-1c2d3e4f5a6b"
CONFERENCE_ID = "0089cc48-4f98-4a6b-90d8-61f8a5d1b0e3"


def error_text(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value)


# ==================================================================================================
# SignalWire inputs
# ==================================================================================================


def test_gateway_update_body_holds_only_the_given_fields_without_the_id() -> None:
    update = sw.UpdateSipGatewayInput.model_validate(
        {
            "id": GATEWAY_ID,
            "name": "  My SIP Gateway ",
            "encryption": "required",
            "codecs": ["OPUS@48000H@20I", "PCMU"],
            "ciphers": ["AEAD_AES_256_GCM_8", "AES_256_CM_HMAC_SHA1_80"],
        }
    )
    assert update.id == UUID(GATEWAY_ID)
    assert update.body() == {
        "name": "My SIP Gateway",
        "encryption": "required",
        "codecs": ["OPUS@48000H@20I", "PCMU"],
        "ciphers": ["AEAD_AES_256_GCM_8", "AES_256_CM_HMAC_SHA1_80"],
    }


def test_gateway_update_with_nothing_to_change_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID})
    assert "nothing to change: give at least one of name, uri, encryption, ciphers, codecs" in error_text(exc)


def test_gateway_update_rejects_an_unknown_codec_and_names_it() -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID, "codecs": ["OPUS", "MP3"]})
    text = error_text(exc)
    assert "codecs.1" in text
    assert "'MP3'" in text
    assert "'OPUS@8000H@20I'" in text  # the message lists what is allowed


def test_gateway_update_rejects_duplicate_codecs_and_ciphers() -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID, "codecs": ["OPUS", "PCMU", "OPUS"]})
    assert "duplicate values: OPUS" in error_text(exc)
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipGatewayInput.model_validate(
            {"id": GATEWAY_ID, "ciphers": ["AES_CM_128_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_32"]}
        )
    assert "duplicate values: AES_CM_128_HMAC_SHA1_32" in error_text(exc)


def test_gateway_update_rejects_empty_lists() -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID, "codecs": []})
    assert "codecs" in error_text(exc)
    assert "at least 1 item" in error_text(exc)


def test_gateway_update_rejects_a_bad_encryption_value() -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID, "encryption": "bogus"})
    assert "encryption" in error_text(exc)
    assert "'required', 'optional' or 'default'" in error_text(exc)


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "3fa85f64-5717-4562-b3fc", ""])
def test_ids_must_be_uuids(bad_id: str) -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipGatewayInput.model_validate({"id": bad_id, "name": "gw"})
    assert "id" in error_text(exc)
    assert "UUID" in error_text(exc)
    for model in (sw.GetSipCredentialInput, sw.GetRecordingInput, sw.DeleteRecordingInput):
        with pytest.raises(ValidationError, match="UUID"):
            model.model_validate({"id": bad_id})


def test_get_inputs_accept_a_uuid() -> None:
    assert sw.GetRecordingInput.model_validate({"id": RECORDING_ID}).id == UUID(RECORDING_ID)
    assert sw.DeleteRecordingInput.model_validate({"id": RECORDING_ID}).id == UUID(RECORDING_ID)
    assert sw.GetSipCredentialInput.model_validate({"id": CREDENTIAL_ID}).id == UUID(CREDENTIAL_ID)


@pytest.mark.parametrize(
    "uri",
    [
        "sip:pbx.example.com",
        "sip:pbx.example.com:5060",
        "sips:pbx.example.com:5061;transport=tls",
        "SIP:trunk@pbx.example.com",
        "pbx.example.com",
        "user3@domain.com",  # the form used in the upstream examples
        "203.0.113.7:5060",
        "sip:[2001:db8::1]:5060",
    ],
)
def test_gateway_uri_accepts_sip_uris_and_host_names(uri: str) -> None:
    assert sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID, "uri": uri}).body() == {"uri": uri}


@pytest.mark.parametrize(
    "uri", ["https://pbx.example.com", "sip:", "pbx example.com", "-bad-.example.com", "sip:host:port", "tel:+4930"]
)
def test_gateway_uri_rejects_what_is_not_a_sip_uri(uri: str) -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID, "uri": uri})
    assert "uri" in error_text(exc)
    assert "is not a SIP URI" in error_text(exc) or "at least 1 character" in error_text(exc)


def test_gateway_name_is_bounded() -> None:
    with pytest.raises(ValidationError, match="at least 1 character"):
        sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID, "name": "   "})
    with pytest.raises(ValidationError, match="at most 100 characters"):
        sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID, "name": "x" * 101})


def test_inputs_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipGatewayInput.model_validate({"id": GATEWAY_ID, "name": "gw", "project_id": "x"})
    assert "project_id" in error_text(exc)
    assert "Extra inputs are not permitted" in error_text(exc)
    with pytest.raises(ValidationError, match="Extra inputs"):
        sw.GetSipProfileInput.model_validate({"domain": "x"})


def test_list_inputs_only_page() -> None:
    page = sw.ListRecordingsInput.model_validate({"limit": 5, "cursor": "abc"})
    assert (page.limit, page.cursor) == (5, "abc")
    assert sw.ListSipCredentialsInput().limit == 20
    with pytest.raises(ValidationError, match="less than or equal to 100"):
        sw.ListSipGatewaysInput.model_validate({"limit": 101})
    with pytest.raises(ValidationError, match="Extra inputs"):
        sw.ListSipGatewaysInput.model_validate({"page_size": 10})


def test_profile_update_body_and_send_as_normalisation() -> None:
    update = sw.UpdateSipProfileInput.model_validate(
        {
            "domain_identifier": "example",
            "default_codecs": ["OPUS", "PCMU"],
            "default_ciphers": ["AEAD_AES_256_GCM_8"],
            "default_encryption": "optional",
            "default_send_as": "+49 30 1234567",
        }
    )
    assert update.body() == {
        "domain_identifier": "example",
        "default_codecs": ["OPUS", "PCMU"],
        "default_ciphers": ["AEAD_AES_256_GCM_8"],
        "default_encryption": "optional",
        "default_send_as": "+49301234567",
    }


def test_profile_update_empty_send_as_means_random_and_is_sent() -> None:
    assert sw.UpdateSipProfileInput.model_validate({"default_send_as": ""}).body() == {"default_send_as": ""}


def test_profile_update_send_as_must_be_international() -> None:
    with pytest.raises(ValidationError, match="must be an international number starting with \\+"):
        sw.UpdateSipProfileInput.model_validate({"default_send_as": "030 1234567"})
    with pytest.raises(ValidationError, match="cannot be a phone number"):
        sw.UpdateSipProfileInput.model_validate({"default_send_as": "+1 555"})
    # shown as the caller, never dialled: a possible number from SignalWire's own example is enough
    example = sw.UpdateSipProfileInput.model_validate({"default_send_as": "+15551234567"})
    assert example.default_send_as == "+15551234567"


def test_profile_update_with_nothing_to_change_is_rejected() -> None:
    with pytest.raises(ValidationError, match="nothing to change: give at least one of domain_identifier"):
        sw.UpdateSipProfileInput.model_validate({})


@pytest.mark.parametrize("identifier", ["My_Office", "office.example", "x" * 64, ""])
def test_profile_domain_identifier_is_a_lowercase_label(identifier: str) -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipProfileInput.model_validate({"domain_identifier": identifier})
    assert "domain_identifier" in error_text(exc)


def test_profile_encryption_has_no_default_value() -> None:
    with pytest.raises(ValidationError) as exc:
        sw.UpdateSipProfileInput.model_validate({"default_encryption": "default"})
    assert "'required' or 'optional'" in error_text(exc)


def test_input_schemas_have_short_descriptions_and_no_field_titles_set_by_hand() -> None:
    schema = sw.UpdateSipGatewayInput.model_json_schema()
    for name, prop in schema["properties"].items():
        described = prop.get("description") or any(part.get("description") for part in prop.get("anyOf", []))
        assert described, name
    assert schema["required"] == ["id"]
    assert schema["additionalProperties"] is False


# ==================================================================================================
# SignalWire results
# ==================================================================================================


def sip_endpoint(**changes: Any) -> dict[str, Any]:
    """A ``SipEndpoint`` with every (required, partly nullable) field, values from the spec examples."""
    payload: dict[str, Any] = {
        "type": "sip_endpoint",
        "id": CREDENTIAL_ID,
        "username": "c3p0",
        "caller_id": "C-3P0",
        "send_as": "random",
        "ciphers": ["AEAD_AES_256_GCM_8"],
        "codecs": ["OPUS", "PCMU"],
        "encryption": "required",
        "call_handler": "relay_topic",
        "calling_handler_resource_id": "fe4093d9-58c2-4931-b4b9-5679f82652c6",
        "call_request_url": None,
        "call_request_method": None,
        "call_fallback_url": None,
        "call_fallback_method": None,
        "call_status_callback_url": None,
        "call_status_callback_method": None,
        "call_laml_application_id": None,
        "call_dialogflow_agent_id": None,
        "call_relay_topic": "office",
        "call_relay_topic_status_callback_url": "https://myapplication/handle_relay_callbacks",
        "call_relay_context": None,
        "call_relay_context_status_callback_url": None,
        "call_relay_application": None,
        "call_video_room_id": None,
        "call_relay_script_url": None,
    }
    payload.update(changes)
    return payload


def test_sip_credential_keeps_identity_media_and_non_null_routing() -> None:
    credential = sw.sip_credential_from_api(sip_endpoint())
    assert credential.model_dump(exclude_none=True) == {
        "id": CREDENTIAL_ID,
        "type": "sip_endpoint",
        "username": "c3p0",
        "caller_id": "C-3P0",
        "send_as": "random",
        "encryption": "required",
        "codecs": ["OPUS", "PCMU"],
        "ciphers": ["AEAD_AES_256_GCM_8"],
        "call_handler": "relay_topic",
        "calling_handler_resource_id": "fe4093d9-58c2-4931-b4b9-5679f82652c6",
        "routing": {
            "call_relay_topic": "office",
            "call_relay_topic_status_callback_url": "https://myapplication/handle_relay_callbacks",
        },
    }


def test_sip_credential_ignores_extra_upstream_fields_and_does_not_copy_them() -> None:
    credential = sw.sip_credential_from_api(sip_endpoint(password="s3cret", new_feature={"x": 1}))
    dumped = credential.model_dump(exclude_none=True)
    assert "password" not in dumped
    assert "new_feature" not in dumped
    assert dumped["type"] == "sip_endpoint"


def test_sip_credential_tolerates_codecs_newer_than_our_enum_and_missing_optionals() -> None:
    payload = {"id": CREDENTIAL_ID, "username": "c3p0", "codecs": ["OPUS@12000H@20I", "AV1"]}
    credential = sw.sip_credential_from_api(payload)
    assert credential.codecs == ["OPUS@12000H@20I", "AV1"]
    assert credential.ciphers is None


@pytest.mark.parametrize("missing", ["id", "username"])
def test_sip_credential_without_a_required_field_is_a_value_error(missing: str) -> None:
    payload = sip_endpoint()
    del payload[missing]
    with pytest.raises(ValueError, match=f"SIP credential: required field '{missing}' is missing"):
        sw.sip_credential_from_api(payload)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not json object", "SIP credential: expected a JSON object, got a string"),
        (None, "expected a JSON object, got null"),
        (sip_endpoint(codecs="OPUS"), "field 'codecs' should be an array of strings, got a string"),
        (sip_endpoint(codecs=[1, 2]), "field 'codecs' should be an array of strings"),
        (sip_endpoint(username={"x": 1}), "field 'username' should be a string, got an object"),
    ],
)
def test_sip_credential_of_the_wrong_shape_is_a_value_error(payload: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sw.sip_credential_from_api(payload)


NEXT_URL = (
    "https://example.signalwire.com/api/fabric/resources/sip_endpoints"
    "?page_number=1&page_size=50&page_token=PAbff61159-faab-48b3-959a-3021a8f5beca"
)


def sip_endpoint_list(next_url: str | None = NEXT_URL) -> dict[str, Any]:
    links = {
        "self": "https://example.signalwire.com/api/fabric/resources/sip_endpoints?page_number=0&page_size=50",
        "first": "https://example.signalwire.com/api/fabric/resources/sip_endpoints?page_number=0&page_size=50",
    }
    if next_url:
        links["next"] = next_url
    second = sip_endpoint(id="11111111-2222-4333-8444-555555555555", username="r2d2", caller_id=None)
    return {"links": links, "data": [sip_endpoint(), second]}


def test_sip_credential_page_from_the_real_single_object() -> None:
    items, next_url = sw.sip_credential_page_from_api(sip_endpoint_list())
    assert [item.username for item in items] == ["c3p0", "r2d2"]
    assert items[1].caller_id is None
    assert next_url == NEXT_URL


def test_sip_credential_page_from_the_documented_one_element_array() -> None:
    items, next_url = sw.sip_credential_page_from_api([sip_endpoint_list(next_url=None)])
    assert [item.id for item in items] == [CREDENTIAL_ID, "11111111-2222-4333-8444-555555555555"]
    assert next_url is None


def test_sip_credential_page_edge_shapes() -> None:
    assert sw.sip_credential_page_from_api([]) == ([], None)
    assert sw.sip_credential_page_from_api({"data": []}) == ([], None)  # no links: last page
    with pytest.raises(ValueError, match="expected one \\{links, data\\} object, got an array of 2"):
        sw.sip_credential_page_from_api([sip_endpoint_list(), sip_endpoint_list()])
    with pytest.raises(ValueError, match="field 'data' should be an array, got null"):
        sw.sip_credential_page_from_api({"links": {"self": "x", "first": "x"}})
    # a link of an odd shape never fails the page it came with: there is just no next page
    for links in ("x", {"self": "x", "next": 42}, {"next": {"href": "x"}}, {"next": ""}, ["x"]):
        assert sw.sip_credential_page_from_api({"links": links, "data": [sip_endpoint()]})[1] is None
    with pytest.raises(ValueError, match="required field 'id' is missing"):
        sw.sip_credential_page_from_api({"data": [{"username": "c3p0"}]})


def test_credential_page_result_dumps_compactly() -> None:
    items, _ = sw.sip_credential_page_from_api(sip_endpoint_list())
    page = sw.SipCredentialPage(items=items[:1])
    assert page.model_dump(exclude_none=True)["items"][0]["username"] == "c3p0"
    assert "next_cursor" not in page.model_dump(exclude_none=True)


def sip_gateway_response(**inner_changes: Any) -> dict[str, Any]:
    inner: dict[str, Any] = {
        "id": "cce59cad-104d-4c28-ada4-98cfd102ae09",
        "uri": "user3@domain.com",
        "name": "My SIP Gateway",
        "ciphers": ["AEAD_AES_256_GCM_8"],
        "codecs": ["OPUS"],
        "encryption": "required",
    }
    inner.update(inner_changes)
    return {
        "id": GATEWAY_ID,
        "project_id": "bc949800-7b40-43cf-8438-a85facfcbdd1",
        "display_name": "My SIP Gateway (display)",
        "type": "sip_gateway",
        "created_at": "2024-05-06T12:20:00Z",
        "updated_at": "2024-05-06T12:20:00Z",
        "sip_gateway": inner,
    }


def test_sip_gateway_is_flattened_with_the_outer_id() -> None:
    gateway = sw.sip_gateway_from_api(sip_gateway_response())
    assert gateway.model_dump(exclude_none=True) == {
        "id": GATEWAY_ID,
        "sip_gateway_id": "cce59cad-104d-4c28-ada4-98cfd102ae09",
        "project_id": "bc949800-7b40-43cf-8438-a85facfcbdd1",
        "type": "sip_gateway",
        "display_name": "My SIP Gateway (display)",
        "name": "My SIP Gateway",
        "uri": "user3@domain.com",
        "encryption": "required",
        "codecs": ["OPUS"],
        "ciphers": ["AEAD_AES_256_GCM_8"],
        "created_at": "2024-05-06T12:20:00Z",
        "updated_at": "2024-05-06T12:20:00Z",
    }


def test_sip_gateway_name_falls_back_to_display_name_and_extras_are_ignored() -> None:
    payload = sip_gateway_response(name=None, transport="tls")
    payload["labels"] = ["new upstream field"]
    gateway = sw.sip_gateway_from_api(payload)
    assert gateway.name == "My SIP Gateway (display)"
    assert "labels" not in gateway.model_dump()


def test_sip_gateway_without_its_config_block_or_id_is_a_value_error() -> None:
    payload = sip_gateway_response()
    del payload["sip_gateway"]
    with pytest.raises(ValueError, match="SIP gateway: required field 'sip_gateway' is missing"):
        sw.sip_gateway_from_api(payload)
    payload = sip_gateway_response()
    del payload["id"]
    with pytest.raises(ValueError, match="required field 'id' is missing"):
        sw.sip_gateway_from_api(payload)
    with pytest.raises(ValueError, match="sip_gateway: expected a JSON object, got an array"):
        sw.sip_gateway_from_api({**sip_gateway_response(), "sip_gateway": []})


def test_sip_gateway_page_follows_links_next() -> None:
    next_url = (
        "https://example.signalwire.com/api/fabric/resources/sip_gateways"
        "?page_number=1&page_size=50&page_token=PAbff61159-faab-48b3-959a-3021a8f5beca"
    )
    payload = {
        "data": [sip_gateway_response()],
        "links": {
            "self": "https://example.signalwire.com/api/fabric/resources/sip_gateways?page_number=0&page_size=50",
            "first": "https://example.signalwire.com/api/fabric/resources/sip_gateways?page_number=0&page_size=50",
            "next": next_url,
        },
    }
    items, found = sw.sip_gateway_page_from_api(payload)
    assert [item.id for item in items] == [GATEWAY_ID]
    assert found == next_url
    assert sw.SipGatewayPage(items=items, next_cursor="c").next_cursor == "c"


def test_sip_profile_from_the_spec_example() -> None:
    payload = {
        "domain": "your-space-example.sip.signalwire.com",
        "domain_identifier": "example",
        "default_codecs": ["OPUS", "G722", "PCMU", "PCMA", "VP8", "H264"],
        "default_ciphers": ["AEAD_AES_256_GCM_8"],
        "default_encryption": "optional",
        "default_send_as": "+15551234567",
        "future_field": True,
    }
    profile = sw.sip_profile_from_api(payload)
    assert profile.model_dump(exclude_none=True) == {
        key: value for key, value in payload.items() if key != "future_field"
    }
    with pytest.raises(ValueError, match="none of domain"):  # a 200 of some other shape is not a profile
        sw.sip_profile_from_api({"unexpected": True})
    with pytest.raises(ValueError, match="SIP profile: expected a JSON object, got an array"):
        sw.sip_profile_from_api([payload])


def recording_payload(leg_key: str, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": RECORDING_ID,
        "project_id": "d369a402-7b43-4512-8735-9d5e1f387814",
        "created_at": "2024-05-06T12:20:00Z",
        "updated_at": "2024-05-06T12:21:00Z",
        "duration_in_seconds": 2,
        "price": 0.05,
        "price_unit": "USD",
        "status": "completed",
        "url": "https://example.com/recording.mp3",
        "stereo": False,
        "byte_size": 10,
        "track": "inbound",
        leg_key: CONFERENCE_ID if leg_key == "relay_conference_id" else LEG_ID,
    }
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    ("leg_key", "leg_type", "leg_id"),
    [
        ("relay_pstn_leg_id", "pstn", LEG_ID),
        ("relay_sip_leg_id", "sip", LEG_ID),
        ("relay_webrtc_leg_id", "webrtc", LEG_ID),
        ("relay_conference_id", "conference", CONFERENCE_ID),
    ],
)
def test_recording_leg_type_comes_from_the_leg_key(leg_key: str, leg_type: str, leg_id: str) -> None:
    recording = sw.recording_from_api(recording_payload(leg_key))
    assert recording.model_dump(exclude_none=True) == {
        "id": RECORDING_ID,
        "project_id": "d369a402-7b43-4512-8735-9d5e1f387814",
        "leg_type": leg_type,
        "leg_id": leg_id,
        "created_at": "2024-05-06T12:20:00Z",
        "updated_at": "2024-05-06T12:21:00Z",
        "duration_in_seconds": 2,
        "status": "completed",
        "url": "https://example.com/recording.mp3",
        "stereo": False,
        "track": "inbound",
        "price": 0.05,
        "price_unit": "USD",
        "byte_size": 10,
    }


def test_a_leg_recording_inside_a_conference_stays_a_leg_recording() -> None:
    recording = sw.recording_from_api(recording_payload("relay_sip_leg_id", relay_conference_id=CONFERENCE_ID))
    assert (recording.leg_type, recording.leg_id, recording.conference_id) == ("sip", LEG_ID, CONFERENCE_ID)


def test_recording_optional_fields_and_extras() -> None:
    payload = {
        "id": RECORDING_ID,
        "relay_pstn_leg_id": LEG_ID,
        "relay_sip_leg_id": None,
        "error_code": "rec_failed",
        "price": "0.0025",
        "transcription": "ignored upstream extra",
    }
    recording = sw.recording_from_api(payload)
    assert recording.model_dump(exclude_none=True) == {
        "id": RECORDING_ID,
        "leg_type": "pstn",
        "leg_id": LEG_ID,
        "price": 0.0025,
        "error_code": "rec_failed",
    }


def test_recording_without_a_leg_or_id_or_with_bad_types_is_a_value_error() -> None:
    payload = recording_payload("relay_pstn_leg_id")
    del payload["relay_pstn_leg_id"]
    with pytest.raises(ValueError, match="recording: none of relay_pstn_leg_id, relay_sip_leg_id"):
        sw.recording_from_api(payload)
    payload = recording_payload("relay_pstn_leg_id")
    del payload["id"]
    with pytest.raises(ValueError, match="recording: required field 'id' is missing"):
        sw.recording_from_api(payload)
    with pytest.raises(ValueError, match="'duration_in_seconds' should be an integer, got a string"):
        sw.recording_from_api(recording_payload("relay_pstn_leg_id", duration_in_seconds="2s"))
    with pytest.raises(ValueError, match="'stereo' should be a boolean"):
        sw.recording_from_api(recording_payload("relay_pstn_leg_id", stereo="no"))
    with pytest.raises(ValueError, match="'price' should be a number"):
        sw.recording_from_api(recording_payload("relay_pstn_leg_id", price="free"))


def test_recording_page_mixes_variants() -> None:
    payload = {
        "links": {
            "self": "https://example.signalwire.com/api/relay/rest/recordings?page_number=0&page_size=2",
            "first": "https://example.signalwire.com/api/relay/rest/recordings?page_number=0&page_size=2",
            "next": "https://example.signalwire.com/api/relay/rest/recordings?page_number=1&page_size=2&page_token=PA1",
        },
        "data": [recording_payload("relay_pstn_leg_id"), recording_payload("relay_conference_id")],
    }
    items, next_url = sw.recording_page_from_api(payload)
    assert [item.leg_type for item in items] == ["pstn", "conference"]
    assert next_url is not None and next_url.endswith("page_token=PA1")
    assert sw.RecordingPage(items=items).next_cursor is None


def test_deleted_recording_defaults_to_deleted() -> None:
    assert sw.DeletedRecording(id=RECORDING_ID).model_dump() == {"id": RECORDING_ID, "deleted": True}


# ==================================================================================================
# sipgate inputs
# ==================================================================================================


def test_hold_mute_record_bodies() -> None:
    assert sg.HoldCallInput(call_id="ABCDEF0123456789", value=True).body() == {"value": True}
    assert sg.HoldCallInput(call_id="ABCDEF0123456789", value=False).body() == {"value": False}
    assert sg.MuteCallInput(call_id="ABCDEF0123456789", value=True).body() == {"value": True}
    assert sg.RecordCallInput(call_id="ABCDEF0123456789", value=True).body() == {"value": True, "announcement": True}
    assert sg.RecordCallInput(call_id="c_1-2", value=False, announcement=False).body() == {
        "value": False,
        "announcement": False,
    }


def test_requests_without_a_body() -> None:
    assert sg.HangupCallInput(call_id="ABCDEF0123456789").body() is None
    assert sg.GetAccountInput().body() is None
    assert sg.ListCallsInput().body() is None
    assert sg.ListSmsSendersInput().body() is None
    assert sg.ListHistoryInput().body() is None


@pytest.mark.parametrize("call_id", ["", "../account", "ABC DEF", "a/b", "x" * 65])
def test_call_id_must_be_a_safe_token(call_id: str) -> None:
    with pytest.raises(ValidationError) as exc:
        sg.HangupCallInput(call_id=call_id)
    assert "call_id" in error_text(exc)


def test_booleans_are_not_guessed_from_words() -> None:
    with pytest.raises(ValidationError, match="value"):
        sg.HoldCallInput.model_validate({"call_id": "ABCDEF0123456789", "value": "maybe"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        sg.HoldCallInput.model_validate({"call_id": "ABCDEF0123456789", "value": True, "callId": "x"})


def test_transfer_body_normalises_numbers() -> None:
    transfer = sg.TransferCallInput(call_id="ABCDEF0123456789", phone_number="030 1234567")
    assert transfer.body() == {"attended": False, "phoneNumber": "+49301234567"}
    transfer = sg.TransferCallInput(
        call_id="ABCDEF0123456789", phone_number="+49 1579 9912345", attended=True, caller_id="+49 211 0012345"
    )
    assert transfer.body() == {"attended": True, "phoneNumber": "+4915799912345", "callerId": "+492110012345"}


@pytest.mark.parametrize(
    ("number", "message"),
    [("hello", "not a phone number"), ("+49 12", "not a valid number"), ("+999 1234", "unknown country code")],
)
def test_unparseable_phone_numbers_are_rejected(number: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        sg.TransferCallInput(call_id="ABCDEF0123456789", phone_number=number)
    assert "phone_number" in error_text(exc)
    assert message in error_text(exc)


def test_dtmf_is_upper_cased() -> None:
    assert sg.SendDtmfInput(call_id="ABCDEF0123456789", sequence="12#*abcd").body() == {"sequence": "12#*ABCD"}


@pytest.mark.parametrize(("sequence", "named"), [("12E", "'E'"), ("1 2", "' '"), ("9e-", "'-' 'e'")])
def test_dtmf_rejects_other_characters_and_names_them(sequence: str, named: str) -> None:
    with pytest.raises(ValidationError) as exc:
        sg.SendDtmfInput(call_id="ABCDEF0123456789", sequence=sequence)
    assert f"sequence has characters DTMF cannot send: {named}" in error_text(exc)


def test_dtmf_length_is_bounded() -> None:
    with pytest.raises(ValidationError, match="at least 1 character"):
        sg.SendDtmfInput(call_id="ABCDEF0123456789", sequence="")
    with pytest.raises(ValidationError, match="at most 64 characters"):
        sg.SendDtmfInput(call_id="ABCDEF0123456789", sequence="1" * 65)


def test_announcement_accepts_https() -> None:
    url = "https://static.sipgate.com/examples/wav/example.wav"
    assert sg.PlayAnnouncementInput(call_id="ABCDEF0123456789", url=url).body() == {"url": url}


@pytest.mark.parametrize(
    "url",
    [
        "http://static.sipgate.com/examples/wav/example.wav",
        "file:///etc/passwd",
        "/examples/wav/example.wav",
        "static.sipgate.com/example.wav",
        "https://",
        "https:///example.wav",
        "https://exa mple.com/a.wav",
    ],
)
def test_announcement_rejects_anything_but_absolute_https(url: str) -> None:
    with pytest.raises(ValidationError) as exc:
        sg.PlayAnnouncementInput(call_id="ABCDEF0123456789", url=url)
    assert "https only" in error_text(exc)


def test_announcement_url_is_bounded() -> None:
    with pytest.raises(ValidationError, match="at most 2048 characters"):
        sg.PlayAnnouncementInput(call_id="ABCDEF0123456789", url="https://example.com/" + "a" * 2048)


def test_start_call_from_a_device() -> None:
    call = sg.StartCallInput(callee="+4915799912345", caller="e0")
    assert call.body() == {"caller": "e0", "callee": "+4915799912345"}


def test_start_call_from_a_number_needs_a_device() -> None:
    with pytest.raises(ValidationError) as exc:
        sg.StartCallInput(callee="+4915799912345", caller="030 1234567")
    assert "device_id is required when caller is a phone number" in error_text(exc)
    call = sg.StartCallInput(callee="01579 9912345", caller="030 1234567", device_id="p0", caller_id="+49 211 0012345")
    assert call.body() == {
        "caller": "+49301234567",
        "callee": "+4915799912345",
        "deviceId": "p0",
        "callerId": "+492110012345",
    }


def test_start_call_rejects_a_caller_that_is_neither_device_nor_number() -> None:
    with pytest.raises(ValidationError) as exc:
        sg.StartCallInput(callee="+4915799912345", caller="reception")
    assert "caller must be a device id like e0, p0, x0 or a phone number" in error_text(exc)
    with pytest.raises(ValidationError) as exc:
        sg.StartCallInput(callee="+4915799912345", caller="e0", device_id="E-0")
    assert "device_id" in error_text(exc)


def in_days(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_sms_body_now_and_scheduled() -> None:
    sms = sg.SendSmsInput(recipient="0157 99912345", message="  Hello from telco-mcp  ")
    assert sms.body("s0") == {"smsId": "s0", "recipient": "+4915799912345", "message": "  Hello from telco-mcp  "}

    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).astimezone(timezone(timedelta(hours=2)))
    sms = sg.SendSmsInput.model_validate(
        {"recipient": "+4915799912345", "message": "later", "sms_id": "s1", "send_at": when.isoformat()}
    )
    body = sms.body(sms.sms_id or "s0")
    assert body == {"smsId": "s1", "recipient": "+4915799912345", "message": "later", "sendAt": int(when.timestamp())}
    assert isinstance(body["sendAt"], int)


def test_sms_send_at_without_timezone_is_rejected() -> None:
    naive = in_days(1).replace(tzinfo=None).isoformat()
    with pytest.raises(ValidationError) as exc:
        sg.SendSmsInput.model_validate({"recipient": "+4915799912345", "message": "x", "send_at": naive})
    assert "send_at has no timezone: add an offset" in error_text(exc)


def test_sms_send_at_in_the_past_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        sg.SendSmsInput(recipient="+4915799912345", message="x", send_at=in_days(-1 / 24))
    assert "is in the past; it must be in the future" in error_text(exc)


def test_sms_send_at_more_than_30_days_ahead_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        sg.SendSmsInput(recipient="+4915799912345", message="x", send_at=in_days(31))
    assert "is more than 30 days ahead" in error_text(exc)
    assert sg.SendSmsInput(recipient="+4915799912345", message="x", send_at=in_days(29.9)).send_at is not None


@pytest.mark.parametrize("message", ["", "   \n\t ", "x" * 1601])
def test_sms_message_is_bounded_and_not_blank(message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        sg.SendSmsInput(recipient="+4915799912345", message=message)
    assert "message" in error_text(exc)


def test_sms_sender_id_pattern() -> None:
    with pytest.raises(ValidationError, match="sms_id"):
        sg.SendSmsInput(recipient="+4915799912345", message="x", sms_id="e0")


def test_history_query_repeats_list_filters_and_sends_utc_times() -> None:
    history = sg.ListHistoryInput.model_validate(
        {
            "limit": 50,
            "types": ["CALL", "SMS"],
            "directions": ["MISSED_INCOMING"],
            "phonenumber": "030 1234567",
            "start": "2026-05-01T00:00:00+02:00",
            "end": "2026-05-02T00:00:00Z",
        }
    )
    assert history.query(offset=100) == [
        ("offset", "100"),
        ("limit", "50"),
        ("types", "CALL"),
        ("types", "SMS"),
        ("directions", "MISSED_INCOMING"),
        ("phonenumber", "+49301234567"),
        ("from", "2026-04-30T22:00:00Z"),
        ("to", "2026-05-02T00:00:00Z"),
    ]
    assert sg.ListHistoryInput().query(0) == [("offset", "0"), ("limit", "20")]


def test_history_rejects_bad_filters() -> None:
    with pytest.raises(ValidationError, match="start \\(2026-05-02T00:00:00\\+00:00\\) is after end"):
        sg.ListHistoryInput.model_validate({"start": "2026-05-02T00:00:00Z", "end": "2026-05-01T00:00:00Z"})
    with pytest.raises(ValidationError, match="start has no timezone"):
        sg.ListHistoryInput.model_validate({"start": "2026-05-02T00:00:00"})
    with pytest.raises(ValidationError, match="types.0"):
        sg.ListHistoryInput.model_validate({"types": ["CALLS"]})
    with pytest.raises(ValidationError, match="duplicate values: SMS"):
        sg.ListHistoryInput.model_validate({"types": ["SMS", "SMS"]})
    with pytest.raises(ValidationError, match="at least 1 item"):
        sg.ListHistoryInput.model_validate({"directions": []})


# ==================================================================================================
# sipgate results
# ==================================================================================================


def test_account_maps_camel_case_and_ignores_extras() -> None:
    payload = {
        "company": "Love sipgate",
        "mainProductType": "TEAM",
        "logoUrl": "https://example.com/logo.png",
        "verified": True,
        "historyLifeTime": "UNLIMITED",
        "featureScope": "CLASSIC_PBX",
    }
    assert sg.account_from_api(payload).model_dump(exclude_none=True) == {
        "company": "Love sipgate",
        "main_product_type": "TEAM",
        "logo_url": "https://example.com/logo.png",
        "verified": True,
        "history_life_time": "UNLIMITED",
    }
    with pytest.raises(ValueError, match="account: field 'verified' should be a boolean, got a string"):
        sg.account_from_api({"verified": "yes"})


CALLS_PAYLOAD: dict[str, Any] = {
    "data": [
        {
            "callId": "ABCDEF0123456789",
            "muted": False,
            "recording": False,
            "hold": False,
            "participants": [
                {
                    "participantId": "ABCDEF0123456789",
                    "phoneNumber": "+4915799912345",
                    "muted": False,
                    "hold": False,
                    "owner": True,
                },
                {"participantId": "p2", "phoneNumber": "", "muted": False, "hold": True, "owner": False},
            ],
        }
    ]
}


def test_call_list_from_the_spec_example() -> None:
    calls = sg.call_list_from_api(CALLS_PAYLOAD)
    assert calls.model_dump(exclude_none=True) == {
        "calls": [
            {
                "call_id": "ABCDEF0123456789",
                "muted": False,
                "recording": False,
                "hold": False,
                "participants": [
                    {
                        "participant_id": "ABCDEF0123456789",
                        "phone_number": "+4915799912345",
                        "muted": False,
                        "hold": False,
                        "owner": True,
                    },
                    {"participant_id": "p2", "muted": False, "hold": True, "owner": False},
                ],
            }
        ]
    }


def test_call_list_tolerates_extras_and_an_empty_list() -> None:
    payload = copy.deepcopy(CALLS_PAYLOAD)
    payload["data"][0]["direction"] = "outgoing"
    payload["data"][0]["participants"][0]["deviceId"] = "e0"
    payload["meta"] = {"neo": False}
    assert sg.call_list_from_api(payload).calls[0].call_id == "ABCDEF0123456789"
    assert sg.call_list_from_api({"data": []}).calls == []
    assert sg.call_list_from_api({"data": None}).calls == []


def test_call_list_of_the_wrong_shape_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="call list: required field 'data' is missing"):
        sg.call_list_from_api({})
    with pytest.raises(ValueError, match="call list: expected a JSON object, got an array"):
        sg.call_list_from_api(CALLS_PAYLOAD["data"])
    payload = copy.deepcopy(CALLS_PAYLOAD)
    del payload["data"][0]["callId"]
    with pytest.raises(ValueError, match="call: required field 'callId' is missing"):
        sg.call_list_from_api(payload)
    payload = copy.deepcopy(CALLS_PAYLOAD)
    del payload["data"][0]["participants"][1]["participantId"]
    with pytest.raises(ValueError, match="call participant: required field 'participantId' is missing"):
        sg.call_list_from_api(payload)
    with pytest.raises(ValueError, match="field 'participants' should be an array"):
        sg.call_from_api({"callId": "x", "participants": {}})


def test_call_action_result_is_compact() -> None:
    call = sg.call_from_api(CALLS_PAYLOAD["data"][0])
    result = sg.CallActionResult(call_id="ABCDEF0123456789", action="hold", call=call)
    assert result.model_dump(exclude_none=True)["call"]["call_id"] == "ABCDEF0123456789"
    gone = sg.CallActionResult(call_id="ABCDEF0123456789", action="hangup", ended=True)
    assert gone.model_dump(exclude_none=True) == {"call_id": "ABCDEF0123456789", "action": "hangup", "ended": True}


def test_started_call() -> None:
    assert sg.started_call_from_api({"sessionId": "7f3c0a1e"}).session_id == "7f3c0a1e"
    with pytest.raises(ValueError, match="new call: required field 'sessionId' is missing"):
        sg.started_call_from_api({"session": "x"})


def test_sms_senders() -> None:
    payload = {
        "items": [
            {"id": "s0", "alias": "SMS von Douglas Engelbart", "callerId": "+4915799912345"},
            {"id": "s1", "alias": "Backup", "callerId": None, "defaultNumber": "x"},
        ]
    }
    assert sg.sms_sender_list_from_api(payload).model_dump(exclude_none=True) == {
        "items": [
            {"id": "s0", "alias": "SMS von Douglas Engelbart", "caller_id": "+4915799912345"},
            {"id": "s1", "alias": "Backup"},
        ]
    }
    with pytest.raises(ValueError, match="SMS sender: required field 'id' is missing"):
        sg.sms_sender_list_from_api({"items": [{"alias": "no id"}]})
    with pytest.raises(ValueError, match="SMS sender list: required field 'items' is missing"):
        sg.sms_sender_list_from_api({"data": []})


def test_sent_sms_result() -> None:
    when = in_days(1)
    sent = sg.SentSms(sms_id="s0", recipient="+4915799912345", send_at=when, status="scheduled")
    assert sent.model_dump(exclude_none=True)["send_at"] == when
    assert "send_at" not in sg.SentSms(sms_id="s0", recipient="+49", status="accepted").model_dump(exclude_none=True)
    with pytest.raises(ValidationError):
        sg.SentSms.model_validate({"sms_id": "s0", "recipient": "+49", "status": "queued"})


HISTORY_ENTRY: dict[str, Any] = {
    "id": "100001234",
    "source": "anonymous",
    "target": "01579-9912345",
    "sourceAlias": "Dennis Ritchie",
    "targetAlias": "Ken Thompson",
    "type": "CALL",
    "created": "2016-02-10T14:19:39Z",
    "lastModified": "2016-02-10T14:19:39Z",
    "direction": "MISSED_INCOMING",
    "incoming": True,
    "status": "NOPICKUP",
    "connectionIds": ["p0"],
    "read": True,
    "archived": False,
    "note": "",
    "endpoints": [{"type": "ROUTED", "endpoint": {"extension": "e0", "type": "REGISTER"}}],
    "starred": False,
    "labels": ["support"],
}


def test_history_page_from_the_spec_example() -> None:
    items, total = sg.history_page_from_api({"items": [HISTORY_ENTRY], "totalCount": 42})
    assert total == 42
    assert items[0].model_dump(exclude_none=True) == {
        "id": "100001234",
        "type": "CALL",
        "source": "anonymous",
        "target": "01579-9912345",
        "source_alias": "Dennis Ritchie",
        "target_alias": "Ken Thompson",
        "created": "2016-02-10T14:19:39Z",
        "last_modified": "2016-02-10T14:19:39Z",
        "direction": "MISSED_INCOMING",
        "incoming": True,
        "status": "NOPICKUP",
        "connection_ids": ["p0"],
        "read": True,
        "archived": False,
        "note": "",
        "endpoints": [{"type": "ROUTED", "extension": "e0", "extension_type": "REGISTER"}],
        "starred": False,
        "labels": ["support"],
    }
    page = sg.HistoryPage(items=items, total_count=total, next_cursor="20")
    assert page.model_dump(exclude_none=True)["total_count"] == 42


def test_history_entry_tolerates_extras_and_keeps_a_recording_url() -> None:
    entry = sg.history_entry_from_api(
        {"id": 100001235, "type": "VOICEMAIL", "recordingUrl": "https://api.sipgate.com/rec.mp3", "duration": 12}
    )
    assert entry.model_dump(exclude_none=True) == {
        "id": "100001235",
        "type": "VOICEMAIL",
        "recording_url": "https://api.sipgate.com/rec.mp3",
    }


def test_history_of_the_wrong_shape_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="history: required field 'totalCount' should be an integer, got null"):
        sg.history_page_from_api({"items": []})
    without_type = {key: value for key, value in HISTORY_ENTRY.items() if key != "type"}
    with pytest.raises(ValueError, match="history entry: required field 'type' is missing"):
        sg.history_page_from_api({"items": [without_type], "totalCount": 1})
    with pytest.raises(ValueError, match="field 'labels' should be an array of strings"):
        sg.history_entry_from_api({**HISTORY_ENTRY, "labels": "support"})


def test_userinfo() -> None:
    payload = {"sub": "w0", "domain": "sipgate.de", "masterSipId": "0000000", "locale": "de_DE", "extra": 1}
    assert sg.userinfo_from_api(payload).model_dump(exclude_none=True) == {
        "sub": "w0",
        "domain": "sipgate.de",
        "master_sip_id": "0000000",
        "locale": "de_DE",
    }
    with pytest.raises(ValueError, match="userinfo: required field 'sub' is missing"):
        sg.userinfo_from_api({"domain": "sipgate.de"})
