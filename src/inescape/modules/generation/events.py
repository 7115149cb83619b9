"""Events the generation module publishes (tags ``generation.<entity>.<past_verb>.v<N>``)."""

from __future__ import annotations

from inescape.kernel.events import Event


class DatasetGenerated(Event, frozen=True, tag="generation.dataset.generated.v1"):
    """A synthetic dataset is complete: its files are stored and its metadata written."""

    leaves_process = True
    dataset_id: str
    profile: str
    n: int
    seed: int
    loaded_to_database: bool
    origin: str = "synthetic"


__all__ = ["DatasetGenerated"]
