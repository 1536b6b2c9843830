"""sipgate's push signatures: `X-Sipgate-Signature` is the base64 of an RSASSA-PKCS1-v1_5 / SHA-256
signature over the raw form-encoded body, made with sipgate's key.

The public key is vendored from sipgate's official Node library (`sipgate_push.pub`, its header names
the source, version and licence); `TELCO_MCP_WEBHOOK_PUBLIC_KEY` replaces it, and the embedded sandbox's
own key replaces it in sandbox mode (`telco_mcp.sandbox.signing`). The receiver imports this module at
the first post it checks, so `cryptography` stays off the server's startup path.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

SIGNATURE_HEADER = "X-Sipgate-Signature"
SIPGATE_KEY_FILE = Path(__file__).with_name("sipgate_push.pub")
MAX_SIGNATURE = 2048  # characters: a 4096-bit signature is 684 in base64


def load_public_key(path: Path) -> RSAPublicKey:
    """The RSA public key in the PEM file `path` (text before its BEGIN line is a comment);
    `ValueError` saying what is wrong with it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path} cannot be read: {exc.strerror or exc}") from None
    start = data.find(b"-----BEGIN")
    try:
        key = load_pem_public_key(data[max(start, 0) :])
    except ValueError:
        raise ValueError(f"{path} holds no PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    if not isinstance(key, RSAPublicKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an RSA public key")
    return key


@functools.cache
def sipgate_public_key() -> RSAPublicKey:
    """sipgate's own key, as its Node library ships it."""
    return load_public_key(SIPGATE_KEY_FILE)


class SignatureCheck:
    """Checks pushes against one public key; `key` is called at the first check (it may be made lazily)."""

    def __init__(self, key: Callable[[], RSAPublicKey], *, name: str) -> None:
        self._key = key
        self.name = name  # which key, for the refusal's log line: "sipgate's", "the sandbox's", a path

    def refusal(self, body: bytes, signature: str | None) -> str | None:
        """None when `signature` signs `body` with the key; otherwise why the push is refused."""
        if not signature:
            return f"no {SIGNATURE_HEADER} header"
        if len(signature) > MAX_SIGNATURE:
            return f"{SIGNATURE_HEADER} is too long"
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return f"{SIGNATURE_HEADER} is not base64"
        try:
            self._key().verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return f"{SIGNATURE_HEADER} does not sign this body with {self.name} key"
        return None
