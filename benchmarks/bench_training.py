"""Training throughput and single-patient inference latency.

- **Training samples/second**: DeepSurv fitted through the platform (Lightning: early stopping
  on the validation loss each epoch, the best weights kept in memory, the validation C-index
  every 10 epochs and for the last; the whole ``fit`` with its split, preprocessing and
  held-out evaluation, Lightning imported before the clock starts) against the same network and
  loss in a bare PyTorch loop (no validation, no checkpoints) for the same epochs, in the same
  run: the ratio is what the platform's training machinery costs. Both run with the same
  intra-op thread count (``--threads``, 1 by default: the fit's ``cpu_threads``; 0 leaves
  PyTorch's default, one per core, to both).
- **Single-patient inference latency p50/p99**: the linear Cox as decision support evaluates it
  (``inescape.cox.v1``, plain Python, no torch) against the same model through torch
  (``FittedModel.predict_survival`` on a one-row frame), for 1/3/5-year survival.

    .venv/bin/python benchmarks/bench_training.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bare_loop(
    x: np.ndarray, time_: np.ndarray, event: np.ndarray, hyper: dict, epochs: int, seed: int
) -> float:
    """The same DeepSurv epochs in plain PyTorch; returns samples/second."""
    import torch

    from inescape.modules.training.nets import build, cox_loss

    torch.manual_seed(seed)
    net = build("deepsurv", x.shape[1], hyper)
    optimiser = torch.optim.Adam(net.parameters(), lr=hyper["lr"], weight_decay=hyper["l2"])
    xt, tt, et = torch.from_numpy(x), torch.from_numpy(time_), torch.from_numpy(event)
    batch = hyper["batch_size"]
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(xt), batch):
            idx = order[start : start + batch]
            if len(idx) < 2:
                continue
            optimiser.zero_grad()
            loss = cox_loss(net(xt[idx]).squeeze(-1), tt[idx], et[idx])
            loss.backward()
            optimiser.step()
    return len(x) * epochs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a smaller cohort and fewer repetitions")
    parser.add_argument(
        "--threads", type=int, default=1, help="intra-op threads of both loops (0: PyTorch's default)"
    )
    args = parser.parse_args()
    n = 8000 if args.quick else 20_000
    calls = 500 if args.quick else 2000

    import polars as pl

    from inescape.modules.training.api import SurvivalModels
    from inescape.modules.training.features import cohort_frame
    from inescape.modules.training.fitting import fit
    from inescape.modules.training.preprocess import stratified_split
    from inescape.notebook import generate
    from inescape.runtime import library

    survival = library(SurvivalModels)  # the facade decision support calls
    frame = cohort_frame(generate("us-seer", n, seed=1))
    print(f"training on a us-seer cohort of {n} patients (DeepSurv, CPU)")

    import pytorch_lightning  # noqa: F401 - imported once per process, not per fit
    import torch

    threads = args.threads or torch.get_num_threads()
    print(f"  intra-op threads, platform and bare loop alike: {threads}")
    started = time.perf_counter()
    model = fit(
        frame, "deepsurv", seed=1, bootstrap=0, compare_cox=False, accelerator="cpu", cpu_threads=threads
    )
    seconds = time.perf_counter() - started
    epochs = len(model.history)
    platform_rate = model.trained_on["train"] * epochs / seconds
    train_idx, _, _ = stratified_split(frame, seed=1)
    train = frame[train_idx]
    x = model.preprocessor.transform(train)
    time_ = train["time"].cast(pl.Float32).to_numpy().copy()
    event = train["event"].cast(pl.Float32).to_numpy().copy()
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        bare_rate = bare_loop(x, time_, event, model.settings.hyper(), epochs, seed=1)
    finally:
        torch.set_num_threads(default_threads)
    print(
        f"  platform (Lightning, validation, best weights): {platform_rate:,.0f} samples/s "
        f"({epochs} epochs, {seconds:.1f} s)"
    )
    print(f"  bare PyTorch loop, same epochs:                {bare_rate:,.0f} samples/s")
    print(
        f"  ratio platform / bare: {platform_rate / bare_rate:.2f}x (what early stopping and validation cost)"
    )
    c, ratio = model.metrics["c_index"], model.metrics["c_index_vs_oracle"]
    print(f"  held-out C-index {c:.3f} ({ratio:.3f} x oracle)")

    cox = fit(frame, "cox", features="clinical", seed=1, bootstrap=0, accelerator="cpu")
    portable = survival.load_portable(cox.artifacts()["model.json"])
    row = frame.drop_nulls(["ecog"]).head(1)
    facts = {
        f: row[f].item()
        for f in ("age", "sex", "histology", "location", "grade", "t", "n", "m", "stage_group", "ecog")
    }
    months = [12.0, 36.0, 60.0]

    def timed(call) -> list[float]:
        for _ in range(50):
            call()
        out = []
        for _ in range(calls):
            t0 = time.perf_counter_ns()
            call()
            out.append((time.perf_counter_ns() - t0) / 1000)
        return out

    portable_us = timed(lambda: survival.predict(portable, facts, months=months))
    torch_us = timed(lambda: cox.predict_survival(row, months))
    print(f"single-patient inference, 1/3/5-year survival, {calls} calls:")
    for label, values in (
        ("inescape.cox.v1 (decision support, no torch)", portable_us),
        ("same model through torch (predict_survival) ", torch_us),
    ):
        print(f"  {label}: p50 {percentile(values, 50):.1f} us, p99 {percentile(values, 99):.1f} us")
    print(
        f"  ratio torch / portable p50: {statistics.median(torch_us) / statistics.median(portable_us):.1f}x"
    )


if __name__ == "__main__":
    main()
