"""The Redis backend (`TELCO_MCP_STATE_URL=redis://…`): one truth for every replica.

Layout, every key under `telco-mcp:` (use a Redis database or ACL of its own per deployment):

    approval:<id>           hash: `data` (the approval as JSON, as created), plus `tool`, `digest`,
                            `client`, `expires` and the mutable `status`, `decided_by`, `decided_at`,
                            `approver`, and `mac` over them (`integrity.py`), and `channels` (how its
                            link reached a person, comma-separated: text for the model, which decides
                            nothing, so outside the MAC); expires an hour after the approval does
    approvals:pending       sorted set of ids still waiting, scored by creation time
    approvals:client:<sha256>   sorted set of one client's ids still waiting, scored by expiry (a closed
                            MCP session's are expired through it: `expire_client`)
    intent:<sha256>         the id of the approval opened for one tool + arguments digest + client
    grants:<sha256>         sorted set of grants (JSON, with their `mac`) for one client and one call,
                            scored by expiry
    nonce:<nonce>           a used token or elicitation nonce, until its token could no longer be valid
    epoch                   when this Redis began remembering used nonces (see `RedisNonces`)
    cap:<kind>              sorted set of writes counted in the last hour, scored by Redis's own clock
    page:code:<sha256>      a launch code's approval id and expiry (JSON, with its `mac`), under the code's
                            hash, until the code expires (`page:code:spent:<sha256>`: a used one, whose link
                            shows the decision, read only)
    page:session:<sha256>   an approval page session (CSRF token, approval, expiry, `mac`; JSON) under the
                            cookie's hash
    page:secret:<id>        a password given on the page, AES-GCM sealed (`approval/sessions.py`), until
                            its approval expires
    pin:<hmac>              sorted set of one source's approver PIN attempts in the last 10 minutes (the
                            source's HMAC keyed from TELCO_MCP_CONFIRM_SECRET, never the PIN), scored by
                            Redis's clock (`approval/pin.py`)
    toolsets:<sha256>       set of the tool names one OAuth caller enabled (dynamic toolsets), under the
                            caller key's hash, until 24 h after they last enabled one (`runtime.py`)

Approvals, grants, codes and sessions carry a MAC the replicas compute (`integrity.py`): one that fails
it, or has none (written before the upgrade), is refused, logged, counted and audited. Every
check-and-change is one Lua script, so Redis runs it atomically: opening an approval or
reusing the one pending for the same write (two replicas asked at once: one approval), deciding it,
redeeming it (two replicas racing: exactly one wins, the other sees "already used"), counting a
write against an hourly cap (20 concurrent sends over three replicas with a cap of 5: exactly 5), and
counting an approver PIN attempt (5 per source in 10 minutes, however many replicas are asked).
Marking a nonce used is one script too (a `SET NX` behind the epoch check). The caps use Redis's
clock (`TIME`), so replicas with skewed clocks still share one window. Nothing secret is stored:
approvals hold what the approver is shown, nonces are public halves of tokens whose MAC key never
leaves the replicas' configuration, codes and sessions are stored under hashes of what a browser
presents, and a password only sealed. Launch codes and secrets are taken with `GETDEL`: once.
The open script reads the approvals an intent or a client's set names (keys it derives): one Redis
or a primary with replicas, not Redis Cluster.

The client is redis-py's synchronous client with short timeouts: the stores answer the same
synchronous calls as the in-memory ones, and a loopback round trip is a fraction of a millisecond.
Any Redis failure becomes `StateUnavailable`, so writes fail closed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from telco_mcp.approval.passkeys import Passkey
from telco_mcp.approval.sessions import Session
from telco_mcp.approval.store import Approval, DecidedBy, Grant, LinkChannel, TooManyPending, intent_key
from telco_mcp.errors import ConfigError, ConfirmationError, StateUnavailable
from telco_mcp.events.model import CallEvent, delivery_key
from telco_mcp.events.store import SEEN_FOR
from telco_mcp.ops import metrics
from telco_mcp.runtime import ENABLED_FOR
from telco_mcp.state import SharedState
from telco_mcp.state.integrity import Kind, Seal

logger = logging.getLogger(__name__)

PREFIX = "telco-mcp:"
PENDING = PREFIX + "approvals:pending"
EPOCH = PREFIX + "epoch"
_KEEP_AFTER_EXPIRY = 3600  # seconds an approval stays readable after it expired (as in memory)

# Transitions apply only to the record Python read and checked: its stored MAC, byte for byte (ARGV[6] here,
# ARGV[5] in _REDEEM); the new state's MAC (computed in Python) is written with it (state/integrity.py).
_DECIDE = """
local f = redis.call('HMGET', KEYS[1], 'status', 'expires', 'mac')
if not f[1] then return {'missing'} end
if f[3] ~= ARGV[6] then return {'changed'} end
if f[1] ~= 'pending' then return {'decided', f[1]} end
if tonumber(ARGV[1]) >= tonumber(f[2]) then return {'expired'} end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'decided_by', ARGV[3], 'decided_at', ARGV[1], 'approver', ARGV[5],
  'mac', ARGV[7])
