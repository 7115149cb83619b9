"""Password hashing with argon2id.

The default cost is argon2-cffi's (RFC 9106's second choice: 64 MiB, 3 passes, 4 lanes). An
operator may lower it for small machines, where each login holding 64 MiB invites a memory
exhaustion by many logins at once, down to OWASP's minimum (19 MiB with 2 passes, or 46 MiB
with 1): ``INESCAPE_AUTH_PASSWORD_MEMORY_KIB`` and ``INESCAPE_AUTH_PASSWORD_TIME_COST``. A
hash records its own cost, so hashes made under another setting still verify, and are made
anew at the next successful login.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from inescape.kernel.errors import ConfigurationError

MIN_LENGTH = 12
DEFAULT_MEMORY_KIB = 65_536
DEFAULT_TIME_COST = 3
# OWASP Password Storage Cheat Sheet (argon2id): m=19456 KiB with t=2, or m=47104 KiB with t=1.
_FLOORS = ((19_456, 2), (47_104, 1))


class Passwords:
    """Hashes and checks passwords at one argon2id cost."""

    def __init__(self, *, memory_kib: int = DEFAULT_MEMORY_KIB, time_cost: int = DEFAULT_TIME_COST) -> None:
        if not any(memory_kib >= m and time_cost >= t for m, t in _FLOORS):
            raise ConfigurationError(
                "INESCAPE_AUTH_PASSWORD_MEMORY_KIB",
                f"argon2id at {memory_kib} KiB and {time_cost} passes is below OWASP's minimum: use at "
                "least 19456 KiB with INESCAPE_AUTH_PASSWORD_TIME_COST=2, or 47104 KiB with 1",
            )
        self._hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost)
        # Compared against when the user does not exist, so timing does not reveal who exists.
        self._dummy = self._hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether ``password_hash`` was made at another cost than this one's."""
        return self._hasher.check_needs_rehash(password_hash)


@functools.lru_cache(maxsize=8)
def passwords(memory_kib: int = DEFAULT_MEMORY_KIB, time_cost: int = DEFAULT_TIME_COST) -> Passwords:
    """One ``Passwords`` per cost in a process (making one hashes a dummy password)."""
    return Passwords(memory_kib=memory_kib, time_cost=time_cost)


def weakness(password: str, username: str) -> str | None:
    """Why ``password`` is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password needs at least {MIN_LENGTH} characters"
    if username.lower() in password.lower():
        return "the password must not contain the username"
    if len(set(password)) < 5:
        return "the password is too repetitive"
    return None
