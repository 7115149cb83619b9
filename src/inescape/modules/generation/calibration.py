"""Calibration of a profile's free parameters to its own targets.

A profile's hazards, shapes and pathway hazard ratios are not published figures: they are set
so that the cohorts it generates reproduce the published figures it targets (stage survival,
trial arms). This module does that search, the way the shipped profiles' "calibrated ... on
100,000 patients, seed 2024" values were found: generate a cohort with the candidate values,
judge it with the fidelity report, and move the values to bring the chosen targets toward their
figures. Every candidate is generated with the same seed (common random numbers), so the
objective is a deterministic function of the values and Nelder-Mead (scipy) can search it.

A knob is a dotted path into the profile's TOML: ``survival.time_shape[0]``,
``survival.baseline.III``, ``survival.pathway_hr.squamous_cell_carcinoma.definitive_CRT`` (a
table with a ``value`` is set through its value). Paths joined by commas move together: one
knob for a figure several histologies share. The search runs on log values, so a knob stays
positive and moves by ratios.

The objective is the sum of each chosen target's squared use of its tolerance
(``|achieved - target| / tolerance``), plus a steep penalty beyond the tolerance: a value that
keeps every target inside is preferred to one that centres most and loses one.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from inescape.kernel.errors import Invalid
from inescape.modules.generation.api import Calibration, KnobChange, TargetChange

if TYPE_CHECKING:
    from inescape.modules.generation.library import Generator

_STEP = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_OUTSIDE_PENALTY = 25.0
INSTALL = "pip install 'inescape[calibration]'"


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = [int(i) if i else key for i, key in _STEP.findall(path)]
    rebuilt = "".join(
        f"[{step}]" if isinstance(step, int) else ("." if n else "") + step for n, step in enumerate(steps)
    )
    if not steps or rebuilt != path:
        raise _bad_knob(path)
    return steps


def _bad_knob(path: str) -> Invalid:
    return Invalid(
        f"{path!r} is not a knob: use a dotted path to a number, e.g. survival.baseline.III "
        "or survival.time_shape[0]",
        errors=[{"field": "knob", "message": path}],
    )


def _holder(data: dict[str, Any], path: str) -> tuple[Any, str | int]:
    """The container holding the knob's number, and its key there."""
    node: Any = data
    steps = _steps(path)
    try:
        for step in steps[:-1]:
            node = node[step]
        last = steps[-1]
        if isinstance(node[last], dict):  # a figure with its source: { value = ..., source = ... }
            node, last = node[last], "value"
        value = node[last]
    except (KeyError, IndexError, TypeError):
        raise Invalid(
            f"the profile has no number at {path!r}", errors=[{"field": "knob", "message": path}]
        ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise Invalid(
            f"{path!r} is {value!r}: a knob must be a positive number",
            errors=[{"field": "knob", "message": path}],
        )
    return node, last


def read_knob(data: dict[str, Any], path: str) -> float:
    node, key = _holder(data, path)
    return float(node[key])


def set_knob(data: dict[str, Any], path: str, value: float) -> None:
    node, key = _holder(data, path)
    node[key] = value


def _uses(report: Any, chosen: Callable[[str], bool]) -> dict[str, tuple[Any, float | None]]:
    found: dict[str, tuple[Any, float | None]] = {}
    for target in report.targets:
        if not chosen(target.name) or target.tolerance <= 0:
            continue
        use = None if target.achieved is None else abs(target.achieved - target.target) / target.tolerance
        found[target.name] = (target, use)
    return found


def _objective(uses: dict[str, tuple[Any, float | None]]) -> float:
    total = 0.0
    for _, use in uses.values():
        if use is None:  # no patient the target is about: as bad as twice the tolerance
            use = 2.0
        total += use**2 + _OUTSIDE_PENALTY * max(0.0, use - 1.0) ** 2
    return total


def _minimizer() -> Any:
    try:
        from scipy.optimize import minimize
    except ImportError:
        raise Invalid(
            f"calibration needs scipy: {INSTALL}",
            errors=[{"field": "knob", "message": f"needs scipy ({INSTALL})"}],
        ) from None
    return minimize


def _check(knobs: Sequence[str], patients: int, max_evaluations: int) -> None:
    if not knobs:
        raise Invalid("name at least one knob to move", errors=[{"field": "knob", "message": "none"}])
    if patients < 1000 or max_evaluations < 1:
        raise Invalid(
            "calibration needs at least 1,000 patients and one evaluation",
            errors=[{"field": "patients", "message": str(patients)}],
        )


def calibrate(
    generator: Generator,
    profile: str,
    knobs: Sequence[str],
    *,
    targets: Sequence[str] = (),
    patients: int = 100_000,
    seed: int = 2024,
    max_evaluations: int = 60,
    progress: Callable[[int, float], None] | None = None,
) -> Calibration:
    """Values of ``knobs`` (paths; comma-joined paths move together) that bring the targets whose
    names start with one of ``targets`` (all, when empty) toward their figures, on ``patients``
    generated with ``seed``; ``progress(evaluation, best objective)`` after each cohort."""
    minimize = _minimizer()
    _check(knobs, patients, max_evaluations)
    data = tomllib.loads(generator.catalogue.text(profile))
    groups = [[p.strip() for p in knob.split(",") if p.strip()] for knob in knobs]
    start = np.array([read_knob(data, group[0]) for group in groups])
    for group in groups:
        for path in group[1:]:
            read_knob(data, path)  # each path must name a number too

    def chosen(name: str) -> bool:
        return not targets or any(name.startswith(prefix) for prefix in targets)

    seen: dict[tuple[float, ...], tuple[float, dict[str, tuple[Any, float | None]]]] = {}
    best = [math.inf]

    def judge(logs: np.ndarray) -> tuple[float, dict[str, tuple[Any, float | None]]]:
        key = tuple(np.round(logs, 12))
        if key not in seen:
            candidate = copy.deepcopy(data)
            for group, value in zip(groups, np.exp(logs), strict=True):
                for path in group:
                    set_knob(candidate, path, float(value))
            checked = generator.catalogue.from_data(candidate)  # read and checked once
            uses = _uses(
                generator.fidelity_report(checked, generator.generate(checked, patients, seed=seed)), chosen
            )
            seen[key] = (_objective(uses), uses)
            best[0] = min(best[0], seen[key][0])
            if progress is not None:
                progress(len(seen), best[0])
        return seen[key]

    logs0 = np.log(start)
    before, before_uses = judge(logs0)
    if not before_uses:
        raise Invalid(
            "no target of the profile matches " + ", ".join(targets),
            errors=[{"field": "target", "message": ", ".join(targets)}],
        )
    simplex = np.vstack([logs0, logs0 + 0.1 * np.eye(len(groups))])  # each knob first moved by 10 %
    found = minimize(
        lambda logs: judge(logs)[0],
        logs0,
        method="Nelder-Mead",
        options={"initial_simplex": simplex, "maxfev": max_evaluations, "xatol": 0.005, "fatol": 1e-3},
    )
    after_logs = found.x if judge(found.x)[0] < before else logs0
    after, after_uses = judge(after_logs)
    return Calibration(
        profile=str(data.get("name", profile)),
        patients=patients,
        seed=seed,
        evaluations=len(seen),
        knobs=[
            KnobChange(paths=group, before=float(b), after=float(a))
            for group, b, a in zip(groups, start, np.exp(after_logs), strict=True)
        ],
        targets=[
            TargetChange(
                name=name,
                target=target.target,
                tolerance=target.tolerance,
                before=target.achieved,
                after=after_uses[name][0].achieved,
                use_before=use,
                use_after=after_uses[name][1],
            )
            for name, (target, use) in before_uses.items()
        ],
        objective_before=before,
        objective_after=after,
    )