redis.call('ZREM', KEYS[2], ARGV[4])
return {'ok'}
"""

_OPEN = """
local now = tonumber(ARGV[1])
local function waiting(id)
  local f = redis.call('HMGET', ARGV[3] .. id, 'status', 'expires')
  return f[1] == 'pending' and now < tonumber(f[2])
end
local same = redis.call('GET', KEYS[1])
if same and waiting(same) then return {'same', same} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if not waiting(id) then redis.call('ZREM', KEYS[2], id) end
end
local count = redis.call('ZCARD', KEYS[2])
if count >= tonumber(ARGV[2]) then return {'full', tostring(count)} end
redis.call('HSET', KEYS[3], 'data', ARGV[5], 'tool', ARGV[6], 'digest', ARGV[7], 'client', ARGV[8],
  'expires', ARGV[9], 'status', 'pending', 'mac', ARGV[13])
redis.call('EXPIRE', KEYS[3], ARGV[11])
redis.call('ZADD', KEYS[4], ARGV[10], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[9], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[11])
redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[12])
return {'new'}
"""

_CHANNEL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local have = redis.call('HGET', KEYS[1], 'channels') or ''
for c in string.gmatch(have, '[^,]+') do
  if c == ARGV[1] then return 1 end
end
redis.call('HSET', KEYS[1], 'channels', have == '' and ARGV[1] or (have .. ',' .. ARGV[1]))
return 1
"""

_REDEEM = """
local f = redis.call('HMGET', KEYS[1], 'tool', 'digest', 'client', 'status', 'expires', 'mac')
if not f[1] or f[1] ~= ARGV[1] or f[2] ~= ARGV[2] or f[3] ~= ARGV[3] then return 'foreign' end
if f[6] ~= ARGV[5] then return 'changed' end
if f[4] == 'used' then return 'used' end
if f[4] == 'approved' and tonumber(ARGV[4]) >= tonumber(f[5]) then return 'expired' end
if f[4] ~= 'approved' then return f[4] end
redis.call('HSET', KEYS[1], 'status', 'used', 'mac', ARGV[6])
return 'redeemed'
"""

# A closed session's pending approvals (KEYS[1]: its waiting set) expire now (ARGV[1]); off the pending list.
# A closed session's pending approval expires now: only the record Python read and checked (its MAC, byte for
# byte), with the MAC of the record as it will be (the earlier expiry) computed in Python.
_EXPIRE_ONE = """
local f = redis.call('HMGET', KEYS[1], 'status', 'expires', 'mac')
if not f[1] then return 'missing' end
if f[3] ~= ARGV[1] then return 'changed' end
if f[1] ~= 'pending' or tonumber(ARGV[2]) >= tonumber(f[2]) then return 'done' end
redis.call('HSET', KEYS[1], 'expires', ARGV[2], 'mac', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
return 'expired'
"""

_USE_ONCE = """
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  redis.call('SET', KEYS[2], ARGV[3])
  epoch = ARGV[3]
end
if ARGV[2] ~= '' and tonumber(ARGV[2]) < tonumber(epoch) then return -1 end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
"""

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('EXPIRE', KEYS[1], 3700)
return 1
"""

_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
return redis.call('ZCOUNT', KEYS[1], '(' .. (now - 3600), '+inf')
"""


