"""Backup files: AES-256-GCM in chunks, with both checksums counted on the way.

A file is ``IEBK | version (1) | chunk size (4) | salt (32) | nonce prefix (7) | key id length
(1) | key id`` and then chunks of ``chunk size`` plaintext bytes, each followed by its 16-byte
tag; the last chunk is shorter (possibly empty) and flagged final. Each file gets its own key,
HKDF-SHA256 of the backup key with the file's random salt; a chunk's associated data binds the
header, the part name, its counter and the final flag, so a reordered, truncated, renamed or
altered file fails to decrypt (``BackupCorrupt``).

The backup key is ``INESCAPE_BACKUP_KEY`` (base64, 32 bytes) when set, otherwise the active
key of the platform's encryption key ring (``ring-<key id>``): then whoever restores needs that
ring, which the encrypted identifying fields need anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from inescape.infra.crypto.errors import UnknownKeyId
from inescape.infra.crypto.keyring import KeyRing
from inescape.kernel.errors import ConfigurationError, Invalid

BACKUP_KEY_SETTING = "INESCAPE_BACKUP_KEY"
MAGIC = b"IEBK"
FORMAT_VERSION = 1
CHUNK_SIZE = 1024 * 1024
TAG_BYTES = 16
_FIXED = struct.Struct(">4sBI32s7sB")


class BackupCorrupt(Invalid):
    """A backup file failed a checksum or authentication: altered, truncated or swapped."""


class BackupKeyMismatch(Invalid):
    """The key at hand is not the one the backup was written with."""


@dataclass(frozen=True)
class BackupKey:
    key_id: str
    material: bytes = b""

    def __repr__(self) -> str:  # never the key material
        return f"BackupKey({self.key_id!r})"


def backup_key_from(value: str | None, ring: KeyRing | None) -> BackupKey:
    """The dedicated key (``INESCAPE_BACKUP_KEY``) if given, else the ring's active key."""
    if value:
        try:
            material = base64.b64decode(value.strip(), validate=True)
        except binascii.Error:
            raise ConfigurationError(BACKUP_KEY_SETTING, "not base64") from None
        if len(material) != 32:
            raise ConfigurationError(BACKUP_KEY_SETTING, f"{len(material)} bytes; AES-256 needs 32")
        digest = hashlib.sha256(b"inescape.backup.key-id\x00" + material).hexdigest()
        return BackupKey(f"backup-{digest[:12]}", material)
    if ring is None:
        raise ConfigurationError(BACKUP_KEY_SETTING, "no backup key and no encryption key ring")
    return BackupKey(f"ring-{ring.active_id}", ring.key(ring.active_id))


def resolve_key(key_id: str, dedicated: BackupKey | None, ring: KeyRing | None) -> bytes:
    """The material for a backup written under ``key_id``, or a clear ``BackupKeyMismatch``."""
    if key_id.startswith("ring-"):
        if ring is None:
            raise BackupKeyMismatch(f"the backup is encrypted with the platform key {key_id[5:]!r}; no ring")
        try:
            return ring.key(key_id[5:])
        except UnknownKeyId:
            raise BackupKeyMismatch(
                f"the backup is encrypted with the platform key {key_id[5:]!r}, which is not in this "
                f"installation's key ring ({', '.join(ring.key_ids)}): configure the source's keys"
            ) from None
    if dedicated is None or not dedicated.key_id.startswith("backup-"):
        raise BackupKeyMismatch(f"the backup is encrypted with {BACKUP_KEY_SETTING} ({key_id}); set it")
    if dedicated.key_id != key_id:
        raise BackupKeyMismatch(
            f"wrong {BACKUP_KEY_SETTING}: the backup needs key {key_id}, the one set is {dedicated.key_id}"
        )
    return dedicated.material


@dataclass
class PartDigest:
    plain_bytes: int = 0
    cipher_bytes: int = 0
    plain_sha256: str = ""
    cipher_sha256: str = ""


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


def _aead(material: bytes, salt: bytes, key_id: str) -> AESGCM:
    info = b"inescape.backup.v1\x00" + key_id.encode("ascii")
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material))


