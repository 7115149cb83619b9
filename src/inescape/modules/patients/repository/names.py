"""The blind index of names: keyed hashes of the words of each record's given and family names
(``patient_name_terms``), which a name search looks candidates up by. Names are encrypted with
a random nonce, so no SQL predicate can match them; a word's hash can be.

A record's terms: for every word of its names (case and accents folded, split on spaces,
hyphens and apostrophes) the hash of the word, and for a word of 3 or more letters the hash of
its first three letters under another context (what a search for "kar" or "karimi" looks up).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final

from sqlalchemy import Exists, delete, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.crypto import field_cipher
from inescape.modules.patients.models import name_terms, patients

PREFIX: Final = 3  # letters of a word that its prefix term hashes
# A term is the keyed hash cut to 16 hex characters (64 bits): the server confirms every
# candidate by decrypting its names, so a collision costs only a wasted read, never a wrong
# answer; and the shorter the term, the less each one says about the name behind it.
TERM_CHARS: Final = 16
_WORD_BREAK = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014'\u2018\u2019\u02bc]+")


def folded(text: str) -> str:
    """Case and accents aside: "Zahra Ahmadi" matches "zahra", "AHMADI" and "Zahrá"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of ``text`` ("Al-Sádr O'Neil" -> al, sadr, o, neil)."""
    return [w for w in _WORD_BREAK.split(folded(text)) if w]


def word_term(word: str) -> str:
    return field_cipher().blind_index(word, context="patients.name")[:TERM_CHARS]


def prefix_term(word: str) -> str:
    """The term of a word's first three letters (``word`` folded, of 3 letters or more)."""
    return field_cipher().blind_index(word[:PREFIX], context="patients.name_prefix")[:TERM_CHARS]


def terms_of(given_name: str | None, family_name: str | None) -> set[str]:
    """Every term of a record with these names (none for a record without names)."""
    found: set[str] = set()
    if not given_name and not family_name:  # a de-identified record: no names to fold
        return found
    for word in words(f"{given_name or ''} {family_name or ''}"):
        found.add(word_term(word))
        if len(word) >= PREFIX:
            found.add(prefix_term(word))
    return found


def term_rows(patient_id: str, given_name: str | None, family_name: str | None) -> list[tuple[str, str]]:
    """(term, patient id) rows of one record, in the column order of ``TERM_COLUMNS``."""
    return [(term, patient_id) for term in sorted(terms_of(given_name, family_name))]


TERM_COLUMNS: Final = ("term", "patient_id")


async def insert_terms(session: AsyncSession, rows: Sequence[tuple[str, str]]) -> None:
    if rows:
        await session.execute(insert(name_terms), [dict(zip(TERM_COLUMNS, r, strict=True)) for r in rows])


async def replace_terms(
    session: AsyncSession, patient_id: str, given_name: str | None, family_name: str | None
) -> None:
    """The terms of ``patient_id`` become those of these names (after a change of name)."""
    await session.execute(delete(name_terms).where(name_terms.c.patient_id == patient_id))
    await insert_terms(session, term_rows(patient_id, given_name, family_name))


async def reindex_names(session: AsyncSession, patient_id: str) -> None:
    """The terms of ``patient_id`` become those of its stored names (after a change of name,
    read back after the update: a concurrent change of the other name is kept too)."""
    query = select(patients.c.given_name, patients.c.family_name).where(patients.c.id == patient_id)
    row = (await session.execute(query)).one()
    await replace_terms(session, patient_id, row.given_name, row.family_name)


async def unindexed(
    session: AsyncSession, *, after: str | None, limit: int
) -> list[tuple[str, str | None, str | None]]:
    """Up to ``limit`` (id, given name, family name) of live named records that have no term
    (stored before the index existed), in id order past ``after``."""
    query = (
        select(patients.c.id, patients.c.given_name, patients.c.family_name)
        .where(
            patients.c.deleted_at.is_(None),
            or_(patients.c.given_name.is_not(None), patients.c.family_name.is_not(None)),
            ~exists().where(name_terms.c.patient_id == patients.c.id),
        )
        .order_by(patients.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(patients.c.id > after)
    return [(r.id, r.given_name, r.family_name) for r in (await session.execute(query)).all()]


def having_terms(terms: Iterable[str]) -> list[Exists]:
    """Predicates on ``patients``: the record has every one of ``terms``."""
    return [
        exists().where(name_terms.c.patient_id == patients.c.id, name_terms.c.term == term)
        for term in sorted(set(terms))
    ]
