"""Events the generation module publishes (tags ``generation.<entity>.<past_verb>.v<N>``)."""

from __future__ import annotations

__all__: list[str] = []
