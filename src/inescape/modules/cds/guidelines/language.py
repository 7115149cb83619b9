"""The rule file's condition language, checked and compiled into condition nodes.

A condition is a TOML table, one of:

    { fact = "histology", in = ["adenocarcinoma"] }     the fact's code is one of these
    { fact = "ecog", lte = 2 }                          also gte, gt, lt (numeric facts)
    { fact = "fit_for_surgery", is = true }             boolean facts
    { fact = "location", known = false }                the fact was (not) given: never undecided
    { fact = "prior_treatments", has = { kind = "surgery", margin = ["R0"] } }
    { all = [...] }  { any = [...] }  { not = {...} }
    { either = [...] }   tests that answer one question: the known ones decide
    { use = "name" }     a condition from the file's [define] table

A rule's ``when`` is a list of conditions that must all hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inescape.modules.cds.guidelines.conditions import AllOf, AnyOf, Either, FactInfo, Node, Not, Shared
from inescape.modules.cds.guidelines.facts import (
    BOOL_FACTS,
    FACT_NAMES,
    LIST_FACTS,
    NUMBER_FACTS,
    TREATMENT_VOCAB,
    VOCAB,
)
from inescape.modules.cds.guidelines.leaves import Compare, Has, In, Is, Known

GROUPS = {"all": AllOf, "any": AnyOf, "either": Either}
COMPARISONS = ("gte", "gt", "lte", "lt")
OPERATORS = ("in", "is", "has", "known", *COMPARISONS)
FAILED: Node = AllOf(())  # stands in for a bad condition while the other errors are collected


class Compiler:
    def __init__(
        self, facts: Mapping[str, FactInfo], defines: Mapping[str, Any], errors: list[dict[str, str]]
    ) -> None:
        self.facts = facts
        self.defines = defines
        self.errors = errors
        self.done: dict[str, Node] = {}
        self.busy: list[str] = []

    def fail(self, loc: str, msg: str) -> Node:
        self.errors.append({"loc": loc, "msg": msg})
        return FAILED

    def conditions(self, raws: list[Any], loc: str) -> Node:
        return AllOf(tuple(self.condition(raw, f"{loc}[{i}]") for i, raw in enumerate(raws)))

    def condition(self, raw: Any, loc: str) -> Node:
        if not isinstance(raw, dict):
            return self.fail(loc, f"a condition is a table, got {raw!r}")
        if "fact" in raw:
            return self.leaf(raw, loc)
        if len(raw) != 1:
            return self.fail(loc, f"a condition has one of all/any/either/not/use or fact, got {sorted(raw)}")
        ((key, value),) = raw.items()
        if key in GROUPS:
            if not isinstance(value, list) or not value:
                return self.fail(f"{loc}.{key}", "needs a non-empty list of conditions")
            children = tuple(self.condition(c, f"{loc}.{key}[{i}]") for i, c in enumerate(value))
            return GROUPS[key](children)
        if key == "not":
            return Not(self.condition(value, f"{loc}.not"))
        if key == "use":
            return self.use(value, loc)
        known = f"all, any, either, not, use, or fact with one of {', '.join(OPERATORS)}"
        return self.fail(loc, f"unknown operator {key!r} (known: {known})")

    def use(self, name: Any, loc: str) -> Node:
        if not isinstance(name, str):
            return self.fail(loc, f"'use' takes the name of a definition, got {name!r}")
        if name in self.done:
            return self.done[name]
        if name not in self.defines:
            defined = ", ".join(self.defines) or "none"
            return self.fail(loc, f"unknown definition {name!r} (defined: {defined})")
        if name in self.busy:
            return self.fail(loc, f"definition {name!r} uses itself ({' -> '.join([*self.busy, name])})")
        self.busy.append(name)
        node = Shared(name, self.condition(self.defines[name], f"define.{name}"))
        self.busy.pop()
        self.done[name] = node
        return node

    def leaf(self, raw: dict[str, Any], loc: str) -> Node:
        fact = raw["fact"]
        ops = [k for k in raw if k != "fact"]
        if fact not in FACT_NAMES:
            return self.fail(loc, f"unknown fact {fact!r} (known: {', '.join(FACT_NAMES)})")
        if fact not in self.facts:
            return self.fail(loc, f"fact {fact!r} is used but has no [facts.{fact}] entry")
        if len(ops) != 1 or ops[0] not in OPERATORS:
            return self.fail(loc, f"a fact condition needs exactly one operator of {OPERATORS}, got {ops}")
        op, value, info = ops[0], raw[ops[0]], self.facts[fact]
        if op == "in":
            return self.member(info, value, loc)
        if op == "is":
            if fact not in BOOL_FACTS or not isinstance(value, bool):
                return self.fail(loc, f"'is' needs a boolean fact and true/false ({fact} is {value!r})")
            return Is(info, value)
        if op == "has":
            return self.has(info, value, loc)
        if op == "known":
            if not isinstance(value, bool):
                return self.fail(loc, f"'known' needs true or false ({fact} known {value!r})")
            return Known(info, value)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if fact not in NUMBER_FACTS or not number:
            return self.fail(loc, f"{op!r} needs a numeric fact and a number ({fact} {op} {value!r})")
        return Compare(info, op, float(value))

    def member(self, info: FactInfo, value: Any, loc: str) -> Node:
        codes = VOCAB.get(info.name)
        if codes is None:
            return self.fail(loc, f"'in' needs a coded fact, {info.name!r} is not one")
        if not isinstance(value, list) or not value:
            return self.fail(loc, f"'in' needs a non-empty list of {info.name} codes")
        wrong = [v for v in value if v not in codes]
        if wrong:
            return self.fail(loc, f"not {info.name} codes: {wrong} (known: {', '.join(codes)})")
        return In(info, tuple(value))

    def has(self, info: FactInfo, value: Any, loc: str) -> Node:
        if info.name not in LIST_FACTS or not isinstance(value, dict) or not value:
            return self.fail(loc, "'has' needs prior_treatments and a table of kind/intent/margin")
        match: dict[str, tuple[str, ...]] = {}
        for attr, wanted in value.items():
            codes = TREATMENT_VOCAB.get(attr)
            listed = [wanted] if isinstance(wanted, str) else wanted
            if codes is None or not isinstance(listed, list) or not listed:
                return self.fail(loc, f"'has' takes kind/intent/margin codes, got {attr} = {wanted!r}")
            wrong = [v for v in listed if v not in codes]
            if wrong:
                return self.fail(loc, f"not treatment {attr} codes: {wrong} (known: {', '.join(codes)})")
            match[attr] = tuple(listed)
        return Has(info, match)
