"""What the generation endpoints take and give."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Output = Literal["parquet", "csv", "ndjson", "database"]
MAX_N = 10_000_000


class GenerationRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``quotas``: e.g. ``[{"where": {"histology": "adenocarcinoma", "stage_group": "IIIA"},
    "share": 1.0}, {"where": {"regimen": "CROSS"}, "share": 0.3}]``, met exactly."""

    profile: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=64,
            pattern=r"^[a-z0-9][a-z0-9-]*\Z",
            description="The profile to draw from, by name (GET /api/v1/generation/profiles lists them).",
        ),
    ]
    n: Annotated[int, msgspec.Meta(ge=1, le=MAX_N, description="How many patients, 1 to 10,000,000.")]
    seed: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=2**63 - 1,
            description="The random seed: the same profile version, n, seed and quotas give the same cohort.",
        ),
    ] = 0
    quotas: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(
            description=(
                "Exact counts: each {where, share} asks that share (a fraction, 0 to 1) of the cohort "
                "match where, a map of field to one value or a list (histology, sex, age_band, "
                "location, stage_group (cTNM), t, n, m, ecog, regimen). Overlapping quotas must "
                "nest. Empty: the profile's own mix."
            )
        ),
    ] = []
    outputs: Annotated[
        list[Output],
        msgspec.Meta(
            min_length=1,
            description=(
                "What to make: parquet or csv files (one per table), ndjson (one clinical record a "
                "line), and database (the patients loaded into the clinical core)."
            ),
        ),
    ] = msgspec.field(default_factory=lambda: ["parquet"])
    # rows per transaction and per checkpoint when loading the database; the cohort itself
    # does not depend on it
    chunk_size: Annotated[
        int,
        msgspec.Meta(
            ge=500,
            le=100_000,
            description=(
                "Patients per chunk (each database chunk is one transaction); the cohort does "
                "not depend on it."
            ),
        ),
    ] = 50_000
    # chunks loaded at once, each in its own transaction on its own connection (PostgreSQL
    # with the cores to use them; SQLite, one writer, takes them one after another)
    load_connections: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=8,
            description="Chunks loaded into the database at once, each in its own transaction "
            "on its own connection (one at a time on SQLite)",
        ),
    ] = 1


class ProfileSummary(msgspec.Struct, frozen=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(description="The profile's name, as a GenerationRequest's profile.")]
    title: Annotated[str, msgspec.Meta(description="What population it models, in words.")]
    version: Annotated[
        str, msgspec.Meta(description="Its version (1.0); a dataset records the version it came from.")
    ]
    description: Annotated[
        str, msgspec.Meta(description="Whom it models and how (period, histology mix, treatment), in words.")
    ]
    builtin: Annotated[
        bool,
        msgspec.Meta(description="true: shipped with the platform; false: a profile a user added."),
    ]


class ProfileList(msgspec.Struct, frozen=True, kw_only=True):
    """Every profile, shipped and added, as every list is: the items and the next page's cursor."""

    items: Annotated[list[ProfileSummary], msgspec.Meta(description="Each profile, by name.")]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Always null: this list is not paged (every item is in items)."),
    ] = None


# --- answers (documented in OpenAPI; the handlers encode the same fields) ---------------------


class DatasetFileView(msgspec.Struct, frozen=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(description="The file's name (patients.parquet, cohort.ndjson).")]
    table: Annotated[
        str | None,
        msgspec.Meta(description="The table it holds; null for the FHIR NDJSON (every table in one)."),
    ]
    format: Annotated[str, msgspec.Meta(description="parquet, csv or ndjson.")]
    key: Annotated[str, msgspec.Meta(description="Its key in the datasets bucket.")]
    rows: Annotated[int, msgspec.Meta(description="Rows (NDJSON: resources) in the file.")]
    bytes: Annotated[int, msgspec.Meta(description="Its size in bytes.")]
    sha256: Annotated[
        str, msgspec.Meta(description="The SHA-256 of its bytes, hex (its Digest on download).")
    ]


