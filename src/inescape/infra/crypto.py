"""Encryption at rest for identifying fields (name, MRN, national id, birth date, address, phone).

A value is stored as a token ``v1:<key id>:<base64url(nonce || ciphertext || tag)>``: AES-256-GCM
under the key named in the token, with the column's *context* (``"patients.mrn"``) bound as
associated data, so a token copied into another column does not decrypt. New values use the
ring's active key; older keys stay in the ring until ``rotate`` has moved every value off them.
A field that must be found by exact value (MRN) also stores ``blind_index``: HMAC-SHA256 of the
normalised value under a separate key.

Keys come from ``INESCAPE_ENCRYPTION_KEYS`` + ``INESCAPE_ENCRYPTION_HMAC_KEY`` or from a key file
(``INESCAPE_ENCRYPTION_KEY_FILE``), never from the repository. Only the embedded default, with
nothing configured, generates its own key file (mode 0600) under the data dir on first start;
production must supply keys, and every replica must share them.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from inescape.kernel.errors import ConfigurationError, Invalid

log = logging.getLogger("inescape.crypto")

KEYS_SETTING = "INESCAPE_ENCRYPTION_KEYS"
KEY_FILE_SETTING = "INESCAPE_ENCRYPTION_KEY_FILE"
HMAC_SETTING = "INESCAPE_ENCRYPTION_HMAC_KEY"
ACTIVE_SETTING = "INESCAPE_ENCRYPTION_ACTIVE_KEY_ID"
VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class DecryptionFailed(Invalid):
    """A stored value could not be decrypted: altered, truncated, moved to another column
    or object, or not a token at all. The detail never contains the value."""


class UnknownKeyId(DecryptionFailed):
    """The value names a key that is not in the ring (retired too early, or the wrong keys)."""


class FieldCipherMissing(RuntimeError):
    """An encrypted column was used before the composition root installed a cipher."""


def _b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional; raises ``ValueError``."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64e(data: bytes) -> str:
    """URL-safe base64 without padding (what ``base64.urlsafe_b64encode`` gives, stripped)."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_URLSAFE).decode("ascii")


def new_key_id() -> str:
    return datetime.now(UTC).strftime("k%Y%m%d") + secrets.token_hex(2)


