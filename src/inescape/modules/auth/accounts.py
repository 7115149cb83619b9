"""User accounts: create, list, change, check a password, and the roles and state a request
runs with. Each call opens its own session (or unit of work, for writes); nothing here knows
about HTTP."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock, as_utc
from inescape.kernel.errors import Conflict, Invalid, Unavailable
from inescape.kernel.ids import is_id, new_id
from inescape.kernel.ports import Cache
from inescape.modules.auth.api import (
    BadCredentials,
    Principal,
    User,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
    WrongCurrentPassword,
)
from inescape.modules.auth.models import users
from inescape.modules.auth.passwords import Passwords, passwords, weakness

log = logging.getLogger("inescape.auth")

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")  # whole string (fullmatch): no trailing newline
STATE_TTL_S = 2.0  # how long a request may run on roles read before a change in another process
STATE_PREFIX = "inescape:auth:user-state"


class LastAdministrator(Conflict):
    """The change would leave no active administrator."""


class _State(msgspec.Struct, frozen=True):
    username: str
    roles: list[str]
    active: bool
    must_change_password: bool = False
    credentials_version: int = 0


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
        must_change_password=bool(row.must_change_password),
    )


def _principal(row: Any) -> Principal:
    return Principal(
        id=row.id,
        username=row.username,
        roles=list(row.roles),
        must_change_password=bool(row.must_change_password),
        credentials_version=int(row.credentials_version),
    )


def _refuse_weak(password: str, username: str, *, field: str) -> None:
    problem = weakness(password, username)
    if problem:
        raise WeakPassword(
            f"Choose another password: {problem}.", errors=[{"field": field, "message": problem}]
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
        cache: Cache | None = None,
        hashing: Passwords | None = None,
    ) -> None:
        self.clock = clock
        self._sessions = sessions
        self._transaction = transaction
        self._cache = cache
        self._passwords = hashing or passwords()

    async def create(
        self,
        *,
        username: str,
        display_name: str,
        roles: list[str],
        password: str,
        one_time: bool = False,
    ) -> User:
        """``one_time``: the password must be changed at the first login (it was printed or
        handed over, so someone else may know it)."""
        if not USERNAME.fullmatch(username):
            raise Invalid(
                "A username is 3 to 64 of a-z 0-9 . _ - and starts with a letter or digit.",
                errors=[{"field": "username", "message": "not a valid username"}],
            )
        _refuse_weak(password, username, field="password")
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
                    password_hash=self._passwords.hash(password),
                    failed_logins=0,
                    must_change_password=one_time,
                    credentials_version=0,
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
            if roles is not None or active is not None:
                # one role or state change at a time (PostgreSQL locks the active accounts, in
                # id order; SQLite writes one at a time anyway): two administrators cannot
                # demote each other at once and leave none
                await uow.session.execute(
                    select(users.c.id).where(users.c.active.is_(True)).order_by(users.c.id).with_for_update()
                )
            before = await _read(uow.session, user_id)
            await uow.session.execute(update(users).where(users.c.id == user_id).values(**values))
            after = await _read(uow.session, user_id)
            if _is_admin(before) and not _is_admin(after):
                await _keep_an_administrator(uow.session, user_id)
            uow.after_commit(lambda: self.forget(user_id))
            return before, after

    async def forget(self, user_id: str) -> None:
        """Drop the cached state of ``user_id`` (after a change): the next request reads it
        anew, in this process and, with a shared cache, in every other."""
        if self._cache is None:
            return
        try:
            await self._cache.delete(f"{STATE_PREFIX}:{user_id}")
        except Unavailable:  # the entry lapses by itself within STATE_TTL_S
            log.warning("cache unreachable; a changed user's old roles last %ss", STATE_TTL_S)

    async def now(self, principal: Principal) -> Principal:
        """``principal`` (from a token) with the roles its account has now; ``BadCredentials``
        when the account was deactivated or deleted. Read at most ``STATE_TTL_S`` seconds
        ago, and never before the last change this process or (shared cache) any other made."""
        state = await self._state(principal.id)
        if state is None or not state.active:
            raise BadCredentials("This account no longer exists or is deactivated; ask an administrator.")
        if principal.credentials_version != state.credentials_version:
            raise BadCredentials("This session ended when the account's password was changed; log in again.")
        return msgspec.structs.replace(
            principal,
            username=state.username,
            roles=list(state.roles),
            must_change_password=state.must_change_password,
        )

    async def _state(self, user_id: str) -> _State | None:
        key = f"{STATE_PREFIX}:{user_id}"
        if self._cache is not None:
            try:
                raw = await self._cache.get(key)
            except Unavailable:
                raw = None  # the cache is an optimisation here: read the table
            if raw is not None:
                return None if raw == b"-" else msgspec.json.decode(raw, type=_State)
        try:
            async with self._sessions() as session:
                row = (
                    (await session.execute(select(users).where(users.c.id == user_id))).first()
                    if is_id(user_id)
                    else None
                )
        except (SQLAlchemyError, OSError) as exc:
            raise Unavailable(
                "The user accounts (database) are unreachable; try again shortly.",
                backend="database",
                retry_after=5,
            ) from exc
        state = (
            None
            if row is None
            else _State(
                row.username,
                list(row.roles),
                bool(row.active),
                bool(row.must_change_password),
                int(row.credentials_version),
            )
        )
        if self._cache is not None:
            with contextlib.suppress(Unavailable):
                encoded = b"-" if state is None else msgspec.json.encode(state)
                await self._cache.set(key, encoded, ttl=STATE_TTL_S)
        return state

    async def check_password(self, *, username: str, password: str) -> Principal:
        """The user, if ``password`` is theirs and the account is active."""
        async with self._transaction() as uow:
            session = uow.session
            row = (await session.execute(select(users).where(users.c.username == username))).first()
            if not self._passwords.verify(row.password_hash if row else None, password) or row is None:
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
            if self._passwords.needs_rehash(row.password_hash):
                values["password_hash"] = self._passwords.hash(password)
            await session.execute(update(users).where(users.c.id == row.id).values(**values))
        return _principal(row)

    async def current(self, *, user_id: str) -> Principal:
        """The user as they are now (roles may have changed since the token was issued)."""
        async with self._sessions() as session:
            row = (await session.execute(select(users).where(users.c.id == user_id))).first()
        if row is None or not row.active:
            raise BadCredentials("This account no longer exists or is deactivated.")
        return _principal(row)

    async def change_password(self, *, user_id: str, current: str, new: str) -> Principal:
        """Replace the password of ``user_id`` when ``current`` is right; the account is no
        longer one-time and its credentials version goes up, so every token issued before
        (any session, this one included) stops working. Returns the account as it is now."""
        async with self._transaction() as uow:
            session = uow.session
            row = (
                (await session.execute(select(users).where(users.c.id == user_id))).first()
                if is_id(user_id)
                else None
            )
            if row is None or not row.active:
                raise BadCredentials("This account no longer exists or is deactivated.")
            _refuse_weak(new, row.username, field="new_password")
            if not self._passwords.verify(row.password_hash, current):
                raise WrongCurrentPassword("The current password is wrong; the password was not changed.")
            if self._passwords.verify(row.password_hash, new):
                raise WeakPassword(
                    "Choose another password: the new password is the current one.",
                    errors=[{"field": "new_password", "message": "the new password is the current one"}],
                )
            await session.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(
                    password_hash=self._passwords.hash(new),
                    must_change_password=False,
                    credentials_version=users.c.credentials_version + 1,
                    failed_logins=0,
                    updated_at=self.clock.now(),
                )
            )
            uow.after_commit(lambda: self.forget(user_id))
            changed = (await session.execute(select(users).where(users.c.id == user_id))).first()
            return _principal(changed)


def _is_admin(user: User) -> bool:
    return user.active and "admin" in user.roles


async def _keep_an_administrator(session: AsyncSession, user_id: str) -> None:
    """Refuse the change that leaves no active administrator (nobody could manage users)."""
    others = (
        await session.execute(
            select(users.c.id, users.c.roles).where(users.c.active.is_(True), users.c.id != user_id)
        )
    ).all()
    if not any("admin" in row.roles for row in others):
        raise LastAdministrator(
            "This is the last active administrator: it cannot lose the admin role or be "
            "deactivated. Make another user an administrator first."
        )
