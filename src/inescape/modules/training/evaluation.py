"""A fitted model's metrics on held-out data: discrimination (C-index, time-dependent AUC,
with bootstrap intervals), calibration by decile at each horizon (with the part sampling alone
explains), Brier scores, subgroups, and on synthetic data the oracle C-index (the C-index of the
generator's true risk on the same test set) and the oracle benefit (``oracle_benefit``)."""

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
    out.update(_benefit(model, frame))
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


def _benefit(model: FittedModel, frame: pl.DataFrame) -> dict[str, float]:
    """Treatment effects against the generator's truth, for the test patients whose pathway
    weighs an add-on treatment (``synthetic_effect``: its true log hazard ratio for each of them):

    oracle_benefit            the mean true benefit, as a fall in log hazard (-log HR)
    oracle_benefit_sd         its spread across patients: how heterogeneous the effect is
    model_benefit             on first-line palliative therapy, the model's mean fall in risk
                              score when a PD-1 inhibitor is added to the plan (its estimate of
                              the same benefit, S-learner style), and
    model_benefit_correlation its correlation with the true benefit, patient by patient."""
    if "synthetic_effect" not in frame.columns:
        return {}
    effect = frame["synthetic_effect"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    has = ~np.isnan(effect)
    if has.sum() < 20:
        return {}
    out = {
        "oracle_benefit_n": float(has.sum()),
        "oracle_benefit": float(np.mean(-effect[has])),
        "oracle_benefit_sd": float(np.std(effect[has])),
    }
    palliative = has & (frame["pathway"] == "palliative_systemic").to_numpy()
    if model.kind == "pcr" or "first_line_ici" not in model.preprocessor.features or palliative.sum() < 20:
        return out
    rows = frame.filter(pl.Series(palliative))
    given = model.predict_risk(rows.with_columns(first_line_ici=pl.lit("yes")))
    without = model.predict_risk(rows.with_columns(first_line_ici=pl.lit("no")))
    estimate = without - given
    out["model_benefit"] = float(np.mean(estimate))
    truth = -effect[palliative]
    if np.std(estimate) > 0 and np.std(truth) > 0:
        out["model_benefit_correlation"] = float(np.corrcoef(estimate, truth)[0, 1])
    return out


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
