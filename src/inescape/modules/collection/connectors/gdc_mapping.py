"""A GDC case (``/cases`` hit with demographic, diagnoses, exposures, diagnoses.treatments and
follow_ups expanded) into the record's shape, as far as its fields allow.

Dates: GDC publishes no calendar dates, only days counted from the index date (the
diagnosis, ``days_to_*``), the ``year_of_diagnosis`` and ``age_at_diagnosis`` (days). The
diagnosis date is taken as 1 July of ``year_of_diagnosis`` (at most six months off); the birth
date is that date less ``age_at_diagnosis`` days (else ``days_to_birth``, else 1 July of
``year_of_birth``); death, last follow-up and treatment dates are the diagnosis date plus their
``days_to_*``. The last follow-up is the latest of ``days_to_last_follow_up``, the follow-ups'
``days_to_follow_up`` and ``days_to_death`` (the diagnosis date when none is given).

Rejects (the case is reported, never guessed): no ``year_of_diagnosis``; no birth date
derivable; a morphology that is not ICD-O-3 (``8070/3``); a site outside the esophagus and
EGJ (C15.x, C16.0), or a tumour location that is not reported (``Esophagus, NOS``, C15.8,
C15.9: the record needs cervical, upper, middle, lower or EGJ); a dead patient without
``days_to_death``; whatever the clinical core refuses.

Left out: the AJCC staging unless T, N, M and the stage group are all reported and each is
in the record's value set (TCGA staged with the 6th/7th editions: their ``Stage IV``,
``IIIC`` or ``MX`` are not AJCC 8th values; the edition is kept in ``method``); a treatment
without ``days_to_treatment_start``, of a type other than radiation, pharmaceutical or
surgery, or with ``treatment_or_therapy`` "no"; alcohol history (GDC has no grams a day);
every biospecimen id. Race, when reported, is kept as ``ethnicity``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from inescape.modules.collection.connectors.base import MappingFailed

# The record's AJCC 8th value sets (patients' vocab, which is not its api; the clinical core
# validates every record again, so a drift here makes rejects, never bad data).
T_CATEGORIES = frozenset(("TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b"))
N_CATEGORIES = frozenset(("NX", "N0", "N1", "N2", "N3"))
M_CATEGORIES = frozenset(("M0", "M1"))
STAGE_GROUPS = frozenset(
    ("0", "I", "IA", "IB", "IC", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IVA", "IVB")
)
MORPHOLOGY_FAMILIES = {"squamous_cell_carcinoma": (8050, 8089), "adenocarcinoma": (8140, 8389)}
NOT_REPORTED = {"", "not reported", "unknown", "not applicable", "not allowed to collect", "--"}
SITES = {  # GDC tissue_or_organ_of_origin -> ICD-O-3 topography
    "cervical esophagus": "C15.0",
    "thoracic esophagus": "C15.1",
    "abdominal esophagus": "C15.2",
    "upper third of esophagus": "C15.3",
    "middle third of esophagus": "C15.4",
    "lower third of esophagus": "C15.5",
    "overlapping lesion of esophagus": "C15.8",
    "esophagus, nos": "C15.9",
    "cardia, nos": "C16.0",
}
SITE_NAMES = {code: name for name, code in SITES.items()}
LOCATIONS = {"C15.0": "cervical", "C15.3": "upper", "C15.4": "middle", "C15.5": "lower", "C16.0": "egj"}
TREATMENTS = {"radiation": "radiotherapy", "pharmaceutical": "systemic", "chemotherapy": "systemic"}
INTENTS = {"adjuvant": "adjuvant", "neoadjuvant": "neoadjuvant", "palliative": "palliative"}


def reported(value: Any) -> Any:
    """``value``, or None for GDC's ways of saying nothing (null, "Not Reported", "Unknown")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in NOT_REPORTED):
        return None
    return value


def fail(field: str, message: str) -> MappingFailed:
    return MappingFailed(f"{field}: {message}", errors=[{"field": field, "message": message}])


