"""Forwarded headers count only from TELCO_MCP_TRUSTED_PROXIES, on every listener, against real processes.

A local process (a coding agent's model in a sandbox that reaches loopback ports, say) can send any
`X-Forwarded-For` and `X-Forwarded-Proto` it likes. uvicorn's defaults trusted them from loopback: each
made-up address got 5 fresh PIN tries, passed TELCO_MCP_WEBHOOK_ALLOWED_NETWORKS, and `https` flipped the
page's cookies and its same-origin check. Each listener is checked twice, with the loopback peer listed as
a proxy (the headers count) and without (they do not): the HTTP app of `telco-mcp serve --transport http`,
the stdio server's webhook and approval page listeners, and `telco-mcp sandbox`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters

from telco_mcp.approval.pin import MAX_FAILURES
from tests.approval.conftest import SMS, csrf_of
from tests.processes import FAULTHANDLER, interrupt

EXE = Path(sys.executable).with_name("telco-mcp")
PIN = "418-2093-77"
SECRET = "w" * 40  # TELCO_MCP_WEBHOOK_SECRET: the webhook path
INSIDE, OUTSIDE = "198.51.100.7", "203.0.113.9"  # inside and outside TELCO_MCP_WEBHOOK_ALLOWED_NETWORKS
LISTED = {"listed": "127.0.0.1", "unlisted": ""}  # TELCO_MCP_TRUSTED_PROXIES for the loopback peer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    skip = ("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return env | {"XDG_STATE_HOME": str(tmp_path / "state"), "BROWSER": "true", "NO_PROXY": "*"} | FAULTHANDLER | extra


def server_env(tmp_path: Path, proxies: str, **extra: str) -> dict[str, str]:
    """The sandbox with a PIN, every write asking for approval, and webhooks only from INSIDE's network."""
    env = {
        "TELCO_MCP_APPROVER_PIN": PIN,
        "TELCO_MCP_CONFIRM": "approval",
        "TELCO_MCP_WEBHOOK_SECRET": SECRET,
        "TELCO_MCP_WEBHOOK_ALLOWED_NETWORKS": "198.51.100.0/24",
        "TELCO_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    if proxies:
        env["TELCO_MCP_TRUSTED_PROXIES"] = proxies
    return child_env(tmp_path, **env, **extra)


@contextmanager
def started(tmp_path: Path, argv: list[str], env: dict[str, str], wait_for: str) -> Iterator[re.Match[str]]:
    """Run `telco-mcp argv` until its stderr matches `wait_for`; always terminated afterwards."""
    err_path = tmp_path / "stderr.log"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [str(EXE), *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=tmp_path
        )
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(wait_for, err_path.read_text())):
            assert proc.poll() is None, f"exited {proc.returncode}: {err_path.read_text()}"
            assert time.monotonic() < deadline, err_path.read_text()
            time.sleep(0.1)
        yield found
    finally:
        interrupt(proc, err_path)  # Ctrl-C: no SIGTERM drain


def spoofed(address: str, proto: str = "https") -> dict[str, str]:
    return {"X-Forwarded-For": address, "X-Forwarded-Proto": proto}


# ------------------------------------------------------------------ what each listener is asked
async def sign_in(http: httpx2.AsyncClient, pin: str, headers: dict[str, str]) -> httpx2.Response:
    """The sign-in form fetched and posted with `headers`; the pre-sign-in cookie sent back by hand (a Secure one
    would not go back over http otherwise)."""
    http.cookies.clear()  # a new visitor each time: no session of an earlier sign-in
    page = await http.get("/approvals/", headers=headers)
    cookie = re.search(r"telco_mcp_signin=([^;]+)", page.headers["set-cookie"])
    assert cookie, page.headers
    form = {"csrf": csrf_of(page.text), "pin": pin, "next": "/approvals/"}
    return await http.post(
        "/approvals/signin", data=form, headers=headers | {"Cookie": f"telco_mcp_signin={cookie.group(1)}"}
    )


def secure(page: httpx2.Response) -> bool:
    """Whether the page's cookie is `Secure`."""
    return "secure" in [attribute.strip().lower() for attribute in page.headers["set-cookie"].split(";")]


