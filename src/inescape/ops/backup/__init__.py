"""``inescape backup`` and ``inescape restore``: the whole installation in encrypted parts.

A backup is a folder (or ``s3://bucket/prefix``) holding ``manifest.json`` and one sealed file
per part: ``database`` (pg_dump custom format, or the SQLite file), ``documents`` (NDJSON),
``objects`` and ``objects-index``. The manifest carries no data, only what identifies and
checks the parts (sizes, SHA-256 of plaintext and ciphertext, counts), and an HMAC under the
backup key so it cannot be edited to match a swapped part.

Restore reads and checks every part before it writes anything, and only into an empty
installation: a fresh database, Mongo database, bucket prefix or data folder.

``backing_up`` and ``restoring`` run the two; ``installation`` opens the stores, ``manifest`` writes
and checks ``manifest.json``, ``crypto`` seals the parts, ``targets`` stores them, ``sql`` and
``data`` read and write the database, documents and objects.
"""

from inescape.ops.backup.backing_up import backup
from inescape.ops.backup.installation import (
    Installation,
    Reporter,
    RestoreRefused,
    SilentReporter,
    close_installation,
    open_installation,
)
from inescape.ops.backup.manifest import FORMAT, FORMAT_VERSION, MANIFEST, Part, read_manifest
from inescape.ops.backup.restoring import Restore, restore

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "Installation",
    "Part",
    "Reporter",
    "Restore",
    "RestoreRefused",
    "SilentReporter",
    "backup",
    "close_installation",
    "open_installation",
    "read_manifest",
    "restore",
]
