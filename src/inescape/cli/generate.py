"""``inescape generate``: a synthetic cohort to files and/or the configured database;
``inescape profiles``: the profiles it can generate from."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from inescape.cli.common import cli_settings, json_option, one_line_errors, report, with_runtime
from inescape.settings import Settings

if TYPE_CHECKING:
    from inescape.modules.generation.api import LoadedCohort
    from inescape.runtime.process import Runtime


@click.command()
@click.option("--profile", required=True, help="A profile name (`inescape profiles` lists them).")
@click.option("--n", "n", type=click.IntRange(1, 10_000_000), required=True, help="Patients.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same profile, seed and n: same bytes.")
@click.option(
    "--quota",
    "quotas",
    multiple=True,
    help='JSON, repeatable: \'{"where": {"histology": "adenocarcinoma", "stage_group": "III"}, "share": 1}\'',
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="cohort.parquet, .csv or .ndjson"
)
@click.option("--to-database", is_flag=True, help="Load the configured clinical database (bulk path).")
@json_option
@one_line_errors
def generate(
    profile: str,
    n: int,
    seed: int,
    quotas: tuple[str, ...],
    out: Path | None,
    to_database: bool,
    as_json: bool,
) -> None:
    """Generate a synthetic cohort, with a progress bar and its fidelity report."""
    from inescape.kernel.errors import DomainError

    if out is None and not to_database:
        raise click.UsageError("say where the cohort goes: --out FILE and/or --to-database")
    settings = cli_settings() if to_database else None
    label = f"Generating {n:,} patients ({profile})"
    # the bar goes to stderr with --json, so that stdout is the document alone
    bar_file = sys.stderr if as_json else None
    with click.progressbar(length=n, label=label, show_pos=True, file=bar_file) as bar:
        try:
            summary = _generate(
                profile, n, seed=seed, quotas=list(quotas), out=out, settings=settings, on_chunk=bar.update
            )
        except DomainError as exc:
            click.echo(f"\ninescape: {exc.detail}", err=True)
            for error in getattr(exc, "errors", [])[:10]:
                click.echo(f"  {error.get('field')}: {error.get('message')}", err=True)
            sys.exit(1)
    lines = summary.pop("lines")
    report(summary, lines, as_json=as_json)


@click.command()
@json_option
def profiles(as_json: bool) -> None:
    """List the generation profiles (the names `inescape generate --profile` takes)."""
    shipped = _generator().profiles()
    data = {"items": [{"name": p.name, "title": p.title, "description": p.description} for p in shipped]}
    width = max((len(p.name) for p in shipped), default=0)
    report(data, [f"{p.name.ljust(width)}  {p.title}" for p in shipped], as_json=as_json)


@click.command("calibrate-profile")
@click.argument("profile")
@click.option(
    "--knob",
    "knobs",
    multiple=True,
    required=True,
    help="A dotted path to a number of the profile (survival.baseline.III, survival.time_shape[0]); "
    "paths joined by commas move together. Repeat for several.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    help="Judge only the targets whose names start with this (repeat); all targets by default.",
)
@click.option("--patients", "-n", type=int, default=100_000, show_default=True, help="Patients per cohort.")
@click.option("--seed", type=int, default=2024, show_default=True, help="Every cohort's seed.")
@click.option("--max-evaluations", type=int, default=60, show_default=True, help="Cohorts generated at most.")
@json_option
@one_line_errors
def calibrate_profile(
    profile: str,
    knobs: tuple[str, ...],
    targets: tuple[str, ...],
    patients: int,
    seed: int,
    max_evaluations: int,
    as_json: bool,
) -> None:
    """Search values of a profile's free parameters that bring its targets toward their figures.

    PROFILE is a shipped profile's name or a .toml file. Each candidate is a cohort generated and
    judged by the fidelity report; nothing is written: the values printed are for the profile,
    with a source saying how they were calibrated.
    """
    from inescape.kernel.errors import DomainError

    generator = _generator()
    bar_file = sys.stderr if as_json else None
    label = f"calibrating {profile} ({patients:,} patients a cohort)"
    with click.progressbar(length=max_evaluations, label=label, show_pos=True, file=bar_file) as bar:

        def progress(evaluation: int, best: float) -> None:
            bar.label = f"{label}, best {best:.3f}"
            bar.update(1)

        try:
            found = generator.calibrate(
                profile,
                list(knobs),
                targets=list(targets),
                patients=patients,
                seed=seed,
                max_evaluations=max_evaluations,
                progress=progress,
            )
        except DomainError as exc:
            click.echo(f"\ninescape: {exc.detail}", err=True)
            sys.exit(1)

    def use(value: float | None) -> str:
        return "   -" if value is None else f"{value:4.2f}"

    def achieved(value: float | None) -> str:
        return "none" if value is None else f"{value:.4g}"

    lines = [f"{found.evaluations} cohorts of {found.patients:,} patients, seed {found.seed}", "", "knobs:"]
    lines += [f"  {', '.join(k.paths)}: {k.before:.4g} -> {k.after:.4g}" for k in found.knobs]
    lines += ["", "targets (use = |achieved - target| / tolerance; over 1 is outside):"]
    width = max(len(t.name) for t in found.targets)
    for t in found.targets:
        lines.append(
            f"  {t.name.ljust(width)}  {t.target:.4g} ± {t.tolerance:.3g}: "
            f"{achieved(t.before)} (use {use(t.use_before)}) -> {achieved(t.after)} (use {use(t.use_after)})"
        )
    lines += [
        "",
        f"objective {found.objective_before:.3f} -> {found.objective_after:.3f}. Nothing was written: "
        "put the values in the profile, with a source saying how they were calibrated "
        f"(on {found.patients:,} patients, seed {found.seed}).",
    ]
    report(found, lines, as_json=as_json)


def _generate(
    profile: str,
    n: int,
    *,
    seed: int,
    quotas: list[str],
    out: Path | None,
    settings: Settings | None,
    on_chunk: Callable[[int], Any],
) -> dict[str, Any]:
    """To files (no backend needed) and/or the configured database, loaded through generation's
    own service as a job loads it; the summary (``lines`` holds it as text). The profile and
    quotas are checked before anything is written."""
    from inescape.modules.generation.api import FidelityReport, report_lines

    generator = _generator()
    chosen = generator.profile(profile)
    wanted = generator.quotas(quotas)
    lines: list[str] = []
    summary: dict[str, Any] = {"profile": chosen.name, "n": n, "seed": seed, "files": [], "dataset_id": None}
    fidelity: FidelityReport | None = None
    if out is not None:
        written, fidelity = generator.write_files(
            chosen, n, seed=seed, out=out, quotas=wanted, on_chunk=on_chunk
        )
        summary["files"] = [{"path": str(p), "bytes": p.stat().st_size} for p in written]
        lines += [f"wrote {p} ({p.stat().st_size:,} bytes)" for p in written]
    if settings is not None:
        loading = _load_cohort(
            settings, chosen, n, seed=seed, quotas=wanted, on_chunk=None if out else on_chunk
        )
        done = asyncio.run(loading)
        summary |= {"dataset_id": done.dataset_id, "loaded": done.loaded}
        lines.append(
            f"loaded {done.loaded:,} patients into the clinical database (dataset {done.dataset_id})"
        )
    if fidelity is not None:
        lines += report_lines(fidelity)
    return summary | {"fidelity": fidelity, "lines": lines}


def _generator() -> Any:
    """Generation's backend-free ``GeneratorApi``, built by the root."""
    from inescape.modules.generation.api import GeneratorApi
    from inescape.runtime.wiring import library

    return library(GeneratorApi)


async def _load_cohort(settings: Settings, profile: Any, n: int, **options: Any) -> LoadedCohort:
    from inescape.modules.generation.api import GenerationApi

    async def load(runtime: Runtime) -> LoadedCohort:
        return await runtime.facade(GenerationApi).load_cohort(profile=profile, n=n, by="cli", **options)

    loaded: LoadedCohort = await with_runtime(settings, load)
    return loaded
