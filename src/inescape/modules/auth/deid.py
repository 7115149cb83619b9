"""De-identification by HIPAA Safe Harbor (45 CFR 164.514(b)(2)) for researchers and exports.

The gateway applies one ``Deidentifier`` to every patient response a ``researcher`` receives
and to every export. It walks any JSON-like record and decides per field, by a ``DeidPolicy``
keyed on field names, because the patient model is defined elsewhere and will grow:

- names, contact details (phone, fax, email, URL, IP), identifying numbers (MRN, national id,
  SSN, insurance, account, licence, device, ``*_id``) and free text are removed;
- geographic units below state/province (street, city, district, coordinates) are removed;
  postal codes keep their first 3 digits, or ``"000"`` for the sparsely populated US ZIP3s;
- dates are shifted by a per-patient offset of 1 to 365 days either way, the same for every
  date of that patient, so intervals survive exactly (``date_mode="shift"``); or reduced to
  their year (``date_mode="year"``);
- a birth date becomes ``birth_year``; a patient over 89 gets ``age_group: "90+"`` and no
  year at all, and every age over 89 becomes ``"90+"``;
- ``research_id`` (``R-`` + HMAC-SHA256 of the patient id) replaces the patient's ids: stable
  across calls and exports, not reversible without the secret.

Fail closed: a field the policy does not know keeps its value only when the value cannot
identify anyone by itself: booleans, nulls and numbers below a million (measurements, scores,
counts; longer numbers may be phone numbers, record numbers or epoch timestamps). Unknown
strings are dropped, except ISO dates, which are shifted like any date. So a clinical text
field a later issue adds disappears until it is named ``keep`` in the policy; it never leaks.
Keys are field names, not data: a mapping keyed by dates or MRNs must be reshaped first.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

import msgspec

from inescape.kernel.clock import Clock, SystemClock
from inescape.kernel.errors import Invalid

IdentifierKind = Literal[
    "name",
    "date",
    "birth_date",
    "age",
    "geo_subdivision",
    "postal_code",
    "contact",
    "identifier",
    "free_text",
    "keep",
]
DateMode = Literal["shift", "year"]

AGE_OVER_89: Final = "90+"
RESEARCH_ID_PREFIX: Final = "R-"
MAX_SHIFT_DAYS: Final = 365
MIN_SECRET_BYTES: Final = 16
# Safe Harbor: these ZIP3 areas hold 20,000 people or fewer, so they become "000".
RESTRICTED_ZIP3: Final = frozenset(
    {"036", "059", "063", "102", "203", "556", "692", "790", "821"}
    | {"823", "830", "831", "878", "879", "884", "890", "893"}
)

_RESEARCH_ID_HEX = 16  # 64 bits: collisions stay unlikely far beyond any cohort size
_LONG_NUMBER = 1_000_000
_REMOVED: Final = frozenset({"name", "contact", "identifier", "free_text"})
_WALKED: Final = frozenset({"keep", "geo_subdivision", None})  # kinds whose mappings we enter
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_FULL_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_PARTIAL_DATE = re.compile(r"\d{4}(?:-\d{2})?")  # FHIR allows "2020" and "2020-03"


class DeidentificationInvalid(Invalid):
    """The de-identifier was set up or called with something it cannot work with."""


class DeidPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Which fields hold which kind of identifier.

    ``fields`` maps a key name (matched at any depth) or a dotted path of key names
    (``"treatments.name"``, list levels skipped, matched against the end of the path) to a
    kind. ``prefixes`` and ``suffixes`` classify the remaining keys by name. A longer path
    beats a shorter one, any ``fields`` entry beats a pattern, a longer pattern beats a
    shorter one. Keys compare in snake_case: ``birthDate`` is ``birth_date``.
    """

    fields: dict[str, IdentifierKind] = msgspec.field(default_factory=dict)
    prefixes: dict[str, IdentifierKind] = msgspec.field(default_factory=dict)
    suffixes: dict[str, IdentifierKind] = msgspec.field(default_factory=dict)
    unknown_text: Literal["drop", "keep"] = "drop"

    def extended(self, fields: Mapping[str, IdentifierKind]) -> DeidPolicy:
        """This policy with more (or overriding) ``fields`` entries."""
        return msgspec.structs.replace(self, fields={**self.fields, **fields})


def _kinds(kind: IdentifierKind, *keys: str) -> dict[str, IdentifierKind]:
    return dict.fromkeys(keys, kind)


