"""The FHIR server's side of the mapping (framework-free): resource ids a read can resolve, the
de-identified copy of a record a researcher is served, search matching (token and date with
prefixes), Bundles, the CapabilityStatement, OperationOutcomes and the configurable systems.

Ids: the read API and ``$export`` give every resource of a record the id
``<patient id>.<place>`` (``0190....c.0`` for the first Condition, ``....s.0.t`` for the T
category of the first staging), so ``GET /fhir/Condition/<id>`` finds the record from the id
alone. A de-identified resource has the patient's research id in place of the patient id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.patients.api import PatientRecord
from inescape.modules.patients.fhir import codes as c
from inescape.modules.patients.fhir.codes import Json
from inescape.modules.patients.fhir.context import Context
from inescape.modules.patients.fhir.export import resources

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"
FHIR_VERSION = "4.0.1"
ResourceType = Literal["Patient", "Condition", "Observation", "Procedure", "MedicationRequest"]
TYPES: tuple[ResourceType, ...] = ("Patient", "Condition", "Observation", "Procedure", "MedicationRequest")
# Short names of a resource's place in its record: ids stay within FHIR's 64 characters.
_SHORT = {
    "condition": "c",
    "staging": "s",
    "biomarker": "b",
    "treatment": "t",
    "observation": "o",
    "risk-factor": "rf",
    "outcome": "out",
    "agent": "a",
    "volume": "v",
}
# The element each type's date search looks at, and the search parameter names it answers to.
DATE_PARAMS: dict[str, tuple[str, ...]] = {
    "Patient": ("birthdate",),
    "Condition": ("onset-date", "date"),
    "Observation": ("date",),
    "Procedure": ("date",),
    "MedicationRequest": ("authoredon", "date"),
}
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T.*)?\Z")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")


class ServerContext(Context):
    """A record's resources as the server serves them: relative references, readable ids."""

    def __init__(self, record: PatientRecord) -> None:
        super().__init__(record, "")

    def id(self, path: str) -> str:
        place = ".".join(_SHORT.get(part, part).replace("_", "-") for part in path.split("/"))
        return f"{self.record.id}.{place}"


def owner_of(resource_id: str) -> str:
    """The patient (or research) id in a resource id of this server."""
    return resource_id.split(".", 1)[0]


def record_resources(record: PatientRecord, types: Iterable[str] = TYPES) -> list[Json]:
    """The record's resources of ``types`` (the read API's five by default)."""
    wanted = set(types)
    return [r for r in resources(ServerContext(record)) if r["resourceType"] in wanted]


# --- de-identification --------------------------------------------------------------------


@dataclass(frozen=True)
class Pseudonym:
    """What the gateway's de-identifier gives one patient: its research id, the date shift,
    and whether dates are shifted or reduced to their year."""

    research_id: str
    offset: timedelta
    year_only: bool


def deidentified(record: PatientRecord, who: Pseudonym) -> PatientRecord:
    """The record as a researcher may see it, ready for the ordinary export: the research id
    for the id; no name, identifier, contact, address, source or free text; every date shifted
    by the patient's offset (the same the gateway's ``view_for`` applies)."""
    shift = timedelta(0) if who.year_only else who.offset

    def moved(struct: Any) -> Any:
        changes = {
            name: getattr(struct, name) + shift
            for name in struct.__struct_fields__
            if isinstance(getattr(struct, name), date)
        }
        return msgspec.structs.replace(struct, **changes)

    outcome = record.outcome
    if outcome is not None:
        outcome = moved(msgspec.structs.replace(outcome, cause_of_death=None, recurrence_site=None))
    fitness = record.fitness_for_surgery
    if fitness is not None:  # who assessed it is staff identity, the note free text
        fitness = moved(msgspec.structs.replace(fitness, assessed_by="", note=None))
    return msgspec.structs.replace(
        record,
        id=who.research_id,
        given_name=None,
        family_name=None,
        mrn=None,
        national_id=None,
        address=None,
        phone=None,
        email=None,
        source=None,
        source_record_id=None,
        conditions=[moved(x) for x in record.conditions],
        staging=[moved(x) for x in record.staging],
        biomarkers=[moved(x) for x in record.biomarkers],
        treatments=[moved(x) for x in record.treatments],
        observations=[moved(x) for x in record.observations],
        outcome=outcome,
        fitness_for_surgery=fitness,
        comorbidities=[moved(x) for x in record.comorbidities],
    )


