"""Evaluating a rule set against one patient's facts (pure, no I/O once the rules are loaded).

A rule fires when its conditions are true, and is undecided while some are unknown and none
is false. Options are the fired rules, best rank first. The facts worth asking for are those
of the undecided rules that would outrank the last option (of all undecided rules when
nothing fired): asking for them can change the answer, asking for others cannot.
"""

from __future__ import annotations

from inescape.modules.cds.guidelines.conditions import Scope
from inescape.modules.cds.guidelines.facts import Facts, MissingFact, Option, Recommendations, known_facts
from inescape.modules.cds.guidelines.loader import load_rules
from inescape.modules.cds.guidelines.ruleset import Rule, RuleSet


def recommend(facts: Facts, *, rules: RuleSet | None = None) -> Recommendations:
    ruleset = rules if rules is not None else load_rules()
    scope = Scope(facts)
    fired: list[Rule] = []
    undecided: list[Rule] = []
    for rule in ruleset.rules:
        truth = rule.when.eval(scope)
        if truth:
            fired.append(rule)
        elif truth is None:
            undecided.append(rule)
    if fired:
        undecided = [rule for rule in undecided if rule.rank < fired[-1].rank]
    missing = _missing(undecided, scope, ruleset)
    reason = None
    if not fired and not missing:
        missing = _unrecorded_details(facts, ruleset)
        reason = None if missing else _no_rule(facts, ruleset)
    return Recommendations(
        options=[_option(rule, scope) for rule in fired],
        more_data_needed=missing,
        rule_set=ruleset.name,
        facts_used=known_facts(facts),
        no_rule_applies=reason,
    )


def _unrecorded_details(facts: Facts, ruleset: RuleSet) -> list[MissingFact]:
    """Nothing fired and nothing is undecided, but a prior treatment lacks its intent (or a
    resection its margin): the rules read those, so they are what would decide."""
    vague = [t for t in facts.prior_treatments if t.intent is None and t.kind != "surgery"]
    vague += [t for t in facts.prior_treatments if t.kind == "surgery" and t.margin is None]
    if not vague or "prior_treatments" not in ruleset.facts:
        return []
    what = ", ".join(
        f"{t.kind} ({'margin' if t.kind == 'surgery' else 'intent'} not recorded)" for t in vague
    )
    why = (
        f"{ruleset.facts['prior_treatments'].why} Recorded without it: {what}; "
        "e.g. neoadjuvant therapy then R0 resection leads to adjuvant or surveillance rules."
    )
    return [MissingFact(fact="prior_treatments", why=why, rules=[])]


def _no_rule(facts: Facts, ruleset: RuleSet) -> str:
    """Why no rule of the set applies, in the terms a clinician checks."""
    if facts.histology not in (None, "squamous_cell_carcinoma", "adenocarcinoma"):
        situation = "the rules cover squamous cell carcinoma and adenocarcinoma only"
    elif facts.prior_treatments:
        done = ", ".join(
            " ".join(x for x in (t.intent, t.kind, t.margin) if x) for t in facts.prior_treatments
        )
        situation = (
            f"after the recorded treatment ({done}) no rule covers what follows; the rules cover "
            "primary treatment, adjuvant nivolumab and surveillance after resection, and "
            "first-line treatment of metastatic disease"
        )
    else:
        shown = ", ".join(f"{k} = {v}" for k, v in known_facts(facts).items()) or "no facts"
        situation = f"no rule matches these facts ({shown})"
    return f"No rule of {ruleset.name} applies: {situation}. Refer to the tumour board."


def _option(rule: Rule, scope: Scope) -> Option:
    because: list[str] = []
    rule.when.explain(scope, True, because)
    return Option(
        rule_id=rule.id,
        rank=rule.rank,
        title=rule.title,
        recommendation=rule.recommendation,
        intent=rule.intent,
        strength=rule.strength,
        evidence=list(rule.evidence),
        evidence_summary=rule.evidence_summary,
        guideline_page=rule.guideline_page,
        because=_tidy(because),
    )


def _tidy(because: list[str]) -> list[str]:
    """Drop repeats (two definitions may give the same reason), and "cT3 (not T4b)" when
    "cT3" is already there."""
    seen = dict.fromkeys(because)
    return [r for r in seen if r.split(" (not ")[0] == r or r.split(" (not ")[0] not in seen]


def _missing(rules: list[Rule], scope: Scope, ruleset: RuleSet) -> list[MissingFact]:
    deciding: dict[str, list[str]] = {}
    for rule in rules:
        found: set[str] = set()
        rule.when.missing(scope, found)
        for fact in found:
            deciding.setdefault(fact, []).append(rule.id)
    answer = []
    for fact in sorted(deciding, key=ruleset.ask_order.__getitem__):
        info = ruleset.facts[fact]
        note = info.note(getattr(scope.facts, fact))  # e.g. "T1 must be specified as T1a or T1b"
        answer.append(
            MissingFact(fact=fact, why=f"{info.why} ({note})" if note else info.why, rules=deciding[fact])
        )
    return answer