async def check_the_page(base: str, listed: bool) -> None:
    """PIN tries per source, Secure cookies and the same-origin check, as the headers may or may not decide."""
    async with httpx2.AsyncClient(base_url=base, trust_env=False, timeout=30) as http:
        # 5 wrong PINs, each from a made-up address over a made-up scheme: one source unless a listed proxy says so
        def made_up(i: int) -> dict[str, str]:
            return spoofed(f"203.0.113.{10 + i}", ("http", "https")[i % 2])

        for i in range(MAX_FAILURES):
            wrong = await sign_in(http, f"guess-{i}", made_up(i))
            assert wrong.status_code == 401 and "wrong PIN" in wrong.text, wrong.text
        if listed:  # each address the proxy names is its own source: 4 more make the first one's 5
            for i in range(1, MAX_FAILURES):
                wrong = await sign_in(http, f"guess-{i}", made_up(0))
                assert wrong.status_code == 401 and "wrong PIN" in wrong.text, wrong.text
        locked = await sign_in(http, PIN, made_up(0))
        other = await sign_in(http, PIN, spoofed(INSIDE, "http"))  # a colleague, or yet another made-up address
        assert locked.status_code == 401 and "too many wrong PINs" in locked.text, locked.text
        if listed:  # one source cannot lock out another
            assert other.status_code == 303, other.text
        else:  # every made-up address is this one loopback peer: locked, the right PIN included
            assert other.status_code == 401 and "too many wrong PINs" in other.text, other.text

        http.cookies.clear()
        page = await http.get("/approvals/", headers=spoofed(INSIDE, "https"))
        assert secure(page) is listed, page.headers["set-cookie"]
        assert secure(await http.get("/approvals/")) is False

        # same origin: an https Origin is this page's own only when a listed proxy says the request came over https
        host = base.removeprefix("http://")
        cookie = re.search(r"telco_mcp_signin=([^;]+)", page.headers["set-cookie"])
        assert cookie
        posted = await http.post(
            "/approvals/signin",
            data={"csrf": csrf_of(page.text), "pin": "wrong-pin-0", "next": "/approvals/"},
            headers=spoofed("192.0.2.77", "https")
            | {"Origin": f"https://{host}", "Cookie": f"telco_mcp_signin={cookie.group(1)}"},
        )
        if listed:
            assert posted.status_code == 401 and "wrong PIN" in posted.text, posted.text
        else:
            assert posted.status_code == 403 and "not sent from the approval page" in posted.text, posted.text


async def check_the_webhook(url: str, listed: bool) -> None:
    """TELCO_MCP_WEBHOOK_ALLOWED_NETWORKS against an `X-Forwarded-For` naming an allowed address."""
    async with httpx2.AsyncClient(trust_env=False, timeout=30) as http:
        direct = await http.get(url)
        forged = await http.get(url, headers={"X-Forwarded-For": INSIDE})
        chained = await http.get(url, headers={"X-Forwarded-For": f"{INSIDE}, {OUTSIDE}"})
    assert direct.status_code == 403  # loopback is not in the allowed network
    assert chained.status_code == 403  # the right-most hop a listed proxy did not write is the source
    # GET is the probe: past the network check and the secret, a receiver answers 405
    assert forged.status_code == (405 if listed else 403), forged.text


# ------------------------------------------------------------------ the listeners
@pytest.mark.anyio
@pytest.mark.parametrize("case", LISTED)
async def test_the_http_app_applies_forwarded_headers_only_from_a_listed_proxy(tmp_path: Path, case: str) -> None:
    env = server_env(tmp_path, LISTED[case])
    argv = ["serve", "--transport", "http", "--port", "0"]
    with started(tmp_path, argv, env, r"serving streamable HTTP on (http://127\.0\.0\.1:\d+)/mcp") as found:
        base = found.group(1)
        await check_the_page(base, listed=case == "listed")
        await check_the_webhook(f"{base}/webhooks/sipgate/{SECRET}", listed=case == "listed")


@pytest.mark.anyio
@pytest.mark.parametrize("case", LISTED)
async def test_the_stdio_listeners_apply_forwarded_headers_only_from_a_listed_proxy(tmp_path: Path, case: str) -> None:
    """Under stdio the webhook receiver and (from the first approval) the approval page have listeners of their own."""
    page_port, hook_port = free_port(), free_port()
    env = server_env(
        tmp_path, LISTED[case], TELCO_MCP_APPROVAL_PORT=str(page_port), TELCO_MCP_WEBHOOK_PORT=str(hook_port)
    )
    params = StdioServerParameters(command=str(EXE), args=["serve"], env=env, cwd=tmp_path)
    async with Client(params) as client:
        asked = await client.call_tool("sipgate_send_sms", SMS)
        assert asked.structured_content is not None and asked.structured_content["status"] == "approval_pending"
        await check_the_page(f"http://127.0.0.1:{page_port}", listed=case == "listed")
        await check_the_webhook(f"http://127.0.0.1:{hook_port}/webhooks/sipgate/{SECRET}", listed=case == "listed")


