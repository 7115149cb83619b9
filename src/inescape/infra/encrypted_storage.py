"""The embedded object store, encrypted: each file is a header and AES-256-GCM chunks.

Layout: ``IEOB | version (1) | chunk size (4) | salt (32) | nonce prefix (7) | key id length (1)
| key id``, then chunks of ``chunk size`` plaintext bytes (the last one shorter, possibly empty),
each followed by its 16-byte tag. Every object gets its own key, HKDF-SHA256 of the ring key
named in the header with the object's random salt, so nonces never repeat across objects.
A chunk's nonce is ``prefix || counter || final flag`` and its associated data is the header,
the bucket and key, the counter and the final flag: reordered, dropped, truncated or moved
chunks and files fail to decrypt (``DecryptionFailed``). Memory stays bounded by two chunks.

A stream yields each chunk once its tag checks out, so a file truncated or altered further on
raises only when the reader reaches that point; ``get`` checks the whole object first.
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from inescape.infra.crypto.cipher import TAG_BYTES
from inescape.infra.crypto.errors import DecryptionFailed
from inescape.infra.crypto.keyring import KeyRing
from inescape.infra.storage import BUCKETS, check_location, single_chunk
from inescape.kernel.ports import ObjectStore

MAGIC = b"IEOB"
FORMAT_VERSION = 1
CHUNK_SIZE = 64 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
_FIXED = struct.Struct(">4sBI32s7sB")  # magic, version, chunk size, salt, nonce prefix, key id length
_MAX_CHUNKS = 2**32


class BucketStore(ObjectStore, Protocol):
    async def ensure_buckets(self) -> None: ...


class _Sealer:
    """One object's AEAD state: its derived key, nonce prefix and the header as AAD."""

    def __init__(self, keyring: KeyRing, header: bytes, location: str) -> None:
        _, _, chunk_size, salt, self.prefix, kid_len = _FIXED.unpack_from(header)
        key_id = header[_FIXED.size : _FIXED.size + kid_len].decode("ascii")
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=salt,
            info=b"inescape.object.v1\x00" + key_id.encode("ascii"),
        ).derive(keyring.key(key_id))
        self.aead = AESGCM(derived)
        self.key_id = key_id
        self.chunk_size: int = chunk_size
        self.base_aad = header + b"\x00" + location.encode("utf-8")

    def _nonce_aad(self, counter: int, final: bool) -> tuple[bytes, bytes]:
        if counter >= _MAX_CHUNKS:
            raise ValueError("object too large for one encrypted stream")
        tail = struct.pack(">IB", counter, final)
        return self.prefix + tail, self.base_aad + tail

    def seal(self, plain: bytes, counter: int, *, final: bool) -> bytes:
        nonce, aad = self._nonce_aad(counter, final)
        return self.aead.encrypt(nonce, plain, aad)

    def open(self, sealed: bytes, counter: int, *, final: bool, location: str) -> bytes:
        nonce, aad = self._nonce_aad(counter, final)
        try:
            return self.aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise DecryptionFailed(
                f"object {location} failed authentication: it was altered, truncated or moved"
            ) from None


def new_header(key_id: str, chunk_size: int = CHUNK_SIZE) -> bytes:
    kid = key_id.encode("ascii")
    fixed = _FIXED.pack(MAGIC, FORMAT_VERSION, chunk_size, os.urandom(32), os.urandom(7), len(kid))
    return fixed + kid


