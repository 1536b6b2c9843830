"""`telco_mcp.routing`: the SIP URI parser and the routing URL reader on odd forms (RFC 3261 §19.1.1).

The tools' behaviour with these is proven in tests/test_routing_guardrails.py; here each odd form is
read field by field, so a parser that mis-reads one (the host, the port, the user) fails by name.
"""

from __future__ import annotations

import contextlib

import pytest

from telco_mcp.routing import (
    gateway_numbers,
    gateway_uri,
    parse_host_entry,
    parse_sip_uri,
    redact_userinfo,
    routing_url,
    url_host,
)


@pytest.mark.parametrize(
    ("uri", "scheme", "user", "host", "port", "params"),
    [
        ("sip:pbx.example.com", "sip", None, "pbx.example.com", None, {}),
        ("SIP:Trunk@PBX.Example.COM", "sip", "Trunk", "pbx.example.com", None, {}),  # case-insensitive scheme, host
        ("Sips:pbx.example.com:5061;transport=TLS", "sips", None, "pbx.example.com", 5061, {"transport": "TLS"}),
        ("sip:user@[2001:db8::1]:5061", "sip", "user", "[2001:db8::1]", 5061, {}),
        ("sip:user@[2001:DB8:0:0::1]", "sip", "user", "[2001:db8::1]", None, {}),  # IPv6 in its compressed form
        ("user2@domain.com", "sip", "user2", "domain.com", None, {}),  # no scheme (SignalWire's own example)
        ("pbx.example.com:5080", "sip", None, "pbx.example.com", 5080, {}),  # host:port, no scheme
        ("sip:pbx.example.com.", "sip", None, "pbx.example.com", None, {}),  # a final dot: the same host
        ("sip:%2B4930123456@gw.example", "sip", "+4930123456", "gw.example", None, {}),  # percent-encoded user
        ("sip:a%40b@gw.example", "sip", "a@b", "gw.example", None, {}),  # an escaped @ in the user part
        ("sip:192.0.2.1:5060;lr;transport=udp", "sip", None, "192.0.2.1", 5060, {"lr": None, "transport": "udp"}),
        ("sip:+4930123;isub=1@gw.example;user=phone", "sip", "+4930123;isub=1", "gw.example", None, {"user": "phone"}),
    ],
)
def test_odd_but_valid_sip_uris_are_read_part_by_part(
    uri: str, scheme: str, user: str | None, host: str, port: int | None, params: dict[str, str | None]
) -> None:
    parsed = parse_sip_uri(uri)
    assert (parsed.scheme, parsed.user, parsed.host, parsed.port, parsed.params) == (scheme, user, host, port, params)
    assert not parsed.password


def test_a_password_and_headers_are_read_but_a_gateway_refuses_them_without_repeating_the_password() -> None:
    parsed = parse_sip_uri("sip:trunk:s3cret@gw.example?Subject=hi&Priority=urgent")
    assert parsed.password and parsed.user == "trunk" and "s3cret" not in repr(parsed)
    assert parsed.headers == (("Subject", "hi"), ("Priority", "urgent"))
    for uri in ("sip:trunk:s3cret@gw.example", "sip:trunk:@gw.example"):
        with pytest.raises(ValueError, match="password") as error:
            gateway_uri(uri)
        assert "s3cret" not in str(error.value)
    with pytest.raises(ValueError, match="headers"):
        gateway_uri("sip:gw.example?Route=%3Csip:evil.example%3E")
    with pytest.raises(ValueError, match="maddr"):
        gateway_uri("sip:gw.example;maddr=evil.example")


@pytest.mark.parametrize(
    "uri",
    [
        "", "sip:", "sip:@gw.example", "tel:+4930123456", "https://gw.example/", "mailto:a@gw.example",
        "sip:gw.example:0", "sip:gw.example:65536", "sip:gw.example:50a", "sip:[2001:db8::1", "sip:[gw.example]",
        "sip:2001:db8::1", "sip:a@b@gw.example", "sip:gw_example.com", "sip:-gw.example", "sip:gw.example-",
        "sip:1.2.3", "sip:300.1.1.1", "sip:gw%2eexample", "sip:gw .example", "sip:gw.example\n", "sip:gw.éxample",
        "sip:gw.example;", "sip:gw.example;transport=tls;transport=udp", "sip:gw.example?", "sip:gw.example?a",
        "sip:us er@gw.example", "sip:user%zz@gw.example", "sip:%ff@gw.example", "sip:gw.example\u200b",
    ],
)  # fmt: skip
def test_what_is_not_a_sip_uri_is_refused_saying_why(uri: str) -> None:
    with pytest.raises(ValueError, match="SIP URI"):
        parse_sip_uri(uri)


