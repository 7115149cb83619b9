"""Kaplan-Meier curves as a self-contained SVG, with bands, censor marks and numbers at risk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from inescape.infra.pictures import POINTS, colour, dashes, number, svg_picture
from inescape.modules.patients.analytics._inputs import (
    SURVIVAL_COLUMNS,
    check_times,
    invalid,
    require_columns,
)
from inescape.modules.patients.analytics.survival import at_risk_from_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_CURVE_COLUMNS = ("time", "n_at_risk", "n_events", "n_censored", "survival", "lower", "upper")
_ALL = "All patients"
_ROW = 21  # px per line of the legend and of the at-risk table
_CHAR = 7.8  # px per character of a 13 px label, on the wide side so labels never overrun


@dataclass(frozen=True)
class _Curve:
    label: str
    rows: pl.DataFrame  # one group's rows of the kaplan_meier frame, by time


@dataclass(frozen=True)
class _Layout:
    """Where things go, in pixels from the top left."""

    width: int
    height: int
    left: float
    top: float
    bottom: float  # of the plot
    legend_columns: int

    def box(self, top: float, bottom: float) -> tuple[float, float, float, float]:
        """A figure-fraction rectangle spanning the plot's width between two heights."""
        right = self.width - 28.0
        return (
            self.left / self.width,
            1 - bottom / self.height,
            (right - self.left) / self.width,
            (bottom - top) / self.height,
        )


def km_svg(
    km_frame: pl.DataFrame,
    *,
    title: str,
    time_unit: str = "months",
    at_risk_times: Sequence[float] | None = None,
    y_label: str = "Survival probability",
    width: int = 800,
    height: int = 500,
) -> str:
    """An SVG of the curves in a ``kaplan_meier`` frame, one colour per group.

    Step curves over shaded confidence bands, a tick where someone was censored, a legend
    above the plot and the number at risk beneath it at ``at_risk_times`` (by default the
    time-axis ticks). Grows taller than ``height`` rather than squash the plot when there
    are many groups.
    """
    group = _group_column(km_frame)
    curves = _curves(km_frame, group)
    latest = float(km_frame.select(pl.col("time").max()).item())
    # Times asked for become the axis ticks too, so every count sits under a tick.
    times = None if at_risk_times is None else sorted(check_times(at_risk_times, field="at_risk_times"))
    layout = _layout(curves, width, height)

    def draw(figure: Figure) -> None:
        from matplotlib.ticker import MaxNLocator

        x_ticks = times or [
            float(t) for t in MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(0, latest)
        ]
        x_max = max(latest, x_ticks[-1]) or 1.0
        figure.text(
            16 / width, 1 - 30 / layout.height, title, fontsize=18 * POINTS, weight="bold", gid="title"
        )
        plot = figure.add_axes(layout.box(layout.top, layout.bottom), gid="km-plot")
        for index, curve in enumerate(curves):
            _draw_curve(plot, curve, index)
        plot.set(xlim=(0, x_max), ylim=(0, 1.0), xticks=x_ticks, yticks=[0, 0.25, 0.5, 0.75, 1.0])
        plot.set_xticklabels([number(t) for t in x_ticks])
        plot.set_yticklabels([f"{v:.2f}" for v in (0, 0.25, 0.5, 0.75, 1.0)])
        plot.grid(True, linewidth=0.75)
        plot.set_axisbelow(True)
        plot.set_xlabel(f"Time ({time_unit})", fontsize=14 * POINTS)
        plot.set_ylabel(y_label, fontsize=14 * POINTS)
        _draw_legend(figure, plot, layout)
        _draw_at_risk(figure, plot, layout, curves, [t for t in x_ticks if t <= x_max])

    return svg_picture(width, layout.height, draw)


def _group_column(km_frame: pl.DataFrame) -> str | None:
    require_columns(km_frame, _CURVE_COLUMNS)
    extra = [c for c in km_frame.columns if c not in SURVIVAL_COLUMNS]
    if len(extra) > 1:
        raise invalid(extra[1], f"a kaplan_meier frame has at most one group column, found {extra}")
    if km_frame.height == 0:
        raise invalid("time", "the kaplan_meier frame has no rows")
    return extra[0] if extra else None


