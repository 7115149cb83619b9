"""Kaplan-Meier curves as a self-contained SVG, with bands, censor marks and numbers at risk."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # builds only, never parses untrusted input
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from inescape.modules.patients.analytics._inputs import (
    SURVIVAL_COLUMNS,
    check_times,
    invalid,
    require_columns,
)
from inescape.modules.patients.analytics.survival import at_risk_from_curve
from inescape.modules.patients.analytics.svg import (
    CHAR_WIDTH,
    Frame,
    axes,
    colour,
    dashes,
    document,
    element,
    fmt,
    serialise,
    ticks,
)

_CURVE_COLUMNS = ("time", "n_at_risk", "n_events", "n_censored", "survival", "lower", "upper")
_ALL = "All patients"
_ROW = 21  # px per line of the legend and of the at-risk table


@dataclass(frozen=True)
class _Curve:
    label: str
    rows: pl.DataFrame  # one group's rows of the kaplan_meier frame, by time


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
    x_ticks = (
        ticks(latest) if at_risk_times is None else sorted(check_times(at_risk_times, field="at_risk_times"))
    )
    legend = _legend_rows([c.label for c in curves], width)
    frame, height = _layout(curves, legend, width, height, max(latest, x_ticks[-1]))
    root = document(width, height, title)
    axes(
        root, frame, x_ticks=x_ticks, y_ticks=[0, 0.25, 0.5, 0.75, 1.0],
        x_label=f"Time ({time_unit})", y_label=y_label, y_format="{:.2f}",
    )  # fmt: skip
    for index, curve in enumerate(curves):
        _draw_curve(root, frame, curve, index)
    _draw_legend(root, legend, 16, 56)
    _draw_at_risk(root, frame, curves, x_ticks)
    return serialise(root)


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
    room = int(pixels / CHAR_WIDTH)
    return label if len(label) <= room else label[: max(room - 1, 1)] + "…"


def _legend_rows(labels: list[str], width: int) -> list[list[tuple[int, str, float]]]:
    """Legend items (index, label, x offset) wrapped into rows that fit the width."""
    rows: list[list[tuple[int, str, float]]] = [[]]
    offset = 0.0
    for index, label in enumerate([*labels, "censored"]):
        size = 40 + CHAR_WIDTH * len(label) + 24
        if rows[-1] and offset + size > width - 32:
            rows.append([])
            offset = 0.0
        rows[-1].append((index, label, offset))
        offset += size
    return rows


def _layout(
    curves: list[_Curve], legend: list[list[tuple[int, str, float]]], width: int, height: int, x_max: float
) -> tuple[Frame, int]:
    longest = max(len(c.label) for c in curves)
    # Room for the at-risk labels, clear of the first count (centred on the y axis).
    left = min(max(80.0, 50 + CHAR_WIDTH * longest), width * 0.3)
    top = 56 + _ROW * len(legend)
    below = 70 + _ROW * (len(curves) + 1) + 8  # axis labels, the at-risk title and rows
    height = max(height, int(top + 220 + below))  # never squash the plot below 220 px
    return Frame(
        left=left, top=top, right=width - 28.0, bottom=height - below, x_max=x_max, y_max=1.0
    ), height


def _draw_curve(root: ET.Element, frame: Frame, curve: _Curve, index: int) -> None:
    rows = curve.rows
    times = [frame.x(t) for t in rows["time"]]
    group = element(root, "g", class_="km-group", data_group=curve.label)
    band = _step_points(times, [frame.y(u) for u in rows["upper"]])
    band += list(reversed(_step_points(times, [frame.y(v) for v in rows["lower"]])))
    element(group, "path", class_="km-band", d=_polyline(band) + " Z", fill=colour(index), fill_opacity=0.15)
    line = _step_points(times, [frame.y(s) for s in rows["survival"]])
    element(
        group, "path", class_="km-curve", d=_polyline(line), fill="none", stroke=colour(index),
        stroke_width=2.5, stroke_dasharray=dashes(index), stroke_linejoin="miter",
    )  # fmt: skip
    censored = rows.filter(pl.col("n_censored") > 0)
    marks = [
        f"M{frame.x(t):.1f},{frame.y(s) - 6:.1f} v12"
        for t, s in censored.select("time", "survival").iter_rows()
    ]
    if marks:
        element(group, "path", class_="km-censor", d=" ".join(marks), stroke=colour(index), stroke_width=1.6)


def _step_points(xs: list[float], ys: list[float]) -> list[tuple[float, float]]:
    """A right-continuous step function: each level holds until the next time."""
    points: list[tuple[float, float]] = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        points.append((x, y))
        points.append((xs[i + 1] if i + 1 < len(xs) else x, y))
    return points


def _polyline(points: list[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _draw_legend(
    root: ET.Element, legend: list[list[tuple[int, str, float]]], left: float, top: float
) -> None:
    box = element(root, "g", class_="legend", font_size=13)
    censored_index = max(index for row in legend for index, _, _ in row)
    for line, row in enumerate(legend):
        y = top + _ROW * line
        for index, label, offset in row:
            x = left + offset
            if index == censored_index:
                element(box, "path", d=f"M{x + 28:.1f},{y - 10:.1f} v12", stroke="#555555", stroke_width=1.6)
            else:
                element(
                    box, "line", x1=x, x2=x + 32, y1=y - 4.0, y2=y - 4.0, stroke=colour(index),
                    stroke_width=3, stroke_dasharray=dashes(index),
                )  # fmt: skip
            element(box, "text", label, x=x + 40, y=y + 0.5)


def _draw_at_risk(root: ET.Element, frame: Frame, curves: list[_Curve], times: list[float]) -> None:
    box = element(root, "g", class_="at-risk", font_size=13)
    top = frame.bottom + 72
    element(box, "text", "Number at risk", x=16, y=top, font_weight="bold")
    shown = [t for t in times if t <= frame.x_max]
    for index, curve in enumerate(curves):
        y = top + _ROW * (index + 1)
        label = _fit(curve.label, frame.left - 42)
        element(box, "text", label, x=frame.left - 26, y=y, text_anchor="end", fill=colour(index))
        counts = at_risk_from_curve(curve.rows, None, shown)
        for t, n in counts.select("time", "n_at_risk").iter_rows():
            element(box, "text", fmt(n), x=frame.x(t), y=y, text_anchor="middle", fill=colour(index))
