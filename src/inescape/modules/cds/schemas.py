"""What the decision-support endpoints take and give (HTTP bodies). Codes are the clinical
core's value sets (shared/reference/domain.md §1), checked here so a wrong one is a 422 that
names its field before any rule runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from inescape.modules.cds.api import (
    Decision,
    Grade,
    Histology,
    Kind,
    Location,
    Recommendations,
    StageResult,
    Strict,
)


class StagingRequest(Strict, frozen=True):
    """T, N and M take the platform's codes, with or without a c/p/yp prefix ("pT3", "ypN1")."""

    kind: Annotated[
        Kind,
        msgspec.Meta(
            description=(
                "Which AJCC 8th edition table: clinical (cTNM), pathological (pTNM) or "
                "post_neoadjuvant (ypTNM)."
            )
        ),
    ]
    histology: Annotated[
        Histology,
        msgspec.Meta(
            description=(
                "squamous_cell_carcinoma, adenocarcinoma or other (other is not staged: a 422 says so)."
            )
        ),
    ]
    t: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=8,
            description="Primary tumour category, TX to T4b, with or without a c/p/yp prefix (pT3).",
        ),
    ]
    n: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=8,
            description="Regional node category, NX, N0 or N1 to N3, with or without a c/p/yp prefix (ypN1).",
        ),
    ]
    m: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=8,
            description="Distant metastasis, M0 or M1, with or without a c/p/yp prefix.",
        ),
    ]
    grade: Annotated[
        Grade | None,
        msgspec.Meta(
            description=(
                "Histologic grade G1, G2, G3 or GX; used by pathological staging only, where null "
                "is read as GX (the result's notes say so)."
            )
        ),
    ] = None
    location: Annotated[
        Location | None,
        msgspec.Meta(
            description=(
                "The tumour epicentre (cervical, upper, middle, lower, egj); used only for "
                "pathological squamous cell carcinoma, where null is read as AJCC location X."
            )
        ),
    ] = None


# --- answers ----------------------------------------------------------------------------------


class RecommendationsAnswer(msgspec.Struct, frozen=True, kw_only=True):
    stage: Annotated[
        StageResult | None,
        msgspec.Meta(
            description="The stage group computed from T, N and M; null: stage_problem says why not."
        ),
    ]
    stage_problem: Annotated[
        str | None,
        msgspec.Meta(
            description="Why no stage could be computed (or the given one contradicts it); null: none."
        ),
    ]
    recommendations: Annotated[Recommendations, msgspec.Meta(description="The guideline's options.")]


class CardSource(msgspec.Struct, frozen=True, kw_only=True):
    label: Annotated[str, msgspec.Meta(description="Where the card's conclusion comes from, in words.")]
    url: Annotated[str, msgspec.Meta(description="A link to that source; absent when there is none.")] = ""


class Card(msgspec.Struct, frozen=True, kw_only=True):
    """A CDS Hooks card (CDS Hooks 2.0)."""

    uuid: Annotated[str, msgspec.Meta(description="The card's id, for feedback.")]
    summary: Annotated[str, msgspec.Meta(description="The conclusion, under 140 characters.")]
    indicator: Annotated[
        Literal["info", "warning", "critical"], msgspec.Meta(description="How urgent: info or warning.")
    ]
    detail: Annotated[str, msgspec.Meta(description="The reasoning and evidence, as Markdown.")]
    source: Annotated[CardSource, msgspec.Meta(description="The card's source.")]
    suggestions: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(
            description="A treatment option's proposal: a draft CarePlan to create; absent otherwise."
        ),
    ] = []
    selectionBehavior: Annotated[
        str,
        msgspec.Meta(description="any: the suggestions may be chosen freely; absent without suggestions."),
    ] = ""
    overrideReasons: Annotated[
        list[dict[str, str]],
        msgspec.Meta(
            description="Codes a clinician may give when overriding the card (system, code, display)."
        ),
    ] = []
    links: Annotated[
        list[dict[str, str]], msgspec.Meta(description="The evidence's links (label, url, type absolute).")
    ] = []


class Cards(msgspec.Struct, frozen=True, kw_only=True):
    cards: Annotated[
        list[Card],
        msgspec.Meta(
            description="Stage, up to three options, missing data or why no rule applies, survival, and "
            "any FHIR resource that could not be read."
        ),
    ]


class HookService(msgspec.Struct, frozen=True, kw_only=True):
    hook: Annotated[str, msgspec.Meta(description="The hook it answers: patient-view.")]
    id: Annotated[str, msgspec.Meta(description="Its id: POST /cds-services/{id} calls it.")]
    title: Annotated[str, msgspec.Meta(description="Its name, for people.")]
    description: Annotated[str, msgspec.Meta(description="What it answers, in words.")]
    prefetch: Annotated[
        dict[str, str], msgspec.Meta(description="The FHIR queries an EHR may send the answers of, by key.")
    ]
    usageRequirements: Annotated[str, msgspec.Meta(description="What an EHR must give for it to work.")]


class Discovery(msgspec.Struct, frozen=True, kw_only=True):
    services: Annotated[list[HookService], msgspec.Meta(description="The CDS services this platform offers.")]


class PatientDecision(Decision, frozen=True, kw_only=True):
    """Stage, recommendations and risk for one stored patient, each saying where it came from
    (the answer's own name: the generation module's release ``Decision`` is another thing)."""
