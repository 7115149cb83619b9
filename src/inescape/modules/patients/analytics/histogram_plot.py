"""A histogram (the age distribution) as a self-contained SVG."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from inescape.infra.pictures import POINTS, colour, number, svg_picture
from inescape.kernel.errors import Invalid
from inescape.modules.patients.analytics._inputs import require_columns

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_LEFT, _RIGHT, _TOP, _BOTTOM = 76.0, 28.0, 70.0, 64.0


def histogram_svg(
    dist_frame: pl.DataFrame,
    *,
    title: str,
    summary: pl.DataFrame | None = None,
    x_label: str = "Age (years)",
    width: int = 800,
    height: int = 500,
) -> str:
    """An SVG of an ``age_distribution`` frame: one bar per bin, its count above it.

    With an ``age_summary`` frame the subtitle gives n, mean (SD) and median (IQR) and a
    dashed line marks the median.
    """
    require_columns(dist_frame, ["lower", "upper", "n"])
    if dist_frame.height == 0:
        raise Invalid("the distribution has no bins", errors=[{"field": "n", "message": "no rows"}])
    if summary is not None:
        require_columns(summary, ["n", "mean", "sd", "median", "q1", "q3"])
    bins = dist_frame.sort("lower")

    def draw(figure: Figure) -> None:
        from matplotlib.ticker import MaxNLocator

        figure.text(16 / width, 1 - 30 / height, title, fontsize=18 * POINTS, weight="bold", gid="title")
        plot = figure.add_axes(
            (_LEFT / width, _BOTTOM / height, 1 - (_LEFT + _RIGHT) / width, 1 - (_TOP + _BOTTOM) / height),
            gid="histogram",
        )
        _bars(plot, bins)
        high = max(bins["upper"].to_list())
        edges = [*bins["lower"].to_list(), high]
        plot.set_xlim(edges[0], high)
        plot.set_xticks(edges, [number(e) for e in edges])
        plot.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=1))
        plot.grid(True, axis="y", linewidth=0.75)
        plot.set_axisbelow(True)
        plot.set_xlabel(x_label, fontsize=14 * POINTS)
        plot.set_ylabel("Patients", fontsize=14 * POINTS)
        if summary is not None:
            _annotate(figure, plot, summary, (16 / width, 1 - 52 / height))

    return svg_picture(width, height, draw)


def _bars(plot: Axes, bins: pl.DataFrame) -> None:
    lowers, uppers, counts = (bins[c].to_list() for c in ("lower", "upper", "n"))
    widths = [u - lo for lo, u in zip(lowers, uppers, strict=True)]
    bars = plot.bar(lowers, counts, width=widths, align="edge", color=colour(0), edgecolor="#ffffff")
    for index, bar in enumerate(bars, start=1):
        bar.set_gid(f"bar-{index}")
    labels = plot.bar_label(
        bars, labels=[number(n) if n else "" for n in counts], padding=3, fontsize=12 * POINTS
    )
    for index, label in enumerate(labels, start=1):
        label.set_gid(f"bar-count-{index}")


def _annotate(figure: Figure, plot: Axes, summary: pl.DataFrame, at: tuple[float, float]) -> None:
    row = summary.row(0, named=True)
    text = (
        f"n = {row['n']} · mean {row['mean']:.1f} (SD {row['sd'] or 0:.1f}) · "
        f"median {row['median']:.1f} (IQR {row['q1']:.1f}\N{EN DASH}{row['q3']:.1f})"
    )
    if row.get("n_missing"):
        text += f" · {row['n_missing']} missing"
    figure.text(*at, text, fontsize=14 * POINTS, gid="summary")
    plot.axvline(row["median"], color=colour(1), linewidth=2 * POINTS, linestyle=(0, (6, 4)), gid="median")
    plot.annotate(
        "median",
        xy=(row["median"], 1),
        xycoords=("data", "axes fraction"),
        xytext=(5 * POINTS, -12 * POINTS),
        textcoords="offset points",
        fontsize=12 * POINTS,
        color=colour(1),
        va="baseline",
    )
