"""A software WebAuthn authenticator for tests over plain HTTP: what a browser and a passkey would post.

It answers the same JSON the page's script gets (`parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`
input) with the same JSON `cred.toJSON()` gives, signing with an ECDSA P-256 key (`cryptography`) and encoding
with `cbor2` (both already dependencies of `webauthn`). The Chromium tests use the browser's own virtual
authenticator instead; this one lets a test craft what a browser never would (an assertion for another
approval, one without user verification) and run the page's flows in a second process's HTTP client.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from telco_mcp.approval.passkeys import b64url, unb64url

UP, UV, AT = 0x01, 0x04, 0x40


@dataclass
class SoftKey:
    origin: str
    rp_id: str = "localhost"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    count: int = 0

    def _rp_hash(self) -> bytes:
        return hashlib.sha256(self.rp_id.encode()).digest()

    def _client_data(self, kind: str, challenge: str) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        return json.dumps(data).encode()

    def create(self, options: str | dict[str, Any], *, verified: bool = True) -> str:
        opts = json.loads(options) if isinstance(options, str) else options
        numbers = self.key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        attested = b"\0" * 16 + struct.pack(">H", len(self.credential_id)) + self.credential_id + cose
        auth = self._rp_hash() + bytes([UP | AT | (UV if verified else 0)]) + struct.pack(">I", 0) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth})
        client = self._client_data("webauthn.create", opts["challenge"])
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal"],
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    def get(self, options: str | dict[str, Any] | None = None, *, challenge: bytes | None = None,
            verified: bool = True) -> str:  # fmt: skip
        """An assertion over `options["challenge"]` (or a raw `challenge` a browser would not have been given)."""
        if challenge is None:
            assert options is not None
            opts = json.loads(options) if isinstance(options, str) else options
            challenge = unb64url(opts["challenge"])
        self.count += 1
        auth = self._rp_hash() + bytes([UP | (UV if verified else 0)]) + struct.pack(">I", self.count)
        client = self._client_data("webauthn.get", b64url(challenge))
        signature = self.key.sign(auth + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client),
                    "authenticatorData": b64url(auth),
                    "signature": b64url(signature),
                    "userHandle": None,
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )
