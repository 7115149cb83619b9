"""A fitted model's metrics on held-out data: discrimination (C-index, time-dependent AUC,
with bootstrap intervals), calibration by decile at each horizon (with the part sampling alone
explains), Brier scores, subgroups, and the oracle C-index on synthetic data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import polars as pl

from inescape.modules.training import metrics as m
from inescape.modules.training.fit_settings import HORIZONS

if TYPE_CHECKING:
    from inescape.modules.training.fitted import FittedModel

SUBGROUPS = ("histology", "sex", "stage_group")


def evaluate_survival(model: FittedModel, frame: pl.DataFrame, reps: int) -> dict[str, Any]:
    x = model.preprocessor.transform(frame)
    time, event = frame["time"].to_numpy().astype(float), frame["event"].to_numpy().astype(bool)
    follow = float(np.quantile(time, 0.9)) if len(time) else 0.0
    grid = np.linspace(1.0, max(min(follow, 60.0), 2.0), 30)
    horizons = [h for h in HORIZONS if h < time.max()] if len(time) else []
    survival = model.survival(x, [*horizons, *grid])
    at = {h: survival[:, k] for k, h in enumerate(horizons)}
    on_grid = survival[:, len(horizons) :]
    risk = model.predict_risk(frame)
    g = m.Censoring(time, event)
    seed = model.settings.seed
    out: dict[str, float] = {"n": float(len(time)), "events": float(event.sum())}
    out["c_index"] = m.concordance(time, event, risk)
    if reps:
        out["c_index_lower"], out["c_index_upper"] = m.bootstrap(
            lambda i: m.concordance(time[i], event[i], risk[i]), len(time), seed=seed, reps=reps
        )
    oracle = frame["synthetic_risk"].to_numpy() if "synthetic_risk" in frame.columns else None
    if oracle is not None and not np.isnan(oracle.astype(float)).any():
        out["oracle_c_index"] = m.concordance(time, event, oracle)
        out["c_index_vs_oracle"] = out["c_index"] / out["oracle_c_index"]
    calibration: dict[str, Any] = {}
    for h in horizons:
        label = f"{h:g}m"
        out[f"auc_{label}"] = m.time_auc(time, event, risk, h, g)
        out[f"brier_{label}"] = m.brier(time, event, at[h], h, g)
        bins, error, noise = m.calibration(time, event, at[h], h)
        out[f"calibration_error_{label}"] = error
        out[f"calibration_noise_{label}"] = noise
        calibration[label] = [msgspec.to_builtins(b) for b in bins]
    out["integrated_brier"] = m.integrated_brier(time, event, on_grid, grid, g)
    subgroups: dict[str, list[dict[str, Any]]] = {}
    for column in SUBGROUPS:
        rows = []
        values = frame[column].fill_null("unknown").to_numpy()
        for value in sorted(set(values.tolist())):
            mask = values == value
            if mask.sum() >= 20 and event[mask].any():
                rows.append(
                    {
                        "value": value,
                        "n": int(mask.sum()),
                        "c_index": m.concordance(time[mask], event[mask], risk[mask]),
                    }
                )
        subgroups[column] = rows
    return {
        "metrics": out,
        "calibration": calibration,
        "subgroups": subgroups,
        "grid_months": grid.tolist(),
    }


def evaluate_classifier(model: FittedModel, frame: pl.DataFrame, reps: int) -> dict[str, Any]:
    label = frame["pcr"].to_numpy().astype(bool)
    p = model.predict_risk(frame)
    out: dict[str, float] = {"n": float(len(label)), "positives": float(label.sum())}
    out["auc"] = m.auc(label, p)
    out["brier"] = float(np.mean((p - label) ** 2))
    if reps:
        out["auc_lower"], out["auc_upper"] = m.bootstrap(
            lambda i: m.auc(label[i], p[i]), len(label), seed=model.settings.seed, reps=reps
        )
    order = np.argsort(p, kind="stable")
    bins = [
        {"n": len(part), "predicted": float(p[part].mean()), "observed": float(label[part].mean())}
        for part in np.array_split(order, 10)
        if len(part)
    ]
    out["calibration_error"] = sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in bins) / max(
        len(label), 1
    )
    # a proportion's binomial standard error, as E|N(0, se)|
    out["calibration_noise"] = (
        sum(b["n"] * np.sqrt(max(b["observed"] * (1 - b["observed"]), 1e-12) / b["n"]) for b in bins)
        / max(len(label), 1)
        * float(np.sqrt(2 / np.pi))
    )
    return {"metrics": out, "calibration": {"pcr": bins}, "subgroups": {}}


__all__ = ["SUBGROUPS", "evaluate_classifier", "evaluate_survival"]
