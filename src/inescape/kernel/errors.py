"""Errors every module raises. They carry no HTTP: one place (``infra.http``) maps them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of every expected error; ``detail`` is safe to show to a client."""

    def __init__(self, detail: str, *, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = dict(extra or {})


class NotFound(DomainError):
    """The thing asked for does not exist (or the caller may not know that it does)."""


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, wrong status, stale version)."""


class Forbidden(DomainError):
    """The caller is known but not allowed to do this."""


class PreconditionFailed(DomainError):
    """Data the operation needs was neither given nor obtainable (CDS Hooks' missing prefetch)."""


class Unauthorized(DomainError):
    """The caller could not be identified (no, bad or expired credentials)."""


class Invalid(DomainError):
    """The input is malformed or breaks a rule; ``errors`` names the failing fields."""

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, extra=extra)
        self.errors: list[dict[str, str]] = list(errors or [])


class Unavailable(DomainError):
    """A backend this operation needs is down; retrying later may succeed."""

    def __init__(self, detail: str, *, backend: str, retry_after: int | None = None) -> None:
        super().__init__(detail, extra={"backend": backend})
        self.backend = backend
        self.retry_after = retry_after


class ConfigurationError(Exception):
    """A setting is missing, malformed or points at something unreachable.

    ``setting`` is the environment variable to fix; the message is one line.
    """

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem
