"""The error of a throttled sign-in; the policy that raises it lives in the auth module
(``auth/throttle.py``), and ``infra/http.py`` answers it with 429 and ``Retry-After``."""

from __future__ import annotations

import math

from inescape.kernel.errors import DomainError


class TooManyAttempts(DomainError):
    """Sign-in is throttled for ``retry_after`` whole seconds (429 with ``Retry-After``).
    ``reason`` (``account_ip``, ``ip`` or ``account``) is for logs, never for the client."""

    def __init__(self, retry_after: float, *, reason: str) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many failed sign-in attempts; retry after {seconds} s", extra={"retry_after": seconds}
        )
        self.retry_after = seconds
        self.reason = reason
