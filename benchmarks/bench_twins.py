"""Synthetic twins side by side: the same real cohort fitted by this platform's method (exact and
ε-DP), SDV's GaussianCopula and SDV's CTGAN, each judged by the platform's privacy and utility
report (``generation/fitting/report.py``) against the same training and held-out patients.

The cohort (``--cohort``):

* ``larynx`` (default): the larynx cancer cohort bundled with lifelines (``lifelines/datasets/
  larynx.csv``; Kardaun 1983, as in Klein & Moeschberger, *Survival Analysis*, 2nd ed., 1.8):
  90 men with cancer of the larynx, their stage (I to IV), age at diagnosis, years to death or
  the end of follow-up, and death. Mapped to the fit's columns: stage as the clinical stage
  group (IV as IVA), time in months, sex male; the cohort records no histology, site or
  treatment, so every patient is squamous cell carcinoma (the larynx's usual histology),
  location ``cervical`` and pathway ``definitive_CRT``: constant columns, the same for all
  four methods.
* ``platform``: ``--n`` patients generated from the ``us-seer`` profile, treated as real (a
  known truth), fitted from the ``global`` prior.

The patients are split once (a keyed hash of the id, ``--holdout`` held out); every method
fits the training part and draws as many records as it has. The table: fit and sample time,
mean marginal fidelity (1 - total variation), the largest Kaplan-Meier gap by stage, the
distance-to-closest-record ratio (synthetic / held-out), the membership-inference advantage,
the attribute-inference gain on training over held-out patients, identical records, and the
train-on-synthetic / train-on-real C-index on the held-out patients.

SDV is not a dependency of the platform: ``nox -s bench`` installs it (and lifelines, for the
cohort) into a separate environment that reuses the project's, with ``constraints.txt`` holding
torch at the installed CPU build. Run directly without SDV, the SDV rows say why they are
missing and the others still run.

    .venv/bin/python benchmarks/bench_twins.py [--quick] [--cohort larynx|platform]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import inescape.notebook as nb  # noqa: E402
from inescape.modules.generation.api import GeneratorApi  # noqa: E402
from inescape.modules.generation.fitting.cohort import cohort_frame  # noqa: E402
from inescape.modules.generation.fitting.fit import fit_profile  # noqa: E402
from inescape.modules.generation.fitting.report import Report, privacy_report  # noqa: E402
from inescape.modules.generation.fitting.service import split  # noqa: E402

COLUMNS = ("sex", "histology", "location", "stage_group", "pathway", "age", "time", "event")
LARYNX_STAGE = {1: "I", 2: "II", 3: "III", 4: "IVA"}
SDV_INSTALL = "pip install -c constraints.txt sdv==2.0.0 (nox -s bench does it in its own environment)"


def larynx() -> pl.DataFrame:
    """lifelines' larynx cohort in the fit's columns (read from the package's CSV)."""
    spec = importlib.util.find_spec("lifelines")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("lifelines is not installed (pip install -c constraints.txt lifelines)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "larynx.csv"
    raw = pl.read_csv(path)
    stage = (
        1
        + raw["Stage_II"].cast(pl.Int32)
        + 2 * raw["Stage_III"].cast(pl.Int32)
        + 3 * raw["Stage_IV"].cast(pl.Int32)
    )
    return pl.DataFrame(
        {
            "id": [f"larynx-{i}" for i in range(raw.height)],
            "sex": ["male"] * raw.height,
            "histology": ["squamous_cell_carcinoma"] * raw.height,
            "location": ["cervical"] * raw.height,
            "stage_group": [LARYNX_STAGE[s] for s in stage.to_list()],
            "pathway": ["definitive_CRT"] * raw.height,
            "age": raw["age"].cast(pl.Float64),
            "time": raw["time"].cast(pl.Float64) * 12.0,
            "event": raw["death"].cast(pl.Int8),
        }
    )


def platform_cohort(generator: Any, n: int, seed: int) -> pl.DataFrame:
    return cohort_frame(generator.generate("us-seer", n, seed=seed))


def timed(step: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = step()
    return result, time.perf_counter() - start


def ours(
    generator: Any, epsilon: float | None
) -> Callable[[pl.DataFrame, int, int], tuple[pl.DataFrame, float, float]]:
    def run(train: pl.DataFrame, n: int, seed: int) -> tuple[pl.DataFrame, float, float]:
        fit, fit_s = timed(
            lambda: fit_profile(
                generator.profile("global"),
                train,
                generator=generator,
                name="bench-twin",
                source="bench",
                epsilon=epsilon,
                fitted_on=date(2026, 1, 1),
            )
        )
        frames, sample_s = timed(lambda: generator.generate(fit.profile, n, seed=seed))
        return cohort_frame(frames), fit_s, sample_s

    return run


def sdv(kind: str, epochs: int) -> Callable[[pl.DataFrame, int, int], tuple[pl.DataFrame, float, float]]:
    def run(train: pl.DataFrame, n: int, seed: int) -> tuple[pl.DataFrame, float, float]:
        import pandas as pd
        from sdv.metadata import Metadata
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

        data = pd.DataFrame(
            train.select(COLUMNS).with_columns(pl.col("event").cast(pl.String)).to_dict(as_series=False)
        )
        columns = {c: {"sdtype": "categorical"} for c in (*COLUMNS[:5], "event")}
        columns.update({c: {"sdtype": "numerical"} for c in ("age", "time")})
        metadata = Metadata.load_from_dict({"tables": {"cohort": {"columns": columns}}})
        if kind == "ctgan":
            synthesizer: Any = CTGANSynthesizer(metadata, epochs=epochs, enable_gpu=False, verbose=False)
        else:
            synthesizer = GaussianCopulaSynthesizer(metadata, enforce_min_max_values=True)
        _, fit_s = timed(lambda: synthesizer.fit({"cohort": data}))  # SDV 2: tables by name
        sampled, sample_s = timed(lambda: synthesizer.sample(num_rows=n))
        if isinstance(sampled, dict):
            sampled = sampled["cohort"]
        frame = pl.DataFrame(sampled.to_dict(orient="list")).with_columns(
            pl.col("event").cast(pl.Int8),
            pl.col("age").cast(pl.Float64).round(0),
            pl.col("time").cast(pl.Float64).clip(lower_bound=0.0),
        )
        return frame.with_row_index("id").with_columns(pl.col("id").cast(pl.String)), fit_s, sample_s

    return run


def sdv_missing() -> str | None:
    """Why the SDV rows cannot run here (None: they can)."""
    try:
        import sdv  # noqa: F401
    except ImportError as error:
        return f"SDV is not installed ({error}); {SDV_INSTALL}"
    return None


def row(name: str, report: Report, fit_s: float, sample_s: float) -> list[str]:
    ratio = report.dcr_synthetic / report.dcr_holdout if report.dcr_holdout else float("nan")
    km = max(report.km_distance.values()) if report.km_distance else float("nan")
    return [
        name,
        f"{fit_s:.2f}",
        f"{sample_s:.2f}",
        f"{statistics.mean(report.marginal_fidelity.values()):.3f}",
        f"{km:.3f}",
        f"{ratio:.2f}",
        f"{report.mia_advantage:.3f}",
        f"{report.aia_members_gain:+.3f}",
        f"{report.identical_share:.1%}",
        f"{report.tstr_c_index:.3f}",
        f"{report.trtr_c_index:.3f}",
    ]


HEADER = [
    "method",
    "fit s",
    "sample s",
    "marginal fid.",
    "max KM gap",
    "DCR syn/hold",
    "MIA adv.",
    "AIA gain",
    "identical",
    "TSTR C",
    "TRTR C",
]


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True))]
    lines.append("-|-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cohort", choices=("larynx", "platform"), default="larynx")
    parser.add_argument("--n", type=int, default=3000, help="platform cohort size")
    parser.add_argument("--holdout", type=float, default=0.3)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--ctgan-epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="CTGAN 50 epochs, platform cohort 1000")
    args = parser.parse_args()
    if args.quick:
        args.ctgan_epochs = min(args.ctgan_epochs, 50)
        args.n = min(args.n, 1000)

    generator = nb._face(GeneratorApi)
    try:
        real = larynx() if args.cohort == "larynx" else platform_cohort(generator, args.n, args.seed)
        cohort = args.cohort
    except ModuleNotFoundError as error:
        print(f"larynx cohort unavailable ({error}); using the platform cohort instead")
        real, cohort = platform_cohort(generator, args.n, args.seed), "platform"
    train, holdout = split(real, f"bench-{args.seed}", args.holdout)
    print(
        f"cohort {cohort}: {real.height} patients ({train.height} training, {holdout.height} held out), "
        f"{int(real['event'].sum())} deaths; each method draws {train.height} records"
    )

    methods: list[tuple[str, Callable[..., tuple[pl.DataFrame, float, float]] | None]] = [
        ("inescape (exact)", ours(generator, None)),
        (f"inescape (ε = {args.epsilon:g})", ours(generator, args.epsilon)),
    ]
    missing = sdv_missing()
    methods += [
        ("SDV GaussianCopula", None if missing else sdv("copula", args.ctgan_epochs)),
        (f"SDV CTGAN ({args.ctgan_epochs} epochs)", None if missing else sdv("ctgan", args.ctgan_epochs)),
    ]
    rows, notes = [], []
    for name, method in methods:
        if method is None:
            notes.append(f"{name}: not run: {missing}")
            continue
        try:
            synthetic, fit_s, sample_s = method(train, train.height, args.seed)
            report = privacy_report(train, holdout, synthetic.select("id", *COLUMNS), seed=args.seed)
        except Exception as error:  # one method failing leaves the others' rows
            notes.append(f"{name}: failed: {type(error).__name__}: {error}")
            continue
        rows.append(row(name, report, fit_s, sample_s))
    print(table(rows))
    for note in notes:
        print(note)
    print(
        "fidelity: mean over sex, histology, location, stage, pathway of 1 - TV distance; KM gap: "
        "largest survival gap at 1/2/3/5 years by stage; DCR ratio near 1 and MIA advantage near 0: "
        "no closer to the training patients than to unseen ones; AIA gain: attribute-inference "
        "accuracy (death) on training minus held-out patients; TSTR/TRTR: C-index on the held-out "
        "patients of a Cox model trained on the synthetic / the real training records"
    )


if __name__ == "__main__":
    main()
