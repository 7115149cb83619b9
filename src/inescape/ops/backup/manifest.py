"""``manifest.json``: no data, only what identifies and checks each part (sizes, SHA-256 of
plaintext and ciphertext, counts), with an HMAC under the backup key so it cannot be edited
to match a swapped part."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from inescape.kernel.errors import Invalid
from inescape.ops.backup.crypto import BackupCorrupt, PartDigest
from inescape.ops.backup.targets import Target

MANIFEST = "manifest.json"
FORMAT = "inescape-backup"
FORMAT_VERSION = 1


@dataclass
class Part:
    name: str
    file: str
    bytes: int
    sha256: str
    cipher_bytes: int
    cipher_sha256: str
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, file: str, digest: PartDigest, counts: dict[str, int]) -> Part:
        return cls(
            name,
            file,
            digest.plain_bytes,
            digest.plain_sha256,
            digest.cipher_bytes,
            digest.cipher_sha256,
            counts,
        )

    def digest(self) -> PartDigest:
        return PartDigest(self.bytes, self.cipher_bytes, self.sha256, self.cipher_sha256)


def manifest_mac(manifest: dict[str, Any], material: bytes) -> str:
    body = json.dumps({k: v for k, v in manifest.items() if k != "mac"}, sort_keys=True).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"inescape.backup.manifest.v1").derive(
        material
    )
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def read_manifest(target: Target) -> dict[str, Any]:
    if not target.exists(MANIFEST):
        raise Invalid(f"no {MANIFEST} at {target.location}: not a backup")
    try:
        manifest = json.loads(b"".join(target.read(MANIFEST)))
    except ValueError:
        raise BackupCorrupt(f"{MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupCorrupt(f"{MANIFEST} is not an INEsCape backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise Invalid(f"backup format {manifest.get('format_version')} is not readable by this version")
    return manifest
