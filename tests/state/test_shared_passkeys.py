"""The approvers' passkeys with TELCO_MCP_STATE_URL (issue 24): in Redis, each under a MAC keyed from
TELCO_MCP_CONFIRM_SECRET, so every replica reads the same keys and a writer of Redis enrols none of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from telco_mcp.approval.passkeys import Passkey, RelyingParty, registration_options, verify_registration
from telco_mcp.server import build_server
from telco_mcp.state.integrity import Seal
from telco_mcp.state.redis import RedisPasskeyStore
from tests.approval.softkey import SoftKey
from tests.state.conftest import RedisServer
from tests.state.test_redis_state import SECRET, settings
from tests.state.test_state_integrity import redis_cli


def _passkey(label: str) -> Passkey:
    rp = RelyingParty.for_base("http://localhost:8765")
    key = SoftKey(origin=rp.origin)
    return verify_registration(rp, b"c" * 32, key.create(registration_options(rp, b"c" * 32, [])), label)


def test_passkeys_are_shared_under_a_mac_and_a_planted_one_is_refused(redis_server: RedisServer) -> None:
    seal = Seal.from_setting(SECRET)
    one, other = RedisPasskeyStore(redis_server.client(), seal), RedisPasskeyStore(redis_server.client(), seal)
    assert not one.ever_enrolled()
    real = _passkey("laptop")
    one.add(real)
    assert [p.credential_id for p in other.all()] == [real.credential_id] and other.ever_enrolled()  # every replica
    # a writer of Redis plants its own public key: without the MAC, and with a copied one
    planted = _passkey("mallory")
    record = json.dumps({**planted.__dict__, "mac": "ab" * 32})
    redis_cli(redis_server, "HSET", RedisPasskeyStore.KEY, planted.credential_id, record)
    r: Any = redis_server.client()
    stored = json.loads(r.hget(RedisPasskeyStore.KEY, real.credential_id))
    swapped = json.dumps(stored | {"public_key": planted.public_key})  # the real entry, the attacker's key
    redis_cli(redis_server, "HSET", RedisPasskeyStore.KEY, real.credential_id, swapped)
    assert other.all() == []
    assert seal.refused["passkey"] >= 2
    assert other.remove("laptop") is False  # nothing valid to remove


def test_the_server_reads_passkeys_from_the_shared_state(audit_path: Path, redis_server: RedisServer) -> None:
    cfg = settings(audit_path, redis_server, telco_mcp_approver_factor="passkey")
    a, b = build_server(cfg), build_server(cfg)
    a.telco_runtime.approvals.passkeys.add(_passkey("desk"))  # type: ignore[attr-defined]
    assert [p.label for p in b.telco_runtime.approvals.passkeys.all()] == ["desk"]  # type: ignore[attr-defined]
