"""`telco-mcp approvers enroll` as a second process: its own loopback page at http://localhost:PORT, and the
proof it takes before storing a passkey (the PIN, an existing passkey, or on a fresh install a one-time code shown
only in its terminal). The browser side is `softkey.SoftKey`, posting what a browser's passkey would."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from tests.test_trusted_proxies import EXE, child_env

from .conftest import csrf_of
from .softkey import SoftKey

PIN = "552-9013"


@contextmanager
def enrolling(tmp_path: Path, **env: str) -> Iterator[tuple[subprocess.Popen[str], str, str | None]]:
    """`telco-mcp approvers enroll` running: its URL and the one-time code it printed, if any."""
    proc = subprocess.Popen(
        [str(EXE), "approvers", "enroll", "--timeout", "60"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=child_env(tmp_path, **env), cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        found = re.search(r"Open (http://localhost:\d+/approvals/enroll) ", lines[0])
        assert found, (lines, proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
        code = re.search(r"One-time code [^:]*: (\S+)", lines[1])
        yield proc, found.group(1), code.group(1) if code else None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: no SIGTERM drain
        proc.communicate(timeout=10)  # waits, and closes its pipes


def store(tmp_path: Path) -> Path:
    return tmp_path / "state" / "telco-mcp" / "approvers" / "passkeys.json"


def post(url: str, key: SoftKey, **fields: str) -> httpx2.Response:
    """Open the enrolment page and send it a new passkey with `fields` as the proof."""
    origin = url.split("/approvals/", 1)[0]
    with httpx2.Client(trust_env=False, timeout=30) as http:
        page = http.get(url)
        assert page.status_code == 200, page.text
        create = re.search(r'data-passkey-create="([^"]+)"', page.text)
        assert create is not None
        import html

        data = {"csrf": csrf_of(page.text), "registration": key.create(html.unescape(create.group(1))), **fields}
        get = re.search(r'data-passkey-get="([^"]+)"', page.text)
        if get is not None and "credential" in fields:
            data["credential"] = fields["credential"] or ""
        return http.post(url, data=data, headers={"Origin": origin})


def get_options(url: str) -> str:
    import html

    with httpx2.Client(trust_env=False, timeout=30) as http:
        page = http.get(url)
    found = re.search(r'data-passkey-get="([^"]+)"', page.text)
    assert found is not None, page.text
    return html.unescape(found.group(1))


def test_a_fresh_install_enrols_only_with_the_code_shown_in_the_terminal(tmp_path: Path) -> None:
    with enrolling(tmp_path) as (proc, url, code):
        assert code is not None
        key = SoftKey(origin=url.split("/approvals/", 1)[0])
        refused = post(url, key, code="0000-0000-0000-0000")
        assert refused.status_code == 403 and "one-time code" in refused.text
        assert not store(tmp_path).exists()
        assert code not in refused.text, "the code is never on the page"
        done = post(url, key, code=code, label="laptop")
        assert done.status_code == 200 and "Passkey enrolled" in done.text, done.text
        assert proc.wait(timeout=20) == 0
    saved = json.loads(store(tmp_path).read_text())
    assert [p["label"] for p in saved["passkeys"]] == ["laptop"]
    assert store(tmp_path).stat().st_mode & 0o777 == 0o600
    assert store(tmp_path).parent.stat().st_mode & 0o777 == 0o700
    assert not list(store(tmp_path).parent.glob("*.tmp")), "written atomically: no temporary file left"
    assert code not in "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())


def test_a_second_passkey_needs_an_existing_one(tmp_path: Path) -> None:
    with enrolling(tmp_path) as (proc, url, code):
        first = SoftKey(origin=url.split("/approvals/", 1)[0])
        assert post(url, first, code=code or "", label="first").status_code == 200
        proc.wait(timeout=20)
    with enrolling(tmp_path) as (proc, url, code):
        assert code is None, "not a fresh install: no code is offered"
        origin = url.split("/approvals/", 1)[0]
        first.origin = origin  # the same passkey, on this enrolment's page (another port)
        second = SoftKey(origin=origin)
        unproven = post(url, second, credential="", label="second")
        assert unproven.status_code == 403
        stranger = SoftKey(origin=origin)  # a passkey never enrolled here
        forged = post(url, second, credential=stranger.get(get_options(url)), label="second")
        assert forged.status_code == 403
        assert len(json.loads(store(tmp_path).read_text())["passkeys"]) == 1
        proven = post(url, second, credential=first.get(get_options(url)), label="second")
        assert proven.status_code == 200, proven.text
        proc.wait(timeout=20)
    assert [p["label"] for p in json.loads(store(tmp_path).read_text())["passkeys"]] == ["first", "second"]


def test_with_a_pin_enrolment_needs_the_pin(tmp_path: Path) -> None:
    with enrolling(tmp_path, TELCO_MCP_APPROVER_PIN=PIN) as (proc, url, code):
        assert code is None
        key = SoftKey(origin=url.split("/approvals/", 1)[0])
        wrong = post(url, key, pin="000000")
        assert wrong.status_code == 403 and "wrong PIN" in wrong.text and not store(tmp_path).exists()
        assert post(url, key, pin=PIN).status_code == 200
        proc.wait(timeout=20)
    assert store(tmp_path).exists()


def test_an_emptied_store_is_not_a_fresh_install(tmp_path: Path) -> None:
    with enrolling(tmp_path) as (proc, url, code):
        post(url, SoftKey(origin=url.split("/approvals/", 1)[0]), code=code or "")
        proc.wait(timeout=20)
    listed = subprocess.run([str(EXE), "approvers", "list"], capture_output=True, text=True, env=child_env(tmp_path))
    credential = listed.stdout.split()[0]
    removed = subprocess.run(
        [str(EXE), "approvers", "remove", credential], capture_output=True, text=True, env=child_env(tmp_path)
    )
    assert removed.returncode == 0, removed.stderr
    again = subprocess.run(
        [str(EXE), "approvers", "enroll", "--timeout", "5"], capture_output=True, text=True, env=child_env(tmp_path),
        stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    assert again.returncode != 0 and "not a fresh install" in again.stderr
    assert "One-time code" not in again.stdout
