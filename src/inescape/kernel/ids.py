"""Identifiers: time-ordered UUIDs (version 7), so ids sort by creation and index well."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A UUIDv7 as a 36-character string (RFC 9562: 48-bit ms timestamp, random tail).

    Built as text directly: it is made for every request, so it stays a few microseconds."""
    ms = (time.time_ns() // 1_000_000) & 0xFFFF_FFFF_FFFF
    rand = os.urandom(10).hex()  # 20 hex digits
    variant = "89ab"[int(rand[3], 16) & 0x3]
    return f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{rand[:3]}-{variant}{rand[4:7]}-{rand[7:19]}"


def is_id(text: str) -> bool:
    """True when ``text`` is a canonical UUID string."""
    try:
        return str(uuid.UUID(text)) == text.lower()
    except (ValueError, AttributeError, TypeError):
        return False