# PIN attempts (approval/pin.py): the sliding window of one source. ARGV[1] is the caller's clock ('' in
# production: Redis's own `TIME`, so replicas with skewed clocks share one window; tests inject one). Answers
# the seconds to wait as a string ('0': counted), since Redis turns a Lua number into an integer.
_PIN_NOW = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {'locked', tostring(tonumber(oldest[2]) + window - now)}
end
"""
_PIN_TAKE = (
    _PIN_NOW
    + """
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return {'counted', '0'}
"""
)
_PIN_LOCKED = _PIN_NOW + "\nreturn {'free', '0'}\n"


def _connect(url: str) -> Any:
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError:  # pragma: no cover - the extra is part of every install the project documents
        raise ConfigError("TELCO_MCP_STATE_URL needs the Redis client: pip install 'telco-mcp[redis]'") from None
    return redis.Redis.from_url(
        url,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        # One reconnect for a connection a Redis restart closed; never a second wait on a Redis that does not
        # answer (each call waits at most socket_timeout, and the server's event loop does not stall longer).
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        health_check_interval=15,
        client_name="telco-mcp",
    )


@contextmanager
def _reachable(what: str) -> Iterator[None]:
    """Any Redis failure as a clear, fail-closed error that names no address or credential."""
    import redis

    try:
        with metrics.state_call(what):  # latency and errors by operation (`what` is one of a fixed set)
            yield
    except redis.RedisError as exc:
        logger.warning("shared state unavailable while trying to %s: %s", what, type(exc).__name__)
        raise StateUnavailable(
            f"the shared state (TELCO_MCP_STATE_URL) cannot be reached, so this server cannot {what}. Nothing was "
            "sent: writes are refused until it is back, reads keep working"
        ) from None


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _not_later(stored: str, created: float) -> bool:
    """The hash's expiry is the approval's own, or earlier (its session closed): never later."""
    try:
        return float(stored) <= created
    except ValueError:
        return False


class RedisApprovalStore:
    """Approvals and grants for every replica; each record carries its MAC (`state/integrity.py`)."""

    def __init__(self, client: Any, seal: Seal, clock: Callable[[], float] = time.time) -> None:
        self._r = client
        self.seal = seal
        self.clock = clock
        self._open = client.register_script(_OPEN)
        self._decide = client.register_script(_DECIDE)
        self._redeem = client.register_script(_REDEEM)
        self._expire_one = client.register_script(_EXPIRE_ONE)
        self._channel = client.register_script(_CHANNEL)

    @staticmethod
    def _key(approval_id: str) -> str:
        return f"{PREFIX}approval:{approval_id}"

    def _record(self, approval: Approval) -> tuple[dict[str, str], int]:
        """The approval's hash fields (its MAC included), and how long (seconds) the record is kept."""
        data = json.dumps(dataclasses.asdict(approval), default=str, separators=(",", ":"))
        fields = {
            "data": data,
            "tool": approval.tool,
            "digest": approval.digest,
            "client": approval.client,
            "expires": repr(approval.expires),
            "status": approval.status,
            "decided_by": approval.decided_by or "",
            "decided_at": repr(approval.decided_at) if approval.decided_at is not None else "",
            "approver": json.dumps(approval.approver, separators=(",", ":")) if approval.approver else "",
        }
        fields["mac"] = self.seal.mac("approval", fields | {"id": approval.id})
        return fields, max(1, int(approval.expires - self.clock()) + _KEEP_AFTER_EXPIRY)

    def add(self, approval: Approval) -> None:
        fields, ttl = self._record(approval)
        key = self._key(approval.id)
        with _reachable("open an approval"):
            pipe = self._r.pipeline(transaction=True)  # MULTI/EXEC: the record and its index together
            pipe.hset(key, mapping=fields)
            pipe.expire(key, ttl)
            if approval.status == "pending":
                pipe.zadd(PENDING, {approval.id: approval.created})
            pipe.execute()

    def open(self, approval: Approval, max_pending: int) -> tuple[Approval, bool]:
        """One script: reuse the approval pending for this intent, or count the client's waiting ones and add."""
        fields, ttl = self._record(approval)
        now = self.clock()
        intent = PREFIX + "intent:" + intent_key(approval.tool, approval.digest, approval.client)
        waiting = self._waiting(approval.client)
        args = [repr(now), max_pending, self._key(""), approval.id, fields["data"], approval.tool, approval.digest]
        args += [approval.client, fields["expires"], repr(approval.created), ttl]
        args += [max(1, math.ceil(approval.expires - now)), fields["mac"]]
        keys = [intent, waiting, self._key(approval.id), PENDING]
        for _ in range(3):  # "same" names a record that is read next: gone meanwhile (never, in practice), ask again
            with _reachable("open an approval"):
                answer = [_text(x) for x in self._open(keys=keys, args=args)]
                same = self._read(answer[1] or "") if answer[0] == "same" else None
            if answer[0] == "full":
                raise TooManyPending(int(answer[1] or 0))
            if answer[0] == "new":
                return approval, True
            if same is None:
                continue
            found = same[0]
            if found is None or (found.tool, found.digest, found.client) != (
                approval.tool, approval.digest, approval.client,
            ):  # fmt: skip
                if found is not None:
                    self.seal.refuse("approval", found.id, "an intent names an approval of another write")
                raise ConfirmationError(
                    "the shared state (TELCO_MCP_STATE_URL) holds an approval for this write that failed its "
                    "integrity check, so it was refused. Nothing was sent. Ask again once it has expired, and have "
                    "the operator check who else writes to that Redis"
                )
            return found, False
        raise StateUnavailable("the shared state kept changing while an approval was opened. Nothing was sent")

    @staticmethod
    def _waiting(client: str) -> str:
        return PREFIX + "approvals:client:" + hashlib.sha256(client.encode()).hexdigest()

    def expire_client(self, client: str) -> list[str]:
        expired: list[str] = []
        with _reachable("expire a closed session's approvals"):
            for approval_id in [_text(i) or "" for i in self._r.zrange(self._waiting(client), 0, -1)]:
                for _ in range(3):  # "changed": decided or redeemed by another replica meanwhile: read again
                    now = self.clock()
                    found = self._read(approval_id)
                    if found is None or found[0] is None or found[0].status != "pending":
                        break  # gone, refused (an edited record expires on its own) or decided
                    new = found[1] | {"id": approval_id, "expires": repr(now)}
                    code = _text(
                        self._expire_one(
                            keys=[self._key(approval_id), PENDING],
                            args=[found[1]["mac"], repr(now), self.seal.mac("approval", new), approval_id],
                        )
                    )
                    if code == "expired":
                        expired.append(approval_id)
                    if code != "changed":
                        break
            self._r.delete(self._waiting(client))
        return expired

    def _check(self, approval_id: str, fields: dict[Any, Any]) -> dict[str, str] | None:
        """The record's fields when its MAC holds (and its copies agree); None, refused, otherwise."""
        raw = {_text(k) or "": _text(v) or "" for k, v in fields.items()}
        if not raw:
            return None
        if not raw.get("mac"):
            self.seal.refuse("approval", approval_id, "no MAC")
            return None
        if not self.seal.valid("approval", raw | {"id": approval_id}, raw["mac"]):
            self.seal.refuse("approval", approval_id, "the MAC does not match")
            return None
        return raw

    def _load(self, approval_id: str, raw: dict[str, str]) -> Approval | None:
        data = json.loads(raw["data"] or "{}")
        known = {f.name for f in dataclasses.fields(Approval)}
        approval = Approval(**{k: v for k, v in data.items() if k in known})
        # The script checks the hash's copies of these; what the record says is the MAC'd data: they must agree,
        # but for an expiry brought forward when the approval's session closed (`expire_client`).
        expires = raw.get("expires") or ""
        if (approval.id, approval.tool, approval.digest, approval.client) != (
            approval_id, raw.get("tool"), raw.get("digest"), raw.get("client"),
        ) or not _not_later(expires, approval.expires):  # fmt: skip
            self.seal.refuse("approval", approval_id, "its fields disagree with the approval as created")
            return None
        decided_at, approver, channels = raw.get("decided_at"), raw.get("approver"), raw.get("channels")
        return dataclasses.replace(
            approval,
            expires=float(expires) if expires else approval.expires,  # earlier when its session closed
            channels=tuple(channels.split(",")) if channels else tuple(approval.channels),  # type: ignore[arg-type]
            status=raw.get("status") or approval.status,  # type: ignore[arg-type]
            decided_by=raw.get("decided_by") or approval.decided_by,  # type: ignore[arg-type]
            decided_at=float(decided_at) if decided_at else approval.decided_at,
            approver=json.loads(approver) if approver else approval.approver,
        )

    def _read(self, approval_id: str) -> tuple[Approval | None, dict[str, str]] | None:
        """(the approval, its checked fields), (None, {}) when refused, None when there is no such record."""
        fields = self._r.hgetall(self._key(approval_id))
        if not fields:
            return None
        raw = self._check(approval_id, fields)
        approval = self._load(approval_id, raw) if raw is not None else None
        return (approval, raw) if approval is not None and raw is not None else (None, {})

    def get(self, approval_id: str) -> Approval | None:
        with _reachable("read an approval"):
            found = self._read(approval_id)
        return found[0] if found is not None else None

    def pending(self) -> list[Approval]:
        now = self.clock()
        with _reachable("list pending approvals"):
            ids = [_text(i) or "" for i in self._r.zrange(PENDING, 0, -1)]
            pipe = self._r.pipeline(transaction=False)
            for approval_id in ids:
                pipe.hgetall(self._key(approval_id))
            records = pipe.execute() if ids else []
            gone = [i for i, r in zip(ids, records, strict=True) if not r]
            if gone:
                self._r.zrem(PENDING, *gone)
        out = []
        for approval_id, fields in zip(ids, records, strict=True):
            raw = self._check(approval_id, fields) if fields else None
            approval = self._load(approval_id, raw) if raw is not None else None
            if approval is not None and approval.status == "pending" and not approval.expired(now):
                out.append(approval)
        return sorted(out, key=lambda a: a.created)

    @staticmethod
    def _refused(approval_id: str) -> ConfirmationError:
        return ConfirmationError(
            f"approval {approval_id} in the shared state (TELCO_MCP_STATE_URL) failed its integrity check (edited "
            "outside telco-mcp, written before an upgrade, or by a replica with another TELCO_MCP_CONFIRM_SECRET), so "
            "it was refused. Nothing was sent. Call the tool "
            "without approval_id to ask for a new approval"
        )

    def decide(
        self, approval_id: str, approve: bool, by: DecidedBy, approver: dict[str, str] | None = None
    ) -> Approval:
        status = "approved" if approve else "denied"
        who = json.dumps(approver, separators=(",", ":")) if approver else ""
        for _ in range(3):  # "changed": another replica decided it between the read and the script
            now = self.clock()
            with _reachable("record a decision"):
                found = self._read(approval_id)
                if found is None:
                    raise ConfirmationError(f"no approval {approval_id} is known to this server")
                current, raw = found
                if current is None:
                    raise self._refused(approval_id)
                new = raw | {"id": approval_id, "status": status, "decided_by": by, "decided_at": repr(now)}
                new["approver"] = who
                answer = self._decide(
                    keys=[self._key(approval_id), PENDING],
                    args=[repr(now), status, by, approval_id, who, raw["mac"], self.seal.mac("approval", new)],
                )
            code = [_text(x) for x in answer]
            if code[0] == "changed":
                continue
            if code[0] == "missing":
                raise ConfirmationError(f"no approval {approval_id} is known to this server")
            if code[0] == "decided":
                raise ConfirmationError(f"approval {approval_id} was already decided ({code[1]})")
            if code[0] == "expired":
                raise ConfirmationError(f"approval {approval_id} has expired")
            return dataclasses.replace(
                current, status=status, decided_by=by, decided_at=now, approver=approver or current.approver
            )
        raise StateUnavailable("the shared state kept changing while a decision was recorded. Nothing was decided")

    def redeem(self, approval_id: str, tool: str, digest: str, client: str) -> Approval:
        foreign = ConfirmationError(
            f"approval_id {approval_id!r} does not belong to this call: it was issued for another tool, "
            "other arguments or another client, or not by this server. Nothing was sent. Call the tool "
            "without approval_id to ask for a new approval."
        )
        for _ in range(3):  # "changed": another replica redeemed or decided it between the read and the script
            now = self.clock()
            with _reachable("redeem an approval"):
                found = self._read(approval_id)
                if found is None:
                    raise foreign
                approval, raw = found
                if approval is None:
                    raise self._refused(approval_id)
                used = self.seal.mac("approval", raw | {"id": approval_id, "status": "used"})
                code = _text(
                    self._redeem(
                        keys=[self._key(approval_id)], args=[tool, digest, client, repr(now), raw["mac"], used]
                    )
                )
            if code == "changed":
                continue
            if code == "foreign":
                raise foreign
            if code == "used":
                raise ConfirmationError(
                    f"approval {approval_id} was already used: each approval allows one write. Nothing was sent again."
                )
            if code == "expired":
                raise ConfirmationError(
                    f"approval {approval_id} has expired. Nothing was sent. Call the tool without approval_id to ask "
                    "again."
                )
            return approval  # redeemed (this caller won: the approval as it was approved), or pending/denied
        raise StateUnavailable("the shared state kept changing while an approval was redeemed. Nothing was sent")

    def add_channel(self, approval_id: str, channel: LinkChannel) -> None:
        with _reachable("record how an approval reached a person"):
            self._channel(keys=[self._key(approval_id)], args=[channel])

    @staticmethod
    def _grant_key(client: str, target: str) -> str:
        return PREFIX + "grants:" + hashlib.sha256(f"{client}\n{target}".encode()).hexdigest()

    def add_grant(self, grant: Grant) -> None:
        key = self._grant_key(grant.client, grant.target)
        data = dataclasses.asdict(grant) | {"tools": sorted(grant.tools)}
        member = json.dumps(data | {"mac": self.seal.mac("grant", data)}, separators=(",", ":"))
        with _reachable("record a grant"):
            pipe = self._r.pipeline(transaction=True)
            pipe.zadd(key, {member: grant.until})
            pipe.expireat(key, int(grant.until) + 60, gt=True)
            pipe.expireat(key, int(grant.until) + 60, nx=True)
            pipe.execute()

    def find_grant(self, tool: str, target: str, client: str) -> Grant | None:
        now = self.clock()
        key = self._grant_key(client, target)
        with _reachable("look up a grant"):
            members = self._r.zrangebyscore(key, f"({now!r}", "+inf")
        for member in members:
            try:
                data: dict[str, Any] = json.loads(_text(member) or "{}")
                fields: dict[str, Any] = {k: v for k, v in data.items() if k != "mac"}
                fields["tools"] = frozenset(data["tools"])
                grant = Grant(**fields)
            except (ValueError, TypeError, KeyError):
                self.seal.refuse("grant", "?", "not a grant record")
                continue
            if not self.seal.valid("grant", data, data.get("mac")):
                self.seal.refuse("grant", str(grant.id), "no MAC" if not data.get("mac") else "the MAC does not match")
                continue
            if grant.target == target and grant.client == client and tool in grant.tools and grant.until > now:
                return grant
        return None


