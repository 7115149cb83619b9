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

    stage_group: Annotated[
        str, msgspec.Meta(description="The AJCC 8th edition stage group (I, IIA, IVB...).")
    ]
    kind: Annotated[
        str,
        msgspec.Meta(
            description="The classification: clinical, pathological or post_neoadjuvant (yp, after "
            "neoadjuvant therapy)."
        ),
    ]
    scheme: Annotated[str, msgspec.Meta(description="The histology table used: squamous or adenocarcinoma.")]
    table: Annotated[str, msgspec.Meta(description="The manual's table the stage comes from.")]
    row: Annotated[int, msgspec.Meta(description="The table's row that matched (1 = the first).")]
    rule: Annotated[str, msgspec.Meta(description="That row, as the manual reads it.")]
    used: Annotated[
        dict[str, str],
        msgspec.Meta(description="The inputs the row read (t, n, m, grade, location) and their values."),
    ]
    ignored: Annotated[list[str], msgspec.Meta(description="Inputs given that this table does not read.")]
    notes: Annotated[
        list[str], msgspec.Meta(description="What a clinician should know about this stage, in words.")
    ]
    source: Annotated[str, msgspec.Meta(description="The manual cited.")]


# --- the facts decision support reads ---------------------------------------------------------


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class PriorTreatment(Strict, frozen=True):
    kind: Annotated[
        Literal["surgery", "radiotherapy", "systemic", "endoscopic_resection"],
        msgspec.Meta(description="surgery, radiotherapy, systemic (drug) therapy or endoscopic_resection."),
    ]
    intent: Annotated[
        Literal["neoadjuvant", "adjuvant", "perioperative", "definitive", "palliative"] | None,
        msgspec.Meta(
            description=(
                "Why it was given: neoadjuvant, adjuvant, perioperative, definitive or palliative; "
                "null: not recorded (the rules ask for it where it decides)."
            )
        ),
    ] = None
    margin: Annotated[
        Literal["R0", "R1", "R2"] | None,
        msgspec.Meta(
            description=(
                "For surgery, the resection margin: R0 (clear), R1 (microscopic residual) or R2 "
                "(macroscopic residual); null: not surgery, or not recorded."
            )
        ),
    ] = None


