"""What a fitted proportional-hazards network still needs: the Breslow baseline hazard and,
for the linear Cox, the exact fit and the coefficients' covariance (for the portable model's
intervals).

The linear Cox is finished by Newton-Raphson on the exact partial likelihood (Breslow ties, the
fit's small ridge), on the columns that are not linear combinations of the others: a stage group
implied by T, N and M, or an indicator equal to another, has no coefficient of its own (it is
dropped, and named in the report), so the information matrix is well conditioned and the
intervals reflect the data rather than an unidentified direction."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from inescape.modules.training.fitted import FittedModel


def breslow(fitted: FittedModel, x: np.ndarray, train: pl.DataFrame) -> None:
    """The baseline cumulative hazard at the distinct event times (Breslow 1972)."""
    risk = np.exp(fitted.outputs(x))
    time, event = train["time"].to_numpy(), train["event"].to_numpy().astype(bool)
    order = np.argsort(-time, kind="stable")
    at_risk_sum = np.cumsum(risk[order])  # over everyone with time >= t, latest first
    times_sorted = time[order]
    event_times = np.unique(time[event])
    # the risk set of t: all with time >= t, i.e. up to the last index with time >= t (descending)
    last = np.searchsorted(-times_sorted, -event_times, side="right") - 1
    deaths = np.bincount(np.searchsorted(event_times, time[event]), minlength=len(event_times))
    increments = deaths / at_risk_sum[last]
    fitted.baseline_months = [float(t) for t in event_times]
    fitted.baseline_hazard = [float(h) for h in np.cumsum(increments)]


COLLINEAR_TOLERANCE = 1e-8  # a column whose residual on the kept ones is this small a share


def independent_columns(x: np.ndarray) -> list[int]:
    """The columns of ``x`` kept, in order, when each one that is (numerically) a linear
    combination of the columns kept before it, after centring, is dropped."""
    centred = x - x.mean(axis=0)
    kept: list[int] = []
    for j in range(centred.shape[1]):
        column = centred[:, j]
        norm = float(column @ column)
        if norm <= 0.0:
            continue  # constant in training: nothing to estimate
        if kept:
            basis = centred[:, kept]
            coef, *_ = np.linalg.lstsq(basis, column, rcond=None)
            residual = column - basis @ coef
            if float(residual @ residual) <= COLLINEAR_TOLERANCE * norm:
                continue
        kept.append(j)
    return kept


def exact_cox(fitted: FittedModel, x: np.ndarray, train: pl.DataFrame, l2: float) -> np.ndarray:
    """Refit the linear Cox exactly (Newton-Raphson from the trained weights) on the independent
    columns, set the fitted weights (a dropped column's is 0) and return the covariance of all
    coefficients (zero rows and columns for the dropped ones). The dropped columns' names go to
    ``fitted.report["collinear"]``."""
    import torch

    from inescape.modules.training.nets import cox_loss

    kept = independent_columns(x)
    xt = torch.from_numpy(np.ascontiguousarray(x[:, kept])).double()
    time = torch.from_numpy(train["time"].to_numpy()).double()
    event = torch.from_numpy(train["event"].to_numpy()).double()
    events = float(event.sum())
    weight = fitted.state["weight"]
    beta = weight.double().reshape(-1)[kept].clone()

    def total(b: torch.Tensor) -> torch.Tensor:
        # Adam's weight decay adds l2/2 * |b|^2 per unit of the (per-event) loss
        return (cox_loss(xt @ b, time, event) + 0.5 * l2 * (b @ b)) * events

    value = float(total(beta))
    for _ in range(50):
        b = beta.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(total(b), b)
        hessian = torch.autograd.functional.hessian(total, beta, vectorize=True)  # type: ignore[no-untyped-call]
        step = torch.linalg.solve(hessian, grad)
        scale = 1.0
        while scale > 1e-4:  # halve the step until the likelihood improves
            candidate = beta - scale * step
            if float(total(candidate)) <= value:
                break
            scale /= 2
        else:
            break
        beta, previous, value = candidate, value, float(total(candidate))
        if previous - value < 1e-10 * max(1.0, abs(value)):
            break
    full = torch.zeros(weight.numel(), dtype=torch.float64)
    full[kept] = beta
    fitted.state["weight"] = full.reshape(weight.shape).to(weight.dtype)
    if fitted._net is not None:
        fitted._net.load_state_dict(fitted.state)
    hessian = torch.autograd.functional.hessian(total, beta, vectorize=True).numpy()  # type: ignore[no-untyped-call]
    covariance = np.zeros((x.shape[1], x.shape[1]))
    covariance[np.ix_(kept, kept)] = np.linalg.pinv(hessian)
    dropped = [j for j in range(x.shape[1]) if j not in set(kept)]
    fitted.report["collinear"] = [fitted.preprocessor.columns[j].name for j in dropped]
    return covariance


__all__ = ["breslow", "exact_cox", "independent_columns"]