class KeyRing:
    """Named 256-bit keys, the id of the one new values use, and the blind-index HMAC key."""

    __slots__ = ("_hmac_key", "_keys", "active_id")

    def __init__(
        self, keys: Mapping[str, bytes], *, active_id: str, hmac_key: bytes, setting: str = KEYS_SETTING
    ) -> None:
        if not keys:
            raise ConfigurationError(setting, "no encryption key given")
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id):
                raise ConfigurationError(setting, f"key id {key_id!r} must be 1-32 of A-Z a-z 0-9 _ -")
            if len(key) != KEY_BYTES:
                raise ConfigurationError(setting, f"key {key_id!r} is {len(key)} bytes; AES-256 needs 32")
        if active_id not in keys:
            raise ConfigurationError(setting, f"active key id {active_id!r} is not among the keys")
        hmac_setting = HMAC_SETTING if setting == KEYS_SETTING else setting
        if len(hmac_key) < KEY_BYTES:
            raise ConfigurationError(hmac_setting, f"HMAC key is {len(hmac_key)} bytes; use at least 32")
        if any(hmac.compare_digest(hmac_key, key) for key in keys.values()):
            raise ConfigurationError(hmac_setting, "the HMAC key must differ from every encryption key")
        self._keys = dict(keys)
        self.active_id = active_id
        self._hmac_key = hmac_key

    def __repr__(self) -> str:  # never the key material
        return f"KeyRing(active_id={self.active_id!r}, key_ids={list(self._keys)!r})"

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @property
    def hmac_key(self) -> bytes:
        return self._hmac_key

    def key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyId(f"encryption key {key_id!r} is not in the key ring") from None

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def parse(cls, keys: str, *, hmac_key: str | None, active_id: str | None = None) -> KeyRing:
        """``"k2026a:<base64>,k2025:<base64>"``; the first is active unless ``active_id`` says."""
        parsed: dict[str, bytes] = {}
        for part in (p.strip() for p in keys.split(",")):
            if not part:
                continue
            key_id, sep, material = part.partition(":")
            key_id = key_id.strip()
            if not sep or key_id in parsed:
                problem = "duplicate key id" if sep else "expected <key id>:<base64 key>"
                raise ConfigurationError(KEYS_SETTING, f"{problem} in entry {len(parsed) + 1}")
            try:
                parsed[key_id] = _b64decode(material)
            except ValueError:
                raise ConfigurationError(KEYS_SETTING, f"key {key_id!r} is not base64") from None
        if not parsed:
            raise ConfigurationError(KEYS_SETTING, "no encryption key given")
        if active_id is not None and active_id not in parsed:
            raise ConfigurationError(ACTIVE_SETTING, f"{active_id!r} is not among the keys")
        return cls(
            parsed,
            active_id=active_id or next(iter(parsed)),
            hmac_key=_decode_hmac(hmac_key, HMAC_SETTING),
        )

    @classmethod
    def from_json(cls, text: str, *, setting: str = KEY_FILE_SETTING, hmac_key: str | None = None) -> KeyRing:
        """``{"active": id, "keys": {id: base64, ...}, "hmac_key": base64}``."""
        try:
            doc = json.loads(text)
            keys = {str(k): _b64decode(str(v)) for k, v in doc["keys"].items()}
            active = str(doc.get("active") or next(iter(keys), ""))
            material = hmac_key if hmac_key is not None else doc.get("hmac_key")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(setting, f"not a valid key file ({type(exc).__name__})") from None
        hmac_setting = HMAC_SETTING if hmac_key is not None else setting
        return cls(keys, active_id=active, hmac_key=_decode_hmac(material, hmac_setting), setting=setting)

    @classmethod
    def from_file(cls, path: Path, *, hmac_key: str | None = None) -> KeyRing:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(KEY_FILE_SETTING, f"cannot read {path}: {exc.strerror}") from None
        if os.name == "posix" and path.stat().st_mode & 0o077:
            log.warning("key file is readable by group or others", extra={"path": str(path)})
        return cls.from_json(text, hmac_key=hmac_key)

    @classmethod
    def generate(cls, key_id: str | None = None) -> KeyRing:
        kid = key_id or new_key_id()
        return cls({kid: AESGCM.generate_key(256)}, active_id=kid, hmac_key=secrets.token_bytes(KEY_BYTES))

    def with_new_key(self, key_id: str | None = None) -> KeyRing:
        """A copy with a fresh active key; the old ones stay to read what they wrote."""
        kid = key_id or new_key_id()
        if kid in self._keys:
            raise ValueError(f"key id {kid!r} is already in the ring")
        keys = {kid: AESGCM.generate_key(256), **self._keys}
        return KeyRing(keys, active_id=kid, hmac_key=self._hmac_key)

    def without_key(self, key_id: str) -> KeyRing:
        """A copy without a retired key (only once ``rotate`` reports nothing left on it)."""
        if key_id == self.active_id:
            raise ValueError("the active key cannot be retired")
        keys = {k: v for k, v in self._keys.items() if k != key_id}
        return KeyRing(keys, active_id=self.active_id, hmac_key=self._hmac_key)

    def to_json(self) -> str:
        keys = {k: base64.b64encode(v).decode() for k, v in self._keys.items()}
        doc = {"active": self.active_id, "keys": keys, "hmac_key": base64.b64encode(self._hmac_key).decode()}
        return json.dumps(doc, indent=2) + "\n"

    def write(self, path: Path) -> None:
        """Replace ``path`` atomically with this ring, readable by its owner only."""
        _write_private(path, self.to_json(), replace=True)

    @classmethod
    def load_or_create(cls, path: Path) -> KeyRing:
        """The embedded default: read ``path``, or create it (0600) with a new key on first start.

        Concurrent first starts agree on one file: it appears atomically and only once.
        """
        if not path.exists():
            created = cls.generate()
            if _write_private(path, created.to_json(), replace=False):
                log.warning("generated an encryption key file; back it up", extra={"path": str(path)})
        return cls.from_file(path)


def generate_key_file(key_id: str | None = None) -> str:
    """The content of a new key file (one fresh key and HMAC key), for ``inescape keys``."""
    return KeyRing.generate(key_id).to_json()


def _decode_hmac(material: object, setting: str) -> bytes:
    if not material:
        raise ConfigurationError(setting, "an HMAC key (base64, 32 bytes or more) is required")
    try:
        return _b64decode(str(material))
    except ValueError:
        raise ConfigurationError(setting, "the HMAC key is not base64") from None


