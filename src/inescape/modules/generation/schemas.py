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
