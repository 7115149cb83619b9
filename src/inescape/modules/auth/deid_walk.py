"""The walk of one record through a compiled ``DeidPolicy``: what happens to each field
(removed, shifted, generalised, kept) by its kind. ``Deidentifier`` (``deid.py``) drives it."""

from __future__ import annotations

import enum
import functools
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final

from inescape.modules.auth.api import AGE_OVER_89, RESTRICTED_ZIP3, DateMode, DeidPolicy, IdentifierKind

_LONG_NUMBER = 1_000_000
_REMOVED: Final = frozenset({"name", "contact", "identifier", "free_text"})
_WALKED: Final = frozenset({"keep", "geo_subdivision", None})  # kinds whose mappings we enter
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_FULL_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_PARTIAL_DATE = re.compile(r"\d{4}(?:-\d{2})?")  # FHIR allows "2020" and "2020-03"


def _snake(key: str) -> str:
    return _CAMEL.sub("_", key).replace("-", "_").replace(" ", "_").lower()


class Rules:
    """A policy compiled for lookups by path; paths repeat per record, so answers are cached."""

    def __init__(self, policy: DeidPolicy) -> None:
        self._fields = {".".join(map(_snake, k.split("."))): v for k, v in policy.fields.items()}
        patterns = [(_snake(p), kind, True) for p, kind in policy.prefixes.items()]
        patterns += [(_snake(s), kind, False) for s, kind in policy.suffixes.items()]
        self._patterns = sorted(patterns, key=lambda item: -len(item[0]))
        self.kind = functools.lru_cache(maxsize=4096)(self._resolve)

    def _resolve(self, path: tuple[str, ...]) -> IdentifierKind | None:
        for start in range(len(path)):  # the longest dotted path first, the bare key last
            found = self._fields.get(".".join(path[start:]))
            if found is not None:
                return found
        key = path[-1]
        for pattern, kind, is_prefix in self._patterns:
            if key.startswith(pattern) if is_prefix else key.endswith(pattern):
                return kind
        return None


class _Drop:
    """Marks a value to leave out (``None`` is a value a record may legitimately hold)."""


_DROP: Final = _Drop()


class Walk:
    """One record's pass: the patient's offset and the day ages are reckoned on."""

    def __init__(
        self,
        rules: Rules,
        *,
        mode: DateMode,
        offset: timedelta,
        as_of: date,
        keep_unknown_text: bool,
    ) -> None:
        self.rules = rules
        self.mode = mode
        self.offset = offset
        self.as_of = as_of
        self.keep_unknown_text = keep_unknown_text

    def mapping(self, value: Mapping[Any, Any], path: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for raw_key, item in value.items():
            key = str(raw_key)
            sub = (*path, _snake(key))
            kind = self.rules.kind(sub)
            if kind == "birth_date":
                out.update(self.birth(item))
                continue
            cleaned = self.node(item, sub, kind)
            if cleaned is not _DROP:
                out[key] = cleaned
        return out

    def node(self, value: Any, path: tuple[str, ...], kind: IdentifierKind | None) -> Any:
        if kind in _REMOVED:
            return _DROP
        if isinstance(value, Mapping):
            # Entered only where children can be judged by their own keys (an address keeps
            # its province); a mapping under a date or age key could spell the value out.
            return self.mapping(value, path) if kind in _WALKED else _DROP
        if isinstance(value, list | tuple | set | frozenset):
            items = [self.node(item, path, kind) for item in value]
            kept = [item for item in items if item is not _DROP]
            return kept if kept or not items else _DROP  # no empty husk of a removed list
        return self.scalar(value, kind)

    def scalar(self, value: Any, kind: IdentifierKind | None) -> Any:
        if value is None:
            return None
        if kind == "geo_subdivision":
            return _DROP
        if kind == "date" or _looks_like_date(value):
            return self.date(value)
        if kind == "age":
            return _age(value)
        if kind == "postal_code":
            return _postal_code(value)
        if kind == "keep":
            return _plain(value)
        return self.unknown(value)

    def unknown(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value if abs(value) < _LONG_NUMBER else _DROP  # NaN fails this too
        if isinstance(value, str) and self.keep_unknown_text:
            return value
        return _DROP

    def date(self, value: Any) -> Any:
        when = _parse_when(value)
        if when is None:
            return _year(value)
        if self.mode == "year":
            return when.year
        try:
            return (when + self.offset).isoformat()
        except OverflowError:  # within a year of 0001 or 9999: no honest shifted value
            return _DROP

    def birth(self, value: Any) -> dict[str, Any]:
        when = _parse_when(value)
        if when is not None:
            born = when.date() if isinstance(when, datetime) else when
            year = born.year
            before_birthday = (self.as_of.month, self.as_of.day) < (born.month, born.day)
            age = self.as_of.year - year - before_birthday
        else:
            found = _year(value)
            if not isinstance(found, int):
                return {}
            year = found
            age = self.as_of.year - year  # the oldest the patient can be, to err safe
        return {"age_group": AGE_OVER_89} if age > 89 else {"birth_year": year}


def _looks_like_date(value: Any) -> bool:
    return isinstance(value, date) or (isinstance(value, str) and bool(_FULL_DATE.fullmatch(value.strip())))


def _parse_when(value: Any) -> date | None:
    if isinstance(value, date):  # datetime included
        return value
    if not isinstance(value, str) or not _FULL_DATE.fullmatch(value.strip()):
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
    except ValueError:
        return None


def _year(value: Any) -> int | _Drop:
    """A bare or partial date: only its year can be kept (a year alone is not identifying)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 9999:
        return value
    if isinstance(value, str) and _PARTIAL_DATE.fullmatch(value.strip()):
        return int(value.strip()[:4])
    return _DROP


def _age(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text == AGE_OVER_89:
            return AGE_OVER_89
        try:
            number = float(text)
        except ValueError:
            return _DROP
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        return _DROP
    if not math.isfinite(number):
        return _DROP
    return AGE_OVER_89 if number > 89 else value


def _postal_code(value: Any) -> str | _Drop:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return _DROP
    # Any script's digits count (Persian "۱۲۳۴۵" is 12345); the output is always ASCII.
    digits = "".join(str(unicodedata.decimal(ch)) for ch in str(value) if ch.isdecimal())
    if len(digits) < 5:  # not a ZIP-like code (UK, Canada): nothing safe to keep
        return _DROP
    prefix = digits[:3]
    return "000" if prefix in RESTRICTED_ZIP3 else prefix


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return _DROP  # binary could be a photograph or a scan, and is not JSON anyway
    return str(value)  # Decimal, UUID and the like, as JSON text
