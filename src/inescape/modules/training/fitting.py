"""Fitting a model end to end, and the fitted model a notebook or the job gets back.

    from inescape.modules.training.api import fit, load_model
    model = fit(frames, model="deepsurv", seed=7)       # generator/database tables, or a frame
    model.metrics["c_index"], model.metrics.get("oracle_c_index")
    model.predict_survival(new_patients, [12, 36, 60])  # one column per month
    model.save("deepsurv-7")                            # a folder; load_model("deepsurv-7")

Reproducible: the split, the weights' initialisation, the batches and the kernels follow the
seed (``seed_everything`` and Lightning's deterministic mode), so the same seed on the same data
and machine gives the same model and metrics.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np
import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.training import metrics as m
from inescape.modules.training.features import OUTCOME, cohort_frame, feature_names
from inescape.modules.training.portable import Baseline, CoxModel, Feature
from inescape.modules.training.preprocess import Preprocessor, fit_preprocessor, stratified_split

ModelKind = Literal["cox", "deepsurv", "logistic_hazard", "pcr"]
HORIZONS = (12.0, 36.0, 60.0)
SUBGROUPS = ("histology", "sex", "stage_group")
DEFAULTS: dict[str, dict[str, Any]] = {
    # full batch for the linear Cox: the partial likelihood of the whole training set
    "cox": {"lr": 0.05, "l2": 1e-4, "batch_size": 0, "max_epochs": 400, "patience": 20, "hidden": []},
    # DeepSurv: a small, well-regularised MLP; larger ones overfit a 14k training split
    "deepsurv": {
        "lr": 1e-3,
        "l2": 5e-3,
        "batch_size": 2048,
        "max_epochs": 300,
        "patience": 15,
        "hidden": [32],
        "dropout": 0.2,
    },
    "logistic_hazard": {"lr": 2e-3, "l2": 1e-4, "batch_size": 1024, "max_epochs": 200, "patience": 15},
    "pcr": {"lr": 0.02, "l2": 1e-3, "batch_size": 0, "max_epochs": 300, "patience": 20, "hidden": []},
}


class FitSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a run depends on besides its data (recorded with the model)."""

    model: ModelKind = "deepsurv"
    features: str | list[str] = "full"
    seed: int = 0
    validation: float = 0.15
    test: float = 0.15
    max_epochs: int | None = None
    patience: int | None = None
    batch_size: int | None = None  # 0: the whole training split per step
    lr: float | None = None
    l2: float | None = None
    hidden: list[int] | None = None
    dropout: float | None = None
    intervals: int = 20  # logistic hazard: intervals of the time grid
    bootstrap: int = 200  # resamples for the confidence intervals (0: none)
    compare_cox: bool = True  # also fit the linear Cox on the same split (the promotion gate)
    accelerator: str = "auto"  # Lightning: "cpu", "gpu", "auto" (a GPU when present)
    devices: int | str = 1
    strategy: str = "auto"  # Lightning: "ddp", "fsdp", ... for several GPUs or nodes
    num_nodes: int = 1

    def hyper(self) -> dict[str, Any]:
        chosen = dict(DEFAULTS[self.model])
        for key in ("max_epochs", "patience", "batch_size", "lr", "l2", "hidden", "dropout"):
            value = getattr(self, key)
            if value is not None:
                chosen[key] = value
        chosen.setdefault("hidden", [32, 32])
        chosen.setdefault("dropout", 0.1)
        return chosen


