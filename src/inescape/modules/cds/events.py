"""Events the cds module publishes (tags ``cds.<entity>.<past_verb>.v<N>``)."""

from __future__ import annotations

__all__: list[str] = []
