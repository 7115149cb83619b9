"""Events the auth module publishes (tags ``auth.<entity>.<past_verb>.v<N>``)."""

from __future__ import annotations

__all__: list[str] = []
