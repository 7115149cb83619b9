"""A loaded, checked and compiled rule set: what ``recommend`` evaluates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from inescape.kernel.errors import Invalid
from inescape.modules.cds.guidelines.conditions import FactInfo, Node
from inescape.modules.cds.guidelines.facts import Citation


class RuleSetInvalid(Invalid):
    """The rule file is malformed; ``errors`` lists every problem, each with where it is."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    rank: int
    title: str
    recommendation: str
    intent: str
    strength: str
    evidence: tuple[Citation, ...]
    evidence_summary: str
    guideline_page: str | None
    when: Node

    def fact_names(self) -> set[str]:
        return self.when.fact_names()


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    published: date
    source: str  # where it was read from, for error messages and audit
    citations: Mapping[str, Citation]
    facts: Mapping[str, FactInfo]  # in the order more data is asked for
    rules: tuple[Rule, ...]  # best rank first
    ask_order: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ask_order", {name: i for i, name in enumerate(self.facts)})

    @property
    def name(self) -> str:
        return f"esophagus-{self.version}"

    def fact_names(self) -> set[str]:
        """Every fact some rule reads."""
        return set().union(*(rule.fact_names() for rule in self.rules))
