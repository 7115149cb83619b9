"""The ``{"detail", "status_code"}`` error shape, and sending it from a pure ASGI wrapper (one
that answers before the app, so without its exception handlers): the edge's path check, the
rate limiter and the audit gate answer through this one function."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from litestar.types import Send

from inescape.infra.telemetry import request_id_var


def error_body(detail: str, status_code: int, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "status_code": status_code, **extra}


async def send_error(
    send: Send,
    status: int,
    detail: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
    **extra: Any,
) -> None:
    """An error in the shape of every error, with the request's id when there is one."""
    body = error_body(detail, status, **extra)
    if rid := request_id_var.get():
        body["request_id"] = rid
    payload = msgspec.json.encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})
