"""Identifiers: time-ordered UUIDs (version 7), so ids sort by creation and index well."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A UUIDv7 as a 36-character string (RFC 9562: 48-bit ms timestamp, random tail).

    Built as text directly: it is made for every request, so it stays a few microseconds."""
    ms = (time.time_ns() // 1_000_000) & 0xFFFF_FFFF_FFFF
    return _format(f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7", os.urandom(10).hex())


def new_ids(n: int) -> list[str]:
    """``n`` UUIDv7s from one clock reading and one read of the random source (bulk loads)."""
    ms = (time.time_ns() // 1_000_000) & 0xFFFF_FFFF_FFFF
    prefix, rand = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7", os.urandom(10 * n).hex()
    return [_format(prefix, rand[i : i + 20]) for i in range(0, 20 * n, 20)]


def _format(prefix: str, rand: str) -> str:  # rand: 20 hex digits
    return f"{prefix}{rand[:3]}-{VARIANT[rand[3]]}{rand[4:7]}-{rand[7:19]}"


VARIANT = {d: "89ab"[int(d, 16) & 0x3] for d in "0123456789abcdef"}  # RFC 9562 variant bits 10


def is_id(text: str) -> bool:
    """True when ``text`` is a canonical UUID string."""
    try:
        return str(uuid.UUID(text)) == text.lower()
    except (ValueError, AttributeError, TypeError):
        return False
