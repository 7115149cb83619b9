"""Public surface of the gateway: who is calling, what they may do, and the audit trail.

Other modules use ``principal_of(request)`` in their controllers, declare
``opt={"permission": ...}`` on every route (names in ``PERMISSIONS``), and record patient
data access with ``audit_of(services).record(...)``, which fails closed (``Unavailable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

from inescape.infra.telemetry import request_id_var
from inescape.kernel.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from inescape.modules.auth.deid import (
    AGE_OVER_89,
    DEFAULT_POLICY,
    RESTRICTED_ZIP3,
    DateMode,
    DeidentificationInvalid,
    Deidentifier,
    DeidPolicy,
    IdentifierKind,
)

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


def deidentifier_of(services: Any) -> Deidentifier:
    """The one de-identifier of this install (its secret derives from the encryption HMAC key,
    so every replica and every export gives a patient the same research id and date shift)."""
    deidentifier: Deidentifier = services.extensions["auth"].deidentifier
    return deidentifier


def for_viewer(
    principal: Principal | None, deidentifier: Deidentifier, record: Mapping[str, Any], *, patient_id: str
) -> dict[str, Any]:
    """What ``principal`` may see of a patient record: researchers only ever get it
    de-identified (HIPAA Safe Harbor); other permitted roles get it whole."""
    if principal is None or principal.is_researcher_only:
        return deidentifier.deidentify(record, patient_id=patient_id)
    return dict(record)


def audit_of(services: Any) -> AuditPort:
    audit: AuditPort = services.extensions["auth"].audit
    return audit


async def audit_request(
    request: Any,
    action: str,
    *,
    resource_type: str,
    resource_id: str | None = None,
    patient_id: str | None = None,
    outcome: str = "success",
    detail: str | None = None,
) -> None:
    """The audit event of one HTTP request: who (from the token), from where, which request.
    Raises ``Unavailable`` while the audit store is down, so no access goes unaudited."""
    who = principal_of(request)
    await audit_of(request.app.state.services).record(
        action=action,
        outcome=outcome,
        user=who.username if who else None,
        roles=who.roles if who else [],
        resource_type=resource_type,
        resource_id=resource_id,
        patient_id=patient_id,
        request_id=request_id_var.get(),
        client_ip=request.client.host if request.client else None,
        detail=detail,
    )


__all__ = [
    "AGE_OVER_89",
    "DEFAULT_POLICY",
    "MODULE",
    "RESTRICTED_ZIP3",
    "ROLES",
    "AuditPort",
    "BadCredentials",
    "DateMode",
    "DeidPolicy",
    "DeidentificationInvalid",
    "Deidentifier",
    "IdentifierKind",
    "NotAllowed",
    "Principal",
    "UserNotFound",
    "UsernameTaken",
    "WeakPassword",
    "audit_of",
    "audit_request",
    "deidentifier_of",
    "for_viewer",
    "principal_of",
]
