"""Events the collection module publishes (tags ``collection.<entity>.<past_verb>.v<N>``)."""

from __future__ import annotations

from inescape.kernel.events import Event


class DatasetCollected(Event, frozen=True, tag="collection.dataset.collected.v1"):
    """A collection run is complete: its records are upserted, its rejects and provenance
    (``dataset_metadata``) written."""

    leaves_process = True
    dataset_id: str
    source: str
    connector: str
    research_only: bool
    read: int
    accepted: int
    duplicates: int
    rejected: int
    origin: str = "real"


__all__ = ["DatasetCollected"]
