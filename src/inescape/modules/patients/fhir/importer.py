"""FHIR Bundle -> ``PatientCreate``: the inverse of ``to_bundle``, and a reader of other mCODE
bundles for what they share with the record.

Resource types the record has no place for (Practitioner, Encounter, ...) are skipped, as are
Conditions that are not an esophageal/EGJ cancer and Procedures that are not cancer treatments.
A resource the record does hold but whose codes or dates cannot be mapped is refused: every such
problem is collected and raised at once as ``Invalid``, each naming ``<Type>/<id>.<element>``.
Whether the mapped record then passes the clinical rules is ``validation.validate``'s business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.patients.api import PatientCreate
from inescape.modules.patients.fhir import codes as c
from inescape.modules.patients.fhir import read_clinical as clinical
from inescape.modules.patients.fhir import read_treatments as treatments
from inescape.modules.patients.fhir import reading as ext
from inescape.modules.patients.fhir.codes import Json
from inescape.modules.patients.fhir.reading import (
    Unmappable,
    code_in,
    codings,
    ext_value,
    label,
    read_date,
)

MEDICATIONS = ("MedicationRequest", "MedicationAdministration")
# Observation kinds of terms/assessments.csv (a tumour fact lands on the primary condition).
ASSESSMENTS = (
    "fit_for_surgery",
    "lymphovascular_invasion",
    "invades_airway_or_great_vessels",
    "comorbidities",
)
_MALFORMED = (AttributeError, TypeError, KeyError, ValueError, IndexError)


class _Index:
    """The bundle's resources, in order, and its references resolved by fullUrl or Type/id."""

    def __init__(self, bundle: Any) -> None:
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise Invalid(
                "Not a FHIR Bundle", errors=[{"field": "Bundle", "message": "resourceType must be Bundle"}]
            )
        self.resources: list[Json] = []
        self.by_ref: dict[str, Json] = {}
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise Invalid(
                "Bundle.entry is not a list", errors=[{"field": "Bundle.entry", "message": "not a list"}]
            )
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            self.resources.append(resource)
            local = f"{resource.get('resourceType')}/{resource.get('id')}"
            self.by_ref[local] = resource
            if entry.get("fullUrl"):
                self.by_ref[entry["fullUrl"]] = resource

    def resolve(self, ref: Any) -> Json | None:
        target = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(target, str):
            return None
        found = self.by_ref.get(target)
        if found is None and "/" in target:  # an absolute URL: match on its Type/id tail
            found = self.by_ref.get("/".join(target.rsplit("/", 2)[-2:]))
        return found


