"""One guard in front of every JSON body: its size, nesting depth and encoding are checked
before a handler parses it, so a hostile body is a 4xx in the error shape, never a parser's
crash (a ``RecursionError`` deep inside the decoder, a ``UnicodeDecodeError``).

It runs after routing (as Litestar middleware), so it knows the handler: only handlers that
take a decoded ``data`` body are guarded; a handler that streams its request (uploads, the
gateway's forwarding) is left to read as it goes. The checks are one pass each in C or numpy
over the bytes the handler would buffer anyway; the body is handed on without a second copy.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import ClientException, HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, HTTPReceiveMessage, Receive, Scope, Send

DEFAULT_MAX_DEPTH = 64

# a JSON string (escapes included), whose brackets are text, not structure
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# ``\u0000`` not itself escaped: a NUL no text field stores (PostgreSQL refuses it)
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[list(b"[{")] = 1
_OPEN[list(b"]}")] = -1


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do
    not count); a malformed text gets a number too, and fails its parse later."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return int(np.cumsum(_OPEN[np.frombuffer(brackets, dtype=np.uint8)], dtype=np.int64).max())


def check_json(body: bytes, *, max_depth: int) -> None:
    """Raise a 400 naming what is wrong with a JSON body that must not reach the parser."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientException(f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    if _NUL.search(body):
        raise ClientException("The request body holds a NUL character (\\u0000), which no field accepts.")
    if json_depth(body) > max_depth:
        raise ClientException(f"The request body nests deeper than {max_depth} levels.")


def _parses_json(handler: Any) -> bool:
    """Whether Litestar decodes this handler's ``data`` from JSON (forms and raw streams are not)."""
    if not isinstance(handler, HTTPRouteHandler):
        return False
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return False
    media_type = getattr(data.kwarg_definition, "media_type", None)
    return media_type in (None, RequestEncodingType.JSON)


class BodyGuard:
    """Litestar middleware: reads a guarded handler's whole body (at most the handler's
    ``request_max_body_size``, else 413), checks it with ``check_json`` and replays it."""

    def __init__(self, app: ASGIApp, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] != ScopeType.HTTP or not _parses_json(handler):
            await self.app(scope, receive, send)
            return
        assert isinstance(handler, HTTPRouteHandler)
        body = await _read(receive, handler.resolve_request_max_body_size())
        check_json(body, max_depth=self.max_depth)
        await self.app(scope, _replay(body, receive), send)


async def _read(receive: Receive, limit: int | None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientException("The client closed the connection before the body arrived.")
        chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
        size += len(chunk)
        if limit is not None and size > limit:
            raise HTTPException(status_code=413, detail=f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> HTTPReceiveMessage:
        nonlocal sent
        if sent:
            return await receive()  # type: ignore[return-value]  # a disconnect, when the client goes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