def _curves(km_frame: pl.DataFrame, group: str | None) -> list[_Curve]:
    if group is None:
        return [_Curve(_ALL, km_frame.sort("time"))]
    labels = km_frame[group].unique(maintain_order=True).to_list()
    return [_Curve(str(v), km_frame.filter(pl.col(group) == v).sort("time")) for v in labels]


def _fit(label: str, pixels: float) -> str:
    """The label, cut with an ellipsis where it would run off the left edge."""
    room = int(pixels / _CHAR)
    return label if len(label) <= room else label[: max(room - 1, 1)] + "…"


def _layout(curves: list[_Curve], width: int, height: int) -> _Layout:
    longest = max(len(c.label) for c in curves)
    items = len(curves) + 1  # and "censored"
    item = 40 + _CHAR * max(longest, len("censored")) + 24
    columns = max(1, min(items, int((width - 32) // item)))
    rows = -(-items // columns)
    # Room for the at-risk labels, clear of the first count (centred on the y axis).
    left = min(max(80.0, 50 + _CHAR * longest), width * 0.3)
    top = 56 + _ROW * rows
    below = 70 + _ROW * (len(curves) + 1) + 8  # axis labels, the at-risk title and rows
    height = max(height, int(top + 220 + below))  # never squash the plot below 220 px
    return _Layout(width, height, left, top, height - below, columns)


def _draw_curve(plot: Axes, curve: _Curve, index: int) -> None:
    rows = curve.rows
    times = rows["time"].to_list()
    # Each level holds until the next time (right-continuous steps).
    plot.fill_between(
        times,
        rows["lower"].to_list(),
        rows["upper"].to_list(),
        step="post",
        color=colour(index),
        alpha=0.15,
        linewidth=0,
        gid=f"km-band-{index + 1}",
    )
    plot.step(
        times,
        rows["survival"].to_list(),
        where="post",
        color=colour(index),
        linewidth=2.5 * POINTS,
        linestyle=dashes(index),
        label=curve.label,
        gid=f"km-curve-{index + 1}",
    )
    censored = rows.filter(pl.col("n_censored") > 0)
    if censored.height:
        plot.plot(
            censored["time"].to_list(),
            censored["survival"].to_list(),
            linestyle="none",
            marker="|",
            markersize=12 * POINTS,
            markeredgewidth=1.6 * POINTS,
            color=colour(index),
            gid=f"km-censor-{index + 1}",
        )


def _draw_legend(figure: Figure, plot: Axes, layout: _Layout) -> None:
    from matplotlib.lines import Line2D

    handles = [*plot.get_lines()]
    curves = [h for h in handles if h.get_label() and not str(h.get_label()).startswith("_")]
    censored = Line2D(
        [],
        [],
        linestyle="none",
        marker="|",
        markersize=12 * POINTS,
        markeredgewidth=1.6 * POINTS,
        color="#555555",
        label="censored",
    )
    figure.legend(
        handles=[*curves, censored],
        loc="upper left",
        bbox_to_anchor=(16 / layout.width, 1 - 40 / layout.height),
        ncols=layout.legend_columns,
        frameon=False,
        fontsize=13 * POINTS,
        handlelength=2.5,
        borderaxespad=0,
        borderpad=0,
    ).set_gid("legend")


def _draw_at_risk(
    figure: Figure, plot: Axes, layout: _Layout, curves: list[_Curve], times: list[float]
) -> None:
    """The number at risk at each time, one row per group, under the plot's time axis."""
    top = layout.bottom + 72 - 15
    bottom = top + _ROW * (len(curves) + 1)
    table = figure.add_axes(layout.box(top, bottom), sharex=plot, gid="at-risk")
    table.axis("off")
    table.set_ylim(len(curves) + 0.5, -0.5)
    size = 13 * POINTS
    table.annotate(
        "Number at risk",
        xy=(16 / layout.width, 0),
        xycoords=("figure fraction", "data"),
        weight="bold",
        fontsize=size,
        va="center",
    )
    for index, curve in enumerate(curves):
        row = index + 1
        table.annotate(
            _fit(curve.label, layout.left - 42),
            xy=(0, row),
            xycoords=("axes fraction", "data"),
            xytext=(-26 * POINTS, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            color=colour(index),
            fontsize=size,
        )
        counts = at_risk_from_curve(curve.rows, None, times)
        for t, n in counts.select("time", "n_at_risk").iter_rows():
            table.text(t, row, number(n), ha="center", va="center", color=colour(index), fontsize=size)


__all__ = ["km_svg"]