def _write_private(path: Path, text: str, *, replace: bool) -> bool:
    """Write via a 0600 temporary file; without ``replace``, keep an existing file (False)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)


def load_keyring(
    *,
    keys: str | None,
    key_file: str | None,
    hmac_key: str | None,
    active_id: str | None = None,
    generated_file: Path | None = None,
) -> KeyRing:
    """The ring the settings describe. With neither keys nor a key file, ``generated_file``
    (the embedded default's) is read or created; without it that is a ``ConfigurationError``."""
    if keys and key_file:
        raise ConfigurationError(KEYS_SETTING, f"set either it or {KEY_FILE_SETTING}, not both")
    if keys:
        return KeyRing.parse(keys, hmac_key=hmac_key, active_id=active_id)
    if key_file:
        ring = KeyRing.from_file(Path(key_file).expanduser(), hmac_key=hmac_key)
    elif generated_file is not None:
        ring = KeyRing.load_or_create(generated_file)
    else:
        raise ConfigurationError(
            KEYS_SETTING, f"encryption keys are required (or {KEY_FILE_SETTING}); see `inescape keys`"
        )
    if active_id is not None and active_id != ring.active_id:
        raise ConfigurationError(ACTIVE_SETTING, f"{active_id!r} differs from the key file's active key")
    return ring


def normalise(value: str) -> str:
    """What exact lookup compares: NFKC, any script's digits as ASCII, case and spacing folded."""
    if value.isascii():  # NFKC leaves ASCII as it is, and its digits are ASCII already
        return " ".join(value.split()).casefold()
    text = unicodedata.normalize("NFKC", value)
    text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)
    return " ".join(text.split()).casefold()


@functools.lru_cache(maxsize=1024)
def _aad(key_id: str, context: str) -> bytes:
    return f"inescape.field.{VERSION}\x00{key_id}\x00{context}".encode()


class FieldCipher:
    """Encrypts single values into tokens; ``context`` names the column (``"patients.mrn"``)."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring
        self._aead: dict[str, AESGCM] = {}

    def _aesgcm(self, key_id: str) -> AESGCM:
        if key_id not in self._aead:
            self._aead[key_id] = AESGCM(self.keyring.key(key_id))
        return self._aead[key_id]

    def encrypt(self, text: str, *, context: str) -> str:
        key_id = self.keyring.active_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aesgcm(key_id).encrypt(nonce, text.encode("utf-8"), _aad(key_id, context))
        return f"{VERSION}:{key_id}:{_b64e(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str) -> str:
        key_id, blob = _split(token)
        aead = self._aesgcm(key_id)
        try:
            plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(key_id, context))
        except InvalidTag:
            raise DecryptionFailed(
                f"a value of {context} failed authentication: altered, or written for another field"
            ) from None
        return plain.decode("utf-8")

    def key_id_of(self, token: str) -> str:
        return _split(token)[0]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of(token) != self.keyring.active_id

    def reencrypt(self, token: str, *, context: str) -> str:
        """The same value under the active key (the token itself when already there)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, context=context), context=context)

    def blind_index(self, value: str, *, context: str) -> str:
        """64 hex characters, equal for equal ``normalise``d values in the same context."""
        message = f"inescape.blind.{VERSION}\x00{context}\x00{normalise(value)}".encode()
        return hmac.new(self.keyring.hmac_key, message, hashlib.sha256).hexdigest()


def _split(token: str) -> tuple[str, bytes]:
    version, _, rest = token.partition(":")
    key_id, _, payload = rest.partition(":")
    if version != VERSION or not _KEY_ID.match(key_id):
        raise DecryptionFailed("the stored value is not an encrypted token")
    try:
        blob = _b64decode(payload)
    except ValueError:
        blob = b""
    # Only the canonical encoding is accepted, so no character of a token can change unnoticed.
    if len(blob) < NONCE_BYTES + TAG_BYTES or _b64e(blob) != payload:
        raise DecryptionFailed("the stored value is not an encrypted token")
    return key_id, blob


# --- SQLAlchemy column type --------------------------------------------------------------------
# A TypeDecorator cannot receive per-application objects, so the composition root installs the
# one process-wide cipher here (``set_field_cipher``) before any encrypted column is used.
_installed: FieldCipher | None = None


def set_field_cipher(cipher: FieldCipher | None) -> FieldCipher | None:
    """Install the cipher ``EncryptedString`` columns use; returns the previous one."""
    global _installed
    previous, _installed = _installed, cipher
    return previous


def field_cipher() -> FieldCipher:
    if _installed is None:
        raise FieldCipherMissing(
            "no field cipher installed: the composition root must call "
            "inescape.infra.crypto.set_field_cipher(FieldCipher(keyring)) first"
        )
    return _installed


_REFUSED_OPS = frozenset(
    {
        operators.eq,
        operators.ne,
        operators.lt,
        operators.le,
        operators.gt,
        operators.ge,
        operators.in_op,
        operators.not_in_op,
        operators.like_op,
        operators.ilike_op,
        operators.startswith_op,
        operators.endswith_op,
        operators.contains_op,
        operators.between_op,
    }
)


