"""User accounts: create, list, change, check a password. Each call opens its own session
(or unit of work, for writes); nothing here knows about HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock, as_utc
from inescape.kernel.ids import is_id, new_id
from inescape.modules.auth.api import (
    BadCredentials,
    Principal,
    User,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
)
from inescape.modules.auth.models import users
from inescape.modules.auth.passwords import hash_password, needs_rehash, verify_password, weakness


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


async def _read(session: AsyncSession, user_id: str) -> User:
    row = (
        (await session.execute(select(users).where(users.c.id == user_id))).first()
        if is_id(user_id)
        else None
    )
    if row is None:
        raise UserNotFound(f"no user {user_id!r}")
    return user_view(row)


class Accounts:
    """The ``auth_users`` table's use cases. ``sessions`` opens a read session, ``transaction``
    a unit of work (committed on exit)."""

    def __init__(
        self,
        *,
        clock: Clock,
        sessions: Callable[[], AsyncSession],
        transaction: Callable[[], UnitOfWork],
    ) -> None:
        self.clock = clock
        self._sessions = sessions
        self._transaction = transaction

    async def create(self, *, username: str, display_name: str, roles: list[str], password: str) -> User:
        problem = weakness(password, username)
        if problem:
            raise WeakPassword(
                f"Choose another password: {problem}.", errors=[{"field": "password", "message": problem}]
            )
        async with self._transaction() as uow:
            session = uow.session
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
            return await _read(session, user_id)

    async def any_user(self) -> bool:
        async with self._sessions() as session:
            return await session.scalar(select(users.c.id).limit(1)) is not None

    async def get(self, *, user_id: str) -> User:
        async with self._sessions() as session:
            return await _read(session, user_id)

    async def page(self, *, limit: int, cursor: str | None) -> tuple[list[User], str | None]:
        query = select(users).order_by(users.c.username).limit(limit + 1)
        if cursor:
            query = query.where(users.c.username > cursor)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        items = [user_view(r) for r in rows[:limit]]
        return items, (items[-1].username if len(rows) > limit else None)

    async def update(
        self,
        *,
        user_id: str,
        roles: list[str] | None,
        display_name: str | None,
        active: bool | None,
    ) -> tuple[User, User]:
        """Returns (before, after)."""
        values: dict[str, Any] = {"updated_at": self.clock.now()}
        if roles is not None:
            values["roles"] = sorted(set(roles))
        if display_name is not None:
            values["display_name"] = display_name
        if active is not None:
            values["active"] = active
        async with self._transaction() as uow:
            before = await _read(uow.session, user_id)
            await uow.session.execute(update(users).where(users.c.id == user_id).values(**values))
            return before, await _read(uow.session, user_id)

    async def check_password(self, *, username: str, password: str) -> Principal:
        """The user, if ``password`` is theirs and the account is active."""
        async with self._transaction() as uow:
            session = uow.session
            row = (await session.execute(select(users).where(users.c.username == username))).first()
            if not verify_password(row.password_hash if row else None, password) or row is None:
                if row is not None:  # rolled back with the refusal, as it always was (see README)
                    await session.execute(
                        update(users)
                        .where(users.c.id == row.id)
                        .values(failed_logins=users.c.failed_logins + 1)
                    )
                raise BadCredentials("Wrong username or password.")
            if not row.active:
                raise BadCredentials("This account is deactivated; ask an administrator.")
            values: dict[str, Any] = {"failed_logins": 0, "last_login_at": self.clock.now()}
            if needs_rehash(row.password_hash):
                values["password_hash"] = hash_password(password)
            await session.execute(update(users).where(users.c.id == row.id).values(**values))
        return Principal(id=row.id, username=row.username, roles=list(row.roles))

    async def current(self, *, user_id: str) -> Principal:
        """The user as they are now (roles may have changed since the token was issued)."""
        async with self._sessions() as session:
            row = (await session.execute(select(users).where(users.c.id == user_id))).first()
        if row is None or not row.active:
            raise BadCredentials("This account no longer exists or is deactivated.")
        return Principal(id=row.id, username=row.username, roles=list(row.roles))
