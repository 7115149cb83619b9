"""The fitted model a notebook or the job gets back: predictions, evaluation, export, and
saving and loading its files.

    model.metrics["c_index"], model.metrics.get("oracle_c_index")
    model.predict_survival(new_patients, [12, 36, 60])  # one column per month
    model.save("deepsurv-7")                            # a folder; load_model("deepsurv-7")
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.training.api import Baseline, CoxModel, Feature, ModelKind
from inescape.modules.training.evaluation import evaluate_classifier, evaluate_survival
from inescape.modules.training.features import OUTCOME, cohort_frame
from inescape.modules.training.fit_settings import HORIZONS, FitSettings
from inescape.modules.training.preprocess import Preprocessor


def prepare(data: pl.DataFrame | Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """A cohort frame (``features.cohort_frame``) from the tables, or ``data`` itself when it
    already has the outcome columns."""
    if isinstance(data, pl.DataFrame):
        if all(c in data.columns for c in OUTCOME):
            return data
        return cohort_frame({"patients": data})
    return cohort_frame(data)


@dataclass
class FittedModel:
    """A trained model with its preprocessing; predictions need torch only for the networks."""

    kind: ModelKind
    settings: FitSettings
    preprocessor: Preprocessor
    state: dict[str, Any]  # the network's weights (torch tensors)
    baseline_months: list[float] = field(default_factory=list)  # cox/deepsurv: Breslow H0
    baseline_hazard: list[float] = field(default_factory=list)
    cuts: list[float] = field(default_factory=list)  # logistic hazard: the grid (months)
    metrics: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)  # calibration, subgroups, intervals
    history: list[dict[str, float]] = field(default_factory=list)
    trained_on: dict[str, Any] = field(default_factory=dict)
    _net: Any = None

    # --- prediction -------------------------------------------------------------------------

    def _module(self) -> Any:
        if self._net is None:
            from inescape.modules.training.nets import build

            net = build(
                self.kind, len(self.preprocessor.columns), self.settings.hyper(), max(len(self.cuts) - 1, 0)
            )
            net.load_state_dict(self.state)
            net.eval()
            self._net = net
        return self._net

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """The network's raw outputs for a preprocessed matrix (torch, no gradient)."""
        import torch

        with torch.no_grad():
            out = self._module()(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        values: np.ndarray = out.double().numpy()
        return values.squeeze(-1) if values.ndim == 2 and values.shape[1] == 1 else values

    def survival(self, x: np.ndarray, times: Sequence[float]) -> np.ndarray:
        """S(t) of each row of a preprocessed matrix at each of ``times`` (months)."""
        out = self.outputs(x)
        at = np.asarray(times, dtype=float)
        if self.kind in ("cox", "deepsurv"):
            idx = np.searchsorted(np.asarray(self.baseline_months), at, side="right") - 1
            hazard = np.concatenate([[0.0], np.asarray(self.baseline_hazard)])  # H0 = 0 before
            return np.asarray(np.exp(-np.outer(np.exp(out), hazard[idx + 1])))
        if self.kind == "logistic_hazard":
            hazards = 1.0 / (1.0 + np.exp(-out))
            curve = np.cumprod(1.0 - hazards, axis=1)  # S at the end of each interval
            ends = np.asarray(self.cuts[1:])
            idx = np.searchsorted(ends, at, side="right") - 1
            padded = np.concatenate([np.ones((len(curve), 1)), curve], axis=1)
            return np.asarray(padded[:, idx + 1])
        raise Invalid("a classifier gives probabilities (predict_proba), not survival")

    def predict_risk(self, data: pl.DataFrame) -> np.ndarray:
        """A score that orders patients by risk: the log relative hazard (Cox, DeepSurv), the
        probability of death by 5 years (logistic hazard), the probability of pCR (classifier)."""
        x = self.preprocessor.transform(prepare(data))
        if self.kind == "logistic_hazard":
            return 1.0 - self.survival(x, [HORIZONS[-1]])[:, 0]
        out = self.outputs(x)
        return 1.0 / (1.0 + np.exp(-out)) if self.kind == "pcr" else out

    def predict_proba(self, data: pl.DataFrame) -> np.ndarray:
        if self.kind != "pcr":
            raise Invalid("predict_proba is for the pCR classifier; survival models give predict_survival")
        return self.predict_risk(data)

    def predict_survival(self, data: pl.DataFrame, times: Sequence[float] = HORIZONS) -> pl.DataFrame:
        """S(t) for each patient (rows) at each of ``times`` (months; columns named by the month),
        with ``id`` first when ``data`` has one."""
        frame = prepare(data)
        curves = self.survival(self.preprocessor.transform(frame), times)
        columns = {f"{t:g}": curves[:, k] for k, t in enumerate(times)}
        ids = {"id": frame["id"]} if "id" in frame.columns else {}
        return pl.DataFrame({**ids, **columns})

    # --- evaluation ---------------------------------------------------------------------------

    def evaluate(
        self, data: pl.DataFrame | Mapping[str, pl.DataFrame], *, reps: int | None = None
    ) -> dict[str, Any]:
        """Metrics on ``data`` (the held-out split when the model was fitted): see ``metrics``."""
        frame = prepare(data)
        reps = self.settings.bootstrap if reps is None else reps
        if self.kind == "pcr":
            return evaluate_classifier(self, frame, reps)
        return evaluate_survival(self, frame, reps)

    # --- export -------------------------------------------------------------------------------

    def portable(self) -> CoxModel | None:
        """The linear Cox as ``inescape.cox.v1`` (what decision support evaluates without torch);
        None for the other models. A missing-value indicator is dropped: the portable model asks
        for every fact instead of imputing it; so is a column collinear with others."""
        if self.kind != "cox":
            return None
        beta = self.state["weight"].double().numpy().reshape(-1)
        covariance = np.asarray(self.report.get("covariance") or np.zeros((len(beta), len(beta))))
        collinear = set(self.report.get("collinear", ()))  # no coefficient of their own
        keep = [
            j
            for j, c in enumerate(self.preprocessor.columns)
            if c.kind != "missing" and c.name not in collinear
        ]
        features, coefficients = [], []
        scale = np.ones(len(beta))
        for j in keep:
            column = self.preprocessor.columns[j]
            if column.kind == "numeric":
                scale[j] = column.scale
                features.append(
                    Feature(name=column.name, fact=column.feature, kind="numeric", mean=column.center)
                )
            else:
                features.append(
                    Feature(name=column.name, fact=column.feature, kind="indicator", value=column.value)
                )
            coefficients.append(float(beta[j] / scale[j]))
        d = np.diag(1.0 / scale[keep])
        raw = d @ covariance[np.ix_(keep, keep)] @ d
        return CoxModel(
            format="inescape.cox.v1",
            features=features,
            coefficients=coefficients,
            covariance=raw.tolist(),
            baseline=Baseline(
                months=list(self.baseline_months), cumulative_hazard=list(self.baseline_hazard)
            ),
        )

    def artifacts(self) -> dict[str, bytes]:
        """The files that make the model: ``spec.json``, ``preprocessing.json``, ``weights.pt``,
        and ``model.json`` (``inescape.cox.v1``) for the linear Cox."""
        import torch

        buffer = io.BytesIO()
        torch.save(self.state, buffer)
        spec = {
            "format": "inescape.torch.v1",
            "kind": self.kind,
            "settings": msgspec.to_builtins(self.settings),
            "baseline_months": self.baseline_months,
            "baseline_hazard": self.baseline_hazard,
            "cuts": self.cuts,
            "metrics": self.metrics,
            "report": self.report,
            "history": self.history,
            "trained_on": self.trained_on,
        }
        files = {
            "spec.json": json.dumps(spec, indent=1, default=_plain).encode(),
            "preprocessing.json": self.preprocessor.to_json(),
            "weights.pt": buffer.getvalue(),
        }
        portable = self.portable()
        if portable is not None:
            files["model.json"] = msgspec.json.encode(portable)
        return files

    def save(self, folder: str | Path) -> Path:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for name, data in self.artifacts().items():
            (path / name).write_bytes(data)
        return path


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)


