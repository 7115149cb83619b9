"""Promotion gates: what a version must show before it answers in production.

1. **Discrimination.** A survival model's held-out C-index is above the lower 95% bound of the
   linear Cox baseline fitted on the same split (a model no better than the baseline's
   uncertainty is not worth its complexity); the pCR classifier's AUC lower bound is above 0.5.
2. **Calibration.** The mean |predicted - observed| survival by decile at 1 and 3 years (the
   classifier: the probability of pCR), less the part sampling alone explains (the deciles'
   standard errors: a perfectly calibrated model shows about that much on a small test split),
   is within the tolerance (``INESCAPE_TRAINING_CALIBRATION_TOLERANCE``, 0.05 by default).
3. **Data.** It was trained on data allowed for clinical use: every row collected from a real
   source. A model trained on synthetic (or unlabelled) data reaches production only when the
   request says ``allow_synthetic`` explicitly; that, who asked and why are recorded on the card.

A gate that was not measured fails: the card says which number is missing.
"""

from __future__ import annotations

import math

from inescape.kernel.errors import Conflict
from inescape.modules.training.api import ModelCard
from inescape.modules.training.registry import ModelRegistry
from inescape.modules.training.schemas import GateResult

CALIBRATION_HORIZONS = ("12m", "36m")


def _number(metrics: dict[str, float], key: str) -> float | None:
    value = metrics.get(key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def discrimination(card: ModelCard) -> GateResult:
    m = card.metrics
    if card.task == "classification":
        lower = _number(m, "auc_lower")
        if lower is None:
            return GateResult(gate="discrimination", passed=False, detail="no AUC interval was measured")
        return GateResult(
            gate="discrimination",
            passed=lower > 0.5,
            detail=f"AUC lower 95% bound {lower:.3f} {'>' if lower > 0.5 else '<='} 0.5 (chance)",
        )
    c, floor = _number(m, "c_index"), _number(m, "cox_baseline_c_index_lower")
    if c is None or floor is None:
        return GateResult(
            gate="discrimination",
            passed=False,
            detail="the C-index or the Cox baseline's lower bound was not measured; train it as a run",
        )
    return GateResult(
        gate="discrimination",
        passed=c > floor,
        detail=f"C-index {c:.3f} {'>' if c > floor else '<='} the Cox baseline's lower 95% bound {floor:.3f}",
    )


def calibration(card: ModelCard, tolerance: float) -> GateResult:
    suffixes = [""] if card.task == "classification" else [f"_{h}" for h in CALIBRATION_HORIZONS]
    excess: dict[str, float] = {}
    for suffix in suffixes:
        error = _number(card.metrics, f"calibration_error{suffix}")
        if error is None:
            return GateResult(
                gate="calibration", passed=False, detail=f"not measured: calibration_error{suffix}"
            )
        noise = _number(card.metrics, f"calibration_noise{suffix}") or 0.0
        excess[f"calibration_error{suffix}"] = max(0.0, error - noise)
    worst_key = max(excess, key=lambda k: excess[k])
    worst = excess[worst_key]
    verdict = "<=" if worst <= tolerance else ">"
    return GateResult(
        gate="calibration",
        passed=worst <= tolerance,
        detail=(
            f"largest calibration error beyond sampling noise {worst:.3f} ({worst_key}) "
            f"{verdict} tolerance {tolerance:.3f}"
        ),
    )


def clinical_data(card: ModelCard, allow_synthetic: bool) -> GateResult:
    origins = {str(k): int(v) for k, v in (card.trained_on.get("origins") or {}).items()}
    real = origins.get("real", 0)
    total = sum(origins.values())
    if total and real == total:
        return GateResult(gate="clinical_data", passed=True, detail=f"trained on {total} real patients")
    other = (
        ", ".join(f"{n} {o}" for o, n in sorted(origins.items()) if o != "real") or "data of unknown origin"
    )
    if allow_synthetic:
        return GateResult(
            gate="clinical_data",
            passed=True,
            detail=f"trained on {other}; promoted anyway because the request set allow_synthetic",
        )
    return GateResult(
        gate="clinical_data",
        passed=False,
        detail=f"trained on {other}, not only real data; promote it only with allow_synthetic (recorded)",
    )


def check(card: ModelCard, *, allow_synthetic: bool, tolerance: float) -> list[GateResult]:
    return [discrimination(card), calibration(card, tolerance), clinical_data(card, allow_synthetic)]


async def promote_checked(
    registry: ModelRegistry,
    *,
    name: str,
    version: int,
    at: str,
    by: str | None,
    allow_synthetic: bool,
    reason: str,
    tolerance: float,
) -> ModelCard:
    """Promote ``version`` of ``name`` if it passes every gate, else ``Conflict`` (409) naming
    each failed gate; the gates' results and the override are kept on the card."""
    card = await registry.card(name, version)
    results = check(card, allow_synthetic=allow_synthetic, tolerance=tolerance)
    failed = [r for r in results if not r.passed]
    if failed:
        raise Conflict(
            f"{name} version {version} cannot be promoted: "
            + "; ".join(f"{r.gate}: {r.detail}" for r in failed),
            extra={"gates": [{"gate": r.gate, "passed": r.passed, "detail": r.detail} for r in results]},
        )
    promotion = {
        "by": by,
        "at": at,
        "allow_synthetic": allow_synthetic,
        "reason": reason,
        "gates": [{"gate": r.gate, "passed": r.passed, "detail": r.detail} for r in results],
    }
    return await registry.promote(name, version, promotion=promotion)


__all__ = ["check", "promote_checked"]
