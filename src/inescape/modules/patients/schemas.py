"""What crosses ``/api/v1/patients`` beside the record's DTOs (those are in ``api.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from inescape.modules.patients.api import Biomarker, Condition, Observation, Staging, Treatment

# The entries a record gains one at a time: ``POST /api/v1/patients/{id}/{kind}``.
SUB_RESOURCES: dict[str, type[msgspec.Struct]] = {
    "staging": Staging,
    "treatments": Treatment,
    "observations": Observation,
    "biomarkers": Biomarker,
    "conditions": Condition,
}


class Created(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(description="The new record's id (GET /api/v1/patients/{id} reads it).")]


class BulkCreated(msgspec.Struct, frozen=True, kw_only=True):
    ids: Annotated[list[str], msgspec.Meta(description="The new records' ids, in the order sent.")]
    count: Annotated[int, msgspec.Meta(description="How many records were created (all of those sent).")]


class PatientPage(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(
            description=(
                "One row per patient: id, sex, birth_year, origin, source, histology, location, "
                "stage_group (AJCC 8th), diagnosis_date, vital_status, created_at, and given_name, "
                "family_name and mrn for those who may see a whole record. A researcher's row is "
                "de-identified and holds only research_id, sex, birth_year (age_group 90+ over 89), "
                "histology, location, stage_group, diagnosis_date (shifted by the patient's date "
                "offset) and vital_status."
            )
        ),
    ]
    next_cursor: Annotated[
        str | None, msgspec.Meta(description="The cursor of the next page; null on the last one.")
    ]


FILTERS_DOC = (
    "What the cohort selects: {field: [values]} for sex, histology, location, stage_group, "
    "vital_status, origin, source, treatment (kinds) and biomarker (KIND:value), any value of a "
    "field and every field; min_age and max_age in whole years; scheme (clinical, pathological, "
    "post_neoadjuvant): whose stage groups stage_group selects. The query parameters of "
    "GET /api/v1/patients, as a document."
)


class CohortCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A cohort to keep: its definition, applied whenever it is used (not a list of patients)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="What to call it.")]
    description: Annotated[
        Annotated[str, msgspec.Meta(max_length=2000)] | None,
        msgspec.Meta(description="What it is for; null for nothing."),
    ] = None
    filters: Annotated[dict[str, Any], msgspec.Meta(description=FILTERS_DOC)] = msgspec.field(
        default_factory=dict
    )


class SavedCohort(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(description="The cohort's id: cohort=<id> on the cohort reads.")]
    name: Annotated[str, msgspec.Meta(description="What it is called.")]
    description: Annotated[str | None, msgspec.Meta(description="What it is for.")]
    filters: Annotated[dict[str, Any], msgspec.Meta(description=FILTERS_DOC)]
    created_by: Annotated[str | None, msgspec.Meta(description="The username of who saved it.")]
    created_at: Annotated[datetime, msgspec.Meta(description="When it was saved.")]
    patients: Annotated[
        int | None,
        msgspec.Meta(
            description="How many records it selects now, of those the caller may see; null where "
            "it selects on a field the caller's (de-identified) view hides, so they cannot use it."
        ),
    ]


class CohortPage(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[
        list[SavedCohort], msgspec.Meta(description="The saved cohorts on this page, newest first.")
    ]
    next_cursor: Annotated[str | None, msgspec.Meta(description="The next page's cursor; null on the last.")]


# The cohort reads' answers (encoded once and cached: these document them). A row holds the
# grouping column under its own name (histology, stage_group, ...), so rows are open objects.
Rows = list[dict[str, Any]]


class CohortCounts(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[
        Rows,
        msgspec.Meta(
            description="One row per combination of the by columns: each column's value (null: not "
            "recorded), n (patients) and share (of the patients selected), largest first."
        ),
    ]


class CohortAges(msgspec.Struct, frozen=True, kw_only=True):
    bins: Annotated[
        Rows,
        msgspec.Meta(
            description="The histogram of age at diagnosis: lower and upper (years, lower included), "
            "n and share per bin; for de-identified data every age over 89 is in the last (90+)."
        ),
    ]
    summary: Annotated[
        Rows,
        msgspec.Meta(
            description="One row: n, n_missing, mean, sd, min, q1, median, q3, iqr and max (years)."
        ),
    ]


class CohortSurvival(msgspec.Struct, frozen=True, kw_only=True):
    km: Annotated[
        Rows,
        msgspec.Meta(
            description="The Kaplan-Meier curve of each group where it steps: the group column (with "
            "group=), time (months), survival, lower and upper (the confidence band), n_at_risk, "
            "n_events and n_censored."
        ),
    ]
    median: Annotated[
        Rows,
        msgspec.Meta(
            description="Per group: n, n_events, median (months; null: not reached), lower and upper."
        ),
    ]
    at_risk: Annotated[
        Rows,
        msgspec.Meta(
            description="Numbers at risk per group: time (months: yearly across the whole follow-up, "
            "every two or more years past ten) and n_at_risk."
        ),
    ]
    log_rank: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description="The log-rank test between the groups: statistic, df, p_value and "
            "p_value_log10 (for p below what a float holds); null without two groups with events."
        ),
    ]
    hazard_ratios: Annotated[
        Rows | None,
        msgspec.Meta(
            description="Cox hazard ratios against the reference group: the group column, n, "
            "n_events, hazard_ratio, lower, upper and reference (true for the reference); null as "
            "log_rank."
        ),
    ]
    endpoint: Annotated[str, msgspec.Meta(description="os, pfs, dfs or css, as asked.")]
    scheme: Annotated[str | None, msgspec.Meta(description="The staging scheme of the stage groups.")]
    excluded: Annotated[
        int, msgspec.Meta(description="Patients left out: no group value, or no start for DFS.")
    ]
    time_unit: Annotated[str, msgspec.Meta(description="months")]
    as_of: Annotated[str, msgspec.Meta(description="The date follow-up is counted to (ISO 8601).")]


class CohortComparison(msgspec.Struct, frozen=True, kw_only=True):
    a: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="Cohort A as a whole: n (diagnosed patients), n_events, median (months; null: "
            "not reached), lower and upper (its interval)."
        ),
    ]
    b: Annotated[dict[str, Any], msgspec.Meta(description="Cohort B as a whole, as a.")]
    overlap: Annotated[int, msgspec.Meta(description="Patients in both cohorts.")]
    compared: Annotated[
        Literal["whole", "exclusive"],
        msgspec.Meta(
            description="What the test compares: whole (the cohorts share no patient: A against B) or "
            "exclusive (they do: the patients only in A against those only in B, the overlap left out)."
        ),
    ]
    only_a: Annotated[int, msgspec.Meta(description="Patients of A in the test (A less the overlap).")]
    only_b: Annotated[int, msgspec.Meta(description="Patients of B in the test (B less the overlap).")]
    log_rank: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description="The log-rank test of only-A against only-B: statistic, df, p_value, p_value_log10 "
            "and groups (A and B: n, observed, expected); null when a side is empty or nobody had an event."
        ),
    ]
    hazard_ratio: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description="The Cox hazard ratio of B against A: hazard_ratio, lower, upper (the interval at "
            "the confidence asked) and p_value (Wald); null as log_rank, and each value null where B or A "
            "had no event."
        ),
    ]
    endpoint: Annotated[str, msgspec.Meta(description="os, pfs, dfs or css, as asked.")]
    scheme: Annotated[str | None, msgspec.Meta(description="The staging scheme of the stage groups.")]
    time_unit: Annotated[str, msgspec.Meta(description="months")]
    as_of: Annotated[str, msgspec.Meta(description="The date follow-up is counted to (ISO 8601).")]


# --- a record as read back, and what a change answers -----------------------------------------

Entries = list[dict[str, Any]]


def _kept(what: str) -> Any:
    return msgspec.Meta(description=what + " Left out of a de-identified record.")


class PatientRecordView(msgspec.Struct, frozen=True, kw_only=True):
    """One record: whole for those who may see it; de-identified for a researcher (no id,
    name, contact or number; ``research_id`` instead; dates shifted; ``birth_year`` or
    ``age_group`` instead of the birth date). Entries are as PatientCreate takes them, with
    their ids."""

    id: Annotated[str, _kept("The patient's id.")] = ""
    research_id: Annotated[
        str, msgspec.Meta(description="De-identified only: the patient's stable research id (R-...).")
    ] = ""
    version: Annotated[int, msgspec.Meta(description="The record's version; send it back to change it.")] = 0
    created_at: Annotated[str, _kept("When it was created (ISO 8601).")] = ""
    updated_at: Annotated[str, _kept("When it last changed (ISO 8601).")] = ""
    sex: Annotated[str, msgspec.Meta(description="female, male or unknown.")] = ""
    birth_date: Annotated[str, _kept("The birth date (ISO 8601 date).")] = ""
    birth_year: Annotated[
        int, msgspec.Meta(description="De-identified only: the birth year (absent over 89).")
    ] = 0
    age_group: Annotated[
        str, msgspec.Meta(description="De-identified only: 90+ for a patient over 89, instead of a year.")
    ] = ""
    given_name: Annotated[str | None, _kept("Given name; null: not recorded.")] = None
    family_name: Annotated[str | None, _kept("Family name; null: not recorded.")] = None
    mrn: Annotated[str | None, _kept("Medical record number; null: not recorded.")] = None
    national_id: Annotated[str | None, _kept("National identifier; null: not recorded.")] = None
    ethnicity: Annotated[str | None, msgspec.Meta(description="Ethnicity code; null: not recorded.")] = None
    country: Annotated[str | None, msgspec.Meta(description="ISO 3166-1 alpha-2; null: not recorded.")] = None
    province: Annotated[str | None, msgspec.Meta(description="Province or state; null: not recorded.")] = None
    address: Annotated[str | None, _kept("Postal address; null: not recorded.")] = None
    phone: Annotated[str | None, _kept("Phone number; null: not recorded.")] = None
    email: Annotated[str | None, _kept("E-mail address; null: not recorded.")] = None
    origin: Annotated[str, msgspec.Meta(description="real or synthetic.")] = ""
    source: Annotated[
        str | None,
        msgspec.Meta(description="The collection or generation that made it; null: entered by hand."),
    ] = None
    source_record_id: Annotated[str | None, _kept("Its id at that source; null: none.")] = None
    synthetic_risk: Annotated[
        float | None,
        msgspec.Meta(description="Synthetic records: the risk score the generator drew; null otherwise."),
    ] = None
    risk_factors: Annotated[
        dict[str, Any], msgspec.Meta(description="Smoking, alcohol, BMI, reflux... (RiskFactors).")
    ] = {}
    conditions: Annotated[Entries, msgspec.Meta(description="Diagnoses (Condition), with ids.")] = []
    staging: Annotated[Entries, msgspec.Meta(description="TNM stagings (Staging), with ids.")] = []
    biomarkers: Annotated[Entries, msgspec.Meta(description="Biomarker results (Biomarker), with ids.")] = []
    treatments: Annotated[Entries, msgspec.Meta(description="Treatments (Treatment), with ids.")] = []
    observations: Annotated[
        Entries, msgspec.Meta(description="Observations: weight, ECOG, labs... (Observation), with ids.")
    ] = []
    outcome: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description="Vital status, dates of death and last contact (Outcome); null: none recorded."
        ),
    ] = None
    fitness_for_surgery: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="The assessment of fitness for surgery (SurgicalFitness); null: none."),
    ] = None
    comorbidities: Annotated[Entries, msgspec.Meta(description="Comorbidities (Comorbidity).")] = []


class RecordVersion(msgspec.Struct, frozen=True, kw_only=True):
    version: Annotated[
        int,
        msgspec.Meta(description="The record's new version (send it, or the ETag, with the next change)."),
    ]


# --- FHIR answers (what every resource and Bundle holds; FHIR R4 defines the rest) ------------


class FhirResource(msgspec.Struct, frozen=True, kw_only=True):
    """A FHIR R4 resource (mCODE profiles where they apply); hl7.org/fhir/R4 defines its fields."""

    resourceType: Annotated[str, msgspec.Meta(description="The resource's type (Patient, Condition...).")]
    id: Annotated[str, msgspec.Meta(description="Its id on this server.")] = ""


class FhirBundle(msgspec.Struct, frozen=True, kw_only=True):
    """A FHIR R4 Bundle."""

    resourceType: Annotated[str, msgspec.Meta(description="Bundle.")]
    type: Annotated[str, msgspec.Meta(description="collection (one record) or searchset (a search's page).")]
    id: Annotated[str, msgspec.Meta(description="The Bundle's id (one record's Bundle).")] = ""
    total: Annotated[int, msgspec.Meta(description="A search's matches in all, when counted.")] = 0
    link: Annotated[
        list[dict[str, str]],
        msgspec.Meta(description="A search's self and next page URLs (relation, url)."),
    ] = []
    entry: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(description="Each resource (fullUrl, resource); absent for a search with no match."),
    ] = []


class ExportManifest(msgspec.Struct, frozen=True, kw_only=True):
    """A finished Bulk Data export (FHIR Bulk Data Access 2.0)."""

    transactionTime: Annotated[str, msgspec.Meta(description="The instant the export reflects (ISO 8601).")]
    request: Annotated[str, msgspec.Meta(description="The kick-off request's URL.")]
    requiresAccessToken: Annotated[
        bool, msgspec.Meta(description="true: a file is read with the same bearer token.")
    ]
    output: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(description="Each NDJSON file: type (the resource type), url and count (resources)."),
    ]
    error: Annotated[list[dict[str, Any]], msgspec.Meta(description="OperationOutcome files; always empty.")]


__all__ = [
    "SUB_RESOURCES",
    "BulkCreated",
    "CohortAges",
    "CohortComparison",
    "CohortCounts",
    "CohortCreate",
    "CohortPage",
    "CohortSurvival",
    "Created",
    "ExportManifest",
    "FhirBundle",
    "FhirResource",
    "PatientPage",
    "PatientRecordView",
    "RecordVersion",
    "SavedCohort",
]