class RedisPageState:
    """The approval page's launch codes, sessions and sealed secrets (`approval/sessions.py`), for every replica.

    Each is one key with Redis's own expiry; a code and a secret are taken with `GETDEL`, so exactly one
    replica gets them. Codes and sessions carry their MAC (`state/integrity.py`), bound to the key they are
    stored under; a secret is sealed with AES-GCM, bound to its approval.
    """

    def __init__(self, client: Any, seal: Seal, clock: Callable[[], float] = time.time) -> None:
        self._r = client
        self.seal = seal
        self.clock = clock

    def _ms(self, expires: float) -> int:
        return max(1, int((expires - self.clock()) * 1000))

    def _checked(self, kind: Kind, key: str, raw: Any) -> dict[str, Any] | None:
        """A code's or session's stored JSON when its MAC holds; None (refused) otherwise."""
        try:
            data = json.loads(_text(raw) or "")
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            self.seal.refuse(kind, key, "not a record of this version")
            return None
        if not self.seal.valid(kind, data | {"key": key}, data.get("mac")):
            self.seal.refuse(kind, key, "no MAC" if not data.get("mac") else "the MAC does not match")
            return None
        return data

    def put_code(self, key: str, approval_id: str, expires: float) -> None:
        data: dict[str, Any] = {"approval": approval_id, "expires": expires}
        data["mac"] = self.seal.mac("code", data | {"key": key})
        with _reachable("hand out a launch link"):
            self._r.set(f"{PREFIX}page:code:{key}", json.dumps(data, separators=(",", ":")), px=self._ms(expires))

    def take_code(self, key: str) -> str | None:
        with _reachable("open a launch link"):
            raw = self._r.getdel(f"{PREFIX}page:code:{key}")
        data = self._checked("code", key, raw) if raw is not None else None
        if data is None or float(data.get("expires") or 0) <= self.clock():
            return None
        return str(data["approval"])

    def peek_code(self, key: str) -> str | None:
        with _reachable("open a launch link"):
            raw = self._r.get(f"{PREFIX}page:code:{key}")
        data = self._checked("code", key, raw) if raw is not None else None
        if data is None or float(data.get("expires") or 0) <= self.clock():
            return None
        return str(data["approval"])

    def put_session(self, key: str, session: Session) -> None:
        data: dict[str, Any] = dataclasses.asdict(session)
        data["mac"] = self.seal.mac("session", data | {"key": key})
        with _reachable("sign in to the approval page"):
            self._r.set(
                f"{PREFIX}page:session:{key}", json.dumps(data, separators=(",", ":")), px=self._ms(session.expires)
            )

    def session(self, key: str) -> Session | None:
        with _reachable("read an approval page session"):
            raw = self._r.get(f"{PREFIX}page:session:{key}")
        data = self._checked("session", key, raw) if raw is not None else None
        if data is None:
            return None
        return Session(**{k: v for k, v in data.items() if k in {f.name for f in dataclasses.fields(Session)}})

    def put_secret(self, approval_id: str, sealed: bytes, expires: float) -> None:
        with _reachable("keep the secret given with an approval"):
            self._r.set(f"{PREFIX}page:secret:{approval_id}", sealed, px=self._ms(expires))

    def take_secret(self, approval_id: str) -> bytes | None:
        with _reachable("take the secret given with an approval"):
            return self._r.getdel(f"{PREFIX}page:secret:{approval_id}")


