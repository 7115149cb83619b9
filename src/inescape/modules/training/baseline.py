"""What a fitted proportional-hazards network still needs: the Breslow baseline hazard and,
for the linear Cox, the coefficients' covariance (for the portable model's intervals)."""

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


def covariance(fitted: FittedModel, x: np.ndarray, train: pl.DataFrame, l2: float) -> np.ndarray:
    """The inverse of the observed information (the Hessian of the negative log partial
    likelihood, with the ridge penalty the fit used) at the fitted coefficients."""
    import torch

    from inescape.modules.training.nets import cox_loss

    xt = torch.from_numpy(x).double()
    time = torch.from_numpy(train["time"].to_numpy()).double()
    event = torch.from_numpy(train["event"].to_numpy()).double()
    events = float(event.sum())
    beta = fitted.state["weight"].double().reshape(-1)

    def total(b: torch.Tensor) -> torch.Tensor:
        # Adam's weight decay adds l2/2 * |b|^2 per unit of the (per-event) loss
        return (cox_loss(xt @ b, time, event) + 0.5 * l2 * (b @ b)) * events

    hessian = torch.autograd.functional.hessian(total, beta).numpy()  # type: ignore[no-untyped-call]
    try:
        return np.asarray(np.linalg.inv(hessian))
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.pinv(hessian))


__all__ = ["breslow", "covariance"]
