"""What can go wrong reading an encrypted value, or using an encrypted column too early."""

from __future__ import annotations

from inescape.kernel.errors import Invalid


class DecryptionFailed(Invalid):
    """A stored value could not be decrypted: altered, truncated, moved to another column
    or object, or not a token at all. The detail never contains the value."""


class UnknownKeyId(DecryptionFailed):
    """The value names a key that is not in the ring (retired too early, or the wrong keys)."""


class FieldCipherMissing(RuntimeError):
    """An encrypted column was used before the composition root installed a cipher."""