class ClinicalFacts(Strict, frozen=True):
    """A patient's facts as decision support reads them; every one may be unknown (None), and
    an unknown fact is asked for, never assumed. ``stage_group`` is computed from T, N and M
    when it is not given; ``age`` is the age at diagnosis, in years."""

    histology: Annotated[
        Histology | None,
        msgspec.Meta(description="squamous_cell_carcinoma, adenocarcinoma or other; null: unknown."),
    ] = None
    location: Annotated[
        Location | None,
        msgspec.Meta(
            description=(
                "Where the tumour's epicentre lies: cervical, upper, middle or lower (thoracic) "
                "esophagus, or egj (esophagogastric junction, epicentre at most 2 cm into the stomach); "
                "null: unknown."
            )
        ),
    ] = None
    kind: Annotated[
        Kind,
        msgspec.Meta(
            description=(
                "The staging t, n and m come from: clinical (cTNM), pathological (pTNM, surgery "
                "first) or post_neoadjuvant (ypTNM, surgery after neoadjuvant therapy)."
            )
        ),
    ] = "clinical"
    t: Annotated[
        T | None,
        msgspec.Meta(description="AJCC 8th edition primary tumour category (TX to T4b); null: unknown."),
    ] = None
    n: Annotated[
        N | None,
        msgspec.Meta(
            description="AJCC 8th edition regional node category: NX, N0 or N1 to N3; null: unknown."
        ),
    ] = None
    m: Annotated[
        M | None,
        msgspec.Meta(description="AJCC 8th edition distant metastasis: M0 or M1; null: unknown."),
    ] = None
    grade: Annotated[
        Grade | None,
        msgspec.Meta(
            description=(
                "Histologic grade: G1 (well), G2 (moderately), G3 (poorly differentiated) or GX (not "
                "assessable, which the rules treat as not assessed); null: unknown."
            )
        ),
    ] = None
    stage_group: Annotated[
        StageGroup | None,
        msgspec.Meta(
            description=(
                "AJCC 8th edition stage group of the kind above; null: computed from t, n and m. "
                "One that contradicts them is a 422 for recommendations; risk uses the computed one."
            )
        ),
    ] = None
    tumour_length_cm: (
        Annotated[
            float,
            msgspec.Meta(
                gt=0,
                le=30,
                description="The tumour's length in centimetres (above 0, at most 30); null: unknown.",
            ),
        ]
        | None
    ) = None
    lymphovascular_invasion: Annotated[
        bool | None,
        msgspec.Meta(description="Whether pathology found lymphovascular invasion; null: unknown."),
    ] = None
    ecog: (
        Annotated[
            int,
            msgspec.Meta(
                ge=0,
                le=5,
                description="ECOG performance status, 0 (fully active) to 5 (dead); null: unknown.",
            ),
        ]
        | None
    ) = None
    fit_for_surgery: Annotated[
        bool | None,
        msgspec.Meta(description="Whether the patient is medically fit for esophagectomy; null: unknown."),
    ] = None
    her2: Annotated[
        Her2 | None,
        msgspec.Meta(
            description=(
                "HER2 immunohistochemistry score (0, 1+, 2+, 3+), with the in situ hybridisation "
                "result for 2+ (2+ ISH+, 2+ ISH-); null: not tested."
            )
        ),
    ] = None
    pdl1_cps: (
        Annotated[
            Percent,
            msgspec.Meta(description="PD-L1 combined positive score, 0 to 100; null: not tested."),
        ]
        | None
    ) = None
    pdl1_tps: (
        Annotated[
            Percent,
            msgspec.Meta(
                description="PD-L1 tumour proportion score, in percent (0 to 100); null: not tested."
            ),
        ]
        | None
    ) = None
    msi: Annotated[
        Literal["MSI-H", "MSI-L", "MSS"] | None,
        msgspec.Meta(
            description="Microsatellite status: MSI-H (high), MSI-L (low) or MSS (stable); null: not tested."
        ),
    ] = None
    mmr: Annotated[
        Literal["dMMR", "pMMR"] | None,
        msgspec.Meta(
            description="Mismatch repair by IHC: dMMR (deficient) or pMMR (proficient); null: not tested."
        ),
    ] = None
    prior_treatments: Annotated[
        list[PriorTreatment],
        msgspec.Meta(description="Treatments already given; empty: none (treatment-naive)."),
    ] = []
    pathologic_complete_response: Annotated[
        bool | None,
        msgspec.Meta(
            description=(
                "Whether the resected specimen showed no residual tumour (ypT0N0); null: read from "
                "t and n when kind is post_neoadjuvant, otherwise unknown."
            )
        ),
    ] = None
    invades_airway_or_great_vessels: Annotated[
        bool | None,
        msgspec.Meta(
            description="Whether it invades the airway (trachea, bronchi) or a great vessel; null: unknown."
        ),
    ] = None
    age: (
        Annotated[int, msgspec.Meta(ge=0, le=120, description="Age at diagnosis in years; null: unknown.")]
        | None
    ) = None
    sex: Annotated[
        Literal["female", "male", "other", "unknown"] | None,
        msgspec.Meta(description="female, male, other or unknown; null: not given."),
    ] = None


# --- recommendations --------------------------------------------------------------------------


class Citation(msgspec.Struct, frozen=True):
    id: Annotated[str, msgspec.Meta(description="The citation's id in the rule set.")]
    title: Annotated[str, msgspec.Meta(description="The publication's title.")]
    reference: Annotated[
        str, msgspec.Meta(description="Authors, journal, year (and DOI or PMID where known).")
    ]
    url: Annotated[str | None, msgspec.Meta(description="Where to read it; null: no link.")] = None


