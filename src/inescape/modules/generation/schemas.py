"""What the generation endpoints take and give."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Output = Literal["parquet", "csv", "ndjson", "database"]
MAX_N = 10_000_000


class GenerationRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``quotas``: e.g. ``[{"where": {"histology": "adenocarcinoma", "stage_group": "IIIA"},
    "share": 1.0}, {"where": {"regimen": "CROSS"}, "share": 0.3}]``, met exactly."""

    profile: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*\Z")]
    n: Annotated[int, msgspec.Meta(ge=1, le=MAX_N)]
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 0
    quotas: list[dict[str, Any]] = []
    outputs: Annotated[list[Output], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["parquet"]
    )
    # rows per transaction and per checkpoint when loading the database; the cohort itself
    # does not depend on it
    chunk_size: Annotated[int, msgspec.Meta(ge=500, le=100_000)] = 50_000
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
    name: str
    title: str
    version: str
    description: str
    builtin: bool
