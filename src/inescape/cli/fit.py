"""``inescape fit-profile``: a generator profile fitted to a collection source's stored patients."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import click

from inescape.cli.common import cli_settings, one_line_errors, with_runtime

if TYPE_CHECKING:
    from inescape.runtime.process import Runtime


@click.command("fit-profile")
@click.option("--name", required=True, help="The fitted profile's name (lower case, digits, dashes).")
@click.option("--source", default=None, help="The collection source whose stored patients are fitted.")
@click.option("--cohort", "cohort_id", default=None, help="A saved cohort whose filters select the patients.")
@click.option(
    "--prior", default="global", show_default=True, help="The published profile small cohorts lean on."
)
@click.option("--epsilon", type=float, default=None, help="ε-differential privacy (needs the privacy extra).")
@one_line_errors
def fit_profile(
    name: str, source: str | None, cohort_id: str | None, prior: str, epsilon: float | None
) -> None:
    """Fit a profile to stored patients; print its provenance and the data's weight per statistic."""
    from inescape.kernel.errors import DomainError
    from inescape.modules.generation.api import ProfileFittingApi

    settings = cli_settings()

    async def fit(runtime: Runtime) -> dict[str, Any]:
        fitted: dict[str, Any] = await runtime.facade(ProfileFittingApi).fit_profile(
            name=name, source=source, prior=prior, epsilon=epsilon, by="cli", cohort_id=cohort_id
        )
        return fitted

    try:
        shown = asyncio.run(with_runtime(settings, fit))
    except DomainError as exc:
        click.echo(f"inescape: {exc.detail}", err=True)
        sys.exit(1)
    privacy = "exact counts" if shown["epsilon"] is None else f"ε = {shown['epsilon']:g}"
    patients = "a private number of" if shown["patients"] is None else f"{shown['patients']:,}"
    click.echo(
        f"fitted {name} to {patients} patients of "
        f"{source or 'cohort ' + str(cohort_id)} ({privacy}), prior {shown['prior']}"
    )
    for weight in shown["weights"]:
        click.echo(f"  {weight['statistic']}: data weight {weight['data_weight']:.2f} (n = {weight['n']:g})")
