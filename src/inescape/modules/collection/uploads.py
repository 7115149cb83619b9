"""Files into the ``datasets`` bucket as they arrive: the request body itself, or a
``multipart/form-data`` form with a ``file`` part (named by its Content-Disposition) and an
optional ``format`` field.

A form is parsed as it arrives by ``multipart``'s push parser and only the file part's bytes
go on to storage, a chunk at a time. Anything wrong (no file part, a malformed form, an empty
file, an unknown format) is raised from inside the stream storage is reading, so the object is
never completed (the S3 multipart upload is aborted, the temporary file removed).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from inescape.kernel.errors import Invalid
from inescape.modules.collection.connectors.upload import FORMATS
from inescape.modules.generation.api import DatasetsApi

MAX_UPLOAD_BYTES = 10 * 1024**3
MAX_FIELD_BYTES = 1024
MAX_FORM_PARTS = 16
FILE_PART = "file"


def _invalid(field: str, message: str, detail: str) -> Invalid:
    return Invalid(detail, errors=[{"field": field, "message": message}])


class Received:
    """What is learnt of the file while its bytes pass through."""

    def __init__(self, filename: str | None, content_type: str) -> None:
        self.filename = filename
        self.content_type = content_type
        self.format: str | None = None
        self.size = 0
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def take(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if self.size > MAX_UPLOAD_BYTES:
            raise _invalid("file", "too large", "an upload is at most 10 GiB")
        self._digest.update(chunk)
        return chunk


async def _events(body: AsyncIterator[bytes], boundary: str) -> AsyncIterator[Any]:
    """The parser's events: a segment (a part's headers), its bytes, None at its end."""
    try:
        parser = PushMultipartParser(boundary, max_segment_count=MAX_FORM_PARTS)
        async for chunk in body:
            if not chunk:
                continue  # to the parser an empty chunk is the end of the input
            for event in parser.parse(chunk):
                yield event
        parser.close()
    except MultipartError as exc:
        raise _invalid("body", str(exc), f"the multipart form is malformed: {exc}") from None


class Form:
    """A form read once, front to back: the small fields around the file are kept."""

    def __init__(self, body: AsyncIterator[bytes], content_type: str) -> None:
        _, options = parse_options_header(content_type)
        if not options.get("boundary"):
            raise _invalid("body", "no boundary", "a multipart/form-data upload needs a boundary")
        self._events = _events(body, options["boundary"])
        self.fields: dict[str, bytes] = {}
        self._field = ""

    async def file_part(self) -> MultipartSegment | None:
        """Reads up to the ``file`` part's headers (None: the form ended without one)."""
        async for event in self._events:
            if isinstance(event, MultipartSegment) and event.name == FILE_PART:
                return event
            self._keep(event)
        return None

    async def file_bytes(self, received: Received) -> AsyncIterator[bytes]:
        """The file part's bytes, then the rest of the form, checked."""
        async for event in self._events:
            if event is None:
                break
            yield received.take(event)
        if await self.file_part() is not None:
            raise _invalid(FILE_PART, "more than one", "send one file per upload")
        if received.size == 0:
            raise _invalid(FILE_PART, "empty", "the file is empty")
        received.format = self.format()

    def format(self) -> str | None:
        raw = self.fields.get("format")
        value = raw.decode("utf-8", "replace").strip().lower() if raw else None
        if value is not None and value not in FORMATS:
            raise _invalid("format", f"one of {', '.join(FORMATS)}", f"unknown format {value!r}")
        return value or None

    def _keep(self, event: Any) -> None:
        if isinstance(event, MultipartSegment):
            self._field = event.name or ""
            self.fields[self._field] = b""
        elif isinstance(event, bytes):
            value = self.fields[self._field] + event
            if len(value) > MAX_FIELD_BYTES:
                raise _invalid(self._field, "too long", f"the form field {self._field!r} is too long")
            self.fields[self._field] = value


async def _raw_bytes(body: AsyncIterator[bytes], received: Received) -> AsyncIterator[bytes]:
    async for chunk in body:
        yield received.take(chunk)
    if received.size == 0:
        raise _invalid("body", "empty", "the upload is empty: send the file as the request body")


async def store_upload(
    datasets: DatasetsApi, key: str, body: AsyncIterator[bytes], *, content_type: str, filename: str | None
) -> Received:
    """Streams the uploaded file to the datasets' ``key``; what it was, once stored whole."""
    if parse_options_header(content_type)[0] != "multipart/form-data":
        received = Received(filename, content_type)
        await datasets.put_stream(key, _raw_bytes(body, received), content_type=content_type)
        return received
    form = Form(body, content_type)
    part = await form.file_part()
    if part is None:
        raise _invalid(FILE_PART, "missing", "the form has no file part: send the file as 'file'")
    received = Received(part.filename or filename, part.content_type or "application/octet-stream")
    chunks = form.file_bytes(received)
    await datasets.put_stream(key, chunks, content_type=received.content_type)
    return received
