"""Public surface of decision support: its DTOs, its errors and the ``StagingApi`` facade.

``StagingApi`` (library: no backend, no server) stages and recommends on plain values; other
modules get it from ``ctx.facades.get(StagingApi)``, notebooks from ``inescape.notebook``::

    stage(kind="pathological", histology="adenocarcinoma", t="T1b", n="N0", m="M0", grade="G3")
    # StageResult(stage_group="IC", table=..., row=..., rule=..., source=...)
    recommend(histology="adenocarcinoma", location="egj", t="T3", n="N1", m="M0", ecog=1)
    # Recommendations(options=[...], more_data_needed=[...], rule_set=...)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

import msgspec

from inescape.kernel.errors import Invalid

MODULE = "cds"

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


# --- errors -----------------------------------------------------------------------------------


class StagingError(Invalid):
    """The inputs are outside the vocabulary, or the AJCC table does not stage their combination.

    ``errors`` holds one ``{"field", "message"}`` per input to fix; the message says what would
    make the case stageable.
    """


# --- staging ----------------------------------------------------------------------------------


class StageResult(msgspec.Struct, frozen=True, kw_only=True):
    """A stage group with the row that produced it, so a clinician can check it against the manual."""

    stage_group: str
    kind: str
    scheme: str
    table: str
    row: int
    rule: str
    used: dict[str, str]
    ignored: list[str]
    notes: list[str]
    source: str


# --- the facts decision support reads ---------------------------------------------------------


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


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


# --- recommendations --------------------------------------------------------------------------


class Citation(msgspec.Struct, frozen=True):
    id: str
    title: str
    reference: str
    url: str | None = None


class Option(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: str
    rank: int
    title: str
    recommendation: str
    intent: str
    strength: str
    evidence: list[Citation]
    evidence_summary: str
    guideline_page: str | None
    because: list[str]  # the facts that made the rule fire, as a clinician reads them


class MissingFact(msgspec.Struct, frozen=True, kw_only=True):
    fact: str
    why: str
    rules: list[str]  # the rules this fact would decide


class Recommendations(msgspec.Struct, frozen=True, kw_only=True):
    options: list[Option]  # ranked, best first
    more_data_needed: list[MissingFact]
    rule_set: str  # "esophagus-<version>"
    facts_used: dict[str, object]
    # Never silent: with no option and no fact to ask for, why no rule applies.
    no_rule_applies: str | None = None


# --- risk -------------------------------------------------------------------------------------


class Horizon(msgspec.Struct, frozen=True, kw_only=True):
    years: int
    survival: float | None
    lower: float | None
    upper: float | None


class RiskAnswer(msgspec.Struct, frozen=True, kw_only=True):
    available: bool
    message: str
    model: str | None = None
    version: int | None = None
    purpose: str | None = None  # what the answering version serves (overall-survival)
    trained_on: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    horizons: list[Horizon] = []
    missing: list[str] = []  # facts the model needs that were not given
    interval: str | None = None


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """Stage, recommendations and risk for one patient, each saying where it came from."""

    patient_id: str | None
    facts: dict[str, Any]
    stage: StageResult | None
    stage_problem: str | None  # why no stage could be computed from the facts
    recommendations: Recommendations
    risk: RiskAnswer


# --- facade -----------------------------------------------------------------------------------


class StagingApi(Protocol):
    """Staging and guideline recommendations on plain values (library: no backend)."""

    def stage(self, **inputs: Any) -> StageResult:
        """AJCC 8th edition stage group from ``kind``, ``histology``, ``t``, ``n``, ``m`` and
        optionally ``grade`` and ``location``; ``StagingError`` naming each input to fix."""
        ...

    def recommend(self, facts: ClinicalFacts | None = None, **values: Any) -> Recommendations:
        """Ranked options for ``facts`` (or the same facts as keywords: ``histology=..., t=...``);
        the stage group is computed from T, N and M when they are given."""
        ...


__all__ = [
    "MODULE",
    "Citation",
    "ClinicalFacts",
    "Decision",
    "Grade",
    "Her2",
    "Histology",
    "Horizon",
    "Kind",
    "Location",
    "MissingFact",
    "Option",
    "PriorTreatment",
    "Recommendations",
    "RiskAnswer",
    "StageGroup",
    "StageResult",
    "StagingApi",
    "StagingError",
    "Strict",
]
