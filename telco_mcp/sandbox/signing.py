"""The sandbox's own key pair for signing its pushes, as sipgate signs its own (`X-Sipgate-Signature`:
base64 of an RSASSA-PKCS1-v1_5 / SHA-256 signature over the raw body).

The pair is made in memory the first time it is needed, once per process, and never written anywhere:
no private key ships with the package, and nothing outside this process can sign as the sandbox. A server
in sandbox mode trusts this key (and only it) unless `TELCO_MCP_WEBHOOK_PUBLIC_KEY` names another; a
server in live mode never does. `telco-mcp sandbox` writes the public half to a file and serves it at
`GET /_sandbox/sipgate/push-key`, so a separately started `telco-mcp serve` can be pointed at it with
`TELCO_MCP_WEBHOOK_PUBLIC_KEY` (docs/webhooks.md).
"""

from __future__ import annotations

import base64
import functools

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_BITS = 2048  # the sandbox's key is a test key: made at each start, ~30 ms


@functools.cache
def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def public_key() -> rsa.RSAPublicKey:
    return _private_key().public_key()


def public_pem() -> bytes:
    """The public key as a PEM file, with a comment saying whose it is."""
    pem = public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    note = b"telco-mcp sandbox: the key this sandbox process signs its sipgate pushes with (a test key).\n"
    return note + pem


def sign(body: bytes) -> str:
    """The `X-Sipgate-Signature` value for `body`."""
    return base64.b64encode(_private_key().sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