class DatasetView(msgspec.Struct, frozen=True, kw_only=True):
    """A dataset's metadata; a field of the other kind of dataset (generated or collected) is
    left out."""

    id: Annotated[str, msgspec.Meta(description="The dataset's id (its generation or collection job's).")]
    kind: Annotated[str, msgspec.Meta(description="synthetic (generated) or collected.")]
    origin: Annotated[str, msgspec.Meta(description="synthetic or real: where its patients come from.")]
    created_at: Annotated[str, msgspec.Meta(description="When it was made (ISO 8601).")]
    profile: Annotated[str, msgspec.Meta(description="Generated: the profile it was generated from.")] = ""
    profile_version: Annotated[str, msgspec.Meta(description="Generated: that profile's version.")] = ""
    seed: Annotated[
        int, msgspec.Meta(description="Generated: the seed (the same seed gives the same data).")
    ] = 0
    n: Annotated[int, msgspec.Meta(description="Generated: patients asked for.")] = 0
    quotas: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(description="Generated: the quotas asked for (a column, its value and a share)."),
    ] = []
    outputs: Annotated[list[str], msgspec.Meta(description="Generated: parquet, csv, ndjson, database.")] = []
    generator_version: Annotated[str, msgspec.Meta(description="Generated: the generator's version.")] = ""
    files: Annotated[list[DatasetFileView], msgspec.Meta(description="The stored files, to download.")] = []
    rows: Annotated[dict[str, int], msgspec.Meta(description="Generated: rows per table.")] = {}
    fidelity: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="Generated: the fidelity report (marginals, correlations, survival against the "
            "profile's targets); left out of the list."
        ),
    ] = {}
    derived_from: Annotated[
        dict[str, Any],
        msgspec.Meta(description="Generated from a fitted profile: its source, profile and the ε spent."),
    ] = {}
    release: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="Derived from real patients: its release (status held or released, the privacy "
            "report, any steward's decision); researchers read it once released."
        ),
    ] = {}
    source: Annotated[str, msgspec.Meta(description="Collected: the source's name.")] = ""
    connector: Annotated[str, msgspec.Meta(description="Collected: the connector that read it.")] = ""
    config: Annotated[
        dict[str, Any], msgspec.Meta(description="Collected: the connector's settings (no secret).")
    ] = {}
    research_only: Annotated[
        bool, msgspec.Meta(description="Collected: true when its records are for research only.")
    ] = False
    started_at: Annotated[
        str | None, msgspec.Meta(description="Collected: when collection started (ISO 8601).")
    ] = None
    finished_at: Annotated[str, msgspec.Meta(description="Collected: when it finished (ISO 8601).")] = ""
    counts: Annotated[
        dict[str, int], msgspec.Meta(description="Collected: records read, written and rejected, by kind.")
    ] = {}


class FitWeight(msgspec.Struct, frozen=True, kw_only=True):
    statistic: Annotated[str, msgspec.Meta(description="The fitted statistic (a share, a rate).")]
    n: Annotated[float, msgspec.Meta(description="Patients (or person-years) behind it, after noise.")]
    strength: Annotated[float, msgspec.Meta(description="The prior's weight, in the same unit.")]
    data_weight: Annotated[
        float, msgspec.Meta(description="How much of it comes from the data: n / (n + strength), 0 to 1.")
    ]


class FittedProfile(msgspec.Struct, frozen=True, kw_only=True):
    """A profile fitted to a source's patients, and where it comes from (never its holdout key)."""

    name: Annotated[str, msgspec.Meta(description="The fitted profile's name.")]
    source: Annotated[str, msgspec.Meta(description="The source whose patients it was fitted to.")]
    prior: Annotated[str, msgspec.Meta(description="The profile it shrinks towards.")]
    prior_version: Annotated[str, msgspec.Meta(description="That profile's version.")]
    patients: Annotated[
        int | None,
        msgspec.Meta(
            description="Patients it was fitted on; null for an ε-DP fit (an exact count is not said)."
        ),
    ] = None
    epsilon: Annotated[
        float | None, msgspec.Meta(description="The ε spent (ε-differential privacy); null: fitted without.")
    ] = None
    left_out: Annotated[
        int, msgspec.Meta(description="Patients left out of the fit: their histology is not in the prior's.")
    ] = 0
    weights: Annotated[list[FitWeight], msgspec.Meta(description="Each fitted statistic's data weight.")] = []
    fitted_at: Annotated[str, msgspec.Meta(description="When it was fitted (ISO 8601).")] = ""
    fitted_by: Annotated[str | None, msgspec.Meta(description="Who fitted it; null: not recorded.")] = None
    holdout: Annotated[float, msgspec.Meta(description="The share of patients held out of the fit.")] = 0.0
    holdout_patients: Annotated[
        int | None,
        msgspec.Meta(description="Patients held out; null under ε-DP (an exact count is not said)."),
    ] = None


class SpentFit(msgspec.Struct, frozen=True, kw_only=True):
    profile: Annotated[str, msgspec.Meta(description="The profile the fit made.")]
    epsilon: Annotated[float, msgspec.Meta(description="The ε it spent.")]
    at: Annotated[str, msgspec.Meta(description="When (ISO 8601).")]


class PrivacyBudget(msgspec.Struct, frozen=True, kw_only=True):
    """A source's privacy budget: how much ε its fits may spend in all, and what they spent."""

    source: Annotated[str, msgspec.Meta(description="The source's name.")]
    total: Annotated[float, msgspec.Meta(description="The total ε its fits may spend.")]
    spent: Annotated[float, msgspec.Meta(description="The ε spent so far.")]
    remaining: Annotated[float, msgspec.Meta(description="The ε left (total - spent, at least 0).")]
    fits: Annotated[list[SpentFit], msgspec.Meta(description="Each fit that spent some, oldest first.")]


