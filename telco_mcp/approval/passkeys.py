"""Passkeys (WebAuthn) for approvers: each approval is its own assertion (TELCO_MCP_APPROVER_FACTOR=passkey).

The server side is `webauthn` (py_webauthn); the browser side is `navigator.credentials` in one static
same-origin script (`static/passkey.js`). Nothing here is a session: an assertion approves exactly the approval
(or the set of approvals, for a bulk approval) its challenge names, once.

    challenge   sha256(b"approval-v1\\0" + id + b"\\0" + shown digest) for one approval;
                sha256(b"approval-bulk-v1\\0" + the sorted "id:digest" pairs joined by \\0) for several.
                The shown digest covers exactly what the page shows: the request (method, URL, body, its
                digest), the summary, the tool. An assertion made for approval A, or for A as it read before
                its request changed, does not verify against B. Challenges are derived, not stored: a replay is
                stopped by the approval's single-use state (pending -> approved once), not by the sign count
                (synced passkeys often report 0).
    relying     RP ID `localhost` for the loopback page, served as http://localhost:PORT (an IP address is no
    party       valid RP ID, and Chromium refuses `create()` on 127.0.0.1); with TELCO_MCP_PUBLIC_URL, its host
                (https only, `Settings.problems`).
    store       only public keys: `<state dir>/approvers/passkeys.json`, 0600, written atomically (tmp +
                rename); with TELCO_MCP_STATE_URL, Redis under MACs (`state/redis.py`, RedisPasskeyStore).
                Anyone who can write that file as the server's user can enrol their own key: that is why
                the docs say a passkey holds only when the model cannot write the server's files.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from telco_mcp.access import is_loopback
from telco_mcp.errors import ConfirmationError

RP_NAME = "telco-mcp approvals"
USER_NAME = "approver"
TIMEOUT_MS = 120_000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ------------------------------------------------------------------ the relying party
@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    origin: str  # exactly, port included: what the browser puts in clientDataJSON

    @classmethod
    def for_base(cls, base_url: str) -> RelyingParty:
        """The relying party of a page served at `base_url`: loopback addresses become `localhost`."""
        parts = urlsplit(base_url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        if host == "localhost" or is_loopback(host):
            return cls("localhost", f"{parts.scheme or 'http'}://localhost{port}")
        return cls(host, f"{parts.scheme}://{host}{port}")


def local_base(base_url: str) -> str:
    """`base_url` with a loopback address written as `localhost`, the host passkeys work on."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if host != "localhost" and is_loopback(host):
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://localhost{port}{parts.path}".rstrip("/")
    return base_url.rstrip("/")


# ------------------------------------------------------------------ what an assertion is bound to
class Shown(Protocol):
    """What the page shows of an approval (`store.Approval` has these)."""

    @property
    def id(self) -> str: ...
    @property
    def tool(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def body(self) -> Any: ...
    @property
    def request_digest(self) -> str | None: ...


def shown_digest(approval: Shown) -> str:
    """SHA-256 of exactly what the page shows of an approval: its request, its summary, its tool."""
    shown = {
        "tool": approval.tool,
        "summary": approval.summary,
        "method": approval.method,
        "url": approval.url,
        "body": approval.body,
        "form": [list(pair) for pair in getattr(approval, "form", None) or []],  # a form body's fields, as shown
        "request": approval.request_digest,
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def approval_challenge(approval: Shown) -> bytes:
    return hashlib.sha256(b"approval-v1\0" + approval.id.encode() + b"\0" + shown_digest(approval).encode()).digest()


def bulk_challenge(approvals: Iterable[Shown]) -> bytes:
    pairs = sorted(f"{a.id}:{shown_digest(a)}" for a in approvals)
    return hashlib.sha256(b"approval-bulk-v1\0" + "\0".join(pairs).encode()).digest()


# ------------------------------------------------------------------ stored public keys
@dataclass(frozen=True)
class Passkey:
    credential_id: str  # base64url
    public_key: str  # base64url COSE key: public, never a secret
    sign_count: int
    label: str
    created: float


class PasskeyStore(Protocol):
    def all(self) -> list[Passkey]: ...
    def add(self, passkey: Passkey) -> None: ...
    def remove(self, credential_id: str) -> bool: ...
    def ever_enrolled(self) -> bool:
        """Whether a passkey was ever enrolled here (so an empty store was emptied, not fresh)."""
        ...


@dataclass
class FilePasskeyStore:
    """`<state dir>/approvers/passkeys.json`, owner-only (0600 in a 0700 directory), replaced atomically."""

    folder: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def path(self) -> Path:
        return self.folder / "passkeys.json"

    @property
    def marker(self) -> Path:
        return self.folder / "enrolled-once"

    def all(self) -> list[Passkey]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except ValueError:
            raise ConfirmationError(f"the passkey store {self.path} is not readable JSON") from None
        return [Passkey(**entry) for entry in raw.get("passkeys", [])]

    def _write(self, passkeys: list[Passkey]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.folder, 0o700)
        tmp = self.folder / f".passkeys.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": 1, "passkeys": [asdict(p) for p in passkeys]}, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def add(self, passkey: Passkey) -> None:
        with self._lock:
            kept = [p for p in self.all() if p.credential_id != passkey.credential_id]
            self._write([*kept, passkey])
            if not self.marker.exists():
                fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)

    def remove(self, credential_id: str) -> bool:
        with self._lock:
            before = self.all()
            kept = [p for p in before if p.credential_id != credential_id and p.label != credential_id]
            if len(kept) == len(before):
                return False
            self._write(kept)
            return True

    def ever_enrolled(self) -> bool:
        return self.marker.exists()