class RedisNonces:
    """Used nonces, and the time this Redis started remembering them (`epoch`).

    A Redis that restarts without persistence forgets which tokens were used; a token handed out before
    that could then be replayed. So the first replica to find the data gone (handing out or checking a
    confirmation) writes a new epoch, and one issued before the epoch is refused (ask again) instead
    of trusted.
    """

    def __init__(self, client: Any, clock: Callable[[], float] = time.time) -> None:
        self._r = client
        self.clock = clock
        self._use = client.register_script(_USE_ONCE)

    def mark_epoch(self) -> None:
        """At startup and before each confirmation is handed out: note when this Redis's memory of used
        nonces begins, if nobody has (so a confirmation issued after a reset is never mistaken for an
        older one)."""
        with _reachable("hand out a confirmation"):
            self._r.set(EPOCH, self._epoch_now(), nx=True)

    def _epoch_now(self) -> str:
        # Tokens carry whole seconds (their expiry), so the epoch is too, with one second's margin.
        return str(int(self.clock()) - 1)

    def use_once(self, nonce: str, expiry: float, issued: float | None = None) -> bool:
        now = self.clock()
        ttl_ms = max(1000, int((expiry - now) * 1000))
        with _reachable("check that a confirmation is used only once"):
            answer = int(
                self._use(
                    keys=[f"{PREFIX}nonce:{nonce}", EPOCH],
                    args=[ttl_ms, "" if issued is None else repr(issued), self._epoch_now()],
                )
            )
        if answer < 0:
            raise ConfirmationError(
                "this confirmation was issued before the shared state (TELCO_MCP_STATE_URL) was reset, so this "
                "server cannot tell whether it was already used. Nothing was sent. Call the tool again without it "
                "and ask the user again"
            )
        return answer == 1


