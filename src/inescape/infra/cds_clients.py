"""Tokens that CDS Hooks clients (EHRs) sign themselves, verified as CDS Hooks 2.0 says
(https://cds-hooks.hl7.org/2.0/#trusting-cds-clients).

Each trusted client is configured with its issuer and its keys: an inline JWK set, a JWKS URL,
and the hosts whose ``jku`` (a JWKS URL in the token's header) it may name. The header's
``alg`` must be on the allow-list (never ``none``, never a shared-secret HMAC) and name a
``kid``; the claims must carry the client as ``iss``, this service's URL as ``aud``, an ``exp``
at most five minutes ahead, ``iat`` and a ``jti`` that is never accepted twice (a cache key
that lives until the token expires). Fetched key sets are cached and fetched again, once,
when a token names a key id they lack.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from inescape.infra.tokens import InvalidToken
from inescape.kernel.errors import ConfigurationError, Unavailable
from inescape.kernel.ports import Cache

ALGORITHMS = ("RS384", "ES384", "RS256", "ES256")
MAX_LIFETIME_S = 300  # the specification: exp no more than five minutes in the future
LEEWAY_S = 30  # clock skew between the EHR and this server
KEYS_TTL_S = 3600.0  # a fetched key set is used this long before it is fetched again
REFETCH_AFTER_S = 60.0  # an unknown kid fetches the set again at most this often
SERVICES_PATH = "/cds-services"


class TrustedCdsClient(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One EHR allowed to call the CDS Hooks services with tokens it signs."""

    issuer: str
    jwks_url: str | None = None  # https URL of the client's JWK set
    jwks: dict[str, Any] | None = None  # or its public keys inline: {"keys": [...]}
    jku_hosts: list[str] = []  # hosts a token's jku header may point at (https only)


def parse_clients(raw: str | bytes, *, setting: str) -> list[TrustedCdsClient]:
    """A JSON array of clients; a malformed one stops start-up naming ``setting``."""
    try:
        clients = msgspec.json.decode(raw, type=list[TrustedCdsClient])
    except msgspec.DecodeError as exc:
        raise ConfigurationError(setting, f"expected a JSON array of CDS clients ({exc})") from None
    for client in clients:
        if not (client.jwks_url or client.jwks or client.jku_hosts):
            raise ConfigurationError(setting, f"{client.issuer!r} needs jwks_url, jwks or jku_hosts")
        if client.jwks_url and urlsplit(client.jwks_url).scheme != "https":
            raise ConfigurationError(setting, f"{client.issuer!r}: jwks_url must be an https URL")
        if client.jwks is not None:
            try:
                KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise ConfigurationError(
                    setting, f"{client.issuer!r}: jwks is not a JWK set ({exc})"
                ) from None
    issuers = [c.issuer for c in clients]
    if len(set(issuers)) != len(issuers):
        raise ConfigurationError(setting, "an issuer is configured twice")
    return clients


def is_cds_path(path: str) -> bool:
    return path == SERVICES_PATH or path.startswith(SERVICES_PATH + "/")


