"""Reading the rule file: TOML in, a checked and compiled ``RuleSet`` out.

Every problem in the file is collected and reported at once, each with where it is, so a
wrong fact name, operator, code or citation fails at load and never silently at a bedside.
"""

from __future__ import annotations

import functools
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from inescape.modules.cds.guidelines.conditions import FactInfo
from inescape.modules.cds.guidelines.facts import FACT_NAMES, INTENTS, STRENGTHS, VOCAB, Citation
from inescape.modules.cds.guidelines.language import Compiler
from inescape.modules.cds.guidelines.ruleset import Rule, RuleSet, RuleSetInvalid

PACKAGED = "rules.toml"


class CitationSpec(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    reference: str
    url: str | None = None


class FactSpec(msgspec.Struct, forbid_unknown_fields=True):
    label: str
    why: str
    unit: str = ""
    yes: str = ""
    no: str = ""
    unassessable: list[str] = []
    refine: dict[str, list[str]] = {}


class RuleSpec(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    rank: int
    title: str
    recommendation: str
    intent: str
    strength: str
    evidence: list[str]
    evidence_summary: str
    when: list[dict[str, Any]]
    guideline_page: str | None = None


class FileSpec(msgspec.Struct, forbid_unknown_fields=True):
    version: str
    published: str  # "YYYY-MM-DD"
    citations: dict[str, CitationSpec]
    facts: dict[str, FactSpec]
    rule: list[RuleSpec]
    define: dict[str, dict[str, Any]] = {}


def load_rules(path: Path | None = None) -> RuleSet:
    """The packaged rule set (read once, then cached), or the one at ``path``."""
    if path is None:
        return _packaged()
    return parse_rules(Path(path).read_text(encoding="utf-8"), source=str(path))


@functools.cache
def _packaged() -> RuleSet:
    text = resources.files(__package__).joinpath(PACKAGED).read_text(encoding="utf-8")
    return parse_rules(text, source=f"{__package__}/{PACKAGED}")


def parse_rules(text: str, *, source: str) -> RuleSet:
    try:
        spec = msgspec.convert(tomllib.loads(text), FileSpec)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise RuleSetInvalid(f"{source}: {exc}", errors=[{"loc": source, "msg": str(exc)}]) from exc
    errors: list[dict[str, str]] = []
    facts = _facts(spec.facts, errors)
    citations = {cid: Citation(cid, c.title, c.reference, c.url) for cid, c in spec.citations.items()}
    compiler = Compiler(facts, spec.define, errors)
    rules = tuple(
        sorted((_rule(r, compiler, citations, errors) for r in spec.rule), key=lambda r: (r.rank, r.id))
    )
    published = _published(spec.published, errors)
    _check_unique([r.id for r in spec.rule], errors)
    if errors:
        lines = "\n".join(f"  {e['loc']}: {e['msg']}" for e in errors)
        raise RuleSetInvalid(f"{source}: {len(errors)} problem(s) in the rule file:\n{lines}", errors=errors)
    return RuleSet(spec.version, published, source, citations, facts, rules)


def _facts(specs: dict[str, FactSpec], errors: list[dict[str, str]]) -> dict[str, FactInfo]:
    found: dict[str, FactInfo] = {}
    for name, spec in specs.items():
        loc = f"facts.{name}"
        if name not in FACT_NAMES:
            errors.append({"loc": loc, "msg": f"unknown fact {name!r} (known: {', '.join(FACT_NAMES)})"})
            continue
        codes = [*spec.unassessable, *spec.refine, *(c for finer in spec.refine.values() for c in finer)]
        for code in codes:
            if code not in VOCAB.get(name, ()):
                errors.append({"loc": loc, "msg": f"{code!r} is not a {name} code"})
        refine = {code: frozenset(finer) for code, finer in spec.refine.items()}
        found[name] = FactInfo(
            name, spec.label, spec.why, spec.unit, spec.yes, spec.no, frozenset(spec.unassessable), refine
        )
    return found


def _rule(
    spec: RuleSpec, compiler: Compiler, citations: dict[str, Citation], errors: list[dict[str, str]]
) -> Rule:
    loc = f"rule {spec.id!r}"
    for cid in spec.evidence:
        if cid not in citations:
            errors.append({"loc": f"{loc} evidence", "msg": f"unknown citation {cid!r}"})
    if spec.intent not in INTENTS:
        errors.append({"loc": f"{loc} intent", "msg": f"{spec.intent!r} is not one of {', '.join(INTENTS)}"})
    if spec.strength not in STRENGTHS:
        errors.append({"loc": f"{loc} strength", "msg": f"{spec.strength!r} is not one of {STRENGTHS}"})
    if not spec.when:
        errors.append({"loc": f"{loc} when", "msg": "a rule needs at least one condition"})
    when = compiler.conditions(spec.when, f"{loc} when")
    evidence = tuple(citations[cid] for cid in spec.evidence if cid in citations)
    return Rule(
        spec.id,
        spec.rank,
        spec.title,
        _prose(spec.recommendation),
        spec.intent,
        spec.strength,
        evidence,
        _prose(spec.evidence_summary),
        spec.guideline_page,
        when,
    )


def _prose(text: str) -> str:
    """The file wraps long text over lines; a clinician reads it as one paragraph."""
    return " ".join(text.split())


def _published(text: str, errors: list[dict[str, str]]) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append({"loc": "published", "msg": f"{text!r} is not a YYYY-MM-DD date"})
        return date.min


def _check_unique(ids: list[str], errors: list[dict[str, str]]) -> None:
    for rid in sorted({i for i in ids if ids.count(i) > 1}):
        errors.append({"loc": f"rule {rid!r}", "msg": "duplicate rule id"})
