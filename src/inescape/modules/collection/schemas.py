"""What the collection endpoints take and give."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

SourceName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.:/-]*$")]


class CollectionRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``source`` names where the records come from (``hospital-a-ehr``): with each record's
    own id it keys the upsert. ``research_only``: de-identify on ingest."""

    connector: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    source: SourceName
    config: dict[str, Any]
    research_only: bool = False


class SourceKind(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    title: str
    config_schema: dict[str, Any]


class UploadView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    filename: str | None
    content_type: str
    bytes: int
    sha256: str
    key: str
