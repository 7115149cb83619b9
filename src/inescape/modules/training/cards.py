"""The model card as Markdown (Mitchell et al., FAT* 2019: what the model is for, what it was
trained on, how it performs overall and by subgroup, and its limits), and two pictures: the
training curve and the calibration at each horizon (SVG)."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # builds only, never parses
from collections.abc import Mapping, Sequence
from typing import Any

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")  # Okabe & Ito: colour-blind safe
TITLES = {
    "cox": "Cox proportional hazards (linear)",
    "deepsurv": "DeepSurv (MLP, Cox partial likelihood)",
    "logistic_hazard": "Discrete-time survival (logistic hazard)",
    "pcr": "Pathologic complete response classifier",
}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def card_markdown(name: str, version: int | None, fitted: Any, card: Mapping[str, Any]) -> str:
    m = card.get("metrics", {})
    trained = card.get("trained_on", {})
    origins = trained.get("origins", {})
    synthetic = origins and set(origins) != {"real"}
    lines = [
        f"# Model card: {name}" + (f" v{version}" if version else ""),
        "",
        f"**Model:** {TITLES.get(fitted.kind, fitted.kind)}  ",
        f"**Code version:** {card.get('code_version', '')}  ",
        f"**Seed:** {fitted.settings.seed}  ",
        f"**Purpose:** {card.get('purpose', '')} (its production version answers that decision)",
        "",
        "## Intended use",
        "",
        (
            "Overall survival from diagnosis, estimated at the treatment decision, for research and "
            "decision support after promotion through the registry's gates."
            if fitted.kind != "pcr"
            else "Probability of a pathologic complete response after neoadjuvant or perioperative therapy."
        ),
        "",
    ]
    if synthetic:
        lines += [
            "> **Trained on synthetic or unlabelled data** "
            f"({', '.join(f'{n} {o}' for o, n in sorted(origins.items()))}). Not for clinical use "
            "unless a promotion explicitly allows it; the card then records who and why.",
            "",
        ]
    lines += [
        "## Data",
        "",
        f"- Source: {trained.get('dataset', {})}",
        *_derivation(trained.get("dataset", {}).get("derived_from")),
        f"- Patients: {trained.get('rows')} (train {trained.get('train')}, "
        f"validation {trained.get('validation')}, test {trained.get('test')}), "
        f"events {trained.get('events')}",
        f"- Features ({len(trained.get('features', []))}): {', '.join(trained.get('features', []))}",
        "- Prediction time: the treatment decision; nothing recorded after it is a feature.",
        "",
        "## Performance on the held-out test split",
        "",
        "| Metric | Value |",
        "|---|---|",
    ]
    for key in sorted(m):
        lines.append(f"| {key} | {_fmt(m[key])} |")
    subgroups = fitted.report.get("subgroups", {})
    if any(subgroups.values()):
        lines += ["", "## Subgroups (C-index)", "", "| Group | Value | n | C-index |", "|---|---|---|---|"]
        for column, rows in subgroups.items():
            for row in rows:
                lines.append(f"| {column} | {row['value']} | {row['n']} | {_fmt(row['c_index'])} |")
    lines += [
        "",
        "## Limitations",
        "",
        "- Discrimination and calibration hold for patients like those it was trained on; check the "
        "subgroups above before use in another population.",
        "- Intervals are percentile bootstrap over the test split; they do not cover a change of population.",
        "",
    ]
    return "\n".join(lines)


def _svg(width: int, height: int, title: str) -> ET.Element:
    root = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "width": str(width),
            "height": str(height),
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
            "aria-label": title,
            "font-family": "Helvetica, Arial, sans-serif",
        },
    )
    ET.SubElement(root, "title").text = title
    ET.SubElement(
        root, "rect", {"x": "0", "y": "0", "width": str(width), "height": str(height), "fill": "#fff"}
    )
    ET.SubElement(root, "text", {"x": "16", "y": "28", "font-size": "17", "font-weight": "bold"}).text = title
    return root


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    x_label: str,
    y_label: str,
    diagonal: bool = False,
    points: bool = False,
    note: str | None = None,
) -> str:
    """Lines (or points) on shared axes, with a legend; ``diagonal`` draws y = x (calibration);
    ``note``: one line under the legend."""
    width, height, left, right, top, bottom = 640, 400, 64, 170, 48, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for s in series.values() for x, _ in s] or [0.0, 1.0]
    ys = [y for s in series.values() for _, y in s] or [0.0, 1.0]
    x0, x1 = (0.0, 1.0) if diagonal else (min(xs), max(xs))
    y0, y1 = (0.0, 1.0) if diagonal else (min(ys), max(ys))
    if x1 <= x0:
        x1 = x0 + 1
    if y1 <= y0:
        y1 = y0 + 1

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y0) / (y1 - y0) * plot_h

    root = _svg(width, height, title)
    axis = {"stroke": "#222", "stroke-width": "1"}
    ET.SubElement(
        root,
        "line",
        {"x1": str(left), "y1": str(top + plot_h), "x2": str(left + plot_w), "y2": str(top + plot_h), **axis},
    )
    ET.SubElement(
        root, "line", {"x1": str(left), "y1": str(top), "x2": str(left), "y2": str(top + plot_h), **axis}
    )
    for k in range(5):
        fx, fy = x0 + (x1 - x0) * k / 4, y0 + (y1 - y0) * k / 4
        ET.SubElement(
            root,
            "text",
            {"x": f"{px(fx):.1f}", "y": str(top + plot_h + 18), "font-size": "11", "text-anchor": "middle"},
        ).text = f"{fx:.3g}"
        ET.SubElement(
            root,
            "text",
            {"x": str(left - 6), "y": f"{py(fy) + 4:.1f}", "font-size": "11", "text-anchor": "end"},
        ).text = f"{fy:.3g}"
    ET.SubElement(
        root,
        "text",
        {"x": f"{left + plot_w / 2:.1f}", "y": str(height - 12), "font-size": "12", "text-anchor": "middle"},
    ).text = x_label
    ET.SubElement(
        root,
        "text",
        {
            "x": "14",
            "y": f"{top + plot_h / 2:.1f}",
            "font-size": "12",
            "text-anchor": "middle",
            "transform": f"rotate(-90 14 {top + plot_h / 2:.1f})",
        },
    ).text = y_label
    if diagonal:
        ET.SubElement(
            root,
            "line",
            {
                "x1": f"{px(0):.1f}",
                "y1": f"{py(0):.1f}",
                "x2": f"{px(1):.1f}",
                "y2": f"{py(1):.1f}",
                "stroke": "#999",
                "stroke-dasharray": "5 4",
            },
        )
    for i, (label, data) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        if points:
            for x, y in data:
                ET.SubElement(
                    root, "circle", {"cx": f"{px(x):.1f}", "cy": f"{py(y):.1f}", "r": "4", "fill": colour}
                )
        if len(data) > 1:
            path = " ".join(
                f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for j, (x, y) in enumerate(data)
            )
            ET.SubElement(root, "path", {"d": path, "fill": "none", "stroke": colour, "stroke-width": "2"})
        ly = top + 14 + i * 20
        ET.SubElement(
            root,
            "rect",
            {"x": str(width - right + 14), "y": str(ly - 9), "width": "12", "height": "12", "fill": colour},
        )
        ET.SubElement(
            root, "text", {"x": str(width - right + 32), "y": str(ly + 1), "font-size": "12"}
        ).text = label
    if note:
        ET.SubElement(
            root, "text", {"x": str(width - right + 14), "y": str(height - 12), "font-size": "12"}
        ).text = note
    return ET.tostring(root, encoding="unicode")


def training_curve_svg(history: Sequence[Mapping[str, float]], *, kind: str) -> str:
    """Loss per epoch; the note gives the best validation metric (AUC for the classifier)."""

    def curve(key: str) -> list[tuple[float, float]]:
        return [(float(h["epoch"]) + 1, float(h[key])) for h in history if key in h and h[key] == h[key]]

    # the C-index is computed every few epochs: the others have none
    metrics = [m for h in history if (m := h.get("val_metric")) is not None and m == m]
    metric = "AUC" if kind == "pcr" else "C-index"
    return line_chart(
        "Training curve",
        {"training loss": curve("loss"), "validation loss": curve("val_loss")},
        x_label="epoch",
        y_label="loss",
        note=f"best validation {metric}: {max(metrics):.3f}" if metrics else None,
    )


def calibration_svg(calibration: Mapping[str, Sequence[Mapping[str, float]]]) -> str:
    series = {
        f"at {label}": [(float(b["predicted"]), float(b["observed"])) for b in bins]
        for label, bins in calibration.items()
    }
    return line_chart(
        "Calibration by decile",
        series,
        x_label="predicted",
        y_label="observed (Kaplan-Meier)",
        diagonal=True,
        points=True,
    )


__all__ = ["calibration_svg", "card_markdown", "line_chart", "training_curve_svg"]


def _derivation(derived: dict[str, Any] | None) -> list[str]:
    """A line naming the real source a synthetic training set was fitted to, and its ε."""
    if not derived:
        return []
    epsilon = derived.get("epsilon")
    privacy = (
        f"ε = {epsilon}-differentially private fit"
        if epsilon is not None
        else "fit without differential privacy"
    )
    return [
        f"- Derived from real patients: source {derived.get('source')}, fitted profile "
        f"{derived.get('profile')} ({privacy}, fitted {derived.get('fitted_at')})"
    ]
