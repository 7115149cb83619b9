"""The compiled condition language: three-valued nodes (True / False / None = unknown).

A condition on an unknown fact is unknown, never true or false. Each node answers three
questions: its truth for some facts, which unknown facts keep it undecided, and why it is
true (or false) in words a clinician reads. Nodes are built once, when the rules load;
``Scope`` holds what one call has worked out, so a definition shared by many rules is
evaluated once per call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from inescape.modules.cds.guidelines.facts import Facts

Truth = bool | None


class Scope:
    """One evaluation: the facts, and the shared definitions' answers found so far."""

    __slots__ = ("facts", "gaps", "truths")

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.truths: dict[str, Truth] = {}  # by definition name
        self.gaps: dict[str, set[str]] = {}


@dataclass(frozen=True, slots=True)
class FactInfo:
    """How the rule file names a fact, why it matters, and which values do not decide it."""

    name: str
    label: str
    why: str
    unit: str = ""
    yes: str = ""  # boolean facts: the words for True and for False
    no: str = ""
    unassessable: frozenset[str] = frozenset()  # TX, NX, GX: recorded but not assessed
    refine: dict[str, frozenset[str]] = field(default_factory=dict)  # T1 -> {T1a, T1b}

    def note(self, value: object) -> str:
        """Why a value that was given still leaves the fact undecided."""
        if isinstance(value, str) and value in self.unassessable:
            return f"{value}: not assessed"
        if isinstance(value, str) and value in self.refine:
            return f"{value} must be specified as {either_of(sorted(self.refine[value]))}"
        return ""


def either_of(words: Iterable[str]) -> str:
    items = list(words)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


class Node:
    __slots__ = ()

    def eval(self, scope: Scope) -> Truth:
        raise NotImplementedError

    def missing(self, scope: Scope, out: set[str]) -> None:
        """Add the unknown facts that keep this (undecided) node undecided."""
        raise NotImplementedError

    def explain(self, scope: Scope, want: bool, out: list[str]) -> None:
        """Add why this node is ``want`` (call only when it is)."""
        raise NotImplementedError

    def fact_names(self) -> set[str]:
        raise NotImplementedError


def any_of(truths: Iterable[Truth]) -> Truth:
    result: Truth = False
    for truth in truths:
        if truth:
            return True
        if truth is None:
            result = None
    return result


class Group(Node):
    __slots__ = ("children",)

    def __init__(self, children: tuple[Node, ...]) -> None:
        self.children = children

    def missing(self, scope: Scope, out: set[str]) -> None:
        for child in self.children:
            if child.eval(scope) is None:
                child.missing(scope, out)

    def explain(self, scope: Scope, want: bool, out: list[str]) -> None:
        # A true all/any/either: its true parts; a false one: its false parts.
        for child in self.children:
            if child.eval(scope) is want:
                child.explain(scope, want, out)

    def fact_names(self) -> set[str]:
        return set().union(*(c.fact_names() for c in self.children))


class AllOf(Group):
    __slots__ = ()

    def eval(self, scope: Scope) -> Truth:
        result: Truth = True
        for child in self.children:
            truth = child.eval(scope)
            if truth is False:
                return False
            if truth is None:
                result = None
        return result


class AnyOf(Group):
    __slots__ = ()

    def eval(self, scope: Scope) -> Truth:
        return any_of(child.eval(scope) for child in self.children)


class Either(Group):
    """Results that answer one question (MSI or MMR; M1 or stage IVB): the known ones decide,
    true if any is true, false if the known ones are all false, unknown only if none is known."""

    __slots__ = ()

    def eval(self, scope: Scope) -> Truth:
        seen_false = False
        for child in self.children:
            truth = child.eval(scope)
            if truth:
                return True
            seen_false = seen_false or truth is False
        return False if seen_false else None


class Not(Node):
    __slots__ = ("child",)

    def __init__(self, child: Node) -> None:
        self.child = child

    def eval(self, scope: Scope) -> Truth:
        truth = self.child.eval(scope)
        return None if truth is None else not truth

    def missing(self, scope: Scope, out: set[str]) -> None:
        self.child.missing(scope, out)

    def explain(self, scope: Scope, want: bool, out: list[str]) -> None:
        self.child.explain(scope, not want, out)

    def fact_names(self) -> set[str]:
        return self.child.fact_names()


class Shared(Node):
    """A named definition many rules use: worked out once per call."""

    __slots__ = ("name", "node")

    def __init__(self, name: str, node: Node) -> None:
        self.name = name
        self.node = node

    def eval(self, scope: Scope) -> Truth:
        try:
            return scope.truths[self.name]
        except KeyError:
            truth = scope.truths[self.name] = self.node.eval(scope)
            return truth

    def missing(self, scope: Scope, out: set[str]) -> None:
        found = scope.gaps.get(self.name)
        if found is None:
            found = scope.gaps[self.name] = set()
            self.node.missing(scope, found)
        out |= found

    def explain(self, scope: Scope, want: bool, out: list[str]) -> None:
        self.node.explain(scope, want, out)

    def fact_names(self) -> set[str]:
        return self.node.fact_names()