class _Reader:
    def __init__(self, index: _Index) -> None:
        self.index = index
        self.problems: list[dict[str, str]] = []
        self.ignored: list[str] = []  # medications read and found not to be cancer therapy
        self.data: Json = {
            "conditions": [],
            "staging": [],
            "biomarkers": [],
            "treatments": [],
            "observations": [],
        }
        self.risk: Json = {}
        self.fitness: Json | None = None
        self.tumour: Json = {}  # facts of the primary condition (lymphovascular invasion, ...)
        self.comorbidities: list[Json] = []
        self.comorbid: set[int] = set()  # ids of the Conditions a Comorbidities Observation names
        self.vital: Json | None = None
        self.recurrence: Json | None = None
        self.progression: Json | None = None  # the first progression a status Observation dates
        self.groups: dict[str, Json] = {}
        self.members: set[int] = set()  # ids of the T/N/M Observations read with their group
        for res in index.resources:
            if res.get("resourceType") == "Observation" and clinical.observation_kind(res) == "stage":
                members = res.get("hasMember")
                found = map(index.resolve, members if isinstance(members, list) else [])
                self.members.update(id(member) for member in found if member is not None)
            if res.get("resourceType") == "Observation" and clinical.observation_kind(res) == "comorbidities":
                present = ext.extensions(res, c.RELATED_CONDITION_EXT)
                named = (index.resolve(e.get("valueReference")) for e in present)
                self.comorbid.update(id(condition) for condition in named if condition is not None)

    def guard(self, res: Json, read: Callable[..., Any], *args: Any) -> Any:
        """``read(*args)``, with what goes wrong recorded against ``res`` instead of raised."""
        try:
            return read(*args)
        except Unmappable as problem:
            self.problems.append({"field": f"{label(res)}.{problem.element}", "message": problem.message})
        except _MALFORMED as exc:  # an element of the wrong JSON shape (a string for an object...)
            self.problems.append({"field": label(res), "message": f"malformed ({type(exc).__name__}: {exc})"})
        return None

    def read(self, res: Json) -> None:
        kind = res.get("resourceType")
        if kind == "Condition" and (id(res) in self.comorbid or clinical.is_comorbidity(res)):
            self._comorbidity(clinical.read_comorbidity(res))
        elif kind == "Condition":
            condition = clinical.read_condition(res)
            if condition:
                self.data["conditions"].append(condition)
        elif kind == "Observation" and id(res) not in self.members:
            self._observation(res)
        elif kind == "Procedure":
            treatment_kind = treatments.procedure_kind(res)
            if treatment_kind:
                self.data["treatments"].append(treatments.read_procedure(res, treatment_kind))
        elif kind in MEDICATIONS:
            self._medication(res)

    def _observation(self, res: Json) -> None:
        kind = clinical.observation_kind(res)
        if kind == "stage":
            self.data["staging"].append(clinical.read_stage_group(res, self.index.resolve))
        elif kind == "biomarker":
            self.data["biomarkers"].append(clinical.read_marker(res))
        elif kind == "measurement":
            self.data["observations"].append(clinical.read_measurement(res))
        elif kind == "risk":
            field, value = clinical.read_risk(res)
            self.risk[field] = value
        elif kind == "vital":
            self.vital = clinical.read_vital(res)
        elif kind == "recurrence":
            self.recurrence = clinical.read_recurrence(res)
        elif kind == "disease_status":
            found = clinical.read_progression(res)
            if found and (
                self.progression is None or found["progression_date"] < self.progression["progression_date"]
            ):
                self.progression = found
        elif kind in ASSESSMENTS:
            self._assessment(kind, res)
        elif kind == "category":
            raise Unmappable("code", "a TNM category outside a stage group Observation (hasMember)")
        else:
            raise Unmappable("code", f"{_codes(res.get('code'))} cannot be mapped to the record")

    def _assessment(self, kind: str, res: Json) -> None:
        """Fitness for surgery, a tumour's invasion facts, or an mCODE Comorbidities Observation."""
        if kind == "fit_for_surgery":
            self.fitness = clinical.read_fitness(res)
        elif kind == "comorbidities":
            for i, named in enumerate(ext.extensions(res, c.RELATED_CONDITION_EXT)):
                if "valueCodeableConcept" in named:  # a code in place of a Condition reference
                    coded = self.guard(res, clinical.read_comorbidity, named["valueCodeableConcept"])
                    if coded is None:
                        self.problems[-1]["field"] += f" (extension[{i}])"
                    else:
                        self._comorbidity(coded)
        else:
            self.tumour[kind] = clinical.read_presence(res)

    def _comorbidity(self, item: Json) -> None:
        if all((m["system"], m["code"]) != (item["system"], item["code"]) for m in self.comorbidities):
            self.comorbidities.append(item)

    def finish(self, data: Json) -> None:
        """The assessments read apart from their resources, put in their place in the record."""
        if self.fitness is not None:
            data["fitness_for_surgery"] = self.fitness
        data["comorbidities"] = self.comorbidities
        if not self.tumour:
            return
        if not data["conditions"]:
            names = ", ".join(sorted(self.tumour))
            self.problems.append(
                {"field": "Observation", "message": f"{names} needs a primary cancer condition"}
            )
            return
        primary = min(data["conditions"], key=lambda cond: str(cond["diagnosis_date"]))
        primary.update(self.tumour)

    def _medication(self, res: Json) -> None:
        therapy, canonical = treatments.cancer_agent(res)
        if not therapy:  # an ordinary medication (acetaminophen, an inhaler): not cancer therapy
            self.ignored.append(label(res))
            return
        treatment, agent = treatments.read_medication(res)
        if agent is not None and canonical is not None and not treatments.is_cancer_related(res):
            agent = canonical  # "Cisplatin 50 MG Injection" -> cisplatin
        key = treatments.medication_group(res)
        if key not in self.groups:
            self.groups[key] = {**treatment, "agents": []}
            self.data["treatments"].append(self.groups[key])
        if agent is not None:
            self.groups[key]["agents"].append(agent)


def from_bundle(bundle: dict[str, Any]) -> PatientCreate:
    """The record a Bundle describes (its Patient and what refers to it); ``Invalid`` if it lacks
    a Patient or holds codes, dates or references the record cannot take."""
    record, _ = _read(bundle, strict=True)
    return record


def read_bundle(bundle: dict[str, Any]) -> tuple[PatientCreate, list[dict[str, str]]]:
    """What of a Bundle the record can take, and the problems of what it cannot (each naming
    ``<Type>/<id>.<element>``), skipped instead of refused: for reading an EHR's data (CDS Hooks
    prefetch), where other observations and codes are expected. Still ``Invalid`` without exactly
    one Patient, or when what was kept does not make a record."""
    return _read(bundle, strict=False)


