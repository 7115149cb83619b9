"""Generator profiles: their model, their rules, and the packaged ones (``*.toml`` here)."""

from __future__ import annotations

from inescape.modules.generation.profiles.catalogue import Profiles, names
from inescape.modules.generation.profiles.model import Profile

__all__ = ["Profile", "Profiles", "names"]
