"""Use cases of the gateway: accounts, login, token refresh with rotation, logout."""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.tokens import InvalidToken, TokenSigner
from inescape.kernel.clock import Clock, as_utc
from inescape.kernel.errors import Unavailable
from inescape.kernel.ids import is_id, new_id
from inescape.kernel.ports import Cache
from inescape.modules.auth.api import BadCredentials, Principal, UsernameTaken, UserNotFound, WeakPassword
from inescape.modules.auth.models import users
from inescape.modules.auth.passwords import hash_password, needs_rehash, verify_password, weakness
from inescape.modules.auth.schemas import TokenPair, User

log = logging.getLogger("inescape.auth")


def user_view(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        roles=list(row.roles),
        active=row.active,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        last_login_at=as_utc(row.last_login_at),
    )


class Accounts:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def create(
        self, session: AsyncSession, *, username: str, display_name: str, roles: list[str], password: str
    ) -> User:
        problem = weakness(password, username)
        if problem:
            raise WeakPassword(
                f"Choose another password: {problem}.", errors=[{"field": "password", "message": problem}]
            )
        if await session.scalar(select(users.c.id).where(users.c.username == username)):
            raise UsernameTaken(f"the username {username!r} is taken")
        now = self.clock.now()
        user_id = new_id()
        await session.execute(
            insert(users).values(
                id=user_id,
                username=username,
                display_name=display_name,
                roles=sorted(set(roles)),
                active=True,
                password_hash=hash_password(password),
                failed_logins=0,
                created_at=now,
                updated_at=now,
            )
        )
        return await self.get(session, user_id)

    async def any_user(self, session: AsyncSession) -> bool:
        return await session.scalar(select(users.c.id).limit(1)) is not None

    async def get(self, session: AsyncSession, user_id: str) -> User:
        row = (
            (await session.execute(select(users).where(users.c.id == user_id))).first()
            if is_id(user_id)
            else None
        )
        if row is None:
            raise UserNotFound(f"no user {user_id!r}")
        return user_view(row)

    async def page(
        self, session: AsyncSession, *, limit: int, cursor: str | None
    ) -> tuple[list[User], str | None]:
        query = select(users).order_by(users.c.username).limit(limit + 1)
        if cursor:
            query = query.where(users.c.username > cursor)
        rows = (await session.execute(query)).all()
        items = [user_view(r) for r in rows[:limit]]
        return items, (items[-1].username if len(rows) > limit else None)

    async def update(
        self,
        session: AsyncSession,
        user_id: str,
        *,
        roles: list[str] | None,
        display_name: str | None,
        active: bool | None,
    ) -> tuple[User, User]:
        """Returns (before, after)."""
        before = await self.get(session, user_id)
        values: dict[str, Any] = {"updated_at": self.clock.now()}
        if roles is not None:
            values["roles"] = sorted(set(roles))
        if display_name is not None:
            values["display_name"] = display_name
        if active is not None:
            values["active"] = active
        await session.execute(update(users).where(users.c.id == user_id).values(**values))
        return before, await self.get(session, user_id)

    async def check_password(self, session: AsyncSession, username: str, password: str) -> Principal:
        row = (await session.execute(select(users).where(users.c.username == username))).first()
        if not verify_password(row.password_hash if row else None, password) or row is None:
            if row is not None:
                await session.execute(
                    update(users).where(users.c.id == row.id).values(failed_logins=users.c.failed_logins + 1)
                )
            raise BadCredentials("Wrong username or password.")
        if not row.active:
            raise BadCredentials("This account is deactivated; ask an administrator.")
        values: dict[str, Any] = {"failed_logins": 0, "last_login_at": self.clock.now()}
        if needs_rehash(row.password_hash):
            values["password_hash"] = hash_password(password)
        await session.execute(update(users).where(users.c.id == row.id).values(**values))
        return Principal(id=row.id, username=row.username, roles=list(row.roles))

    async def current(self, session: AsyncSession, user_id: str) -> Principal:
        """The user as they are now (roles may have changed since the token was issued)."""
        row = (await session.execute(select(users).where(users.c.id == user_id))).first()
        if row is None or not row.active:
            raise BadCredentials("This account no longer exists or is deactivated.")
        return Principal(id=row.id, username=row.username, roles=list(row.roles))


class _Refresh(msgspec.Struct, frozen=True):
    family: str
    user_id: str


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
            claims={"roles": principal.roles, "name": principal.username, "sid": family, "typ": "access"},
        )
        refresh = f"{family}.{secrets.token_urlsafe(32)}"
        await self.cache.set(
            f"{self.PREFIX}:refresh:{_digest(refresh)}",
            msgspec.json.encode(_Refresh(family, principal.id)),
            ttl=self.refresh_ttl_s,
        )
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=self.access_ttl_s)

    async def rotate(self, refresh_token: str) -> tuple[str, str]:
        """Spend ``refresh_token``; return (user id, family) for the new pair."""
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
        return record.user_id, record.family

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
        return Principal(
            id=str(claims["sub"]),
            username=str(claims.get("name", "")),
            roles=[str(r) for r in claims["roles"]],
            session=family or None,
        )
