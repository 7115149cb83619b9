"""The networks and their losses, as Lightning modules (needs the ``ml`` extra: torch, Lightning).

- ``cox``: linear Cox proportional hazards (no bias), Breslow partial likelihood with ties.
- ``deepsurv``: the same likelihood on an MLP's output (Katzman et al., BMC Med Res Methodol 2018).
- ``logistic_hazard``: discrete-time survival, one hazard logit per interval of the time grid
  (Gensheimer & Narasimhan 2019; Kvamme & Borgan 2019); a patient censored inside an interval
  counts as surviving only the intervals before it.
- ``pcr``: a classifier of pathologic complete response (binary cross-entropy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F

from inescape.modules.training.metrics import auc, concordance

SURVIVAL_KINDS = ("cox", "deepsurv", "logistic_hazard")
KINDS = (*SURVIVAL_KINDS, "pcr")


def cox_loss(eta: torch.Tensor, time: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    """Negative Cox partial log-likelihood per event (Breslow: tied times share a risk set)."""
    order = torch.argsort(time, descending=True)
    eta, time, event = eta[order], time[order], event[order]
    log_cumulative = torch.logcumsumexp(eta, dim=0)
    _, counts = torch.unique_consecutive(time, return_counts=True)
    last = torch.cumsum(counts, dim=0) - 1  # the risk set of a time includes all tied with it
    log_risk = log_cumulative[last].repeat_interleave(counts)
    return -((eta - log_risk) * event).sum() / event.sum().clamp(min=1.0)


def logistic_hazard_loss(logits: torch.Tensor, interval: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    target = torch.zeros_like(logits)
    rows = torch.arange(len(interval), device=logits.device)
    target[rows, interval] = event
    steps = torch.arange(logits.shape[1], device=logits.device)[None, :]
    seen = steps < (interval + event.long())[:, None]  # events include their interval
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (bce * seen).sum(dim=1).mean()


def mlp(n_in: int, hidden: list[int], dropout: float, n_out: int) -> nn.Module:
    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def build(kind: str, n_in: int, hyper: dict[str, Any], n_intervals: int = 0) -> nn.Module:
    hidden = list(hyper.get("hidden", [32, 32]))
    dropout = float(hyper.get("dropout", 0.1))
    if kind == "cox":
        return nn.Linear(n_in, 1, bias=False)
    if kind == "deepsurv":
        return mlp(n_in, hidden, dropout, 1)
    if kind == "logistic_hazard":
        return mlp(n_in, hidden, dropout, n_intervals)
    if kind == "pcr":
        return mlp(n_in, hidden, dropout, 1) if hidden else nn.Linear(n_in, 1)
    raise ValueError(kind)


class Module(pl.LightningModule):
    """One of ``KINDS``. A batch is (x, time, event, interval) for survival (``interval``: the
    index in the logistic-hazard grid) and (x, label, 0, 0) for the classifier."""

    def __init__(
        self, kind: str, n_in: int, hyper: dict[str, Any], n_intervals: int = 0, *, metric_every: int = 1
    ) -> None:
        super().__init__()
        self.kind = kind
        self.hyper = hyper
        self.net = build(kind, n_in, hyper, n_intervals)
        self.history: list[dict[str, float]] = []
        self._train_losses: list[float] = []
        # The validation loss (what early stopping and the best weights follow) comes every
        # epoch; the C-index, which costs more than a small model's epoch, every
        # ``metric_every`` epochs and for the last one (``finish``).
        self.metric_every = max(1, metric_every)
        self._last_val: tuple[torch.Tensor, ...] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out.squeeze(-1) if self.kind != "logistic_hazard" else out

    def loss(
        self, out: torch.Tensor, target: torch.Tensor, event: torch.Tensor, interval: torch.Tensor
    ) -> torch.Tensor:
        if self.kind in ("cox", "deepsurv"):
            return cox_loss(out, target, event)
        if self.kind == "logistic_hazard":
            return logistic_hazard_loss(out, interval.long(), event)
        return F.binary_cross_entropy_with_logits(out, target)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x, target, event, interval = batch
        loss = self.loss(self(x), target, event, interval)
        self._train_losses.append(float(loss.detach()))
        return loss

    def validate(self, data: tuple[torch.Tensor, ...]) -> None:
        """The validation split's loss for this epoch (what early stopping and the best weights
        follow), logged as ``val_loss``, and its C-index at the cadence; one ``history`` record."""
        x, target, event, interval = data
        if not len(x):
            return
        training = self.training
        self.eval()  # dropout off, as in Lightning's validation loop
        with torch.no_grad():
            out = self(x)
        self.train(training)
        val_loss = float(self.loss(out, target, event, interval))
        self.log("val_loss", val_loss, prog_bar=False)
        train_loss = float(np.mean(self._train_losses)) if self._train_losses else float("nan")
        self._train_losses.clear()
        record = {"epoch": float(self.current_epoch), "loss": train_loss, "val_loss": val_loss}
        if self.current_epoch % self.metric_every == 0:
            record["val_metric"] = self.validation_metric(out, target, event)
        self._last_val = (out, target, event)
        self.history.append(record)

    def finish(self) -> None:
        """The C-index of the last epoch, when the cadence skipped it."""
        if self.history and "val_metric" not in self.history[-1] and self._last_val is not None:
            self.history[-1]["val_metric"] = self.validation_metric(*self._last_val)
        self._last_val = None

    def validation_metric(self, out: torch.Tensor, target: torch.Tensor, event: torch.Tensor) -> float:
        """The C-index on the validation split (AUC for the classifier)."""
        scores = out.float().cpu().numpy()
        if self.kind == "pcr":
            return auc(target.cpu().numpy(), scores)
        if self.kind == "logistic_hazard":  # risk = 1 - S at the end of the grid
            hazards = torch.sigmoid(out.float())
            scores = (1 - torch.prod(1 - hazards, dim=1)).cpu().numpy()
        return concordance(target.cpu().numpy(), event.cpu().numpy(), scores)

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(
            self.parameters(),
            lr=float(self.hyper.get("lr", 1e-3)),
            weight_decay=float(self.hyper.get("l2", 1e-4)),
        )


class Validation(pl.Callback):
    """The validation split evaluated at the end of every training epoch (``Module.validate``),
    with the network's own forward pass on the split's tensors, moved to the module's device
    once. Lightning's validation loop did the same each epoch with its data loader, hooks and
    result bookkeeping, which cost about a quarter of a small network's fit (``bench_training``);
    early stopping reads the same ``val_loss`` each epoch, so it stops at the same epoch.

    Listed first among the callbacks: those after it (``BestWeights``, ``EpochReport``) read the
    epoch's record in the same hook, and ``EarlyStopping`` (``check_on_train_epoch_end``) runs
    after every other callback's hook, as Lightning orders monitoring callbacks."""

    def __init__(self, data: tuple[torch.Tensor, ...]) -> None:
        self.data = data

    def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.data = tuple(t.to(module.device) for t in self.data)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if isinstance(module, Module):
            module.validate(self.data)