# ------------------------------------------------------------------ registration and assertion
def registration_options(rp: RelyingParty, challenge: bytes, existing: list[Passkey]) -> str:
    """The options `navigator.credentials.create()` takes (JSON, for `parseCreationOptionsFromJSON`)."""
    import webauthn
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    options = webauthn.generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=RP_NAME,
        user_name=USER_NAME,
        user_id=b"telco-mcp-approver",
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=unb64url(p.credential_id)) for p in existing],
    )
    return webauthn.options_to_json(options)


def verify_registration(rp: RelyingParty, challenge: bytes, credential: str, label: str) -> Passkey:
    """The new passkey's public key, or `ConfirmationError` saying why not (user verification is required)."""
    import webauthn
    from webauthn.helpers.exceptions import InvalidRegistrationResponse

    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise ConfirmationError(f"the passkey was not enrolled: {exc}") from None
    return Passkey(
        credential_id=b64url(verified.credential_id),
        public_key=b64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        label=label,
        created=time.time(),
    )


def request_options(rp: RelyingParty, challenge: bytes, passkeys: list[Passkey]) -> str:
    """The options `navigator.credentials.get()` takes (JSON, for `parseRequestOptionsFromJSON`)."""
    import webauthn
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor, UserVerificationRequirement

    options = webauthn.generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[PublicKeyCredentialDescriptor(id=unb64url(p.credential_id)) for p in passkeys],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return webauthn.options_to_json(options)


def verify_assertion(rp: RelyingParty, challenge: bytes, credential: str, passkeys: list[Passkey]) -> Passkey:
    """The enrolled passkey that made this assertion for exactly `challenge`, with user verification; else
    `ConfirmationError`. The sign count is not checked: synced passkeys report 0, and a replay is stopped by
    the approval's single-use state."""
    import webauthn
    from webauthn.helpers import parse_authentication_credential_json
    from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidJSONStructure

    if not credential:
        raise ConfirmationError("approving needs a passkey: approve with your passkey on this page")
    try:
        parsed = parse_authentication_credential_json(credential)
    except (InvalidJSONStructure, ValueError, KeyError, TypeError):
        raise ConfirmationError("the passkey answer is malformed") from None
    used = b64url(parsed.raw_id)
    passkey = next((p for p in passkeys if p.credential_id == used), None)
    if passkey is None:
        raise ConfirmationError("this passkey is not enrolled here (`telco-mcp approvers list`)")
    try:
        webauthn.verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=unb64url(passkey.public_key),
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except InvalidAuthenticationResponse as exc:
        raise ConfirmationError(f"the passkey did not approve this: {exc}") from None
    return passkey
