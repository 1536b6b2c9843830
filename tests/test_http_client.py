"""The shared client: error mapping, safe retries, ambiguous writes, path and cursor safety."""

from __future__ import annotations

import httpx2
import pytest
from conftest import SW_BASE, SW_PROJECT, SW_TOKEN, FakeUpstream, response

from telco_mcp import errors
from telco_mcp.catalogue import BY_NAME
from telco_mcp.upstream import USER_AGENT, ProviderClient, RetryPolicy, parse_retry_after
from telco_mcp.wire import PreparedRequest, decode_cursor, encode_cursor, encode_segment, next_page

pytestmark = pytest.mark.anyio

PROFILE = "/api/relay/rest/sip_profile"
GATEWAY = "/api/fabric/resources/sip_gateways/3fa85f64-5717-4562-b3fc-2c963f66afa6"
RECORDING = "/api/relay/rest/recordings/3fa85f64-5717-4562-b3fc-2c963f66afa6"

READ = BY_NAME["signalwire_get_sip_profile"]
IDEMPOTENT_WRITE = BY_NAME["signalwire_update_sip_gateway"]
NON_IDEMPOTENT_WRITE = BY_NAME["signalwire_delete_recording"]


def client(fake: FakeUpstream, retries: int = 2) -> ProviderClient:
    http = httpx2.AsyncClient(base_url=SW_BASE, auth=httpx2.BasicAuth(SW_PROJECT, SW_TOKEN), transport=fake.transport)
    return ProviderClient("signalwire", http, retry=RetryPolicy(max_retries=retries, backoff_base=0.001))


GET = PreparedRequest("GET", PROFILE)
PATCH = PreparedRequest("PATCH", GATEWAY, json={"codecs": ["OPUS"]})
DELETE = PreparedRequest("DELETE", RECORDING)


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (401, {"error": "Unauthorized"}, errors.AuthError, "rejected the credentials"),
        (403, {"error": "Forbidden"}, errors.PermissionDenied, "lack the scope"),
        (404, {"error": "Not Found"}, errors.NotFound, "no such resource"),
        (402, None, errors.InsufficientFunds, "insufficient funds"),
        (409, None, errors.Conflict, "clashes with what already exists (409)"),
        (500, {"error": "Internal Server Error"}, errors.UpstreamUnavailable, "unavailable"),
        (418, None, errors.UnexpectedResponse, "unexpected status 418"),
    ],
)
async def test_each_error_status_maps_to_its_class(fake, status, body, error, text):
    fake.route(f"GET {PROFILE}", response(status, body))
    c = client(fake)
    with pytest.raises(error) as caught:
        await c.send(READ, GET)
    assert text in caught.value.message
    assert caught.value.status == status


async def test_fabric_422_carries_the_providers_field_errors(fake):
    body = {"errors": [{"type": "validation_error", "code": "invalid_parameter", "message": "is invalid",
                        "attribute": "codecs", "url": "https://x"}]}  # fmt: skip
    fake.route(f"PATCH {GATEWAY}", response(422, body))
    with pytest.raises(errors.UpstreamValidation) as caught:
        await client(fake).send(IDEMPOTENT_WRITE, PATCH)
    assert [(f.field, f.message) for f in caught.value.field_errors] == [("codecs", "is invalid")]
    assert "Nothing was changed" in caught.value.message


async def test_relay_rest_422_shape_is_understood_too(fake):
    body = {"errors": [{"detail": "default_encryption must be required or optional", "status": "422",
                        "title": "Invalid Parameter", "code": "invalid_parameter"}]}  # fmt: skip
    fake.route(f"PUT {PROFILE}", response(422, body))
    op = BY_NAME["signalwire_update_sip_profile"]
    with pytest.raises(errors.UpstreamValidation) as caught:
        await client(fake).send(op, PreparedRequest("PUT", PROFILE, json={"default_encryption": "x"}))
    assert "default_encryption must be required or optional" in caught.value.message