class Option(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: Annotated[str, msgspec.Meta(description="The rule that made this option.")]
    rank: Annotated[int, msgspec.Meta(description="Its rank, 1 = best first.")]
    title: Annotated[str, msgspec.Meta(description="The option in a few words.")]
    recommendation: Annotated[str, msgspec.Meta(description="What the guideline recommends, in words.")]
    intent: Annotated[str, msgspec.Meta(description="curative, palliative or supportive.")]
    strength: Annotated[
        str, msgspec.Meta(description="The guideline's strength of recommendation (NCCN preferred...).")
    ]
    evidence: Annotated[list[Citation], msgspec.Meta(description="The publications behind it.")]
    evidence_summary: Annotated[str, msgspec.Meta(description="What the evidence shows, in words.")]
    guideline_page: Annotated[
        str | None, msgspec.Meta(description="The guideline's page or section; null: not cited.")
    ]
    because: Annotated[
        list[str], msgspec.Meta(description="The facts that made the rule fire, as a clinician reads them.")
    ]


class MissingFact(msgspec.Struct, frozen=True, kw_only=True):
    fact: Annotated[str, msgspec.Meta(description="The fact to record (a ClinicalFacts field).")]
    why: Annotated[str, msgspec.Meta(description="Why it is needed, in words.")]
    rules: Annotated[list[str], msgspec.Meta(description="The rules this fact would decide.")]


class Recommendations(msgspec.Struct, frozen=True, kw_only=True):
    options: Annotated[list[Option], msgspec.Meta(description="The treatment options, ranked, best first.")]
    more_data_needed: Annotated[
        list[MissingFact], msgspec.Meta(description="Facts that would decide further rules.")
    ]
    rule_set: Annotated[str, msgspec.Meta(description="The rule set and its version (esophagus-<version>).")]
    facts_used: Annotated[
        dict[str, object],
        msgspec.Meta(description="The facts the rules read, with the stage group computed."),
    ]
    no_rule_applies: Annotated[
        str | None,
        msgspec.Meta(
            description="With no option and no fact to ask for: why no rule applies; null otherwise."
        ),
    ] = None


# --- risk -------------------------------------------------------------------------------------


class Horizon(msgspec.Struct, frozen=True, kw_only=True):
    years: Annotated[int, msgspec.Meta(description="The horizon: 1, 3 or 5 years from diagnosis.")]
    survival: Annotated[
        float | None,
        msgspec.Meta(
            description="The probability of being alive then (0 to 1); null beyond the model's follow-up."
        ),
    ]
    lower: Annotated[
        float | None, msgspec.Meta(description="The 95 % interval's lower bound; null: no interval.")
    ]
    upper: Annotated[
        float | None, msgspec.Meta(description="The 95 % interval's upper bound; null: no interval.")
    ]


class RiskAnswer(msgspec.Struct, frozen=True, kw_only=True):
    available: Annotated[
        bool,
        msgspec.Meta(
            description="true: a model answered; false: message says why not (no model, a deceased "
            "patient...)."
        ),
    ]
    message: Annotated[str, msgspec.Meta(description="The answer, or why there is none, in words.")]
    model: Annotated[
        str | None, msgspec.Meta(description="The answering model's name; null: none answered.")
    ] = None
    version: Annotated[int | None, msgspec.Meta(description="Its version; null: none answered.")] = None
    purpose: Annotated[
        str | None,
        msgspec.Meta(
            description="What the answering version serves (overall-survival); null: none answered."
        ),
    ] = None
    trained_on: Annotated[
        dict[str, Any], msgspec.Meta(description="The model's data: dataset, rows, origins, features.")
    ] = {}
    metrics: Annotated[
        dict[str, Any],
        msgspec.Meta(description="The model's test metrics (c_index...); null: not measurable."),
    ] = {}
    horizons: Annotated[list[Horizon], msgspec.Meta(description="Survival at each horizon.")] = []
    missing: Annotated[list[str], msgspec.Meta(description="Facts the model needs that were not given.")] = []
    interval: Annotated[
        str | None, msgspec.Meta(description="How the intervals are made, in words; null: no intervals.")
    ] = None


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """Stage, recommendations and risk for one patient, each saying where it came from."""

    patient_id: Annotated[
        str | None, msgspec.Meta(description="The patient's id; null for facts sent in the request.")
    ]
    facts: Annotated[
        dict[str, Any],
        msgspec.Meta(description="The clinical facts used (ClinicalFacts fields), read from the record."),
    ]
    stage: Annotated[
        StageResult | None,
        msgspec.Meta(description="The stage group computed; null: stage_problem says why not."),
    ]
    stage_problem: Annotated[
        str | None, msgspec.Meta(description="Why no stage could be computed from the facts; null: it was.")
    ]
    recommendations: Annotated[Recommendations, msgspec.Meta(description="The guideline's options.")]
    risk: Annotated[RiskAnswer, msgspec.Meta(description="Survival from the production model.")]


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
