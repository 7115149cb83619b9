"""Tokens from a hospital's OpenID Connect provider: verified against its JWKS.

The key set is fetched from the configured URL, cached, and fetched again when a token names
a key id we do not know (the provider rotated), at most once a minute. Only RS256 and ES256
are accepted; issuer, audience, expiry and not-before are checked.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from inescape.infra.tokens import InvalidToken
from inescape.kernel.errors import Unavailable

ALGORITHMS = ["RS256", "ES256"]
REFETCH_AFTER_S = 60.0


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload without checking it: only to route a token to the right verifier."""
    try:
        body = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class OidcVerifier:
    def __init__(
        self, *, issuer: str, jwks_url: str, audience: str | None, client: httpx.AsyncClient | None = None
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self._client = client or httpx.AsyncClient(timeout=5.0)
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": issuer},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        if audience:
            options["aud"] = {"essential": True, "value": audience}
        self._claims = jwt.JWTClaimsRegistry(leeway=30, **options)

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > REFETCH_AFTER_S
            if self._keys is None or (refresh and stale):
                try:
                    response = await self._client.get(self.jwks_url)
                    response.raise_for_status()
                    self._keys = KeySet.import_key_set(response.json())
                except (httpx.HTTPError, ValueError, JoseError) as exc:
                    if self._keys is None:
                        raise Unavailable(
                            "The hospital identity provider's keys cannot be fetched; try again shortly.",
                            backend="oidc",
                        ) from exc
                self._fetched_at = time.monotonic()
            return self._keys

    async def verify(self, token: str) -> dict[str, Any]:
        for refresh in (False, True):
            keys = await self._key_set(refresh=refresh)
            try:
                decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
                self._claims.validate(decoded.claims)
            except InvalidKeyIdError:
                continue  # the provider may have rotated: fetch its keys again, once
            except (JoseError, ValueError, TypeError) as exc:
                reason = str(getattr(exc, "error", type(exc).__name__)).replace("_", " ")
                raise InvalidToken(f"The identity provider's token is invalid ({reason}).") from None
            return dict(decoded.claims)
        raise InvalidToken("The identity provider's token is signed with an unknown key.")

    async def close(self) -> None:
        await self._client.aclose()


def map_roles(
    claims: Mapping[str, Any], claim_path: str, role_map: Sequence[str], known: Sequence[str]
) -> list[str]:
    """Our roles from the provider's claim (``realm_access.roles`` style paths; a list or a
    space-separated string), through ``role_map`` entries ``"TheirRole=our_role"``; a value
    that is already one of our roles maps to itself."""
    value: Any = claims
    for part in claim_path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    theirs = value.split() if isinstance(value, str) else list(value or [])
    mapping = dict(entry.split("=", 1) for entry in role_map if "=" in entry)
    ours = {mapping.get(str(r), str(r)) for r in theirs}
    return sorted(r for r in ours if r in known)
