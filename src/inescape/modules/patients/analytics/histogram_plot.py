"""A histogram (the age distribution) as a self-contained SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # builds only, never parses untrusted input

import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.patients.analytics._inputs import require_columns
from inescape.modules.patients.analytics.svg import (
    Frame,
    axes,
    colour,
    document,
    element,
    fmt,
    serialise,
    ticks,
)

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
    bins = dist_frame.sort("lower")
    low, high, tallest = bins.select(pl.col("lower").min(), pl.col("upper").max(), pl.col("n").max()).row(0)
    y_ticks = ticks(float(tallest), target=5)
    frame = Frame(
        left=_LEFT, top=_TOP, right=width - _RIGHT, bottom=height - _BOTTOM,
        x_max=high - low, y_max=y_ticks[-1],
    )  # fmt: skip
    root = document(width, height, title)
    # Ticks at the bin edges, drawn in data units offset from the first edge.
    edges = [*bins["lower"].to_list(), high]
    axes(root, frame, x_ticks=[], y_ticks=y_ticks, x_label=x_label, y_label="Patients")
    _edge_labels(root, frame, edges, low)
    _bars(root, frame, bins, low)
    if summary is not None:
        _annotate(root, frame, summary, low)
    return serialise(root)


def _edge_labels(root: ET.Element, frame: Frame, edges: list[float], low: float) -> None:
    labels = element(root, "g", class_="tick-labels", font_size=13)
    for edge in edges:
        element(labels, "text", fmt(edge), x=frame.x(edge - low), y=frame.bottom + 19, text_anchor="middle")


def _bars(root: ET.Element, frame: Frame, bins: pl.DataFrame, low: float) -> None:
    group = element(root, "g", class_="bars", fill=colour(0))
    counts = element(root, "g", class_="bar-counts", font_size=12, text_anchor="middle")
    for lower, upper, n in bins.select("lower", "upper", "n").iter_rows():
        x0, x1 = frame.x(lower - low) + 1, frame.x(upper - low) - 1
        top = frame.y(n)
        element(group, "rect", class_="bar", x=x0, y=top, width=max(x1 - x0, 1.0), height=frame.bottom - top)
        if n:
            element(counts, "text", fmt(n), x=(x0 + x1) / 2, y=top - 5)


def _annotate(root: ET.Element, frame: Frame, summary: pl.DataFrame, low: float) -> None:
    require_columns(summary, ["n", "mean", "sd", "median", "q1", "q3"])
    row = summary.row(0, named=True)
    text = (
        f"n = {row['n']} · mean {row['mean']:.1f} (SD {row['sd'] or 0:.1f}) · "
        f"median {row['median']:.1f} (IQR {row['q1']:.1f}\N{EN DASH}{row['q3']:.1f})"
    )
    if row.get("n_missing"):
        text += f" · {row['n_missing']} missing"
    element(root, "text", text, class_="summary", x=16, y=52, font_size=14)
    x = frame.x(row["median"] - low)
    element(
        root, "line", class_="median", x1=x, x2=x, y1=frame.top, y2=frame.bottom,
        stroke=colour(1), stroke_width=2, stroke_dasharray="6 4",
    )  # fmt: skip
    element(root, "text", "median", x=x + 5, y=frame.top + 12, font_size=12, fill=colour(1))