class _Framing:
    def __init__(self, header: bytes, part: str, prefix: bytes) -> None:
        self.base_aad = header + b"\x00" + part.encode("utf-8")
        self.prefix = prefix

    def nonce_aad(self, counter: int, final: bool) -> tuple[bytes, bytes]:
        tail = struct.pack(">IB", counter, final)
        return self.prefix + tail, self.base_aad + tail


class SealedWriter:
    """Encrypts what is written into ``sink``; ``close`` returns both sizes and checksums."""

    def __init__(self, sink: Sink, key: BackupKey, part: str, *, chunk_size: int = CHUNK_SIZE) -> None:
        kid = key.key_id.encode("ascii")
        salt, prefix = os.urandom(32), os.urandom(7)
        self._header = _FIXED.pack(MAGIC, FORMAT_VERSION, chunk_size, salt, prefix, len(kid)) + kid
        self._aead = _aead(key.material, salt, key.key_id)
        self._framing = _Framing(self._header, part, prefix)
        self._sink, self._size = sink, chunk_size
        self._buffer, self._counter = bytearray(), 0
        self._plain, self._cipher = hashlib.sha256(), hashlib.sha256()
        self.digest = PartDigest()
        self._emit(self._header)

    def _emit(self, data: bytes) -> None:
        self._cipher.update(data)
        self.digest.cipher_bytes += len(data)
        self._sink.write(data)

    def _seal(self, plain: bytes, *, final: bool) -> None:
        nonce, aad = self._framing.nonce_aad(self._counter, final)
        self._emit(self._aead.encrypt(nonce, plain, aad))
        self._counter += 1

    def write(self, data: bytes) -> None:
        self._plain.update(data)
        self.digest.plain_bytes += len(data)
        self._buffer.extend(data)
        while len(self._buffer) > self._size:  # hold a full chunk back: only the last is final
            self._seal(bytes(self._buffer[: self._size]), final=False)
            del self._buffer[: self._size]

    def close(self) -> PartDigest:
        self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()
        self._sink.close()
        self.digest.plain_sha256 = self._plain.hexdigest()
        self.digest.cipher_sha256 = self._cipher.hexdigest()
        return self.digest

    def abort(self) -> None:
        self._sink.abort()


class _Exact:
    """Exact-size reads over an iterator of arbitrary chunks, hashing what passes."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source, self._buffer, self.sha, self.size = source, bytearray(), hashlib.sha256(), 0

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._source, None)
            if chunk is None:
                break
            self._buffer.extend(chunk)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        self.sha.update(out)
        self.size += len(out)
        return out


def open_sealed(
    source: Iterator[bytes],
    part: str,
    key_for: Callable[[str], bytes],
    digest: PartDigest | None = None,
) -> Iterator[bytes]:
    """The plaintext of a sealed file, chunk by chunk (each checked before it is yielded);
    with ``digest``, both checksums are compared once the end is reached."""
    reader = _Exact(source)
    fixed = reader.read(_FIXED.size)
    if len(fixed) < _FIXED.size or fixed[:4] != MAGIC:
        raise BackupCorrupt(f"{part}: not a backup file")
    _, version, chunk_size, salt, prefix, kid_len = _FIXED.unpack(fixed)
    kid = reader.read(kid_len)
    if version != FORMAT_VERSION or not 0 < chunk_size <= 64 * CHUNK_SIZE or len(kid) != kid_len:
        raise BackupCorrupt(f"{part}: unreadable backup header")
    key_id = kid.decode("ascii", errors="replace")
    aead = _aead(key_for(key_id), salt, key_id)
    framing = _Framing(fixed + kid, part, prefix)
    plain_sha, segment, counter = hashlib.sha256(), chunk_size + TAG_BYTES, 0
    current = reader.read(segment)
    while True:
        following = reader.read(segment) if len(current) == segment else b""
        nonce, aad = framing.nonce_aad(counter, not following)
        try:
            plain = aead.decrypt(nonce, current, aad)
        except InvalidTag:
            raise BackupCorrupt(
                f"{part}: failed authentication (altered, truncated, or the wrong key)"
            ) from None
        plain_sha.update(plain)
        yield plain
        if not following:
            break
        current, counter = following, counter + 1
    if digest is not None and (
        reader.sha.hexdigest() != digest.cipher_sha256 or plain_sha.hexdigest() != digest.plain_sha256
    ):
        raise BackupCorrupt(f"{part}: checksum differs from manifest.json")