@pytest.mark.parametrize(
    ("user", "numbers"),
    [
        ("+493012345678", ("+493012345678",)),
        ("0049 30 12345678", ("+493012345678",)),
        ("030-1234-5678", ("+493012345678",)),  # national: TELCO_MCP_DEFAULT_REGION (DE here)
        ("(030) 12345678", ("+493012345678",)),
        ("493012345678", ("+493012345678",)),  # international without the +
        ("+49%2030%2012345678", ("+493012345678",)),
        ("０９００１２３４５６７", ("+499001234567",)),  # full-width digits, national (DE)
        ("1001", ()),  # an extension: no possible international number, no valid national one
        ("trunk-berlin", ()),  # a name
        ("alice+sales", ()),
    ],
)
def test_the_numbers_a_user_part_dials_are_read_the_ways_a_carrier_may(user: str, numbers: tuple[str, ...]) -> None:
    from urllib.parse import quote

    assert gateway_numbers(parse_sip_uri(f"sip:{quote(user, safe='+%')}@gw.example")) == numbers


@pytest.mark.parametrize(
    ("user", "why"),
    [
        ("+4990012345678", "not a valid number"),
        ("00881", "too short"),
        ("4990012345678", "not a valid number"),  # a possible international number of unknown cost
        ("*31%23+493012345678", "service code"),
        ("49+30", "service code"),
    ],
)
def test_a_user_part_the_number_rules_cannot_clear_is_refused(user: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        gateway_uri(f"sip:{user}@gw.example")


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("pbx.example.com", ("pbx.example.com", None)),
        ("PBX.example.com.:5061", ("pbx.example.com", 5061)),
        ("[2001:DB8::1]:5061", ("[2001:db8::1]", 5061)),
        ("192.0.2.1", ("192.0.2.1", None)),
    ],
)
def test_gateway_host_entries_are_hosts_or_host_ports(entry: str, parsed: tuple[str, int | None]) -> None:
    assert parse_host_entry(entry) == parsed


@pytest.mark.parametrize("entry", ["sip:pbx.example.com", "*.example.com", "user@pbx.example.com", "pbx/x", "h:0"])
def test_other_gateway_host_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_host_entry(entry)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Hooks.Example.com./in", "hooks.example.com"),
        ("https://[::1]:8443/in", "[::1]"),
        ("http://127.0.0.1:9/in", "127.0.0.1"),
    ],
)
def test_a_routing_url_s_host_is_read_canonically(url: str, host: str) -> None:
    assert url_host(routing_url(url)) == host


@pytest.mark.parametrize(
    "url",
    [
        "https://opsuser:hunter2@hooks.example.com/in", "https://@hooks.example.com/", "ftp://hooks.example.com/",
        "hooks.example.com/in", "https://hooks example.com/", "https://evil.example%2f.hooks.example.com/",
        "https://hooks.example.com:0/", "https://[::1/", "https:///in", "https://hooks.example.com\t/",
    ],
)  # fmt: skip
def test_other_routing_urls_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(ValueError) as error:
        routing_url(url)
    assert "hunter2" not in str(error.value) and "opsuser" not in str(error.value)


def test_userinfo_in_a_provider_s_url_is_hidden() -> None:
    assert redact_userinfo("https://crm:pw@crm.example.com/in?a=b@c") == "https://***@crm.example.com/in?a=b@c"
    assert redact_userinfo("https://crm.example.com/in") == "https://crm.example.com/in"
    assert redact_userinfo(None) is None


def test_any_text_is_read_or_refused_with_a_value_error_never_a_crash() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    pieces = st.sampled_from(["sip:", "sips:", "@", ":", ";", "?", "=", "&", "[", "]", "%", "%2B", "+", "0", "00",
                              "49", "::1", "gw", ".", "-", "5060", "maddr", "transport", "ü", " ", "\x00"])  # fmt: skip
    texts = st.one_of(st.text(max_size=60), st.lists(pieces, max_size=14).map("".join))

    @settings(max_examples=200, deadline=None)
    @given(texts)
    def check(text: str) -> None:
        for read in (parse_sip_uri, gateway_uri, routing_url, parse_host_entry):
            with contextlib.suppress(ValueError):  # a refusal; any other exception fails the test
                read(text)

    check()
