"""Synthetic twins side by side: the same real cohort fitted by this platform's method (exact and
ε-DP), SDV's GaussianCopula and SDV's CTGAN, each judged by the platform's privacy and utility
report (``generation/fitting/report.py``) against the same training and held-out patients.

The cohort (``--cohort``):

* ``larynx`` (default): the larynx cancer cohort bundled with lifelines (``lifelines/datasets/
  larynx.csv``; Kardaun 1983, as in Klein & Moeschberger, *Survival Analysis*, 2nd ed., 1.8):
  90 men with cancer of the larynx, their stage (I to IV), age at diagnosis, years to death or
  the end of follow-up, and death (every one written as diagnosed on 1 July 1974, the middle of
  the study's 1970-1978 enrolment, as lifelines' copy keeps no year). It reaches the fit the way a hospital's
  file does: written as a registry's CSV export (one row per patient: id, birth date, sex,
  histology and its ICD-O-3 codes, diagnosis date, stage group, vital status, last seen, date of
  death), uploaded to an embedded platform in a temporary folder, collected by the upload
  connector with a column mapping (validated by the clinical core; rejects counted), and read
  back from the database as the fit reads a source (``load_cohort(source=...)``). Stage IV is
  written IVA. The cohort records no histology, site or treatment, so every patient is squamous
  cell carcinoma (the larynx's usual histology) of the cervical site, staged TX NX M0 with the
  study's stage group, with no treatment recorded (which the platform reads as best supportive
  care): constant columns, the same for all four methods.
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
import asyncio
import csv
import importlib.util
import io
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
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
from inescape.settings import load_settings  # noqa: E402

COLUMNS = ("sex", "histology", "location", "stage_group", "pathway", "age", "time", "event")
LARYNX_STAGE = {1: "I", 2: "II", 3: "III", 4: "IVA"}
# Kardaun's patients were diagnosed 1970-1978; lifelines' copy of the table keeps no year, so each
# is written as diagnosed mid-way (only the time from diagnosis matters to the fit and the report).
DIAGNOSED = date(1974, 7, 1)
SDV_INSTALL = "pip install -c constraints.txt sdv==2.0.0 (nox -s bench does it in its own environment)"


def larynx_export() -> bytes:
    """lifelines' larynx cohort as a registry's CSV export (``LARYNX_MAPPING`` names its columns)."""
    spec = importlib.util.find_spec("lifelines")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("lifelines is not installed (pip install -c constraints.txt lifelines)")
    raw = pl.read_csv(Path(next(iter(spec.submodule_search_locations))) / "datasets" / "larynx.csv")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["PatientID", "DOB", "Sex", "Histology", "Morphology", "Site", "Location", "DxDate",
                     "T", "N", "M", "Stage", "Vital", "LastSeen", "DeathDate"])  # fmt: skip
    for i, row in enumerate(raw.iter_rows(named=True)):
        diagnosed = DIAGNOSED  # the package's copy keeps no diagnosis year
        end = diagnosed + timedelta(days=round(float(row["time"]) * 365.25))
        stage = 1 + row["Stage_II"] + 2 * row["Stage_III"] + 3 * row["Stage_IV"]
        dead = bool(row["death"])
        writer.writerow(
            [f"LX-{i:03d}", date(diagnosed.year - int(row["age"]), 1, 1).isoformat(), "male",
             "squamous_cell_carcinoma", "8070/3", "C15.0", "cervical", diagnosed.isoformat(),
             "TX", "NX", "M0", LARYNX_STAGE[stage], "dead" if dead else "alive", end.isoformat(),
             end.isoformat() if dead else ""]
        )  # fmt: skip
    return out.getvalue().encode()


LARYNX_MAPPING = {
    "source_record_id": "PatientID",
    "birth_date": "DOB",
    "sex": "Sex",
    "histology": "Histology",
    "condition.morphology_code": "Morphology",
    "condition.topography_code": "Site",
    "location": "Location",
    "diagnosis_date": "DxDate",
    "staging.t": "T",
    "staging.n": "N",
    "staging.m": "M",
    "stage_group": "Stage",
    "vital_status": "Vital",
    "outcome.last_follow_up": "LastSeen",
    "outcome.death_date": "DeathDate",
}
LARYNX_SOURCE = "lifelines-larynx"


def larynx() -> pl.DataFrame:
    """lifelines' larynx cohort as the fit reads it after the upload connector collected it into
    an embedded platform (in a temporary folder, removed afterwards)."""
    export = larynx_export()
    with tempfile.TemporaryDirectory(prefix="bench-twins-") as folder:
        settings = load_settings({"INESCAPE_DATA_DIR": folder, "INESCAPE_LOG_LEVEL": "WARNING"})
        counts = asyncio.run(_collect(settings, export))
        print(
            f"upload connector: {counts.get('read', 0)} rows read, {counts.get('accepted', 0)} loaded, "
            f"{counts.get('rejected', 0)} rejected"
        )
        tables = nb.load_cohort(settings=settings, source=LARYNX_SOURCE)
        # the registry's own ids, not the database's: the held-out split is then the same each run
        own = tables["patients"].select(pl.col("id").cast(pl.String), pl.col("source_record_id").alias("own"))
        return cohort_frame(tables).join(own, on="id").drop("id").rename({"own": "id"})


async def _collect(settings: Any, export: bytes) -> dict[str, int]:
    """Upload ``export`` and collect it with the upload connector, as a hospital would."""
    from inescape.modules.collection.schemas import CollectionRequest
    from inescape.runtime.process import Runtime

    runtime = Runtime(settings)
    await runtime.start(worker=True)
    try:
        collection: Any = runtime.bound["collection"].dependencies["collection"]

        async def body() -> AsyncIterator[bytes]:
            yield export

        received = await collection.receive_upload(
            body=body(), content_type="text/csv", filename="larynx.csv", owner="bench"
        )
        request = CollectionRequest(
            connector="upload",
            source=LARYNX_SOURCE,
            config={"upload_id": received.id, "format": "csv", "mapping": LARYNX_MAPPING},
        )
        job = await collection.submit(request=request, owner="bench", uploads_of=None)
        deadline = time.monotonic() + 300
        while (job := await runtime.services.jobs.get(job.id)).status not in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("the upload's collection job did not finish in 300 s")
            await asyncio.sleep(0.2)
        if job.status != "succeeded":
            raise RuntimeError(f"the upload's collection job {job.status}: {job.error}")
        return {k: int(v) for k, v in job.counts.items()}
    finally:
        await runtime.stop()


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