def _segment(token: str, index: int) -> dict[str, Any]:
    try:
        part = token.split(".")[index]
        data = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class CdsClientVerifier:
    """Verifies the tokens of the configured clients; ``cache`` remembers the ``jti`` seen."""

    def __init__(
        self,
        clients: Sequence[TrustedCdsClient],
        *,
        cache: Cache,
        public_url: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.clients = {c.issuer: c for c in clients}
        self.public_url = public_url.rstrip("/") if public_url else None
        self._cache = cache
        self._http = client or httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        self._fetched: dict[str, tuple[KeySet, float]] = {}
        self._lock = asyncio.Lock()

    def knows(self, issuer: Any) -> bool:
        return isinstance(issuer, str) and issuer in self.clients

    async def verify(self, token: str, *, url: str) -> dict[str, Any]:
        """The claims of a token from a configured client, called at ``url`` (the request's
        URL); ``InvalidToken`` naming what is wrong otherwise."""
        header = _segment(token, 0)
        client = self.clients[str(_segment(token, 1).get("iss"))]
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise InvalidToken(
                f"The CDS client's token is signed with algorithm {alg!r}, which is not allowed "
                f"(use one of {', '.join(ALGORITHMS)})."
            )
        if not isinstance(header.get("kid"), str):
            raise InvalidToken("The CDS client's token names no key id (kid) in its header.")
        claims = await self._decode(token, client, header)
        self._check_claims(claims, client, url)
        await self._spend(client.issuer, claims)
        return claims

    async def _decode(self, token: str, client: TrustedCdsClient, header: dict[str, Any]) -> dict[str, Any]:
        source = self._key_source(client, header.get("jku"))
        for refresh in (False, True):
            keys = await self._keys(client, source, refresh=refresh)
            try:
                return dict(jwt.decode(token, keys, algorithms=list(ALGORITHMS)).claims)
            except InvalidKeyIdError:
                if source is None:
                    break  # inline keys: nothing to fetch again
            except (JoseError, ValueError, TypeError) as exc:
                reason = str(getattr(exc, "error", type(exc).__name__)).replace("_", " ")
                raise InvalidToken(f"The CDS client's token does not verify ({reason}).") from None
        raise InvalidToken(
            f"The CDS client's token is signed with an unknown key (kid {header.get('kid')!r})."
        )

    def _key_source(self, client: TrustedCdsClient, jku: Any) -> str | None:
        """The URL to take the keys from: the token's ``jku`` when the client trusts its host,
        else the client's JWKS URL; None for its inline keys."""
        if jku is None:
            return client.jwks_url if client.jwks is None else None
        parts = urlsplit(str(jku))
        if parts.scheme != "https" or (parts.hostname or "").lower() not in {
            h.lower() for h in client.jku_hosts
        }:
            raise InvalidToken(
                f"The CDS client's token names an untrusted jku ({jku}): only https URLs on "
                f"the hosts configured for {client.issuer} are followed."
            )
        return str(jku)

    async def _keys(self, client: TrustedCdsClient, source: str | None, *, refresh: bool) -> KeySet:
        if source is None:
            return KeySet.import_key_set(client.jwks or {"keys": []})  # type: ignore[arg-type]
        async with self._lock:
            held = self._fetched.get(source)
            age = time.monotonic() - held[1] if held else None
            if held is None or age is None or age > KEYS_TTL_S or (refresh and age > REFETCH_AFTER_S):
                keys = await self._fetch(source, stale=held[0] if held else None)
                held = self._fetched[source] = (keys, time.monotonic())
            return held[0]

    async def _fetch(self, url: str, *, stale: KeySet | None) -> KeySet:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            return KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, TypeError, KeyError, JoseError) as exc:
            if stale is not None:
                return stale
            raise Unavailable(
                f"The CDS client's keys cannot be fetched from {url}; try again shortly.",
                backend="cds-client",
            ) from exc

    def _check_claims(self, claims: dict[str, Any], client: TrustedCdsClient, url: str) -> None:
        now = time.time()
        if claims.get("iss") != client.issuer:
            raise InvalidToken("The CDS client's token changed its issuer (iss).")
        for name in ("exp", "iat"):
            if not isinstance(claims.get(name), int | float):
                raise InvalidToken(f"The CDS client's token has no {name} (required).")
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise InvalidToken("The CDS client's token has no jti (required, to refuse a replay).")
        if claims["exp"] < now - LEEWAY_S:
            raise InvalidToken("The CDS client's token has expired (exp).")
        if claims["exp"] > now + MAX_LIFETIME_S + LEEWAY_S:
            raise InvalidToken("The CDS client's token expires too far ahead (exp more than 5 minutes away).")
        if claims["iat"] > now + LEEWAY_S or claims.get("nbf", 0) > now + LEEWAY_S:
            raise InvalidToken("The CDS client's token is not valid yet (iat or nbf in the future).")
        audience = claims.get("aud")
        given = audience if isinstance(audience, list) else [audience]
        expected = self.audiences(url)
        if not any(isinstance(a, str) and a.rstrip("/") in expected for a in given):
            raise InvalidToken(
                f"The CDS client's token is for another audience (aud {audience!r}); "
                f"expected this service's URL, {sorted(expected)[0]}."
            )

    def audiences(self, url: str) -> set[str]:
        """The URLs a token called at ``url`` may name as ``aud``: the service endpoint (the
        feedback route's too), as called and under the configured public URL."""
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        paths = {path, path.removesuffix("/feedback")}
        bases = {f"{parts.scheme}://{parts.netloc}"} | ({self.public_url} if self.public_url else set())
        return {base + p for base in bases for p in paths}

    async def _spend(self, issuer: str, claims: dict[str, Any]) -> None:
        ttl = max(claims["exp"] - time.time() + LEEWAY_S, 1.0)
        if await self._cache.incr(f"inescape:auth:cds-jti:{issuer}:{claims['jti']}", ttl=ttl) > 1:
            raise InvalidToken("The CDS client's token was already used (replayed jti).")

    async def close(self) -> None:
        await self._http.aclose()
