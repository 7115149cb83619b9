"""Events the patients module publishes (tags ``patients.<entity>.<past_verb>.v<N>``)."""

from __future__ import annotations

__all__: list[str] = []
