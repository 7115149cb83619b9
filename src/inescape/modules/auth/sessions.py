"""Token sessions: access tokens, refresh tokens that rotate on every use, revocation."""

from __future__ import annotations

import hashlib
import logging
import secrets

import msgspec

from inescape.infra.tokens import InvalidToken, TokenSigner
from inescape.kernel.errors import Unavailable
from inescape.kernel.ids import new_id
from inescape.kernel.ports import Cache
from inescape.modules.auth.api import Principal
from inescape.modules.auth.schemas import TokenPair

log = logging.getLogger("inescape.auth")


class _Refresh(msgspec.Struct, frozen=True):
    family: str
    user_id: str
    credentials_version: int = 0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Refresh tokens rotate on every use; presenting a spent one revokes its whole family
    (a stolen token's thief and the victim are both logged out). Access tokens carry the
    family as ``sid``, so logout and revocation end them too."""

    PREFIX = "inescape:auth"

    def __init__(self, signer: TokenSigner, cache: Cache, *, access_ttl_s: int, refresh_ttl_s: int) -> None:
        self.signer = signer
        self.cache = cache
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    async def issue(self, principal: Principal, *, family: str | None = None) -> TokenPair:
        family = family or new_id()
        access, _exp = self.signer.issue(
            subject=principal.id,
            ttl_s=self.access_ttl_s,
            claims={
                "roles": principal.roles,
                "name": principal.username,
                "sid": family,
                "typ": "access",
                "cv": principal.credentials_version,
            },
        )
        refresh = f"{family}.{secrets.token_urlsafe(32)}"
        await self.cache.set(
            f"{self.PREFIX}:refresh:{_digest(refresh)}",
            msgspec.json.encode(_Refresh(family, principal.id, principal.credentials_version)),
            ttl=self.refresh_ttl_s,
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self.access_ttl_s,
            password_change_required=principal.must_change_password,
        )

    async def rotate(self, refresh_token: str) -> tuple[str, str, int]:
        """Spend ``refresh_token``; return (user id, family, the credentials version it was
        issued under) for the new pair."""
        key = f"{self.PREFIX}:refresh:{_digest(refresh_token)}"
        raw = await self.cache.get(key)
        if raw is None:
            raise InvalidToken("The refresh token is unknown or expired; log in again.")
        record = msgspec.json.decode(raw, type=_Refresh)
        if await self.revoked(record.family):
            raise InvalidToken("This session was ended; log in again.")
        uses = await self.cache.incr(f"{key}:uses", ttl=self.refresh_ttl_s)
        if uses > 1:  # replayed: someone else holds a copy
            await self.revoke(record.family)
            raise InvalidToken(
                "This refresh token was used already; the session is ended for safety. Log in again."
            )
        return record.user_id, record.family, record.credentials_version

    async def revoke(self, family: str) -> None:
        await self.cache.set(f"{self.PREFIX}:revoked:{family}", b"1", ttl=self.refresh_ttl_s)

    async def revoked(self, family: str) -> bool:
        return await self.cache.get(f"{self.PREFIX}:revoked:{family}") is not None

    async def _revoked_or_unknown(self, family: str) -> bool:
        """While the session store is down, a signed, unexpired access token (15 minutes at
        most) is accepted without the revocation check, so a Redis outage does not take the
        whole API down; refresh and login still need the store and fail with 503."""
        try:
            return await self.revoked(family)
        except Unavailable:
            log.warning("session store unreachable; revocation not checked", extra={"sid": family})
            return False

    async def authenticate(self, token: str) -> Principal:
        claims = self.signer.verify(token)
        if claims.get("typ") != "access" or not isinstance(claims.get("roles"), list):
            raise InvalidToken("This is not an access token.")
        family = str(claims.get("sid", ""))
        if family and await self._revoked_or_unknown(family):
            raise InvalidToken("This session was ended; log in again.")
        version = claims.get("cv", 0)
        return Principal(
            id=str(claims["sub"]),
            username=str(claims.get("name", "")),
            roles=[str(r) for r in claims["roles"]],
            session=family or None,
            credentials_version=version if isinstance(version, int) else -1,
        )