def settings_of(model: str = "deepsurv", **options: Any) -> FitSettings:
    try:
        return msgspec.convert({"model": model, **options}, FitSettings)
    except msgspec.ValidationError as exc:
        raise Invalid(
            f"training settings are invalid: {exc}", errors=[{"field": "settings", "message": str(exc)}]
        ) from None


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

    def _outputs(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self._module()(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        values: np.ndarray = out.double().numpy()
        return values.squeeze(-1) if values.ndim == 2 and values.shape[1] == 1 else values

    def _survival(self, x: np.ndarray, times: Sequence[float]) -> np.ndarray:
        out = self._outputs(x)
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
            return 1.0 - self._survival(x, [HORIZONS[-1]])[:, 0]
        out = self._outputs(x)
        return 1.0 / (1.0 + np.exp(-out)) if self.kind == "pcr" else out

    def predict_proba(self, data: pl.DataFrame) -> np.ndarray:
        if self.kind != "pcr":
            raise Invalid("predict_proba is for the pCR classifier; survival models give predict_survival")
        return self.predict_risk(data)

    def predict_survival(self, data: pl.DataFrame, times: Sequence[float] = HORIZONS) -> pl.DataFrame:
        """S(t) for each patient (rows) at each of ``times`` (months; columns named by the month),
        with ``id`` first when ``data`` has one."""
        frame = prepare(data)
        curves = self._survival(self.preprocessor.transform(frame), times)
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
            return _evaluate_classifier(self, frame, reps)
        return _evaluate_survival(self, frame, reps)

    # --- export -------------------------------------------------------------------------------

    def portable(self) -> CoxModel | None:
        """The linear Cox as ``inescape.cox.v1`` (what decision support evaluates without torch);
        None for the other models. A missing-value indicator is dropped: the portable model asks
        for every fact instead of imputing it."""
        if self.kind != "cox":
            return None
        beta = self.state["weight"].double().numpy().reshape(-1)
        covariance = np.asarray(self.report.get("covariance") or np.zeros((len(beta), len(beta))))
        keep = [j for j, c in enumerate(self.preprocessor.columns) if c.kind != "missing"]
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


# --- fitting ----------------------------------------------------------------------------------

Report = Callable[[int, dict[str, float]], None]


def fit(
    data: pl.DataFrame | Mapping[str, pl.DataFrame],
    model: str = "deepsurv",
    *,
    on_epoch: Report | None = None,
    should_stop: Callable[[], bool] | None = None,
    trained_on: Mapping[str, Any] | None = None,
    **options: Any,
) -> FittedModel:
    """Fit ``model`` (``cox``, ``deepsurv``, ``logistic_hazard``, ``pcr``) on a stratified
    train split, stop early on the validation loss, and evaluate on the held-out test split
    (``metrics``; with the linear Cox on the same split, and the oracle C-index on synthetic
    data). ``options`` are ``FitSettings`` fields: ``features``, ``seed``, ``max_epochs``..."""
    settings = settings_of(model, **options)
    frame = prepare(data)
    names = feature_names(
        settings.features if isinstance(settings.features, str) else tuple(settings.features)
    )
    if settings.model == "pcr":
        frame = frame.filter(pl.col("pcr").is_not_null())
    if frame.height < 50:
        raise Invalid(f"{frame.height} usable patients; at least 50 are needed to train and evaluate")
    strata = frame.with_columns(event=pl.col("pcr").cast(pl.Int8)) if settings.model == "pcr" else frame
    train_idx, val_idx, test_idx = stratified_split(
        strata, seed=settings.seed, validation=settings.validation, test=settings.test
    )
    train, val, test = frame[train_idx], frame[val_idx], frame[test_idx]
    preprocessor = fit_preprocessor(train, names)
    fitted = _train(settings, preprocessor, train, val, on_epoch, should_stop)
    fitted.trained_on = {
        **dict(trained_on or {}),
        "rows": frame.height,
        "train": train.height,
        "validation": val.height,
        "test": test.height,
        "events": int(frame["event"].sum()) if settings.model != "pcr" else int(frame["pcr"].sum()),
        "origins": dict(frame.group_by("origin").len().iter_rows()),
        "features": list(names),
        "columns": preprocessor.names,
    }
    evaluation = fitted.evaluate(test)
    if settings.compare_cox and settings.model in ("deepsurv", "logistic_hazard"):
        cox_settings = msgspec.structs.replace(
            settings,
            model="cox",
            max_epochs=None,
            patience=None,
            batch_size=None,
            lr=None,
            l2=None,
            hidden=None,
            dropout=None,
        )
        cox = _train(cox_settings, preprocessor, train, val, None, should_stop)
        baseline = cox.evaluate(test)
        evaluation["metrics"].update(
            {f"cox_baseline_{k}": v for k, v in baseline["metrics"].items() if k.startswith("c_index")}
        )
    elif settings.model == "cox":
        evaluation["metrics"].update(
            {f"cox_baseline_{k}": v for k, v in evaluation["metrics"].items() if k.startswith("c_index")}
        )
    fitted.metrics = evaluation.pop("metrics")
    fitted.report.update(evaluation)
    return fitted


def _tensors(kind: str, x: np.ndarray, frame: pl.DataFrame, cuts: np.ndarray | None) -> Any:
    import torch

    n = frame.height
    if kind == "pcr":
        label = frame["pcr"].cast(pl.Float32).to_numpy()
        columns = [label, np.zeros(n, np.float32), np.zeros(n, np.int64)]
    else:
        time = frame["time"].cast(pl.Float32).to_numpy()
        event = frame["event"].cast(pl.Float32).to_numpy()
        interval = np.zeros(n, np.int64)
        if cuts is not None:
            interval = np.clip(np.searchsorted(cuts, time, side="right") - 1, 0, len(cuts) - 2)
        columns = [time, event, interval]
    return torch.utils.data.TensorDataset(
        torch.from_numpy(x), *(torch.from_numpy(np.array(c)) for c in columns)
    )


def _loader(dataset: Any, batch: int, *, shuffle: bool, seed: int) -> Any:
    """Whole batches sliced from the tensors (a sampler of index lists: no per-row collation)."""
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

    generator = torch.Generator().manual_seed(seed)
    order = (
        RandomSampler(dataset, generator=generator)
        if shuffle and batch < len(dataset)
        else SequentialSampler(dataset)
    )
    # a last batch of one row has no pairs to compare (Cox) and no batch statistics (BatchNorm)
    drop = len(dataset) % batch == 1
    return DataLoader(dataset, sampler=BatchSampler(order, batch, drop_last=drop), batch_size=None)


def _grid(train: pl.DataFrame, intervals: int) -> np.ndarray:
    """Cut points at quantiles of the event times, from 0 to the longest follow-up."""
    times = train.filter(pl.col("event") == 1)["time"].to_numpy()
    end = float(np.max(train["time"].to_numpy(), initial=1.0)) + 1e-6
    if len(times) == 0:
        return np.linspace(0.0, end, intervals + 1)
    inner = np.quantile(times, np.linspace(0, 1, intervals + 1)[1:-1])
    return np.unique(np.concatenate([[0.0], inner, [end]]))


def _train(
    settings: FitSettings,
    preprocessor: Preprocessor,
    train: pl.DataFrame,
    val: pl.DataFrame,
    on_epoch: Report | None,
    should_stop: Callable[[], bool] | None,
) -> FittedModel:
    import pytorch_lightning as lightning
    import torch
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from inescape.modules.training.nets import EpochReport, Module

    hyper = settings.hyper()
    lightning.seed_everything(settings.seed, workers=True, verbose=False)
    cuts = _grid(train, settings.intervals) if settings.model == "logistic_hazard" else None
    x_train, x_val = preprocessor.transform(train), preprocessor.transform(val)
    train_set = _tensors(settings.model, x_train, train, cuts)
    val_set = _tensors(settings.model, x_val, val, cuts)
    batch = int(hyper["batch_size"]) or len(train_set)
    loader = _loader(train_set, batch, shuffle=True, seed=settings.seed)
    val_loader = _loader(val_set, max(len(val_set), 1), shuffle=False, seed=settings.seed)
    module = Module(settings.model, x_train.shape[1], hyper, len(cuts) - 1 if cuts is not None else 0)
    with tempfile.TemporaryDirectory(prefix="inescape-train-") as workdir:
        best = ModelCheckpoint(
            dirpath=workdir, monitor="val_loss", mode="min", save_top_k=1, save_weights_only=True
        )
        callbacks: list[Any] = [
            EarlyStopping(monitor="val_loss", mode="min", patience=int(hyper["patience"])),
            best,
        ]
        if on_epoch is not None or should_stop is not None:
            callbacks.append(EpochReport(on_epoch or (lambda _e, _r: None), should_stop or (lambda: False)))
        trainer = lightning.Trainer(
            max_epochs=int(hyper["max_epochs"]),
            accelerator=settings.accelerator,
            devices=settings.devices,
            strategy=settings.strategy,
            num_nodes=settings.num_nodes,
            # deterministic kernels; one without a deterministic CUDA version warns, not fails
            deterministic="warn",
            callbacks=callbacks,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            default_root_dir=workdir,
        )
        trainer.fit(module, loader, val_loader)
        if best.best_model_path:
            checkpoint = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
            module.load_state_dict(checkpoint["state_dict"])
    net = module.net.cpu().eval()
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    fitted = FittedModel(
        kind=settings.model,
        settings=settings,
        preprocessor=preprocessor,
        state=state,
        cuts=[float(c) for c in cuts] if cuts is not None else [],
        history=list(module.history),
        _net=net,
    )
    if settings.model in ("cox", "deepsurv"):
        _breslow(fitted, x_train, train)
    if settings.model == "cox":
        fitted.report["covariance"] = _covariance(fitted, x_train, train, float(hyper["l2"])).tolist()
    return fitted


def _breslow(fitted: FittedModel, x: np.ndarray, train: pl.DataFrame) -> None:
    """The baseline cumulative hazard at the distinct event times (Breslow 1972)."""
    risk = np.exp(fitted._outputs(x))
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


def _covariance(fitted: FittedModel, x: np.ndarray, train: pl.DataFrame, l2: float) -> np.ndarray:
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


# --- evaluation -------------------------------------------------------------------------------


def _evaluate_survival(model: FittedModel, frame: pl.DataFrame, reps: int) -> dict[str, Any]:
    x = model.preprocessor.transform(frame)
    time, event = frame["time"].to_numpy().astype(float), frame["event"].to_numpy().astype(bool)
    follow = float(np.quantile(time, 0.9)) if len(time) else 0.0
    grid = np.linspace(1.0, max(min(follow, 60.0), 2.0), 30)
    horizons = [h for h in HORIZONS if h < time.max()] if len(time) else []
    survival = model._survival(x, [*horizons, *grid])
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


def _evaluate_classifier(model: FittedModel, frame: pl.DataFrame, reps: int) -> dict[str, Any]:
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


__all__ = ["FitSettings", "FittedModel", "fit", "load_model", "prepare", "settings_of"]
