"""Fitting a model end to end: split, preprocess, train with Lightning, evaluate.

    model = fit(frames, model="deepsurv", seed=7)       # generator/database tables, or a frame

Reproducible: the split, the weights' initialisation, the batches and the kernels follow the
seed (``seed_everything`` and Lightning's deterministic mode), so the same seed on the same data
and machine gives the same model and metrics.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import msgspec
import numpy as np
import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.training.baseline import breslow, exact_cox
from inescape.modules.training.features import feature_names
from inescape.modules.training.fit_settings import FitSettings, settings_of
from inescape.modules.training.fitted import FittedModel, prepare
from inescape.modules.training.preprocess import Preprocessor, fit_preprocessor, stratified_split

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
    """Whole batches sliced from the tensors: each batch's rows picked with one index tensor
    (no per-row collation, no list of row numbers turned into a tensor for each column)."""
    import torch
    from torch.utils.data import DataLoader

    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, sampler=_Batches(len(dataset), batch, shuffle=shuffle, generator=generator), batch_size=None
    )


class _Batches:
    """The row indices of each batch, as a tensor: the batches a ``BatchSampler`` over a
    ``RandomSampler`` (``shuffle`` and more than one batch) or a ``SequentialSampler`` makes,
    drawn from ``generator`` as they draw (so a seed trains the same model as with them). A
    last batch of one row is dropped: it has no pairs to compare (Cox) and no batch
    statistics (BatchNorm)."""

    def __init__(self, n: int, batch: int, *, shuffle: bool, generator: Any) -> None:
        self.n, self.batch, self.generator = n, batch, generator
        self.shuffle = shuffle and batch < n
        self.drop = n % batch == 1

    def __len__(self) -> int:
        return self.n // self.batch if self.drop else -(-self.n // self.batch)

    def __iter__(self) -> Iterator[Any]:
        import torch

        if self.shuffle:
            order = torch.randperm(self.n, generator=self.generator)
            torch.randperm(self.n, generator=self.generator)  # RandomSampler draws a second, empty, tail
        else:
            order = torch.arange(self.n)
        for start in range(0, len(self) * self.batch, self.batch):
            yield order[start : start + self.batch]


def _grid(train: pl.DataFrame, intervals: int) -> np.ndarray:
    """Cut points at quantiles of the event times, from 0 to the longest follow-up."""
    times = train.filter(pl.col("event") == 1)["time"].to_numpy()
    end = float(np.max(train["time"].to_numpy(), initial=1.0)) + 1e-6
    if len(times) == 0:
        return np.linspace(0.0, end, intervals + 1)
    inner = np.quantile(times, np.linspace(0, 1, intervals + 1)[1:-1])
    return np.unique(np.concatenate([[0.0], inner, [end]]))


@contextlib.contextmanager
def _cpu_threads(threads: int | None) -> Iterator[None]:
    """PyTorch's intra-op threads set to ``threads`` for the block (None: left as they are).
    The setting is the process's: fits running side by side in one process share it."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(
    settings: FitSettings,
    preprocessor: Preprocessor,
    train: pl.DataFrame,
    val: pl.DataFrame,
    on_epoch: Report | None,
    should_stop: Callable[[], bool] | None,
) -> FittedModel:
    import pytorch_lightning as lightning
    from pytorch_lightning.accelerators import CPUAccelerator
    from pytorch_lightning.callbacks import EarlyStopping

    from inescape.modules.training.nets import BestWeights, EpochReport, Module, Validation

    hyper = settings.hyper()
    lightning.seed_everything(settings.seed, workers=True, verbose=False)
    cuts = _grid(train, settings.intervals) if settings.model == "logistic_hazard" else None
    x_train, x_val = preprocessor.transform(train), preprocessor.transform(val)
    train_set = _tensors(settings.model, x_train, train, cuts)
    val_set = _tensors(settings.model, x_val, val, cuts)
    batch = int(hyper["batch_size"]) or len(train_set)
    loader = _loader(train_set, batch, shuffle=True, seed=settings.seed)
    module = Module(
        settings.model,
        x_train.shape[1],
        hyper,
        len(cuts) - 1 if cuts is not None else 0,
        metric_every=settings.metric_every,
    )
    with tempfile.TemporaryDirectory(prefix="inescape-train-") as workdir:
        best = BestWeights()  # in memory: no checkpoint file at each improvement
        callbacks: list[Any] = [
            Validation(val_set.tensors),  # first: the callbacks after it read its epoch record
            best,
            EarlyStopping(
                monitor="val_loss", mode="min", patience=int(hyper["patience"]), check_on_train_epoch_end=True
            ),
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
            enable_checkpointing=False,  # the best weights are kept by ``BestWeights``
            default_root_dir=workdir,
        )
        on_cpu = isinstance(trainer.accelerator, CPUAccelerator)
        with _cpu_threads(settings.cpu_threads if on_cpu else None):
            trainer.fit(module, loader)
        module.finish()
        best.restore(module)
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
    if settings.model == "cox":  # the exact fit on independent columns, then its baseline
        fitted.report["covariance"] = exact_cox(fitted, x_train, train, float(hyper["l2"])).tolist()
    if settings.model in ("cox", "deepsurv"):
        breslow(fitted, x_train, train)
    return fitted


__all__ = ["Report", "fit"]
