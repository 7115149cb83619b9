"""Just enough SVG for the analytics' pictures: elements, axes, ticks and a palette.

Built with ElementTree so text is always escaped and the output is well-formed XML.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET  # builds only, never parses untrusted input
from collections.abc import Sequence
from dataclasses import dataclass

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
# Their yellow is left out: it vanishes on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
FONT = "Helvetica, Arial, 'DejaVu Sans', sans-serif"
INK = "#222222"
GRID = "#e3e3e3"
# px per character at 13px, on the wide side (DejaVu Sans) so labels never overrun.
CHAR_WIDTH = 7.8


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def dashes(index: int) -> str | None:
    """Solid for the first round of colours, dashed after, so >7 groups stay apart."""
    return None if index < len(PALETTE) else "7 4"


def element(parent: ET.Element, tag: str, text: str | None = None, **attributes: object) -> ET.Element:
    """A child element; ``stroke_width=2`` becomes ``stroke-width="2"``, ``class_`` becomes ``class``."""
    attrib = {
        key.rstrip("_").replace("_", "-"): _attribute(value)
        for key, value in attributes.items()
        if value is not None
    }
    node = ET.SubElement(parent, tag, attrib)
    node.text = text
    return node


def _attribute(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def document(width: int, height: int, title: str) -> ET.Element:
    root = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "width": str(width),
            "height": str(height),
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
            "aria-label": title,
            "font-family": FONT,
            "fill": INK,
        },
    )
    element(root, "title", title)
    element(root, "rect", x=0, y=0, width=width, height=height, fill="#ffffff")
    element(root, "text", title, x=16, y=30, font_size=18, font_weight="bold")
    return root


def serialise(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def fmt(value: float) -> str:
    """A tick or count label: 10 not 10.0, 2.5 stays 2.5."""
    return str(round(value)) if float(value).is_integer() else f"{value:.3g}"


def ticks(upper: float, target: int = 6) -> list[float]:
    """Round ticks from 0 up to the first one at or past ``upper`` (1, 2, 2.5 or 5 x 10^k apart)."""
    upper = upper if upper > 0 else 1.0
    raw = upper / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    count = math.ceil(upper / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


@dataclass(frozen=True)
class Frame:
    """The plotting area in pixels and the data ranges it shows."""

    left: float
    top: float
    right: float
    bottom: float
    x_max: float
    y_max: float
    y_min: float = 0.0

    def x(self, value: float) -> float:
        return self.left + (self.right - self.left) * value / self.x_max

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * (value - self.y_min) / (self.y_max - self.y_min)


def axes(
    root: ET.Element,
    frame: Frame,
    *,
    x_ticks: Sequence[float],
    y_ticks: Sequence[float],
    x_label: str,
    y_label: str,
    y_format: str = "{:g}",
) -> None:
    """Gridlines, both axes with their tick labels and titles."""
    grid = element(root, "g", class_="grid", stroke=GRID, stroke_width=1)
    for value in y_ticks:
        element(grid, "line", x1=frame.left, x2=frame.right, y1=frame.y(value), y2=frame.y(value))
    for value in x_ticks:
        element(grid, "line", x1=frame.x(value), x2=frame.x(value), y1=frame.top, y2=frame.bottom)
    axis = element(root, "g", class_="axes", stroke=INK, stroke_width=1.2)
    element(axis, "line", x1=frame.left, x2=frame.right, y1=frame.bottom, y2=frame.bottom)
    element(axis, "line", x1=frame.left, x2=frame.left, y1=frame.top, y2=frame.bottom)
    labels = element(root, "g", class_="tick-labels", font_size=13)
    for value in x_ticks:
        element(labels, "text", fmt(value), x=frame.x(value), y=frame.bottom + 19, text_anchor="middle")
    for value in y_ticks:
        element(
            labels,
            "text",
            y_format.format(value),
            x=frame.left - 8,
            y=frame.y(value) + 4.5,
            text_anchor="end",
        )
    middle_x, middle_y = (frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2
    element(root, "text", x_label, x=middle_x, y=frame.bottom + 42, font_size=14, text_anchor="middle")
    # Close to the tick labels, wherever a wide left margin put the axis.
    label_x = frame.left - 52
    rotation = f"rotate(-90 {label_x:.1f} {middle_y:.1f})"
    element(
        root, "text", y_label, x=label_x, y=middle_y, font_size=14, text_anchor="middle", transform=rotation
    )
