"""Events the collection module publishes (tags ``collection.<entity>.<past_verb>.v<N>``)."""

from __future__ import annotations

__all__: list[str] = []