class EncryptedString(TypeDecorator[str]):
    """A text column stored as a token; ``context`` must never change once rows exist.

    SQL cannot compare ciphertexts (every token is different), so comparisons other than with
    ``None`` are refused: look values up through a blind index column instead.
    """

    impl = sa.Text
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator[str]):  # SQLAlchemy's attribute name
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in _REFUSED_OPS and not (len(other) == 1 and other[0] is None):
                raise TypeError("an encrypted column cannot be compared in SQL; use its blind index")
            return super().operate(op, *other, **kwargs)

    def __init__(self, context: str) -> None:
        super().__init__()
        if not context:
            raise ValueError("EncryptedString needs a context such as 'patients.mrn'")
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else field_cipher().encrypt(value, context=self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else field_cipher().decrypt(value, context=self.context)


# --- key rotation -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RotationReport:
    """``changed``: rows another writer updated mid-batch (they wrote under the active key)."""

    table: str
    rotated: int = 0
    failed: int = 0
    changed: int = 0
    batches: int = 0


def encrypted_columns(table: sa.Table) -> dict[str, str]:
    """Column name -> context for each ``EncryptedString`` column of ``table``."""
    return {c.name: c.type.context for c in table.columns if isinstance(c.type, EncryptedString)}


def encrypted_tables(metadata: sa.MetaData) -> list[sa.Table]:
    return [t for t in metadata.sorted_tables if encrypted_columns(t)]


async def rotate(
    engine: AsyncEngine,
    cipher: FieldCipher,
    table: sa.Table,
    *,
    columns: Mapping[str, str] | None = None,
    key: str | None = None,
    batch_size: int = 500,
    progress: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Re-encrypt, ``batch_size`` rows per short transaction, every value of ``columns``
    (name -> context; default: the table's ``EncryptedString`` columns) not under the active key.

    The application keeps running: each row is updated only if its tokens are still the ones
    read (a concurrent write wins). Stopping is safe; the next run picks up what is left.
    """
    contexts = dict(columns) if columns is not None else encrypted_columns(table)
    pk = key or _single_key(table)
    if not contexts or batch_size < 1:
        raise ValueError("rotate needs encrypted columns and a positive batch size")
    raw = sa.table(
        table.name,
        sa.column(pk, table.c[pk].type),
        *(sa.column(name, sa.Text()) for name in contexts),
        schema=table.schema,
    )
    current = f"{VERSION}:{cipher.keyring.active_id}:"
    stale = sa.or_(
        *(raw.c[n].is_not(None) & ~raw.c[n].startswith(current, autoescape=True) for n in contexts)
    )
    query = sa.select(raw.c[pk], *(raw.c[n] for n in contexts)).where(stale).order_by(raw.c[pk])
    report, last = RotationReport(table.name), None
    while True:
        page = query if last is None else query.where(raw.c[pk] > last)
        async with engine.begin() as conn:
            rows = (await conn.execute(page.limit(batch_size))).all()
            if not rows:
                break
            report = await _rotate_rows(conn, cipher, raw, pk, contexts, rows, report)
        last = rows[-1][0]
        if progress is not None:
            progress(report)
        if len(rows) < batch_size:
            break
    return report


def _single_key(table: sa.Table) -> str:
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        raise ValueError(f"{table.name} needs `key=`: rotation pages by a single key column")
    return keys[0].name


async def _rotate_rows(
    conn: AsyncConnection,
    cipher: FieldCipher,
    raw: sa.TableClause,
    pk: str,
    contexts: Mapping[str, str],
    rows: Sequence[Row[Any]],
    report: RotationReport,
) -> RotationReport:
    rotated = failed = changed = 0
    names = list(contexts)
    for row in rows:
        pk_value = row[0]
        tokens: list[str | None] = list(row[1:])
        try:
            new = {
                n: cipher.reencrypt(t, context=contexts[n])
                for n, t in zip(names, tokens, strict=True)
                if t is not None
            }
        except DecryptionFailed as exc:
            failed += 1
            log.warning(
                "cannot re-encrypt a row",
                extra={"table": raw.name, "key": str(pk_value), "detail": exc.detail},
            )
            continue
        unchanged = (raw.c[n].is_not_distinct_from(t) for n, t in zip(names, tokens, strict=True))
        result = await conn.execute(sa.update(raw).where(raw.c[pk] == pk_value, *unchanged).values(new))
        if result.rowcount:
            rotated += 1
        else:
            changed += 1
    return dataclasses.replace(
        report,
        rotated=report.rotated + rotated,
        failed=report.failed + failed,
        changed=report.changed + changed,
        batches=report.batches + 1,
    )
