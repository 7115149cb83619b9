"""Quotas: exact counts of patients matching a condition, met by conditional sampling.

``Quota(where={"histology": "adenocarcinoma", "stage_group": "III"}, share=1.0)`` and
``Quota(where={"regimen": "CROSS"}, share=0.3)`` ask for a cohort of stage III adenocarcinoma of
which 30 % had CROSS. Rules:

* ``share`` is a fraction of the whole cohort. ``where`` fixes fields of the joint table
  (``codes.QUOTA_FIELDS``: histology, sex, age_band, location, stage_group (cTNM), t, n, m,
  ecog, regimen) to one value or a list of values. ``regimen`` is the pathway: its patients get
  the regimen of their era (``treatment.eras``), e.g. cisplatin/fluorouracil chemoradiation in
  the CROSS pathway before CROSS was published.
* Quotas nest: two quotas that could hold the same patient are nested, the smaller inside the
  larger, whose patients then match both; quotas no patient can match together (disjoint values
  of a field, or a combination the profile never generates, such as FLOT for squamous cell
  carcinoma) are disjoint. A quota overlapping two disjoint quotas is refused: nest them.
* Patients of a quota but of none of its inner quotas match none of those inner quotas' own
  conditions, and patients of no quota match no quota's condition: every quota's count over the
  whole cohort is exact, not a lower bound. (So with {histology: adenocarcinoma} 50 % and
  {stage_group: III} 30 %, which nest, every stage III patient is an adenocarcinoma.)
* Counts are integers by the largest-remainder (Hamilton) method, level by level: the cohort's n
  is split among the top-level quotas and the rest in proportion to their shares, then each
  quota's count among its inner quotas and its rest. Each count is the floor or the ceiling of
  its exact value; ties go to the quota listed first.

Each group of patients (a quota's own patients) is drawn from the joint table restricted to the
rows it allows, renormalised: exact conditional sampling, never rejection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.generation.api import Quota
from inescape.modules.generation.codes import QUOTA_FIELDS
from inescape.modules.generation.engine.streams import QUOTA_KEY, stream

_EPSILON = 1e-9


@dataclass
class _Node:
    index: int  # position in the caller's list; -1 for the whole cohort
    where: dict[str, frozenset[str]]  # this quota's own condition
    share: float
    children: list[_Node] = field(default_factory=list)
    count: int = 0


@dataclass(frozen=True)
class Cell:
    """Patients drawn from the joint rows allowed by a mask, ``count`` of them."""

    count: int
    cdf: np.ndarray  # over the joint table's rows, normalised
    quota: int  # the innermost quota these patients belong to (its list index); -1 for none


def _refuse(field_path: str, message: str) -> Invalid:
    return Invalid(
        f"impossible quota: {field_path}: {message}", errors=[{"field": field_path, "message": message}]
    )


def _read(quotas: tuple[Quota, ...], joint: pl.DataFrame) -> list[_Node]:
    nodes = []
    for i, quota in enumerate(quotas):
        if not 0 <= quota.share <= 1:
            raise _refuse(f"quotas[{i}].share", f"a fraction of the cohort in [0, 1], not {quota.share}")
        if not quota.where:
            raise _refuse(f"quotas[{i}].where", "name at least one field")
        where = {}
        for name, raw in quota.where.items():
            at = f"quotas[{i}].where.{name}"
            if name not in QUOTA_FIELDS:
                raise _refuse(at, f"unknown field (allowed: {', '.join(QUOTA_FIELDS)})")
            values = frozenset([raw] if isinstance(raw, str) else raw)
            known = set(joint[name].unique().to_list())
            unknown = sorted(values - known)
            if unknown or not values:
                hint = " (stage_group is the clinical cTNM group)" if name == "stage_group" else ""
                raise _refuse(at, f"{unknown} never occurs in this profile{hint}; known: {sorted(known)}")
            where[name] = values
        nodes.append(_Node(index=i, where=where, share=quota.share))
    return nodes


def _merge(outer: dict[str, frozenset[str]], inner: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Both conditions at once."""
    return {**outer, **{k: v & outer.get(k, v) for k, v in inner.items()}}


def _apart(a: dict[str, frozenset[str]], b: dict[str, frozenset[str]]) -> bool:
    return any(not (a[k] & b[k]) for k in a.keys() & b.keys())


def _disjoint(a: dict[str, frozenset[str]], b: dict[str, frozenset[str]], joint: pl.DataFrame) -> bool:
    """No patient can match both: a shared field with disjoint values, or no joint row of both
    (FLOT and squamous cell carcinoma never meet, so those two quotas are disjoint)."""
    return _apart(a, b) or float(joint["p"].filter(_mask(joint, _merge(a, b))).sum()) <= 0


def _place(root: _Node, node: _Node, joint: pl.DataFrame) -> tuple[_Node, dict[str, frozenset[str]]]:
    """The innermost quota ``node`` overlaps, and the condition of the path down to it."""
    parent, path = root, dict(root.where)
    while True:
        overlapping = [c for c in parent.children if not _disjoint(c.where, node.where, joint)]
        if len(overlapping) > 1:
            others = " and ".join(f"quotas[{c.index}]" for c in overlapping)
            raise _refuse(f"quotas[{node.index}].where", f"overlaps {others}, which are disjoint")
        if not overlapping:
            return parent, path
        parent = overlapping[0]
        path = _merge(path, parent.where)


