"""Events the training module publishes (tags ``training.<entity>.<past_verb>.v<N>``)."""

from __future__ import annotations

__all__: list[str] = []
