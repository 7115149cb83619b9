"""The streamed upload of a form: however the body is cut into chunks, the stored file is the
form's file part byte for byte, with its name, type and format; a bad form stores nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inescape.kernel.errors import Invalid
from inescape.modules.collection.uploads import store_upload

BOUNDARY = "b0undary"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


class Storage:
    """The datasets' objects (``DatasetsApi.put_stream``): one is kept only once its stream was
    read to the end without an error."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.chunks: list[int] = []

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], **_: object) -> int:
        data = b""
        async for chunk in chunks:
            self.chunks.append(len(chunk))
            data += chunk
        self.objects[key] = data
        return len(data)


def form(file: bytes, *, fmt: bytes = b"csv", fmt_first: bool = True) -> bytes:
    field = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="format"\r\n\r\n'.encode() + fmt + b"\r\n"
    part = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a b.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + file
        + b"\r\n"
    )
    return (field + part if fmt_first else part + field) + f"--{BOUNDARY}--\r\n".encode()


async def chunked(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted({c % (len(body) + 1) for c in cuts}):
        yield body[start:cut]
        start = cut
    yield body[start:]


def store(storage: Storage, body: bytes, cuts: list[int], content_type: str = FORM):
    return asyncio.run(
        store_upload(storage, "k", chunked(body, cuts), content_type=content_type, filename=None)
    )


@settings(max_examples=60, deadline=None)
@given(
    file=st.binary(min_size=1, max_size=300).filter(lambda b: BOUNDARY.encode() not in b),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
    fmt_first=st.booleans(),
)
def test_any_chunking_of_a_form_stores_exactly_its_file_part(file, cuts, fmt_first):
    storage = Storage()

    received = store(storage, form(file, fmt_first=fmt_first), cuts)

    assert storage.objects == {"k": file}
    assert (received.filename, received.content_type, received.format) == ("a b.csv", "text/csv", "csv")
    assert received.size == len(file)


def test_a_raw_body_is_stored_as_it_is():
    storage = Storage()

    received = store(storage, b"a,b\n1,2\n", [3], content_type="text/csv")

    assert storage.objects == {"k": b"a,b\n1,2\n"}
    assert received.format is None
    assert storage.chunks == [3, 5]


@pytest.mark.parametrize(
    "body",
    [
        form(b"", fmt=b"csv"),
        form(b"x", fmt=b"xlsx", fmt_first=False),
        form(b"x", fmt=b"c" * 2000),
        form(b"x")[:-10],
    ],
    ids=["empty", "unknown-format-after-the-file", "field-too-long", "cut-short"],
)
def test_a_bad_form_raises_from_inside_the_stream_so_nothing_is_kept(body):
    storage = Storage()

    with pytest.raises(Invalid):
        store(storage, body, [7, 40])

    assert storage.objects == {}
