"""OAuth 2.1 resource server for the HTTP transports: JWT access tokens checked against the issuer's keys.

With `TELCO_MCP_OAUTH_ISSUER`, `TELCO_MCP_OAUTH_RESOURCE` and `TELCO_MCP_OAUTH_JWKS_URL` set, every
request to the MCP paths (and to the approval API, `/api/approvals`) needs `Authorization: Bearer
<JWT>`, validated by PyJWT (the JOSE library `mcp` itself depends on):

- the signature, against the issuer's JWKS: fetched on first use and cached for five minutes; a token
  signed with a key id the cache does not know makes one refetch (key rotation), at most once per
  `TELCO_MCP_OAUTH_JWKS_MIN_REFRESH` seconds, so a flood of made-up key ids cannot hammer the issuer;
- only asymmetric algorithms (RS*, PS*, ES*, EdDSA): `alg: none` and HMAC tokens are refused;
- `iss` is the issuer, `aud` contains this server's resource URL (RFC 8707: a token for another
  resource is refused), `exp` and `nbf` hold (30 s leeway), and `sub` is present.

The SDK's auth support does the rest (`AuthSettings` + this `TokenVerifier`): 401 with
`WWW-Authenticate: Bearer ..., resource_metadata="<PRM URL>"` for a missing or invalid token, 403
`insufficient_scope` when a token lacks `TELCO_MCP_OAUTH_REQUIRED_SCOPES`, the Protected Resource
Metadata document (RFC 9728) under `/.well-known/oauth-protected-resource/<path>`, sessions and
sealed request state bound to the token's principal, and the token in a context variable for the
tools (`identity.current_caller`). The token itself is never sent anywhere: provider requests carry
the server's own provider credentials.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings

from telco_mcp.settings import Settings, split_list

logger = logging.getLogger(__name__)

# Asymmetric only: an HMAC "key" would be the issuer's public key, and `none` is no signature at all.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 30
JWKS_CACHE_SECONDS = 300


def claim_values(claims: dict[str, Any], path: str) -> list[str]:
    """The strings at `path` (dotted, e.g. `realm_access.roles`): a space-separated string or a list."""
    node: Any = claims
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, str):
        return node.split()
    if isinstance(node, list):
        return [v for v in node if isinstance(v, str)]
    return []


class JwtVerifier(TokenVerifier):
    """Validates JWT access tokens for this resource (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        resource: str | None = None,
        refuse: tuple[str, ...] = (),
        jwks: jwt.PyJWKClient | None = None,
    ) -> None:
        assert settings.telco_mcp_oauth_issuer and settings.telco_mcp_oauth_resource
        assert settings.telco_mcp_oauth_jwks_url
        self.settings = settings
        self.issuer = settings.telco_mcp_oauth_issuer
        self.resource = resource or settings.telco_mcp_oauth_resource
        # audiences a token must not name even beside this resource's (the approval API refuses the MCP one)
        self.refused = {r.rstrip("/") for r in refuse}
        self.scope_claim = settings.telco_mcp_oauth_scope_claim
        self._jwks = jwks or jwt.PyJWKClient(
            settings.telco_mcp_oauth_jwks_url,
            cache_jwk_set=True,
            lifespan=JWKS_CACHE_SECONDS,
            timeout=10,
            cooldown_duration=settings.telco_mcp_oauth_jwks_min_refresh,
        )

    def for_resource(self, resource: str, *, refuse: tuple[str, ...] = ()) -> JwtVerifier:
        """The same checks for another resource of this server (the approval API), sharing the issuer's keys;
        a token that also names one of `refuse` as its audience is refused."""
        return JwtVerifier(self.settings, resource=resource, refuse=refuse, jwks=self._jwks)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            # PyJWKClient fetches with urllib: off the event loop.
            return await anyio.to_thread.run_sync(self._verify, token)
        except jwt.PyJWTError as exc:
            logger.info("access token refused: %s", _reason(exc))  # never the token itself
            return None

    async def signing_key_ids(self) -> list[str]:
        """The key ids the issuer publishes now (fetched afresh); raises `jwt.PyJWTError` when it cannot."""
        keys = await anyio.to_thread.run_sync(lambda: self._jwks.get_signing_keys(refresh=True))
        return [str(key.key_id) for key in keys]

    def _verify(self, token: str) -> AccessToken:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"algorithm {header.get('alg')!r} is not accepted")
        key = self._jwks.get_signing_key(header.get("kid") or "")
        audiences = list(dict.fromkeys([self.resource, self.resource.rstrip("/")]))
        claims = jwt.decode(
            token,
            key,
            algorithms=list(ALGORITHMS),
            audience=audiences,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"], "verify_nbf": True},
        )
        named = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if self.refused & {str(a).rstrip("/") for a in named}:
            raise jwt.InvalidAudienceError("the token is also for a resource this one refuses")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise jwt.InvalidTokenError("sub is empty")
        client = claims.get("client_id") or claims.get("azp") or subject
        return AccessToken(
            token=token,
            client_id=str(client),
            scopes=claim_values(claims, self.scope_claim),
            # The SDK refuses a token once `expires_at` has passed: with the leeway, as `exp` was checked above.
            expires_at=int(claims["exp"]) + LEEWAY_SECONDS,
            resource=self.resource,  # checked above: `aud` names this resource
            subject=subject,
            claims=claims,
        )


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def auth_settings(settings: Settings) -> AuthSettings:
    """The SDK's resource-server settings: PRM document, 401/403 answers, required scopes."""
    required = split_list(settings.telco_mcp_oauth_required_scopes)
    # Validated from strings, so the URLs keep their exact spelling (no added trailing slash): clients
    # compare the PRM's authorization server with the issuer's own metadata character by character.
    return AuthSettings.model_validate(
        {
            "issuer_url": settings.telco_mcp_oauth_issuer,
            "resource_server_url": settings.telco_mcp_oauth_resource,
            "required_scopes": required or None,
            "validate_token_resource": True,
        }
    )
