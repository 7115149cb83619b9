"""Rules a record must keep beyond its types: codes from the value sets, and dates in order
(diagnosis after birth, treatment after diagnosis, death after everything)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date

from inescape.kernel.errors import Invalid
from inescape.modules.patients import vocab
from inescape.modules.patients.api import (
    Biomarker,
    Comorbidity,
    Condition,
    Observation,
    Outcome,
    PatientCreate,
    Staging,
    Treatment,
)

Problem = tuple[str, str]  # (field path, message)

# The code shape of each comorbidity code system: a SNOMED CT concept id (6-18 digits, the
# last a Verhoeff check digit, not checked here); an ICD-10 or ICD-10-CM category with its
# optional subdivision (C15.4, I11.9, E11.65).
COMORBIDITY_CODES = {
    "http://snomed.info/sct": re.compile(r"\d{6,18}"),
    "http://hl7.org/fhir/sid/icd-10": re.compile(r"[A-Z]\d{2}(\.[0-9A-Z]{1,4})?"),
    "http://hl7.org/fhir/sid/icd-10-cm": re.compile(r"[A-Z]\d{2}(\.[0-9A-Z]{1,4})?"),
}


def check_condition(c: Condition, at: str) -> Iterator[Problem]:
    family = vocab.MORPHOLOGY_FAMILIES.get(c.histology)
    code = int(c.morphology_code.split("/")[0])
    if family and not family[0] <= code <= family[1]:
        yield (
            f"{at}.morphology_code",
            (
                f"{c.morphology_code} is not a {c.histology.replace('_', ' ')} "
                f"code (ICD-O-3 {family[0]}-{family[1]})"
            ),
        )
    if c.topography_code not in vocab.TOPOGRAPHIES:
        yield f"{at}.topography_code", f"{c.topography_code} is not an esophageal or EGJ site (C15.x, C16.0)"
    if c.siewert and c.location != "egj":
        yield f"{at}.siewert", "a Siewert type only applies to tumours of the esophagogastric junction"


def check_staging(s: Staging, at: str) -> Iterator[Problem]:
    for name, value, allowed in (
        ("t", s.t, vocab.T_CATEGORIES),
        ("n", s.n, vocab.N_CATEGORIES),
        ("m", s.m, vocab.M_CATEGORIES),
        ("stage_group", s.stage_group, vocab.STAGE_GROUPS),
    ):
        if value not in allowed:
            yield f"{at}.{name}", f"{value!r} is not an AJCC 8th {name.upper()} value ({', '.join(allowed)})"


def check_biomarker(b: Biomarker, at: str) -> Iterator[Problem]:
    allowed = {"her2": vocab.HER2_RESULTS, "msi": vocab.MSI_RESULTS, "mmr": vocab.MMR_RESULTS}.get(b.kind)
    if allowed is not None and b.value not in allowed:
        yield f"{at}.value", f"{b.value!r} is not a {b.kind} result ({', '.join(allowed)})"
    if allowed is None:  # PD-L1 CPS / TPS: a number 0-100
        try:
            ok = 0 <= float(b.value) <= 100
        except ValueError:
            ok = False
        if not ok:
            yield f"{at}.value", f"{b.kind} is a score from 0 to 100, not {b.value!r}"


def check_observation(o: Observation, at: str) -> Iterator[Problem]:
    known = vocab.OBSERVATION_CODES.get(o.code)
    if known is None:
        yield (
            f"{at}.code",
            f"LOINC {o.code} is not an accepted observation ({', '.join(vocab.OBSERVATION_CODES)})",
        )
    elif known[0] == "ecog" and o.value not in (0, 1, 2, 3, 4, 5):
        yield f"{at}.value", "ECOG performance status is a whole number from 0 to 5"


def check_treatment(t: Treatment, at: str) -> Iterator[Problem]:
    if t.end_date and t.end_date < t.start_date:
        yield f"{at}.end_date", "a treatment cannot end before it starts"
    if t.kind != "surgery" and t.margin:
        yield f"{at}.margin", "a resection margin belongs to surgery"
    if t.kind != "radiotherapy" and (t.dose_gy or t.fractions):
        yield f"{at}.dose_gy", "a dose in Gy and fractions belong to radiotherapy"


def check_comorbidities(items: Sequence[Comorbidity]) -> Iterator[Problem]:
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(items):
        at = f"comorbidities[{i}]"
        if not COMORBIDITY_CODES[item.system].fullmatch(item.code):
            yield f"{at}.code", f"{item.code!r} is not a code of {item.system}"
        if (item.system, item.code) in seen:
            yield f"{at}.code", f"{item.system}|{item.code} is listed twice"
        seen.add((item.system, item.code))


def _dated(record: PatientCreate) -> Iterator[tuple[str, date]]:
    for i, c in enumerate(record.conditions):
        yield f"conditions[{i}].diagnosis_date", c.diagnosis_date
    for i, s in enumerate(record.staging):
        yield f"staging[{i}].assessed_on", s.assessed_on
    for i, b in enumerate(record.biomarkers):
        yield f"biomarkers[{i}].measured_on", b.measured_on
    for i, t in enumerate(record.treatments):
        yield f"treatments[{i}].start_date", t.start_date
        if t.end_date:
            yield f"treatments[{i}].end_date", t.end_date
    for i, o in enumerate(record.observations):
        yield f"observations[{i}].observed_on", o.observed_on
    if record.fitness_for_surgery:
        yield "fitness_for_surgery.assessed_on", record.fitness_for_surgery.assessed_on
    for i, m in enumerate(record.comorbidities):
        if m.recorded_on:
            yield f"comorbidities[{i}].recorded_on", m.recorded_on


def check_dates(record: PatientCreate, today: date) -> Iterator[Problem]:
    if record.birth_date > today:
        yield "birth_date", "the birth date is in the future"
    dated = list(_dated(record))
    for path, value in dated:
        if value < record.birth_date:
            yield path, "this date is before the patient's birth"
        if value > today:
            yield path, "this date is in the future"
    diagnosed = min((c.diagnosis_date for c in record.conditions), default=None)
    if diagnosed:
        for i, t in enumerate(record.treatments):
            if t.start_date < diagnosed:
                yield f"treatments[{i}].start_date", "treatment starts before the diagnosis"
    if record.outcome:
        yield from check_outcome(record.outcome, [v for _, v in dated], diagnosed)


def check_outcome(o: Outcome, dates: list[date], diagnosed: date | None) -> Iterator[Problem]:
    if o.vital_status == "dead" and o.death_date is None:
        yield "outcome.death_date", "a patient who died needs the date of death"
    if o.vital_status != "dead" and o.death_date is not None:
        yield "outcome.death_date", "a date of death needs vital_status 'dead'"
    if o.death_date and any(d > o.death_date for d in dates):
        yield "outcome.death_date", "the date of death is before another event of the record"
    if diagnosed and o.last_follow_up < diagnosed:
        yield "outcome.last_follow_up", "the last follow-up is before the diagnosis"
    if o.recurrence_date and diagnosed and o.recurrence_date < diagnosed:
        yield "outcome.recurrence_date", "recurrence before the diagnosis"
    if o.progression_date and diagnosed and o.progression_date < diagnosed:
        yield "outcome.progression_date", "progression before the diagnosis"
    for name in ("recurrence_date", "progression_date"):
        when = getattr(o, name)
        if when and o.death_date and when > o.death_date:
            yield f"outcome.{name}", f"{name.split('_')[0]} after the date of death"


def validate(record: PatientCreate, *, today: date) -> None:
    """Raise ``Invalid`` listing every problem with its field path; nothing is written."""
    problems: list[Problem] = []
    for i, c in enumerate(record.conditions):
        problems += check_condition(c, f"conditions[{i}]")
    for i, s in enumerate(record.staging):
        problems += check_staging(s, f"staging[{i}]")
    for i, b in enumerate(record.biomarkers):
        problems += check_biomarker(b, f"biomarkers[{i}]")
    for i, o in enumerate(record.observations):
        problems += check_observation(o, f"observations[{i}]")
    for i, t in enumerate(record.treatments):
        problems += check_treatment(t, f"treatments[{i}]")
    problems += check_comorbidities(record.comorbidities)
    problems += check_dates(record, today)
    if problems:
        raise Invalid(
            "The record is invalid: " + "; ".join(f"{p}: {m}" for p, m in problems[:5]),
            errors=[{"field": p, "message": m} for p, m in problems],
        )