class RedisCaps:
    def __init__(self, client: Any) -> None:
        self._r = client
        self._take = client.register_script(_TAKE)
        self._count = client.register_script(_COUNT)

    def count(self, kind: str) -> int:
        with _reachable("read the hourly caps"):
            return int(self._count(keys=[f"{PREFIX}cap:{kind}"]))

    def take(self, kind: str, cap: int) -> bool:
        with _reachable("count this write against the hourly cap"):
            return bool(self._take(keys=[f"{PREFIX}cap:{kind}"], args=[cap, secrets.token_hex(8)]))


class RedisPinAttempts:
    """Approver PIN attempts per source (`approval/pin.py`), one sorted set per source hash, for every replica.

    Counting is one Lua script (prune the window, refuse when full, else add), so 20 guesses racing over
    three replicas count exactly 5. The window runs on Redis's clock unless a test injects `clock`.
    """

    def __init__(self, client: Any, clock: Callable[[], float] | None = None) -> None:
        self._r = client
        self.clock = clock
        self._take = client.register_script(_PIN_TAKE)
        self._locked = client.register_script(_PIN_LOCKED)

    def _now(self) -> str:
        return "" if self.clock is None else repr(self.clock())

    @staticmethod
    def _key(source: str) -> str:
        return f"{PREFIX}pin:{source}"

    def take(self, source: str, attempt: str, limit: int, window: float) -> float:
        with _reachable("count an approver PIN attempt"):
            answer = self._take(keys=[self._key(source)], args=[self._now(), limit, repr(window), attempt])
        return float(_text(answer[1]) or 0)

    def forget(self, source: str, attempt: str) -> None:
        with _reachable("uncount a right approver PIN"):
            self._r.zrem(self._key(source), attempt)

    def locked_for(self, source: str, limit: int, window: float) -> float:
        with _reachable("read the approver PIN attempts"):
            answer = self._locked(keys=[self._key(source)], args=[self._now(), limit, repr(window)])
        return float(_text(answer[1]) or 0)