async def test_a_read_is_retried_after_503_honouring_retry_after(fake):
    fake.route(f"GET {PROFILE}", [response(503, headers={"Retry-After": "0"}), response(200, {"domain": "d"})])
    answer = await client(fake).send(READ, GET)
    assert answer.json() == {"domain": "d"}
    assert len(fake.requests) == 2


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_retryable_statuses_are_retried_for_reads_until_the_cap(fake, status):
    fake.route(f"GET {PROFILE}", response(status, headers={"Retry-After": "0"}))
    with pytest.raises(errors.ProviderError):
        await client(fake, retries=2).send(READ, GET)
    assert len(fake.requests) == 3  # first try + 2 retries


async def test_a_retry_after_beyond_the_cap_is_reported_not_waited_for(fake):
    fake.route(f"GET {PROFILE}", response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(errors.RateLimited) as caught:
        await client(fake).send(READ, GET)
    assert caught.value.retry_after == 3600
    assert "Retry after 3600 s" in caught.value.message
    assert len(fake.requests) == 1


async def test_an_idempotent_write_is_retried_after_503(fake):
    gw = {"id": "g"}
    fake.route(f"PATCH {GATEWAY}", [response(503, headers={"Retry-After": "0"}), response(200, gw)])
    await client(fake).send(IDEMPOTENT_WRITE, PATCH)
    assert len(fake.sent("PATCH")) == 2


@pytest.mark.parametrize("status", [429, 503])
async def test_a_non_idempotent_write_is_never_retried(fake, status):
    fake.route(f"DELETE {RECORDING}", response(status, headers={"Retry-After": "0"}))
    with pytest.raises(errors.ProviderError) as caught:
        await client(fake).send(NON_IDEMPOTENT_WRITE, DELETE)
    assert len(fake.sent("DELETE")) == 1
    assert "Nothing was changed" in caught.value.message


async def test_connect_errors_are_retried_for_reads_and_reported_as_nothing_sent(fake):
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    fake.route(f"GET {PROFILE}", refuse)
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        await client(fake).send(READ, GET)
    assert len(fake.requests) == 3
    assert "Nothing was sent" in caught.value.message


def broken_then(answers: list[httpx2.Response | None]):
    """The connection breaks (None) or the provider answers, in this order; the last entry repeats."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        reply = answers.pop(0) if len(answers) > 1 else answers[0]
        if reply is None:
            raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return reply

    return answer


async def test_a_read_whose_connection_broke_is_repeated(fake):
    """A keep-alive connection the provider had already closed is the commonest transient failure."""
    fake.route(f"GET {PROFILE}", broken_then([None, httpx2.Response(200, json={"domain": "x"})]))
    response = await client(fake).send(READ, GET)
    assert response.status_code == 200 and len(fake.requests) == 2


async def test_a_read_whose_connection_keeps_breaking_is_unavailable_after_the_retries(fake):
    fake.route(f"GET {PROFILE}", broken_then([None]))
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        await client(fake).send(READ, GET)
    assert len(fake.requests) == 3
    assert "broke the connection" in caught.value.message and "Nothing was changed" in caught.value.message


async def test_an_idempotent_write_whose_connection_broke_is_repeated_and_else_outcome_unknown(fake):
    fake.route(f"PATCH {GATEWAY}", broken_then([None, httpx2.Response(200, json={"id": "g"})]))
    assert (await client(fake).send(IDEMPOTENT_WRITE, PATCH)).status_code == 200
    assert len(fake.requests) == 2

    fake.requests.clear()
    fake.route(f"PATCH {GATEWAY}", broken_then([None]))
    with pytest.raises(errors.OutcomeUnknown) as caught:
        await client(fake).send(IDEMPOTENT_WRITE, PATCH)
    assert len(fake.requests) == 3
    assert "Repeating it is harmless" in caught.value.message


@pytest.mark.parametrize("exc", [httpx2.ReadTimeout, httpx2.RemoteProtocolError])
async def test_a_write_without_an_answer_is_outcome_unknown_and_not_retried(fake, exc):
    def swallow(request: httpx2.Request) -> httpx2.Response:
        raise exc("no answer", request=request)

    fake.route(f"DELETE {RECORDING}", swallow)
    with pytest.raises(errors.OutcomeUnknown) as caught:
        await client(fake).send(NON_IDEMPOTENT_WRITE, DELETE)
    assert len(fake.requests) == 1
    assert caught.value.changed is None
    assert "Outcome unknown" in caught.value.message and "check the current state" in caught.value.message
    assert RECORDING in caught.value.message  # says what was sent


async def test_a_read_timeout_is_a_timeout_error_saying_nothing_changed(fake):
    def slow(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("slow", request=request)

    fake.route(f"GET {PROFILE}", slow)
    with pytest.raises(errors.UpstreamTimeout) as caught:
        await client(fake).send(READ, GET)
    assert "Nothing was changed" in caught.value.message


@pytest.mark.parametrize("status", [502, 504])
async def test_a_gateway_error_on_a_write_is_outcome_unknown(fake, status):
    fake.route(f"DELETE {RECORDING}", response(status))
    with pytest.raises(errors.OutcomeUnknown):
        await client(fake).send(NON_IDEMPOTENT_WRITE, DELETE)


async def test_requests_carry_basic_auth_and_a_user_agent_naming_the_package(fake):
    fake.route(f"GET {PROFILE}", response(200, {}))
    await client(fake).send(READ, GET)
    sent = fake.requests[0]
    assert sent.headers["authorization"] == httpx2.BasicAuth(SW_PROJECT, SW_TOKEN)._auth_header
    assert USER_AGENT.startswith("telco-mcp/")


def test_path_segments_are_encoded_and_dot_segments_refused():
    assert encode_segment("a/b?c") == "a%2Fb%3Fc"
    for bad in ("", ".", ".."):
        with pytest.raises(errors.InvalidInput):
            encode_segment(bad)


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert parse_retry_after("soon") is None


def test_cursors_only_point_back_at_their_own_list():
    rec = "/api/relay/rest/recordings"
    cursor = next_page(f"{SW_BASE}{rec}?page_number=1&page_token=PA1", rec)
    assert cursor is not None
    assert decode_cursor(cursor, rec, size="page_size", max_size=100) == [("page_number", "1"), ("page_token", "PA1")]
    with pytest.raises(errors.InvalidInput, match="another list"):
        decode_cursor(cursor, "/api/fabric/resources/sip_endpoints", size="page_size", max_size=100)
    with pytest.raises(errors.InvalidInput, match="issued"):
        decode_cursor("not-a-cursor", rec, size="page_size", max_size=100)
    assert next_page(None, "/x") is None
    assert decode_cursor(encode_cursor("/x", [("a", "1")]), "/x", size="n", max_size=5) == [("a", "1")]


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/api/relay/rest/recordings?page_number=1&page_token=PA1",  # the host is never used
        "https://ACME.SignalWire.com:443/api/relay/rest/recordings?page_number=1&page_token=PA1",
        "https://gateway.internal/signalwire/api/relay/rest/recordings?page_number=1&page_token=PA1",
        "http://[::1/api/relay/rest/recordings?page_number=1&page_token=PA1",  # unparseable host
        "/somewhere/else?page_number=1&page_token=PA1",
        "?page_number=1&page_token=PA1",
    ],
)
def test_a_next_link_contributes_only_its_query_to_the_cursor(link):
    rec = "/api/relay/rest/recordings"
    cursor = next_page(link, rec)
    assert cursor is not None
    assert decode_cursor(cursor, rec, size="page_size", max_size=100) == [("page_number", "1"), ("page_token", "PA1")]


def test_a_next_link_without_a_query_ends_paging_instead_of_failing():
    assert next_page("https://acme.signalwire.com/api/relay/rest/recordings", "/api/relay/rest/recordings") is None


@pytest.mark.parametrize("size", ["101", "1000", "0", "-5", "20 ", "1e3", "²"])
def test_a_cursor_cannot_ask_for_more_than_the_page_bound(size):
    cursor = encode_cursor("/history", [("offset", "20"), ("limit", "20"), ("limit", size)])
    with pytest.raises(errors.InvalidInput, match="items per page"):
        decode_cursor(cursor, "/history", size="limit", max_size=100)
    assert decode_cursor(encode_cursor("/history", [("limit", "100")]), "/history", size="limit", max_size=100)


def test_retry_backoff_is_capped_and_jittered():
    policy = RetryPolicy(max_retries=10, backoff_base=1, backoff_cap=4)
    delays = [policy.delay(n, None) for n in range(1, 11)]
    assert all(d is not None and 0 < d <= 4 for d in delays)
    assert policy.delay(11, None) is None
    assert policy.delay(1, 2.0) == 2.0