def case_record(case: Mapping[str, Any]) -> dict[str, Any]:
    """The record (JSON-shaped) ``case`` describes; ``MappingFailed`` naming the GDC field."""
    demographic = case.get("demographic") or {}
    diagnosis = primary_diagnosis(case)
    diagnosed = diagnosis_date(diagnosis)
    record: dict[str, Any] = {
        "sex": {"male": "male", "female": "female"}.get(str(demographic.get("gender")).lower(), "unknown"),
        "birth_date": birth_date(demographic, diagnosis, diagnosed).isoformat(),
        "conditions": [condition(diagnosis, diagnosed)],
        "staging": staging(diagnosis, diagnosed),
        "treatments": treatments(diagnosis, diagnosed),
        "risk_factors": risk_factors(case.get("exposures") or []),
        "outcome": outcome(case, demographic, diagnosis, diagnosed),
    }
    race = reported(demographic.get("race"))
    if race:
        record["ethnicity"] = str(race)[:200]
    return record


def primary_diagnosis(case: Mapping[str, Any]) -> Mapping[str, Any]:
    diagnoses = [d for d in case.get("diagnoses") or [] if isinstance(d, dict)]
    primary = [d for d in diagnoses if reported(d.get("classification_of_tumor")) in (None, "primary")]
    if not primary:
        raise fail("diagnoses", "the case has no primary diagnosis")
    return min(primary, key=lambda d: d.get("days_to_diagnosis") or 0)


def diagnosis_date(diagnosis: Mapping[str, Any]) -> date:
    year = reported(diagnosis.get("year_of_diagnosis"))
    if not isinstance(year, int):
        raise fail("diagnoses.year_of_diagnosis", "not reported: the diagnosis date cannot be derived")
    return date(year, 7, 1)


def after(diagnosed: date, days: Any) -> date | None:
    return diagnosed + timedelta(days=int(days)) if isinstance(days, int | float) else None


def birth_date(demographic: Mapping[str, Any], diagnosis: Mapping[str, Any], diagnosed: date) -> date:
    for days in (diagnosis.get("age_at_diagnosis"), -(demographic.get("days_to_birth") or 0) or None):
        if isinstance(days, int | float) and days > 0:
            return diagnosed - timedelta(days=int(days))
    year = reported(demographic.get("year_of_birth"))
    if isinstance(year, int):
        return date(year, 7, 1)
    raise fail("diagnoses.age_at_diagnosis", "no age at diagnosis, days_to_birth or year_of_birth")


def topography(diagnosis: Mapping[str, Any]) -> str:
    code = str(reported(diagnosis.get("icd_10_code")) or "")
    if code not in SITE_NAMES:
        site = str(diagnosis.get("tissue_or_organ_of_origin") or "").strip().lower()
        code = SITES.get(site, code)
    return code


def condition(diagnosis: Mapping[str, Any], diagnosed: date) -> dict[str, Any]:
    return tumour(
        str(reported(diagnosis.get("morphology")) or ""),
        topography(diagnosis),
        str(diagnosis.get("tumor_grade") or ""),
        diagnosed,
        fields=("diagnoses.morphology", "diagnoses.tissue_or_organ_of_origin"),
    )


def tumour(
    morphology: str, code: str, grade: str, diagnosed: date, *, fields: tuple[str, str]
) -> dict[str, Any]:
    """The primary condition from an ICD-O-3 morphology and topography (shared with the
    cBioPortal mapping; ``fields`` name the source's morphology and site fields in rejects)."""
    if not re.fullmatch(r"\d{4}/\d", morphology):
        raise fail(fields[0], f"{morphology or 'nothing'} is not an ICD-O-3 morphology code")
    if code not in SITE_NAMES:
        raise fail(fields[1], f"{code or 'no site'} is not esophagus or EGJ")
    if code not in LOCATIONS:
        raise fail(
            fields[1],
            f"the tumour location is not reported ({SITE_NAMES[code]}); "
            "the record needs cervical, upper, middle, lower or EGJ",
        )
    number = int(morphology[:4])
    histology = next((h for h, (low, high) in MORPHOLOGY_FAMILIES.items() if low <= number <= high), "other")
    return {
        "diagnosis_date": diagnosed.isoformat(),
        "histology": histology,
        "morphology_code": morphology,
        "topography_code": code,
        "location": LOCATIONS[code],
        "grade": grade if grade in ("G1", "G2", "G3") else "GX",
    }