def sandbox_sees(tmp_path: Path, **env: str) -> tuple[dict[str, object], str]:
    """What `telco-mcp sandbox` records of a request sent with made-up forwarded headers, and its stderr."""
    from telco_mcp.sandbox import SIPGATE_TOKEN, SIPGATE_TOKEN_ID

    with started(tmp_path, ["sandbox", "--port", "0"], child_env(tmp_path, **env), r"sandbox on (http://\S+) ") as m:
        base = m.group(1)
        with httpx2.Client(base_url=base, trust_env=False, timeout=30) as http:
            answer = http.get("/v2/account", auth=(SIPGATE_TOKEN_ID, SIPGATE_TOKEN), headers=spoofed(INSIDE))
            assert answer.status_code == 200, answer.text
            (record,) = http.get("/_sandbox/requests").json()
    return record, (tmp_path / "stderr.log").read_text()


@pytest.mark.parametrize("case", LISTED)
def test_the_standalone_sandbox_applies_forwarded_headers_only_from_a_listed_proxy(tmp_path: Path, case: str) -> None:
    record, _ = sandbox_sees(tmp_path, **({"TELCO_MCP_TRUSTED_PROXIES": LISTED[case]} if LISTED[case] else {}))
    expected = (INSIDE, "https") if case == "listed" else ("127.0.0.1", "http")
    assert (record["client"], record["scheme"]) == expected


def test_the_deprecated_webhook_name_still_lists_proxies_and_says_it_is_deprecated(tmp_path: Path) -> None:
    record, stderr = sandbox_sees(tmp_path, TELCO_MCP_WEBHOOK_TRUSTED_PROXIES="127.0.0.0/8")
    assert (record["client"], record["scheme"]) == (INSIDE, "https")
    lines = [line for line in stderr.splitlines() if "TELCO_MCP_WEBHOOK_TRUSTED_PROXIES" in line]
    assert len(lines) == 1 and "deprecated" in lines[0] and "TELCO_MCP_TRUSTED_PROXIES" in lines[0], stderr


def test_the_deprecated_name_and_the_new_one_may_not_disagree(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(EXE), "tools"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=child_env(tmp_path, TELCO_MCP_WEBHOOK_TRUSTED_PROXIES="10.0.0.1", TELCO_MCP_TRUSTED_PROXIES="10.0.0.2"),
    )
    assert done.returncode == 2 and "set only TELCO_MCP_TRUSTED_PROXIES" in done.stderr, done.stderr


# ------------------------------------------------------------------ the rule itself
@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "192.0.2.1, 198.51.100.7", "198.51.100.7"),  # the client's own header is left of it
        ("10.0.0.2", "198.51.100.7, 10.0.0.3", "198.51.100.7"),  # an inner listed proxy is skipped
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.4"),  # only proxies: the left-most
        ("10.0.0.2", "198.51.100.7, unknown", "10.0.0.2"),  # not an address: the proxy's own
        ("10.0.0.2", "[2001:db8::1]:4711", "2001:db8::1"),
        ("10.0.0.2", "198.51.100.7:4711", "198.51.100.7"),
        ("::ffff:10.0.0.2", "198.51.100.7", "198.51.100.7"),  # an IPv4 proxy seen over a dual-stack socket
        ("10.0.0.2", None, "10.0.0.2"),
        ("192.0.2.50", "198.51.100.7", None),  # not listed: taken as it arrived
        ("127.0.0.1", "198.51.100.7", None),  # loopback is no exception
    ],
)
def test_the_right_most_address_not_itself_a_listed_proxy_is_the_client(
    peer: str, xff: str | None, expected: str | None
) -> None:
    from telco_mcp.access import forwarded, networks

    headers = [(b"x-forwarded-for", xff.encode())] if xff else []
    scope = {"type": "http", "client": (peer, 5000), "scheme": "http", "headers": headers}
    real = forwarded(scope, networks(["10.0.0.0/29"]))
    assert (real[0] if real else None) == expected
