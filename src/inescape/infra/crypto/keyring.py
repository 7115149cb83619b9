"""The key ring: named AES-256 keys, the active one, and the blind-index HMAC key.

Keys come from ``INESCAPE_ENCRYPTION_KEYS`` + ``INESCAPE_ENCRYPTION_HMAC_KEY`` or from a key file
(``INESCAPE_ENCRYPTION_KEY_FILE``), never from the repository. Only the embedded default, with
nothing configured, generates its own key file (mode 0600) under the data dir on first start;
production must supply keys, and every replica must share them.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from inescape.infra.crypto.encoding import b64decode
from inescape.infra.crypto.errors import UnknownKeyId
from inescape.kernel.errors import ConfigurationError

log = logging.getLogger("inescape.crypto")

KEYS_SETTING = "INESCAPE_ENCRYPTION_KEYS"
KEY_FILE_SETTING = "INESCAPE_ENCRYPTION_KEY_FILE"
HMAC_SETTING = "INESCAPE_ENCRYPTION_HMAC_KEY"
ACTIVE_SETTING = "INESCAPE_ENCRYPTION_ACTIVE_KEY_ID"
KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}\Z")


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
            if not KEY_ID.match(key_id):
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
                parsed[key_id] = b64decode(material)
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
            keys = {str(k): b64decode(str(v)) for k, v in doc["keys"].items()}
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
        return b64decode(str(material))
    except ValueError:
        raise ConfigurationError(setting, "the HMAC key is not base64") from None


def _write_private(path: Path, text: str, *, replace: bool) -> bool:
    """Write via a 0600 temporary file; without ``replace``, keep an existing file (False)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
