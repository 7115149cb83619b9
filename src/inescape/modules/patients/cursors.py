"""Paging cursors handed to clients sealed: encrypted and authenticated under the field
cipher with a context of their own, URL-safe, so a cursor reveals nothing (an internal id, an
offset) and one the server did not give is refused. Used by the researcher's list and the
FHIR search."""

from __future__ import annotations

import base64

from inescape.infra.crypto import field_cipher
from inescape.kernel.errors import Invalid


def seal(plain: str, *, context: str) -> str:
    token = field_cipher().encrypt(plain, context=context)
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def unseal(text: str, *, context: str, field: str, hint: str) -> str:
    """The sealed text, or ``Invalid`` naming ``field`` and what to send instead (``hint``)."""
    try:
        token = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        return field_cipher().decrypt(token, context=context)
    except Exception:  # not base64, not ours, tampered with
        raise Invalid(
            f"{field} is not one this server gave ({hint})",
            errors=[{"field": field, "message": "invalid"}],
        ) from None
