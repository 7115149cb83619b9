"""Public surface of the gateway: who is calling, what they may do, and the audit trail.

Other modules use ``principal_of(request)`` in their controllers, declare
``opt={"permission": ...}`` on every route (names in ``PERMISSIONS``), and record patient
data access with ``audit_of(services).record(...)``, which fails closed (``Unavailable``).
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from inescape.kernel.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized

MODULE = "auth"
ROLES = ("admin", "clinician", "researcher", "data_steward", "auditor")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller."""

    id: str
    username: str
    roles: list[str]
    source: str = "local"  # "local" (our tokens) or "oidc" (the hospital's provider)
    session: str | None = None

    @property
    def is_researcher_only(self) -> bool:
        """Sees de-identified data only."""
        return "researcher" in self.roles and not {"admin", "clinician", "data_steward"} & set(self.roles)


class UserNotFound(NotFound):
    pass


class UsernameTaken(Conflict):
    pass


class WeakPassword(Invalid):
    pass


class BadCredentials(Unauthorized):
    pass


class NotAllowed(Forbidden):
    pass


class AuditPort(Protocol):
    async def record(
        self,
        *,
        action: str,
        outcome: str,
        user: str | None = ...,
        roles: list[str] | None = ...,
        resource_type: str | None = ...,
        resource_id: str | None = ...,
        patient_id: str | None = ...,
        request_id: str | None = ...,
        client_ip: str | None = ...,
        detail: str | None = ...,
    ) -> Any: ...


def principal_of(connection: Any) -> Principal | None:
    """The caller of a Litestar request (None when anonymous)."""
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def audit_of(services: Any) -> AuditPort:
    audit: AuditPort = services.extensions["auth"].audit
    return audit


__all__ = [
    "MODULE",
    "ROLES",
    "AuditPort",
    "BadCredentials",
    "NotAllowed",
    "Principal",
    "UserNotFound",
    "UsernameTaken",
    "WeakPassword",
    "audit_of",
    "principal_of",
]