def _check_room(parent: _Node, path: dict[str, frozenset[str]], node: _Node, joint: pl.DataFrame) -> None:
    if sum(c.share for c in parent.children) + node.share <= parent.share + _EPSILON:
        return
    for sibling in parent.children:  # disjoint only because the profile never combines them
        if not _apart(sibling.where, node.where):
            raise _impossible(node, joint, _merge(path, sibling.where))
    where = "the whole cohort" if parent.index < 0 else f"quotas[{parent.index}]"
    raise _refuse(
        f"quotas[{node.index}].share", f"disjoint quotas inside {where} add up to more than its share"
    )


def _tree(nodes: list[_Node], joint: pl.DataFrame) -> _Node:
    root = _Node(index=-1, where={}, share=1.0)
    for node in sorted(nodes, key=lambda q: -q.share):  # stable: equal shares keep list order
        parent, path = _place(root, node, joint)
        _check_room(parent, path, node, joint)
        parent.children.append(node)
    return root


def _apportion(node: _Node) -> None:
    """Largest remainder among the children and the rest; the earlier quota wins a tie."""
    if not node.children:
        return
    if node.share <= 0:  # an empty quota: its inner quotas are empty too
        node.count = 0
        node.share = _EPSILON
    inside = sum(c.share for c in node.children)
    exact = [node.count * c.share / node.share for c in node.children]
    exact.append(node.count * max(node.share - inside, 0.0) / node.share)  # the rest
    floors = [int(np.floor(x + _EPSILON)) for x in exact]
    rank = [c.index for c in node.children] + [len(exact) + 10**9]  # the rest loses ties
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), rank[i]))
    for i in order[: node.count - sum(floors)]:
        floors[i] += 1
    for child, count in zip(node.children, floors, strict=False):
        child.count = count
        _apportion(child)


def _mask(joint: pl.DataFrame, where: dict[str, frozenset[str]]) -> pl.Series:
    condition = (
        pl.all_horizontal([pl.col(k).is_in(list(v)) for k, v in where.items()]) if where else pl.lit(True)
    )
    return joint.select(condition.alias("m"))["m"]


def _inside(node: _Node) -> list[_Node]:
    """Every quota nested in ``node``, at any depth."""
    return [d for child in node.children for d in (child, *_inside(child))]


def _cells(node: _Node, joint: pl.DataFrame, inherited: dict[str, frozenset[str]]) -> list[Cell]:
    where = _merge(inherited, node.where)
    allowed = _mask(joint, where)
    p = joint["p"].to_numpy()
    if node.index >= 0 and float(p[allowed.to_numpy()].sum()) <= 0:
        raise _impossible(node, joint, inherited)
    own = node.count - sum(c.count for c in node.children)
    cells = [c for child in node.children for c in _cells(child, joint, where)]
    if own <= 0:
        return cells
    for inner in _inside(node):  # a nested quota's own condition too: its count must stay exact
        allowed = allowed & ~_mask(joint, inner.where)
    weights = np.where(allowed.to_numpy(), p, 0.0)
    if weights.sum() <= 0:
        at = f"quotas[{node.index}].share" if node.index >= 0 else f"quotas[{node.children[0].index}].share"
        raise _refuse(
            at, f"the other {own} patients cannot avoid the quotas inside: raise the shares to cover them"
        )
    cdf = np.cumsum(weights)
    return [*cells, Cell(count=own, cdf=cdf / cdf[-1], quota=node.index)]


def _impossible(node: _Node, joint: pl.DataFrame, inherited: dict[str, frozenset[str]]) -> Invalid:
    """Name the quota field that makes the condition impossible: the last, in drawing order, whose
    removal leaves patients (so "CROSS at stage IVB" names regimen)."""
    p = joint["p"].to_numpy()
    for name in sorted(node.where, key=QUOTA_FIELDS.index, reverse=True):
        where = _merge(inherited, {k: v for k, v in node.where.items() if k != name})
        if float(p[_mask(joint, where).to_numpy()].sum()) > 0:
            given = {k: sorted(v) for k, v in where.items()}
            message = f"{sorted(node.where[name])} never occurs with {given} in this profile"
            return _refuse(f"quotas[{node.index}].where.{name}", message)
    return _refuse(f"quotas[{node.index}].where", "no patient of this profile can match it")


def plan(joint: pl.DataFrame, quotas: tuple[Quota, ...], n: int) -> list[Cell]:
    """The groups of patients to draw, their counts summing to n."""
    root = _tree(_read(quotas, joint), joint)
    root.count = n
    _apportion(root)
    return _cells(root, joint, {})


def labels(cells: list[Cell], n: int, seed: int) -> np.ndarray | None:
    """Each patient's cell, shuffled so that quota patients spread over the whole cohort."""
    if len(cells) == 1:
        return None
    ordered = np.repeat(np.arange(len(cells), dtype=np.int32), [c.count for c in cells])
    return stream(seed, QUOTA_KEY).permutation(ordered)
