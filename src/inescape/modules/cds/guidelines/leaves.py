"""Conditions on one fact, and how each says why it holds ("cT3", "ECOG 1 ≤ 2")."""

from __future__ import annotations

from collections.abc import Sequence

from inescape.modules.cds.guidelines.conditions import FactInfo, Node, Scope, Truth, any_of, either_of
from inescape.modules.cds.guidelines.facts import PriorTreatment

KIND_PREFIX = {"clinical": "c", "pathological": "p", "post_neoadjuvant": "yp"}
TNM = frozenset({"t", "n", "m"})
TREATMENT_NAMES = {"systemic": "systemic therapy", "endoscopic_resection": "endoscopic resection"}
SYMBOLS = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<"}
OPPOSITE = {"gte": "lt", "gt": "lte", "lte": "gt", "lt": "gte"}


class Leaf(Node):
    __slots__ = ("fact", "info")

    def __init__(self, info: FactInfo) -> None:
        self.fact = info.name
        self.info = info

    def missing(self, scope: Scope, out: set[str]) -> None:
        out.add(self.fact)

    def fact_names(self) -> set[str]:
        return {self.fact}

    def show(self, scope: Scope, value: object) -> str:
        if self.fact in TNM:  # the staging kind is part of the category: cT3, ypN1
            prefix = KIND_PREFIX.get(scope.facts.kind or "", "")
            # AJCC has no pM0 or ypM0: absent distant metastasis is always clinical.
            return f"{'c' if prefix and value == 'M0' else prefix}{value}"
        if self.fact == "stage_group":
            return f"stage {value}"
        if isinstance(value, bool):
            return self.info.yes if value else self.info.no
        if isinstance(value, int | float):
            return f"{self.info.label} {value:g}{self.info.unit}"
        return f"{self.info.label} = {str(value).replace('_', ' ')}"


class In(Leaf):
    __slots__ = ("coarse", "order", "values")

    def __init__(self, info: FactInfo, values: tuple[str, ...]) -> None:
        super().__init__(info)
        self.values = frozenset(values)
        self.order = values
        # A coarse code (T1, HER2 2+) decides only if every finer code it stands for agrees.
        self.coarse: dict[str, Truth] = {v: None for v in info.unassessable}
        for code, finer in info.refine.items():
            hits = len(finer & self.values)
            self.coarse[code] = True if hits == len(finer) else False if hits == 0 else None

    def eval(self, scope: Scope) -> Truth:
        value = getattr(scope.facts, self.fact)
        if value is None:
            return None
        if value in self.values:
            return True
        return self.coarse.get(value, False)

    def explain(self, scope: Scope, want: bool, out: list[str]) -> None:
        text = self.show(scope, getattr(scope.facts, self.fact))
        out.append(text if want else f"{text} (not {either_of(self.order)})")


class Compare(Leaf):
    __slots__ = ("op", "threshold")

    def __init__(self, info: FactInfo, op: str, threshold: float) -> None:
        super().__init__(info)
        self.op = op
        self.threshold = threshold

    def eval(self, scope: Scope) -> Truth:
        value = getattr(scope.facts, self.fact)
        if value is None:
            return None
        if self.op == "gte":
            return bool(value >= self.threshold)
        if self.op == "gt":
            return bool(value > self.threshold)
        if self.op == "lte":
            return bool(value <= self.threshold)
        return bool(value < self.threshold)

    def explain(self, scope: Scope, want: bool, out: list[str]) -> None:
        op = self.op if want else OPPOSITE[self.op]
        shown = self.show(scope, getattr(scope.facts, self.fact))
        out.append(f"{shown} {SYMBOLS[op]} {self.threshold:g}{self.info.unit}")


class Is(Leaf):
    __slots__ = ("value",)

    def __init__(self, info: FactInfo, value: bool) -> None:
        super().__init__(info)
        self.value = value

    def eval(self, scope: Scope) -> Truth:
        value = getattr(scope.facts, self.fact)
        return None if value is None else value is self.value

    def explain(self, scope: Scope, want: bool, out: list[str]) -> None:
        out.append(self.show(scope, getattr(scope.facts, self.fact)))


class Known(Leaf):
    """Whether the fact was given: never undecided, so a rule can hold while a fact is unknown
    (``{ fact = "location", known = false }``: "unless cervical" when the location is not recorded)."""

    __slots__ = ("value",)

    def __init__(self, info: FactInfo, value: bool) -> None:
        super().__init__(info)
        self.value = value

    def eval(self, scope: Scope) -> Truth:
        return (getattr(scope.facts, self.fact) not in (None, [])) is self.value

    def missing(self, scope: Scope, out: set[str]) -> None:
        return None

    def explain(self, scope: Scope, want: bool, out: list[str]) -> None:
        value = getattr(scope.facts, self.fact)
        out.append(f"{self.info.label} not recorded" if value in (None, []) else self.show(scope, value))


class Has(Leaf):
    """Some prior treatment matches every given attribute; an attribute not recorded on an
    otherwise matching treatment leaves it unknown. No treatments recorded: false."""

    __slots__ = ("match", "words")

    def __init__(self, info: FactInfo, match: dict[str, tuple[str, ...]]) -> None:
        super().__init__(info)
        self.match = tuple((attr, frozenset(values)) for attr, values in match.items())
        self.words = treatment_words(match.get("kind", ()), match.get("intent", ()), match.get("margin", ()))

    def one(self, treatment: PriorTreatment) -> Truth:
        result: Truth = True
        for attr, values in self.match:
            value = getattr(treatment, attr)
            if value is None:
                result = None
            elif value not in values:
                return False
        return result

    def eval(self, scope: Scope) -> Truth:
        return any_of(self.one(t) for t in scope.facts.prior_treatments)

    def explain(self, scope: Scope, want: bool, out: list[str]) -> None:
        if not want:
            out.append(f"no prior {self.words} recorded")
            return
        for t in scope.facts.prior_treatments:
            if self.one(t):
                out.append("prior " + treatment_words((t.kind,), (t.intent,), (t.margin,)))


def treatment_words(
    kinds: Sequence[str], intents: Sequence[str | None], margins: Sequence[str | None]
) -> str:
    """("surgery", "systemic"), ("neoadjuvant",), () -> "neoadjuvant surgery or systemic therapy"."""
    names = [TREATMENT_NAMES.get(k, k) for k in kinds]
    intent = either_of(i for i in intents if i) if any(intents) else ""
    margin = either_of(m for m in margins if m) if any(margins) else ""
    parts = [intent, either_of(names) if names else "treatment", f"({margin})" if margin else ""]
    return " ".join(p for p in parts if p)