class RedisEnabledToolsets:
    """The tools each OAuth caller enabled (`runtime.EnabledToolsets`), one set per caller-key hash, for every
    replica.

    Adding and renewing the expiry is one MULTI/EXEC: the set lives `ttl` seconds after the last enable.
    """

    def __init__(self, client: Any, ttl: float = ENABLED_FOR) -> None:
        self._r = client
        self.ttl = ttl

    @staticmethod
    def _key(caller_key: str) -> str:
        return PREFIX + "toolsets:" + hashlib.sha256(caller_key.encode()).hexdigest()

    def enabled(self, caller_key: str) -> frozenset[str]:
        with _reachable("read the toolsets this person enabled"):
            return frozenset(_text(name) or "" for name in self._r.smembers(self._key(caller_key)))

    def enable(self, caller_key: str, tools: Iterable[str]) -> None:
        names = sorted(tools)
        key = self._key(caller_key)
        with _reachable("enable a toolset"):
            pipe = self._r.pipeline(transaction=True)
            if names:
                pipe.sadd(key, *names)
            pipe.pexpire(key, max(1, int(self.ttl * 1000)))
            pipe.execute()


class RedisExports:
    """Exports (`exports.ExportStore`) for every replica: one key per (owner, id), whose name holds a hash of the
    owner's key (no other caller can even address it), expiring on its own; a MAC over the id, the owner and the
    content's sha256 refuses a record edited in Redis."""

    def __init__(self, client: Any, seal: Seal) -> None:
        self._r = client
        self._seal = seal

    @staticmethod
    def _key(export_id: str, owner: str) -> str:
        return PREFIX + "export:" + hashlib.sha256(f"{owner}\n{export_id}".encode()).hexdigest()

    def _mac(self, export_id: str, owner: str, data: bytes) -> bytes:
        record = {"id": export_id, "owner": owner, "sha256": hashlib.sha256(data).hexdigest()}
        return self._seal.mac("export", record).encode()

    def put(self, export_id: str, owner: str, data: bytes, ttl: float) -> None:
        with _reachable("keep the export"):
            self._r.set(self._key(export_id, owner), self._mac(export_id, owner, data) + b"|" + data,
                        px=max(1, int(ttl * 1000)))  # fmt: skip

    def get(self, export_id: str, owner: str) -> bytes | None:
        with _reachable("read the export"):
            raw = self._r.get(self._key(export_id, owner))
        if raw is None:
            return None
        mac, _, data = bytes(raw).partition(b"|")
        if mac != self._mac(export_id, owner, data):
            self._seal.refuse("export", export_id, "its MAC does not match")
            return None
        return data


def redis_state(url: str, *, seal: Seal, events_kept: int = 500) -> SharedState:
    client = _connect(url)
    nonces = RedisNonces(client)
    try:
        nonces.mark_epoch()
    except StateUnavailable:  # serve anyway: reads work, and every write is refused until Redis is back
        logger.warning("the shared state (TELCO_MCP_STATE_URL) cannot be reached at startup: writes are refused")
    return SharedState(
        backend="redis",
        approvals=RedisApprovalStore(client, seal),
        page=RedisPageState(client, seal),
        nonces=nonces,
        caps=RedisCaps(client),
        events=RedisEventStore(client, keep=events_kept),
        pins=RedisPinAttempts(client),
        toolsets=RedisEnabledToolsets(client),
        exports=RedisExports(client, seal),
        seal=seal,
        ping=lambda: _ping(client),
        passkeys=RedisPasskeyStore(client, seal),
    )


class RedisPasskeyStore:
    """The approvers' passkeys (public keys only) for every replica: one hash, each entry under a MAC
    (`state/integrity.py`), so a writer of Redis cannot enrol a key of its own; a marker says passkeys were
    enrolled once (an emptied store is no fresh install, `approval/enroll.py`)."""

    KEY, MARKER = PREFIX + "approvers:passkeys", PREFIX + "approvers:enrolled-once"

    def __init__(self, client: Any, seal: Seal) -> None:
        self._r = client
        self.seal = seal

    def all(self) -> list[Passkey]:
        with _reachable("read the approvers' passkeys"):
            raw = self._r.hgetall(self.KEY)
        out: list[Passkey] = []
        for field_, value in sorted(raw.items()):
            key = _text(field_) or ""
            try:
                data = json.loads(_text(value) or "")
                passkey = Passkey(
                    **{k: data[k] for k in ("credential_id", "public_key", "sign_count", "label", "created")}
                )
            except (ValueError, KeyError, TypeError):
                self.seal.refuse("passkey", key, "not a record of this version")
                continue
            if passkey.credential_id != key or not self.seal.valid("passkey", data | {"key": key}, data.get("mac")):
                self.seal.refuse("passkey", key, "no MAC" if not data.get("mac") else "the MAC does not match")
                continue
            out.append(passkey)
        return out

    def add(self, passkey: Passkey) -> None:
        data: dict[str, Any] = dataclasses.asdict(passkey)
        data["mac"] = self.seal.mac("passkey", data | {"key": passkey.credential_id})
        with _reachable("enrol a passkey"):
            self._r.hset(self.KEY, passkey.credential_id, json.dumps(data, separators=(",", ":")))
            self._r.set(self.MARKER, "1")

    def remove(self, credential_id: str) -> bool:
        gone = [p.credential_id for p in self.all() if credential_id in (p.credential_id, p.label)]
        if not gone:
            return False
        with _reachable("remove a passkey"):
            self._r.hdel(self.KEY, *gone)
        return True

    def ever_enrolled(self) -> bool:
        with _reachable("read the approvers' passkeys"):
            return bool(self._r.exists(self.MARKER))