def _read(bundle: dict[str, Any], *, strict: bool) -> tuple[PatientCreate, list[dict[str, str]]]:
    index = _Index(bundle)
    patients = [r for r in index.resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise Invalid(
            f"The bundle must hold exactly one Patient, not {len(patients)}",
            errors=[{"field": "Bundle.entry", "message": f"{len(patients)} Patient resources"}],
        )
    reader = _Reader(index)
    for resource in index.resources:
        reader.guard(resource, reader.read, resource)
    patient = reader.guard(patients[0], _patient, patients[0]) or {}
    data = {**patient, **reader.data, "risk_factors": reader.risk}
    reader.finish(data)
    reader.guard(patients[0], _outcome, reader, patients[0], data)
    if reader.problems and strict:
        raise Invalid(_summary(reader.problems), errors=reader.problems)
    try:
        return msgspec.convert(data, PatientCreate), reader.problems
    except msgspec.ValidationError as exc:
        field, _, where = str(exc).partition(" - at `$.")
        path = where.rstrip("`") or "Bundle"
        raise Invalid(
            f"The bundle maps to an invalid record: {exc}", errors=[{"field": path, "message": field}]
        ) from exc


def _summary(problems: list[dict[str, str]]) -> str:
    shown = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"The bundle cannot be mapped to a record: {shown}{more}"


def _codes(concept: Any) -> str:
    return ", ".join(f"{s}|{code}" for s, code in codings(concept)) or "a code without coding"


def _patient(res: Json) -> Json:
    out: Json = {"birth_date": read_date(res.get("birthDate"), "birthDate")}
    gender = res.get("gender", "unknown")
    if gender not in ("female", "male", "other", "unknown"):
        raise Unmappable("gender", f"{gender!r} is not an administrative gender")
    out["sex"] = gender
    out.update(_identifiers(res.get("identifier") or []))
    names = res.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    if name.get("family"):
        out["family_name"] = name["family"]
    if name.get("given"):
        out["given_name"] = " ".join(name["given"])
    for contact in res.get("telecom") or []:
        if contact.get("system") in ("phone", "email") and contact.get("value"):
            out.setdefault(contact["system"], contact["value"])
    out.update(_address((res.get("address") or [{}])[0]))
    for key, url, kind in (
        ("ethnicity", c.ETHNICITY_EXT, "valueString"),
        ("source", c.SOURCE_EXT, "valueString"),
        ("synthetic_risk", c.SYNTHETIC_RISK_EXT, "valueDecimal"),
    ):
        value = ext_value(res, url, kind)
        if value is not None:
            out[key] = value
    origin = next((code for s, code in _tags(res) if s == c.ORIGIN_SYSTEM), None)
    if origin:
        out["origin"] = origin
    return out


def _tags(res: Json) -> list[tuple[str, str]]:
    return [(t.get("system", ""), t.get("code", "")) for t in (res.get("meta") or {}).get("tag") or []]


def _identifiers(identifiers: list[Json]) -> Json:
    """Ours by system; others by type (v2-0203 MR -> mrn, NI -> national id), first one wins."""
    out: Json = {}
    by_system = {
        c.MRN_SYSTEM: "mrn",
        c.NATIONAL_ID_SYSTEM: "national_id",
        c.SOURCE_RECORD_SYSTEM: "source_record_id",
    }
    by_type = {"MR": "mrn", "NI": "national_id"}
    for ident in identifiers:
        key = by_system.get(ident.get("system", "")) or by_type.get(
            code_in(ident.get("type"), c.V2_0203) or ""
        )
        if key and ident.get("value"):
            out.setdefault(key, ident["value"])
    return out


def _address(address: Json) -> Json:
    out: Json = {}
    parts = [*(address.get("line") or []), address.get("city"), address.get("postalCode")]
    if any(parts):
        out["address"] = ", ".join(p for p in parts if p)
    if address.get("state"):
        out["province"] = address["state"]
    if address.get("country"):
        out["country"] = address["country"]
    return out


def _outcome(reader: _Reader, patient: Json, data: Json) -> None:
    """Vital status and follow-up from their Observation; the date of death from the Patient."""
    death = (
        read_date(patient["deceasedDateTime"], "deceasedDateTime") if "deceasedDateTime" in patient else None
    )
    outcome = reader.vital
    if outcome is None and death is not None:  # a bundle with no vital-status Observation
        outcome = {"vital_status": "dead", "last_follow_up": death}
    if outcome is None:
        if reader.recurrence:
            reader.problems.append(
                {"field": "Observation.recurrence", "message": "recurrence needs a vital status"}
            )
        if reader.progression:
            reader.problems.append(
                {"field": "Observation.progression", "message": "progression needs a vital status"}
            )
        return
    data["outcome"] = {**outcome, **(reader.recurrence or {}), **(reader.progression or {})}
    if death is not None:
        data["outcome"]["death_date"] = death