# Field names assumed for the mCODE-shaped patient record (patients module, later issue).
DEFAULT_POLICY: Final = DeidPolicy(
    fields={
        **_kinds("name", "name", "names", "full_name", "given_name", "given_names", "first_name"),
        **_kinds("name", "middle_name", "family_name", "last_name", "surname", "maiden_name"),
        **_kinds("name", "given", "family", "nickname", "alias", "next_of_kin", "signature"),
        **_kinds("identifier", "id", "patient_id", "mrn", "medical_record_number", "national_id"),
        **_kinds("identifier", "national_code", "ssn", "social_security_number", "passport"),
        **_kinds("identifier", "insurance", "health_plan", "account", "license", "license_plate"),
        **_kinds("identifier", "certificate", "vehicle", "device", "serial", "udi", "biometric"),
        **_kinds("identifier", "fingerprint", "photo", "photograph", "image", "identifier"),
        **_kinds("identifier", "identifiers", "username", "user", "research_id"),
        **_kinds("contact", "phone", "phones", "mobile", "telephone", "tel", "fax", "email"),
        **_kinds("contact", "emails", "url", "website", "homepage", "ip", "ip_address"),
        **_kinds("contact", "telecom", "contact", "contacts", "emergency_contact", "area_code"),
        **_kinds("geo_subdivision", "address", "addresses", "line", "lines", "street", "city"),
        **_kinds("geo_subdivision", "house_number", "building", "apartment", "town", "village"),
        **_kinds("geo_subdivision", "district", "county", "municipality", "neighborhood"),
        **_kinds("geo_subdivision", "neighbourhood", "locality", "suburb", "coordinates"),
        **_kinds("geo_subdivision", "latitude", "longitude", "lat", "lon", "lng", "geolocation"),
        **_kinds("geo_subdivision", "place_of_birth", "birth_place", "region"),
        **_kinds("postal_code", "postal_code", "postcode", "zip", "zip_code", "zipcode"),
        **_kinds("birth_date", "birth_date", "birthdate", "date_of_birth", "dob", "birth_year"),
        **_kinds("birth_date", "year_of_birth"),
        **_kinds("age", "age"),
        **_kinds("date", "date", "datetime", "timestamp"),
        **_kinds("free_text", "note", "notes", "comment", "comments", "text", "narrative"),
        **_kinds("free_text", "description", "remarks", "free_text", "summary", "report"),
        # Clinical content: demographics Safe Harbor allows, and the cancer record itself.
        **_kinds("keep", "sex", "gender", "ethnicity", "race", "country", "province", "state"),
        **_kinds("keep", "vital_status", "status", "condition", "conditions", "diagnosis"),
        **_kinds("keep", "histology", "histology_code", "morphology", "morphology_code"),
        **_kinds("keep", "topography", "topography_code", "location", "tumor_location"),
        **_kinds("keep", "tumour_location", "primary_site", "site", "grade", "differentiation"),
        **_kinds("keep", "stage", "stage_group", "group", "staging", "clinical_stage"),
        **_kinds("keep", "pathological_stage", "stage_type", "staging_system", "edition"),
        **_kinds("keep", "t", "n", "m", "t_category", "n_category", "m_category"),
        **_kinds("keep", "ct", "cn", "cm", "pt", "pn", "pm", "ypt", "ypn", "ypm"),
        **_kinds("keep", "cT", "cN", "cM", "pT", "pN", "pM", "ypT", "ypN", "ypM"),
        **_kinds("keep", "biomarker", "biomarkers", "her2", "her2_status", "pd_l1", "pd_l1_cps"),
        **_kinds("keep", "msi", "msi_status", "mmr", "treatment", "treatments", "treatment_type"),
        **_kinds("keep", "type", "category", "intent", "modality", "procedure", "procedure_name"),
        **_kinds("keep", "drug", "drug_name", "regimen", "regimen_name", "dose", "dose_gy"),
        **_kinds("keep", "fractions", "cycles", "cycle_number", "line_of_therapy"),
        **_kinds("keep", "observation", "observations", "lab", "labs", "test", "test_name"),
        **_kinds("keep", "value", "unit", "units", "result", "interpretation", "ecog"),
        **_kinds("keep", "outcome", "outcomes", "response", "recurrence", "recurrence_type"),
        **_kinds("keep", "recurrence_site", "cause_of_death", "smoking_status", "alcohol_use"),
        **_kinds("keep", "risk_factors", "code", "system", "display", "coding", "loinc_code"),
        **_kinds("keep", "snomed_code", "icd10_code", "icdo3_code"),
    },
    prefixes={"date_of_": "date", "age_": "age"},
    suffixes={
        **_kinds("date", "_date", "_datetime", "_date_time", "_at", "_timestamp"),
        **_kinds("age", "_age"),
        **_kinds("name", "_name", "_names"),
        **_kinds("identifier", "_id", "_ids", "_number", "_no", "_mrn", "_ssn", "_identifier"),
        **_kinds("contact", "_phone", "_mobile", "_fax", "_email", "_url", "_ip", "_contact"),
        **_kinds("geo_subdivision", "_address", "_city", "_street", "_district", "_county"),
        **_kinds("postal_code", "_postal_code", "_zip", "_zip_code", "_postcode"),
        **_kinds("free_text", "_note", "_notes", "_comment", "_comments", "_text"),
    },
)


