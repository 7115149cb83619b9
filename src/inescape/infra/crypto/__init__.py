"""Encryption at rest for identifying fields (name, MRN, national id, birth date, address, phone).

A value is stored as a token ``v1:<key id>:<base64url(nonce || ciphertext || tag)>``: AES-256-GCM
under the key named in the token, with the column's *context* (``"patients.mrn"``) bound as
associated data, so a token copied into another column does not decrypt. New values use the
ring's active key; older keys stay in the ring until ``rotate`` has moved every value off them.
A field that must be found by exact value (MRN) also stores ``blind_index``: HMAC-SHA256 of the
normalised value under a separate key.

``keyring`` holds the keys and where they come from, ``cipher`` the tokens and blind indexes,
``column`` the ``EncryptedString`` column type and the process's cipher, ``rotation`` the
re-encryption of stored values.
"""

from inescape.infra.crypto.cipher import NONCE_BYTES, TAG_BYTES, VERSION, FieldCipher, normalise
from inescape.infra.crypto.column import EncryptedString, field_cipher, set_field_cipher
from inescape.infra.crypto.errors import DecryptionFailed, FieldCipherMissing, UnknownKeyId
from inescape.infra.crypto.keyring import (
    ACTIVE_SETTING,
    HMAC_SETTING,
    KEY_BYTES,
    KEY_FILE_SETTING,
    KEYS_SETTING,
    KeyRing,
    generate_key_file,
    load_keyring,
    new_key_id,
)
from inescape.infra.crypto.rotation import RotationReport, encrypted_columns, encrypted_tables, rotate

__all__ = [
    "ACTIVE_SETTING",
    "HMAC_SETTING",
    "KEYS_SETTING",
    "KEY_BYTES",
    "KEY_FILE_SETTING",
    "NONCE_BYTES",
    "TAG_BYTES",
    "VERSION",
    "DecryptionFailed",
    "EncryptedString",
    "FieldCipher",
    "FieldCipherMissing",
    "KeyRing",
    "RotationReport",
    "UnknownKeyId",
    "encrypted_columns",
    "encrypted_tables",
    "field_cipher",
    "generate_key_file",
    "load_keyring",
    "new_key_id",
    "normalise",
    "rotate",
    "set_field_cipher",
]
