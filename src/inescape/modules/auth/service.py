"""Use cases of signing in: log in (throttled), refresh with rotation, log out, each writing
its audit event, success or failure; and a signed-in user's change of their own password
(throttled like a login; audited by its route's declaration)."""

from __future__ import annotations

from typing import Any

from inescape.infra.ratelimit import TooManyAttempts
from inescape.infra.telemetry import request_id_var
from inescape.kernel.errors import Unauthorized
from inescape.modules.auth.accounts import Accounts
from inescape.modules.auth.api import BadCredentials, NotAllowed, Principal, WrongCurrentPassword
from inescape.modules.auth.audit import AuditTrail
from inescape.modules.auth.schemas import PasswordChanged, TokenPair
from inescape.modules.auth.sessions import Sessions
from inescape.modules.auth.throttle import LoginThrottle


class SignIn:
    def __init__(
        self, *, accounts: Accounts, sessions: Sessions, trail: AuditTrail, throttle: LoginThrottle | None
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._trail = trail
        self._throttle = throttle

    async def login(self, *, username: str, password: str, client_ip: str | None) -> TokenPair:
        """Tokens for a right password; the throttle is asked first, so refusals stay cheap
        (no argon2), and learns of every wrong password."""
        ip = client_ip or "unknown"
        throttle = self._throttle
        try:
            if throttle:
                await throttle.check(username, ip)
            principal = await self._accounts.check_password(username=username, password=password)
        except (Unauthorized, TooManyAttempts) as exc:
            if throttle and isinstance(exc, Unauthorized):
                await throttle.record_failure(username, ip)
            await self._audit("auth.login", "failure", client_ip, username=username, detail=exc.detail)
            raise
        if throttle:
            await throttle.record_success(username, ip)
        pair = await self._sessions.issue(principal)
        await self._audit("auth.login", "success", client_ip, who=principal)
        return pair

    async def refresh(self, *, refresh_token: str, client_ip: str | None) -> TokenPair:
        """New tokens for a refresh token, which is spent; the user's roles as they are now."""
        try:
            user_id, family, version = await self._sessions.rotate(refresh_token)
            principal = await self._accounts.current(user_id=user_id)
            if principal.credentials_version != version:
                raise BadCredentials(
                    "This session ended when the account's password was changed; log in again."
                )
        except Unauthorized as exc:
            await self._audit("auth.refresh", "failure", client_ip, detail=exc.detail)
            raise
        await self._audit("auth.refresh", "success", client_ip, who=principal)
        return await self._sessions.issue(principal, family=family)

    async def change_password(
        self, *, principal: Principal, current: str, new: str, client_ip: str | None
    ) -> PasswordChanged:
        """Replace the caller's own password. A wrong ``current`` counts toward the login
        throttle of the account and address (a stolen access token must not let anyone guess
        the password), and the throttle is asked first. Every session of the account ends;
        the caller's continues under new tokens, which the answer carries."""
        if principal.source != "local":
            raise NotAllowed(
                "This account's password is kept by the hospital's identity provider; change it there."
            )
        ip = client_ip or "unknown"
        throttle = self._throttle
        if throttle:
            await throttle.check(principal.username, ip)
        try:
            changed = await self._accounts.change_password(user_id=principal.id, current=current, new=new)
        except WrongCurrentPassword:
            if throttle:
                await throttle.record_failure(principal.username, ip)
            raise
        if throttle:
            await throttle.record_success(principal.username, ip)
        pair = await self._sessions.issue(changed, family=principal.session)
        return PasswordChanged(
            detail="Password changed. Every other session of this account has ended.",
            other_sessions_ended=True,
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
        )

    async def logout(self, *, principal: Principal, client_ip: str | None) -> None:
        """End the caller's session: its refresh and access tokens stop working."""
        if principal.session:
            await self._sessions.revoke(principal.session)
        await self._audit("auth.logout", "success", client_ip, who=principal)

    async def _audit(
        self,
        action: str,
        outcome: str,
        client_ip: str | None,
        *,
        who: Principal | None = None,
        username: str | None = None,
        **fields: Any,
    ) -> None:
        await self._trail.record(
            action=action,
            outcome=outcome,
            user=who.username if who else username,
            roles=who.roles if who else [],
            request_id=request_id_var.get(),
            client_ip=client_ip,
            **fields,
        )
