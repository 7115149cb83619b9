"""What the decision-support endpoints take and give (HTTP bodies). Codes are the clinical
core's value sets (shared/reference/domain.md §1), checked here so a wrong one is a 422 that
names its field before any rule runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Kind = Literal["clinical", "pathological", "post_neoadjuvant"]
Histology = Literal["squamous_cell_carcinoma", "adenocarcinoma", "other"]
Location = Literal["cervical", "upper", "middle", "lower", "egj"]
T = Literal["TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b"]
N = Literal["NX", "N0", "N1", "N2", "N3"]
M = Literal["M0", "M1"]
Grade = Literal["GX", "G1", "G2", "G3"]
StageGroup = Literal["0", "I", "IA", "IB", "IC", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IVA", "IVB"]
Her2 = Literal["0", "1+", "2+", "2+ ISH+", "2+ ISH-", "3+"]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class StagingRequest(Strict, frozen=True):
    """T, N and M take the platform's codes, with or without a c/p/yp prefix ("pT3", "ypN1")."""

    kind: Kind
    histology: Histology
    t: Annotated[str, msgspec.Meta(min_length=1, max_length=8)]
    n: Annotated[str, msgspec.Meta(min_length=1, max_length=8)]
    m: Annotated[str, msgspec.Meta(min_length=1, max_length=8)]
    grade: Grade | None = None
    location: Location | None = None


class PriorTreatment(Strict, frozen=True):
    kind: Literal["surgery", "radiotherapy", "systemic", "endoscopic_resection"]
    intent: Literal["neoadjuvant", "adjuvant", "perioperative", "definitive", "palliative"] | None = None
    margin: Literal["R0", "R1", "R2"] | None = None


class ClinicalFacts(Strict, frozen=True):
    """A patient's facts as decision support reads them; every one may be unknown (None), and
    an unknown fact is asked for, never assumed. ``stage_group`` is computed from T, N and M
    when it is not given; ``age`` is the age at diagnosis, in years."""

    histology: Histology | None = None
    location: Location | None = None
    kind: Kind = "clinical"
    t: T | None = None
    n: N | None = None
    m: M | None = None
    grade: Grade | None = None
    stage_group: StageGroup | None = None
    tumour_length_cm: Annotated[float, msgspec.Meta(gt=0, le=30)] | None = None
    lymphovascular_invasion: bool | None = None
    ecog: Annotated[int, msgspec.Meta(ge=0, le=5)] | None = None
    fit_for_surgery: bool | None = None
    her2: Her2 | None = None
    pdl1_cps: Percent | None = None
    pdl1_tps: Percent | None = None
    msi: Literal["MSI-H", "MSI-L", "MSS"] | None = None
    mmr: Literal["dMMR", "pMMR"] | None = None
    prior_treatments: list[PriorTreatment] = []
    pathologic_complete_response: bool | None = None
    invades_airway_or_great_vessels: bool | None = None
    age: Annotated[int, msgspec.Meta(ge=0, le=120)] | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """Stage, recommendations and risk for one patient, each saying where it came from."""

    patient_id: str | None
    facts: dict[str, Any]
    stage: Any | None  # staging.StageResult
    stage_problem: str | None  # why no stage could be computed from the facts
    recommendations: Any  # guidelines.Recommendations
    risk: Any  # risk.RiskAnswer
