"""Lightning GPU check (``nox -s gpu``): the same fits on the GPU and on the CPU.

On a ``us-seer`` synthetic cohort (20k patients by default, or a cohort frame saved as Parquet
with ``--cohort``), each model is fitted with the same seed on ``accelerator="gpu"`` and on
``"cpu"``. The check passes when the GPU run really ran on CUDA, each model reaches at least
0.97 × the oracle C-index on the held-out split on both devices, and the two devices agree within
0.01 C-index (kernels differ between devices, so the weights need not be bit-identical).
It prints samples/second for each run and exits 1 on a failed check, 2 when there is no GPU.

    .venv/bin/nox -s gpu                         # generates the cohort, then checks
    python benchmarks/gpu_check.py --cohort c.parquet --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import polars as pl


def cohort(args: argparse.Namespace) -> pl.DataFrame:
    if args.cohort:
        return pl.read_parquet(args.cohort)
    from inescape.notebook import cohort_frame, generate

    return cohort_frame(generate("us-seer", args.n, seed=args.seed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", help="a cohort frame (Parquet) instead of generating one")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models", default="cox,deepsurv,logistic_hazard")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument(
        "--dry-run", action="store_true", help="no GPU: run both fits on the CPU (checks the script)"
    )
    args = parser.parse_args()

    import torch

    from inescape.modules.training.fitting import fit

    if not torch.cuda.is_available() and not args.dry_run:
        print("no CUDA GPU is visible to torch: run this on a machine with one (nothing was checked)")
        return 2
    frame = cohort(args)
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (dry run)"
    print(f"torch {torch.__version__}, {name}; cohort of {frame.height} patients")
    cuda = torch.cuda.is_available()
    results, failures = [], []
    for model in args.models.split(","):
        by_device = {}
        for device in ("gpu", "cpu"):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            accelerator = device if cuda else "cpu"
            fitted = fit(
                frame, model, seed=args.seed, accelerator=accelerator, bootstrap=0, compare_cox=False
            )
            seconds = time.perf_counter() - started
            epochs = len(fitted.history)
            row = {
                "model": model,
                "device": device,
                "c_index": fitted.metrics["c_index"],
                "oracle_c_index": fitted.metrics.get("oracle_c_index"),
                "ratio_to_oracle": fitted.metrics.get("c_index_vs_oracle"),
                "epochs": epochs,
                "seconds": seconds,
                "samples_per_s": fitted.trained_on["train"] * epochs / seconds,
                "cuda_peak_bytes": torch.cuda.max_memory_allocated() if cuda else 0,
            }
            by_device[device] = row
            results.append(row)
            print(
                f"{model:16} {device}: C {row['c_index']:.4f} ({row['ratio_to_oracle']:.3f} × oracle), "
                f"{epochs} epochs in {seconds:.1f} s, {row['samples_per_s']:,.0f} samples/s, "
                f"CUDA peak {row['cuda_peak_bytes'] / 2**20:.1f} MiB"
            )
        gpu, cpu = by_device["gpu"], by_device["cpu"]
        if gpu["cuda_peak_bytes"] <= 0 and not args.dry_run:
            failures.append(f"{model}: the GPU run allocated nothing on CUDA")
        for row in (gpu, cpu):
            if (row["ratio_to_oracle"] or 0) < 0.97:
                failures.append(f"{model} on {row['device']}: {row['ratio_to_oracle']:.3f} × oracle < 0.97")
        if abs(gpu["c_index"] - cpu["c_index"]) > 0.01:
            failures.append(
                f"{model}: GPU C {gpu['c_index']:.4f} vs CPU {cpu['c_index']:.4f} differ by > 0.01"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "failures": failures}, indent=1))
    for failure in failures:
        print("FAILED:", failure)
    print("GPU check passed" if not failures else f"GPU check failed ({len(failures)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
