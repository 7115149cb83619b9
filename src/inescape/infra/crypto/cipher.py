"""Single values as tokens ``v1:<key id>:<base64url(nonce || ciphertext || tag)>``.

AES-256-GCM under the key named in the token, with the column's *context* (``"patients.mrn"``)
bound as associated data, so a token copied into another column does not decrypt. A field
that must be found by exact value (MRN) also stores ``blind_index``: HMAC-SHA256 of the
normalised value under a separate key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from inescape.infra.crypto.encoding import b64decode, b64e
from inescape.infra.crypto.errors import DecryptionFailed
from inescape.infra.crypto.keyring import KEY_ID, KeyRing

VERSION = "v1"
NONCE_BYTES = 12
TAG_BYTES = 16


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
        return f"{VERSION}:{key_id}:{b64e(nonce + sealed)}"

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
    if version != VERSION or not KEY_ID.match(key_id):
        raise DecryptionFailed("the stored value is not an encrypted token")
    try:
        blob = b64decode(payload)
    except ValueError:
        blob = b""
    # Only the canonical encoding is accepted, so no character of a token can change unnoticed.
    if len(blob) < NONCE_BYTES + TAG_BYTES or b64e(blob) != payload:
        raise DecryptionFailed("the stored value is not an encrypted token")
    return key_id, blob
