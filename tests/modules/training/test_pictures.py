"""The run's training curve and the version's calibration plot, as the dashboard shows them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

from inescape.modules.training.cards import calibration_svg, training_curve_svg

SVG = "{http://www.w3.org/2000/svg}"
NAN = float("nan")
HISTORY = [
    {"epoch": 0, "loss": 1.2, "val_loss": 1.3, "val_metric": 0.61},
    {"epoch": 1, "loss": 0.9, "val_loss": 1.0, "val_metric": NAN},
    {"epoch": 2, "loss": 0.7, "val_loss": 0.85, "val_metric": 0.68},
    {"epoch": 3, "loss": 0.6, "val_loss": 0.8},
]
CALIBRATION = {
    "12 months": [{"predicted": p / 10, "observed": p / 10 + 0.02} for p in range(1, 10)],
    "36 months": [{"predicted": p / 10, "observed": p / 10 - 0.04} for p in range(2, 9)],
}


def texts(node: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in node.iter(f"{SVG}text")]


def groups(root: ET.Element, prefix: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith(prefix)]


def test_the_training_curve_has_both_losses_on_labelled_axes_and_the_best_metric():
    root = ET.fromstring(training_curve_svg(HISTORY, kind="cox"))

    labels = texts(root)
    assert {"Training curve", "epoch", "loss"} <= set(labels)
    (legend,) = groups(root, "legend")
    assert texts(legend) == ["training loss", "validation loss"]
    assert len(groups(root, "series-")) == 2
    assert "best validation C-index: 0.680" in " ".join(labels)
    # epochs are counted from 1, on whole-number ticks
    ticks = [t for t in labels if t.isdigit()]
    assert ticks
    assert "2.5" not in labels


def test_a_classifier_reports_its_best_auc():
    root = ET.fromstring(training_curve_svg(HISTORY, kind="pcr"))

    assert "best validation AUC: 0.680" in " ".join(texts(root))


def test_the_calibration_plot_has_a_series_per_horizon_and_the_diagonal():
    root = ET.fromstring(calibration_svg(CALIBRATION))

    assert {"Calibration by decile", "predicted", "observed (Kaplan-Meier)"} <= set(texts(root))
    (legend,) = groups(root, "legend")
    assert texts(legend) == ["at 12 months", "at 36 months"]
    series = groups(root, "series-")
    assert [len(list(g.iter(f"{SVG}use"))) for g in series] == [9, 7]  # a point per decile
    assert len(groups(root, "diagonal")) == 1
    assert {"0.0", "1.0"} <= set(texts(root))  # both axes run from 0 to 1


def test_pictures_drawn_at_once_in_threads_are_the_same_as_drawn_alone():
    alone = [training_curve_svg(HISTORY, kind="cox"), calibration_svg(CALIBRATION)]

    with ThreadPoolExecutor(4) as pool:
        together = list(
            pool.map(
                lambda i: (
                    training_curve_svg(HISTORY, kind="cox") if i % 2 == 0 else calibration_svg(CALIBRATION)
                ),
                range(8),
            )
        )

    assert together == alone * 4