def deidentified_resources(
    record: PatientRecord, who: Pseudonym, *, today: date, types: Iterable[str] = TYPES
) -> list[Json]:
    """``record_resources`` of the de-identified record; the birth date is given as its year
    only (none at all past 89, Safe Harbor), and in year mode every date is its year."""
    out = record_resources(deidentified(record, who), types)
    born = record.birth_date
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    for resource in out:
        if resource["resourceType"] == "Patient":
            resource.pop("birthDate", None)
            if age <= 89:
                resource["birthDate"] = str(born.year)
            resource["identifier"] = [
                {"use": "secondary", "system": c.RESEARCH_ID_SYSTEM, "value": who.research_id}
            ]
    return [_years(r) for r in out] if who.year_only else out


def _years(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _years(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_years(v) for v in value]
    if isinstance(value, str) and _ISO_DAY.match(value):
        return value[:4]
    return value


# --- search -------------------------------------------------------------------------------


def day_range(text: str, field: str = "date") -> tuple[date, date]:
    """The days a FHIR date (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, a dateTime) covers."""
    found = _DATE.match(text)
    try:
        if found is None:
            raise ValueError
        year, month, day = (int(g) if g else None for g in found.groups())
        assert year is not None
        if month is None:
            return date(year, 1, 1), date(year, 12, 31)
        if day is None:
            start = date(year, month, 1)
            after = date(year + month // 12, month % 12 + 1, 1)
            return start, after - timedelta(days=1)
        return (d := date(year, month, day)), d
    except ValueError:
        raise Invalid(
            f"{field}: {text!r} is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)",
            errors=[{"field": field, "message": "not a date"}],
        ) from None


@dataclass(frozen=True)
class DateTest:
    prefix: str
    low: date
    high: date

    def holds(self, low: date, high: date) -> bool:
        """FHIR's date comparison of a resource's range against the search's."""
        match self.prefix:
            case "eq":
                return self.low <= low and high <= self.high
            case "ne":
                return not (self.low <= low and high <= self.high)
            case "gt":
                return high > self.high
            case "lt":
                return low < self.low
            case "ge":
                return high >= self.low
            case _:  # le
                return low <= self.high


def date_test(value: str, field: str) -> DateTest:
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    if prefix not in PREFIXES:
        raise Invalid(
            f"{field}: the prefix {prefix!r} is not supported; use one of {', '.join(PREFIXES)}",
            errors=[{"field": field, "message": "unsupported prefix"}],
        )
    return DateTest(prefix, *day_range(text, field))


def resource_dates(resource: Json) -> tuple[date, date] | None:
    """The days the resource's searchable date covers (None: it has none)."""
    kind = resource["resourceType"]
    if kind == "Procedure":
        period = resource.get("performedPeriod") or {}
        if "start" not in period:
            return None
        low = day_range(period["start"])[0]
        return low, day_range(period["end"])[1] if "end" in period else low
    key = {
        "Patient": "birthDate",
        "Condition": "onsetDateTime",
        "Observation": "effectiveDateTime",
        "MedicationRequest": "authoredOn",
    }[kind]
    return day_range(resource[key]) if key in resource else None


def token_matches(resource: Json, token: str) -> bool:
    """``code`` search: ``system|code``, ``code`` or ``|code`` against the resource's codings."""
    system, bar, code = token.rpartition("|")
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or {}
    for coding in concept.get("coding") or []:
        if coding.get("code") == code and (not bar or coding.get("system", "") == system):
            return True
    return False


@dataclass(frozen=True)
class Query:
    """One search's parameters, checked."""

    kind: str
    patient: str | None = None
    codes: tuple[str, ...] = ()
    dates: tuple[DateTest, ...] = ()
    gender: str | None = None

    def matches(self, resource: Json) -> bool:
        if self.codes and not any(token_matches(resource, t) for t in self.codes):
            return False
        if self.gender is not None and resource.get("gender") != self.gender:
            return False
        if self.dates:
            found = resource_dates(resource)
            if found is None or not all(t.holds(*found) for t in self.dates):
                return False
        return True


SEARCH_PARAMS = {
    "Patient": ("_id", "gender", "birthdate"),
    "Condition": ("patient", "subject", "code", "onset-date", "date"),
    "Observation": ("patient", "subject", "code", "date"),
    "Procedure": ("patient", "subject", "code", "date"),
    "MedicationRequest": ("patient", "subject", "code", "authoredon", "date"),
}
CONTROL = ("_count", "_cursor", "_format")


def parse_query(kind: str, params: Mapping[str, list[str]]) -> Query:
    """A search's parameters; ``Invalid`` naming one this server does not support (a FHIR
    server may ignore unknown ones, but silently widening a search over patient data is worse)."""
    allowed = SEARCH_PARAMS[kind]
    unknown = [k for k in params if k not in allowed and k not in CONTROL]
    if unknown:
        raise Invalid(
            f"{kind} cannot be searched by {', '.join(unknown)}; use {', '.join(allowed)}",
            errors=[{"field": k, "message": "unsupported search parameter"} for k in unknown],
        )
    patients = [v for k in ("patient", "subject", "_id") for v in params.get(k, [])]
    if len(patients) > 1:
        raise Invalid("give one patient", errors=[{"field": "patient", "message": "more than one"}])
    patient = patients[0].rpartition("Patient/")[2] if patients else None
    codes = tuple(t for v in params.get("code", []) for t in v.split(",") if t)
    dates = tuple(date_test(v, k) for k in DATE_PARAMS[kind] for v in params.get(k, []))
    genders = params.get("gender", [])
    return Query(kind, patient or None, codes, dates, genders[-1] if genders else None)


def search_bundle(
    base: str, kind: str, found: list[Json], *, self_url: str, next_url: str | None, total: int | None
) -> Json:
    bundle: Json = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    bundle["link"] = links
    if found:
        bundle["entry"] = [
            {"fullUrl": f"{base}/{kind}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in found
        ]
    return bundle


def operation_outcome(detail: str, status: int) -> Json:
    code = {
        400: "invalid",
        401: "login",
        403: "forbidden",
        404: "not-found",
        405: "not-supported",
        409: "conflict",
        410: "deleted",
        412: "conflict",
        422: "invalid",
        429: "throttled",
        503: "transient",
    }.get(status, "exception")
    severity = "error" if status < 500 else "fatal"
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": detail}],
    }


def capability_statement(base: str, *, software_version: str, published: str) -> Json:
    """What this server does, as FHIR R4 says a server describes itself."""
    export_ops = [
        {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"}
    ]

    def param(name: str) -> Json:
        kinds = {"_id": "token", "gender": "token", "code": "token", "patient": "reference"}
        kind = kinds.get(name, "reference" if name == "subject" else "date")
        return {"name": name, "type": kind}

    rest_resources = []
    for kind in TYPES:
        entry: Json = {
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [param(p) for p in SEARCH_PARAMS[kind]],
        }
        if kind == "Patient":
            entry["operation"] = export_ops
        rest_resources.append(entry)
    rest_resources.append(
        {
            "type": "Group",
            "operation": [
                {
                    "name": "export",
                    "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
                }
            ],
        }
    )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": published,
        "kind": "instance",
        "software": {"name": "INEsCape", "version": software_version},
        "implementation": {"description": "INEsCape clinical core (esophageal cancer registry)", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Bearer tokens of the platform (or its OIDC provider); "
                    "the permission patients.read; researchers receive de-identified resources"
                },
                "resource": rest_resources,
                "operation": [
                    {
                        "name": "export",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
                    }
                ],
            }
        ],
    }


# --- identifier and extension systems -----------------------------------------------------


@dataclass(frozen=True)
class Systems:
    """The URLs a hospital sets for the identifiers and extensions the mapping writes with our
    placeholder namespace (``codes.LOCAL``): applied to every resource the server gives out."""

    namespace: str = c.LOCAL
    mrn: str | None = None
    national_id: str | None = None

    def rewrite(self, value: Any) -> Any:
        if self.namespace == c.LOCAL and self.mrn is None and self.national_id is None:
            return value
        exact = {c.MRN_SYSTEM: self.mrn, c.NATIONAL_ID_SYSTEM: self.national_id}
        return self._walk(value, {k: v for k, v in exact.items() if v})

    def _walk(self, value: Any, exact: Mapping[str, str]) -> Any:
        if isinstance(value, dict):
            return {k: self._walk(v, exact) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, exact) for v in value]
        if isinstance(value, str):
            if value in exact:
                return exact[value]
            if value.startswith(c.LOCAL + "/"):
                return self.namespace.rstrip("/") + value[len(c.LOCAL) :]
        return value


def ndjson_lines(found: Iterable[Json]) -> Iterator[bytes]:
    encode = msgspec.json.Encoder().encode
    for resource in found:
        yield encode(resource) + b"\n"
