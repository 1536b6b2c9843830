"""The safety layer: what is exposed, how writes are confirmed, what they may do, and the record they leave.

- `scopes`: which catalogue operations are listed (providers -> granted scopes -> read-only).
- `confirm`: single-use, argument-bound, expiring confirmation tokens.
- `keys`: every key derived from `TELCO_MCP_CONFIRM_SECRET` (tokens, the SDK's request state).
- `guardrails`: telephony policy (premium rate, prefixes, SMS length, hourly caps).
- `audit`: one JSON line per write attempt, flushed before the request is sent.
"""
