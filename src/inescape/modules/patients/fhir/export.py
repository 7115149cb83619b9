"""Record -> FHIR R4 resources (mCODE profiles), as plain dicts: no dependency on a FHIR library."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

import msgspec

from inescape.modules.patients import vocab
from inescape.modules.patients.api import (
    Biomarker,
    Comorbidity,
    Condition,
    Observation,
    PatientRecord,
    RiskFactors,
    Staging,
)
from inescape.modules.patients.fhir import codes as c
from inescape.modules.patients.fhir.codes import Json, coding, concept, extension, quantity
from inescape.modules.patients.fhir.context import Context
from inescape.modules.patients.fhir.treatments import treatment_resources

BIOMARKER_NAMES = {
    "her2": "HER2",
    "pdl1_cps": "PD-L1 combined positive score",
    "pdl1_tps": "PD-L1 tumour proportion score",
    "msi": "Microsatellite instability",
    "mmr": "Mismatch repair status",
}
VITAL_SIGNS = {"29463-7", "39156-5"}  # body weight, BMI; the other accepted codes are laboratory
# Risk factors that are measured: the unit travels with the value.
RISK_UNITS = {"pack_years": "{pack-years}", "alcohol_g_per_day": "g/d", "bmi": "kg/m2"}
RISK_CODED = ("tobacco", "socioeconomic_status")
RISK_EXTRA = {
    "tobacco": coding(c.LOINC, c.TOBACCO_STATUS, "Tobacco smoking status"),
    "pack_years": coding(c.SNOMED, c.PACK_YEARS_SNOMED, "Cigarette pack-years"),
    "bmi": coding(c.LOINC, c.BMI, "Body mass index (BMI) [Ratio]"),
}


def to_bundle(record: PatientRecord, *, base_url: str = "urn:uuid:") -> Json:
    """The whole record as a ``collection`` Bundle of mCODE-profiled resources."""
    ctx = Context(record, base_url)
    return {
        "resourceType": "Bundle",
        "id": ctx.id("bundle"),
        "type": "collection",
        "entry": [ctx.entry(resource) for resource in resources(ctx)],
    }


def to_ndjson(records: Iterable[PatientRecord]) -> Iterator[str]:
    """FHIR bulk-data NDJSON: one resource per line (newline included), every resource of every
    record in turn, with relative ``<Type>/<id>`` references; one record in memory at a time."""
    encode = msgspec.json.Encoder().encode
    for record in records:
        for resource in resources(Context(record, "")):
            yield encode(resource).decode() + "\n"


def resources(ctx: Context) -> Iterator[Json]:
    record = ctx.record
    yield patient(ctx)
    for i, condition in enumerate(record.conditions):
        yield primary_condition(ctx, i, condition)
        yield from invasion(ctx, i, condition)
    if record.fitness_for_surgery is not None:
        yield fitness_for_surgery(ctx)
    yield from comorbidities(ctx, record.comorbidities)
    for j, staging in enumerate(record.staging):
        yield from stage_group(ctx, j, staging)
    for k, marker in enumerate(record.biomarkers):
        yield tumour_marker(ctx, k, marker)
    for t, treatment in enumerate(record.treatments):
        yield from treatment_resources(ctx, t, treatment)
    for o, observation in enumerate(record.observations):
        yield measurement(ctx, o, observation)
    yield from risk_factors(ctx, record.risk_factors)
    yield from outcome(ctx)


def patient(ctx: Context) -> Json:
    r = ctx.record
    res: Json = {
        "resourceType": "Patient",
        "id": ctx.patient_id,
        "meta": {"profile": [c.CANCER_PATIENT], "tag": [coding(c.ORIGIN_SYSTEM, r.origin)]},
    }
    extensions = [
        extension(c.ETHNICITY_EXT, valueString=r.ethnicity) if r.ethnicity else None,
        extension(c.SOURCE_EXT, valueString=r.source) if r.source else None,
        None if r.synthetic_risk is None else extension(c.SYNTHETIC_RISK_EXT, valueDecimal=r.synthetic_risk),
    ]
    _put(res, "extension", [e for e in extensions if e])
    _put(res, "identifier", _identifiers(r))
    name = {
        k: v for k, v in (("family", r.family_name), ("given", [r.given_name] if r.given_name else None)) if v
    }
    _put(res, "name", [{"use": "official", **name}] if name else [])
    telecom = [{"system": s, "value": v} for s, v in (("phone", r.phone), ("email", r.email)) if v]
    _put(res, "telecom", telecom)
    res["gender"] = r.sex
    res["birthDate"] = r.birth_date.isoformat()
    address = {k: v for k, v in (("line", [r.address] if r.address else None), ("state", r.province)) if v}
    address.update({"country": r.country} if r.country else {})
    _put(res, "address", [address] if address else [])
    if r.outcome and r.outcome.vital_status == "dead":
        res.update(
            {"deceasedDateTime": r.outcome.death_date.isoformat()}
            if r.outcome.death_date
            else {"deceasedBoolean": True}
        )
    elif r.outcome and r.outcome.vital_status == "alive":
        res["deceasedBoolean"] = False
    return res


def _identifiers(r: PatientRecord) -> list[Json]:
    out = []
    for value, system, kind, display in (
        (r.mrn, c.MRN_SYSTEM, "MR", "Medical record number"),
        (r.national_id, c.NATIONAL_ID_SYSTEM, "NI", "National unique individual identifier"),
    ):
        if value:
            out.append(
                {
                    "use": "usual",
                    "type": concept(coding(c.V2_0203, kind, display)),
                    "system": system,
                    "value": value,
                }
            )
    if r.source_record_id:
        out.append({"use": "secondary", "system": c.SOURCE_RECORD_SYSTEM, "value": r.source_record_id})
    return out


def primary_condition(ctx: Context, i: int, cond: Condition) -> Json:
    site = [coding(c.ICDO3, cond.topography_code)]
    if cond.topography_code.startswith("C15"):
        site.append(
            coding(c.SNOMED, c.CERVICAL_ESOPHAGUS if cond.topography_code == "C15.0" else c.ESOPHAGUS)
        )
    body_site = concept(*site)
    if cond.topography_code in c.QUALIFIERS:
        code, display = c.QUALIFIERS[cond.topography_code]
        qualifier = concept(coding(c.SNOMED, code, display))
        body_site = {
            "extension": [extension(c.LOCATION_QUALIFIER_EXT, valueCodeableConcept=qualifier)],
            **body_site,
        }
    label = vocab.TOPOGRAPHIES.get(cond.topography_code, cond.topography_code)
    organ = "esophagus" if cond.topography_code.startswith("C15") else "stomach"
    res: Json = {
        "resourceType": "Condition",
        "id": ctx.id(f"condition/{i}"),
        "meta": {"profile": [c.PRIMARY_CANCER_CONDITION]},
        "extension": _condition_extensions(cond),
        # clinicalStatus is left out: the registry does not track it (con-3 is a guideline).
        "verificationStatus": concept(coding(c.CONDITION_VERIFICATION, "confirmed")),
        "category": [concept(coding(c.CONDITION_CATEGORY, "problem-list-item"))],
        "code": concept(
            *c.topography_codes(cond.topography_code), text=f"Malignant neoplasm of {organ}: {label}"
        ),
        "bodySite": [body_site],
        "subject": ctx.subject(),
        "onsetDateTime": cond.diagnosis_date.isoformat(),
    }
    if i == 0:  # the record's staging is of its primary (first) condition
        _put(res, "stage", [_stage_summary(ctx, j, s) for j, s in enumerate(ctx.record.staging)])
    return res


def _condition_extensions(cond: Condition) -> list[Json]:
    morphology = concept(coding(c.ICDO3, cond.morphology_code), coding(c.HISTOLOGY_SYSTEM, cond.histology))
    out = [
        extension(c.HISTOLOGY_MORPHOLOGY_EXT, valueCodeableConcept=morphology),
        extension(c.LOCATION_EXT, valueCode=cond.location),
        extension(c.GRADE_EXT, valueCode=cond.grade),
    ]
    if cond.siewert:
        out.append(extension(c.SIEWERT_EXT, valueCode=cond.siewert))
    if cond.tumour_length_cm is not None:
        out.append(extension(c.LENGTH_EXT, valueQuantity=quantity(cond.tumour_length_cm, "cm")))
    return out


def invasion(ctx: Context, i: int, cond: Condition) -> Iterator[Json]:
    """Lymphovascular invasion (LOINC 33739-4, a SNOMED CT present/absent answer) and invasion
    of the airway or great vessels (cT4b, a code of ours) of the condition, where known."""
    focus = ctx.ref("Condition", ctx.id(f"condition/{i}"))
    if cond.lymphovascular_invasion is not None:
        code = concept(
            coding(c.LOINC, c.LYMPHOVASCULAR_INVASION, LVI_LOINC_DISPLAY),
            coding(c.ASSESSMENT_SYSTEM, "lymphovascular-invasion", "Lymphovascular invasion"),
            text="Lymphovascular invasion",
        )
        answer = (c.PRESENT, "Present") if cond.lymphovascular_invasion else (c.ABSENT, "Absent")
        yield {
            "resourceType": "Observation",
            "id": ctx.id(f"condition/{i}/lvi"),
            "status": "final",
            "category": c.category("laboratory"),
            "code": code,
            "subject": ctx.subject(),
            "focus": [focus],
            "valueCodeableConcept": concept(coding(c.SNOMED, *answer)),
        }
    if cond.invades_airway_or_great_vessels is not None:
        yield {
            "resourceType": "Observation",
            "id": ctx.id(f"condition/{i}/invasion"),
            "status": "final",
            "category": c.category("exam"),
            "code": concept(
                coding(c.ASSESSMENT_SYSTEM, "airway-or-great-vessel-invasion"),
                text="Tumour invades the airway, great vessels or heart (cT4b)",
            ),
            "subject": ctx.subject(),
            "focus": [focus],
            "valueBoolean": cond.invades_airway_or_great_vessels,
        }


LVI_LOINC_DISPLAY = "Lymphatic.small vessel.invasion [Identifier] in Specimen by CAP cancer protocols"


def fitness_for_surgery(ctx: Context) -> Json:
    """The fitness assessment: its value, who assessed it (``performer``) and when."""
    fitness = ctx.record.fitness_for_surgery
    assert fitness is not None
    res: Json = {
        "resourceType": "Observation",
        "id": ctx.id("fitness-for-surgery"),
        "status": "final",
        "category": c.category("exam"),
        "code": concept(coding(c.ASSESSMENT_SYSTEM, "fit-for-surgery", "Fit for surgery")),
        "subject": ctx.subject(),
    }
    focus = ctx.condition()
    if focus:
        res["focus"] = [focus]
    res["effectiveDateTime"] = fitness.assessed_on.isoformat()
    if fitness.assessed_by:  # a de-identified record has none
        res["performer"] = [{"display": fitness.assessed_by}]
    res["valueBoolean"] = fitness.fit
    if fitness.note:
        res["note"] = [{"text": fitness.note}]
    return res


def comorbidities(ctx: Context, items: list[Comorbidity]) -> Iterator[Json]:
    """One Condition per comorbidity, then the mCODE Comorbidities Observation that names them
    all as present (``comorbidConditionPresent``)."""
    if not items:
        return
    refs = []
    for k, item in enumerate(items):
        rid = ctx.id(f"comorbidity/{k}")
        refs.append(ctx.ref("Condition", rid))
        category = [concept(coding(c.CONDITION_CATEGORY, "problem-list-item"))]
        if item.category:
            category.append(
                concept(coding(c.CHARLSON_SYSTEM, item.category, item.category.replace("_", " ")))
            )
        res: Json = {
            "resourceType": "Condition",
            "id": rid,
            "verificationStatus": concept(coding(c.CONDITION_VERIFICATION, "confirmed")),
            "category": category,
            "code": concept(coding(item.system, item.code, item.display), text=item.display),
            "subject": ctx.subject(),
        }
        if item.recorded_on:
            res["recordedDate"] = item.recorded_on.isoformat()
        yield res
    summary: Json = {
        "resourceType": "Observation",
        "id": ctx.id("comorbidities"),
        "meta": {"profile": [c.COMORBIDITIES]},
        "extension": [extension(c.RELATED_CONDITION_EXT, valueReference=ref) for ref in refs],
        "status": "final",
        "code": concept(coding(c.SNOMED, c.COMORBID_CONDITIONS, "Co-morbid conditions (finding)")),
        "subject": ctx.subject(),
    }
    focus = ctx.condition()
    if focus:
        summary["focus"] = [focus]
    summary["dataAbsentReason"] = concept(coding(c.DATA_ABSENT_REASON, "not-permitted", "Not Permitted"))
    yield summary


def _stage_summary(ctx: Context, j: int, s: Staging) -> Json:
    return {
        "summary": concept(coding(c.AJCC, c.ajcc_stage_code(s.stage_group), s.stage_group)),
        "assessment": [ctx.ref("Observation", ctx.id(f"staging/{j}"))],
        "type": _method(s.method),
    }


def _method(method: str) -> Json:
    known = [coding(c.SNOMED, code) for code, name in c.STAGING_METHODS.items() if name == method]
    return concept(*known, text=method)


def stage_group(ctx: Context, j: int, s: Staging) -> Iterator[Json]:
    """The stage group Observation, then its T, N and M category Observations (hasMember)."""
    kind = "clinical" if s.kind == "clinical" else "pathological"
    common: Json = {
        "status": "final",
        # as in the mCODE STU1 examples: clinical staging "survey", pathological "laboratory"
        "category": c.category("survey" if s.kind == "clinical" else "laboratory"),
        "subject": ctx.subject(),
    }
    focus = ctx.condition()
    if focus:
        common["focus"] = [focus]
    common["effectiveDateTime"] = s.assessed_on.isoformat()
    members = []
    for axis, value in (("t", s.t), ("n", s.n), ("m", s.m)):
        mid = ctx.id(f"staging/{j}/{axis}")
        members.append(ctx.ref("Observation", mid))
        yield {
            "resourceType": "Observation",
            "id": mid,
            "meta": {"profile": [c.TNM_CATEGORY[axis]]},
            "code": concept(coding(c.LOINC, c.CATEGORY_LOINC[(axis, kind)])),
            **common,
            "valueCodeableConcept": concept(coding(c.AJCC, c.AJCC_PREFIX[s.kind] + value)),
            "method": _method(s.method),
        }
    extensions = [extension(c.GRADE_EXT, valueCode=s.grade) if s.grade else None]
    extensions.append(extension(c.LOCATION_EXT, valueCode=s.location) if s.location else None)
    group: Json = {"resourceType": "Observation", "id": ctx.id(f"staging/{j}")}
    group["meta"] = {"profile": [c.TNM_STAGE_GROUP]}
    _put(group, "extension", [e for e in extensions if e])
    group["code"] = concept(coding(c.LOINC, c.STAGE_GROUP_LOINC[s.kind]))
    group.update(common)
    group["valueCodeableConcept"] = concept(coding(c.AJCC, c.ajcc_stage_code(s.stage_group), s.stage_group))
    group["method"] = _method(s.method)
    group["hasMember"] = members
    yield group


def tumour_marker(ctx: Context, k: int, marker: Biomarker) -> Json:
    name = BIOMARKER_NAMES[marker.kind]
    codings = [coding(c.BIOMARKER_SYSTEM, marker.kind, name)]
    if marker.kind in c.BIOMARKER_LOINC:
        codings.insert(0, coding(c.LOINC, *c.BIOMARKER_LOINC[marker.kind]))
    return {
        "resourceType": "Observation",
        "id": ctx.id(f"biomarker/{k}"),
        "meta": {"profile": [c.TUMOR_MARKER_TEST]},
        "status": "final",
        "category": c.category("laboratory"),
        "code": concept(*codings, text=name),
        "subject": ctx.subject(),
        "effectiveDateTime": marker.measured_on.isoformat(),
        "valueString": marker.value,  # scores such as "2+ ISH+" or "5" stay exactly as recorded
    }


def measurement(ctx: Context, o: int, obs: Observation) -> Json:
    name = vocab.OBSERVATION_CODES.get(obs.code, (None, None))[0]
    res: Json = {"resourceType": "Observation", "id": ctx.id(f"observation/{o}")}
    ecog = obs.code == c.ECOG
    if ecog:
        res["meta"] = {"profile": [c.ECOG_PERFORMANCE_STATUS]}
    res["status"] = "final"
    kind = "survey" if ecog else "vital-signs" if obs.code in VITAL_SIGNS else "laboratory"
    res["category"] = c.category(kind)
    res["code"] = concept(coding(c.LOINC, obs.code), text=name)
    res["subject"] = ctx.subject()
    res["effectiveDateTime"] = obs.observed_on.isoformat()
    if ecog and obs.unit is None and obs.value == int(obs.value):
        res["valueInteger"] = int(obs.value)  # the ECOG profile takes an integer
    else:
        res["valueQuantity"] = quantity(obs.value, obs.unit)
    return res


def risk_factors(ctx: Context, rf: RiskFactors) -> Iterator[Json]:
    """One social-history Observation per risk factor that is not at its default (unknown)."""
    default = RiskFactors()
    for field in rf.__struct_fields__:
        value = getattr(rf, field)
        if value == getattr(default, field):
            continue
        codings = [coding(c.RISK_FACTOR_SYSTEM, field, field.replace("_", " "))]
        if field in RISK_EXTRA:
            codings.insert(0, RISK_EXTRA[field])
        res: Json = {"resourceType": "Observation", "id": ctx.id(f"risk-factor/{field}"), "status": "final"}
        res["category"] = c.category("social-history")
        res["code"] = concept(*codings)
        res["subject"] = ctx.subject()
        if field in RISK_CODED:
            res["valueCodeableConcept"] = concept(coding(c.RISK_VALUE_SYSTEM, value))
        elif isinstance(value, bool):
            res["valueBoolean"] = value
        else:
            res["valueQuantity"] = quantity(value, RISK_UNITS[field])
        yield res


def outcome(ctx: Context) -> Iterator[Json]:
    """Vital status (LOINC 75186-7) dated at the last follow-up; a progression and a recurrence
    as Observations of their own."""
    o = ctx.record.outcome
    if o is None:
        return
    vital: Json = {"resourceType": "Observation", "id": ctx.id("outcome/vital-status"), "status": "final"}
    vital["code"] = concept(coding(c.LOINC, c.VITAL_STATUS, "Vital status"))
    vital["subject"] = ctx.subject()
    vital["effectiveDateTime"] = o.last_follow_up.isoformat()
    vital["valueCodeableConcept"] = concept(coding(c.OUTCOME_SYSTEM, o.vital_status))
    if o.cause_of_death:
        cause = concept(coding(c.OUTCOME_SYSTEM, "cause-of-death", "Cause of death"))
        vital["component"] = [{"code": cause, "valueString": o.cause_of_death}]
    yield vital
    if o.progression_date is not None:
        yield _progression(ctx, o.progression_date)
    if o.recurrence_date is None and o.recurrence_site is None:
        return
    rec: Json = {"resourceType": "Observation", "id": ctx.id("outcome/recurrence"), "status": "final"}
    rec["code"] = concept(coding(c.OUTCOME_SYSTEM, "recurrence", "Cancer recurrence"))
    rec["subject"] = ctx.subject()
    focus = ctx.condition()
    if focus:
        rec["focus"] = [focus]
    if o.recurrence_date:
        rec["effectiveDateTime"] = o.recurrence_date.isoformat()
    rec["valueBoolean"] = True
    if o.recurrence_site:
        rec["bodySite"] = concept(text=o.recurrence_site)
    yield rec


def _progression(ctx: Context, when: date) -> Json:
    """The first progression as mCODE's CancerDiseaseStatus: the condition worsened."""
    res: Json = {"resourceType": "Observation", "id": ctx.id("outcome/progression"), "status": "final"}
    res["meta"] = {"profile": [c.CANCER_DISEASE_STATUS]}
    res["code"] = concept(coding(c.LOINC, c.DISEASE_STATUS, "Cancer Disease Progression"))
    res["subject"] = ctx.subject()
    focus = ctx.condition()
    if focus:
        res["focus"] = [focus]
    res["effectiveDateTime"] = when.isoformat()
    res["valueCodeableConcept"] = concept(
        coding(c.SNOMED, c.WORSENED, "Patient's condition worsened (finding)")
    )
    return res


def _put(resource: Json, key: str, value: list[Json]) -> None:
    """FHIR forbids empty arrays: set ``key`` only when there is something in it."""
    if value:
        resource[key] = value