class BestWeights(pl.Callback):
    """The weights of the epoch with the lowest validation loss, kept in memory (a copy of a
    small network's tensors, no file written): what a ``ModelCheckpoint`` with
    ``save_top_k=1`` on ``val_loss`` keeps, without its disk write at each improvement."""

    def __init__(self) -> None:
        self.best: float = float("inf")
        self.state: dict[str, torch.Tensor] | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not isinstance(module, Module) or not module.history:
            return  # no validation split: nothing to compare
        value = module.history[-1]["val_loss"]
        if value != value:  # NaN never improves, as for ModelCheckpoint
            value = float("inf")
        if value < self.best or self.state is None:
            self.best = value
            self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def restore(self, module: pl.LightningModule) -> None:
        if self.state is not None:
            module.load_state_dict(self.state)


class EpochReport(pl.Callback):
    """Calls ``report(epoch, record)`` after each validation; ``should_stop()`` cancels."""

    def __init__(
        self, report: Callable[[int, dict[str, float]], None], should_stop: Callable[[], bool]
    ) -> None:
        self.report = report
        self.should_stop = should_stop

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not isinstance(module, Module) or not module.history:
            return
        self.report(trainer.current_epoch, module.history[-1])
        if self.should_stop():
            trainer.should_stop = True


__all__ = [
    "KINDS",
    "SURVIVAL_KINDS",
    "BestWeights",
    "EpochReport",
    "Module",
    "Validation",
    "cox_loss",
    "logistic_hazard_loss",
]
