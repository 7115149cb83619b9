"""Pictures drawn with matplotlib's object API and answered as self-contained SVG.

``svg_picture(width, height, draw)`` hands ``draw`` a fresh ``Figure`` of ``width`` x ``height``
CSS pixels and returns the SVG text. Text stays text (readable, searchable, selectable), in the
DejaVu Sans that matplotlib bundles (nothing is downloaded), and the bytes are the same for the
same picture (no date, fixed element ids).

matplotlib is imported on the first picture, not when the server starts, and never through
pyplot: no global figure state. Its settings (``rcParams``) are global to the process, so each
picture is drawn under one lock with the settings above in force and restored after it.

matplotlib styles its elements with ``style`` attributes and a ``<style>`` rule. A strict
Content-Security-Policy drops both (the API's ``default-src 'none'`` when a picture is opened
at its URL, the dashboard's when one is opened from a page), and the picture turns black. The
same properties written as presentation attributes are not styles and always apply, so the
picture is answered with them instead.
"""

from __future__ import annotations

import io
import threading
import xml.etree.ElementTree as ET  # parses only the SVG that matplotlib has just written
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
# Their yellow is left out: it vanishes on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
INK = "#222222"
GRID = "#e3e3e3"
DPI = 96  # CSS pixels per inch: a picture of 800 x 500 shows 800 x 500 pixels in a browser
POINTS = 72 / DPI  # points per CSS pixel
DASHED = (0, (7, 4))

_SETTINGS: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "inescape",  # element ids derived from a fixed salt: reproducible bytes
    "text.usetex": False,
    "text.parse_math": False,  # a "$" in a label is a dollar sign, not TeX
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 10,
    "text.color": INK,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.color": GRID,
    "figure.facecolor": "#ffffff",
    "axes.facecolor": "#ffffff",
}
_LOCK = threading.Lock()
_SVG = "http://www.w3.org/2000/svg"
_PREFIXES = {"": _SVG, "xlink": "http://www.w3.org/1999/xlink", "cc": "http://creativecommons.org/ns#"}


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def dashes(index: int) -> Any:
    """Solid for the first round of colours, dashed after, so more groups stay apart."""
    return "solid" if index < len(PALETTE) else DASHED


def number(value: float) -> str:
    """A count or an edge: 10 not 10.0, 2.5 stays 2.5."""
    return str(round(value)) if float(value).is_integer() else f"{value:.3g}"


def svg_picture(width: float, height: float, draw: Callable[[Figure], None]) -> str:
    """The SVG of what ``draw`` puts on a ``width`` x ``height`` (CSS pixels) figure."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with _LOCK, matplotlib.rc_context(_SETTINGS):
        figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
        FigureCanvasSVG(figure)
        draw(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _without_styles(buffer.getvalue())


def _without_styles(svg: str) -> str:
    """The same picture with each ``style`` declaration as a presentation attribute."""
    for prefix, uri in _PREFIXES.items():
        ET.register_namespace(prefix, uri)
    root = ET.fromstring(svg)  # noqa: S314 (written by matplotlib a moment ago, not received)
    for parent in root.iter():
        for sheet in parent.findall(f"{{{_SVG}}}style"):  # "*{stroke-linejoin: round; ...}"
            parent.remove(sheet)
            for name, value in _declarations(sheet.text or "", inside="{"):
                root.set(name, value)  # inherited by every element that sets no other
    for element in root.iter():
        for name, value in _declarations(element.attrib.pop("style", "")):
            element.set(name, value)
    return ET.tostring(root, encoding="unicode")


def _declarations(css: str, *, inside: str | None = None) -> list[tuple[str, str]]:
    if inside is not None:
        css = css.partition(inside)[2].rstrip().removesuffix("}")
    pairs = (part.partition(":") for part in css.split(";"))
    return [(name.strip(), value.strip()) for name, _, value in pairs if name.strip()]
