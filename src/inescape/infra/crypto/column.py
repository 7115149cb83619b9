"""``EncryptedString``: a SQLAlchemy column stored as a token, through the process's cipher."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from inescape.infra.crypto.cipher import FieldCipher
from inescape.infra.crypto.errors import FieldCipherMissing

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
