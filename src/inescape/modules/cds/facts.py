"""A stored or received record, read as decision-support facts.

The primary condition is the earliest diagnosis; the staging that counts is the latest
assessment (on a tie, post-neoadjuvant over pathological over clinical, as the clinical core
orders them); biomarkers and ECOG are their latest measurements. Lymphovascular invasion and invasion of
the airway or great vessels are facts of the primary condition; fitness for surgery is the
record's current assessment. What the record does not hold stays unknown, and the rules ask for
it where it decides the answer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from inescape.modules.cds.api import ClinicalFacts, PriorTreatment

ECOG_LOINC = "89247-1"
STAGE_ORDER = {"post_neoadjuvant": 3, "pathological": 2, "clinical": 1}


def facts_of(record: Any) -> ClinicalFacts:
    """``record``: the clinical core's ``PatientRecord`` or ``PatientCreate``."""
    condition = min(record.conditions, key=lambda c: c.diagnosis_date, default=None)
    staging = max(record.staging, key=lambda s: (s.assessed_on, STAGE_ORDER[s.kind]), default=None)
    # GX (grade not assessable) is a recorded code, read as such (a model trained with GX
    # levels uses it; the rules treat it as not assessed)
    grade = staging.grade if staging is not None and staging.grade else None
    if grade is None and condition is not None:
        grade = condition.grade
    surgeries = sorted((t for t in record.treatments if t.kind == "surgery"), key=lambda t: t.start_date)
    return ClinicalFacts(
        histology=condition.histology if condition else None,
        location=condition.location if condition else None,
        kind=staging.kind if staging else "clinical",
        t=staging.t if staging else None,
        n=staging.n if staging else None,
        m=staging.m if staging else None,
        grade=grade,
        stage_group=staging.stage_group if staging else None,
        tumour_length_cm=condition.tumour_length_cm if condition else None,
        lymphovascular_invasion=getattr(condition, "lymphovascular_invasion", None),
        invades_airway_or_great_vessels=getattr(condition, "invades_airway_or_great_vessels", None),
        fit_for_surgery=_fit(record),
        ecog=_latest_ecog(record),
        her2=_marker(record, "her2"),
        pdl1_cps=_number(_marker(record, "pdl1_cps")),
        pdl1_tps=_number(_marker(record, "pdl1_tps")),
        msi=_marker(record, "msi"),
        mmr=_marker(record, "mmr"),
        prior_treatments=[
            PriorTreatment(kind=t.kind, intent=t.intent, margin=t.margin)
            for t in sorted(record.treatments, key=lambda t: t.start_date)
        ],
        pathologic_complete_response=surgeries[-1].pathologic_complete_response if surgeries else None,
        age=_age(record.birth_date, condition.diagnosis_date) if condition else None,
        sex=record.sex,
    )


def _fit(record: Any) -> bool | None:
    fitness = getattr(record, "fitness_for_surgery", None)
    return None if fitness is None else bool(fitness.fit)


def _latest_ecog(record: Any) -> int | None:
    scores = [o for o in record.observations if o.code == ECOG_LOINC]
    if not scores:
        return None
    value = max(scores, key=lambda o: o.observed_on).value
    return int(value) if 0 <= value <= 5 else None


def _marker(record: Any, kind: str) -> Any:
    found = [b for b in record.biomarkers if b.kind == kind]
    return max(found, key=lambda b: b.measured_on).value if found else None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.rstrip("%"))
    except ValueError:
        return None
    return number if 0 <= number <= 100 else None


def _age(birth: date, at: date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