class _Reader:
    """Exact-size reads over an iterator of arbitrary chunks."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self.source = source
        self._buffer = bytearray()
        self._done = False

    async def read(self, size: int) -> bytes:
        while len(self._buffer) < size and not self._done:
            try:
                self._buffer.extend(await anext(self.source))
            except StopAsyncIteration:
                self._done = True
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    async def close(self) -> None:
        aclose = getattr(self.source, "aclose", None)
        if aclose is not None:
            await aclose()


class EncryptedObjectStore:
    """Wraps a store (the embedded ``LocalObjectStore``) so every object is encrypted at rest."""

    def __init__(self, inner: BucketStore, keyring: KeyRing, *, chunk_size: int = CHUNK_SIZE) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError("chunk_size must be between 1 byte and 16 MiB")
        self.inner = inner
        self.keyring = keyring
        self.chunk_size = chunk_size
        self.backend = inner.backend

    async def ensure_buckets(self) -> None:
        await self.inner.ensure_buckets()

    async def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        await self.put_stream(bucket, key, single_chunk(data), content_type=content_type)

    async def put_stream(
        self,
        bucket: str,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str = "application/octet-stream",
    ) -> int:
        """Encrypt as the chunks arrive; returns the plaintext size."""
        check_location(bucket, key)
        total = 0
        header = new_header(self.keyring.active_id, self.chunk_size)
        sealer = _Sealer(self.keyring, header, f"{bucket}/{key}")

        async def sealed() -> AsyncIterator[bytes]:
            nonlocal total
            yield header
            buffer, counter, size = bytearray(), 0, self.chunk_size
            async for chunk in chunks:
                buffer.extend(chunk)
                total += len(chunk)
                # Hold back a full chunk until more follows: only the last one is final.
                while len(buffer) > size:
                    yield sealer.seal(bytes(buffer[:size]), counter, final=False)
                    del buffer[:size]
                    counter += 1
            yield sealer.seal(bytes(buffer), counter, final=True)

        await self.inner.put_stream(bucket, key, sealed(), content_type=content_type)
        return total

    async def get(self, bucket: str, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.stream(bucket, key)])

    async def stream(self, bucket: str, key: str, *, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        check_location(bucket, key)
        location = f"{bucket}/{key}"
        reader = _Reader(self.inner.stream(bucket, key, chunk_size=self.chunk_size + TAG_BYTES))
        try:
            sealer = await self._open_header(reader, location)
            segment = sealer.chunk_size + TAG_BYTES
            current, counter = await reader.read(segment), 0
            while True:
                following = await reader.read(segment) if len(current) == segment else b""
                final = not following
                plain = sealer.open(current, counter, final=final, location=location)
                for start in range(0, len(plain), chunk_size):
                    yield plain[start : start + chunk_size]
                if final:
                    return
                current, counter = following, counter + 1
        finally:
            await reader.close()

    async def _open_header(self, reader: _Reader, location: str) -> _Sealer:
        fixed = await reader.read(_FIXED.size)
        if len(fixed) < _FIXED.size or fixed[:4] != MAGIC:
            raise DecryptionFailed(f"object {location} is not an encrypted object")
        _, version, chunk_size, _, _, kid_len = _FIXED.unpack(fixed)
        kid = await reader.read(kid_len)
        sane = 0 < chunk_size <= MAX_CHUNK_SIZE and len(kid) == kid_len and kid.isascii()
        if version != FORMAT_VERSION or not sane:
            raise DecryptionFailed(f"object {location} has an unreadable encryption header")
        return _Sealer(self.keyring, fixed + kid, location)

    async def key_id_of(self, bucket: str, key: str) -> str:
        """The ring key an object was written under (read from its header only)."""
        reader = _Reader(self.inner.stream(bucket, key, chunk_size=_FIXED.size + 64))
        try:
            return (await self._open_header(reader, f"{bucket}/{key}")).key_id
        finally:
            await reader.close()

    async def rotate(self, buckets: tuple[str, ...] = BUCKETS, prefix: str = "") -> int:
        """Rewrite every object not under the active key; returns how many were rewritten.

        Each rewrite streams the old file into a new one that replaces it atomically.
        """
        rewritten = 0
        for bucket in buckets:
            for key in await self.list(bucket, prefix):
                if await self.key_id_of(bucket, key) != self.keyring.active_id:
                    await self.put_stream(bucket, key, self.stream(bucket, key, chunk_size=self.chunk_size))
                    rewritten += 1
        return rewritten

    async def exists(self, bucket: str, key: str) -> bool:
        return await self.inner.exists(bucket, key)

    async def delete(self, bucket: str, key: str) -> None:
        await self.inner.delete(bucket, key)

    async def list(self, bucket: str, prefix: str = "") -> list[str]:
        return await self.inner.list(bucket, prefix)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()
