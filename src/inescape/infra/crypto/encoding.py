"""Base64 as keys arrive (standard or URL-safe, padding optional) and as tokens carry it
(URL-safe, unpadded: one canonical spelling, so a token cannot change unnoticed)."""

from __future__ import annotations

import base64
import binascii


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional; raises ``ValueError``."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64e(data: bytes) -> str:
    """URL-safe base64 without padding (what ``base64.urlsafe_b64encode`` gives, stripped)."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_URLSAFE).decode("ascii")