class Release(msgspec.Struct, frozen=True, kw_only=True):
    """A dataset derived from real patients: whether researchers may read it, and why."""

    status: Annotated[
        Literal["held", "released"],
        msgspec.Meta(description="held: researchers may not read it; released: they may."),
    ]
    report: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="The privacy report: distances to closest records, membership and attribute "
            "inference advantages, identical records, marginal and survival fidelity, TSTR C-index."
        ),
    ] = {}
    thresholds: Annotated[
        dict[str, float], msgspec.Meta(description="The thresholds the report was held to.")
    ] = {}
    failures: Annotated[
        list[str], msgspec.Meta(description="Each threshold the report failed, in words; empty: none.")
    ] = []
    measured_at: Annotated[str, msgspec.Meta(description="When the report was made (ISO 8601).")] = ""
    decision: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="A steward's decision (decision, reason, by, at); null: none recorded."),
    ] = None


Section = dict[str, Any]


def _part(what: str) -> Any:
    return msgspec.Meta(
        description=what + " Each group of figures names its source (a publication or engineer's choice)."
    )


class ProfileDocument(msgspec.Struct, frozen=True, kw_only=True):
    """A whole generator profile, as its TOML holds it (``docs`` and the shipped profiles say
    what each figure means)."""

    name: Annotated[str, msgspec.Meta(description="The profile's name, as a GenerationRequest's profile.")]
    title: Annotated[str, msgspec.Meta(description="What population it models, in words.")]
    version: Annotated[
        str, msgspec.Meta(description="Its version; a dataset records the version it came from.")
    ]
    description: Annotated[str, msgspec.Meta(description="Whom it models and how, in words.")]
    locale: Annotated[str, msgspec.Meta(description="The locale of generated names and addresses (en_GB).")]
    country: Annotated[
        str, msgspec.Meta(description="ISO 3166-1 alpha-2; ZZ when identity.countries draws it per patient.")
    ]
    identity: Annotated[Section, _part("Regions, countries, ethnicity, e-mail and phone shares, MRN prefix.")]
    histology: Annotated[Section, _part("Histology shares (code -> share, summing to 1).")]
    morphology: Annotated[Section, _part("Per histology: ICD-O-3 morphology shares.")]
    sex: Annotated[Section, _part("Per histology: the share of men.")]
    age: Annotated[
        Section, _part("Per histology and sex: age at diagnosis (skew-normal mean, sd, min, max; years).")
    ]
    location: Annotated[Section, _part("Per histology: tumour epicentre shares.")]
    siewert: Annotated[Section, _part("Siewert type shares among junction tumours.")]
    grade: Annotated[Section, _part("Per histology: grade shares.")]
    tumour_length: Annotated[Section, _part("Tumour length: median (cm) by cT and the sigma of its log.")]
    stage: Annotated[Section, _part("Per histology: cTNM stage group shares and T, N weights.")]
    ecog: Annotated[Section, _part("ECOG performance status shares, for M0 and M1.")]
    risk_factors: Annotated[
        Section,
        _part("Risk factor level shares with odds ratios, their correlations, pack-years, BMI, alcohol."),
    ]
    biomarkers: Annotated[
        Section, _part("Shares tested (early, advanced), HER2, PD-L1 CPS and TPS bands, MSI by histology.")
    ]
    treatment: Annotated[
        Section,
        _part(
            "Pathway shares by histology and stage group, surgery, R0 and pCR shares, uptake of "
            "adjuvant nivolumab and immunotherapy."
        ),
    ]
    pathology: Annotated[
        Section,
        _part(
            "pT and pN shifts after upfront surgery; ypT and ypN down-staging and TRG after "
            "neoadjuvant therapy."
        ),
    ]
    survival: Annotated[
        Section,
        _part("Cancer hazard by stage, its shape over time (breaks in years) and background mortality."),
    ]
    recurrence: Annotated[
        Section,
        _part("Share of recorded recurrences, their timing (a fraction of the way to death) and sites."),
    ]
    follow_up: Annotated[
        Section, _part("Diagnosis window and censoring date (ISO dates) and loss to follow-up per year.")
    ]
    targets: Annotated[
        list[Section],
        msgspec.Meta(
            description="Published figures a generated cohort is checked against (the fidelity report)."
        ),
    ]
    trials: Annotated[
        Section, msgspec.Meta(description="Trial arms, for targets named trial.*; empty when none.")
    ] = {}


class FittedProfileList(msgspec.Struct, frozen=True, kw_only=True):
    """Every fitted profile, as every list is: the items and the next page's cursor."""

    items: Annotated[list[FittedProfile], msgspec.Meta(description="Each fitted profile, by name.")]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Always null: this list is not paged (every item is in items)."),
    ] = None
