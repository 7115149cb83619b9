"""Events the training module publishes (tags ``training.<entity>.<past_verb>.v<N>``)."""

from __future__ import annotations

from inescape.kernel.events import Event


class ModelRegistered(Event, frozen=True, tag="training.model.registered.v1"):
    leaves_process = True
    name: str
    version: int


class ModelPromoted(Event, frozen=True, tag="training.model.promoted.v1"):
    """``version`` of ``name`` now answers in production; whoever caches a model reloads."""

    leaves_process = True
    name: str
    version: int


__all__ = ["ModelPromoted", "ModelRegistered"]