def _snake(key: str) -> str:
    return _CAMEL.sub("_", key).replace("-", "_").replace(" ", "_").lower()


class _Rules:
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


class Deidentifier:
    """Safe Harbor de-identification with a secret key for research ids and date offsets.

    The same ``secret`` must be used everywhere (API responses, exports, every replica), or
    one patient gets several research ids and offsets.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        date_mode: DateMode = "shift",
        policy: DeidPolicy = DEFAULT_POLICY,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
            raise DeidentificationInvalid(f"the secret must be at least {MIN_SECRET_BYTES} bytes")
        if date_mode not in ("shift", "year"):
            raise DeidentificationInvalid(f"date_mode must be 'shift' or 'year', not {date_mode!r}")
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)  # copied per id: no key setup
        self.date_mode: DateMode = date_mode
        self.policy = policy
        self._rules = _Rules(policy)
        self._clock = clock or SystemClock()

    def research_id(self, patient_id: str) -> str:
        """The pseudonym that stands for ``patient_id`` in everything a researcher sees."""
        return RESEARCH_ID_PREFIX + self._mac(b"research-id", patient_id)[:_RESEARCH_ID_HEX]

    def deidentify(
        self, record: Mapping[str, Any], *, patient_id: str, as_of: date | None = None
    ) -> dict[str, Any]:
        """A de-identified, JSON-friendly copy of ``record``; ``record`` is left as it was.

        ``as_of`` is the day ages are reckoned on (today by default).
        """
        if not isinstance(record, Mapping):
            raise DeidentificationInvalid("a record to de-identify must be a mapping")
        walk = _Walk(
            self._rules,
            mode=self.date_mode,
            offset=self.date_offset(patient_id),
            as_of=as_of or self._clock.now().astimezone(UTC).date(),
            keep_unknown_text=self.policy.unknown_text == "keep",
        )
        body = walk.mapping(record, ())
        body.pop("research_id", None)
        return {"research_id": self.research_id(patient_id), **body}

    def deidentify_many(
        self,
        records: Iterable[Mapping[str, Any]],
        patient_id_of: Callable[[Mapping[str, Any]], str],
        *,
        as_of: date | None = None,
    ) -> Iterator[dict[str, Any]]:
        """De-identify an export lazily, one record at a time, so it can stream.

        Rows of the same patient share a research id and a date offset, so they still join
        and their intervals hold. Ages are reckoned on one day for the whole export.
        """
        day = as_of or self._clock.now().astimezone(UTC).date()
        for record in records:
            yield self.deidentify(record, patient_id=patient_id_of(record), as_of=day)

    def date_offset(self, patient_id: str) -> timedelta:
        """The shift every date of ``patient_id`` gets in ``date_mode="shift"``."""
        # Uniform over -365..-1 and 1..365: never 0, so no date is ever left unshifted.
        draw = int(self._mac(b"date-shift", patient_id)[:16], 16) % (2 * MAX_SHIFT_DAYS)
        days = draw - MAX_SHIFT_DAYS if draw < MAX_SHIFT_DAYS else draw - MAX_SHIFT_DAYS + 1
        return timedelta(days=days)

    def _mac(self, purpose: bytes, patient_id: str) -> str:
        if not isinstance(patient_id, str) or not patient_id:
            raise DeidentificationInvalid("a patient id is needed to de-identify a record")
        # The purpose label keeps the research id from revealing anything about the offset.
        message = purpose + b"\x00" + patient_id.encode()
        keyed = self._keyed.copy()
        keyed.update(message)
        return keyed.hexdigest()


class _Walk:
    """One record's pass: the patient's offset and the day ages are reckoned on."""

    def __init__(
        self,
        rules: _Rules,
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