def staging(diagnosis: Mapping[str, Any], diagnosed: date) -> list[dict[str, Any]]:
    edition = reported(diagnosis.get("ajcc_staging_system_edition")) or "unknown"
    return ajcc(
        str(reported(diagnosis.get("ajcc_pathologic_stage")) or ""),
        *(str(reported(diagnosis.get(f"ajcc_pathologic_{x}")) or "") for x in "tnm"),
        method=f"AJCC {edition} edition (GDC)",
        assessed_on=diagnosed,
    )


def ajcc(stage: str, t: str, n: str, m: str, *, method: str, assessed_on: date) -> list[dict[str, Any]]:
    """A pathological staging when T, N, M and the group (``Stage IIIA``) are all in the
    record's value set; none otherwise (see the module docstring)."""
    group = re.sub(r"^stage\s*", "", stage.strip(), flags=re.IGNORECASE).upper()
    if not (t in T_CATEGORIES and n in N_CATEGORIES and m in M_CATEGORIES and group in STAGE_GROUPS):
        return []
    return [
        {
            "kind": "pathological",
            "t": t,
            "n": n,
            "m": m,
            "stage_group": group,
            "assessed_on": assessed_on.isoformat(),
            "method": method,
        }
    ]


def treatments(diagnosis: Mapping[str, Any], diagnosed: date) -> list[dict[str, Any]]:
    found = []
    for given in diagnosis.get("treatments") or []:
        kind_text = str(given.get("treatment_type") or "").lower()
        kind = next((k for word, k in TREATMENTS.items() if word in kind_text), None)
        kind = kind or ("surgery" if "surg" in kind_text or "resection" in kind_text else None)
        start = after(diagnosed, given.get("days_to_treatment_start"))
        if kind is None or start is None or reported(given.get("treatment_or_therapy")) == "no":
            continue
        treatment: dict[str, Any] = {"kind": kind, "start_date": start.isoformat()}
        end = after(diagnosed, given.get("days_to_treatment_end"))
        intent = INTENTS.get(str(given.get("treatment_intent_type") or "").lower())
        agents = reported(given.get("therapeutic_agents"))
        treatment |= {"end_date": end.isoformat()} if end else {}
        treatment |= {"intent": intent} if intent else {}
        treatment |= {"agents": [str(agents)[:200]]} if agents else {}
        found.append(treatment)
    return found


def risk_factors(exposures: list[Any]) -> dict[str, Any]:
    exposure = next((e for e in exposures if isinstance(e, dict)), {})
    status = str(exposure.get("tobacco_smoking_status") or "").lower()
    tobacco = (
        "never"
        if "non-smoker" in status
        else "former"
        if "reformed" in status or "former" in status
        else "current"
        if "current" in status
        else "unknown"
    )
    found: dict[str, Any] = {"tobacco": tobacco}
    packs = exposure.get("pack_years_smoked")
    if isinstance(packs, int | float) and 0 <= packs <= 300:
        found["pack_years"] = float(packs)
    return found


def outcome(
    case: Mapping[str, Any], demographic: Mapping[str, Any], diagnosis: Mapping[str, Any], diagnosed: date
) -> dict[str, Any]:
    vital = {"alive": "alive", "dead": "dead"}.get(str(demographic.get("vital_status")).lower(), "unknown")
    death: Any = demographic.get("days_to_death")
    if vital == "dead" and not isinstance(death, int | float):
        raise fail("demographic.days_to_death", "the patient died but the days to death are not reported")
    follow_ups = [f.get("days_to_follow_up") for f in case.get("follow_ups") or [] if isinstance(f, dict)]
    known = (diagnosis.get("days_to_last_follow_up"), *follow_ups, death)
    last = max((d for d in known if isinstance(d, int | float)), default=0)
    found: dict[str, Any] = {
        "vital_status": vital,
        "last_follow_up": (diagnosed + timedelta(days=int(last))).isoformat(),
    }
    if vital == "dead":
        found["death_date"] = (diagnosed + timedelta(days=int(death))).isoformat()
    return found
