"""The model card as Markdown (Mitchell et al., FAT* 2019: what the model is for, what it was
trained on, how it performs overall and by subgroup, and its limits), and two pictures: the
training curve and the calibration at each horizon (SVG)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from inescape.infra.pictures import POINTS, colour, svg_picture

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    x_label: str,
    y_label: str,
    diagonal: bool = False,
    points: bool = False,
    note: str | None = None,
    whole_x: bool = False,
) -> str:
    """Lines (or points) on shared axes, with a legend; ``diagonal`` draws y = x (calibration);
    ``note``: a line under the legend (wrapped to its column); ``whole_x``: x ticks at whole
    numbers only (epochs)."""
    width, height, left, right, top, bottom = 640, 400, 64, 170, 48, 52

    def draw(figure: Figure) -> None:
        figure.text(16 / width, 1 - 28 / height, title, fontsize=17 * POINTS, weight="bold", gid="title")
        plot = figure.add_axes(
            (left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height),
            gid="chart",
        )
        if diagonal:
            plot.plot(
                [0, 1], [0, 1], color="#999999", linestyle=(0, (5, 4)), linewidth=POINTS, gid="diagonal"
            )
            plot.set(xlim=(0, 1), ylim=(0, 1))
        for i, (label, data) in enumerate(series.items()):
            xs, ys = [x for x, _ in data], [y for _, y in data]
            plot.plot(
                xs,
                ys,
                color=colour(i),
                linewidth=2 * POINTS,
                marker="o" if points else None,
                markersize=8 * POINTS,
                label=label,
                gid=f"series-{i + 1}",
            )
        if whole_x:
            from matplotlib.ticker import MaxNLocator

            plot.xaxis.set_major_locator(MaxNLocator(integer=True))
        plot.grid(True, linewidth=0.75)
        plot.set_axisbelow(True)
        plot.tick_params(labelsize=11 * POINTS)
        plot.set_xlabel(x_label, fontsize=12 * POINTS)
        plot.set_ylabel(y_label, fontsize=12 * POINTS)
        if series:
            figure.legend(
                loc="upper left",
                bbox_to_anchor=(1 - (right - 14) / width, 1 - top / height),
                frameon=False,
                fontsize=12 * POINTS,
                borderaxespad=0,
            ).set_gid("legend")
        if note:
            figure.text(
                1 - (right - 14) / width, bottom / height, note, fontsize=12 * POINTS, wrap=True, gid="note"
            )

    return svg_picture(width, height, draw)


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
        whole_x=True,
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