def from_artifacts(files: Mapping[str, bytes]) -> FittedModel:
    import torch

    try:
        spec = json.loads(files["spec.json"])
        preprocessor = Preprocessor.from_json(files["preprocessing.json"])
        state = torch.load(io.BytesIO(files["weights.pt"]), weights_only=True)
    except (KeyError, ValueError, msgspec.ValidationError) as exc:
        raise Invalid(f"not a saved model (spec.json, preprocessing.json, weights.pt): {exc}") from None
    return FittedModel(
        kind=spec["kind"],
        settings=msgspec.convert(spec["settings"], FitSettings),
        preprocessor=preprocessor,
        state=state,
        baseline_months=spec["baseline_months"],
        baseline_hazard=spec["baseline_hazard"],
        cuts=spec["cuts"],
        metrics=spec["metrics"],
        report=spec["report"],
        history=spec["history"],
        trained_on=spec["trained_on"],
    )


def load_model(source: str | Path | Mapping[str, bytes]) -> FittedModel:
    """A model saved with ``FittedModel.save`` (a folder) or its ``artifacts()``."""
    if isinstance(source, Mapping):
        return from_artifacts(source)
    folder = Path(source)
    if not folder.is_dir():
        raise Invalid(f"{folder} is not a saved model folder")
    return from_artifacts({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})


__all__ = ["FittedModel", "from_artifacts", "load_model", "prepare"]
