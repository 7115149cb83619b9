"""Guideline recommendations for esophageal cancer: versioned rule data (``rules.toml``)
evaluated by a small three-valued engine. Unknown facts are asked for, never assumed."""

from __future__ import annotations

from inescape.modules.cds.guidelines.engine import recommend
from inescape.modules.cds.guidelines.facts import (
    Citation,
    Facts,
    MissingFact,
    Option,
    PriorTreatment,
    Recommendations,
)
from inescape.modules.cds.guidelines.loader import load_rules, parse_rules
from inescape.modules.cds.guidelines.ruleset import RuleSet, RuleSetInvalid

__all__ = [
    "Citation",
    "Facts",
    "MissingFact",
    "Option",
    "PriorTreatment",
    "Recommendations",
    "RuleSet",
    "RuleSetInvalid",
    "load_rules",
    "parse_rules",
    "recommend",
]