def _ping(client: Any) -> None:
    with _reachable("answer a readiness probe"):
        client.ping()


# ------------------------------------------------------------------ call events (the live-events issue)
_PUBLISH_EVENT = """
if ARGV[3] == '1' and not redis.call('SET', KEYS[4], '1', 'NX', 'EX', tonumber(ARGV[4])) then
  return false
end
local text = redis.call('INCR', KEYS[1]) .. '|' .. ARGV[1]
redis.call('LPUSH', KEYS[2], text)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
redis.call('PUBLISH', KEYS[3], text)
return text
"""
EVENTS, EVENT_SEQUENCE, EVENT_CHANNEL = PREFIX + "events", PREFIX + "events:sequence", PREFIX + "events:new"
EVENT_SEEN = PREFIX + "events:seen:"  # + the event's delivery key, for SEEN_FOR seconds


def _event(raw: Any) -> CallEvent:
    """`<sequence>|<event JSON>` as the script stores and announces it (JSON is never rewritten in Lua)."""
    sequence, _, data = (_text(raw) or "").partition("|")
    return CallEvent.model_validate_json(data).model_copy(update={"sequence": int(sequence)})


class RedisEventStore:
    """Call events every replica sees: the newest `keep` in one list, each new one on one pub/sub channel.

    Numbering, keeping and announcing an event is one Lua script, so every replica numbers events the same
    and a waiter that subscribed, then looked back, misses none. The same script first marks the event's
    delivery key (`SET NX` with a TTL), so an event delivered twice, to one replica or to two, is recorded
    once. The synchronous client runs in worker threads: the receiver answers sipgate without waiting for
    Redis, and no event loop blocks.
    """

    def __init__(self, client: Any, keep: int = 500) -> None:
        self._r = client
        self.keep = keep
        self._publish = client.register_script(_PUBLISH_EVENT)

    async def publish(self, event: CallEvent) -> CallEvent | None:
        data = event.model_dump_json(exclude={"sequence"})
        key = delivery_key(event)
        keys = [EVENT_SEQUENCE, EVENTS, EVENT_CHANNEL, EVENT_SEEN + (key or "")]
        args = [data, self.keep, "0" if key is None else "1", SEEN_FOR]

        def run() -> Any:
            with _reachable("record a call event"):
                return self._publish(keys=keys, args=args)

        recorded = await anyio.to_thread.run_sync(run)
        return None if recorded is None else _event(recorded)

    async def _kept(self, limit: int) -> list[CallEvent]:
        def run() -> list[Any]:
            with _reachable("read the call events"):
                return list(self._r.lrange(EVENTS, 0, max(0, limit - 1)))

        # A read the caller stops waiting for (sipgate_list_calls gives it a short deadline) is left to finish
        # in its worker thread, within the client's socket timeout, instead of holding the caller until then.
        return [_event(raw) for raw in await anyio.to_thread.run_sync(run, abandon_on_cancel=True)]

    async def recent(self, limit: int) -> list[CallEvent]:
        return await self._kept(limit)

    async def for_call(self, call_id: str) -> list[CallEvent]:
        return [e for e in reversed(await self._kept(self.keep)) if call_id in (e.call_id, e.orig_call_id)]

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[MemoryObjectReceiveStream[CallEvent]]:
        """Every event any replica publishes from now on. Subscribed before this returns (nothing slips)."""
        from telco_mcp.events.store import SUBSCRIBER_BUFFER

        pubsub = self._r.pubsub(ignore_subscribe_messages=True)

        def listen() -> None:
            with _reachable("follow the call events"):
                pubsub.subscribe(EVENT_CHANNEL)
                pubsub.get_message(timeout=1.0)  # the subscription's confirmation: from here on nothing is missed

        await anyio.to_thread.run_sync(listen)
        send, receive = anyio.create_memory_object_stream[CallEvent](SUBSCRIBER_BUFFER)

        async def pump() -> None:
            while True:
                # Not abandoned on cancel: a PubSub is not safe across threads, and a read left running while
                # `pubsub.close()` ran in another thread reconnected on its own, leaving an unclosed connection
                # and replies read by the wrong thread (timeouts for the next caller). Unsubscribing waits for
                # the read in flight instead, at most its 0.25 s.
                message = await anyio.to_thread.run_sync(lambda: pubsub.get_message(timeout=0.25))
                if message is not None and message.get("type") == "message":
                    try:
                        send.send_nowait(_event(message["data"]))
                    except anyio.WouldBlock:
                        logger.warning("a call-event subscriber is %d events behind; one dropped", SUBSCRIBER_BUFFER)

        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(pump)
                try:
                    with receive:
                        yield receive
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            send.close()
            await anyio.to_thread.run_sync(pubsub.close)
