"""The esophageal cancer record as it crosses the API (mCODE-aligned), input and output."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=100)]

Sex = Literal["female", "male", "other", "unknown"]
Origin = Literal["real", "synthetic"]
HistologyT = Literal["squamous_cell_carcinoma", "adenocarcinoma", "other"]
LocationT = Literal["cervical", "upper", "middle", "lower", "egj"]
StagingKind = Literal["clinical", "pathological", "post_neoadjuvant"]
TreatmentKind = Literal["surgery", "radiotherapy", "systemic", "endoscopic_resection"]
Intent = Literal["neoadjuvant", "adjuvant", "perioperative", "definitive", "palliative"]


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class RiskFactors(Strict, frozen=True):
    tobacco: Literal["never", "former", "current", "unknown"] = "unknown"
    pack_years: Annotated[float, msgspec.Meta(ge=0, le=300)] | None = None
    alcohol_g_per_day: Annotated[float, msgspec.Meta(ge=0, le=500)] | None = None
    opium: bool | None = None
    hot_beverages: bool | None = None
    gerd: bool | None = None
    barretts: bool | None = None
    bmi: Annotated[float, msgspec.Meta(ge=10, le=80)] | None = None
    family_history: bool | None = None
    socioeconomic_status: Literal["low", "middle", "high", "unknown"] = "unknown"


class Condition(Strict, frozen=True):
    """The primary cancer condition (mCODE PrimaryCancerCondition)."""

    diagnosis_date: date
    histology: HistologyT
    morphology_code: Annotated[str, msgspec.Meta(pattern=r"^\d{4}/\d$")]  # ICD-O-3, e.g. 8070/3
    topography_code: Annotated[str, msgspec.Meta(pattern=r"^C1[56]\.\d$")]  # ICD-O-3, e.g. C15.4
    location: LocationT
    siewert: Literal["I", "II", "III"] | None = None
    grade: Literal["GX", "G1", "G2", "G3"] = "GX"
    tumour_length_cm: Annotated[float, msgspec.Meta(gt=0, le=30)] | None = None


class Staging(Strict, frozen=True):
    kind: StagingKind
    t: Code
    n: Code
    m: Code
    stage_group: Code
    assessed_on: date
    grade: Literal["GX", "G1", "G2", "G3"] | None = None
    location: LocationT | None = None
    method: Text = "AJCC 8th edition"


class Biomarker(Strict, frozen=True):
    kind: Literal["her2", "pdl1_cps", "pdl1_tps", "msi", "mmr"]
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    measured_on: date


class Treatment(Strict, frozen=True):
    kind: TreatmentKind
    start_date: date
    end_date: date | None = None
    intent: Intent | None = None
    procedure: Text | None = None
    regimen: Text | None = None
    agents: list[Text] = msgspec.field(default_factory=list)
    line: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None
    margin: Literal["R0", "R1", "R2"] | None = None
    dose_gy: Annotated[float, msgspec.Meta(gt=0, le=100)] | None = None
    fractions: Annotated[int, msgspec.Meta(ge=1, le=60)] | None = None
    pathologic_complete_response: bool | None = None
    tumour_regression_grade: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None


class Observation(Strict, frozen=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^\d{1,7}-\d$")]  # LOINC
    value: float
    observed_on: date
    unit: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class Outcome(Strict, frozen=True):
    vital_status: Literal["alive", "dead", "unknown"]
    last_follow_up: date
    death_date: date | None = None
    cause_of_death: Text | None = None
    recurrence_date: date | None = None
    recurrence_site: Text | None = None


class PatientCreate(Strict, frozen=True):
    """A whole record, written in one transaction."""

    sex: Sex
    birth_date: date
    given_name: Text | None = None
    family_name: Text | None = None
    mrn: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    national_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    ethnicity: Text | None = None
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None  # ISO 3166-1
    province: Text | None = None
    address: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    origin: Origin = "real"
    source: Text | None = None
    source_record_id: Text | None = None
    synthetic_risk: float | None = None  # the generator's true hazard (oracle C-index)
    risk_factors: RiskFactors = msgspec.field(default_factory=RiskFactors)
    conditions: list[Condition] = msgspec.field(default_factory=list)
    staging: list[Staging] = msgspec.field(default_factory=list)
    biomarkers: list[Biomarker] = msgspec.field(default_factory=list)
    treatments: list[Treatment] = msgspec.field(default_factory=list)
    observations: list[Observation] = msgspec.field(default_factory=list)
    outcome: Outcome | None = None


class PatientUpdate(Strict, frozen=True):
    """Demographics and risk factors; clinical events have their own sub-resources."""

    sex: Sex | None = None
    given_name: Text | None = None
    family_name: Text | None = None
    ethnicity: Text | None = None
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None
    province: Text | None = None
    address: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    risk_factors: RiskFactors | None = None
    outcome: Outcome | None = None


class PatientRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A whole record as read back (ids added; identifiers decrypted)."""

    id: str
    version: int
    created_at: datetime
    updated_at: datetime
    sex: str
    birth_date: date
    given_name: str | None
    family_name: str | None
    mrn: str | None
    national_id: str | None
    ethnicity: str | None
    country: str | None
    province: str | None
    address: str | None
    phone: str | None
    email: str | None
    origin: str
    source: str | None
    source_record_id: str | None
    synthetic_risk: float | None
    risk_factors: RiskFactors
    conditions: list[Condition]
    staging: list[Staging]
    biomarkers: list[Biomarker]
    treatments: list[Treatment]
    observations: list[Observation]
    outcome: Outcome | None


class PatientSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the patient list (no identifiers)."""

    id: str
    sex: str
    birth_year: int
    origin: str
    source: str | None
    histology: str | None
    location: str | None
    stage_group: str | None
    diagnosis_date: date | None
    vital_status: str | None
    created_at: datetime
